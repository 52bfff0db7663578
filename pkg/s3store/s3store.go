// Package s3store is the store.Store of an S3 bucket, over aws-sdk-go-v2.
//
// It reads what CloudTrail stored, byte for byte: the SDK asks S3 for the
// identity encoding, so an object stored with Content-Encoding: gzip comes
// back as its gzip bytes (a plain net/http client would decompress it behind
// the caller's back), and its user metadata comes back with lower-case
// names. Refusals become errors that wrap store.ErrAccessDenied and name the
// missing permission (s3:ListBucket, s3:GetObject, s3:GetBucketLocation).
//
// Throttling (503 SlowDown), 5xx answers, connection resets and timeouts are
// retried with the SDK's standard retryer (more attempts than its default,
// no client-side retry quota), and a download that breaks off is resumed
// from where it stopped.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// Config says which bucket to read and how to reach it.
type Config struct {
	// Bucket is the bucket name (required).
	Bucket string
	// Region is the bucket's region; "" means ask S3 (GetBucketLocation).
	Region string
	// Profile is a shared config profile; "" means the default chain.
	Profile string
	// RoleARN, when set, is assumed with STS for every request.
	RoleARN string
	// EndpointURL is a custom S3 endpoint (MinIO, LocalStack, a VPC
	// endpoint). AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL work too, as the
	// SDK resolves them.
	EndpointURL string
	// PathStyle sends path-style requests (endpoint/bucket/key). It is
	// turned on by itself for a custom endpoint given by host name: the SDK
	// does so for an IP address only, and bucket.host names rarely resolve
	// for MinIO or LocalStack.
	PathStyle bool
	// MaxConns is the most connections to S3; 0 means awsapi.DefaultMaxConns.
	MaxConns int
	// MaxAttempts is the most attempts per request; 0 means 8.
	MaxAttempts int
	// MaxBackoff caps the wait between attempts; 0 means 20s.
	MaxBackoff time.Duration
	// Warnf receives the SDK's warnings; nil drops them.
	Warnf func(format string, args ...any)

	// AWS, when set, is used as loaded instead of loading a configuration
	// from Profile, RoleARN, MaxConns, MaxAttempts, MaxBackoff and Warnf
	// (to share one with other AWS clients).
	AWS *aws.Config
}

// Store reads one bucket. It is safe for concurrent use.
type Store struct {
	bucket   string
	region   string
	endpoint string
	cfg      aws.Config
	client   *s3.Client
}

var _ store.Store = (*Store)(nil)

// ErrNoSuchBucket is returned (wrapped) for a bucket that does not exist.
var ErrNoSuchBucket = errors.New("bucket does not exist")

// New connects to cfg.Bucket. Unless cfg.Region is set it asks S3 where the
// bucket is, which also checks that it exists and that the credentials
// work.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3store: no bucket")
	}
	var awsCfg aws.Config
	if cfg.AWS != nil {
		awsCfg = cfg.AWS.Copy()
	} else {
		var err error
		awsCfg, err = awsapi.LoadConfig(ctx, awsapi.Options{
			Region:      cfg.Region,
			Profile:     cfg.Profile,
			RoleARN:     cfg.RoleARN,
			MaxConns:    cfg.MaxConns,
			MaxAttempts: cfg.MaxAttempts,
			MaxBackoff:  cfg.MaxBackoff,
			Warnf:       cfg.Warnf,
		})
		if err != nil {
			return nil, err
		}
	}
	endpoint := cfg.EndpointURL
	if endpoint == "" {
		endpoint = awsapi.CustomEndpoint(ctx, awsCfg, "S3")
	}
	pathStyle := cfg.PathStyle || (endpoint != "" && isHostName(endpoint))
	newClient := func(region string) *s3.Client {
		return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			o.Region = region
			if cfg.EndpointURL != "" {
				o.BaseEndpoint = aws.String(cfg.EndpointURL)
			}
			o.UsePathStyle = pathStyle
		})
	}
	region := cfg.Region
	if region == "" {
		probe := awsCfg.Region
		if probe == "" {
			probe = "us-east-1"
		}
		var err error
		region, err = bucketRegion(ctx, newClient(probe), cfg.Bucket)
		if err != nil {
			return nil, err
		}
	}
	return &Store{
		bucket:   cfg.Bucket,
		region:   region,
		endpoint: endpoint,
		cfg:      awsCfg,
		client:   newClient(region),
	}, nil
}

// isHostName reports whether endpoint's host is a name rather than an IP
// address.
func isHostName(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return false
	}
	return net.ParseIP(u.Hostname()) == nil
}

// bucketRegion asks where bucket is: GetBucketLocation, or, when that is
// refused, the x-amz-bucket-region header S3 sends even with errors.
func bucketRegion(ctx context.Context, c *s3.Client, bucket string) (string, error) {
	out, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err == nil {
		return NormalizeLocation(string(out.LocationConstraint)), nil
	}
	if r := awsapi.ResponseHeader(err, "X-Amz-Bucket-Region"); r != "" {
		return r, nil
	}
	if awsapi.ErrorCode(err) == "NoSuchBucket" {
		return "", fmt.Errorf("s3://%s: %w", bucket, ErrNoSuchBucket)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return "", ctxErr
	}
	if awsapi.IsAccessDenied(err) {
		// HeadBucket needs s3:ListBucket, which a run needs anyway, and
		// S3 names the region in its answer even when it refuses.
		hb, herr := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		if herr == nil && aws.ToString(hb.BucketRegion) != "" {
			return aws.ToString(hb.BucketRegion), nil
		}
		if r := awsapi.ResponseHeader(herr, "X-Amz-Bucket-Region"); r != "" {
			return r, nil
		}
		return "", awsapi.Denied(err, "find the region of bucket "+bucket+" (or give the region)", "s3:GetBucketLocation")
	}
	return "", fmt.Errorf("find the region of bucket %s: %w", bucket, err)
}

// NormalizeLocation turns a GetBucketLocation LocationConstraint into a
// region: empty is us-east-1, and "EU" (old buckets) is eu-west-1.
func NormalizeLocation(constraint string) string {
	switch constraint {
	case "":
		return "us-east-1"
	case "EU":
		return "eu-west-1"
	}
	return constraint
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Region returns the bucket's region.
func (s *Store) Region() string { return s.region }

// Endpoint returns the custom S3 endpoint in use, or "" for AWS's.
func (s *Store) Endpoint() string { return s.endpoint }

// AWSConfig returns the AWS configuration the store signs with, for other
// AWS clients of the same run (awskeys, awsapi).
func (s *Store) AWSConfig() aws.Config { return s.cfg.Copy() }

func (s *Store) uri(key string) string { return store.URI(s.bucket, key) }

// IsNotFound reports whether err (from the SDK) says an object does not
// exist. A missing bucket is not a missing object.
func IsNotFound(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var nf *types.NotFound
	if errors.As(err, &nf) {
		return true
	}
	code := awsapi.ErrorCode(err)
	if code == "NoSuchBucket" {
		return false
	}
	return code == "NoSuchKey" || code == "NotFound" || awsapi.HTTPStatus(err) == 404
}

// IsAccessDenied reports whether err (from the SDK) is a refusal: denied,
// bad or expired credentials, or none at all.
func IsAccessDenied(err error) bool { return awsapi.IsAccessDenied(err) }

// wrap explains an SDK error of action, which needs permission.
func (s *Store) wrap(ctx context.Context, err error, action, permission string) error {
	if ctxErr := ctx.Err(); ctxErr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("%s: %w", action, ctxErr)
	}
	if awsapi.ErrorCode(err) == "NoSuchBucket" {
		return fmt.Errorf("%s: s3://%s: %w", action, s.bucket, ErrNoSuchBucket)
	}
	if d := awsapi.Denied(err, action, permission); d != err {
		return d
	}
	if r := awsapi.ResponseHeader(err, "X-Amz-Bucket-Region"); r != "" && r != s.region {
		return fmt.Errorf("%s: the bucket is in region %s, not %s: %w", action, r, s.region, err)
	}
	return fmt.Errorf("%s: %w", action, err)
}

// List calls fn for every object under prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.Object) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	last := ""
	for p.HasMorePages() {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.wrap(ctx, err, "list "+s.uri(prefix), "s3:ListBucket")
		}
		for _, o := range page.Contents {
			if err := ctx.Err(); err != nil {
				return err
			}
			key := aws.ToString(o.Key)
			if last != "" && key <= last {
				// Directory buckets (S3 Express) list out of order; the
				// validator relies on order.
				return fmt.Errorf("list %s: the bucket listed %q after %q: keys are not in order (an S3 directory bucket?)", s.uri(prefix), key, last)
			}
			last = key
			if err := fn(store.Object{Key: key, Size: aws.ToInt64(o.Size)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListDirs returns the folders directly below prefix.
func (s *Store) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Delimiter: aws.String("/")}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	seen := map[string]bool{}
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap(ctx, err, "list folders of "+s.uri(prefix), "s3:ListBucket")
		}
		for _, cp := range page.CommonPrefixes {
			d := aws.ToString(cp.Prefix)
			if !seen[d] && strings.HasPrefix(d, prefix) {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Open returns the object's stored bytes and user metadata.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, store.Meta, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		if ctx.Err() == nil && IsNotFound(err) {
			return nil, nil, fmt.Errorf("%s: %w", s.uri(key), store.ErrNotFound)
		}
		return nil, nil, s.wrap(ctx, err, "read "+s.uri(key), "s3:GetObject")
	}
	meta := store.Meta{}
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	body := &resumingBody{
		ctx:    ctx,
		s:      s,
		key:    key,
		body:   out.Body,
		etag:   aws.ToString(out.ETag),
		length: aws.ToInt64(out.ContentLength),
	}
	return body, meta, nil
}

// resumeAttempts is how many times a broken download is resumed.
const resumeAttempts = 5

// resumingBody reads an object and, when the connection breaks part-way,
// asks for the rest (a ranged GET of the same ETag) instead of failing: a
// run reads many thousands of objects, and a reset while reading one should
// not end it.
type resumingBody struct {
	ctx     context.Context
	s       *Store
	key     string
	body    io.ReadCloser
	etag    string
	length  int64 // from Content-Length; 0 when unknown
	off     int64 // bytes delivered
	resumes int
	broken  error // why the current body failed, until resumed
	failed  error // final error
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		if b.failed != nil {
			return 0, b.failed
		}
		if b.broken != nil {
			b.resume()
			continue
		}
		n, err := b.body.Read(p)
		b.off += int64(n)
		if err == io.EOF && b.length > 0 && b.off < b.length {
			err = io.ErrUnexpectedEOF
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		b.broken = err
		if n > 0 {
			// Deliver what arrived; the next Read resumes.
			return n, nil
		}
	}
}

// resume replaces the broken body with a ranged GET of the rest, or sets
// failed.
func (b *resumingBody) resume() {
	cause := b.broken
	if b.ctx.Err() != nil || b.resumes >= resumeAttempts || b.etag == "" || b.length <= 0 {
		b.failed = fmt.Errorf("read %s: %w", b.s.uri(b.key), cause)
		return
	}
	b.resumes++
	b.body.Close()
	out, err := b.s.client.GetObject(b.ctx, &s3.GetObjectInput{
		Bucket:  aws.String(b.s.bucket),
		Key:     aws.String(b.key),
		Range:   aws.String(fmt.Sprintf("bytes=%d-", b.off)),
		IfMatch: aws.String(b.etag),
	})
	if err != nil {
		b.body = io.NopCloser(strings.NewReader(""))
		b.failed = b.s.wrap(b.ctx, err, fmt.Sprintf("read %s from byte %d after %v", b.s.uri(b.key), b.off, cause), "s3:GetObject")
		return
	}
	// A server that ignores Range would send the object from its start.
	if want := fmt.Sprintf("bytes %d-", b.off); !strings.HasPrefix(aws.ToString(out.ContentRange), want) {
		out.Body.Close()
		b.body = io.NopCloser(strings.NewReader(""))
		b.failed = fmt.Errorf("read %s: resuming at byte %d after %v: the answer is not that range (Content-Range %q)",
			b.s.uri(b.key), b.off, cause, aws.ToString(out.ContentRange))
		return
	}
	b.body, b.broken = out.Body, nil
}

func (b *resumingBody) Close() error { return b.body.Close() }
