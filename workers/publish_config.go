package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// PublishParams are what publish_config and sync_token_registry need.
type PublishParams struct {
	Store   switchboard.PublishStore
	Blobs   switchboard.BlobStore
	Keyring *compile.Keyring
	// Notifier tells CDN replicas at once; nil relies on the change feed.
	Notifier switchboard.PublishNotifier
	Logger   *slog.Logger
	Now      func() time.Time
}

// RegisterPublishing adds publish_config and sync_token_registry to w.
func RegisterPublishing(w *river.Workers, p PublishParams) {
	river.AddWorker(w, &PublishConfigWorker{p: p})
	river.AddWorker(w, &SyncTokenRegistryWorker{p: p})
}

// PublishConfigWorker compiles an instance's latest config into a signed
// artifact and uploads it: the immutable version first, then latest.pb, then
// a change-feed entry, and only then marks it published — so the version a
// user sees as published is always in S3. Every update enqueues a job; a
// job publishes the latest version under a per-instance lock, and the jobs
// behind it find it published and return, so a burst yields one artifact.
type PublishConfigWorker struct {
	river.WorkerDefaults[switchboard.PublishConfigArgs]
	p PublishParams
}

func (w *PublishConfigWorker) Work(ctx context.Context, job *river.Job[switchboard.PublishConfigArgs]) error {
	id := job.Args.InstanceID
	unlock, err := w.p.Store.LockPublish(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()

	// Publish until nothing is newer: cheap insurance, since an update
	// committed meanwhile also enqueued its own job.
	for {
		c, err := w.p.Store.LatestConfig(ctx, id)
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			// No config yet (nothing stored either) or the instance is being
			// deleted: its artifacts must not outlive it.
			return w.purge(ctx, id)
		}
		if err != nil {
			return err
		}
		if c.Version <= c.PublishedVersion {
			return nil
		}
		if err := w.publish(ctx, c); err != nil {
			return err
		}
	}
}

func (w *PublishConfigWorker) publish(ctx context.Context, c *switchboard.ConfigVersion) error {
	id := c.InstanceID
	envelope, err := w.build(c)
	if err != nil {
		return river.JobCancel(err)
	}
	if _, err := w.p.Blobs.Put(ctx, switchboard.ArtifactKey(id, c.Version), envelope, switchboard.ArtifactContentType); err != nil {
		return fmt.Errorf("upload artifact %s v%d: %w", id, c.Version, err)
	}
	if _, err := w.p.Blobs.Put(ctx, switchboard.LatestArtifactKey(id), envelope, switchboard.ArtifactContentType); err != nil {
		return fmt.Errorf("upload latest artifact of %s: %w", id, err)
	}
	seq, err := w.p.Store.NextPublishSequence(ctx)
	if err != nil {
		return err
	}
	if _, err := w.p.Blobs.Put(ctx, switchboard.ChangeKey(seq), []byte(id), "text/plain"); err != nil {
		return fmt.Errorf("write change %d: %w", seq, err)
	}
	if err := w.p.Store.MarkPublished(ctx, id, c.Version); err != nil {
		return err
	}
	if w.p.Notifier != nil {
		if err := w.p.Notifier.Notify(ctx, id); err != nil {
			w.p.Logger.WarnContext(ctx, "notify CDN (it will see the change feed)", "instance", id, "err", err)
		}
	}
	w.p.Logger.InfoContext(ctx, "published config", "instance", id, "version", c.Version, "bytes", len(envelope))
	return nil
}

// purge deletes every artifact of an instance.
func (w *PublishConfigWorker) purge(ctx context.Context, id string) error {
	keys, err := w.p.Blobs.List(ctx, switchboard.ArtifactPrefix(id), "", 0)
	if err != nil {
		return fmt.Errorf("list artifacts of %s: %w", id, err)
	}
	for _, k := range keys {
		if err := w.p.Blobs.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
	}
	if len(keys) > 0 && w.p.Notifier != nil {
		_ = w.p.Notifier.Notify(ctx, id)
	}
	return nil
}

// build compiles and signs; an error here means the stored spec is corrupt,
// which no retry fixes.
func (w *PublishConfigWorker) build(c *switchboard.ConfigVersion) ([]byte, error) {
	kind := artifactv1.Kind_KIND_BREAKER
	var spec proto.Message = &switchboardv1.BreakerConfig{}
	if c.Kind == switchboard.KindRealtime {
		kind, spec = artifactv1.Kind_KIND_REALTIME, &switchboardv1.RealtimeConfig{}
	}
	if err := proto.Unmarshal(c.Spec, spec); err != nil {
		return nil, fmt.Errorf("decode stored config %s v%d: %w", c.InstanceID, c.Version, err)
	}
	now := time.Now
	if w.p.Now != nil {
		now = w.p.Now
	}
	payload, err := compile.Compile(c.InstanceID, kind, c.Version, now(), spec)
	if err != nil {
		return nil, fmt.Errorf("compile %s v%d: %w", c.InstanceID, c.Version, err)
	}
	return proto.Marshal(w.p.Keyring.Sign(payload))
}

// SyncTokenRegistryWorker mirrors one data-plane token into the CDN's
// registry in S3: the entry (hashes only) while the token is live, nothing
// once it is revoked or its instance deleted. It reads the current state,
// so running it twice or late is harmless.
type SyncTokenRegistryWorker struct {
	river.WorkerDefaults[switchboard.SyncTokenRegistryArgs]
	p PublishParams
}

func (w *SyncTokenRegistryWorker) Work(ctx context.Context, job *river.Job[switchboard.SyncTokenRegistryArgs]) error {
	key := switchboard.TokenRegistryKey(job.Args.TokenID)
	entry, err := w.p.Store.LoadTokenRegistryEntry(ctx, job.Args.TokenID)
	switch {
	case switchboard.ErrorCode(err) == switchboard.ENOTFOUND:
		return w.p.Blobs.Delete(ctx, key)
	case err != nil:
		return err
	}
	body, err := json.Marshal(entry)
	if err != nil {
		return err
	}
	_, err = w.p.Blobs.Put(ctx, key, body, "application/json")
	return err
}
