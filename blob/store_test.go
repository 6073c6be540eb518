package blob_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/blob"
	"github.com/switchboardhq/switchboard/blob/blobtest"
)

func TestMain(m *testing.M) { blobtest.Main(m) }

func TestPutGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := blobtest.NewStore(t)

	etag, err := store.Put(ctx, "artifacts/ins_a/latest.pb", []byte("v1"), switchboard.ArtifactContentType)
	require.NoError(t, err)
	require.NotEmpty(t, etag)

	b, err := store.Get(ctx, "artifacts/ins_a/latest.pb", "")
	require.NoError(t, err)
	require.Equal(t, []byte("v1"), b.Body)
	require.Equal(t, etag, b.ETag)
	require.False(t, b.LastModified.IsZero())

	// Same content, same ETag; new content, new ETag.
	etag2, err := store.Put(ctx, "artifacts/ins_a/latest.pb", []byte("v1"), switchboard.ArtifactContentType)
	require.NoError(t, err)
	require.Equal(t, etag, etag2)
	etag3, err := store.Put(ctx, "artifacts/ins_a/latest.pb", []byte("v2"), switchboard.ArtifactContentType)
	require.NoError(t, err)
	require.NotEqual(t, etag, etag3)

	b, err = store.Get(ctx, "artifacts/ins_a/latest.pb", "")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), b.Body)
	require.Equal(t, etag3, b.ETag)

	// Empty objects round-trip.
	_, err = store.Put(ctx, "empty", nil, "")
	require.NoError(t, err)
	b, err = store.Get(ctx, "empty", "")
	require.NoError(t, err)
	require.Empty(t, b.Body)
}

func TestGetNotModified(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := blobtest.NewStore(t)

	etag, err := store.Put(ctx, "k", []byte("hello"), "text/plain")
	require.NoError(t, err)

	_, err = store.Get(ctx, "k", etag)
	require.ErrorIs(t, err, switchboard.ErrNotModified)
	require.Equal(t, switchboard.EPRECONDITION, switchboard.ErrorCode(err))

	// A stale ETag gets the body.
	b, err := store.Get(ctx, "k", `"stale"`)
	require.NoError(t, err)
	require.Equal(t, []byte("hello"), b.Body)

	_, err = store.Put(ctx, "k", []byte("changed"), "text/plain")
	require.NoError(t, err)
	b, err = store.Get(ctx, "k", etag)
	require.NoError(t, err)
	require.Equal(t, []byte("changed"), b.Body)
}

func TestGetNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := blobtest.NewStore(t)

	_, err := store.Get(ctx, "tokens/dpt_missing.json", "")
	require.Error(t, err)
	require.Equal(t, switchboard.ENOTFOUND, switchboard.ErrorCode(err))

	// With If-None-Match too.
	_, err = store.Get(ctx, "tokens/dpt_missing.json", `"x"`)
	require.Equal(t, switchboard.ENOTFOUND, switchboard.ErrorCode(err))
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := blobtest.NewStore(t)

	_, err := store.Put(ctx, "tokens/dpt_1.json", []byte("{}"), "application/json")
	require.NoError(t, err)
	require.NoError(t, store.Delete(ctx, "tokens/dpt_1.json"))
	_, err = store.Get(ctx, "tokens/dpt_1.json", "")
	require.Equal(t, switchboard.ENOTFOUND, switchboard.ErrorCode(err))

	// Deleting a missing object is fine.
	require.NoError(t, store.Delete(ctx, "tokens/dpt_1.json"))
	require.NoError(t, store.Delete(ctx, "never/existed"))
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := blobtest.NewStore(t)

	var want []string
	for i := int64(1); i <= 7; i++ {
		k := switchboard.ChangeKey(i)
		want = append(want, k)
		_, err := store.Put(ctx, k, []byte(fmt.Sprintf("ins_%d", i)), "text/plain")
		require.NoError(t, err)
	}
	_, err := store.Put(ctx, "tokens/dpt_x.json", []byte("{}"), "application/json")
	require.NoError(t, err)

	keys, err := store.List(ctx, switchboard.ChangePrefix, "", 0)
	require.NoError(t, err)
	require.Equal(t, want, keys)

	keys, err = store.List(ctx, switchboard.ChangePrefix, switchboard.ChangeKey(3), 0)
	require.NoError(t, err)
	require.Equal(t, want[3:], keys)

	keys, err = store.List(ctx, switchboard.ChangePrefix, switchboard.ChangeKey(3), 2)
	require.NoError(t, err)
	require.Equal(t, want[3:5], keys)

	keys, err = store.List(ctx, switchboard.ChangePrefix, switchboard.ChangeKey(7), 10)
	require.NoError(t, err)
	require.Empty(t, keys)

	keys, err = store.List(ctx, "", "", 0)
	require.NoError(t, err)
	require.Len(t, keys, 8)
}

func TestListPages(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("puts 1,050 objects")
	}
	ctx := context.Background()
	store := blobtest.NewStore(t)
	const n = 1050
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := int64(1); i <= n; i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := store.Put(ctx, switchboard.ChangeKey(i), []byte("x"), "")
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	keys, err := store.List(ctx, switchboard.ChangePrefix, "", 0)
	require.NoError(t, err)
	require.Len(t, keys, n)
	require.Equal(t, switchboard.ChangeKey(n), keys[n-1])

	keys, err = store.List(ctx, switchboard.ChangePrefix, switchboard.ChangeKey(10), 1010)
	require.NoError(t, err)
	require.Len(t, keys, 1010)
	require.Equal(t, switchboard.ChangeKey(11), keys[0])
}

func TestEnsureBucketIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := blobtest.NewStore(t)
	require.NoError(t, store.EnsureBucket(ctx))
}

func TestServerDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := blobtest.StartServer(t)
	store := srv.NewStore(t, 1)
	_, err := store.Put(ctx, "k", []byte("v"), "")
	require.NoError(t, err)

	srv.Stop(t)
	_, err = store.Get(ctx, "k", "")
	require.Error(t, err)
	require.Equal(t, switchboard.EINTERNAL, switchboard.ErrorCode(err))
	require.False(t, errors.Is(err, switchboard.ErrNotModified))

	srv.Restart(t)
	b, err := store.Get(ctx, "k", "")
	require.NoError(t, err)
	require.Equal(t, []byte("v"), b.Body)
}

func TestNewRequiresBucket(t *testing.T) {
	t.Parallel()
	_, err := blob.New(context.Background(), blob.Config{})
	require.Equal(t, switchboard.EINVALID, switchboard.ErrorCode(err))
}
