package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the harness run this test binary as its own subcommands
// (bench limit, bench validate): it marks those children with childEnv.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(dispatch(os.Args[1:]))
	}
	os.Exit(m.Run())
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestQuickPlumbing runs every scenario of the quick mode end to end at
// tiny sizes, with this test binary as trailcheck (the library fallback)
// and as `bench limit`, and checks the report it writes. Timings are not
// checked; every run's result is (all valid, right counts), by the harness.
func TestQuickPlumbing(t *testing.T) {
	o := defaultOptions(true)
	o.BuildSelf, o.Trailcheck, o.AWS, o.Hyperfine = false, "self", "no", false
	o.Work = t.TempDir()
	o.Out = filepath.Join(t.TempDir(), "docs", "performance.md")
	o.Runs, o.StartupRuns = 1, 2
	o.Latency = time.Millisecond
	o.S3Hours, o.S3LogsPerHour, o.S3Workers = 3, 2, []int{0, 4}
	o.LocalFiles, o.LocalLogSize = 4, 64<<10
	o.ScaleSizes = []int{40, 80}
	o.Log = logWriter{t}
	// Children built with -race would each sleep a second at exit.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := runHarness(ctx, o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, want := range []string{
		"# Performance", "Quick mode", "## Results at a glance", "## Machine", "## How to reproduce",
		"## 1. S3", "| trailcheck (default workers) |", "| trailcheck --workers 4 |",
		"## 2. Local copy", "| limit klauspost, ", "| limit stdlib, ", "Share of the limit",
		"## 3. Scale", "| 48 | 4 |", "| 96 | 4 |",
		"## 4. Startup", "validate --dir testdata/sample",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(doc, "FAILED") {
		t.Errorf("a scenario failed:\n%s", doc)
	}
	if t.Failed() {
		t.Logf("report:\n%s", doc)
	}
}

func TestParseInts(t *testing.T) {
	if got, err := parseInts("10_000, 100000"); err != nil || len(got) != 2 || got[0] != 10000 {
		t.Fatalf("parseInts = %v, %v", got, err)
	}
	if _, err := parseInts("x"); err == nil {
		t.Fatal("parseInts accepted x")
	}
}
