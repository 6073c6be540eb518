package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// credentials is what `sbctl login` stores.
type credentials struct {
	APIURL string `json:"api_url"`
	Token  string `json:"token"`
	// Email of the user who logged in; empty for an API key.
	Email string `json:"email,omitempty"`
}

// credentialsPath is <user config dir>/switchboard/credentials.json
// (~/.config/switchboard on Linux, honouring XDG_CONFIG_HOME).
func credentialsPath(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" || runtime.GOOS != "linux" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", fmt.Errorf("find the config directory: %w", err)
		}
	}
	return filepath.Join(dir, "switchboard", "credentials.json"), nil
}

// loadCredentials returns nil, nil when nobody has logged in.
func loadCredentials(getenv func(string) string) (*credentials, error) {
	path, err := credentialsPath(getenv)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil || c.APIURL == "" {
		return nil, &hintError{msg: "the credentials file " + path + " is corrupt", hint: "run `sbctl logout`, then `sbctl login`"}
	}
	return &c, nil
}

// saveCredentials writes the file with mode 0600 (directory 0700) through a
// temporary file, so a crash never leaves half a token behind.
func saveCredentials(getenv func(string) string, c *credentials) (string, error) {
	path, err := credentialsPath(getenv)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*.json")
	if err != nil {
		return "", fmt.Errorf("save credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save credentials: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("save credentials: %w", err)
	}
	return path, nil
}

// removeCredentials reports whether there was a file to remove.
func removeCredentials(getenv func(string) string) (bool, error) {
	path, err := credentialsPath(getenv)
	if err != nil {
		return false, err
	}
	err = os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
