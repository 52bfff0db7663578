package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailcheck/trailcheck/pkg/auditreport"
	"github.com/trailcheck/trailcheck/pkg/report"
)

// maxResultSize caps a saved result. A JSON result holds a line per chain
// and per finding, not per object: even a run with a million findings is
// far smaller.
const maxResultSize = 1 << 30

// ReportOptions is the report command's parsed command line.
type ReportOptions struct {
	IO *IOStreams

	Input  string // a saved 'trailcheck validate --output json' result
	Output string // the report file: .html, .htm, .md or .markdown

	// now is the clock and write writes the report; nil means time.Now
	// and auditreport.WriteFile (tests replace them).
	now   func() time.Time
	write func(path string, rep *report.Report, run auditreport.RunInfo) error
}

// NewCmdReport returns the report command. runF, when not nil, is called
// with the parsed options instead of runReport (tests).
func NewCmdReport(ios *IOStreams, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "report --input RESULT.json --output REPORT.html",
		Short: "Render an evidence report from a saved JSON result",
		Long: `Report renders the evidence report of a saved validation result, the JSON
document of 'trailcheck validate --output json', as 'trailcheck validate
--report' would have written it: HTML for an .html or .htm file name, Markdown
for .md or .markdown. The report says it was made from the saved result.

The result is rendered as saved: its verdict is not decided again.

Exit status:
  0    the report was written (whatever the result's verdict)
  2    usage error: a missing --input or --output, an unknown extension
  3    the result could not be read (not a trailcheck result, or one of
       another schema version) or the report could not be written`,
		Example: `  $ trailcheck validate --dir ./bucket --public-keys keys.json --signatures signatures.json \
      --start-time 2024-01-01 --output json > result.json
  $ trailcheck report --input result.json --output evidence-2024-01.html`,
		Args: noArgs("report"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runReport(cmd.Context(), opts)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&opts.Input, "input", "", "the saved result: a `FILE` written by 'trailcheck validate --output json'")
	f.StringVar(&opts.Output, "output", "", "write the report to `FILE`: .html or .htm for HTML, .md or .markdown for Markdown")
	return cmd
}

// reportExtensions are the file name endings auditreport.WriteFile knows.
var reportExtensions = []string{".html", ".htm", ".md", ".markdown"}

func (o *ReportOptions) check() error {
	if o.Input == "" {
		return usageError("save one with 'trailcheck validate … --output json > result.json'", "--input FILE is required: a saved JSON result")
	}
	if o.Output == "" {
		return usageError("for example --output report.html or --output report.md", "--output FILE is required")
	}
	ext := strings.ToLower(filepath.Ext(o.Output))
	for _, e := range reportExtensions {
		if ext == e {
			return nil
		}
	}
	return usageError("", "--output %q: the file name must end in .html, .htm, .md or .markdown", o.Output)
}

func runReport(ctx context.Context, opts *ReportOptions) error {
	now := opts.now
	if now == nil {
		now = time.Now
	}
	started := now()
	rep, err := loadResult(opts.Input)
	if err != nil {
		return runError("", "--input %s: %v", opts.Input, err)
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	cmdline := commandLine(opts.IO.Args)
	if len(opts.IO.Args) == 0 { // not called through run (tests)
		cmdline = commandLine([]string{"report", "--input", opts.Input, "--output", opts.Output})
	}
	info := auditreport.RunInfo{
		ToolVersion: versionString(),
		Command:     cmdline,
		Started:     started.UTC(),
		Duration:    now().Sub(started),
		Source:      "saved result " + opts.Input,
	}
	write := opts.write
	if write == nil {
		write = auditreport.WriteFile
	}
	if err := write(opts.Output, rep, info); err != nil {
		return runError("", "writing the report: %v", err)
	}
	return nil
}

// loadResult reads a saved JSON result: one document of the schema version
// this trailcheck writes, and nothing after it.
func loadResult(name string) (*report.Report, error) {
	f, err := os.Open(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if fi.IsDir() {
			return nil, errors.New("is a directory")
		}
		if fi.Mode().IsRegular() && fi.Size() > maxResultSize {
			return nil, fmt.Errorf("larger than %d bytes: not a trailcheck result", int64(maxResultSize))
		}
	}
	// A pipe or device has no size to check: stop reading at the limit.
	lr := &io.LimitedReader{R: f, N: maxResultSize + 1}
	dec := json.NewDecoder(bufio.NewReaderSize(lr, 1<<20))
	var rep report.Report
	if err := dec.Decode(&rep); err != nil {
		if lr.N == 0 {
			return nil, fmt.Errorf("larger than %d bytes: not a trailcheck result", int64(maxResultSize))
		}
		return nil, notResult(err, maxResultSize+1-lr.N)
	}
	if _, err := dec.Token(); err != io.EOF {
		if lr.N == 0 {
			return nil, fmt.Errorf("larger than %d bytes: not a trailcheck result", int64(maxResultSize))
		}
		return nil, fmt.Errorf("not a trailcheck result: more data after the JSON document (at byte %d)", dec.InputOffset())
	}
	switch {
	case rep.SchemaVersion == 0:
		return nil, errors.New("not a trailcheck result: no schema_version (save one with 'trailcheck validate --output json')")
	case rep.SchemaVersion != report.SchemaVersion:
		return nil, fmt.Errorf("schema_version %d is not supported: this trailcheck reads version %d", rep.SchemaVersion, report.SchemaVersion)
	case rep.Verdict != report.Valid && rep.Verdict != report.Invalid:
		return nil, fmt.Errorf("not a trailcheck result: verdict %q is neither %q nor %q", rep.Verdict, report.Valid, report.Invalid)
	}
	return &rep, nil
}

// notResult words a JSON error on one line, with where it happened; size is
// how much of the file was read.
func notResult(err error, size int64) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("not a trailcheck result: the file is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("not a trailcheck result: the file ends (after %d bytes) before the JSON document does", size)
	case errors.As(err, &se):
		return fmt.Errorf("not a trailcheck result: not JSON: %v (at byte %d)", se, se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Errorf("not a trailcheck result: a JSON %s, not an object", te.Value)
		}
		return fmt.Errorf("not a trailcheck result: field %s: a JSON %s, not %s (at byte %d)", te.Field, te.Value, te.Type, te.Offset)
	}
	return fmt.Errorf("not a trailcheck result: %v", err)
}
