package render

import (
	"encoding/json"
	"io"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// JSON writes r as one indented JSON document with the field names of the
// report package's JSON tags, followed by a newline. Lists that are empty
// are written as [] rather than null, so scripts can iterate without a
// check. Map keys are sorted by encoding/json, so the output is the same for
// the same report, byte for byte.
func JSON(w io.Writer, r *report.Report) error {
	doc := *r
	if doc.Chains == nil {
		doc.Chains = []report.Chain{}
	}
	if doc.Findings == nil {
		doc.Findings = []report.Finding{}
	}
	if doc.Summary.Findings == nil {
		doc.Summary.Findings = map[report.Severity]int{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Object keys contain no HTML; escaping & < > would only make them
	// harder to read.
	enc.SetEscapeHTML(false)
	return enc.Encode(&doc)
}
