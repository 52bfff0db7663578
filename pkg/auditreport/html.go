package auditreport

import (
	"bufio"
	_ "embed"
	"errors"
	"html/template"
	"io"

	"github.com/trailcheck/trailcheck/pkg/report"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate escapes every value it prints (html/template): object keys,
// trail names, actors and user agents come from the bucket and its log
// files, so a hostile one must not be able to add markup.
var htmlTemplate = template.Must(template.New("report").Option("missingkey=error").
	Funcs(template.FuncMap{"breakable": breakable}).Parse(htmlSource))

// HTML writes rep as one self-contained HTML document: inline CSS, inline
// SVG timelines, no scripts and no external fonts, images or links, so it
// reads offline and prints (one A4 column, page breaks between sections,
// colours kept light). Findings are grouped by kind with a count table
// first, so a report with thousands of them stays navigable.
func HTML(w io.Writer, rep *report.Report, run RunInfo) error {
	if rep == nil {
		return errors.New("no report to render")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := htmlTemplate.Execute(bw, newView(rep, run)); err != nil {
		return err
	}
	return bw.Flush()
}
