// Package trailgen generates CloudTrail trails for tests: log files and
// hourly digest chains exactly as CloudTrail writes them, signed with
// embedded test-only RSA keys (testkeys/) whose public halves it exposes as
// keys.Key values with their regions.
//
// Generation is deterministic: the same Config gives byte-identical objects
// and metadata. Every random choice comes from ChaCha8 streams seeded from
// Config.Seed (one stream per chain, so a chain's objects do not depend on
// the other chains).
//
// What the generated trails guarantee (tests rely on it):
//
//   - digests are compact JSON in CloudTrail's field order with escaped
//     slashes, gzip-compressed (one member, zero mtime); signatures are hex
//     RSASSA-PKCS1-v1_5 SHA-256 over digest.SigningString, in the metadata
//     "signature" and "signature-algorithm" (lower-case, as store.Meta);
//   - a digest's key time and date folders are its digestEndTime; within a
//     segment end times advance by exactly one hour at a fixed minute and
//     second; a chain's first digest, and the first after each stop, has all
//     five previousDigest* fields null; every other digest names its
//     predecessor with the SHA-256 of its decompressed bytes and its
//     signature, and starts at its predecessor's end;
//   - a log file's key time T (minute precision) satisfies start <= T <=
//     end-5min of the digest listing it, and its events lie between the
//     digest's start and T; empty hours have "logFiles":[] and null event
//     times;
//   - the log file just before a stop holds a StopLogging event, the first
//     after the restart a StartLogging event (see Config.StopEventsAllChains
//     for which chains);
//   - backfill digests (Config.Backfill) repeat the periods of hourly digests,
//     list only late log files no hourly digest lists, form their own chain
//     and carry backfill-generation-timestamp.
package trailgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// Sink receives each generated object: its key, stored (gzip) bytes, which
// it may keep, and user metadata (nil for log files).
type Sink func(key string, data []byte, meta store.Meta) error

// Trail is a generated trail.
type Trail struct {
	// Config is the configuration with defaults filled in.
	Config Config
	// Store holds every object with its metadata (Generate); nil for a
	// trail streamed by GenerateTo or GenerateDir.
	Store *store.Mem
	// Keys are the public keys, each with its region and validity window,
	// of every key window that overlaps the trail (by region, then time).
	Keys []*keys.Key
	// Chains lists the digest chains: for each account (config order), each
	// region (config order), the hourly chain; backfill chains follow all of
	// them.
	Chains []*Chain
	// Start is the earliest digestStartTime, End the latest digestEndTime
	// of the hourly digests.
	Start, End time.Time
	// LogFiles is the number of log files; Objects and Bytes count every
	// object and its stored size.
	LogFiles, Objects int
	Bytes             int64

	keys *keySchedule
}

// Sign signs msg as CloudTrail would for a digest of region at time at,
// with the test key the trail uses then. Tests use it to forge digests that
// only a key holder could write (a chain whose links are wrong but whose
// signatures verify), to prove that the links themselves are checked.
func (t *Trail) Sign(region string, at time.Time, msg []byte) (string, error) {
	sg, err := t.keys.at(region, at)
	if err != nil {
		return "", err
	}
	return sg.sign(msg)
}

// Chain is one digest chain.
type Chain struct {
	ID      digest.ChainID
	Digests []*DigestInfo // oldest first
}

// DigestInfo describes one generated digest.
type DigestInfo struct {
	Key        string
	Start, End time.Time
	// ChainStart is true when the previousDigest* fields are null.
	ChainStart  bool
	Fingerprint string
	Meta        store.Meta // signature, signature-algorithm[, backfill-generation-timestamp]
	// SHA256 is the hex SHA-256 of the decompressed digest.
	SHA256 string
	// Logs are the keys of the log files the digest lists, in its order.
	Logs []string
	// StopLogging and StartLogging are the keys of the listed log files
	// holding those events, if any.
	StopLogging, StartLogging string
	// Generated is the backfill generation time (backfill digests only).
	Generated time.Time
}

// Generate generates cfg's trail into memory.
func Generate(cfg Config) (*Trail, error) {
	var mem *store.Mem
	t, err := generate(cfg, func(c Config) Sink {
		mem = store.NewMem(c.Bucket)
		return func(key string, data []byte, meta store.Meta) error {
			mem.Put(key, data, meta)
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	t.Store = mem
	return t, nil
}

// GenerateTo generates cfg's trail object by object into sink, keeping only
// the trail's description in memory (one log file and one digest at a
// time), however large the trail.
func GenerateTo(cfg Config, sink Sink) (*Trail, error) {
	return generate(cfg, func(Config) Sink { return sink })
}

// timeFormat is digest.TimeLayout; a shorthand.
func timeFormat(t time.Time) string { return t.UTC().Format(digest.TimeLayout) }

// newRand returns a ChaCha8 stream named by parts, derived from seed.
func newRand(seed uint64, parts ...string) *rand.Rand {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write([]byte("trailgen/v1"))
	h.Write(b[:])
	for _, p := range parts {
		binary.BigEndian.PutUint64(b[:], uint64(len(p)))
		h.Write(b[:])
		h.Write([]byte(p))
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return rand.New(rand.NewChaCha8(s))
}

// period is one digest to generate.
type period struct {
	start, end time.Time
	chainStart bool
	startEvent bool // StartLogging in the first log
	stopEvent  bool // StopLogging in the last log
}

// logWindow returns the range of log key times (whole minutes) a digest of
// [start, end] may list, and whether it is non-empty.
func logWindow(start, end time.Time) (lo, hi time.Time, ok bool) {
	lo = start.Truncate(time.Minute)
	if lo.Before(start) {
		lo = lo.Add(time.Minute)
	}
	hi = end.Add(-5 * time.Minute).Truncate(time.Minute)
	return lo, hi, !hi.Before(lo)
}

func hasRoom(p period) bool { _, _, ok := logWindow(p.start, p.end); return ok }

// planChain returns the digests of chain i.
func planChain(cfg Config, i int, events bool) []period {
	start := cfg.Start.Add(time.Duration(i) * cfg.ChainStagger)
	end := start.Add(time.Duration(cfg.Hours) * time.Hour)
	var out []period
	segment := func(a, b time.Time, restarted, stopped bool) {
		first := len(out)
		s := a
		for !s.Add(time.Hour).After(b) {
			out = append(out, period{start: s, end: s.Add(time.Hour)})
			s = s.Add(time.Hour)
		}
		if stopped && s.Before(b) {
			out = append(out, period{start: s, end: b})
		}
		seg := out[first:]
		if len(seg) == 0 {
			return
		}
		seg[0].chainStart = true
		if !events {
			return
		}
		if restarted {
			for j := range seg {
				if hasRoom(seg[j]) {
					seg[j].startEvent = true
					break
				}
			}
		}
		if stopped {
			for j := len(seg) - 1; j >= 0; j-- {
				if hasRoom(seg[j]) {
					seg[j].stopEvent = true
					break
				}
			}
		}
	}
	a, restarted := start, false
	for _, st := range cfg.Stops {
		if !st.From.After(a) {
			if st.To.After(a) {
				a, restarted = st.To, true
			}
			continue
		}
		if !st.From.Before(end) {
			break
		}
		segment(a, st.From, restarted, true)
		a, restarted = st.To, true
	}
	if a.Before(end) {
		segment(a, end, restarted, false)
	}
	return out
}

// chainPlan is one chain to generate.
type chainPlan struct {
	id      digest.ChainID
	periods []period
	// backfill: generation time (zero for hourly chains).
	generated time.Time
	// rng stream name
	stream string
}

type generator struct {
	cfg      Config
	sink     Sink
	keys     *keySchedule
	trailARN string
	gz       gzipper
	trail    *Trail
	raw      []byte // scratch for digest bodies
}

func generate(cfg Config, mkSink func(Config) Sink) (*Trail, error) {
	cfg, err := normalize(cfg)
	if err != nil {
		return nil, fmt.Errorf("trailgen: %w", err)
	}
	owner := cfg.HomeRegion
	if !slices.Contains(cfg.Regions, owner) {
		owner = cfg.Regions[0]
	}
	var plans []*chainPlan
	for _, acct := range cfg.Accounts {
		for _, region := range cfg.Regions {
			events := cfg.StopEventsAllChains || (acct == cfg.Accounts[0] && region == owner)
			plans = append(plans, &chainPlan{
				id: digest.ChainID{
					Location:   digest.Location{Prefix: cfg.Prefix, OrgID: cfg.OrgID, Account: acct, Region: region},
					Trail:      cfg.TrailName,
					HomeRegion: cfg.HomeRegion,
				},
				periods: planChain(cfg, len(plans), events),
				stream:  "chain",
			})
		}
	}
	t := &Trail{Config: cfg}
	signFrom, signTo := time.Time{}, time.Time{}
	for _, p := range plans {
		if len(p.periods) == 0 {
			continue
		}
		first, last := p.periods[0], p.periods[len(p.periods)-1]
		if t.Start.IsZero() || first.start.Before(t.Start) {
			t.Start = first.start
		}
		if last.end.After(t.End) {
			t.End = last.end
		}
		if signFrom.IsZero() || first.end.Before(signFrom) {
			signFrom = first.end
		}
	}
	if t.Start.IsZero() {
		return nil, fmt.Errorf("trailgen: the configuration gives no digests")
	}
	signTo = t.End
	backfills, err := planBackfill(cfg, plans)
	if err != nil {
		return nil, err
	}
	for _, b := range backfills {
		if b.generated.After(signTo) {
			signTo = b.generated
		}
	}
	// Keys as ListPublicKeys would return them for the trail's range, with
	// the AWS CLI's margin of two hours after the end.
	ks, err := newKeySchedule(cfg, signFrom, signTo.Add(2*time.Hour))
	if err != nil {
		return nil, err
	}
	t.Keys = ks.public()
	t.keys = ks
	g := &generator{
		cfg:      cfg,
		sink:     mkSink(cfg),
		keys:     ks,
		trailARN: "arn:aws:cloudtrail:" + cfg.HomeRegion + ":" + cfg.Accounts[0] + ":trail/" + cfg.TrailName,
		trail:    t,
	}
	for _, p := range append(plans, backfills...) {
		c, err := g.chain(p)
		if err != nil {
			return nil, err
		}
		t.Chains = append(t.Chains, c)
	}
	return t, nil
}

// planBackfill picks the chains and periods to backfill.
func planBackfill(cfg Config, plans []*chainPlan) ([]*chainPlan, error) {
	b := cfg.Backfill
	if b.Chains == 0 {
		return nil, nil
	}
	pick := newRand(cfg.Seed, "backfill-select").Perm(len(plans))[:b.Chains]
	slices.Sort(pick)
	var out []*chainPlan
	for _, ci := range pick {
		p := plans[ci]
		// Runs of b.Digests consecutive full-hour digests with room for logs.
		var starts []int
		for j := 0; j+b.Digests <= len(p.periods); j++ {
			ok := true
			for k := j; k < j+b.Digests && ok; k++ {
				q := p.periods[k]
				ok = q.end.Sub(q.start) == time.Hour && hasRoom(q) && (k == j || !q.chainStart)
			}
			if ok {
				starts = append(starts, j)
			}
		}
		if len(starts) == 0 {
			return nil, fmt.Errorf("trailgen: backfill: chain %s has no %d consecutive full-hour digests", p.id, b.Digests)
		}
		r := newRand(cfg.Seed, "backfill-period", p.id.Account, p.id.Region)
		j := starts[r.IntN(len(starts))]
		var periods []period
		for _, q := range p.periods[j : j+b.Digests] {
			periods = append(periods, period{start: q.start, end: q.end})
		}
		periods[0].chainStart = true
		id := p.id
		id.Backfill = true
		out = append(out, &chainPlan{id: id, periods: periods, generated: periods[len(periods)-1].end.Add(b.Delay), stream: "backfill"})
	}
	return out, nil
}

// prevDigest is what a digest says of its predecessor.
type prevDigest struct {
	key, sha, sig string
}

// chain generates one chain's log files and digests.
func (g *generator) chain(p *chainPlan) (*Chain, error) {
	r := newRand(g.cfg.Seed, p.stream, p.id.Account, p.id.Region)
	eg := newEventGen(r, p.id.Account, p.id.Region)
	c := &Chain{ID: p.id}
	var prev *prevDigest
	backfill := !p.generated.IsZero()
	for _, per := range p.periods {
		if per.chainStart {
			prev = nil
		}
		n := g.cfg.LogsPerHourMin + r.IntN(g.cfg.LogsPerHourMax-g.cfg.LogsPerHourMin+1)
		if backfill {
			n = g.cfg.Backfill.LogsPerDigest
		}
		info := &DigestInfo{Start: per.start, End: per.end, ChainStart: prev == nil}
		entries, err := g.logs(eg, p.id, per, n, info)
		if err != nil {
			return nil, err
		}
		signAt := per.end
		if backfill {
			signAt = p.generated
			info.Generated = p.generated
		}
		sg, err := g.keys.at(p.id.Region, signAt)
		if err != nil {
			return nil, err
		}
		if prev, err = g.digest(p.id, per, entries, prev, sg, info); err != nil {
			return nil, err
		}
		c.Digests = append(c.Digests, info)
	}
	return c, nil
}

// logs generates n log files (more if the period needs StartLogging and
// StopLogging events) for a digest of period per, sends them to the sink
// and returns their digest entries in the digest's (shuffled) order.
func (g *generator) logs(eg *eventGen, id digest.ChainID, per period, n int, info *DigestInfo) ([]logEntry, error) {
	lo, hi, ok := logWindow(per.start, per.end)
	if !ok {
		return []logEntry{}, nil
	}
	need := 0
	if per.startEvent {
		need++
	}
	if per.stopEvent {
		need++
	}
	n = max(n, need)
	r := eg.r
	minutes := int(hi.Sub(lo)/time.Minute) + 1
	times := make([]time.Time, n)
	for i := range times {
		times[i] = lo.Add(time.Duration(r.IntN(minutes)) * time.Minute)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	if per.startEvent {
		times[0] = lo
	}
	if per.stopEvent {
		times[n-1] = hi
	}
	entries := make([]logEntry, 0, n)
	for i, T := range times {
		startEv := per.startEvent && i == 0
		stopEv := per.stopEvent && i == n-1
		key, e, err := g.logFile(eg, id, per, T, startEv, stopEv)
		if err != nil {
			return nil, err
		}
		if startEv {
			info.StartLogging = key
		}
		if stopEv {
			info.StopLogging = key
		}
		entries = append(entries, e)
	}
	r.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	for _, e := range entries {
		info.Logs = append(info.Logs, e.Object)
	}
	return entries, nil
}

// logFile writes one log file with key time T.
func (g *generator) logFile(eg *eventGen, id digest.ChainID, per period, T time.Time, startEv, stopEv bool) (string, logEntry, error) {
	r := eg.r
	// Events happen in the five minutes before delivery, inside the digest.
	lo := T.Add(-5 * time.Minute)
	if lo.Before(per.start) {
		lo = per.start
	}
	hi := T
	randTime := func(a, b time.Time) time.Time {
		return a.Add(time.Duration(r.IntN(int(b.Sub(a)/time.Second)+1)) * time.Second)
	}
	var startAt, stopAt time.Time
	if startEv {
		startAt = randTime(lo, lo.Add(min(40*time.Second, hi.Sub(lo))))
		lo = startAt
	}
	if stopEv {
		stopAt = randTime(hi.Add(-min(20*time.Second, hi.Sub(lo))), hi)
		hi = stopAt
	}
	eg.buf.Reset()
	eg.buf.WriteString(`{"Records":[`)
	var oldest, newest time.Time
	track := func(t time.Time) {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
		if t.After(newest) {
			newest = t
		}
	}
	sep := func() {
		if eg.buf.Len() > len(`{"Records":[`) {
			eg.buf.WriteByte(',')
		}
	}
	if startEv {
		eg.trailEvent("StartLogging", g.trailARN, startAt)
		track(startAt)
	}
	count := g.cfg.EventsPerLogMin + r.IntN(g.cfg.EventsPerLogMax-g.cfg.EventsPerLogMin+1)
	for i := 0; i < count || (g.cfg.LogSize > 0 && eg.buf.Len() < g.cfg.LogSize); i++ {
		sep()
		t := randTime(lo, hi)
		eg.random(t)
		track(t)
	}
	if stopEv {
		sep()
		eg.trailEvent("StopLogging", g.trailARN, stopAt)
		track(stopAt)
	}
	eg.buf.WriteString("]}")
	raw := eg.buf.Bytes()
	sum := sha256.Sum256(raw)
	key := id.LogRegionPrefix() + digest.DayFolder(T) + id.Account + "_CloudTrail_" + id.Region + "_" +
		T.Format(digest.LogKeyTimeLayout) + "_" + eg.alnum(16) + ".json.gz"
	data := g.gz.compress(raw)
	if err := g.emit(key, data, nil); err != nil {
		return "", logEntry{}, err
	}
	g.trail.LogFiles++
	nw, od := timeFormat(newest), timeFormat(oldest)
	return key, logEntry{Bucket: g.cfg.Bucket, Object: key, Hash: hex.EncodeToString(sum[:]), HashAlgorithm: digest.HashAlgorithm, Newest: &nw, Oldest: &od}, nil
}

func (g *generator) emit(key string, data []byte, meta store.Meta) error {
	g.trail.Objects++
	g.trail.Bytes += int64(len(data))
	if err := g.sink(key, data, meta); err != nil {
		return fmt.Errorf("trailgen: %s: %w", key, err)
	}
	return nil
}

// digest writes, signs and emits one digest; it returns what its successor
// needs.
func (g *generator) digest(id digest.ChainID, per period, entries []logEntry, prev *prevDigest, sg *signer, info *DigestInfo) (*prevDigest, error) {
	key := id.DigestKey(per.end)
	d := &digestBody{
		AccountID:          id.Account,
		Start:              timeFormat(per.start),
		End:                timeFormat(per.end),
		Bucket:             g.cfg.Bucket,
		Object:             key,
		Fingerprint:        sg.pub.Fingerprint,
		SignatureAlgorithm: digest.SignatureAlgorithm,
		LogFiles:           entries,
	}
	for i := range entries {
		e := &entries[i]
		if d.Newest == nil || *e.Newest > *d.Newest {
			d.Newest = e.Newest
		}
		if d.Oldest == nil || *e.Oldest < *d.Oldest {
			d.Oldest = e.Oldest
		}
	}
	if prev != nil {
		algo := digest.HashAlgorithm
		d.PrevBucket, d.PrevObject, d.PrevHash, d.PrevHashAlgorithm, d.PrevSignature = &g.cfg.Bucket, &prev.key, &prev.sha, &algo, &prev.sig
	}
	buf := bytes.NewBuffer(g.raw[:0])
	appendDigest(buf, d)
	raw := buf.Bytes()
	g.raw = raw
	sum := sha256.Sum256(raw)
	sha := hex.EncodeToString(sum[:])
	sig, err := sg.sign(digest.SigningString(d.End, d.Bucket, d.Object, sha, d.PrevSignature))
	if err != nil {
		return nil, fmt.Errorf("trailgen: signing %s: %w", key, err)
	}
	meta := store.Meta{"signature": sig, "signature-algorithm": digest.SignatureAlgorithm}
	if id.Backfill {
		meta["backfill-generation-timestamp"] = timeFormat(info.Generated)
	}
	info.Key, info.Fingerprint, info.SHA256 = key, sg.pub.Fingerprint, sha
	info.Meta = copyMeta(meta)
	if err := g.emit(key, g.gz.compress(raw), meta); err != nil {
		return nil, err
	}
	return &prevDigest{key: key, sha: sha, sig: sig}, nil
}

func copyMeta(m store.Meta) store.Meta {
	out := make(store.Meta, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
