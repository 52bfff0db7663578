// Package awskeys is a keys.Source that asks CloudTrail for its public keys
// (ListPublicKeys), in the region that produced each digest, so a key of one
// region can never verify a digest of another.
//
// Unlike the AWS CLI, which asks once per run and ignores NextToken, it
// follows every page, and it remembers what it fetched: a run that calls
// Prefetch for its period makes one paged call per region, and one that does
// not still makes about one call per region and fortnight. Every key is
// checked (RSA, and its fingerprint is the MD5 of its DER bytes) before it is
// used.
package awskeys

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/keys"
)

// Defaults of the options.
const (
	// DefaultBefore and DefaultAfter are the margin asked around a
	// digest's time: the AWS CLI asks start to end+2h, and ±1h around a
	// backfill's generation time.
	DefaultBefore = time.Hour
	DefaultAfter  = 2 * time.Hour
	// DefaultSpan widens each call on both sides, so that a run's hourly
	// digests do not each cost a call. A key is valid for about 30 days.
	DefaultSpan = 7 * 24 * time.Hour
	// DefaultWide is how far around a digest's time a fingerprint that is
	// not found is looked for, to tell a key used outside its validity
	// window (OutsideWindow) from an unknown one (NotFound).
	DefaultWide = 90 * 24 * time.Hour
)

// Option changes a Source.
type Option func(*Source)

// WithMargin sets the margin asked before and after a digest's time.
func WithMargin(before, after time.Duration) Option {
	return func(s *Source) { s.before, s.after = before, after }
}

// WithSpan sets how much wider than needed each call asks (0: exactly the
// margin, a call per digest hour).
func WithSpan(d time.Duration) Option { return func(s *Source) { s.span = d } }

// WithWide sets how far around a digest's time a missing fingerprint is
// looked for (0: not at all; a key outside its window is then NotFound).
func WithWide(d time.Duration) Option { return func(s *Source) { s.wide = d } }

// WithClock sets the clock (for tests); calls never ask beyond now+after.
func WithClock(now func() time.Time) Option { return func(s *Source) { s.now = now } }

// Source looks keys up with CloudTrail ListPublicKeys. It is safe for
// concurrent use; concurrent lookups in one region share one call.
type Source struct {
	api                       *awsapi.Client
	before, after, span, wide time.Duration
	now                       func() time.Time

	mu      sync.Mutex
	regions map[string]*regionKeys
}

var _ keys.Source = (*Source)(nil)

// New returns a source that signs its calls with cfg (from
// awsapi.LoadConfig, or s3store.Store.AWSConfig).
func New(cfg aws.Config, opts ...Option) *Source {
	s := &Source{
		api:     awsapi.New(cfg),
		before:  DefaultBefore,
		after:   DefaultAfter,
		span:    DefaultSpan,
		wide:    DefaultWide,
		now:     time.Now,
		regions: map[string]*regionKeys{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// regionKeys is what is known of one region's keys.
type regionKeys struct {
	inflight chan struct{} // holds a token while a call is made

	mu       sync.Mutex
	keys     map[string]*keys.Key // by fingerprint
	rejected map[string]error     // by the fingerprint CloudTrail claimed
	covered  []interval           // merged, sorted: keys overlapping these are all known
}

type interval struct{ start, end time.Time }

func (s *Source) region(region string) *regionKeys {
	s.mu.Lock()
	defer s.mu.Unlock()
	rk := s.regions[region]
	if rk == nil {
		rk = &regionKeys{
			inflight: make(chan struct{}, 1),
			keys:     map[string]*keys.Key{},
			rejected: map[string]error{},
		}
		s.regions[region] = rk
	}
	return rk
}

// Lookup returns the key with fingerprint fp for region at time at.
func (s *Source) Lookup(ctx context.Context, region, fp string, at time.Time) (keys.Lookup, error) {
	if region == "" {
		return keys.Lookup{}, errors.New("awskeys: lookup without a region")
	}
	fp = strings.ToLower(fp)
	rk := s.region(region)
	if err := s.ensure(ctx, rk, region, at.Add(-s.before), at.Add(s.after), s.span); err != nil {
		return keys.Lookup{}, err
	}
	if l, ok, err := rk.lookup(region, fp, at); ok || err != nil {
		return l, err
	}
	if s.wide > 0 {
		if err := s.ensure(ctx, rk, region, at.Add(-s.wide), at.Add(s.wide), 0); err != nil {
			return keys.Lookup{}, err
		}
		if l, ok, err := rk.lookup(region, fp, at); ok || err != nil {
			return l, err
		}
	}
	return keys.Lookup{Status: keys.NotFound, RegionChecked: true}, nil
}

func (rk *regionKeys) lookup(region, fp string, at time.Time) (keys.Lookup, bool, error) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if k := rk.keys[fp]; k != nil {
		if k.Covers(at) {
			return keys.Lookup{Status: keys.Found, Key: k, RegionChecked: true}, true, nil
		}
		return keys.Lookup{Status: keys.OutsideWindow, Key: k, RegionChecked: true}, true, nil
	}
	if err := rk.rejected[fp]; err != nil {
		return keys.Lookup{}, false, fmt.Errorf("CloudTrail ListPublicKeys in %s returned a bad key for fingerprint %s: %w", region, fp, err)
	}
	return keys.Lookup{}, false, nil
}

// Prefetch lists region's keys for a run over [start, end] in one paged
// call, so that the run's lookups (each asking from an hour before a
// digest's time to two after) need no more calls.
func (s *Source) Prefetch(ctx context.Context, region string, start, end time.Time) error {
	return s.ensure(ctx, s.region(region), region, start.Add(-s.before), end.Add(s.after), 0)
}

// ensure makes sure every key overlapping [start, end] is known, calling
// ListPublicKeys for [start-span, end+span] (not beyond now+after) if not.
// Only one call per region is in flight; others wait for it and use what it
// found.
func (s *Source) ensure(ctx context.Context, rk *regionKeys, region string, start, end time.Time, span time.Duration) error {
	// No key that starts after now can have signed a digest; asking far
	// into the future only risks an InvalidTimeRangeException. (A digest
	// dated in the future is still looked up, as asked.)
	limit := s.now().Add(s.after)
	if end.After(limit) && start.Before(limit) {
		end = limit
	}
	if rk.covers(start, end) {
		return nil
	}
	select {
	case rk.inflight <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-rk.inflight }()
	if rk.covers(start, end) { // fetched while this one waited
		return nil
	}
	from, to := start.Add(-span), end.Add(span)
	if to.After(limit) {
		to = limit
	}
	if to.Before(end) {
		to = end
	}
	found, rejected, err := s.list(ctx, region, from, to)
	if err != nil {
		return err
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	for _, k := range found {
		rk.keys[k.Fingerprint] = k
		delete(rk.rejected, k.Fingerprint)
	}
	for fp, err := range rejected {
		if rk.keys[fp] == nil {
			rk.rejected[fp] = err
		}
	}
	rk.covered = addInterval(rk.covered, interval{from, to})
	return nil
}

func (rk *regionKeys) covers(start, end time.Time) bool {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	for _, iv := range rk.covered {
		if !start.Before(iv.start) && !end.After(iv.end) {
			return true
		}
	}
	return false
}

// addInterval adds iv to the merged, sorted list ivs. Touching intervals
// merge: a key overlapping their union overlaps one of them.
func addInterval(ivs []interval, iv interval) []interval {
	ivs = append(ivs, iv)
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].start.Before(ivs[j].start) })
	out := ivs[:1]
	for _, x := range ivs[1:] {
		last := &out[len(out)-1]
		if !x.start.After(last.end) {
			if x.end.After(last.end) {
				last.end = x.end
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// maxPages guards against a service that never stops paging.
const maxPages = 1000

// list calls ListPublicKeys for [from, to] in region, following every page.
// Keys that fail the checks are returned apart, by the fingerprint claimed.
func (s *Source) list(ctx context.Context, region string, from, to time.Time) ([]*keys.Key, map[string]error, error) {
	action := fmt.Sprintf("list CloudTrail public keys in %s for %s to %s", region,
		from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	in := &cloudtrail.ListPublicKeysInput{StartTime: aws.Time(from.UTC()), EndTime: aws.Time(to.UTC())}
	client := s.api.CloudTrail(region)
	var found []*keys.Key
	rejected := map[string]error{}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, nil, fmt.Errorf("%s: more than %d pages", action, maxPages)
		}
		out, err := client.ListPublicKeys(ctx, in)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, nil, fmt.Errorf("%s: %w", action, ctxErr)
			}
			if d := awsapi.Denied(err, action, "cloudtrail:ListPublicKeys"); d != err {
				return nil, nil, d
			}
			return nil, nil, fmt.Errorf("%s: %w", action, err)
		}
		for _, pk := range out.PublicKeyList {
			claimed := strings.ToLower(aws.ToString(pk.Fingerprint))
			k, err := keys.NewKey(pk.Value, claimed, region, aws.ToTime(pk.ValidityStartTime), aws.ToTime(pk.ValidityEndTime))
			if err != nil || claimed == "" {
				if err == nil {
					err = errors.New("no fingerprint")
				}
				rejected[claimed] = err
				continue
			}
			found = append(found, k)
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			break
		}
		if seen[next] {
			return nil, nil, fmt.Errorf("%s: the service repeated page token %q", action, next)
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
	return found, rejected, nil
}

// Rejected returns, for every key CloudTrail listed that failed the checks
// (fingerprint not the MD5 of the key, not an RSA key, bad window), one
// error naming region and fingerprint, sorted. A lookup of such a
// fingerprint is an error too; this lets a caller that saves keys say so.
func (s *Source) Rejected() []error {
	s.mu.Lock()
	regions := make([]string, 0, len(s.regions))
	for r := range s.regions {
		regions = append(regions, r)
	}
	s.mu.Unlock()
	sort.Strings(regions)
	var out []error
	for _, r := range regions {
		rk := s.region(r)
		rk.mu.Lock()
		fps := make([]string, 0, len(rk.rejected))
		for fp := range rk.rejected {
			fps = append(fps, fp)
		}
		sort.Strings(fps)
		for _, fp := range fps {
			out = append(out, fmt.Errorf("region %s: key %s: %w", r, fp, rk.rejected[fp]))
		}
		rk.mu.Unlock()
	}
	return out
}

// Keys returns every key fetched so far, by region then validity start:
// what keys.RegionMap needs to save them for an offline run.
func (s *Source) Keys() []*keys.Key {
	s.mu.Lock()
	rks := make(map[string]*regionKeys, len(s.regions))
	for r, rk := range s.regions {
		rks[r] = rk
	}
	s.mu.Unlock()
	var out []*keys.Key
	for _, rk := range rks {
		rk.mu.Lock()
		for _, k := range rk.keys {
			out = append(out, k)
		}
		rk.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].ValidFrom.Before(out[j].ValidFrom)
	})
	return out
}
