package validate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/gzhash"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// chain is one trail's digests at one location, selected for the range.
type chain struct {
	id digest.ChainID
	// anchor is the newest digest an earlier run verified; anchorRec is it
	// read again.
	anchor    *report.DigestRef
	anchorKey string
	anchorRec *digestRec

	digests []*digestRec // ascending by key time
	byKey   map[string]*digestRec
}

// digestRec is one digest object and what was learnt about it.
type digestRec struct {
	key string
	end time.Time // from the key

	d    *digest.Digest // nil when it could not be read or parsed
	meta store.Meta
	// failKind/failDetail say why d is nil (DigestMissing, DigestInvalidFormat,
	// ObjectUnreadable).
	failKind   report.Kind
	failDetail string

	keyAt  time.Time // the time the key must cover
	lookup keys.Lookup

	logs []logResult // one per d.LogFiles entry

	// verified is set by the assessment: the digest's signature verified,
	// so the log files it lists are vouched for.
	verified bool
}

// logResult is the outcome of hashing one referenced log file.
type logResult struct {
	kind   report.Kind // "" when the hash matched
	detail string
}

type logJob struct {
	rec *digestRec
	i   int
}

// logObject is a listed log object.
type logObject struct {
	key string
	t   time.Time
}

func (e *engine) scanLocation(ctx context.Context, loc digest.Location) (*location, error) {
	l := &location{loc: loc, chains: map[digest.ChainID]*chain{}}

	// Digests: the AWS CLI's selection, key time in [start, end+1h].
	lo := e.start.Format(digest.KeyTimeLayout)
	hi := e.end.Add(time.Hour).Format(digest.KeyTimeLayout)
	var mu sync.Mutex
	var recs []*digestRec
	err := e.listDays(ctx, loc.DigestRegionPrefix(), days(e.start, e.end.Add(time.Hour)), func(o store.Object) {
		info, err := digest.ParseDigestKey(o.Key)
		if err != nil || info.Chain.Location != loc {
			return
		}
		ts := info.End.Format(digest.KeyTimeLayout)
		if a, ok := e.opts.Anchors[info.Chain.String()]; ok {
			if ts <= a.End.UTC().Format(digest.KeyTimeLayout) || ts > hi {
				return
			}
		} else if ts < lo || ts > hi {
			return
		}
		if e.trails != nil && !e.trails[info.Chain.Trail] {
			mu.Lock()
			l.otherTrails = true
			mu.Unlock()
			return
		}
		mu.Lock()
		defer mu.Unlock()
		c := l.chains[info.Chain]
		if c == nil {
			c = &chain{id: info.Chain, byKey: map[string]*digestRec{}}
			l.chains[info.Chain] = c
		}
		r := &digestRec{key: o.Key, end: info.End}
		c.byKey[o.Key] = r
		recs = append(recs, r)
	})
	if err != nil {
		return nil, err
	}
	// Anchored chains of this location: one with no new digest is still
	// checked (its anchor re-read, its tail due).
	for id, a := range e.opts.Anchors {
		key := strings.TrimPrefix(a.Object, "s3://")
		if i := strings.IndexByte(key, '/'); i >= 0 {
			key = key[i+1:]
		}
		info, err := digest.ParseDigestKey(key)
		if err != nil || info.Chain.Location != loc || info.Chain.String() != id {
			continue
		}
		if e.trails != nil && !e.trails[info.Chain.Trail] {
			continue
		}
		c := l.chains[info.Chain]
		if c == nil {
			c = &chain{id: info.Chain, byKey: map[string]*digestRec{}}
			l.chains[info.Chain] = c
		}
		anchor := a
		c.anchor, c.anchorKey = &anchor, key
		c.anchorRec = &digestRec{key: key, end: info.End}
	}
	for _, c := range l.chains {
		for _, r := range c.byKey {
			c.digests = append(c.digests, r)
		}
		sort.Slice(c.digests, func(i, j int) bool {
			if !c.digests[i].end.Equal(c.digests[j].end) {
				return c.digests[i].end.Before(c.digests[j].end)
			}
			return c.digests[i].key < c.digests[j].key
		})
	}

	g, gctx := errgroup.WithContext(ctx)
	if pf, ok := e.opts.Keys.(Prefetcher); ok {
		g.Go(func() error {
			if err := pf.Prefetch(gctx, loc.Region, e.start, e.end.Add(time.Hour)); err != nil {
				return fmt.Errorf("public keys for region %s: %w", loc.Region, err)
			}
			return nil
		})
	}
	// Log objects in the range, for the unreferenced-log check; listed while
	// the digests are read.
	g.Go(func() error {
		var objs []logObject
		var lmu sync.Mutex
		err := e.listDays(gctx, loc.LogRegionPrefix(), days(e.start, e.end), func(o store.Object) {
			info, err := digest.ParseLogKey(o.Key)
			if err != nil || info.Location != loc || info.Time.Before(e.start.Truncate(time.Minute)) || info.Time.After(e.end) {
				return
			}
			lmu.Lock()
			objs = append(objs, logObject{key: o.Key, t: info.Time})
			lmu.Unlock()
		})
		sort.Slice(objs, func(i, j int) bool { return objs[i].key < objs[j].key })
		l.logs = objs
		return err
	})
	for _, c := range l.chains {
		if c.anchorRec != nil {
			r := c.anchorRec
			g.Go(func() error {
				select {
				case e.digestSem <- struct{}{}:
				case <-gctx.Done():
					return gctx.Err()
				}
				defer func() { <-e.digestSem }()
				return e.readAnchor(gctx, r)
			})
		}
	}
	for _, r := range recs {
		g.Go(func() error {
			select {
			case e.digestSem <- struct{}{}:
			case <-gctx.Done():
				return gctx.Err()
			}
			err := e.fetchDigest(gctx, loc, r)
			<-e.digestSem
			if err != nil {
				return err
			}
			e.enqueueLogs(gctx, r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return l, nil
}

// listDays lists prefix+day for each day, several at once, calling fn
// (serialised by the caller) for each object.
func (e *engine) listDays(ctx context.Context, prefix string, ds []string, fn func(store.Object)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, d := range ds {
		g.Go(func() error {
			err := e.st.List(gctx, prefix+d, func(o store.Object) error { fn(o); return nil })
			if err != nil {
				return fmt.Errorf("listing %s: %w", prefix+d, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// fetchDigest reads, parses and looks up the key of one digest. Problems
// with the object become findings; only a denial or cancellation is an error.
func (e *engine) fetchDigest(ctx context.Context, loc digest.Location, r *digestRec) error {
	d, meta, err := e.readDigest(ctx, r)
	if err != nil || d == nil {
		return err
	}
	r.d, r.meta = d, meta
	r.keyAt = d.End
	if strings.HasSuffix(r.key, "_backfill.json.gz") {
		gen, ok := meta["backfill-generation-timestamp"]
		if !ok {
			r.d = nil
			r.failKind, r.failDetail = report.DigestInvalidFormat, "backfill digest has no backfill-generation-timestamp metadata"
			return nil
		}
		t, err := parseLooseTime(gen)
		if err != nil {
			r.d = nil
			r.failKind, r.failDetail = report.DigestInvalidFormat, fmt.Sprintf("backfill-generation-timestamp %q is not a time", gen)
			return nil
		}
		r.keyAt = t
	}
	r.lookup, err = e.opts.Keys.Lookup(ctx, loc.Region, d.DigestPublicKeyFingerprint, r.keyAt)
	if err != nil {
		return fmt.Errorf("public key %s for region %s: %w", d.DigestPublicKeyFingerprint, loc.Region, err)
	}
	r.logs = make([]logResult, len(d.LogFiles))
	return nil
}

// readAnchor reads an earlier run's newest digest again, for its hash.
func (e *engine) readAnchor(ctx context.Context, r *digestRec) error {
	d, _, err := e.readDigest(ctx, r)
	r.d = d
	return err
}

// readDigest reads and parses the digest r names. A missing, unreadable or
// malformed digest gives a nil digest and r's failKind and failDetail say
// why; only a denial or cancellation is an error.
func (e *engine) readDigest(ctx context.Context, r *digestRec) (*digest.Digest, store.Meta, error) {
	rc, meta, err := e.st.Open(ctx, r.key)
	if err != nil {
		return nil, nil, r.openFailed(ctx, err)
	}
	raw, err := digest.Decompress(rc)
	rc.Close()
	if err != nil {
		var fe *digest.FormatError
		if errors.As(err, &fe) {
			r.failKind, r.failDetail = report.DigestInvalidFormat, fe.Reason
			return nil, nil, nil
		}
		return nil, nil, r.openFailed(ctx, err)
	}
	d, err := digest.Parse(raw)
	if err != nil {
		r.failKind, r.failDetail = report.DigestInvalidFormat, err.Error()
		var fe *digest.FormatError
		if errors.As(err, &fe) {
			r.failDetail = fe.Reason
		}
		return nil, nil, nil
	}
	d.Raw = nil // only its hash is needed from here on
	return d, meta, nil
}

func (r *digestRec) openFailed(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Listed a moment ago: deleted while we ran.
		r.failKind, r.failDetail = report.DigestMissing, "listed but could not be read: not found"
	case isStoreDenied(err), ctx.Err() != nil:
		return err
	default:
		r.failKind, r.failDetail = report.ObjectUnreadable, err.Error()
	}
	return nil
}

// parseLooseTime reads a backfill generation timestamp: RFC 3339, CloudTrail's
// key layout, or epoch seconds/milliseconds.
func parseLooseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, digest.KeyTimeLayout, "2006-01-02T15:04:05.000Z0700", "2006-01-02 15:04:05Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		if f > 1e11 {
			f /= 1000
		}
		return time.Unix(int64(f), 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

func (e *engine) enqueueLogs(ctx context.Context, r *digestRec) {
	if r.d == nil || len(r.d.LogFiles) == 0 {
		return
	}
	if e.opts.Progress != nil {
		e.opts.Progress.Add(len(r.d.LogFiles))
	}
	for i := range r.d.LogFiles {
		select {
		case e.logJobs <- logJob{rec: r, i: i}:
		case <-ctx.Done():
			for j := i; j < len(r.d.LogFiles); j++ {
				r.logs[j] = logResult{kind: report.ObjectUnreadable, detail: "not checked: run interrupted"}
			}
			return
		}
	}
}

func (e *engine) logWorker(ctx context.Context) {
	for job := range e.logJobs {
		lf := job.rec.d.LogFiles[job.i]
		job.rec.logs[job.i] = e.hashLog(ctx, lf)
		if e.opts.Progress != nil {
			e.opts.Progress.Done(1)
		}
	}
}

func (e *engine) hashLog(ctx context.Context, lf digest.LogFile) logResult {
	if err := ctx.Err(); err != nil {
		return logResult{kind: report.ObjectUnreadable, detail: "not checked: run interrupted"}
	}
	rc, _, err := e.st.Open(ctx, lf.S3Object)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return logResult{kind: report.LogMissing, detail: "referenced by the digest but not found"}
		}
		return logResult{kind: report.ObjectUnreadable, detail: err.Error()}
	}
	res, err := gzhash.Hash(rc)
	rc.Close()
	if err != nil {
		var fe *gzhash.FormatError
		switch {
		case errors.Is(err, gzhash.ErrTrailingData):
			return logResult{kind: report.LogTrailingData, detail: "data after the end of the gzip stream"}
		case errors.As(err, &fe):
			return logResult{kind: report.LogInvalidFormat, detail: fe.Reason}
		default:
			return logResult{kind: report.ObjectUnreadable, detail: err.Error()}
		}
	}
	got := fmt.Sprintf("%x", res.SHA256[:])
	if !strings.EqualFold(got, lf.HashValue) {
		return logResult{kind: report.LogHashMismatch, detail: fmt.Sprintf("SHA-256 of the decompressed file is %s, the digest says %s", got, strings.ToLower(lf.HashValue))}
	}
	return logResult{}
}
