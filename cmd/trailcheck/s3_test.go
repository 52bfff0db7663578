package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
)

// serveTrail generates cfg's trail, lets mutate change it, and serves it
// from a loopback stand-in with the environment pointing at it.
func serveTrail(t *testing.T, cfg trailgen.Config, mutate func(*trailgen.Trail)) (*standin.Server, *trailgen.Trail, standin.Trail) {
	t.Helper()
	tr, err := trailgen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(tr)
	}
	srv := standin.StartTest(t, standin.Options{})
	trail, err := srv.LoadTrail(context.Background(), tr, "gzip")
	if err != nil {
		t.Fatal(err)
	}
	return srv, tr, trail
}

func rangeArgs(tr *trailgen.Trail) []string {
	return []string{"--start-time", tr.Start.Format(time.RFC3339), "--end-time", tr.End.Format(time.RFC3339)}
}

func TestValidateTrailARN(t *testing.T) {
	_, tr, trail := serveTrail(t, trailgen.SampleConfig(), nil)
	c := newCLI(nil)
	code := c.run(t, append([]string{"validate", "--trail-arn", trail.ARN(), "--output", "json"}, rangeArgs(tr)...)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, c.out.String(), c.errOut.String())
	}
	var doc struct {
		Verdict string
		Summary struct {
			Chains int
			Logs   struct{ Total, Valid int }
		}
	}
	if err := json.Unmarshal(c.out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Verdict != "valid" || doc.Summary.Chains != 5 || doc.Summary.Logs.Valid != tr.LogFiles {
		t.Fatalf("%+v", doc)
	}
}

func TestValidateS3Tampered(t *testing.T) {
	var victim string
	_, _, trail := serveTrail(t, trailgen.SampleConfig(), func(tr *trailgen.Trail) {
		for _, d := range tr.Chains[2].Digests {
			if len(d.Logs) > 0 && victim == "" {
				victim = d.Logs[0]
			}
		}
		data, _, _ := tr.Store.Get(victim)
		tr.Store.Put(victim, append(append([]byte{}, data...), 0), nil)
	})
	c := newCLI(nil)
	code := c.run(t, "validate", "--trail-arn", trail.ARN(), "--start-time", trailgen.SampleStart.Format(time.RFC3339),
		"--end-time", trailgen.SampleEnd.Format(time.RFC3339), "--output", "text", "--color", "never")
	if code != 1 || !strings.Contains(c.out.String(), "log_trailing_data") || !strings.Contains(c.out.String(), victim) {
		t.Fatalf("exit %d\n%s\n%s", code, c.out.String(), c.errOut.String())
	}
}

func TestValidateS3AccessDenied(t *testing.T) {
	srv, tr, trail := serveTrail(t, trailgen.SampleConfig(), nil)
	srv.Inject(standin.Fault{Op: "ListObjectsV2", Kind: standin.AccessDenied, Times: 1000})
	c := newCLI(nil)
	code := c.run(t, append([]string{"validate", "--trail-arn", trail.ARN()}, rangeArgs(tr)...)...)
	if code != 3 || !strings.Contains(c.errOut.String(), "s3:ListBucket") || c.out.Len() != 0 {
		t.Fatalf("exit %d\nstdout %q\nstderr %s", code, c.out.String(), c.errOut.String())
	}
}

// TestFetchThenValidateDir: the evidence directory validates offline with
// no further flags, with the online run's result.
func TestFetchThenValidateDir(t *testing.T) {
	_, tr, trail := serveTrail(t, trailgen.SampleConfig(), nil)
	dir := filepath.Join(t.TempDir(), "evidence")
	c := newCLI(nil)
	if code := c.run(t, append([]string{"fetch", "--trail-arn", trail.ARN(), "--out", dir, "--output", "json"}, rangeArgs(tr)...)...); code != 0 {
		t.Fatalf("fetch: exit %d\n%s", code, c.errOut.String())
	}
	online := c.out.String()
	c2 := newCLI(nil)
	if code := c2.run(t, "validate", "--dir", dir, "--output", "json"); code != 0 {
		t.Fatalf("offline: exit %d\n%s\n%s", code, c2.out.String(), c2.errOut.String())
	}
	var a, b struct {
		Summary  json.RawMessage
		Findings json.RawMessage
	}
	json.Unmarshal([]byte(online), &a)
	json.Unmarshal(c2.out.Bytes(), &b)
	if string(a.Summary) != string(b.Summary) || string(a.Findings) != string(b.Findings) {
		t.Fatalf("offline differs:\n%s\n%s", a.Summary, b.Summary)
	}
}

// TestStateMetricsQuiet runs twice as cron would: the second run checks only
// what is new; --quiet prints nothing; the metrics file is written.
func TestStateMetricsQuiet(t *testing.T) {
	_, tr, trail := serveTrail(t, trailgen.SampleConfig(), nil)
	dir := t.TempDir()
	statePath, metricsPath := filepath.Join(dir, "state.json"), filepath.Join(dir, "trailcheck.prom")
	mid := trailgen.SampleStart.Add(30 * time.Hour)
	c := newCLI(nil)
	code := c.run(t, "validate", "--trail-arn", trail.ARN(), "--start-time", trailgen.SampleStart.Format(time.RFC3339),
		"--end-time", mid.Format(time.RFC3339), "--state", statePath, "--metrics-file", metricsPath, "--quiet")
	if code != 0 || c.out.Len() != 0 {
		t.Fatalf("first run: exit %d, stdout %q, stderr %s", code, c.out.String(), c.errOut.String())
	}
	m, err := os.ReadFile(metricsPath)
	if err != nil || !strings.Contains(string(m), "trailcheck_run_success 1") {
		t.Fatalf("metrics: %v\n%s", err, m)
	}
	c2 := newCLI(nil)
	code = c2.run(t, "validate", "--trail-arn", trail.ARN(), "--end-time", tr.End.Format(time.RFC3339),
		"--state", statePath, "--output", "json")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, c2.errOut.String())
	}
	var doc struct {
		Summary struct{ Digests struct{ Total int } }
	}
	json.Unmarshal(c2.out.Bytes(), &doc)
	// Each hourly chain's digests after the first run's (end+1h) coverage.
	if doc.Summary.Digests.Total == 0 || doc.Summary.Digests.Total >= 180 {
		t.Fatalf("second run examined %d digests; want only the new ones", doc.Summary.Digests.Total)
	}
	// A corrupt state file is an error naming it, not a full re-run.
	os.WriteFile(statePath, []byte("{"), 0o644)
	c3 := newCLI(nil)
	if code := c3.run(t, "validate", "--trail-arn", trail.ARN(), "--state", statePath); code != 3 || !strings.Contains(c3.errOut.String(), statePath) {
		t.Fatalf("corrupt state: exit %d %s", code, c3.errOut.String())
	}
}

func TestFailOn(t *testing.T) {
	c := newCLI(nil)
	args := []string{"validate", "--dir", "../../testdata/sample", "--public-keys", "../../testdata/sample/keys.json",
		"--signatures", "../../testdata/sample/signatures.json", "--start-time", trailgen.SampleStart.Format(time.RFC3339),
		"--end-time", trailgen.SampleEnd.Format(time.RFC3339), "--output", "json"}
	if code := c.run(t, args...); code != 0 {
		t.Fatalf("default policy: exit %d", code)
	}
	c = newCLI(nil)
	if code := c.run(t, append(args, "--fail-on", "default,chain_gap")...); code != 1 {
		t.Fatalf("--fail-on chain_gap: exit %d", code)
	}
	c = newCLI(nil)
	if code := c.run(t, append(args, "--fail-on", "gaps")...); code != 2 || !strings.Contains(c.errOut.String(), "not a finding kind") {
		t.Fatalf("bad kind: exit %d %s", code, c.errOut.String())
	}
}
