package auditreport

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testRun is the run information every golden file is rendered with.
var testRun = RunInfo{
	ToolVersion: "v0.9.0-test",
	Command:     "trailcheck validate --dir testdata/sample --start-time 2026-11-01T00:04:04Z --end-time 2026-11-02T23:37:12Z --report report.html",
	Started:     time.Date(2026, 11, 3, 8, 15, 0, 0, time.UTC),
	Duration:    1234567 * time.Microsecond,
}

func validateTrail(t testing.TB, st store.Store, tr *trailgen.Trail) *report.Report {
	t.Helper()
	rep, err := validate.Run(context.Background(), st, validate.Options{
		Start: trailgen.SampleStart, End: trailgen.SampleEnd, Keys: tr.KeySet(),
		Now: func() time.Time { return trailgen.SampleEnd.Add(time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func generateSample(t testing.TB) *trailgen.Trail {
	t.Helper()
	tr, err := trailgen.Generate(trailgen.SampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// cached memoizes the fixture reports: generating and validating a trail
// takes a moment, and most tests read the same three. Callers get a copy
// whose slices they may change.
func cached(t testing.TB, name string, build func(testing.TB) *report.Report) *report.Report {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	rep, ok := cache[name]
	if !ok {
		rep = build(t)
		cache[name] = rep
	}
	c := *rep
	c.Chains = slices.Clone(rep.Chains)
	c.Findings = slices.Clone(rep.Findings)
	c.Keys = slices.Clone(rep.Keys)
	return &c
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*report.Report{}
)

// sampleReport is the sample trail's report: valid, five chains, four
// gaps explained by StopLogging and StartLogging.
func sampleReport(t testing.TB) *report.Report {
	return cached(t, "sample", func(t testing.TB) *report.Report {
		tr := generateSample(t)
		return validateTrail(t, tr.Store, tr)
	})
}

// hourlyChain returns the sample's hourly chain of account and region.
func hourlyChain(t testing.TB, tr *trailgen.Trail, account, region string) *trailgen.Chain {
	t.Helper()
	for _, c := range tr.Chains {
		if c.ID.Account == account && c.ID.Region == region && !c.ID.Backfill {
			return c
		}
	}
	t.Fatalf("no chain %s %s", account, region)
	return nil
}

// failuresReport tampers with the sample trail: a digest deleted in the
// middle of one chain, a log file deleted from another hour of it, and the
// three newest digests of another chain deleted (an unexplained
// truncation).
func failuresReport(t testing.TB) *report.Report {
	return cached(t, "failures", buildFailuresReport)
}

func buildFailuresReport(t testing.TB) *report.Report {
	tr := generateSample(t)
	east := hourlyChain(t, tr, "402819374615", "us-east-1")
	tr.Store.Delete(east.Digests[10].Key)
	deleted := false
	for _, d := range east.Digests[30:] {
		if len(d.Logs) > 0 {
			tr.Store.Delete(d.Logs[0])
			deleted = true
			break
		}
	}
	if !deleted {
		t.Fatal("no log file to delete; the sample changed")
	}
	west := hourlyChain(t, tr, "739104628153", "eu-west-1")
	for _, d := range west.Digests[len(west.Digests)-3:] {
		tr.Store.Delete(d.Key)
	}
	return validateTrail(t, tr.Store, tr)
}

// emptyReport is the report of an empty bucket: no chains, one no_digests
// finding.
func emptyReport(t testing.TB) *report.Report {
	return cached(t, "empty", func(t testing.TB) *report.Report {
		tr := generateSample(t)
		return validateTrail(t, store.NewMem("empty-bucket"), tr)
	})
}

var fixtures = []struct {
	name   string
	report func(testing.TB) *report.Report
	run    RunInfo
}{
	{"sample", sampleReport, testRun},
	{"failures", failuresReport, testRun},
	{"empty", emptyReport, RunInfo{ToolVersion: "v0.9.0-test", Source: "saved result results.json"}},
}

func render(t testing.TB, f func(io.Writer, *report.Report, RunInfo) error, rep *report.Report, run RunInfo) string {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b, rep, run); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, fx := range fixtures {
		rep := fx.report(t)
		for _, format := range []struct {
			ext    string
			render func(io.Writer, *report.Report, RunInfo) error
		}{{"html", HTML}, {"md", Markdown}} {
			t.Run(fx.name+"."+format.ext, func(t *testing.T) {
				got := render(t, format.render, rep, fx.run)
				golden(t, fx.name+"."+format.ext+".golden", []byte(got))
				// Rendering twice gives the same bytes.
				if again := render(t, format.render, rep, fx.run); again != got {
					t.Fatal("second rendering differs")
				}
			})
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < min(len(gl), len(wl)); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run go test -update if the change is intended)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: %d lines, want %d (run go test -update if the change is intended)", path, len(gl), len(wl))
	}
}

// checkWellFormed parses doc as strict XML. The renderer writes XHTML-style
// markup (void elements self-closed, attributes quoted, every entity
// numeric or one of XML's five), so any unbalanced or misnested element,
// stray "<" or bare "&" fails here. That is a stricter check than an HTML5
// parser, which repairs such errors silently; the browser test then checks
// what a real HTML parser builds. encoding/xml keeps the module free of a
// new dependency for one test.
func checkWellFormed(t *testing.T, doc string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := strings.Count(doc[:min(int(d.InputOffset()), len(doc))], "\n") + 1
			t.Fatalf("not well-formed at line %d: %v", line, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
}

// TestHTMLSelfContained: well-formed, and nothing that would load from
// elsewhere or run.
func TestHTMLSelfContained(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			doc := render(t, HTML, fx.report(t), fx.run)
			checkWellFormed(t, doc)
			lower := strings.ToLower(doc)
			for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "http://", "https://", "javascript:"} {
				if strings.Contains(lower, bad) {
					t.Errorf("document contains %q", bad)
				}
			}
			for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(doc, -1) {
				if !strings.HasPrefix(m[1], "#") {
					t.Errorf("link %q leaves the document", m[1])
				} else if !strings.Contains(doc, `id="`+m[1][1:]+`"`) {
					t.Errorf("link %q has no target", m[1])
				}
			}
			if !strings.Contains(doc, "@media print") {
				t.Error("no print styles")
			}
		})
	}
}

// TestContent checks, in both formats, what an auditor relies on: the
// verdict, every finding's object, every chain, the gap explanations and
// the unexplained flag, the keys and the run.
func TestContent(t *testing.T) {
	for _, fx := range fixtures {
		rep := fx.report(t)
		for _, format := range []struct {
			name   string
			render func(io.Writer, *report.Report, RunInfo) error
			// esc is how the format writes a report value.
			esc func(string) string
		}{
			{"html", HTML, htmlEscape},
			{"md", Markdown, func(s string) string { return s }},
		} {
			t.Run(fx.name+"/"+format.name, func(t *testing.T) {
				// <wbr/> only offers line breaks; it is not text.
				doc := strings.ReplaceAll(render(t, format.render, rep, fx.run), "<wbr/>", "")
				want := func(what, s string) {
					t.Helper()
					if !strings.Contains(doc, format.esc(s)) {
						t.Errorf("%s %q not in the document", what, s)
					}
				}
				verdict := "VALID"
				if rep.Verdict == report.Invalid {
					verdict = "INVALID"
				}
				want("verdict", verdict)
				if rep.Verdict == report.Valid && strings.Contains(doc, "INVALID") {
					t.Error("a valid report says INVALID")
				}
				for _, f := range rep.Findings {
					want("finding object", f.Object)
					want("finding kind", string(f.Kind))
				}
				for _, c := range rep.Chains {
					want("account", c.Account)
					want("region", c.Region)
					if c.ValidFrom != nil {
						want("valid from", fmtTime(*c.ValidFrom))
						want("valid to", fmtTime(*c.ValidTo))
					}
				}
				for _, k := range rep.Keys {
					want("key", k.Fingerprint)
					want("key window", fmtTime(k.ValidTo))
				}
				want("bucket", rep.Bucket)
				want("requested start", fmtTime(rep.Requested.Start))
				want("requested end", fmtTime(rep.Requested.End))
				want("tool version", fx.run.ToolVersion)
				want("command", fx.run.Command)
				if fx.run.Source != "" {
					want("rendered from", fx.run.Source)
				}
				nUnexplained := 0
				for _, f := range rep.Findings {
					if !isSpanKind(f.Kind) {
						continue
					}
					if f.Unexplained {
						nUnexplained++
					}
					for _, e := range f.Events {
						want("event actor", e.Actor)
						want("event source IP", e.SourceIP)
						want("event log file", e.LogFile)
						want("event time", fmtTime(e.Time))
					}
				}
				if got := strings.Count(doc, "UNEXPLAINED"); nUnexplained > 0 && got < nUnexplained {
					t.Errorf("%d unexplained gaps but UNEXPLAINED appears %d times", nUnexplained, got)
				}
				if nUnexplained == 0 && strings.Contains(doc, "UNEXPLAINED") {
					t.Error("no unexplained gap, but the document flags one")
				}
			})
		}
	}
}

func htmlEscape(s string) string {
	var b strings.Builder
	xmlEscapeText(&b, s)
	return b.String()
}

// xmlEscapeText escapes s as html/template does.
func xmlEscapeText(b *strings.Builder, s string) {
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").WriteString(b, s)
}

func TestFixturesAreWhatTheyClaim(t *testing.T) {
	s := sampleReport(t)
	if s.Verdict != report.Valid || len(s.Chains) != 5 || s.Summary.ByKind[report.ChainGap] != 4 {
		t.Fatalf("sample: %s, %d chains, %v", s.Verdict, len(s.Chains), s.Summary.ByKind)
	}
	f := failuresReport(t)
	for _, k := range []report.Kind{report.DigestMissing, report.LogMissing, report.ChainTruncated} {
		if f.Summary.ByKind[k] != 1 {
			t.Errorf("failures: %d %s findings, want 1 (%v)", f.Summary.ByKind[k], k, f.Summary.ByKind)
		}
	}
	unexpl := false
	for _, x := range f.Findings {
		unexpl = unexpl || (x.Kind == report.ChainTruncated && x.Unexplained)
	}
	if f.Verdict != report.Invalid || !unexpl {
		t.Fatalf("failures: verdict %s, unexplained truncation %v", f.Verdict, unexpl)
	}
	e := emptyReport(t)
	if len(e.Chains) != 0 || e.Summary.ByKind[report.NoDigests] != 1 {
		t.Fatalf("empty: %d chains, %v", len(e.Chains), e.Summary.ByKind)
	}
}

// TestTimelineSegments checks the painted timeline of the failures report
// against what was deleted.
func TestTimelineSegments(t *testing.T) {
	rep := failuresReport(t)
	req := rep.Requested
	tls := chainTimelines(rep, req.Start, req.End)
	at := func(s string) time.Time {
		v, err := time.Parse(timeLayout, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	stateAt := func(ct chainTimeline, tm time.Time) state {
		for _, s := range ct.segs {
			if !tm.Before(s.start) && tm.Before(s.end) {
				return s.st
			}
		}
		t.Fatalf("%s: no segment at %s", ct.chain.ID, tm)
		return 0
	}
	for _, ct := range tls {
		// Segments partition the requested period.
		if !ct.segs[0].start.Equal(req.Start) || !ct.segs[len(ct.segs)-1].end.Equal(req.End) {
			t.Fatalf("%s: segments span %s..%s", ct.chain.ID, ct.segs[0].start, ct.segs[len(ct.segs)-1].end)
		}
		for i := 1; i < len(ct.segs); i++ {
			if !ct.segs[i].start.Equal(ct.segs[i-1].end) {
				t.Fatalf("%s: segments %d and %d do not touch", ct.chain.ID, i-1, i)
			}
		}
		c := ct.chain
		switch {
		case c.Backfill:
			if got := stateAt(ct, at("2026-11-02T03:00:00Z")); got != stVerified {
				t.Errorf("backfill: %v in its period", got)
			}
			if got := stateAt(ct, at("2026-11-01T03:00:00Z")); got != stNone {
				t.Errorf("backfill: %v before its period", got)
			}
		case c.Account == "402819374615" && c.Region == "us-east-1":
			if got := stateAt(ct, at("2026-11-01T10:30:00Z")); got != stBad {
				t.Errorf("deleted digest hour: %v", got)
			}
			if got := stateAt(ct, at("2026-11-01T22:00:00Z")); got != stGap {
				t.Errorf("explained gap: %v", got)
			}
			if len(ct.marks) != 2 {
				t.Errorf("marks %+v, want the digest_missing and the log_missing", ct.marks)
			}
		case c.Account == "739104628153" && c.Region == "eu-west-1":
			if got := stateAt(ct, at("2026-11-02T22:00:00Z")); got != stBadTrunc {
				t.Errorf("truncated tail: %v", got)
			}
		default:
			if got := stateAt(ct, at("2026-11-01T10:30:00Z")); got != stVerified {
				t.Errorf("%s: %v", c.ID, got)
			}
		}
	}
	// The Markdown bar shows the same.
	md := render(t, Markdown, rep, testRun)
	bars := map[string]string{}
	for _, line := range strings.Split(md, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && (f[1] == "us-east-1" || f[1] == "eu-west-1") {
			bars[f[0]+" "+f[1]+" "+strings.Join(f[2:len(f)-1], " ")] = f[len(f)-1]
		}
	}
	bar := bars["402819374615 us-east-1 "]
	if len(bar) != 48 || bar[10] != 'X' || strings.Count(bar, "-") != 4 || bar[0] != '#' {
		t.Errorf("us-east-1 bar %q (all bars %q)", bar, bars)
	}
	if bar := bars["739104628153 eu-west-1 "]; !strings.HasSuffix(bar, "XXX") {
		t.Errorf("truncated bar %q", bar)
	}
}

// TestEscaping: values from the bucket cannot add markup to HTML or break
// Markdown tables and code spans.
func TestEscaping(t *testing.T) {
	rep := sampleReport(t)
	evil := "s3://b/<script>alert(1)</script>|`x`|&amp;"
	rep.Findings = append(rep.Findings, report.Finding{
		Kind: report.LogUnreferenced, Severity: report.Error, Object: evil,
		Detail: "a | b ` c <b>bold</b> *em* [link](http://x)", Chain: rep.Chains[0].ID,
	})
	rep.Chains[0].Trail = "trail|with`ticks``<i>"
	rep.Finalize()
	run := testRun
	run.Command = "trailcheck validate --bucket 'a`b' ```"

	doc := render(t, HTML, rep, run)
	checkWellFormed(t, doc)
	for _, bad := range []string{"<script>", "<b>bold", "<i>"} {
		if strings.Contains(doc, bad) {
			t.Errorf("HTML contains %q unescaped", bad)
		}
	}
	if !strings.Contains(strings.ReplaceAll(doc, "<wbr/>", ""), htmlEscape(evil)) {
		t.Error("escaped object not in HTML")
	}

	md := render(t, Markdown, rep, run)
	for _, line := range strings.Split(md, "\n") {
		if strings.Contains(line, "alert(1)") {
			// One row: | # | severity | chain | time | object | detail |
			// has 7 unescaped pipes whatever the values hold.
			unescaped := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(line, -1))
			if strings.HasPrefix(line, "|") && unescaped != 7 {
				t.Errorf("row has %d unescaped pipes: %s", unescaped, line)
			}
			if !strings.Contains(line, "``s3://b/<script>alert(1)</script>\\|`x`\\|&amp;``") {
				t.Errorf("object not in a double-backtick code span with escaped pipes: %s", line)
			}
			if !strings.Contains(line, `a \| b \`+"`"+` c \<b\>bold\</b\> \*em\* \[link\](http://x)`) {
				t.Errorf("detail not escaped: %s", line)
			}
		}
	}
	if !strings.Contains(md, "- `org_trail.main` — ") || !strings.Contains(md, "- ```trail|with`ticks``<i>``` — ") {
		t.Error("trail names not in code spans with a long enough fence")
	}
	if !strings.Contains(md, "| ```trail\\|with`ticks``<i>``` |") {
		t.Error("trail name in the chain table not escaped for a cell")
	}
	if !strings.Contains(md, "````sh\ntrailcheck validate --bucket 'a`b' ```\n````") {
		t.Error("command fence not longer than its backtick runs")
	}
}

// TestLogsUnverified: log files listed by digests that could not be
// authenticated are counted apart, and both formats say so.
func TestLogsUnverified(t *testing.T) {
	rep := failuresReport(t)
	rep.Chains[2].LogsUnverified = 3
	for name, doc := range map[string]string{
		"html": render(t, HTML, rep, testRun),
		"md":   render(t, Markdown, rep, testRun),
	} {
		if !strings.Contains(doc, "3 more log files listed by digests that could not be authenticated were not examined") {
			t.Errorf("%s: no summary of the unexamined log files", name)
		}
		if !strings.Contains(doc, "+3 not examined") {
			t.Errorf("%s: chain row does not count the unexamined log files", name)
		}
	}
}

func TestMDCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "`plain`"},
		{"a`b", "``a`b``"},
		{"`start", "`` `start ``"},
		{"a``b`", "``` a``b` ```"},
		{"", ""},
		{"two\nlines", "`two lines`"},
	} {
		if got := mdCode(tc.in); got != tc.want {
			t.Errorf("mdCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := mdCell("a|b"); got != "`a\\|b`" {
		t.Errorf("mdCell = %q", got)
	}
}

// TestManyFindings: thousands of findings all render, grouped by kind with
// counts first, and the timeline merges marks instead of drawing thousands.
func TestManyFindings(t *testing.T) {
	rep := sampleReport(t)
	c := rep.Chains[2]
	const n = 5000
	for i := range n {
		tm := trailgen.SampleStart.Add(time.Duration(i) * 30 * time.Second)
		kind := report.LogHashMismatch
		if i%5 == 0 {
			kind = report.LogMissing
		}
		rep.Findings = append(rep.Findings, report.Finding{
			Kind: kind, Severity: report.Error, Chain: c.ID, Time: &tm,
			Object: fmt.Sprintf("s3://trailcheck-sample-bucket/log-%05d.json.gz", i), Detail: "changed",
			Order: report.Order{DigestEnd: tm, LogIndex: i},
		})
	}
	rep.Finalize()
	start := time.Now()
	doc := render(t, HTML, rep, testRun)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("rendering %d findings took %s", n, d)
	}
	checkWellFormed(t, doc)
	if got := strings.Count(doc, `<tr class="finding">`); got != len(rep.Findings) {
		t.Fatalf("%d finding rows, want %d", got, len(rep.Findings))
	}
	for i := range n {
		if !strings.Contains(doc, fmt.Sprintf("log-%05d.json.gz", i)) {
			t.Fatalf("finding %d missing", i)
		}
	}
	// The count table comes before the first finding row.
	summary := strings.Index(doc, `<table class="bykind">`)
	if summary < 0 || summary > strings.Index(doc, `<tr class="finding">`) {
		t.Fatal("the by-kind summary does not come first")
	}
	if !strings.Contains(doc, `<td class="num">4000</td>`) || !strings.Contains(doc, `<td class="num">1000</td>`) {
		t.Error("by-kind counts missing")
	}
	if marks := strings.Count(doc, `class="mark m-err"`); marks == 0 || marks > 400 {
		t.Errorf("%d error marks drawn for %d findings", marks, n)
	}
	md := render(t, Markdown, rep, testRun)
	if !strings.Contains(md, "<details><summary>All 4000 log\\_hash\\_mismatch findings</summary>") {
		t.Error("large kind not folded in Markdown")
	}
	for _, i := range []int{0, 1, 4999} {
		if !strings.Contains(md, fmt.Sprintf("log-%05d.json.gz", i)) {
			t.Errorf("finding %d missing from Markdown", i)
		}
	}
}

func TestWriteFile(t *testing.T) {
	rep := sampleReport(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, prefix string
	}{
		{"r.html", "<!DOCTYPE html>"},
		{"r.HTM", "<!DOCTYPE html>"},
		{"r.md", "# CloudTrail"},
		{"r.markdown", "# CloudTrail"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(path, rep, testRun); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), tc.prefix) {
			t.Errorf("%s starts %q", tc.name, data[:min(40, len(data))])
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", tc.name, fi.Mode())
		}
	}
	err := WriteFile(filepath.Join(dir, "report.pdf"), rep, testRun)
	if err == nil || !strings.Contains(err.Error(), "report.pdf") || !strings.Contains(err.Error(), ".html, .htm, .md, .markdown") {
		t.Fatalf("unknown extension: %v", err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "r.html"), rep, testRun); err == nil {
		t.Fatal("no error for a missing directory")
	}
	if err := WriteFile(filepath.Join(dir, "nil.html"), nil, testRun); err == nil {
		t.Fatal("no error for a nil report")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nil.html")); !os.IsNotExist(err) {
		t.Errorf("failed render left a file: %v", err)
	}
}

func TestTicks(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 4, 4, 0, time.UTC) }
	for _, tc := range []struct {
		start, end time.Time
		want       string
	}{
		{day(1, 0), day(2, 23), "06:00 12:00 18:00 2026-11-02 06:00 12:00 18:00"},
		{day(1, 0), day(1, 5), "01:00 02:00 03:00 04:00 05:00"},
		{day(1, 0), day(8, 0), "2026-11-02 2026-11-03 2026-11-04 2026-11-05 2026-11-06 2026-11-07 2026-11-08"},
		{day(1, 0), day(1, 0).AddDate(1, 0, 0), "2027-01 2027-03 2027-05 2027-07 2027-09 2027-11"},
	} {
		var got []string
		for _, tk := range ticks(tc.start, tc.end) {
			got = append(got, tk.label)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("ticks(%s, %s) = %q, want %q", tc.start, tc.end, strings.Join(got, " "), tc.want)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3*time.Hour + 5*time.Minute + 32*time.Second:  "3h 5m 32s",
		47*time.Hour + 33*time.Minute + 8*time.Second: "1d 23h 33m 8s",
		0: "0s",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
