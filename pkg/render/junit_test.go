package render

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// machineCases are the reports of the golden tests, once each: the
// machine formats have no verbose form.
var machineCases = []struct {
	name   string
	report func() *report.Report
}{
	{"all-valid", allValid},
	{"invalid", invalidMix},
	{"gap", func() *report.Report { return gap(false) }},
	{"gap-fail", func() *report.Report { return gap(true) }},
	{"backfill", backfill},
	{"no-digests", noDigests},
	{"several-chains", severalChains},
}

func TestJUnitGolden(t *testing.T) {
	for _, tc := range machineCases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := JUnit(&buf, tc.report()); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".junit", buf.Bytes())
		})
	}
}

// parsedJUnit is the JUnit XML as a CI server reads it.
type parsedJUnit struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestJUnitParses reads each report's XML back and checks that the counts
// agree with the report: a case per chain (and one for the run when a
// finding belongs to no chain), a failure line per error, a system-out
// line per warning or note.
func TestJUnitParses(t *testing.T) {
	for _, tc := range machineCases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.report()
			var buf bytes.Buffer
			if err := JUnit(&buf, r); err != nil {
				t.Fatal(err)
			}
			var doc parsedJUnit
			if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("the XML does not parse: %v\n%s", err, buf.String())
			}
			if len(doc.Suites) != 1 || doc.Suites[0].Name != "trailcheck" {
				t.Fatalf("want one suite named trailcheck, got %d", len(doc.Suites))
			}
			s := doc.Suites[0]

			known := chainIndex(r)
			wantCases := len(r.Chains)
			errorsOf, othersOf := map[string]int{}, map[string]int{}
			failing := map[string]bool{}
			orphans := false
			for _, f := range r.Findings {
				name := f.Chain
				if known[name] == nil {
					name, orphans = "trailcheck", true
				}
				if f.Severity == report.Error {
					errorsOf[name]++
					failing[name] = true
				} else {
					othersOf[name]++
				}
			}
			if orphans {
				wantCases++
			}
			if s.Tests != wantCases || len(s.Cases) != wantCases || doc.Tests != wantCases {
				t.Errorf("tests: suites %d, suite %d, cases %d; want %d", doc.Tests, s.Tests, len(s.Cases), wantCases)
			}
			if s.Failures != len(failing) || doc.Failures != len(failing) {
				t.Errorf("failures: suites %d, suite %d; want %d", doc.Failures, s.Failures, len(failing))
			}
			if s.Errors != 0 || doc.Errors != 0 {
				t.Errorf("errors: suites %d, suite %d; want 0", doc.Errors, s.Errors)
			}
			failures := 0
			for _, c := range s.Cases {
				wantClass := "trailcheck"
				if ch := known[c.Name]; ch != nil {
					wantClass = "trailcheck." + ch.Account + "." + ch.Region
				}
				if c.Classname != wantClass {
					t.Errorf("case %s: classname %q, want %q", c.Name, c.Classname, wantClass)
				}
				if c.Failure != nil {
					failures++
					if got := strings.Count(c.Failure.Body, "\n"); got != errorsOf[c.Name] {
						t.Errorf("case %s: %d failure lines, want %d:\n%s", c.Name, got, errorsOf[c.Name], c.Failure.Body)
					}
					if !strings.HasPrefix(c.Failure.Message, plural(errorsOf[c.Name], "integrity error")+": ") {
						t.Errorf("case %s: message %q", c.Name, c.Failure.Message)
					}
				} else if errorsOf[c.Name] > 0 {
					t.Errorf("case %s: no failure for %d errors", c.Name, errorsOf[c.Name])
				}
				if got := strings.Count(c.SystemOut, "\n"); got != othersOf[c.Name] {
					t.Errorf("case %s: %d system-out lines, want %d", c.Name, got, othersOf[c.Name])
				}
			}
			if failures != s.Failures {
				t.Errorf("%d cases with a failure, the suite says %d", failures, s.Failures)
			}
			props := map[string]string{}
			for _, p := range s.Properties {
				props[p.Name] = p.Value
			}
			if props["verdict"] != string(r.Verdict) || props["source"] != r.Source {
				t.Errorf("properties %v", props)
			}
		})
	}
}

// TestJUnitEscaping checks that what the report quotes from the bucket
// (object keys, details with markup, control characters and line breaks)
// cannot break the XML or add lines.
func TestJUnitEscaping(t *testing.T) {
	c := main1.chain(false)
	c.ID = `a<b>&"c"`
	r := &report.Report{
		Source: "dir:/srv/<bucket>",
		Chains: []report.Chain{c},
		Findings: []report.Finding{
			{Kind: report.LogHashMismatch, Severity: report.Error, Chain: c.ID, Object: "s3://b/k<]]>&x", Detail: "line one\nline two\r\n\x01</failure>"},
			{Kind: report.ChainGap, Severity: report.Warning, Chain: c.ID, Object: "s3://b/&amp;", Detail: "&#xA;"},
			{Kind: report.KeyRegionUnchecked, Severity: report.Info, Chain: "elsewhere", Object: "s3://b/", Detail: "note"},
		},
	}
	r.Finalize()
	var buf bytes.Buffer
	if err := JUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc parsedJUnit
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("the XML does not parse: %v\n%s", err, buf.String())
	}
	cases := doc.Suites[0].Cases
	if len(cases) != 2 || cases[0].Name != "trailcheck" || cases[1].Name != c.ID {
		t.Fatalf("cases: %+v", cases)
	}
	if got, want := cases[0].SystemOut, "note: key_region_unchecked s3://b/: note\n"; got != want {
		t.Errorf("run case system-out %q, want %q", got, want)
	}
	if got, want := cases[1].Failure.Body, "log_hash_mismatch s3://b/k<]]>&x: line one line two \uFFFD</failure>\n"; got != want {
		t.Errorf("failure body %q, want %q", got, want)
	}
	if got, want := cases[1].SystemOut, "warning: chain_gap s3://b/&amp;: &#xA;\n"; got != want {
		t.Errorf("system-out %q, want %q", got, want)
	}
}

func TestJUnitDeterministic(t *testing.T) {
	for _, tc := range machineCases {
		r1, r2 := tc.report(), tc.report()
		reverse(r2.Findings)
		reverse(r2.Chains)
		r2.Finalize()
		var a, b bytes.Buffer
		if err := JUnit(&a, r1); err != nil {
			t.Fatal(err)
		}
		if err := JUnit(&b, r2); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%s: output depends on input order:\n%s\n---\n%s", tc.name, a.String(), b.String())
		}
	}
}

func TestJUnitWriteError(t *testing.T) {
	if err := JUnit(failWriter{}, invalidMix()); err == nil {
		t.Error("no error from a failing writer")
	}
}
