package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
)

func TestWrite(t *testing.T) {
	end := time.Date(2026, 11, 2, 23, 37, 12, 0, time.UTC)
	rep := &report.Report{
		Verdict: report.Invalid,
		Chains: []report.Chain{{ID: `o-1/111122223333/us-east-1/t"x`, Account: "111122223333", Region: "us-east-1", Trail: `t"x`,
			Digests: report.Counts{Total: 5, Valid: 4, Invalid: 1}, Logs: report.Counts{Total: 9, Valid: 9},
			Newest: &report.DigestRef{End: end}}},
		Findings: []report.Finding{{Kind: report.DigestMissing, Severity: report.Error, Chain: `o-1/111122223333/us-east-1/t"x`}},
	}
	path := filepath.Join(t.TempDir(), "trailcheck.prom")
	if err := WriteFile(path, rep, Run{Duration: 1500 * time.Millisecond, Completed: true, Finished: end}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	out := string(data)
	labels := `{chain="o-1/111122223333/us-east-1/t\"x",account="111122223333",region="us-east-1",trail="t\"x"`
	for _, want := range []string{
		"trailcheck_run_success 0\n",
		"trailcheck_run_completed 1\n",
		"trailcheck_run_duration_seconds 1.5\n",
		"trailcheck_chain_newest_verified_digest_end_timestamp_seconds" + labels + "} " + fmt.Sprint(end.Unix()) + "\n",
		"trailcheck_chain_digests_verified" + labels + "} 4\n",
		"trailcheck_chain_findings" + labels + `,kind="digest_missing"} 1` + "\n",
		"trailcheck_chain_findings" + labels + `,kind="log_missing"} 0` + "\n",
		"# TYPE trailcheck_chain_logs gauge\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// A run that could not complete still reports, as failed.
	var b strings.Builder
	Write(&b, nil, Run{Completed: false, Finished: end})
	if !strings.Contains(b.String(), "trailcheck_run_completed 0\n") || strings.Contains(b.String(), "trailcheck_chain_") {
		t.Fatalf("incomplete run:\n%s", b.String())
	}
}
