package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/auditreport"
	"github.com/trailcheck/trailcheck/pkg/render"
	"github.com/trailcheck/trailcheck/pkg/report"
)

// savedResult writes a validation result as 'validate --output json' does
// and returns the report and the file.
func savedResult(t *testing.T) (*report.Report, string) {
	t.Helper()
	start := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	at := start.Add(time.Hour)
	r := &report.Report{
		Source:    "dir:/srv/trail-bucket",
		Bucket:    "trail-bucket",
		Requested: report.Interval{Start: start, End: start.Add(6 * time.Hour)},
		Chains: []report.Chain{{ID: "111122223333/us-east-1/main", Account: "111122223333", Region: "us-east-1", Trail: "main",
			Digests: report.Counts{Total: 6, Valid: 5, Invalid: 1}, Logs: report.Counts{Total: 9, Valid: 9}}},
		Findings: []report.Finding{
			{Kind: report.LogHashMismatch, Severity: report.Error, Chain: "111122223333/us-east-1/main", Time: &at,
				Object: "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/x.json.gz", Detail: "SHA-256 differs"},
			{Kind: report.DigestMissing, Severity: report.Error, Chain: "111122223333/us-east-1/main", Time: &at,
				Object: "s3://trail-bucket/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/d.json.gz", Detail: "not found"},
		},
	}
	r.Finalize()
	var buf bytes.Buffer
	if err := render.JSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return r, p
}

// runReportWith runs trailcheck with the report command's clock and writer
// replaced.
func (c *cli) runReportWith(t *testing.T, now func() time.Time, write func(string, *report.Report, auditreport.RunInfo) error, args ...string) int {
	t.Helper()
	c.ios.Args = args
	root := newRootCmd(c.ios, nil)
	for _, sub := range root.Commands() {
		if sub.Name() == "report" {
			root.RemoveCommand(sub)
		}
	}
	root.AddCommand(NewCmdReport(c.ios, func(ctx context.Context, o *ReportOptions) error {
		o.now, o.write = now, write
		return runReport(ctx, o)
	}))
	return execute(t.Context(), root, args, c.ios)
}

func TestReportRunInfo(t *testing.T) {
	want, in := savedResult(t)
	out := filepath.Join(t.TempDir(), "evidence.html")
	clock := time.Date(2024, 3, 1, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	now := func() time.Time { clock = clock.Add(250 * time.Millisecond); return clock }

	var gotPath string
	var gotRep *report.Report
	var gotRun auditreport.RunInfo
	write := func(path string, rep *report.Report, run auditreport.RunInfo) error {
		gotPath, gotRep, gotRun = path, rep, run
		return nil
	}
	c := newCLI(nil)
	if code := c.runReportWith(t, now, write, "report", "--input", in, "--output", out); code != exitValid {
		t.Fatalf("exit code %d, stderr:\n%s", code, c.errOut.String())
	}
	if c.out.Len() > 0 || c.errOut.Len() > 0 {
		t.Errorf("stdout %q, stderr %q", c.out.String(), c.errOut.String())
	}
	if gotPath != out {
		t.Errorf("path %q", gotPath)
	}
	wantRun := auditreport.RunInfo{
		ToolVersion: versionString(),
		Command:     "trailcheck report --input " + in + " --output " + out,
		Started:     time.Date(2024, 3, 1, 8, 0, 0, 250e6, time.UTC),
		Duration:    250 * time.Millisecond,
		Source:      "saved result " + in,
	}
	if gotRun != wantRun {
		t.Errorf("run info:\n got %+v\nwant %+v", gotRun, wantRun)
	}
	// The report is the saved one, as saved (findings in the saved order).
	if gotRep == nil || gotRep.Verdict != report.Invalid || len(gotRep.Findings) != 2 ||
		gotRep.Findings[0].Kind != want.Findings[0].Kind || gotRep.Summary.Findings[report.Error] != 2 ||
		len(gotRep.Chains) != 1 || gotRep.Chains[0].Digests != want.Chains[0].Digests {
		t.Errorf("report read back: %+v", gotRep)
	}

	// A file name with a space is quoted in the command line.
	spaced := filepath.Join(filepath.Dir(in), "my result.json")
	if err := os.Rename(in, spaced); err != nil {
		t.Fatal(err)
	}
	c = newCLI(nil)
	if code := c.runReportWith(t, now, write, "report", "--input", spaced, "--output", out); code != exitValid {
		t.Fatalf("exit code %d, stderr:\n%s", code, c.errOut.String())
	}
	if want := "trailcheck report --input '" + spaced + "' --output " + out; gotRun.Command != want {
		t.Errorf("command %q, want %q", gotRun.Command, want)
	}

	// A failed write is exit 3.
	c = newCLI(nil)
	fail := func(string, *report.Report, auditreport.RunInfo) error { return errors.New("out.html: disk full") }
	if code := c.runReportWith(t, now, fail, "report", "--input", spaced, "--output", out); code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	if want := "trailcheck: error: writing the report: out.html: disk full\n"; c.errOut.String() != want {
		t.Errorf("stderr %q, want %q", c.errOut.String(), want)
	}
}

// TestReportWrites renders real reports: each format by its extension, the
// file readable by others.
func TestReportWrites(t *testing.T) {
	_, in := savedResult(t)
	dir := t.TempDir()
	for _, name := range []string{"r.html", "r.htm", "r.md", "R.MARKDOWN"} {
		out := filepath.Join(dir, name)
		c := newCLI(nil)
		if code := c.run(t, "report", "--input", in, "--output", out); code != exitValid {
			t.Fatalf("%s: exit code %d, stderr:\n%s", name, code, c.errOut.String())
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		html := strings.Contains(strings.ToLower(string(data)), "<html")
		if wantHTML := strings.HasPrefix(strings.ToLower(filepath.Ext(name)), ".htm"); html != wantHTML {
			t.Errorf("%s: HTML %v", name, html)
		}
		for _, s := range []string{"saved result " + in, "log_hash_mismatch", "trailcheck report --input"} {
			if !strings.Contains(string(data), s) {
				t.Errorf("%s: %q not in the report", name, s)
			}
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v", name, fi.Mode(), err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 4 {
		t.Errorf("files left behind: %v", ents)
	}
}

func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, good := savedResult(t)
	goodData, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Sparse: no gigabyte is written.
	if err := os.Truncate(huge, maxResultSize+1); err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(string(goodData), `"schema_version": 1,`, `"schema_version": 2,`, 1)
	badVerdict := strings.Replace(string(goodData), `"verdict": "invalid"`, `"verdict": "maybe"`, 1)

	tests := []struct {
		name string
		file string
		want string // the error after "--input FILE: "
	}{
		{"missing", filepath.Join(dir, "missing.json"), "no such file or directory"},
		{"directory", dir, "is a directory"},
		{"empty", write("empty.json", ""), "not a trailcheck result: the file is empty"},
		{"not JSON", write("text.json", "VALID: 3/3 digest files\n"), "not a trailcheck result: not JSON: invalid character 'V' looking for beginning of value (at byte 1)"},
		{"cut short", write("short.json", string(goodData[:100])), "not a trailcheck result: the file ends (after 100 bytes) before the JSON document does"},
		{"an array", write("array.json", "[1, 2]"), "not a trailcheck result: a JSON array, not an object"},
		{"a wrong type", write("type.json", `{"schema_version": "1"}`), "not a trailcheck result: field schema_version: a JSON string, not int (at byte 22)"},
		{"no schema version", write("other.json", `{"PublicKeyList": []}`), "not a trailcheck result: no schema_version (save one with 'trailcheck validate --output json')"},
		{"another schema version", write("v2.json", v2), "schema_version 2 is not supported: this trailcheck reads version 1"},
		{"a bad verdict", write("verdict.json", badVerdict), `not a trailcheck result: verdict "maybe" is neither "valid" nor "invalid"`},
		{"two documents", write("two.json", string(goodData)+string(goodData)), "not a trailcheck result: more data after the JSON document (at byte "},
		{"too large", huge, "larger than 1073741824 bytes: not a trailcheck result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report.html")
			c := newCLI(nil)
			if code := c.run(t, "report", "--input", tt.file, "--output", out); code != exitFailed {
				t.Errorf("exit code %d, want %d", code, exitFailed)
			}
			got := c.errOut.String()
			want := "trailcheck: error: --input " + tt.file + ": " + tt.want
			if !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
				t.Errorf("stderr:\n got %q\nwant %q (one line)", got, want)
			}
			if c.out.Len() > 0 {
				t.Errorf("stdout: %q", c.out.String())
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a report was written: %v", err)
			}
		})
	}
}

func TestReportUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no input", []string{"report", "--output", "r.html"},
			"trailcheck: error: --input FILE is required: a saved JSON result\ntrailcheck: hint: save one with 'trailcheck validate … --output json > result.json'\n"},
		{"no output", []string{"report", "--input", "r.json"},
			"trailcheck: error: --output FILE is required\ntrailcheck: hint: for example --output report.html or --output report.md\n"},
		{"unknown extension", []string{"report", "--input", "r.json", "--output", "r.pdf"},
			"trailcheck: error: --output \"r.pdf\": the file name must end in .html, .htm, .md or .markdown\n"},
		{"an argument", []string{"report", "r.json"},
			"trailcheck: error: report takes no arguments, got \"r.json\"\ntrailcheck: hint: run 'trailcheck report --help' for usage\n"},
		{"unknown flag", []string{"report", "--format", "html"},
			"trailcheck: error: unknown flag: --format\ntrailcheck: hint: run 'trailcheck report --help' for usage\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(nil)
			if code := c.run(t, tt.args...); code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			if got := c.errOut.String(); got != tt.want {
				t.Errorf("stderr:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
