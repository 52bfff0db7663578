package auditreport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// Markdown writes rep as GitHub-flavoured Markdown with the same content as
// HTML. The coverage timeline is a fixed-width text bar per chain (one
// character per bucket of hours). Every value from the report is escaped:
// code spans use a backtick fence longer than any run of backticks in the
// value, free text has Markdown's punctuation backslash-escaped, and pipes
// are escaped in table cells.
func Markdown(w io.Writer, rep *report.Report, run RunInfo) error {
	if rep == nil {
		return errors.New("no report to render")
	}
	v := newView(rep, run)
	m := &mdWriter{w: bufio.NewWriterSize(w, 64<<10)}
	m.header(v)
	m.checked(v)
	m.timeline(v)
	m.chains(v)
	m.gaps(v)
	m.keys(v)
	m.findings(v)
	m.run(v)
	return m.w.Flush()
}

type mdWriter struct{ w *bufio.Writer }

func (m *mdWriter) p(format string, a ...any) {
	fmt.Fprintf(m.w, format, a...)
	m.w.WriteByte('\n')
}

// row writes one table row; cells must already be escaped.
func (m *mdWriter) row(cells ...string) {
	m.w.WriteString("|")
	for _, c := range cells {
		m.w.WriteString(" ")
		if c == "" {
			c = " "
		}
		m.w.WriteString(c)
		m.w.WriteString(" |")
	}
	m.w.WriteByte('\n')
}

// head writes a table header; a name starting with ">" is right-aligned.
func (m *mdWriter) head(names ...string) {
	cells := make([]string, len(names))
	aligns := make([]string, len(names))
	for i, n := range names {
		aligns[i] = "---"
		if strings.HasPrefix(n, ">") {
			n, aligns[i] = n[1:], "--:"
		}
		cells[i] = n
	}
	m.row(cells...)
	m.row(aligns...)
}

// mdText escapes free text: Markdown punctuation is backslash-escaped
// (which GFM allows before any ASCII punctuation) and line breaks become
// spaces. Pipes are escaped too, so the result is safe in a table cell.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode puts s in a code span whose fence is longer than any run of
// backticks in s.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ")) {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell is mdCode for a table cell: GFM splits cells on unescaped pipes
// before it parses code spans, so pipes are escaped even inside the span
// (and shown as plain pipes).
func mdCell(s string) string { return strings.ReplaceAll(mdCode(s), "|", `\|`) }

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

func (m *mdWriter) header(v *view) {
	m.p("# %s", mdText(v.Title))
	m.p("")
	m.p("Requested period %s (%s). All times are UTC.", mdText(v.Checked.Requested), mdText(v.Checked.RequestedLen))
	m.p("")
	icon := "✅"
	if !v.Valid {
		icon = "❌"
	}
	m.p("> ## %s %s", icon, v.Verdict)
	m.p(">")
	m.p("> **%s**", mdText(v.Headline))
	m.p(">")
	errs, warns := plural(v.Errors, "error", "errors"), plural(v.Warnings, "warning", "warnings")
	if v.Errors > 0 {
		errs = "**" + errs + "**"
	}
	if v.Warnings > 0 {
		warns = "**" + warns + "**"
	}
	m.p("> %s · %s · %d info", errs, warns, v.Infos)
	m.p(">")
	for _, f := range v.Facts {
		m.p("> - %s", mdText(f))
	}
	m.p("")
	m.p("Contents: [What was checked](#what-was-checked) · [Coverage timeline](#coverage-timeline) · [Chains](#chains) · " +
		"[Gaps and truncations](#gaps-and-truncations) · [Public keys used](#public-keys-used) · [Findings](#findings) · [Run](#run)")
	m.p("")
}

func (m *mdWriter) checked(v *view) {
	c := v.Checked
	m.p("## What was checked")
	m.p("")
	name := "Trail"
	if len(c.Trails) != 1 {
		name = "Trails"
	}
	if len(c.Trails) == 0 {
		m.p("- **%s:** none found", name)
	} else {
		m.p("- **%s:**", name)
	}
	for _, t := range c.Trails {
		s := mdCode(t.Name) + " — "
		if t.ARN != "" {
			s += mdCode(t.ARN)
			if t.ARNFromEvents {
				s += " (as named by the trail-control events in its logs)"
			}
		} else {
			s += "ARN not recorded in the files"
			if t.OrgID != "" {
				s += " (organization trail " + mdCode(t.OrgID) + ")"
			}
		}
		s += "; home region " + mdCode(t.HomeRegion)
		if t.Prefix != "" {
			s += "; key prefix " + mdCode(t.Prefix)
		}
		s += "; " + plural(t.Chains, "chain", "chains")
		m.p("  - %s", s)
	}
	m.p("- **Bucket:** %s", orNone(mdCode(c.Bucket), "not recorded"))
	m.p("- **Source:** %s", orNone(mdCode(c.Source), "not recorded"))
	if v.Run.RenderedFrom != "" {
		m.p("- **Rendered from:** %s", mdText(v.Run.RenderedFrom))
	}
	m.p("- **Accounts:** %s", orNone(codeList(c.Accounts), "none"))
	m.p("- **Regions:** %s", orNone(codeList(c.Regions), "none"))
	m.p("- **Period requested:** %s (%s)", mdText(c.Requested), mdText(c.RequestedLen))
	m.p("- **Period covered:** %s (earliest to latest verified digest over all chains; per chain below)", mdText(c.Covered))
	m.p("- **Digest chains:** %d", c.Chains)
	m.p("")
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func codeList(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = mdCode(s)
	}
	return strings.Join(out, ", ")
}

func (m *mdWriter) timeline(v *view) {
	t := v.Timeline
	m.p("## Coverage timeline")
	m.p("")
	if len(t.MDBars) == 0 {
		m.p("**No digest chain was found:** there is no coverage to show for %s to %s.", mdText(t.Start), mdText(t.End))
		m.p("")
		return
	}
	m.p("Each line is one digest chain over the requested period, %s to %s; %s.", mdText(t.Start), mdText(t.End), t.Scale)
	m.p("A character shows the most serious thing in its bucket.")
	m.p("")
	fence := "```"
	m.p("%stext", fence)
	m.p("%s", t.MDRuler)
	for _, b := range t.MDBars {
		m.p("%s", b)
	}
	m.p("%s", fence)
	m.p("")
	m.p("Legend: %s.", strings.Join(t.MDLegend, " · "))
	m.p("")
}

func (m *mdWriter) chains(v *view) {
	m.p("## Chains")
	m.p("")
	if len(v.Chains) == 0 {
		m.p("**No digest chain was found.**")
		m.p("")
		return
	}
	m.head("Account", "Region", "Trail", "Backfill", ">Digests verified/total", ">Logs verified/total", ">Gaps", "Verified from", "Verified to", ">Coverage", "Findings")
	for _, c := range v.Chains {
		acct := mdCell(c.Account)
		if c.Org != "" {
			acct += " (" + mdCell(c.Org) + ")"
		}
		backfill := "—"
		if c.Backfill {
			backfill = "yes"
		}
		digests, logs := c.Digests, c.Logs
		if !c.DigestsOK {
			digests = "**" + digests + "**"
		}
		if c.LogsUnverified > 0 {
			logs += fmt.Sprintf(" (+%d not examined)", c.LogsUnverified)
		}
		if !c.LogsOK {
			logs = "**" + logs + "**"
		}
		var fs []string
		if c.Errors > 0 {
			fs = append(fs, "**"+plural(c.Errors, "error", "errors")+"**")
		}
		if c.Warnings > 0 {
			fs = append(fs, plural(c.Warnings, "warning", "warnings"))
		}
		if c.Infos > 0 {
			fs = append(fs, fmt.Sprintf("%d info", c.Infos))
		}
		if len(fs) == 0 {
			fs = []string{"none"}
		}
		m.row(acct, mdCell(c.Region), mdCell(c.Trail), backfill, digests, logs, fmt.Sprint(c.Gaps),
			mdText(c.From), mdText(c.To), mdText(c.Coverage), strings.Join(fs, ", "))
	}
	m.p("")
	m.p("Coverage is the share of the requested period covered by verified digests. A backfill chain repeats periods of its hourly chain with late log files, so it covers only part of the period.")
	m.p("")
}

func (m *mdWriter) gaps(v *view) {
	m.p("## Gaps and truncations")
	m.p("")
	m.p("%s", mdText(v.GapSummary))
	m.p("")
	for _, g := range v.Gaps {
		flag := "**explained**"
		if g.Unexplained {
			flag = "⚠️ **UNEXPLAINED**"
		}
		m.p("### %d. %s (%s) — %s", g.N, mdCode(g.Kind), mdText(g.Severity), mdText(g.Chain))
		m.p("")
		length := ""
		if g.Length != "" {
			length = " (" + mdText(g.Length) + ")"
		}
		m.p("- %s: no digests from %s to %s%s", flag, mdText(g.From), mdText(g.Until), length)
		m.p("- Object: %s", mdCode(g.Object))
		m.p("- Detail: %s", mdText(g.Detail))
		m.p("")
		if g.Unexplained {
			m.p("> **UNEXPLAINED:** no trail-control event (StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors…) was found in the verified log files around this period. " +
				"Nothing on record says why no digests were delivered: the digests may have been deleted. Ask the account owner for an explanation.")
			m.p("")
		}
		if len(g.Events) > 0 {
			m.head("Event", "When", "Who", "From where", "User agent", "Account / region", "Trail", "Found in log file")
			for _, e := range g.Events {
				m.row("**"+mdText(e.Name)+"**", mdText(e.Time), mdCell(e.Actor), mdCell(e.SourceIP), mdCell(e.UserAgent),
					mdCell(e.Account)+" "+mdCell(e.Region), mdCell(e.Trail), mdCell(e.LogFile))
			}
			m.p("")
		}
	}
}

func (m *mdWriter) keys(v *view) {
	m.p("## Public keys used")
	m.p("")
	if len(v.Keys) == 0 {
		m.p("No public key was used: no digest was verified.")
		m.p("")
		return
	}
	m.head("Fingerprint", "Region", "Valid from", "Valid to", "Encoding", "Window covers the requested period", ">Chains")
	for _, k := range v.Keys {
		m.row(mdCell(k.Fingerprint), mdCell(k.Region), mdText(k.From), mdText(k.To), mdText(k.Encoding), mdText(k.Covers), fmt.Sprint(k.UsedBy))
	}
	m.p("")
	for _, r := range v.KeyRegions {
		text := mdText(r.Text)
		if !r.OK {
			text = "**" + text + "**"
		}
		m.p("- %s: %s", mdCode(r.Region), text)
	}
	m.p("")
	m.p("A digest verifies only with a key of its region whose validity window covers the digest's end time. When keys rotate during the period, each key covers part of it.")
	m.p("")
}

// foldAbove is the number of findings of one kind above which the kind's
// table is folded in a <details> element (GitHub renders it; the table is
// still all there).
const foldAbove = 50

func (m *mdWriter) findings(v *view) {
	m.p("## Findings")
	m.p("")
	if len(v.Kinds) == 0 {
		m.p("No findings.")
		m.p("")
		return
	}
	m.p("%s, by kind:", plural(v.NFindings, "finding", "findings"))
	m.p("")
	m.head("Kind", ">Findings", ">Errors", ">Warnings", ">Info", "Meaning")
	for _, k := range v.Kinds {
		m.row(mdCell(k.Kind), fmt.Sprint(k.Count), fmt.Sprint(k.Errors), fmt.Sprint(k.Warnings), fmt.Sprint(k.Infos), mdText(k.Meaning))
	}
	m.p("")
	for _, k := range v.Kinds {
		m.p("### %s (%d)", mdCode(k.Kind), k.Count)
		m.p("")
		fold := k.Count > foldAbove
		if fold {
			m.p("<details><summary>All %d %s findings</summary>", k.Count, mdText(k.Kind))
			m.p("")
		}
		m.head(">#", "Severity", "Chain", "Time", "Object", "Detail")
		for _, f := range k.Findings {
			sev := mdText(f.Severity)
			if f.Severity == string(report.Error) {
				sev = "**" + sev + "**"
			}
			if f.Unexplained {
				sev += " ⚠️ **UNEXPLAINED**"
			}
			t := mdText(f.Time)
			if f.Until != "" {
				t += " to " + mdText(f.Until)
			}
			m.row(fmt.Sprint(f.N), sev, mdText(f.Chain), t, mdCell(f.Object), mdText(f.Detail))
		}
		m.p("")
		if fold {
			m.p("</details>")
			m.p("")
		}
	}
}

func (m *mdWriter) run(v *view) {
	r := v.Run
	m.p("## Run")
	m.p("")
	m.p("- **Tool:** trailcheck %s", mdText(r.Version))
	m.p("- **Started:** %s", mdText(r.Started))
	m.p("- **Duration:** %s", mdText(r.Duration))
	if r.RenderedFrom != "" {
		m.p("- **Rendered from:** %s", mdText(r.RenderedFrom))
	}
	m.p("- **Report schema:** %d", r.Schema)
	m.p("")
	if r.Command == "" {
		m.p("Command: not recorded.")
	} else {
		fence := strings.Repeat("`", max(3, longestRun(r.Command, '`')+1))
		m.p("Command:")
		m.p("")
		m.p("%ssh", fence)
		m.p("%s", r.Command)
		m.p("%s", fence)
	}
	m.p("")
	m.p("---")
	m.p("")
	m.p("Generated by trailcheck %s. A digest is verified when its RSA signature verifies with CloudTrail's public key for its region and it links to its predecessor; "+
		"a log file is verified when its SHA-256 matches the digest that lists it. All times are UTC.", mdText(r.Version))
}
