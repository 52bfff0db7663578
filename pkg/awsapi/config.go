// Package awsapi is trailcheck's connection to AWS other than reading
// objects and keys: it loads credentials and SDK configuration once for every
// AWS client (profile, assumed role, retries, a connection pool sized for
// hundreds of requests in flight, no checksum-warning noise), turns AWS
// refusals into errors that name the missing permission, and asks
// CloudTrail and Organizations about trails and accounts (DescribeTrail,
// TrailStatus, ListAccounts).
//
// The S3 store (pkg/s3store) and the key source (pkg/awskeys) take the
// aws.Config that LoadConfig returns, so a run signs every request with the
// same credentials. Besides those two, only this package imports the AWS
// SDK.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
)

// Defaults of Options.
const (
	// DefaultMaxConns is the default connection pool size per host: enough
	// for the validator's default of 256 log reads in flight plus digest
	// reads and listings.
	DefaultMaxConns = 512
	// DefaultMaxAttempts is the default number of attempts per request.
	// S3 throttles bursts with 503 SlowDown; eight attempts with jittered
	// exponential backoff ride out a minute of it.
	DefaultMaxAttempts = 8
	// DefaultMaxBackoff caps the wait between attempts.
	DefaultMaxBackoff = 20 * time.Second
	// DefaultResponseHeaderTimeout is how long a request may wait for the
	// response headers before it is abandoned (and retried).
	DefaultResponseHeaderTimeout = time.Minute
)

// Options says how to connect to AWS. The zero value uses the default
// credential chain (environment, shared files, SSO, container and instance
// roles) and the default region.
type Options struct {
	// Region is the region clients use unless told otherwise; "" means the
	// one from the environment or profile, if any.
	Region string
	// Profile is a shared config profile; "" means the default one (or
	// AWS_PROFILE).
	Profile string
	// RoleARN, when set, is assumed with STS (credentials refreshed before
	// they expire) on top of the base credentials.
	RoleARN string
	// ExternalID is passed to AssumeRole when the role requires one.
	ExternalID string
	// MaxConns is the most connections per host; 0 means DefaultMaxConns.
	MaxConns int
	// MaxAttempts is the most attempts per request; 0 means
	// DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the wait between attempts; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Warnf receives the SDK's warnings; nil drops them (pkg/ never
	// prints).
	Warnf func(format string, args ...any)
}

// LoadConfig loads the AWS configuration for opts. It makes no request:
// missing or bad credentials show up on the first call, as an error wrapping
// store.ErrAccessDenied.
func LoadConfig(ctx context.Context, opts Options) (aws.Config, error) {
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	backoff := opts.MaxBackoff
	if backoff <= 0 {
		backoff = DefaultMaxBackoff
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		// The default transport keeps 2 idle connections per host: with
		// hundreds of requests in flight, connections churn and throughput
		// collapses.
		t.MaxIdleConns = maxConns * 2
		t.MaxIdleConnsPerHost = maxConns
		t.MaxConnsPerHost = maxConns
		t.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	})
	warnf := opts.Warnf
	lopts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = backoff
				// The client-side retry quota is meant to stop retry
				// storms against a failing service; with hundreds of reads
				// in flight against a throttling bucket it empties in
				// seconds and fails reads that backoff would have saved.
				o.RateLimiter = ratelimit.None
			})
		}),
		// CloudTrail's objects carry no checksums: validating them would
		// log "Response has no supported checksum" for every object.
		// trailcheck checks content itself, against the digests.
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
			if warnf != nil && c == logging.Warn {
				warnf(format, v...)
			}
		})),
	}
	if opts.Region != "" {
		lopts = append(lopts, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		lopts = append(lopts, config.WithSharedConfigProfile(opts.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lopts...)
	if err != nil {
		var notExist config.SharedConfigProfileNotExistError
		if errors.As(err, &notExist) {
			return aws.Config{}, fmt.Errorf("aws profile %q not found in the shared config files", notExist.Profile)
		}
		return aws.Config{}, fmt.Errorf("loading aws configuration: %w", err)
	}
	if opts.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if o.Region == "" {
				// STS has a global endpoint; a role can be assumed
				// before any region is known.
				o.Region = "us-east-1"
			}
		})
		provider := stscreds.NewAssumeRoleProvider(stsClient, opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "trailcheck-" + time.Now().UTC().Format("20060102T150405Z")
			if opts.ExternalID != "" {
				o.ExternalID = aws.String(opts.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return cfg, nil
}

// serviceEndpointSource is what the SDK's config sources (environment,
// shared config) offer for AWS_ENDPOINT_URL_<SERVICE> and the services
// section of a profile.
type serviceEndpointSource interface {
	GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
}

// CustomEndpoint returns the endpoint URL that clients of the service
// (by its SDK ID: "S3", "CloudTrail", "Organizations") made from cfg will
// use instead of AWS's, from AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL
// or the profile, as the SDK resolves them; "" when there is none.
func CustomEndpoint(ctx context.Context, cfg aws.Config, sdkID string) string {
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(interface {
			GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error)
		}); ok {
			if ignore, found, err := p.GetIgnoreConfiguredEndpoints(ctx); err == nil && found && ignore {
				return stringValue(cfg.BaseEndpoint)
			}
		}
	}
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(serviceEndpointSource); ok {
			if v, found, err := p.GetServiceBaseEndpoint(ctx, sdkID); err == nil && found && v != "" {
				return v
			}
		}
	}
	return stringValue(cfg.BaseEndpoint)
}

func stringValue(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
