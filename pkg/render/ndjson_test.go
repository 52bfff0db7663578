package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/trailcheck/trailcheck/pkg/report"
)

func TestNDJSONGolden(t *testing.T) {
	for _, tc := range machineCases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := NDJSON(&buf, tc.report()); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".ndjson", buf.Bytes())
		})
	}
}

// TestNDJSONContract reads the lines back: every line is one JSON object
// with a type; chains and findings come back equal to the report's, in its
// order; the summary is last and carries what the JSON document's top
// level does.
func TestNDJSONContract(t *testing.T) {
	for _, tc := range machineCases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.report()
			var buf bytes.Buffer
			if err := NDJSON(&buf, r); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if want := len(r.Chains) + len(r.Findings) + 1; len(lines) != want {
				t.Fatalf("%d lines, want %d", len(lines), want)
			}
			var chains []report.Chain
			var findings []report.Finding
			for i, line := range lines {
				var head struct{ Type string }
				if err := json.Unmarshal([]byte(line), &head); err != nil {
					t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, line)
				}
				switch head.Type {
				case NDJSONChain:
					if len(findings) > 0 {
						t.Errorf("line %d: a chain after a finding", i+1)
					}
					var c report.Chain
					if err := json.Unmarshal([]byte(line), &c); err != nil {
						t.Fatal(err)
					}
					chains = append(chains, c)
				case NDJSONFinding:
					var f report.Finding
					if err := json.Unmarshal([]byte(line), &f); err != nil {
						t.Fatal(err)
					}
					findings = append(findings, f)
				case NDJSONSummary:
					if i != len(lines)-1 {
						t.Errorf("summary on line %d of %d", i+1, len(lines))
					}
					var s struct {
						SchemaVersion *int             `json:"schema_version"`
						Source        string           `json:"source"`
						Requested     *report.Interval `json:"requested"`
						Verdict       report.Verdict   `json:"verdict"`
						Summary       *report.Summary  `json:"summary"`
					}
					if err := json.Unmarshal([]byte(line), &s); err != nil {
						t.Fatal(err)
					}
					if s.SchemaVersion == nil || *s.SchemaVersion != report.SchemaVersion {
						t.Error("schema_version missing or wrong")
					}
					if s.Source != r.Source || s.Verdict != r.Verdict {
						t.Errorf("source %q verdict %q, want %q %q", s.Source, s.Verdict, r.Source, r.Verdict)
					}
					if s.Requested == nil || !s.Requested.Start.Equal(r.Requested.Start) || !s.Requested.End.Equal(r.Requested.End) {
						t.Errorf("requested %v, want %v", s.Requested, r.Requested)
					}
					if s.Summary == nil || s.Summary.Chains != r.Summary.Chains || s.Summary.Digests != r.Summary.Digests ||
						s.Summary.Logs != r.Summary.Logs || !reflect.DeepEqual(s.Summary.Findings, r.Summary.Findings) {
						t.Errorf("summary %+v, want %+v", s.Summary, r.Summary)
					}
				default:
					t.Errorf("line %d: type %q", i+1, head.Type)
				}
			}
			// What JSON reads back equals the report, but for the fields
			// the JSON document does not carry either.
			want := func(r *report.Report) ([]report.Chain, []report.Finding) {
				var js bytes.Buffer
				if err := JSON(&js, r); err != nil {
					t.Fatal(err)
				}
				var doc report.Report
				if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				return doc.Chains, doc.Findings
			}
			wantChains, wantFindings := want(r)
			if len(wantChains) == 0 {
				wantChains = nil
			}
			if len(wantFindings) == 0 {
				wantFindings = nil
			}
			if !reflect.DeepEqual(chains, wantChains) {
				t.Errorf("chains:\n got %+v\nwant %+v", chains, wantChains)
			}
			if !reflect.DeepEqual(findings, wantFindings) {
				t.Errorf("findings:\n got %+v\nwant %+v", findings, wantFindings)
			}
		})
	}
}

// recorder records each Write and each Flush.
type recorder struct {
	writes  []string
	flushes int
	events  []string
}

func (w *recorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	w.events = append(w.events, "write")
	return len(p), nil
}

func (w *recorder) Flush() error {
	w.flushes++
	w.events = append(w.events, "flush")
	return nil
}

// TestNDJSONStreams checks that each line is written whole, by itself, and
// flushed before the next is encoded.
func TestNDJSONStreams(t *testing.T) {
	r := invalidMix()
	var w recorder
	if err := NDJSON(&w, r); err != nil {
		t.Fatal(err)
	}
	n := len(r.Chains) + len(r.Findings) + 1
	if len(w.writes) != n || w.flushes != n {
		t.Fatalf("%d writes and %d flushes for %d lines", len(w.writes), w.flushes, n)
	}
	for i, s := range w.writes {
		if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !json.Valid([]byte(s)) {
			t.Errorf("write %d is not one JSON line: %q", i, s)
		}
		if w.events[2*i] != "write" || w.events[2*i+1] != "flush" {
			t.Errorf("events %v: not write, flush per line", w.events)
			break
		}
	}

	// Through a bufio.Writer (which has Flush): every line reaches the
	// underlying writer as it is produced.
	var under recorder
	bw := bufio.NewWriterSize(&under, 1<<16)
	if err := NDJSON(bw, r); err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != n {
		t.Errorf("%d writes reached the writer under a bufio.Writer, want %d", len(under.writes), n)
	}
}

func TestNDJSONEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := NDJSON(&buf, &report.Report{}); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"summary","schema_version":0,"source":"","requested":{"start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z"},"verdict":"","summary":{"chains":0,"digests":{"total":0,"valid":0,"invalid":0},"logs":{"total":0,"valid":0,"invalid":0},"findings":{}}}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}
}

func TestNDJSONWriteError(t *testing.T) {
	if err := NDJSON(failWriter{}, invalidMix()); err == nil {
		t.Error("no error from a failing writer")
	}
	if err := NDJSON(failWriter{}, &report.Report{}); err == nil {
		t.Error("empty report: no error from a failing writer")
	}
}
