package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const bucket = "trail-bucket"

func ts(s string) time.Time {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func tp(s string) *time.Time { t := ts(s); return &t }

// trail builds hand-made chains and their objects the way the validator
// lays them out.
type trail struct {
	account, region, name, home string
	org                         string
}

func (tr trail) chain(backfill bool) report.Chain {
	id := tr.account + "/" + tr.region + "/" + tr.name
	if tr.org != "" {
		id = tr.org + "/" + id
	}
	c := report.Chain{ID: id, OrgID: tr.org, Account: tr.account, Region: tr.region, Trail: tr.name, HomeRegion: tr.home, Backfill: backfill}
	if backfill {
		c.ID += " (backfill)"
	}
	if tr.org == "" {
		c.TrailARN = "arn:aws:cloudtrail:" + tr.home + ":" + tr.account + ":trail/" + tr.name
	}
	return c
}

func (tr trail) base() string {
	b := "s3://" + bucket + "/AWSLogs/"
	if tr.org != "" {
		b += tr.org + "/"
	}
	return b + tr.account + "/"
}

// digestURI is the digest ending at end ("20240102T030405Z").
func (tr trail) digestURI(end string, backfill bool) string {
	t, _ := time.Parse("20060102T150405Z", end)
	suffix := ".json.gz"
	if backfill {
		suffix = "_backfill.json.gz"
	}
	return tr.base() + "CloudTrail-Digest/" + tr.region + "/" + t.Format("2006/01/02") + "/" + tr.account +
		"_CloudTrail-Digest_" + tr.region + "_" + tr.name + "_" + tr.home + "_" + end + suffix
}

// logURI is a log file delivered at hhmm ("20240102T0255Z").
func (tr trail) logURI(at, unique string) string {
	t, _ := time.Parse("20060102T1504Z", at)
	return tr.base() + "CloudTrail/" + tr.region + "/" + t.Format("2006/01/02") + "/" + tr.account +
		"_CloudTrail_" + tr.region + "_" + at + "_" + unique + ".json.gz"
}

func digestObj(c report.Chain, uri string, end time.Time, valid bool) report.ObjectResult {
	return report.ObjectResult{Chain: c.ID, Digest: true, Object: uri, Valid: valid, Order: report.Order{DigestEnd: end, LogIndex: -1}}
}

func logObj(c report.Chain, uri string, end time.Time, i int, valid bool) report.ObjectResult {
	return report.ObjectResult{Chain: c.ID, Object: uri, Valid: valid, Order: report.Order{DigestEnd: end, LogIndex: i}}
}

var (
	main1 = trail{account: "111122223333", region: "us-east-1", name: "management-events", home: "us-east-1"}
	main2 = trail{account: "111122223333", region: "eu-west-1", name: "management-events", home: "us-east-1"}
	org3  = trail{account: "444455556666", region: "us-east-1", name: "org-trail", home: "us-east-1", org: "o-a1b2c3d4e5"}
)

// allValid: three hourly digests, all valid, verbose.
func allValid() *report.Report {
	c := main1.chain(false)
	c.Digests = report.Counts{Total: 3, Valid: 3}
	c.Logs = report.Counts{Total: 4, Valid: 4}
	c.Verified = []report.Interval{{Start: ts("2024-01-02T00:04:05Z"), End: ts("2024-01-02T03:04:05Z")}}
	c.ValidFrom, c.ValidTo = tp("2024-01-02T00:04:05Z"), tp("2024-01-02T03:00:00Z")
	c.Keys = []string{"7f3f401420072e50a65a141430817ab3"}
	e1, e2, e3 := ts("2024-01-02T01:04:05Z"), ts("2024-01-02T02:04:05Z"), ts("2024-01-02T03:04:05Z")
	r := &report.Report{
		Source:    "dir:/srv/trail-bucket",
		Bucket:    bucket,
		Requested: report.Interval{Start: ts("2024-01-02T00:30:00Z"), End: ts("2024-01-02T03:00:00Z")},
		Chains:    []report.Chain{c},
		Keys:      []report.KeyInfo{{Fingerprint: "7f3f401420072e50a65a141430817ab3", Region: "us-east-1", ValidFrom: ts("2023-12-20T00:00:00Z"), ValidTo: ts("2024-01-20T00:00:00Z"), Encoding: "PKCS#1"}},
		Objects: []report.ObjectResult{
			digestObj(c, main1.digestURI("20240102T010405Z", false), e1, true),
			logObj(c, main1.logURI("20240102T0055Z", "AbCdEfGhIjKlMnOp"), e1, 0, true),
			digestObj(c, main1.digestURI("20240102T020405Z", false), e2, true),
			digestObj(c, main1.digestURI("20240102T030405Z", false), e3, true),
			logObj(c, main1.logURI("20240102T0250Z", "qRsTuVwXyZ012345"), e3, 0, true),
			logObj(c, main1.logURI("20240102T0255Z", "6789aBcDeFgHiJkL"), e3, 1, true),
			logObj(c, main1.logURI("20240102T0300Z", "mNoPqRsTuVwXyZ01"), e3, 2, true),
		},
	}
	r.Finalize()
	return r
}

// invalidMix: a tampered digest, a deleted digest, a log with the wrong
// hash, a deleted log, an unknown key, a broken link and an injected log.
func invalidMix() *report.Report {
	c := main1.chain(false)
	c.Digests = report.Counts{Total: 6, Valid: 2, Invalid: 4}
	c.Logs = report.Counts{Total: 6, Valid: 2, Invalid: 4}
	c.Verified = []report.Interval{{Start: ts("2024-01-02T04:04:05Z"), End: ts("2024-01-02T05:04:05Z")}}
	c.ValidFrom, c.ValidTo = tp("2024-01-02T00:04:05Z"), tp("2024-01-02T05:04:05Z")
	e := func(h string) time.Time { return ts("2024-01-02T0" + h + ":04:05Z") }
	d := func(h string) string { return main1.digestURI("20240102T0"+h+"0405Z", false) }
	l1 := main1.logURI("20240102T0450Z", "AAAAAAAAAAAAAAAA")
	l2 := main1.logURI("20240102T0455Z", "BBBBBBBBBBBBBBBB")
	l3 := main1.logURI("20240102T0150Z", "CCCCCCCCCCCCCCCC")
	l4 := main1.logURI("20240102T0155Z", "DDDDDDDDDDDDDDDD")
	r := &report.Report{
		Source:    "dir:/srv/trail-bucket",
		Bucket:    bucket,
		Requested: report.Interval{Start: ts("2024-01-02T00:00:00Z"), End: ts("2024-01-02T05:30:00Z")},
		Chains:    []report.Chain{c},
		Findings: []report.Finding{
			{Kind: report.LogHashMismatch, Severity: report.Error, Chain: c.ID, Object: l2, Time: tp("2024-01-02T05:04:05Z"), Order: report.Order{DigestEnd: e("5"), LogIndex: 1},
				Detail: "SHA-256 of the decompressed file is 0f1e2d, the digest says a1b2c3"},
			{Kind: report.DigestChainMismatch, Severity: report.Error, Chain: c.ID, Object: d("4"), Time: tp("2024-01-02T04:04:05Z"), Order: report.Order{DigestEnd: e("4"), LogIndex: -1},
				Detail: "previousDigestHashValue 00aa is not the SHA-256 of AWSLogs/…/x.json.gz (11bb)"},
			{Kind: report.DigestMissing, Severity: report.Error, Chain: c.ID, Object: d("3"), Time: tp("2024-01-02T03:04:05Z"), Order: report.Order{DigestEnd: e("3"), LogIndex: -1},
				Detail: "named as the previous digest of AWSLogs/…/20240102T040405Z.json.gz but not found"},
			{Kind: report.DigestSignatureInvalid, Severity: report.Error, Chain: c.ID, Object: d("2"), Time: tp("2024-01-02T02:04:05Z"), Order: report.Order{DigestEnd: e("2"), LogIndex: -1},
				Detail: "signature from its S3 metadata does not verify with key 7f3f401420072e50a65a141430817ab3"},
			{Kind: report.LogMissing, Severity: report.Error, Chain: c.ID, Object: l3, Time: tp("2024-01-02T01:04:05Z"), Order: report.Order{DigestEnd: e("1"), LogIndex: 0},
				Detail: "referenced by the digest but not found"},
			{Kind: report.LogTrailingData, Severity: report.Error, Chain: c.ID, Object: l4, Time: tp("2024-01-02T01:04:05Z"), Order: report.Order{DigestEnd: e("1"), LogIndex: 1},
				Detail: "data after the end of the gzip stream"},
			{Kind: report.DigestKeyNotFound, Severity: report.Error, Chain: c.ID, Object: d("0"), Time: tp("2024-01-02T00:04:05Z"), Order: report.Order{DigestEnd: e("0"), LogIndex: -1},
				Detail: "public key not found in region us-east-1 for fingerprint 0123456789abcdef0123456789abcdef"},
			{Kind: report.LogUnreferenced, Severity: report.Error, Chain: c.ID, Object: main1.logURI("20240102T0310Z", "EEEEEEEEEEEEEEEE"), Time: tp("2024-01-02T03:10:00Z"), Order: report.Order{LogIndex: 1 << 30},
				Detail: "log file delivered at 2024-01-02T03:10Z is listed in no digest file of the trail"},
			{Kind: report.KeyRegionUnchecked, Severity: report.Info, Chain: c.ID, Object: "s3://" + bucket + "/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/",
				Detail: "public keys came from a file that does not name their region; the region of the keys was not checked"},
		},
		Objects: []report.ObjectResult{
			digestObj(c, d("5"), e("5"), true),
			logObj(c, l1, e("5"), 0, true),
			logObj(c, l2, e("5"), 1, false),
			digestObj(c, d("4"), e("4"), false),
			digestObj(c, d("2"), e("2"), false),
			digestObj(c, d("1"), e("1"), true),
			logObj(c, l3, e("1"), 0, false),
			logObj(c, l4, e("1"), 1, false),
			logObj(c, main1.logURI("20240102T0158Z", "FFFFFFFFFFFFFFFF"), e("1"), 2, true),
			digestObj(c, d("0"), e("0"), false),
		},
	}
	r.Finalize()
	return r
}

// gap: logging stopped for two hours; the chain restarts.
func gap(failOnGap bool) *report.Report {
	c := main1.chain(false)
	c.Digests = report.Counts{Total: 3, Valid: 3}
	c.Logs = report.Counts{Total: 3, Valid: 3}
	c.Verified = []report.Interval{
		{Start: ts("2024-01-02T00:04:05Z"), End: ts("2024-01-02T01:04:05Z")},
		{Start: ts("2024-01-02T03:10:00Z"), End: ts("2024-01-02T05:10:00Z")},
	}
	c.Gaps = []report.Interval{{Start: ts("2024-01-02T01:04:05Z"), End: ts("2024-01-02T03:10:00Z")}}
	c.ValidFrom, c.ValidTo = tp("2024-01-02T00:04:05Z"), tp("2024-01-02T05:10:00Z")
	sev := report.Warning
	if failOnGap {
		sev = report.Error
	}
	e1, e2, e3 := ts("2024-01-02T01:04:05Z"), ts("2024-01-02T04:10:00Z"), ts("2024-01-02T05:10:00Z")
	restart := main1.digestURI("20240102T041000Z", false)
	r := &report.Report{
		Source:    "dir:/srv/trail-bucket",
		Bucket:    bucket,
		Requested: report.Interval{Start: ts("2024-01-02T00:00:00Z"), End: ts("2024-01-02T06:00:00Z")},
		Chains:    []report.Chain{c},
		Findings: []report.Finding{
			{Kind: report.ChainGap, Severity: sev, Chain: c.ID, Object: restart, Time: tp("2024-01-02T01:04:05Z"), Until: tp("2024-01-02T03:10:00Z"),
				Order:  report.Order{DigestEnd: e2, LogIndex: 1 << 30},
				Detail: "chain restarts: no digest between 2024-01-02T01:04:05Z and 2024-01-02T03:10:00Z (2h5m55s); logging or validation was stopped, or digests were removed"},
		},
		Objects: []report.ObjectResult{
			digestObj(c, main1.digestURI("20240102T010405Z", false), e1, true),
			logObj(c, main1.logURI("20240102T0100Z", "AAAAAAAAAAAAAAAA"), e1, 0, true),
			digestObj(c, restart, e2, true),
			logObj(c, main1.logURI("20240102T0400Z", "BBBBBBBBBBBBBBBB"), e2, 0, true),
			digestObj(c, main1.digestURI("20240102T051000Z", false), e3, true),
			logObj(c, main1.logURI("20240102T0500Z", "CCCCCCCCCCCCCCCC"), e3, 0, true),
		},
	}
	r.Finalize()
	return r
}

// backfill: a trail with a backfill chain; one backfill digest is missing.
func backfill() *report.Report {
	c := main1.chain(false)
	c.Digests = report.Counts{Total: 2, Valid: 2}
	c.Logs = report.Counts{Total: 2, Valid: 2}
	c.Verified = []report.Interval{{Start: ts("2024-01-02T00:04:05Z"), End: ts("2024-01-02T02:04:05Z")}}
	c.ValidFrom, c.ValidTo = tp("2024-01-02T00:04:05Z"), tp("2024-01-02T02:00:00Z")
	b := main1.chain(true)
	b.Digests = report.Counts{Total: 2, Valid: 1, Invalid: 1}
	b.Logs = report.Counts{Total: 1, Valid: 1}
	b.Verified = []report.Interval{{Start: ts("2024-01-01T23:30:00Z"), End: ts("2024-01-02T00:30:00Z")}}
	b.ValidFrom, b.ValidTo = tp("2024-01-02T00:00:00Z"), tp("2024-01-02T00:30:00Z")
	e1, e2 := ts("2024-01-02T01:04:05Z"), ts("2024-01-02T02:04:05Z")
	be1, be2 := ts("2024-01-02T00:30:00Z"), ts("2024-01-02T01:30:00Z")
	r := &report.Report{
		Source:    "dir:/srv/trail-bucket",
		Bucket:    bucket,
		Requested: report.Interval{Start: ts("2024-01-02T00:00:00Z"), End: ts("2024-01-02T02:00:00Z")},
		Chains:    []report.Chain{b, c},
		Findings: []report.Finding{
			{Kind: report.DigestMissing, Severity: report.Error, Chain: b.ID, Object: main1.digestURI("20240102T013000Z", true), Time: &be2,
				Order: report.Order{DigestEnd: be2, LogIndex: -1}, Detail: "listed but could not be read: not found"},
		},
		Objects: []report.ObjectResult{
			digestObj(c, main1.digestURI("20240102T010405Z", false), e1, true),
			logObj(c, main1.logURI("20240102T0100Z", "AAAAAAAAAAAAAAAA"), e1, 0, true),
			digestObj(c, main1.digestURI("20240102T020405Z", false), e2, true),
			logObj(c, main1.logURI("20240102T0200Z", "BBBBBBBBBBBBBBBB"), e2, 0, true),
			digestObj(b, main1.digestURI("20240102T003000Z", true), be1, true),
			logObj(b, main1.logURI("20240101T2340Z", "CCCCCCCCCCCCCCCC"), be1, 0, true),
		},
	}
	r.Finalize()
	return r
}

// noDigests: nothing at all in the range.
func noDigests() *report.Report {
	r := &report.Report{
		Source:    "dir:/srv/empty",
		Requested: report.Interval{Start: ts("2024-01-02T00:00:00Z"), End: ts("2024-01-03T00:00:00Z")},
		Findings: []report.Finding{{Kind: report.NoDigests, Severity: report.Error, Object: "s3://unknown-bucket/AWSLogs/",
			Detail: "no CloudTrail digests or log files found for 2024-01-02T00:00:00Z to 2024-01-03T00:00:00Z"}},
	}
	r.Finalize()
	return r
}

// severalChains: two regions of a multi-region trail (one with its newest
// digests deleted) and a member account of an organization trail that has
// log files but no digests.
func severalChains() *report.Report {
	a := main1.chain(false)
	a.Digests = report.Counts{Total: 2, Valid: 2}
	a.Logs = report.Counts{Total: 1, Valid: 1}
	a.Verified = []report.Interval{{Start: ts("2024-01-02T00:04:05Z"), End: ts("2024-01-02T02:04:05Z")}}
	a.ValidFrom, a.ValidTo = tp("2024-01-02T00:04:05Z"), tp("2024-01-02T02:00:00Z")
	b := main2.chain(false)
	b.Digests = report.Counts{Total: 1, Valid: 1}
	b.Logs = report.Counts{Total: 1, Valid: 1}
	b.Verified = []report.Interval{{Start: ts("2024-01-01T23:06:10Z"), End: ts("2024-01-02T00:06:10Z")}}
	b.ValidFrom, b.ValidTo = tp("2024-01-02T00:00:00Z"), tp("2024-01-02T00:06:10Z")
	o := report.Chain{ID: org3.org + "/" + org3.account + "/" + org3.region + "/-", OrgID: org3.org, Account: org3.account, Region: org3.region,
		Logs: report.Counts{Total: 2, Invalid: 2}}
	e1, e2 := ts("2024-01-02T01:04:05Z"), ts("2024-01-02T02:04:05Z")
	be := ts("2024-01-02T00:06:10Z")
	r := &report.Report{
		Source:    "dir:/srv/trail-bucket",
		Bucket:    bucket,
		Requested: report.Interval{Start: ts("2024-01-02T00:00:00Z"), End: ts("2024-01-02T02:00:00Z")},
		Chains:    []report.Chain{b, a, o},
		Findings: []report.Finding{
			{Kind: report.ChainTruncated, Severity: report.Error, Chain: b.ID, Object: main2.digestURI("20240102T010610Z", false), Time: &be, Until: tp("2024-01-02T02:00:00Z"),
				Order:  report.Order{DigestEnd: ts("2024-01-02T01:06:10Z"), LogIndex: -1},
				Detail: "no digest after 2024-01-02T00:06:10Z: hourly digests were due up to 2024-01-02T02:00:00Z (about 1 missing); the newest digests were deleted or logging stopped"},
			{Kind: report.NoDigests, Severity: report.Error, Chain: o.ID, Object: org3.base() + "CloudTrail-Digest/us-east-1/",
				Detail: "2 log files between 2024-01-02T00:05:00Z and 2024-01-02T01:05:00Z but no digest file: none of them can be verified"},
		},
		Objects: []report.ObjectResult{
			digestObj(a, main1.digestURI("20240102T010405Z", false), e1, true),
			digestObj(a, main1.digestURI("20240102T020405Z", false), e2, true),
			logObj(a, main1.logURI("20240102T0200Z", "AAAAAAAAAAAAAAAA"), e2, 0, true),
			digestObj(b, main2.digestURI("20240102T000610Z", false), be, true),
			logObj(b, main2.logURI("20240102T0000Z", "BBBBBBBBBBBBBBBB"), be, 0, true),
		},
	}
	r.Finalize()
	return r
}

var cases = []struct {
	name    string
	report  func() *report.Report
	verbose bool
}{
	{"all-valid-verbose", allValid, true},
	{"all-valid", allValid, false},
	{"invalid", invalidMix, false},
	{"invalid-verbose", invalidMix, true},
	{"gap", func() *report.Report { return gap(false) }, false},
	{"gap-verbose", func() *report.Report { return gap(false) }, true},
	{"gap-fail", func() *report.Report { return gap(true) }, false},
	{"backfill-verbose", backfill, true},
	{"no-digests", noDigests, false},
	{"several-chains", severalChains, false},
	{"several-chains-verbose", severalChains, true},
}

func TestGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.report()

			var text bytes.Buffer
			if err := Text(&text, r, TextOptions{Verbose: tc.verbose}); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".text", text.Bytes())

			var out, errOut, both bytes.Buffer
			if err := AWS(&out, &errOut, r, AWSOptions{Verbose: tc.verbose}); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".aws-stdout", out.Bytes())
			golden(t, tc.name+".aws-stderr", errOut.Bytes())
			// Both streams to one terminal, as a user sees them: checks
			// the AWS CLI's blank-line logic across the two.
			if err := AWS(&both, &both, r, AWSOptions{Verbose: tc.verbose}); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".aws-terminal", both.Bytes())

			if !tc.verbose {
				var js bytes.Buffer
				if err := JSON(&js, r); err != nil {
					t.Fatal(err)
				}
				golden(t, tc.name+".json", js.Bytes())
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestTextColor(t *testing.T) {
	var plain, colored bytes.Buffer
	r := invalidMix()
	if err := Text(&plain, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Text(&colored, r, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("escape codes in the output with color off")
	}
	if !strings.Contains(colored.String(), "\x1b[31;1mINVALID\x1b[") {
		t.Errorf("no red INVALID with color on:\n%q", colored.String())
	}
	// Color only adds escape codes: removing them gives the plain text,
	// so colors do not break the column alignment either.
	if got := stripANSI(colored.String()); got != plain.String() {
		t.Errorf("colored output without escapes differs from plain output:\n%s\n---\n%s", got, plain.String())
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestPaletteOff(t *testing.T) {
	p := palette{}
	for _, f := range []func(string) string{p.bold, p.red, p.green, p.yellow, p.faint} {
		if got := f("x"); got != "x" {
			t.Errorf("color off: got %q", got)
		}
	}
}

// TestJSONContract checks the fields scripts rely on.
func TestJSONContract(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, invalidMix()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion *int `json:"schema_version"`
		Requested     *struct {
			Start, End *time.Time
		} `json:"requested"`
		Verdict string `json:"verdict"`
		Summary struct {
			Digests, Logs *struct{ Total, Valid, Invalid *int }
		} `json:"summary"`
		Chains []struct {
			Digests, Logs *struct{ Total, Valid, Invalid *int }
		} `json:"chains"`
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion == nil || *doc.SchemaVersion != report.SchemaVersion {
		t.Error("schema_version missing or wrong")
	}
	if doc.Requested == nil || doc.Requested.Start == nil || doc.Requested.End == nil {
		t.Error("requested.start/end missing")
	}
	if doc.Verdict != "invalid" {
		t.Errorf("verdict = %q", doc.Verdict)
	}
	for name, c := range map[string]*struct{ Total, Valid, Invalid *int }{"summary.digests": doc.Summary.Digests, "summary.logs": doc.Summary.Logs} {
		if c == nil || c.Total == nil || c.Valid == nil || c.Invalid == nil {
			t.Errorf("%s lacks total/valid/invalid", name)
		}
	}
	if len(doc.Chains) != 1 || doc.Chains[0].Digests == nil || doc.Chains[0].Logs == nil {
		t.Error("per-chain counts missing")
	}
	if len(doc.Findings) == 0 {
		t.Fatal("no findings")
	}
	for _, f := range doc.Findings {
		for _, k := range []string{"kind", "severity", "object", "detail"} {
			if _, ok := f[k]; !ok {
				t.Errorf("finding lacks %s: %v", k, f)
			}
		}
	}

	// An empty report still has [] for its lists.
	buf.Reset()
	if err := JSON(&buf, &report.Report{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"findings": []`) || !strings.Contains(buf.String(), `"chains": []`) {
		t.Errorf("empty lists not written as []:\n%s", buf.String())
	}
}

// TestDeterministic renders the same report twice, with its lists
// shuffled in between: Finalize's order makes the output identical.
func TestDeterministic(t *testing.T) {
	for _, tc := range cases {
		r1, r2 := tc.report(), tc.report()
		reverse(r2.Findings)
		reverse(r2.Chains)
		reverse(r2.Objects)
		r2.Finalize()
		for _, render := range []func(*report.Report) string{
			func(r *report.Report) string { var b bytes.Buffer; JSON(&b, r); return b.String() },
			func(r *report.Report) string {
				var b bytes.Buffer
				Text(&b, r, TextOptions{Verbose: true})
				return b.String()
			},
			func(r *report.Report) string {
				var b bytes.Buffer
				AWS(&b, &b, r, AWSOptions{Verbose: true})
				return b.String()
			},
		} {
			if a, b := render(r1), render(r2); a != b {
				t.Errorf("%s: output depends on input order:\n%s\n---\n%s", tc.name, a, b)
			}
		}
	}
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriteErrors(t *testing.T) {
	r := invalidMix()
	if err := Text(failWriter{}, r, TextOptions{}); err == nil {
		t.Error("Text: no error from a failing writer")
	}
	if err := JSON(failWriter{}, r); err == nil {
		t.Error("JSON: no error from a failing writer")
	}
	if err := AWS(failWriter{}, &bytes.Buffer{}, r, AWSOptions{}); err == nil {
		t.Error("AWS: no error from a failing stdout")
	}
	if err := AWS(&bytes.Buffer{}, failWriter{}, r, AWSOptions{}); err == nil {
		t.Error("AWS: no error from a failing stderr")
	}
}

func TestAWSFindingLine(t *testing.T) {
	normal := main1.chain(false)
	normal.HomeRegion = "eu-central-1" // a non-home region's chain
	normal.Region = "us-east-1"
	bf := main1.chain(true)
	d := main1.digestURI("20240102T010405Z", false)
	l := main1.logURI("20240102T0100Z", "AAAAAAAAAAAAAAAA")
	tests := []struct {
		name  string
		f     report.Finding
		chain *report.Chain
		want  string // "" for no line
	}{
		{"key not found names the home region, as the AWS CLI does",
			report.Finding{Kind: report.DigestKeyNotFound, Severity: report.Error, Object: d, Detail: "public key not found in region us-east-1 for fingerprint 0123456789ABCDEF0123456789abcdef"},
			&normal, "Digest file\t" + d + "\tINVALID: public key not found in region eu-central-1 for fingerprint 0123456789ABCDEF0123456789abcdef"},
		{"key outside its window",
			report.Finding{Kind: report.DigestKeyNotFound, Severity: report.Error, Object: d, Detail: "public key 0123456789abcdef0123456789abcdef of region us-east-1 is valid from A to B, which does not cover C"},
			&normal, "Digest file\t" + d + "\tINVALID: public key not found in region eu-central-1 for fingerprint 0123456789abcdef0123456789abcdef"},
		{"key not found without a fingerprint falls back to the detail",
			report.Finding{Kind: report.DigestKeyNotFound, Severity: report.Error, Object: d, Detail: "no key"},
			&normal, "Digest file\t" + d + "\tINVALID: no key"},
		{"backfill digest",
			report.Finding{Kind: report.DigestInvalidFormat, Severity: report.Error, Object: d, Detail: "x"},
			&bf, "(backfill) Digest file\t" + d + "\tINVALID: invalid format"},
		{"backfill log has no prefix",
			report.Finding{Kind: report.LogHashMismatch, Severity: report.Error, Object: l, Detail: "x"},
			&bf, "Log file\t" + l + "\tINVALID: hash value doesn't match"},
		{"moved",
			report.Finding{Kind: report.DigestMoved, Severity: report.Error, Object: d, Detail: "x"},
			&normal, "Digest file\t" + d + "\tINVALID: has been moved from its original location"},
		{"unanchored",
			report.Finding{Kind: report.DigestUnanchored, Severity: report.Error, Object: d, Detail: "x"},
			&normal, "Digest file\t" + d + "\tINVALID: signature verification failed"},
		{"unreadable log",
			report.Finding{Kind: report.ObjectUnreadable, Severity: report.Error, Object: l, Detail: "read: connection reset"},
			&normal, "Log file\t" + l + "\tINVALID: read: connection reset"},
		{"unreadable digest",
			report.Finding{Kind: report.ObjectUnreadable, Severity: report.Error, Object: d, Detail: "read: connection reset"},
			&normal, "Digest file\t" + d + "\tINVALID: read: connection reset"},
		{"backfill gap",
			report.Finding{Kind: report.ChainGap, Severity: report.Warning, Object: d, Time: tp("2024-01-02T01:00:00Z"), Until: tp("2024-01-02T03:00:00Z")},
			&bf, "(backfill) No log files were delivered by CloudTrail between 2024-01-02T01:00:00Z and 2024-01-02T03:00:00Z"},
		{"warning of another kind",
			report.Finding{Kind: report.LogUnreferenced, Severity: report.Warning, Object: l, Detail: "x"},
			&normal, ""},
		{"note",
			report.Finding{Kind: report.KeyRegionUnchecked, Severity: report.Info, Object: d, Detail: "x"},
			&normal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := awsFindingLine(tt.f, tt.chain)
			if !ok {
				got = ""
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestAWSTrailARN(t *testing.T) {
	r := severalChains()
	var out bytes.Buffer
	if err := AWS(&out, io.Discard, r, AWSOptions{TrailARN: "arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail"}); err != nil {
		t.Fatal(err)
	}
	// The chains with an ARN keep it; the organization chain takes the
	// one given.
	want := []string{
		"arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events",
		"arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events",
		"arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail",
	}
	var got []string
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "Validating log files for trail "); ok {
			got = append(got, strings.Fields(rest)[0])
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("startup ARNs = %q, want %q", got, want)
	}
	for region, want := range map[string]string{"cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "eu-west-1": "aws"} {
		if got := partition(region); got != want {
			t.Errorf("partition(%s) = %s, want %s", region, got, want)
		}
	}
}
