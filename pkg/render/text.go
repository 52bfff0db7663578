package render

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fatih/color"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// TextOptions tune the human output.
type TextOptions struct {
	// Color adds ANSI colors. The caller decides (terminal, NO_COLOR, a
	// flag); nothing here looks at the environment.
	Color bool
	// Verbose lists every verified object (from Report.Objects, which the
	// validator fills only when asked to keep valid objects).
	Verbose bool
}

// palette paints text when color is on and returns it unchanged when off.
type palette struct{ on bool }

func (p palette) paint(s string, attrs ...color.Attribute) string {
	if !p.on || s == "" {
		return s
	}
	c := color.New(attrs...)
	c.EnableColor() // the caller decided; ignore fatih/color's own guess
	return c.Sprint(s)
}

func (p palette) bold(s string) string   { return p.paint(s, color.Bold) }
func (p palette) red(s string) string    { return p.paint(s, color.FgRed, color.Bold) }
func (p palette) green(s string) string  { return p.paint(s, color.FgGreen, color.Bold) }
func (p palette) yellow(s string) string { return p.paint(s, color.FgYellow) }
func (p palette) faint(s string) string  { return p.paint(s, color.Faint) }

func (p palette) severity(sev report.Severity, s string) string {
	switch sev {
	case report.Error:
		return p.red(s)
	case report.Warning:
		return p.yellow(s)
	}
	return p.faint(s)
}

// ratio prints v/t, red when something was not verified.
func (p palette) ratio(c report.Counts) string {
	s := fmt.Sprintf("%d/%d", c.Valid, c.Total)
	if c.Valid < c.Total {
		return p.red(s)
	}
	return s
}

// Text writes the report for people: where and what was checked, one line
// per chain, the findings grouped by severity and kind, and a verdict line.
func Text(w io.Writer, r *report.Report, opts TextOptions) error {
	bw := bufio.NewWriter(w)
	t := &textWriter{w: bw, p: palette{on: opts.Color}}
	t.header(r)
	t.chains(r)
	if opts.Verbose {
		t.objects(r)
	}
	t.findings(r)
	t.verdict(r)
	return bw.Flush()
}

type textWriter struct {
	w *bufio.Writer
	p palette
}

func (t *textWriter) line(format string, a ...any) {
	fmt.Fprintf(t.w, format, a...)
	t.w.WriteByte('\n')
}

func (t *textWriter) header(r *report.Report) {
	t.line("%s  %s", t.p.bold("Source   "), r.Source)
	if r.Bucket != "" {
		t.line("%s  %s", t.p.bold("Bucket   "), r.Bucket)
	}
	t.line("%s  %s to %s", t.p.bold("Requested"), fmtTime(r.Requested.Start), fmtTime(r.Requested.End))
	t.line("")
}

// chains writes a table, one row per chain. Widths are measured on the
// plain text and colors applied after padding, so columns line up with
// color on.
func (t *textWriter) chains(r *report.Report) {
	if len(r.Chains) == 0 {
		t.line("No digest chains found.")
		t.line("")
		return
	}
	type cell struct{ plain, shown string }
	head := []string{"CHAIN", "DIGESTS", "LOGS", "VERIFIED", "GAPS"}
	rows := [][]cell{}
	for _, c := range r.Chains {
		verified := verifiedSpan(c.Verified, r.Requested)
		gaps := fmt.Sprint(len(c.Gaps))
		gapsShown := gaps
		if len(c.Gaps) > 0 {
			gapsShown = t.p.yellow(gaps)
		}
		rows = append(rows, []cell{
			{c.Name(), c.Name()},
			{fmt.Sprintf("%d/%d", c.Digests.Valid, c.Digests.Total), t.p.ratio(c.Digests)},
			{fmt.Sprintf("%d/%d", c.Logs.Valid, c.Logs.Total), t.p.ratio(c.Logs)},
			{verified, verified},
			{gaps, gapsShown},
		})
	}
	width := make([]int, len(head))
	for i, h := range head {
		width[i] = len(h)
	}
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c.plain))
		}
	}
	var b strings.Builder
	for i, h := range head {
		b.WriteString(t.p.bold(h))
		if i < len(head)-1 {
			b.WriteString(strings.Repeat(" ", width[i]-len(h)+2))
		}
	}
	t.line("%s", b.String())
	for _, row := range rows {
		b.Reset()
		for i, c := range row {
			b.WriteString(c.shown)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c.plain)+2))
			}
		}
		t.line("%s", b.String())
	}
	t.line("")
}

// verifiedSpan says which part of the requested range verified digests
// cover: from the first verified start to the last verified end, and in how
// many parts when something in between was not verified.
func verifiedSpan(ivs []report.Interval, req report.Interval) string {
	var from, to time.Time
	parts := 0
	for _, iv := range ivs { // sorted and merged by the validator
		s, e := iv.Start, iv.End
		if s.Before(req.Start) {
			s = req.Start
		}
		if e.After(req.End) {
			e = req.End
		}
		if !e.After(s) {
			continue
		}
		if parts == 0 || s.Before(from) {
			from = s
		}
		if parts == 0 || e.After(to) {
			to = e
		}
		parts++
	}
	switch parts {
	case 0:
		return "-"
	case 1:
		return fmtTime(from) + " to " + fmtTime(to)
	}
	return fmt.Sprintf("%s to %s in %d parts", fmtTime(from), fmtTime(to), parts)
}

func (t *textWriter) objects(r *report.Report) {
	chains := chainIndex(r)
	current, n := "", 0
	for _, o := range r.Objects {
		if !o.Valid {
			continue
		}
		if n == 0 {
			t.line("%s", t.p.bold("Verified objects"))
		}
		n++
		if n == 1 || o.Chain != current {
			current = o.Chain
			name := o.Chain
			if c := chains[o.Chain]; c != nil {
				name = c.Name()
			}
			t.line("  %s", name)
		}
		kind := "log   "
		if o.Digest {
			kind = "digest"
		}
		t.line("    %s  %s", t.p.green(kind), o.Object)
	}
	if n > 0 {
		t.line("")
	}
}

var severities = []struct {
	sev   report.Severity
	title string
}{
	{report.Error, "Errors"},
	{report.Warning, "Warnings"},
	{report.Info, "Notes"},
}

// findings writes the findings grouped by severity, then by kind in the
// documented order, each group in the report's order (chain, then the
// AWS CLI's walk order).
func (t *textWriter) findings(r *report.Report) {
	rank := map[report.Kind]int{}
	for i, k := range report.Kinds {
		rank[k] = i
	}
	for _, s := range severities {
		byKind := map[report.Kind][]report.Finding{}
		var kinds []report.Kind
		for _, f := range r.Findings {
			if f.Severity != s.sev {
				continue
			}
			if byKind[f.Kind] == nil {
				kinds = append(kinds, f.Kind)
			}
			byKind[f.Kind] = append(byKind[f.Kind], f)
		}
		if len(kinds) == 0 {
			continue
		}
		sort.Slice(kinds, func(i, j int) bool {
			ri, iok := rank[kinds[i]]
			rj, jok := rank[kinds[j]]
			if iok != jok {
				return iok // known kinds first
			}
			if ri != rj {
				return ri < rj
			}
			return kinds[i] < kinds[j]
		})
		n := 0
		for _, k := range kinds {
			n += len(byKind[k])
		}
		t.line("%s", t.p.severity(s.sev, fmt.Sprintf("%s (%d)", s.title, n)))
		for _, k := range kinds {
			fs := byKind[k]
			t.line("  %s (%d)", t.p.severity(s.sev, string(k)), len(fs))
			for _, f := range fs {
				if f.Object != "" {
					t.line("    %s", f.Object)
					t.line("      %s", f.Detail)
				} else {
					t.line("    %s", f.Detail)
				}
			}
		}
		t.line("")
	}
}

func (t *textWriter) verdict(r *report.Report) {
	var d, l report.Counts
	for _, c := range r.Chains {
		d.Add(c.Digests)
		l.Add(c.Logs)
	}
	counts := map[report.Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	files := fmt.Sprintf("%d/%d digest files and %d/%d log files verified in %s",
		d.Valid, d.Total, l.Valid, l.Total, plural(len(r.Chains), "chain"))
	if !invalid(r) {
		line := t.p.green("VALID") + ": " + files
		if n := counts[report.Warning]; n > 0 {
			line += "; " + t.p.yellow(plural(n, "warning"))
		}
		t.line("%s", line)
		return
	}
	var kinds []string
	byKind := map[report.Kind]int{}
	for _, f := range r.Findings {
		if f.Severity != report.Error {
			continue
		}
		if byKind[f.Kind] == 0 {
			kinds = append(kinds, string(f.Kind))
		}
		byKind[f.Kind]++
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", byKind[report.Kind(k)], k)
	}
	line := t.p.red("INVALID") + ": " + plural(counts[report.Error], "error")
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	if n := counts[report.Warning]; n > 0 {
		line += ", " + t.p.yellow(plural(n, "warning"))
	}
	t.line("%s; %s", line, files)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
