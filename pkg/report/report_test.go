package report

import (
	"testing"
)

func TestPolicy(t *testing.T) {
	r := &Report{Findings: []Finding{
		{Kind: ChainGap, Severity: Warning, Chain: "c"},
		{Kind: LogUnreferenced, Severity: Error, Chain: "c"},
		{Kind: KeyRegionUnchecked, Severity: Info, Chain: "c"},
	}}
	r.ApplyPolicy(DefaultFailOn())
	if r.Verdict != Invalid || r.Summary.Findings[Error] != 1 || r.Summary.Findings[Warning] != 1 || r.Summary.Findings[Info] != 1 {
		t.Fatalf("default: %s %+v", r.Verdict, r.Summary.Findings)
	}
	m, err := ParseFailOn([]string{"default", "-log_unreferenced"})
	if err != nil {
		t.Fatal(err)
	}
	r.ApplyPolicy(m)
	if r.Verdict != Valid || r.Summary.Findings[Warning] != 2 {
		t.Fatalf("without log_unreferenced: %s %+v", r.Verdict, r.Summary.Findings)
	}
	m, _ = ParseFailOn([]string{"chain_gap"})
	r.ApplyPolicy(m)
	if r.Verdict != Invalid || r.Findings[0].Kind != ChainGap || r.Findings[0].Severity != Error {
		t.Fatalf("gaps only: %+v", r.Findings)
	}
	if _, err := ParseFailOn([]string{"gaps"}); err == nil {
		t.Fatal("unknown kind accepted")
	}
}
