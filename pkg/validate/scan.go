package validate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

	// refs are the log files the digest lists, in its order, in compact
	// form (d.LogFiles is dropped after parsing), and logs their results.
	// Once every one is hashed, compact folds them into nLogs, okCount and
	// failures and drops both (unless valid objects are kept for a verbose
	// listing): memory then holds only what failed.
	refs      []logRef
	logs      []logResult
	pending   atomic.Int32 // log files not hashed yet
	nLogs     int
	okCount   int
	failures  []logFailure
	compacted bool
	// badHashAlgo names a logFiles entry with a hash algorithm other than
	// SHA-256, if any.
	badHashAlgo string

	// verified is set by the assessment: the digest's signature verified,
	// so the log files it lists are vouched for.
	verified bool
}

// logRef is one log file a digest lists.
type logRef struct {
	key    string
	bucket string // the digest's own bucket string when they are equal
	sum    [sha256.Size]byte
}

// logFailure is a log file whose check failed.
type logFailure struct {
	i   int // index in the digest's logFiles
	ref logRef
	res logResult
}

// compact folds the log results into counts and failures; with keep, the
// references stay for a listing of valid objects. It runs once, when the
// last log file of the digest is hashed (or at assessment, for a digest
// with none).
func (r *digestRec) compact(keep bool) {
	if r.compacted || r.d == nil {
		return
	}
	r.compacted = true
	r.nLogs = len(r.refs)
	for i, ref := range r.refs {
		res := r.logs[i]
		if ref.bucket != r.d.DigestS3Bucket {
			res = logResult{kind: report.ObjectUnreadable, detail: "log file is in another bucket (" + ref.bucket + "), not read"}
		}
		if res.kind != "" {
			r.failures = append(r.failures, logFailure{i: i, ref: ref, res: res})
		} else {
			r.okCount++
		}
	}
	r.logs = nil
	if !keep {
		r.refs = nil
	}
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

	g, gctx := errgroup.WithContext(ctx)
	// One goroutine per digest in flight, not per digest: a year of one
	// region is 9k digests, and parked goroutines cost a stack each.
	g.SetLimit(e.workers + 1)
	if pf, ok := e.opts.Keys.(Prefetcher); ok {
		g.Go(func() error {
			if err := pf.Prefetch(gctx, loc.Region, e.start, e.end.Add(time.Hour)); err != nil {
				return fmt.Errorf("public keys for region %s: %w", loc.Region, err)
			}
			return nil
		})
	}
	// Each digest is read as soon as its day is listed: a long range lists
	// hundreds of days, and the reads need not wait for the last of them.
	fetch := func(r *digestRec) {
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
			l.reference(e.seed, r.refs)
			e.enqueueLogs(gctx, r)
			return nil
		})
	}
	listed := make(chan *digestRec, 256)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for r := range listed {
			fetch(r)
		}
	}()

	// Digests: the AWS CLI's selection, key time in [start, end+1h].
	lo := e.start.Format(digest.KeyTimeLayout)
	hi := e.end.Add(time.Hour).Format(digest.KeyTimeLayout)
	var mu sync.Mutex
	err := e.listDays(gctx, loc.DigestRegionPrefix(), days(e.start, e.end.Add(time.Hour)), func(o store.Object) {
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
		mu.Lock()
		if e.trails != nil && !e.trails[info.Chain.Trail] {
			l.otherTrails = true
			mu.Unlock()
			return
		}
		c := l.chains[info.Chain]
		if c == nil {
			c = &chain{id: info.Chain, byKey: map[string]*digestRec{}}
			l.chains[info.Chain] = c
		}
		r := &digestRec{key: o.Key, end: info.End}
		c.byKey[o.Key] = r
		mu.Unlock()
		listed <- r
	})
	close(listed)
	<-dispatched
	if err != nil {
		// A failed read cancels the listing too: report the cause.
		if werr := g.Wait(); werr != nil {
			return nil, werr
		}
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
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := e.listLogs(ctx, l); err != nil {
		return nil, err
	}
	return l, nil
}

// reference adds log keys to the location's referenced set.
func (l *location) reference(seed maphash.Seed, refs []logRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.referenced == nil {
		l.referenced = map[uint64]struct{}{}
	}
	for _, ref := range refs {
		l.referenced[maphash.String(seed, ref.key)] = struct{}{}
	}
}

func (l *location) isReferenced(seed maphash.Seed, key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.referenced[maphash.String(seed, key)]
	return ok
}

// listLogs lists the location's log objects in the range and keeps those
// that no digest lists (the unreferenced-log check), while the listed
// digests' log files are being hashed. Only a count and the unreferenced
// ones are kept: memory does not grow with the number of log objects.
func (e *engine) listLogs(ctx context.Context, l *location) error {
	var newestEnd, oldestStart time.Time
	for id, c := range l.chains {
		if id.Backfill {
			continue
		}
		for _, r := range c.digests {
			if r.d == nil {
				continue
			}
			if r.d.End.After(newestEnd) {
				newestEnd = r.d.End
			}
			if oldestStart.IsZero() || r.d.Start.Before(oldestStart) {
				oldestStart = r.d.Start
			}
		}
	}
	// A log delivered just before the newest digest's end may be listed by
	// the next digest, which is outside the range or not delivered yet.
	limit := newestEnd.Add(-e.opts.DeliveryDelay)
	from := oldestStart.Truncate(time.Minute)
	var mu sync.Mutex
	err := e.listDays(ctx, l.loc.LogRegionPrefix(), days(e.start, e.end), func(o store.Object) {
		info, err := digest.ParseLogKey(o.Key)
		if err != nil || info.Location != l.loc || info.Time.Before(e.start.Truncate(time.Minute)) || info.Time.After(e.end) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if l.logCount == 0 || info.Time.Before(l.firstLog) {
			l.firstLog = info.Time
		}
		if info.Time.After(l.lastLog) {
			l.lastLog = info.Time
		}
		l.logCount++
		if l.isReferenced(e.seed, o.Key) || newestEnd.IsZero() || info.Time.Before(from) || !info.Time.Before(limit) {
			return
		}
		l.unreferenced = append(l.unreferenced, logObject{key: o.Key, t: info.Time})
	})
	sort.Slice(l.unreferenced, func(i, j int) bool { return l.unreferenced[i].key < l.unreferenced[j].key })
	return err
}

// listDays lists prefix+day for each day, several at once, calling fn
// (serialised by the caller) for each object.
func (e *engine) listDays(ctx context.Context, prefix string, ds []string, fn func(store.Object)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
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
	r.refs = make([]logRef, len(d.LogFiles))
	for i, lf := range d.LogFiles {
		ref := logRef{key: lf.S3Object, bucket: lf.S3Bucket}
		if lf.S3Bucket == d.DigestS3Bucket {
			ref.bucket = d.DigestS3Bucket
		}
		hex.Decode(ref.sum[:], []byte(lf.HashValue)) // digest.Parse checked it is 64 hex digits
		if lf.HashAlgorithm != digest.HashAlgorithm && r.badHashAlgo == "" {
			r.badHashAlgo = fmt.Sprintf("logFiles[%d] has unsupported hashAlgorithm %q", i, lf.HashAlgorithm)
		}
		r.refs[i] = ref
	}
	d.LogFiles = nil
	r.logs = make([]logResult, len(r.refs))
	r.pending.Store(int32(len(r.refs)))
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
	if r.d == nil || len(r.refs) == 0 {
		return
	}
	if e.opts.Progress != nil {
		e.opts.Progress.Add(len(r.refs))
	}
	for i := range r.refs {
		select {
		case e.logJobs <- logJob{rec: r, i: i}:
		case <-ctx.Done():
			for j := i; j < len(r.refs); j++ {
				r.logs[j] = logResult{kind: report.ObjectUnreadable, detail: "not checked: run interrupted"}
			}
			if r.pending.Add(-int32(len(r.refs)-i)) == 0 {
				r.compact(e.opts.KeepValid)
			}
			return
		}
	}
}

func (e *engine) logWorker(ctx context.Context) {
	for job := range e.logJobs {
		r := job.rec
		r.logs[job.i] = e.hashLog(ctx, r.refs[job.i])
		if r.pending.Add(-1) == 0 {
			r.compact(e.opts.KeepValid)
		}
		if e.opts.Progress != nil {
			e.opts.Progress.Done(1)
		}
	}
}

func (e *engine) hashLog(ctx context.Context, lf logRef) logResult {
	if err := ctx.Err(); err != nil {
		return logResult{kind: report.ObjectUnreadable, detail: "not checked: run interrupted"}
	}
	rc, _, err := e.st.Open(ctx, lf.key)
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
	if res.SHA256 != lf.sum {
		return logResult{kind: report.LogHashMismatch, detail: fmt.Sprintf("SHA-256 of the decompressed file is %x, the digest says %x", res.SHA256[:], lf.sum[:])}
	}
	return logResult{}
}
