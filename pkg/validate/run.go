package validate

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// maxDiscoveryDepth is how many folder levels above AWSLogs/ are searched
// for when no prefix is given.
const maxDiscoveryDepth = 3

// Run validates every chain of st selected by opts.
func Run(ctx context.Context, st store.Store, opts Options) (*report.Report, error) {
	e, err := newEngine(st, opts)
	if err != nil {
		return nil, err
	}
	return e.run(ctx)
}

type engine struct {
	st      store.Store
	opts    Options
	now     time.Time
	start   time.Time
	end     time.Time
	workers int

	// digestSem bounds digest reads; log reads are bounded by the number of
	// log workers.
	digestSem chan struct{}
	logJobs   chan logJob

	accounts, regions, trails map[string]bool

	seed maphash.Seed // for location.referenced
}

func newEngine(st store.Store, opts Options) (*engine, error) {
	e := &engine{st: st, opts: opts, seed: maphash.MakeSeed()}
	if opts.Now != nil {
		e.now = opts.Now().UTC()
	} else {
		e.now = time.Now().UTC()
	}
	e.start = opts.Start.UTC()
	e.end = opts.End.UTC()
	if opts.End.IsZero() {
		e.end = e.now
	}
	if e.start.IsZero() {
		return nil, errors.New("validate: no start time")
	}
	if e.end.Before(e.start) {
		return nil, fmt.Errorf("validate: end time %s is before start time %s", fmtTime(e.end), fmtTime(e.start))
	}
	if opts.Keys == nil {
		return nil, errors.New("validate: no public key source")
	}
	e.workers = opts.Workers
	if e.workers <= 0 {
		if _, local := store.Base(st).(*store.Local); local {
			e.workers = runtime.GOMAXPROCS(0)
		} else {
			e.workers = DefaultWorkers
		}
	}
	if e.opts.DeliveryDelay <= 0 {
		e.opts.DeliveryDelay = 15 * time.Minute
	}
	e.accounts, e.regions, e.trails = set(opts.Accounts), set(opts.Regions), set(opts.Trails)
	return e, nil
}

func set(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

func fmtTime(t time.Time) string { return t.UTC().Format(digest.TimeLayout) }

// location is everything found for one (prefix, org, account, region).
type location struct {
	loc    digest.Location
	chains map[digest.ChainID]*chain
	// otherTrails is set when digests of trails excluded by the trail filter
	// share this location: their log files cannot be told apart.
	otherTrails bool
	// referenced holds the keys of the log files the location's digests
	// list, as 64-bit hashes under a seed chosen at random for each run (so
	// no one can make an injected key collide with a listed one; by chance,
	// with a million keys each way, one in twenty million runs would): the
	// set costs a few bytes per log file, not the key.
	mu         sync.Mutex
	referenced map[uint64]struct{}
	// logCount, firstLog and lastLog describe the log objects listed at the
	// location in the range; unreferenced are those no digest lists, sorted.
	logCount          int
	firstLog, lastLog time.Time
	unreferenced      []logObject
}

func (e *engine) run(ctx context.Context) (*report.Report, error) {
	locs, err := e.discover(ctx)
	if err != nil {
		return nil, err
	}

	e.digestSem = make(chan struct{}, e.workers)
	e.logJobs = make(chan logJob, 4*e.workers)
	var workers sync.WaitGroup
	for i := 0; i < e.workers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			e.logWorker(ctx)
		}()
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	found := make([]*location, len(locs))
	for i, loc := range locs {
		g.Go(func() error {
			l, err := e.scanLocation(gctx, loc)
			found[i] = l
			return err
		})
	}
	err = g.Wait()
	close(e.logJobs)
	workers.Wait()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	bucket := e.resolveBucket(found)
	rep := &report.Report{
		Source:    sourceName(e.st),
		Bucket:    bucket,
		Requested: report.Interval{Start: e.start, End: e.end},
		Findings:  []report.Finding{},
		Chains:    []report.Chain{},
	}
	keysUsed := map[string]report.KeyInfo{}
	for _, l := range found {
		if l == nil {
			continue
		}
		a := &assessor{e: e, bucket: bucket, rep: rep, keysUsed: keysUsed}
		a.location(l)
	}
	seen := map[string]bool{}
	for _, l := range found {
		if l != nil && (len(l.chains) > 0 || l.logCount > 0) {
			seen[l.loc.Account] = true
		}
	}
	for _, acct := range e.opts.ExpectAccounts {
		if seen[acct] || (e.accounts != nil && !e.accounts[acct]) {
			continue
		}
		rep.Findings = append(rep.Findings, report.Finding{
			Kind: report.NoDigests, Severity: report.Error,
			Object: store.URI(bucketOr(bucket), e.scope()),
			Detail: fmt.Sprintf("account %s of the organization has no CloudTrail digest or log file in the bucket for %s to %s", acct, fmtTime(e.start), fmtTime(e.end)),
		})
	}
	if len(rep.Chains) == 0 && !hasKind(rep.Findings, report.NoDigests) {
		rep.Findings = append(rep.Findings, report.Finding{
			Kind: report.NoDigests, Severity: report.Error,
			Object: store.URI(bucketOr(bucket), e.scope()),
			Detail: fmt.Sprintf("no CloudTrail digests or log files found for %s to %s%s", fmtTime(e.start), fmtTime(e.end), e.filterText()),
		})
	}
	if err := e.explain(ctx, rep, found); err != nil {
		return nil, err
	}
	for _, k := range keysUsed {
		rep.Keys = append(rep.Keys, k)
	}
	rep.Finalize()
	return rep, nil
}

func hasKind(fs []report.Finding, k report.Kind) bool {
	for _, f := range fs {
		if f.Kind == k {
			return true
		}
	}
	return false
}

func bucketOr(b string) string {
	if b == "" {
		return "unknown-bucket"
	}
	return b
}

func (e *engine) scope() string {
	if e.opts.PrefixSet && e.opts.Prefix != "" {
		return e.opts.Prefix + "/AWSLogs/"
	}
	return "AWSLogs/"
}

func (e *engine) filterText() string {
	var parts []string
	if len(e.opts.Accounts) > 0 {
		parts = append(parts, "account "+strings.Join(e.opts.Accounts, ","))
	}
	if len(e.opts.Regions) > 0 {
		parts = append(parts, "region "+strings.Join(e.opts.Regions, ","))
	}
	if len(e.opts.Trails) > 0 {
		parts = append(parts, "trail "+strings.Join(e.opts.Trails, ","))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func sourceName(st store.Store) string {
	if l, ok := store.Base(st).(*store.Local); ok {
		return "dir:" + l.Dir()
	}
	if b := st.Bucket(); b != "" {
		return "s3://" + b
	}
	return "store"
}

// resolveBucket picks the bucket name objects are reported under: the one
// given, the store's, or for a local copy the one the digests name (from
// the first digest in key order, so the choice is deterministic).
func (e *engine) resolveBucket(locs []*location) string {
	if e.opts.Bucket != "" {
		return e.opts.Bucket
	}
	if b := e.st.Bucket(); b != "" {
		return b
	}
	best := ""
	bucket := ""
	for _, l := range locs {
		if l == nil {
			continue
		}
		for _, c := range l.chains {
			for _, r := range c.digests {
				if r.d != nil && (best == "" || r.key < best) {
					best, bucket = r.key, r.d.DigestS3Bucket
				}
			}
		}
	}
	return bucket
}

// discover finds every location (account and region folder) to validate.
func (e *engine) discover(ctx context.Context) ([]digest.Location, error) {
	var roots []string // each ends in "AWSLogs/"
	if e.opts.PrefixSet {
		p := strings.Trim(e.opts.Prefix, "/")
		if p != "" {
			p += "/"
		}
		roots = []string{p + "AWSLogs/"}
	} else {
		var err error
		if roots, err = e.findRoots(ctx, "", 0); err != nil {
			return nil, err
		}
	}
	var locs []digest.Location
	seen := map[digest.Location]bool{}
	for _, root := range roots {
		prefix := strings.TrimSuffix(strings.TrimSuffix(root, "AWSLogs/"), "/")
		dirs, err := e.st.ListDirs(ctx, root)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", root, err)
		}
		type acct struct{ org, id, base string }
		var accts []acct
		for _, d := range dirs {
			name := strings.TrimSuffix(strings.TrimPrefix(d, root), "/")
			switch {
			case digest.IsOrgID(name):
				sub, err := e.st.ListDirs(ctx, d)
				if err != nil {
					return nil, fmt.Errorf("listing %s: %w", d, err)
				}
				for _, s := range sub {
					id := strings.TrimSuffix(strings.TrimPrefix(s, d), "/")
					if digest.IsAccountID(id) {
						accts = append(accts, acct{org: name, id: id, base: s})
					}
				}
			case digest.IsAccountID(name):
				accts = append(accts, acct{id: name, base: d})
			}
		}
		// Each account's region folders are listed concurrently: one after
		// another, an organization of N accounts costs 2N round trips.
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(16)
		for _, a := range accts {
			if e.accounts != nil && !e.accounts[a.id] {
				continue
			}
			for _, kind := range []string{"CloudTrail-Digest/", "CloudTrail/"} {
				g.Go(func() error {
					rs, err := e.st.ListDirs(gctx, a.base+kind)
					if err != nil {
						return fmt.Errorf("listing %s: %w", a.base+kind, err)
					}
					mu.Lock()
					defer mu.Unlock()
					for _, r := range rs {
						name := strings.TrimSuffix(strings.TrimPrefix(r, a.base+kind), "/")
						loc := digest.Location{Prefix: prefix, OrgID: a.org, Account: a.id, Region: name}
						if digest.IsRegion(name) && (e.regions == nil || e.regions[name]) && !seen[loc] {
							seen[loc] = true
							locs = append(locs, loc)
						}
					}
					return nil
				})
			}
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	sort.Slice(locs, func(i, j int) bool { return locs[i].String() < locs[j].String() })
	return locs, nil
}

// findRoots looks for AWSLogs/ folders up to maxDiscoveryDepth levels down.
func (e *engine) findRoots(ctx context.Context, prefix string, depth int) ([]string, error) {
	dirs, err := e.st.ListDirs(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", prefix, err)
	}
	var roots []string
	for _, d := range dirs {
		if d == prefix+"AWSLogs/" {
			roots = append(roots, d)
			continue
		}
		if depth+1 < maxDiscoveryDepth {
			sub, err := e.findRoots(ctx, d, depth+1)
			if err != nil {
				return nil, err
			}
			roots = append(roots, sub...)
		}
	}
	return roots, nil
}

// days returns the UTC day folders from a to b inclusive.
func days(a, b time.Time) []string {
	a = a.UTC().Truncate(24 * time.Hour)
	var out []string
	for d := a; !d.After(b.UTC()); d = d.Add(24 * time.Hour) {
		out = append(out, digest.DayFolder(d))
	}
	return out
}

// isStoreDenied tells errors that must stop the run.
func isStoreDenied(err error) bool { return errors.Is(err, store.ErrAccessDenied) }
