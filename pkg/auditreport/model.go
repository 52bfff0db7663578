package auditreport

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// timeLayout is how every time is printed: UTC, to the second, as
// CloudTrail and the AWS CLI print them.
const timeLayout = "2006-01-02T15:04:05Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "not recorded"
	}
	return t.UTC().Format(timeLayout)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return fmtTime(*t)
}

// fmtDuration prints a length of time for people: "1d 23h 33m 8s".
func fmtDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Second)
	if d == 0 {
		return "under 1s"
	}
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.d
		}
	}
	return strings.Join(parts, " ")
}

// fmtRunDuration prints the run's duration, to the millisecond under a
// minute.
func fmtRunDuration(d time.Duration) string {
	if d <= 0 {
		return "not recorded"
	}
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return fmtDuration(d)
}

// plural returns "1 chain" or "2 chains".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// kindMeanings are the README's one-line meanings of the finding kinds.
var kindMeanings = map[report.Kind]string{
	report.DigestMissing:          "a digest the chain names, or an hourly digest its cadence requires, is not in the bucket",
	report.DigestInvalidFormat:    "not a gzip JSON digest, a required field missing or malformed, or an unsupported hash algorithm",
	report.DigestSignatureInvalid: "the signature does not verify (the digest was changed), or the algorithm is not SHA256withRSA",
	report.DigestUnanchored:       "no signature is known for the digest, and no newer digest links to it",
	report.DigestMoved:            "the digest names another bucket or key than where it was found",
	report.DigestKeyNotFound:      "no public key of the digest's region has its fingerprint, or the key's validity window does not cover it",
	report.DigestChainMismatch:    "a link is wrong: previous hash or signature does not match, the chain forks, or a digest does not start where the previous one ends",
	report.ChainTruncated:         "the newest digests are missing: hourly digests were due up to the end of the range",
	report.ChainGap:               "the chain restarts (null previous digest) after a period with no digests",
	report.NoDigests:              "log files but no digest in a region, or nothing at all in the range",
	report.LogMissing:             "a log file a digest lists is not in the bucket",
	report.LogHashMismatch:        "a log file's decompressed SHA-256 differs from the digest's",
	report.LogInvalidFormat:       "a log file is not one valid gzip member (corrupt, truncated, bad CRC)",
	report.LogTrailingData:        "data after the end of a log file's gzip stream",
	report.LogUnreferenced:        "a log file in the bucket that no digest of the trail lists",
	report.ObjectUnreadable:       "an object could not be read (after retries); it is not verified",
	report.KeyRegionUnchecked:     "keys came from a file that does not name their region",
}

// view is everything both renderers print, computed once from the report
// so that HTML and Markdown say the same thing.
type view struct {
	Title    string
	Valid    bool
	Verdict  string // VALID or INVALID
	Errors   int
	Warnings int
	Infos    int
	Headline string
	Facts    []string

	Checked  checked
	Timeline timeline
	Chains   []chainRow
	Gaps     []gapView
	// GapSummary is one sentence about the gaps and truncations.
	GapSummary string
	Keys       []keyRow
	KeyRegions []keyRegion
	Kinds      []kindGroup
	NFindings  int
	Run        runView
}

type checked struct {
	Trails       []trailRow
	Bucket       string
	Source       string
	Accounts     []string
	Regions      []string
	Requested    string
	RequestedLen string
	Covered      string
	Chains       int
}

type trailRow struct {
	Name string
	ARN  string // empty when not known
	// ARNFromEvents says the ARN was not in the chain (an organization
	// trail's files do not say which account owns it) but named by the
	// trail-control events found around a gap.
	ARNFromEvents bool
	HomeRegion    string
	OrgID         string
	Prefix        string
	Chains        int
}

type chainRow struct {
	Anchor    string
	Name      string
	Org       string
	Account   string
	Region    string
	Trail     string
	Backfill  bool
	Digests   string
	DigestsOK bool
	Logs      string
	LogsOK    bool
	// LogsUnverified is the number of log files listed by digests that
	// could not be authenticated, and so were not examined.
	LogsUnverified int
	Gaps           int
	From           string
	To             string
	Coverage       string
	Errors         int
	Warnings       int
	Infos          int
}

type gapView struct {
	Anchor      string
	N           int
	Kind        string
	Severity    string
	Chain       string
	From        string
	Until       string
	Length      string
	Object      string
	Detail      string
	Unexplained bool
	Events      []eventRow
}

type eventRow struct {
	Name      string
	Time      string
	Actor     string
	SourceIP  string
	UserAgent string
	Region    string
	Account   string
	Trail     string
	LogFile   string
}

type keyRow struct {
	Fingerprint string
	Region      string
	From        string
	To          string
	Encoding    string
	Covers      string
	CoversAll   bool
	UsedBy      int
	UsedByNames string
}

type keyRegion struct {
	Region string
	OK     bool
	Text   string
}

type kindGroup struct {
	Kind     string
	Anchor   string
	Meaning  string
	Count    int
	Errors   int
	Warnings int
	Infos    int
	Findings []findingRow
}

type findingRow struct {
	N           int
	Severity    string
	Chain       string
	Time        string
	Until       string // empty unless the finding covers a period
	Object      string
	Detail      string
	Unexplained bool
}

// breakable splits s after each "/", ":" and "_" so that HTML can offer
// line breaks there (<wbr/> between the parts, each escaped by
// html/template) rather than only at arbitrary characters.
func breakable(s string) []string {
	var parts []string
	start := 0
	sep := func(c byte) bool { return c == '/' || c == ':' || c == '_' }
	for i := 0; i+1 < len(s); i++ {
		if sep(s[i]) && !sep(s[i+1]) && i+1-start >= 4 {
			parts = append(parts, s[start:i+1])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

type runView struct {
	Version      string
	Command      string
	Started      string
	Duration     string
	RenderedFrom string
	Schema       int
}

// anchorID turns s into an HTML id: letters, digits, "-" and "_".
func anchorID(prefix, s string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

func isSpanKind(k report.Kind) bool { return k == report.ChainGap || k == report.ChainTruncated }

// unexplained reports whether a gap or truncation finding has no
// trail-control event to account for it.
func unexplained(f *report.Finding) bool { return f.Unexplained || len(f.Events) == 0 }

func newView(rep *report.Report, run RunInfo) *view {
	v := &view{NFindings: len(rep.Findings)}
	chains := make(map[string]*report.Chain, len(rep.Chains))
	for i := range rep.Chains {
		chains[rep.Chains[i].ID] = &rep.Chains[i]
	}
	chainLabel := func(id string) string {
		if c, ok := chains[id]; ok {
			return c.Name()
		}
		if id == "" {
			return "—"
		}
		return id
	}

	for _, f := range rep.Findings {
		switch f.Severity {
		case report.Error:
			v.Errors++
		case report.Warning:
			v.Warnings++
		default:
			v.Infos++
		}
	}
	v.Valid = rep.Verdict != report.Invalid && v.Errors == 0
	v.Verdict = "INVALID"
	if v.Valid {
		v.Verdict = "VALID"
	}
	v.Title = "CloudTrail log file integrity report"
	if rep.Bucket != "" {
		v.Title += " — " + rep.Bucket
	}

	var digests, logs report.Counts
	logsUnverified := 0
	for _, c := range rep.Chains {
		digests.Add(c.Digests)
		logs.Add(c.Logs)
		logsUnverified += c.LogsUnverified
	}
	switch {
	case len(rep.Chains) == 0:
		v.Headline = "No CloudTrail digest chain was found in the requested period: nothing could be verified."
	case v.Valid:
		v.Headline = fmt.Sprintf("All %s and %s in the requested period were verified.",
			plural(digests.Total, "digest file", "digest files"), plural(logs.Total, "log file", "log files"))
	default:
		v.Headline = fmt.Sprintf("%d of %s and %d of %s could not be verified.",
			digests.Total-digests.Valid, plural(digests.Total, "digest file", "digest files"),
			logs.Total-logs.Valid, plural(logs.Total, "log file", "log files"))
	}
	v.Facts = append(v.Facts,
		fmt.Sprintf("%s verified, %s verified, in %s.",
			fmt.Sprintf("%d of %s", digests.Valid, plural(digests.Total, "digest file", "digest files")),
			fmt.Sprintf("%d of %s", logs.Valid, plural(logs.Total, "log file", "log files")),
			plural(len(rep.Chains), "chain", "chains")))
	if logsUnverified > 0 {
		v.Facts = append(v.Facts, fmt.Sprintf("%s listed by digests that could not be authenticated were not examined: their list cannot be trusted.",
			plural(logsUnverified, "more log file", "more log files")))
	}

	// What was checked.
	ck := &v.Checked
	ck.Bucket = rep.Bucket
	ck.Source = rep.Source
	ck.Chains = len(rep.Chains)
	ck.Requested = fmtTime(rep.Requested.Start) + " to " + fmtTime(rep.Requested.End)
	ck.RequestedLen = fmtDuration(rep.Requested.End.Sub(rep.Requested.Start))
	ck.Covered = "nothing was verified"
	if r := coveredRange(rep); r != nil {
		ck.Covered = fmtTime(r.Start) + " to " + fmtTime(r.End)
	}
	trails := map[trailRow]int{}
	accounts, regions := map[string]bool{}, map[string]bool{}
	for _, c := range rep.Chains {
		accounts[c.Account] = true
		regions[c.Region] = true
		if c.Trail == "" {
			continue
		}
		trails[trailRow{Name: c.Trail, ARN: c.TrailARN, HomeRegion: c.HomeRegion, OrgID: c.OrgID, Prefix: c.Prefix}]++
	}
	for t, n := range trails {
		t.Chains = n
		ck.Trails = append(ck.Trails, t)
	}
	slices.SortFunc(ck.Trails, func(a, b trailRow) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ARN, b.ARN), cmp.Compare(a.HomeRegion, b.HomeRegion),
			cmp.Compare(a.OrgID, b.OrgID), cmp.Compare(a.Prefix, b.Prefix))
	})
	for i := range ck.Trails {
		if tr := &ck.Trails[i]; tr.ARN == "" {
			tr.ARN = arnFromEvents(rep, tr.Name, tr.HomeRegion)
			tr.ARNFromEvents = tr.ARN != ""
		}
	}
	ck.Accounts = sortedKeys(accounts)
	ck.Regions = sortedKeys(regions)

	// Per-chain counts of findings.
	type sevCount struct{ e, w, i int }
	perChain := map[string]*sevCount{}
	for _, f := range rep.Findings {
		sc := perChain[f.Chain]
		if sc == nil {
			sc = &sevCount{}
			perChain[f.Chain] = sc
		}
		switch f.Severity {
		case report.Error:
			sc.e++
		case report.Warning:
			sc.w++
		default:
			sc.i++
		}
	}
	for i := range rep.Chains {
		c := &rep.Chains[i]
		row := chainRow{
			Anchor: anchorID("chain-", c.ID), Name: c.Name(), Org: c.OrgID, Account: c.Account, Region: c.Region,
			Trail: c.Trail, Backfill: c.Backfill,
			Digests: fmt.Sprintf("%d/%d", c.Digests.Valid, c.Digests.Total), DigestsOK: c.Digests.Valid == c.Digests.Total,
			Logs: fmt.Sprintf("%d/%d", c.Logs.Valid, c.Logs.Total), LogsOK: c.Logs.Valid == c.Logs.Total && c.LogsUnverified == 0,
			LogsUnverified: c.LogsUnverified,
			Gaps:           len(c.Gaps), From: fmtTimePtr(c.ValidFrom), To: fmtTimePtr(c.ValidTo),
			Coverage: coverage(c.Verified, rep.Requested),
		}
		if sc := perChain[c.ID]; sc != nil {
			row.Errors, row.Warnings, row.Infos = sc.e, sc.w, sc.i
		}
		v.Chains = append(v.Chains, row)
	}

	v.Timeline = newTimeline(rep)

	// Gaps and truncations.
	nGaps, nUnexplained := 0, 0
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if !isSpanKind(f.Kind) {
			continue
		}
		nGaps++
		g := gapView{
			Anchor: fmt.Sprintf("gap-%d", nGaps), N: nGaps, Kind: string(f.Kind), Severity: string(f.Severity),
			Chain: chainLabel(f.Chain), From: fmtTimePtr(f.Time), Until: fmtTimePtr(f.Until),
			Object: f.Object, Detail: f.Detail, Unexplained: unexplained(f),
		}
		if f.Time != nil && f.Until != nil {
			g.Length = fmtDuration(f.Until.Sub(*f.Time))
		}
		if g.Unexplained {
			nUnexplained++
		}
		for _, e := range f.Events {
			g.Events = append(g.Events, eventRow{
				Name: e.Name, Time: fmtTime(e.Time), Actor: e.Actor, SourceIP: e.SourceIP, UserAgent: e.UserAgent,
				Region: e.Region, Account: e.Account, Trail: e.Trail, LogFile: e.LogFile,
			})
		}
		v.Gaps = append(v.Gaps, g)
	}
	switch {
	case nGaps == 0:
		v.GapSummary = "No gap or truncation in any chain."
	case nUnexplained == 0:
		v.GapSummary = fmt.Sprintf("%s, each explained by trail-control events found in verified log files.",
			plural(nGaps, "gap or truncation", "gaps or truncations"))
	default:
		v.GapSummary = fmt.Sprintf("%s, of which %d UNEXPLAINED: no trail-control event was found in the verified log files around it.",
			plural(nGaps, "gap or truncation", "gaps or truncations"), nUnexplained)
	}
	v.Facts = append(v.Facts, v.GapSummary)

	v.Keys, v.KeyRegions = keyRows(rep, (*report.Chain).Name)
	v.Kinds = kindGroups(rep, chainLabel)
	v.Facts = append(v.Facts, fmt.Sprintf("%s: %s, %s, %d info.",
		plural(len(rep.Findings), "finding", "findings"), plural(v.Errors, "error", "errors"),
		plural(v.Warnings, "warning", "warnings"), v.Infos))

	v.Run = runView{
		Version: cmp.Or(run.ToolVersion, "not recorded"), Command: run.Command,
		Started: fmtTime(run.Started), Duration: fmtRunDuration(run.Duration),
		RenderedFrom: run.Source, Schema: rep.SchemaVersion,
	}
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// coveredRange is Summary.Range, or for a report that was not finalized,
// the same computed from the chains.
func coveredRange(rep *report.Report) *report.Interval {
	if rep.Summary.Range != nil {
		return rep.Summary.Range
	}
	var r *report.Interval
	for _, c := range rep.Chains {
		for _, iv := range c.Verified {
			if r == nil {
				v := iv
				r = &v
				continue
			}
			if iv.Start.Before(r.Start) {
				r.Start = iv.Start
			}
			if iv.End.After(r.End) {
				r.End = iv.End
			}
		}
	}
	return r
}

// coverage is the share of the requested period that verified intervals
// cover, to one decimal, rounded down so that 99.96% does not show as 100%.
func coverage(ivs []report.Interval, req report.Interval) string {
	total := req.End.Sub(req.Start)
	if total <= 0 {
		return "—"
	}
	var covered time.Duration
	for _, iv := range mergeIntervals(ivs) {
		s, e := maxTime(iv.Start, req.Start), minTime(iv.End, req.End)
		if e.After(s) {
			covered += e.Sub(s)
		}
	}
	permille := int64(covered) * 1000 / int64(total)
	return fmt.Sprintf("%d.%d%%", permille/10, permille%10)
}

func mergeIntervals(ivs []report.Interval) []report.Interval {
	s := slices.Clone(ivs)
	slices.SortFunc(s, func(a, b report.Interval) int { return a.Start.Compare(b.Start) })
	var out []report.Interval
	for _, iv := range s {
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// keyRows lists the public keys used with whether each one's validity
// window covers the requested period, and per region whether the keys
// together cover it.
func keyRows(rep *report.Report, name func(*report.Chain) string) ([]keyRow, []keyRegion) {
	byFP := map[string]report.KeyInfo{}
	for _, k := range rep.Summary.Keys {
		byFP[k.Fingerprint] = k
	}
	for _, k := range rep.Keys {
		byFP[k.Fingerprint] = k
	}
	keys := make([]report.KeyInfo, 0, len(byFP))
	for _, k := range byFP {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b report.KeyInfo) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), a.ValidFrom.Compare(b.ValidFrom), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	req := rep.Requested
	var rows []keyRow
	byRegion := map[string][]report.Interval{}
	var regions []string
	for _, k := range keys {
		row := keyRow{
			Fingerprint: k.Fingerprint, Region: cmp.Or(k.Region, "not stated"),
			From: fmtTime(k.ValidFrom), To: fmtTime(k.ValidTo), Encoding: cmp.Or(k.Encoding, "—"),
		}
		s, e := maxTime(k.ValidFrom, req.Start), minTime(k.ValidTo, req.End)
		switch {
		case !k.ValidFrom.After(req.Start) && !k.ValidTo.Before(req.End):
			row.Covers, row.CoversAll = "yes, the whole requested period", true
		case e.After(s):
			row.Covers = "part: " + fmtTime(s) + " to " + fmtTime(e)
		default:
			row.Covers = "no: outside the requested period"
		}
		var users []string
		for i := range rep.Chains {
			if slices.Contains(rep.Chains[i].Keys, k.Fingerprint) {
				users = append(users, name(&rep.Chains[i]))
			}
		}
		row.UsedBy, row.UsedByNames = len(users), strings.Join(users, "; ")
		rows = append(rows, row)
		if _, ok := byRegion[row.Region]; !ok {
			regions = append(regions, row.Region)
		}
		byRegion[row.Region] = append(byRegion[row.Region], report.Interval{Start: k.ValidFrom, End: k.ValidTo})
	}
	var out []keyRegion
	for _, r := range regions {
		var holes []string
		at := req.Start
		for _, iv := range mergeIntervals(byRegion[r]) {
			if iv.Start.After(at) && at.Before(req.End) {
				holes = append(holes, fmtTime(at)+" to "+fmtTime(minTime(iv.Start, req.End)))
			}
			at = maxTime(at, iv.End)
		}
		if at.Before(req.End) {
			holes = append(holes, fmtTime(at)+" to "+fmtTime(req.End))
		}
		kr := keyRegion{Region: r, OK: len(holes) == 0}
		if kr.OK {
			kr.Text = "the validity windows of the keys used cover the whole requested period"
		} else {
			kr.Text = "no key used is valid for " + strings.Join(holes, ", ")
		}
		out = append(out, kr)
	}
	return rows, out
}

// kindGroups groups the findings by kind: kinds with errors first, then
// warnings, then the rest, each in the README's order; findings keep the
// report's order within a kind.
func kindGroups(rep *report.Report, chainLabel func(string) string) []kindGroup {
	idx := map[report.Kind]*kindGroup{}
	var groups []*kindGroup
	for i := range rep.Findings {
		f := &rep.Findings[i]
		g := idx[f.Kind]
		if g == nil {
			g = &kindGroup{Kind: string(f.Kind), Anchor: anchorID("kind-", string(f.Kind)), Meaning: kindMeanings[f.Kind]}
			idx[f.Kind] = g
			groups = append(groups, g)
		}
		g.Count++
		switch f.Severity {
		case report.Error:
			g.Errors++
		case report.Warning:
			g.Warnings++
		default:
			g.Infos++
		}
		until := ""
		if f.Until != nil {
			until = fmtTime(*f.Until)
		}
		g.Findings = append(g.Findings, findingRow{
			N: g.Count, Severity: string(f.Severity), Chain: chainLabel(f.Chain), Time: fmtTimePtr(f.Time), Until: until,
			Object: f.Object, Detail: f.Detail, Unexplained: isSpanKind(f.Kind) && unexplained(f),
		})
	}
	rank := func(g *kindGroup) int {
		switch {
		case g.Errors > 0:
			return 0
		case g.Warnings > 0:
			return 1
		}
		return 2
	}
	order := func(k string) int {
		if i := slices.Index(report.Kinds, report.Kind(k)); i >= 0 {
			return i
		}
		return len(report.Kinds)
	}
	slices.SortFunc(groups, func(a, b *kindGroup) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(order(a.Kind), order(b.Kind)), cmp.Compare(a.Kind, b.Kind))
	})
	out := make([]kindGroup, len(groups))
	for i, g := range groups {
		out[i] = *g
	}
	return out
}

// arnFromEvents returns the trail ARN that the first trail-control event
// naming trail name in homeRegion gives, or "".
func arnFromEvents(rep *report.Report, name, homeRegion string) string {
	for _, f := range rep.Findings {
		for _, e := range f.Events {
			parts := strings.SplitN(e.Trail, ":", 6)
			if len(parts) == 6 && parts[0] == "arn" && parts[2] == "cloudtrail" && parts[3] == homeRegion && parts[5] == "trail/"+name {
				return e.Trail
			}
		}
	}
	return ""
}
