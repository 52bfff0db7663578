package auditreport

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// A chain's timeline over the requested period is a partition into
// segments of one state each, plus marks at the times of findings that are
// about a single digest or log file.

// state is what is known about a moment of a chain's timeline. Higher
// states are painted over lower ones.
type state int

const (
	stNone      state = iota // before the chain's first or after its last verified digest
	stBad                    // inside the chain's span but not verified: a failure
	stGap                    // a gap or truncation explained by trail-control events
	stUnexplGap              // a gap or truncation with no explanation
	stVerified               // covered by verified digests
	stBadTrunc               // a truncation with severity error (painted over all)
	nStates
)

// class is the CSS class of a state, shared by bars and legend.
var stateClass = [nStates]string{"s-none", "s-bad", "s-gap", "s-gapu", "s-ok", "s-bad"}

var stateName = [nStates]string{
	"no digests of this chain (before its first or after its last verified digest)",
	"not verified",
	"gap explained by trail-control events",
	"UNEXPLAINED gap",
	"verified",
	"truncated: digests missing",
}

// barChar is a state's character in the Markdown text bar.
var barChar = [nStates]byte{'.', 'X', '-', '?', '#', 'X'}

type span struct {
	start, end time.Time
	st         state
	title      string // what the span is, for tooltips
}

type mark struct {
	at    time.Time
	sev   report.Severity
	title string
}

type chainTimeline struct {
	chain *report.Chain
	segs  []span // disjoint, sorted, covering the requested period
	marks []mark // sorted by time
}

// chainTimelines builds every chain's timeline over [start, end).
func chainTimelines(rep *report.Report, start, end time.Time) []chainTimeline {
	byChain := map[string][]*report.Finding{}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		byChain[f.Chain] = append(byChain[f.Chain], f)
	}
	var out []chainTimeline
	for i := range rep.Chains {
		c := &rep.Chains[i]
		layers := make([][]span, nStates)
		layers[stNone] = []span{{start, end, stNone, stateName[stNone]}}
		if c.ValidFrom != nil && c.ValidTo != nil {
			layers[stBad] = []span{{*c.ValidFrom, *c.ValidTo, stBad, stateName[stBad]}}
		}
		for _, iv := range c.Verified {
			layers[stVerified] = append(layers[stVerified], span{iv.Start, iv.End, stVerified, "verified"})
		}
		gapFound := map[time.Time]bool{}
		var marks []mark
		for _, f := range byChain[c.ID] {
			if isSpanKind(f.Kind) && f.Time != nil && f.Until != nil {
				st := stGap
				if unexplained(f) {
					st = stUnexplGap
				}
				if f.Kind == report.ChainTruncated && f.Severity == report.Error {
					st = stBadTrunc
				}
				what := "gap"
				if f.Kind == report.ChainTruncated {
					what = "truncated"
				}
				if st == stUnexplGap || (st == stBadTrunc && unexplained(f)) {
					what = "UNEXPLAINED " + what
				} else if len(f.Events) > 0 {
					what += ", explained: " + eventNames(f.Events)
				}
				layers[st] = append(layers[st], span{*f.Time, *f.Until, st, what})
				gapFound[f.Time.UTC()] = true
				continue
			}
			if f.Time != nil && f.Severity != report.Info {
				marks = append(marks, mark{*f.Time, f.Severity, string(f.Kind) + " at " + fmtTime(*f.Time)})
			}
		}
		for _, g := range c.Gaps { // gaps with no finding (a report from elsewhere)
			if !gapFound[g.Start.UTC()] {
				layers[stUnexplGap] = append(layers[stUnexplGap], span{g.Start, g.End, stUnexplGap, "gap (no finding)"})
			}
		}
		slices.SortStableFunc(marks, func(a, b mark) int { return a.at.Compare(b.at) })
		out = append(out, chainTimeline{chain: c, segs: paint(layers, start, end), marks: marks})
	}
	return out
}

func eventNames(es []report.Event) string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name
	}
	return strings.Join(names, ", ")
}

// paint flattens layers (each a list of spans, higher index on top) into
// disjoint segments covering [start, end), merging neighbours that look
// the same.
func paint(layers [][]span, start, end time.Time) []span {
	cuts := []time.Time{start, end}
	for l := range layers {
		layers[l] = clipMerge(layers[l], start, end)
		for _, s := range layers[l] {
			cuts = append(cuts, s.start, s.end)
		}
	}
	slices.SortFunc(cuts, time.Time.Compare)
	cuts = slices.CompactFunc(cuts, time.Time.Equal)
	var out []span
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		var top *span
		for l := len(layers) - 1; l >= 0 && top == nil; l-- {
			top = covering(layers[l], a, b)
		}
		if top == nil {
			continue // cannot happen: layer 0 covers everything
		}
		if n := len(out); n > 0 && out[n-1].st == top.st && out[n-1].title == top.title && out[n-1].end.Equal(a) {
			out[n-1].end = b
			continue
		}
		out = append(out, span{a, b, top.st, top.title})
	}
	return out
}

// clipMerge clips spans to [start, end), drops empty ones, sorts them and
// merges overlapping ones (keeping the first one's title), so that
// covering can binary-search.
func clipMerge(spans []span, start, end time.Time) []span {
	var out []span
	for _, s := range spans {
		s.start, s.end = maxTime(s.start, start), minTime(s.end, end)
		if s.end.After(s.start) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b span) int { return a.start.Compare(b.start) })
	merged := out[:0]
	for _, s := range out {
		if n := len(merged); n > 0 && s.start.Before(merged[n-1].end) {
			merged[n-1].end = maxTime(merged[n-1].end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

// covering returns the span of sorted, disjoint spans that covers [a, b),
// or nil. Cut points include every span boundary, so a span covers an
// elementary interval entirely or not at all.
func covering(spans []span, a, b time.Time) *span {
	i, _ := slices.BinarySearchFunc(spans, a, func(s span, t time.Time) int {
		if s.end.After(t) {
			return 1 // s ends after a: at or past the one we want
		}
		return -1
	})
	if i < len(spans) && !spans[i].start.After(a) && !spans[i].end.Before(b) {
		return &spans[i]
	}
	return nil
}

// HTML geometry: bars are drawn in a viewBox barWidth wide and stretched
// to the page width.
const (
	barWidth  = 1000
	barHeight = 20
	markWidth = 3.0 // a mark's width in viewBox units, so one hour shows
)

type timeline struct {
	Start string
	End   string
	Ticks []tick
	Rows  []timelineRow
	// Legend lists the states present in at least one row first, then the
	// others, so the legend always explains every colour.
	Legend []legendItem
	// Scale is the Markdown bar's "one character =" text; Ruler and Bars
	// the Markdown bars.
	Scale    string
	MDRuler  string
	MDBars   []string
	MDLegend []string
}

type tick struct {
	X     string // in viewBox units
	Pct   string // percent of the width, for HTML labels
	Label string
	Major bool // a UTC midnight
}

type timelineRow struct {
	Anchor   string
	Name     string
	Sub      string
	Backfill bool
	Aria     string
	Segs     []svgSeg
	Marks    []svgSeg
}

type svgSeg struct {
	X, W  string
	Class string
	Title string
}

type legendItem struct {
	Class string
	Mark  bool
	Text  string
}

// newTimeline lays out the timelines over the requested period (or, for a
// report without one, the covered range).
func newTimeline(rep *report.Report) timeline {
	start, end := rep.Requested.Start, rep.Requested.End
	if !end.After(start) {
		if r := coveredRange(rep); r != nil {
			start, end = r.Start, r.End
		}
	}
	tl := timeline{Start: fmtTime(start), End: fmtTime(end)}
	if !end.After(start) || len(rep.Chains) == 0 {
		return tl
	}
	total := end.Sub(start)
	x := func(t time.Time) float64 { return float64(t.Sub(start)) / float64(total) * barWidth }
	f := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	for _, tk := range ticks(start, end) {
		tl.Ticks = append(tl.Ticks, tick{X: f(x(tk.at)), Pct: fmt.Sprintf("%.3f", x(tk.at)/barWidth*100), Label: tk.label, Major: tk.major})
	}
	used := map[string]bool{}
	chains := chainTimelines(rep, start, end)
	for _, ct := range chains {
		c := ct.chain
		row := timelineRow{Anchor: anchorID("tl-", c.ID), Name: c.Account + " · " + c.Region, Sub: c.Trail, Backfill: c.Backfill}
		if c.OrgID != "" {
			row.Sub = c.OrgID + " · " + row.Sub
		}
		var aria []string
		for _, s := range ct.segs {
			row.Segs = append(row.Segs, svgSeg{
				X: f(x(s.start)), W: f(x(s.end) - x(s.start)), Class: stateClass[s.st],
				Title: fmt.Sprintf("%s: %s to %s", s.title, fmtTime(s.start), fmtTime(s.end)),
			})
			used[stateClass[s.st]] = true
			aria = append(aria, fmt.Sprintf("%s %s to %s", s.title, fmtTime(s.start), fmtTime(s.end)))
		}
		row.Marks = svgMarks(ct.marks, x, f)
		for _, m := range row.Marks {
			used[m.Class] = true
		}
		row.Aria = c.Name() + ": " + strings.Join(aria, "; ")
		tl.Rows = append(tl.Rows, row)
	}
	legend := []legendItem{
		{Class: "s-ok", Text: "verified"},
		{Class: "s-gap", Text: "gap explained by trail-control events (e.g. StopLogging)"},
		{Class: "s-gapu", Text: "unexplained gap"},
		{Class: "s-bad", Text: "not verified: missing, changed or unreadable files, truncation"},
		{Class: "s-none", Text: "no digests of this chain (outside its first and last verified digest)"},
		{Class: "m-err", Mark: true, Text: "error finding (digest or log file)"},
		{Class: "m-warn", Mark: true, Text: "warning finding"},
	}
	for _, it := range legend {
		if used[it.Class] {
			tl.Legend = append(tl.Legend, it)
		}
	}
	for _, it := range legend {
		if !used[it.Class] {
			tl.Legend = append(tl.Legend, it)
		}
	}
	tl.Scale, tl.MDRuler, tl.MDBars = textBars(chains, start, end)
	tl.MDLegend = []string{
		"`#` verified",
		"`-` gap explained by trail-control events",
		"`?` gap with no explanation",
		"`X` not verified or an error finding",
		"`!` warning finding",
		"`.` no digests of this chain",
	}
	return tl
}

// svgMarks turns finding marks into thin bars, one per position and
// severity: thousands of findings in one hour draw one mark whose tooltip
// counts them.
func svgMarks(marks []mark, x func(time.Time) float64, f func(float64) string) []svgSeg {
	type key struct {
		pos int
		sev report.Severity
	}
	var order []key
	groups := map[key][]mark{}
	for _, m := range marks {
		pos := int(x(m.at)/markWidth + 0.5)
		k := key{pos, m.sev}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], m)
	}
	slices.SortStableFunc(order, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.pos, b.pos), cmp.Compare(sevRank(a.sev), sevRank(b.sev)))
	})
	var out []svgSeg
	for _, k := range order {
		ms := groups[k]
		var titles []string
		for i, m := range ms {
			if i == 3 {
				titles = append(titles, fmt.Sprintf("and %d more", len(ms)-3))
				break
			}
			titles = append(titles, m.title)
		}
		title := strings.Join(titles, "; ")
		if len(ms) > 1 {
			title = fmt.Sprintf("%d %s findings: %s", len(ms), ms[0].sev, title)
		}
		class := "m-warn"
		if k.sev == report.Error {
			class = "m-err"
		}
		mx := min(max(x(ms[0].at)-markWidth/2, 0), barWidth-markWidth)
		out = append(out, svgSeg{X: f(mx), W: f(markWidth), Class: class, Title: title})
	}
	return out
}

// sevRank orders warnings before errors so that error marks are drawn on
// top.
func sevRank(s report.Severity) int {
	if s == report.Error {
		return 1
	}
	return 0
}

type tickAt struct {
	at    time.Time
	label string
	major bool
}

// ticks picks axis ticks at round UTC times: the smallest step from the
// list that gives at most 8 ticks.
func ticks(start, end time.Time) []tickAt {
	start, end = start.UTC(), end.UTC()
	const maxTicks = 8
	total := end.Sub(start)
	for _, h := range []int{1, 2, 3, 6, 12, 24, 48, 72, 168, 336} {
		step := time.Duration(h) * time.Hour
		if total/step > maxTicks {
			continue
		}
		var out []tickAt
		// Truncate works from the zero time, which is a midnight, so
		// steps that divide a day fall on round hours and day steps on
		// midnights.
		for t := start.Truncate(step); !t.After(end); t = t.Add(step) {
			if t.Before(start) {
				continue
			}
			major := t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0
			label := t.Format("15:04")
			if major {
				label = t.Format("2006-01-02")
			}
			out = append(out, tickAt{t, label, major})
		}
		return out
	}
	// Months, then years.
	for _, months := range []int{1, 2, 3, 6, 12, 24, 60, 120} {
		first := time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC)
		var out []tickAt
		for t := first; !t.After(end); t = t.AddDate(0, months, 0) {
			if !t.Before(start) {
				out = append(out, tickAt{t, t.Format("2006-01"), true})
			}
		}
		if len(out) <= maxTicks {
			return out
		}
	}
	return nil
}

// textBars draws each chain as a line of characters, each one a bucket of
// whole hours, with a ruler of dates above. A bucket shows the most
// serious thing in it.
func textBars(chains []chainTimeline, start, end time.Time) (scale, ruler string, bars []string) {
	const maxChars = 72
	total := end.Sub(start)
	bucket := time.Hour
	for _, h := range []int{1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 168, 336, 720, 1440, 2160, 4320, 8760} {
		bucket = time.Duration(h) * time.Hour
		if (total+bucket-1)/bucket <= maxChars {
			break
		}
	}
	n := int((total + bucket - 1) / bucket)
	if n == 0 {
		n = 1
	}
	scale = "one character = " + fmtDuration(bucket)
	// Ruler: a date label where a UTC midnight falls, if there is room.
	line := []byte(strings.Repeat(" ", n+12))
	next := 0
	for i := 0; i < n; i++ {
		b0 := start.Add(time.Duration(i) * bucket)
		b1 := b0.Add(bucket)
		mid := b0.UTC().Truncate(24 * time.Hour)
		if mid.Before(b0) {
			mid = mid.Add(24 * time.Hour)
		}
		if i == 0 || (mid.Before(b1) && i >= next) {
			label := "|" + mid.Format("2006-01-02")
			if i == 0 {
				label = "|" + b0.UTC().Format("2006-01-02T15:04Z")
			}
			if i < next {
				continue
			}
			copy(line[i:], label)
			next = i + len(label) + 1
		}
	}
	ruler = strings.TrimRight(string(line), " ")

	width := 0
	for _, ct := range chains {
		width = max(width, len(barLabel(ct.chain)))
	}
	ruler = strings.Repeat(" ", width+2) + ruler
	rank := map[byte]int{'.': 0, '#': 1, '-': 2, '!': 3, '?': 4, 'X': 5}
	for _, ct := range chains {
		bar := make([]byte, n)
		si, mi := 0, 0
		for i := range n {
			b0 := start.Add(time.Duration(i) * bucket)
			b1 := minTime(b0.Add(bucket), end)
			best := byte('.')
			put := func(c byte) {
				if rank[c] > rank[best] {
					best = c
				}
			}
			for si < len(ct.segs) && !ct.segs[si].end.After(b0) {
				si++
			}
			for j := si; j < len(ct.segs) && ct.segs[j].start.Before(b1); j++ {
				put(barChar[ct.segs[j].st])
			}
			for mi < len(ct.marks) && ct.marks[mi].at.Before(b0) {
				mi++
			}
			for j := mi; j < len(ct.marks) && (ct.marks[j].at.Before(b1) || (i == n-1 && !ct.marks[j].at.After(end))); j++ {
				if ct.marks[j].sev == report.Error {
					put('X')
				} else {
					put('!')
				}
			}
			bar[i] = best
		}
		label := barLabel(ct.chain)
		bars = append(bars, label+strings.Repeat(" ", width-len(label)+2)+string(bar))
	}
	return scale, ruler, bars
}

func barLabel(c *report.Chain) string {
	s := c.Account + " " + c.Region
	if c.Backfill {
		s += " backfill"
	}
	return s
}
