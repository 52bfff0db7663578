package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// junitRunCase names the test case that holds the findings of no chain
// (no_digests for the whole run, or a finding whose chain is unknown).
const junitRunCase = "trailcheck"

// The JUnit XML schema as CI servers read it (Jenkins, GitLab, GitHub
// actions that publish test results): testsuites > testsuite > testcase,
// with a failure element for a failed case.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",innerxml"` // escaped by xmlText
}

type junitText struct {
	Body string `xml:",innerxml"` // escaped by xmlText
}

// xmlText escapes s as XML character data but keeps its line breaks, which
// encoding/xml writes as &#xA;: the lists stay readable in the file.
func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // never fails on a strings.Builder
	return strings.ReplaceAll(b.String(), "&#xA;", "\n")
}

// JUnit writes r as JUnit XML, for CI servers that show test results: one
// test suite named trailcheck with one test case per chain (named by the
// chain's ID, class trailcheck.ACCOUNT.REGION), failed by the chain's
// findings of severity error, which the failure lists one per line. Warnings
// and notes go to the case's system-out. Findings of no chain (no_digests
// for the whole run) make a case named trailcheck.
//
// A failure is an integrity finding; the errors count, which JUnit keeps
// for tests that could not run, is always 0: a run that could not complete
// has no report. The output holds no time of day or duration, so the same
// report renders to the same bytes.
func JUnit(w io.Writer, r *report.Report) error {
	byChain := map[string][]report.Finding{}
	var orphans []report.Finding
	known := chainIndex(r)
	for _, f := range r.Findings {
		if f.Chain != "" && known[f.Chain] != nil {
			byChain[f.Chain] = append(byChain[f.Chain], f)
		} else {
			orphans = append(orphans, f)
		}
	}

	suite := junitSuite{Name: "trailcheck", Properties: junitProperties(r)}
	if len(orphans) > 0 {
		suite.Cases = append(suite.Cases, junitTestCase(junitRunCase, junitRunCase, orphans))
	}
	for _, c := range r.Chains {
		suite.Cases = append(suite.Cases, junitTestCase(c.ID, "trailcheck."+c.Account+"."+c.Region, byChain[c.ID]))
	}
	for _, tc := range suite.Cases {
		suite.Tests++
		if tc.Failure != nil {
			suite.Failures++
		}
	}
	doc := junitSuites{Name: "trailcheck", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitProperties says what was checked: enough to tell two runs' results
// apart in a CI server's history.
func junitProperties(r *report.Report) []junitProperty {
	ps := []junitProperty{
		{"schema_version", fmt.Sprint(r.SchemaVersion)},
		{"source", r.Source},
	}
	if r.Bucket != "" {
		ps = append(ps, junitProperty{"bucket", r.Bucket})
	}
	ps = append(ps,
		junitProperty{"requested_start", fmtTime(r.Requested.Start)},
		junitProperty{"requested_end", fmtTime(r.Requested.End)},
		junitProperty{"verdict", string(r.Verdict)},
	)
	return ps
}

// junitTestCase makes the case of one chain (or of the run) from its
// findings, in report order.
func junitTestCase(name, class string, fs []report.Finding) junitCase {
	tc := junitCase{Name: name, Classname: class}
	var failed, other []string
	byKind := map[report.Kind]int{}
	for _, f := range fs {
		line := junitLine(f)
		if f.Severity == report.Error {
			failed = append(failed, line)
			byKind[f.Kind]++
			continue
		}
		sev := string(f.Severity)
		if f.Severity == report.Info {
			sev = "note"
		}
		other = append(other, sev+": "+line)
	}
	if len(failed) > 0 {
		kinds := make([]string, 0, len(byKind))
		for k := range byKind {
			kinds = append(kinds, string(k))
		}
		sort.Strings(kinds)
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%d %s", byKind[report.Kind(k)], k)
		}
		tc.Failure = &junitFailure{
			Message: plural(len(failed), "integrity error") + ": " + strings.Join(parts, ", "),
			Type:    "integrity",
			Body:    xmlText(strings.Join(failed, "\n") + "\n"),
		}
	}
	if len(other) > 0 {
		tc.SystemOut = &junitText{Body: xmlText(strings.Join(other, "\n") + "\n")}
	}
	return tc
}

var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// junitLine is one finding on one line: kind, object and detail.
func junitLine(f report.Finding) string {
	line := string(f.Kind) + " " + f.Object
	if f.Detail != "" {
		line += ": " + f.Detail
	}
	return oneLine.Replace(line)
}
