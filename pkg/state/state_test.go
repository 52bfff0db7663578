package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
)

func ref(end time.Time) report.DigestRef {
	return report.DigestRef{Object: "s3://b/k", End: end, Signature: "ab", SHA256: strings.Repeat("a", 64)}
}

func TestRoundTripAndAdvance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	h, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, ok, err := h.Load("s3://b"); ok || err != nil {
		t.Fatalf("first run: ok=%v err=%v", ok, err)
	}
	t0 := time.Date(2026, 1, 1, 0, 4, 4, 0, time.UTC)
	rep := &report.Report{Chains: []report.Chain{
		{ID: "good", Newest: ptr(ref(t0.Add(3 * time.Hour)))},
		{ID: "bad", Newest: ptr(ref(t0.Add(3 * time.Hour)))},
	}, Findings: []report.Finding{{Kind: report.LogMissing, Severity: report.Error, Chain: "bad"}}}
	prev := &File{Chains: map[string]report.DigestRef{"bad": ref(t0), "gone": ref(t0.Add(-time.Hour))}}
	next := Advance(prev, "s3://b", rep, t0.Add(4*time.Hour))
	if !next.Chains["good"].End.Equal(t0.Add(3*time.Hour)) || !next.Chains["bad"].End.Equal(t0) || !next.Chains["gone"].End.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("advance: %+v", next.Chains)
	}
	if err := h.Save(next); err != nil {
		t.Fatal(err)
	}
	got, ok, err := h.Load("s3://b")
	if err != nil || !ok || len(got.Chains) != 3 {
		t.Fatalf("load: %+v %v %v", got, ok, err)
	}
	if s, ok := got.Start(); !ok || !s.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("start %v %v", s, ok)
	}
	if _, _, err := h.Load("s3://other"); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("foreign source: %v", err)
	}
}

func ptr(r report.DigestRef) *report.DigestRef { return &r }

func TestLockedAgainstConcurrentRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	h, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	h.Close()
	h2, err := Open(path)
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	h2.Close()
}

func TestBadFilesNameTheFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"corrupt":    `{"kind": "trailcheck-state", `,
		"foreign":    `{"kind": "something-else", "schema_version": 1}`,
		"version":    `{"kind": "trailcheck-state", "schema_version": 99, "source": "s3://b"}`,
		"incomplete": `{"kind": "trailcheck-state", "schema_version": 1, "source": "s3://b", "chains": {"c": {"object": "x"}}}`,
	} {
		path := filepath.Join(dir, name+".json")
		os.WriteFile(path, []byte(content), 0o644)
		h, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, ok, err := h.Load("s3://b")
		h.Close()
		if err == nil || ok || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: ok=%v err=%v", name, ok, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing-dir", "s.json")); err == nil {
		t.Error("state in a missing directory accepted")
	}
}
