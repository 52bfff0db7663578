// Package auditreport renders a report.Report as a document an auditor can
// keep as evidence: one self-contained HTML file (inline CSS and SVG, no
// scripts, no external resources, printable) or the same content in
// GitHub-flavoured Markdown. Both say what was checked, show per-chain
// coverage on a timeline, explain every gap with the trail-control events
// found around it (or flag it as unexplained), list the public keys used
// and every finding, and record how the run was made.
//
// Like package render, these renderers only format: the verdict is the
// report's. Output depends only on the report and the RunInfo, so the same
// inputs give the same bytes.
package auditreport

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/atomicfile"
	"github.com/trailcheck/trailcheck/pkg/report"
)

// RunInfo says how the report was produced. It is printed as given;
// nothing here reads the clock or the environment.
type RunInfo struct {
	// ToolVersion is trailcheck's version.
	ToolVersion string
	// Command is the exact command line of the run.
	Command string
	// Started is when the run started; Duration how long it took. Zero
	// values are shown as "not recorded".
	Started  time.Time
	Duration time.Duration
	// Source, when set, says where the rendered result came from if not
	// straight from the run, e.g. "saved result results.json".
	Source string
}

// Extensions accepted by WriteFile.
var (
	htmlExtensions     = []string{".html", ".htm"}
	markdownExtensions = []string{".md", ".markdown"}
)

// WriteFile renders rep to path, as HTML for .html and .htm and as Markdown
// for .md and .markdown (case-insensitive). The file is written to a
// temporary file in the same directory and renamed into place, so a reader
// never sees half a report and a failed render leaves any previous file
// untouched.
func WriteFile(path string, rep *report.Report, run RunInfo) error {
	var render func(io.Writer, *report.Report, RunInfo) error
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case slices.Contains(htmlExtensions, ext):
		render = HTML
	case slices.Contains(markdownExtensions, ext):
		render = Markdown
	default:
		return fmt.Errorf("%s: unknown report format: the file name must end in %s", path,
			strings.Join(append(append([]string{}, htmlExtensions...), markdownExtensions...), ", "))
	}
	return atomicfile.WriteFile(path, 0o644, func(w io.Writer) error { return render(w, rep, run) })
}
