// Package blob implements switchboard.BlobStore over S3 (aws-sdk-go-v2) and
// any S3-compatible store: versitygw in development and tests, R2, Tigris,
// MinIO.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/switchboardhq/switchboard"
)

// MaxObjectBytes bounds what Get reads into memory; artifacts and registry
// entries are far smaller.
const MaxObjectBytes = 64 << 20

// Config says which bucket to use and how to reach it.
type Config struct {
	// Endpoint is a custom S3 endpoint (`http://127.0.0.1:7070`); empty means AWS.
	Endpoint string
	// Region signs requests; empty means us-east-1 (what versitygw expects).
	Region string
	Bucket string
	// AccessKeyID and SecretAccessKey are static credentials; when empty the
	// SDK's default chain (environment, shared config, IAM role) is used.
	AccessKeyID     string
	SecretAccessKey string
	// PathStyle addresses buckets as /bucket/key rather than bucket.host; most
	// S3-compatible servers need it.
	PathStyle bool
	// MaxAttempts caps the SDK's retries per call; 0 keeps its default (3).
	// Callers that fall back to a cache on errors (the CDN) want 1 or 2.
	MaxAttempts int
	// HTTPClient replaces the SDK's default HTTP client.
	HTTPClient *http.Client
}

// Store is a switchboard.BlobStore over one S3 bucket.
type Store struct {
	client *s3.Client
	bucket string
}

var _ switchboard.BlobStore = (*Store)(nil)

// New returns a Store for cfg.Bucket. It does not contact S3.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, switchboard.Invalid("bucket", "must be set")
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Newer SDKs add CRC checksums to every request and validate them on
		// every response; several S3-compatible servers reject or omit them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if cfg.MaxAttempts > 0 {
			o.RetryMaxAttempts = cfg.MaxAttempts
		}
	})
	return &Store{client: client, bucket: cfg.Bucket}, nil
}

// Bucket is the bucket the store reads and writes.
func (s *Store) Bucket() string { return s.bucket }

// EnsureBucket creates the bucket if it does not exist. Development and tests
// use it; production buckets are provisioned outside the application.
func (s *Store) EnsureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("head bucket %s: %w", s.bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	if r := s.client.Options().Region; r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(r),
		}
	}
	_, err = s.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// RemoveBucket deletes every object and then the bucket. Tests use it to
// clean up after themselves on a shared S3.
func (s *Store) RemoveBucket(ctx context.Context) error {
	for {
		keys, err := s.List(ctx, "", "", 1000)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			break
		}
		for _, k := range keys {
			if err := s.Delete(ctx, k); err != nil {
				return err
			}
		}
	}
	if _, err := s.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &s.bucket}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put writes an object and returns its ETag as S3 reports it (quoted).
func (s *Store) Put(ctx context.Context, key string, body []byte, contentType string) (string, error) {
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	if contentType != "" {
		in.ContentType = &contentType
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return "", fmt.Errorf("put %s: %w", key, err)
	}
	return aws.ToString(out.ETag), nil
}

// Get reads an object. With ifNoneMatch equal to the object's current ETag it
// returns switchboard.ErrNotModified; a missing object is ENOTFOUND.
func (s *Store) Get(ctx context.Context, key, ifNoneMatch string) (*switchboard.Blob, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if ifNoneMatch != "" {
		in.IfNoneMatch = &ifNoneMatch
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		switch {
		case statusCode(err) == http.StatusNotModified:
			return nil, switchboard.ErrNotModified
		case isNoSuchKey(err):
			return nil, switchboard.Errorf(switchboard.ENOTFOUND, "object %s not found", key)
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	body, more, err := switchboard.ReadAllLimit(out.Body, MaxObjectBytes)
	if err != nil {
		return nil, fmt.Errorf("get %s: read body: %w", key, err)
	}
	if more {
		return nil, fmt.Errorf("get %s: object larger than %d bytes", key, MaxObjectBytes)
	}
	b := &switchboard.Blob{Body: body, ETag: aws.ToString(out.ETag)}
	if out.LastModified != nil {
		b.LastModified = *out.LastModified
	}
	return b, nil
}

// Delete removes an object; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List returns up to limit keys under prefix that sort after startAfter, in
// order. A limit of zero or less lists them all.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket}
	if prefix != "" {
		in.Prefix = &prefix
	}
	if startAfter != "" {
		in.StartAfter = &startAfter
	}
	var keys []string
	for {
		if limit > 0 {
			in.MaxKeys = aws.Int32(int32(min(limit-len(keys), 1000)))
		}
		out, err := s.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list %s after %q: %w", prefix, startAfter, err)
		}
		for _, obj := range out.Contents {
			keys = append(keys, aws.ToString(obj.Key))
		}
		if limit > 0 && len(keys) >= limit {
			return keys[:limit], nil
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			return keys, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// statusCode is the HTTP status of an SDK error, or 0. A 304 from GetObject
// surfaces only this way (a smithy http.ResponseError with no API code).
func statusCode(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isNoSuchKey(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var nsb *types.NoSuchBucket
	if errors.As(err, &nsb) {
		return false
	}
	return statusCode(err) == http.StatusNotFound
}

// isNotFound reports a missing bucket or object, including HEAD's bodiless 404.
func isNotFound(err error) bool {
	var nsb *types.NoSuchBucket
	return errors.As(err, &nsb) || isNoSuchKey(err)
}
