// Package awssource opens a trail straight from AWS for validation: it finds
// the trail's bucket and prefix with CloudTrail DescribeTrails (or takes them
// as given, with no CloudTrail call), reads the bucket through S3, fetches
// public keys with ListPublicKeys, asks GetTrailStatus for the latest digest
// delivery (the tail-truncation check) and, for an organization trail,
// Organizations ListAccounts for the member accounts that must have files.
//
// The result is a store, a key source and the validate options that go with
// them; the CLI only maps flags onto Config.
package awssource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/awskeys"
	"github.com/trailcheck/trailcheck/pkg/s3store"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

// Config says which trail to read and how to reach AWS. Either TrailARN or
// Bucket is required.
type Config struct {
	// TrailARN names the trail; DescribeTrails gives its bucket and prefix
	// unless Bucket (and PrefixSet) override them, as with the AWS CLI.
	TrailARN string
	// Bucket and Prefix locate the trail's files without any CloudTrail
	// call. PrefixSet says Prefix was given (even empty); otherwise
	// AWSLogs/ folders are discovered in the bucket.
	Bucket    string
	Prefix    string
	PrefixSet bool

	// Region is the region for API calls that need one when no ARN gives
	// it; "" means the profile's or environment's.
	Region      string
	Profile     string
	RoleARN     string
	EndpointURL string // custom S3 endpoint (MinIO, LocalStack)
	PathStyle   bool
	MaxConns    int

	// Warnf receives non-fatal notes (a permission missing for an optional
	// call, SDK warnings); nil drops them.
	Warnf func(format string, args ...any)
}

// Source is an opened trail.
type Source struct {
	Store *s3store.Store
	Keys  *awskeys.Source
	// Trail is the trail's configuration when TrailARN was given.
	Trail *awsapi.Trail
	// Status is the trail's status when GetTrailStatus was permitted.
	Status *awsapi.TrailStatus
	// Accounts are the organization's member accounts when the trail is an
	// organization trail and ListAccounts was permitted.
	Accounts []string

	prefix    string
	prefixSet bool
}

// Open connects to AWS and locates the trail. Errors wrapping
// store.ErrAccessDenied name the permission that is missing.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	if cfg.TrailARN == "" && cfg.Bucket == "" {
		return nil, errors.New("a trail ARN or an S3 bucket is required")
	}
	warnf := cfg.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	apiRegion := cfg.Region
	if cfg.TrailARN != "" {
		r, _, _, ok := awsapi.ParseTrailARN(cfg.TrailARN)
		if !ok {
			return nil, fmt.Errorf("invalid trail ARN %q (expected arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME)", cfg.TrailARN)
		}
		apiRegion = r
	}
	awsCfg, err := awsapi.LoadConfig(ctx, awsapi.Options{
		Region: apiRegion, Profile: cfg.Profile, RoleARN: cfg.RoleARN, MaxConns: cfg.MaxConns, Warnf: cfg.Warnf,
	})
	if err != nil {
		return nil, err
	}
	src := &Source{prefix: cfg.Prefix, prefixSet: cfg.PrefixSet}
	bucket := cfg.Bucket
	api := awsapi.New(awsCfg) // makes no request until asked
	if cfg.TrailARN != "" {
		trail, err := api.DescribeTrail(ctx, cfg.TrailARN)
		if err != nil {
			return nil, err
		}
		src.Trail = &trail
		if bucket == "" {
			bucket = trail.Bucket
			if !cfg.PrefixSet {
				src.prefix, src.prefixSet = trail.Prefix, true
			}
		}
		if !trail.LogFileValidation {
			warnf("log file validation is not enabled on trail %s: it delivers no digests", trail.ARN)
		}
	}
	// The trail's status, its organization's accounts and the bucket's
	// region do not depend on each other: ask at once (each is a round
	// trip, and a run's first log read waits for all of them).
	var g errgroup.Group
	if src.Trail != nil {
		trail := *src.Trail
		g.Go(func() error {
			st, err := api.TrailStatus(ctx, trail.ARN)
			switch {
			case err == nil:
				src.Status = &st
			case errors.Is(err, store.ErrAccessDenied):
				warnf("%v; the tail of each chain is checked against the end time instead", err)
			default:
				return err
			}
			return nil
		})
		if trail.Organization {
			g.Go(func() error {
				accts, err := api.ListAccounts(ctx)
				switch {
				case err == nil:
					src.Accounts = accts
				case errors.Is(err, store.ErrAccessDenied) || errors.Is(err, awsapi.ErrNoOrganization):
					warnf("%v; member accounts with no files at all cannot be flagged", err)
				default:
					return err
				}
				return nil
			})
		}
	}
	g.Go(func() error {
		st, err := s3store.New(ctx, s3store.Config{
			Bucket: bucket, EndpointURL: cfg.EndpointURL, PathStyle: cfg.PathStyle, AWS: &awsCfg,
		})
		src.Store = st
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	src.Keys = awskeys.New(awsCfg)
	return src, nil
}

// Apply sets the validate options that follow from the source: bucket,
// prefix, key source, the trail (for an ARN), its latest digest delivery and
// the accounts that must have files. Filters the user gave are kept.
func (s *Source) Apply(opts *validate.Options) {
	opts.Keys = s.Keys
	if opts.Bucket == "" {
		opts.Bucket = s.Store.Bucket()
	}
	if s.prefixSet {
		opts.Prefix, opts.PrefixSet = strings.Trim(s.prefix, "/"), true
	}
	if s.Trail == nil {
		return
	}
	if len(opts.Trails) == 0 {
		opts.Trails = []string{s.Trail.Name}
	}
	opts.TrailARN = s.Trail.ARN
	if s.Status != nil && !s.Status.LatestDigestDelivery.IsZero() {
		name, home, latest := s.Trail.Name, s.Trail.HomeRegion, s.Status.LatestDigestDelivery
		opts.LatestDelivery = func(trail, homeRegion string) (t time.Time, ok bool) {
			if trail == name && homeRegion == home {
				return latest, true
			}
			return t, false
		}
	}
	if len(opts.ExpectAccounts) == 0 {
		opts.ExpectAccounts = s.Accounts
	}
}
