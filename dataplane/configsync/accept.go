package configsync

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

// RejectionError is why an artifact was not accepted. Reason is one of the
// Reason… constants.
type RejectionError struct {
	Reason string
	Err    error
}

func (e *RejectionError) Error() string {
	return "artifact rejected (" + e.Reason + "): " + e.Err.Error()
}
func (e *RejectionError) Unwrap() error { return e.Err }

func reject(reason string, format string, args ...any) *RejectionError {
	return &RejectionError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// verify checks envelope bytes the way every source is checked: signature,
// structure and spec (compile.Verify), then that the payload is this
// instance's and of this kind. It does not look at the version.
func (a *Agent) verify(body []byte) (*artifactv1.Payload, error) {
	p, err := compile.Verify(body, a.cfg.Trusted, a.cfg.MaxArtifactBytes)
	if err != nil {
		reason := ReasonMalformed
		switch {
		case errors.Is(err, compile.ErrTooLarge):
			reason = ReasonTooLarge
		case errors.Is(err, compile.ErrUnknownKey):
			reason = ReasonUnknownKey
		case errors.Is(err, compile.ErrBadSignature):
			reason = ReasonBadSignature
		case errors.Is(err, compile.ErrInvalidSpec):
			reason = ReasonInvalidSpec
		}
		return nil, &RejectionError{Reason: reason, Err: err}
	}
	if p.InstanceId != a.cfg.InstanceID {
		return nil, reject(ReasonWrongInstance, "artifact is for instance %q, this is %q", p.InstanceId, a.cfg.InstanceID)
	}
	if p.Kind != a.cfg.Kind {
		return nil, reject(ReasonWrongKind, "artifact kind is %s, this data plane runs %s", p.Kind, a.cfg.Kind)
	}
	return p, nil
}

// rejected records a rejection: metrics, status, log, a status report.
func (a *Agent) rejected(ctx context.Context, source string, rej *RejectionError) {
	a.m.rejections.WithLabelValues(rej.Reason).Inc()
	a.mu.Lock()
	a.st.Rejections[rej.Reason]++
	a.st.LastError = rej.Error()
	a.mu.Unlock()
	a.log.WarnContext(ctx, "configsync: artifact rejected; keeping the current config",
		"source", source, "reason", rej.Reason, "err", rej.Err)
	a.requestReport()
}

// accept takes envelope bytes from source ("cdn", "bootstrap"): verifies
// them, checks the version against what was applied, persists them and
// applies them. It returns (false, nil) when the artifact is the version
// already applied, a *RejectionError when refused, or another error when
// persisting or applying failed (worth retrying).
func (a *Agent) accept(ctx context.Context, source string, body []byte) (bool, error) {
	p, err := a.verify(body)
	if err != nil {
		return false, err
	}
	a.mu.Lock()
	applied, highest := a.st.AppliedVersion, a.st.HighestVersion
	a.mu.Unlock()
	switch {
	case p.Version == applied:
		return false, nil
	case p.Version < applied || p.Version < highest:
		// Equal to highest but not applied is allowed: it is the same
		// immutable version, say after a rolled-back cache file was
		// discarded.
		return false, reject(ReasonOldVersion, "artifact version %d is older than version %d, already applied", p.Version, max(applied, highest))
	}
	if a.cache != nil {
		// Write first, then apply: a crash in between restarts on this
		// artifact, never on an older one.
		if err := a.cache.writeArtifact(body); err != nil {
			a.syncError(ctx, syncErrCache, err)
		} else if p.Version > highest {
			if err := a.cache.writeHighest(p.Version); err != nil {
				a.syncError(ctx, syncErrCache, err)
			}
		}
	}
	a.mu.Lock()
	a.st.HighestVersion = max(a.st.HighestVersion, p.Version)
	a.mu.Unlock()
	if err := a.apply(ctx, source, p); err != nil {
		return false, err
	}
	return true, nil
}

// apply hands p to the Applier and records the result.
func (a *Agent) apply(ctx context.Context, source string, p *artifactv1.Payload) error {
	if err := a.applier.Apply(ctx, p); err != nil {
		err = fmt.Errorf("apply version %d: %w", p.Version, err)
		a.syncError(ctx, syncErrApply, err)
		return err
	}
	now := a.now()
	a.mu.Lock()
	a.st.AppliedVersion = p.Version
	a.st.HighestVersion = max(a.st.HighestVersion, p.Version)
	a.st.Source = source
	a.st.LastApply = now
	a.st.LastError = ""
	a.mu.Unlock()
	a.ready.Store(true)
	a.m.ready.Set(1)
	a.m.appliedVersion.Set(float64(p.Version))
	a.log.InfoContext(ctx, "configsync: config applied", "version", p.Version, "source", source)
	a.requestReport()
	return nil
}

func (a *Agent) syncError(ctx context.Context, kind string, err error) {
	a.m.syncErrors.WithLabelValues(kind).Inc()
	a.mu.Lock()
	a.st.SyncErrors++
	a.st.LastError = err.Error()
	a.mu.Unlock()
	a.log.WarnContext(ctx, "configsync: sync error", "kind", kind, "err", err)
}

// start loads the persisted state: the highest applied version, then the
// cached artifact (verified again, discarded when anything is wrong with
// it), then, if nothing usable was cached, the bootstrap file.
func (a *Agent) start(ctx context.Context) error {
	if a.cache == nil {
		return a.bootstrap(ctx)
	}
	if err := a.cache.ensure(); err != nil {
		return fmt.Errorf("configsync: %w", err)
	}
	highest, err := a.cache.readHighest()
	if err != nil {
		// Unknown, so the cached artifact (if valid) sets the floor again.
		a.rejected(ctx, "cache", &RejectionError{Reason: ReasonCorruptCache, Err: err})
	}
	a.mu.Lock()
	a.st.HighestVersion = highest
	a.mu.Unlock()

	body, err := a.cache.readArtifact(a.cfg.MaxArtifactBytes)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return a.bootstrap(ctx)
	case err != nil:
		a.rejected(ctx, "cache", &RejectionError{Reason: ReasonCorruptCache, Err: err})
		return a.bootstrap(ctx)
	}
	p, err := a.verify(body)
	if err == nil && p.Version < highest {
		err = reject(ReasonOldVersion, "cached artifact is version %d but version %d was applied before; the cache file was rolled back", p.Version, highest)
	}
	if err != nil {
		var rej *RejectionError
		if !errors.As(err, &rej) || rej.Reason != ReasonOldVersion {
			rej = &RejectionError{Reason: ReasonCorruptCache, Err: err}
		}
		a.rejected(ctx, "cache", rej)
		if err := a.cache.discardArtifact(); err != nil {
			a.log.WarnContext(ctx, "configsync: discard cache file", "err", err)
		}
		return a.bootstrap(ctx)
	}
	if p.Version > highest {
		if err := a.cache.writeHighest(p.Version); err != nil {
			a.syncError(ctx, syncErrCache, err)
		}
		a.mu.Lock()
		a.st.HighestVersion = p.Version
		a.mu.Unlock()
	}
	_ = a.apply(ctx, "cache", p) // logged and counted; polling retries with a new download
	return nil
}

// bootstrap applies BootstrapFile, when set, on a cold start.
func (a *Agent) bootstrap(ctx context.Context) error {
	if a.cfg.BootstrapFile == "" {
		a.log.WarnContext(ctx, "configsync: no cached config and no bootstrap artifact; not ready until the CDN answers")
		return nil
	}
	f, err := os.Open(a.cfg.BootstrapFile)
	if err != nil {
		a.syncError(ctx, syncErrApply, fmt.Errorf("read bootstrap artifact: %w", err))
		return nil
	}
	body, err := readLimited(f, a.cfg.MaxArtifactBytes)
	f.Close()
	if err != nil {
		a.syncError(ctx, syncErrApply, fmt.Errorf("read bootstrap artifact: %w", err))
		return nil
	}
	if _, err := a.accept(ctx, "bootstrap", body); err != nil {
		var rej *RejectionError
		if errors.As(err, &rej) {
			a.rejected(ctx, "bootstrap", rej)
		}
	}
	return nil
}
