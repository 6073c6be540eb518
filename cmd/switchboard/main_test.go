package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/postgres/pgtest"
)

// TestConcurrentMigrate runs `switchboard migrate` from two processes at once
// on a fresh database, as two replicas starting together would.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "switchboard")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	url := pgtest.NewEmptyDatabase(t)
	type result struct {
		out []byte
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			cmd := exec.Command(bin, "migrate")
			cmd.Env = append(os.Environ(), "DATABASE_URL="+url)
			var buf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			err := cmd.Run()
			results <- result{buf.Bytes(), err}
		}()
	}
	for range 2 {
		r := <-results
		require.NoError(t, r.err, string(r.out))
		require.Contains(t, string(r.out), "database is up to date")
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var applied int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied`).Scan(&applied))
	entries, err := os.ReadDir("../../migrations")
	require.NoError(t, err)
	sqlFiles := 0
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".sql" {
			sqlFiles++
		}
	}
	require.Equal(t, sqlFiles, applied, "each migration applied exactly once")
	var riverTables int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'river_job'`).Scan(&riverTables))
	require.Equal(t, 1, riverTables)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, run(context.Background(), nil, nil), errUsage)
	_, err := loadConfig("serve", []string{"--roles=api,nope"})
	require.ErrorContains(t, err, `unknown role "nope"`)
}
