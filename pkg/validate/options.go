// Package validate verifies CloudTrail digest chains and the log files they
// reference, from any store.Store, and returns a report.Report.
//
// Integrity problems are findings in the report; an error from Run means the
// run could not be completed (the store could not be listed, access was
// denied, the context was cancelled).
package validate

import (
	"context"
	"time"

	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/report"
)

// Options says what to validate and how.
type Options struct {
	// Start and End bound the period to validate. End zero means Now().
	Start, End time.Time

	// Accounts, Regions and Trails narrow discovery; empty means all.
	Accounts []string
	Regions  []string
	Trails   []string
	// Prefix is the key prefix before AWSLogs/ (no trailing slash). When
	// PrefixSet is false, every AWSLogs/ folder up to a few levels deep is
	// discovered instead.
	Prefix    string
	PrefixSet bool
	// Bucket is the bucket name the digests must name. Empty: the store's
	// name, or for a local copy, the name the digests carry.
	Bucket string

	// Keys finds the public key of each digest. If it also implements
	// Prefetcher, each region's keys for the range are asked for once, while
	// the region is being listed.
	Keys keys.Source

	// Anchors are the newest digests verified by an earlier run, by chain ID
	// (report.Chain.ID). For an anchored chain only digests newer than its
	// anchor are validated, and the oldest of them must link to the anchor
	// (its key, hash and signature); the anchor itself is read again to
	// prove it is still there, unchanged.
	Anchors map[string]report.DigestRef

	// TrailARN is the ARN of the trail being validated, when known (the
	// ARN of an organization trail names the management account, which the
	// bucket does not show). Chains of that trail carry it.
	TrailARN string

	// ExpectAccounts lists accounts that must have files in the bucket (the
	// member accounts of an organization trail); one with none is a
	// no_digests finding.
	ExpectAccounts []string

	// Workers is the number of objects read at once; 0 picks a default.
	Workers int

	// FailOnGap makes a chain gap an error instead of a warning.
	FailOnGap bool

	// KeepValid records every examined object in Report.Objects (for
	// verbose listings). Memory then grows with the number of objects.
	KeepValid bool

	// DeliveryDelay is how long after its end time a digest may take to
	// arrive; digests not due yet are not expected. Zero means 15 minutes.
	DeliveryDelay time.Duration

	// LatestDelivery, when set, returns the time of the trail's latest
	// digest delivery (CloudTrail GetTrailStatus) for a chain's home region
	// and trail; digests are expected up to it rather than up to End.
	LatestDelivery func(trail, homeRegion string) (time.Time, bool)

	// Progress, when set, is told how many log files there are to hash and
	// how many are done. It is called from several goroutines.
	Progress Progress

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Prefetcher is a key source that can load a region's keys for a period
// in one request.
type Prefetcher interface {
	Prefetch(ctx context.Context, region string, start, end time.Time) error
}

// Progress receives hashing progress.
type Progress interface {
	// Add says n more log files are to be hashed.
	Add(n int)
	// Done says n log files were hashed.
	Done(n int)
}

// DefaultWorkers is the default number of objects read at once from a
// remote store: enough to hide S3's per-request latency. Measured against a
// stand-in adding 20 ms per request (docs/performance.md), 256 in flight
// beat 128 by a fifth; s5cmd's default is 256 as well. Throttling (503
// SlowDown) is retried with backoff by the S3 client.
const DefaultWorkers = 256
