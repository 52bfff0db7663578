package render

import (
	"encoding/json"
	"io"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// NDJSON record types, the value of each line's "type" field.
const (
	NDJSONChain   = "chain"
	NDJSONFinding = "finding"
	NDJSONSummary = "summary"
)

// ndjsonChain and ndjsonFinding put the type first, then the fields of the
// JSON document's chains and findings, under the same names.
type ndjsonChain struct {
	Type string `json:"type"`
	report.Chain
}

type ndjsonFinding struct {
	Type string `json:"type"`
	report.Finding
}

type ndjsonSummary struct {
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Source        string          `json:"source"`
	Bucket        string          `json:"bucket,omitempty"`
	Requested     report.Interval `json:"requested"`
	Verdict       report.Verdict  `json:"verdict"`
	Summary       report.Summary  `json:"summary"`
}

// flusher is a buffered writer (a bufio.Writer, a gzip.Writer) that NDJSON
// flushes after every line.
type flusher interface{ Flush() error }

// NDJSON writes r as newline-delimited JSON, one object per line, for log
// pipelines and jq: a {"type":"chain",…} line per chain, a
// {"type":"finding",…} line per finding, in report order, then one
// {"type":"summary",…} line with the schema version, source, requested
// range, verdict and summary. Chain and finding lines have the fields of
// the JSON document's chains and findings.
//
// Each line is written with one Write as it is produced (and flushed, if w
// has a Flush method), so a reader sees the chains before the findings are
// encoded, and the summary line, last, tells it the stream is complete.
func NDJSON(w io.Writer, r *report.Report) error {
	f, _ := w.(flusher)
	line := func(v any) error {
		// An encoder per line: Encode writes its line in one Write.
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		if f != nil {
			return f.Flush()
		}
		return nil
	}
	for _, c := range r.Chains {
		if err := line(ndjsonChain{Type: NDJSONChain, Chain: c}); err != nil {
			return err
		}
	}
	for _, fd := range r.Findings {
		if err := line(ndjsonFinding{Type: NDJSONFinding, Finding: fd}); err != nil {
			return err
		}
	}
	s := r.Summary
	if s.Findings == nil {
		s.Findings = map[report.Severity]int{}
	}
	return line(ndjsonSummary{
		Type:          NDJSONSummary,
		SchemaVersion: r.SchemaVersion,
		Source:        r.Source,
		Bucket:        r.Bucket,
		Requested:     r.Requested,
		Verdict:       r.Verdict,
		Summary:       s,
	})
}
