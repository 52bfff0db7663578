// Package render turns a report.Report into what a user or a script reads:
// Text for people, JSON for programs, and AWS for the exact output of
// `aws cloudtrail validate-logs`, so that trailcheck can replace it in
// existing scripts; JUnit XML for CI servers and NDJSON (a line per chain
// and finding) for log pipelines.
//
// Renderers only format: they never decide whether a run passed (that is
// the report's verdict), and they keep the order report.Finalize gives
// within each group they print, so the same report always renders to the
// same bytes.
package render

import (
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// TimeLayout is how every time is printed, as CloudTrail and the AWS CLI
// print them.
const TimeLayout = "2006-01-02T15:04:05Z"

func fmtTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// invalid reports whether the report fails: its verdict, or for a report
// that was not finalized, any finding of severity error.
func invalid(r *report.Report) bool {
	return r.Verdict == report.Invalid || r.HasErrors()
}

// chainIndex maps chain IDs to their chains.
func chainIndex(r *report.Report) map[string]*report.Chain {
	m := make(map[string]*report.Chain, len(r.Chains))
	for i := range r.Chains {
		m[r.Chains[i].ID] = &r.Chains[i]
	}
	return m
}
