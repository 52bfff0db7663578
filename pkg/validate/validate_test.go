package validate

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
)

// cleanConfig is a trail with no stops: two regions, empty hours, a key
// rotation inside the period.
func cleanConfig() trailgen.Config {
	cfg := trailgen.DefaultConfig()
	cfg.Regions = []string{"us-east-1", "eu-west-1"}
	cfg.Hours = 30
	cfg.LogsPerHourMin, cfg.LogsPerHourMax = 0, 3
	cfg.KeyAnchor = cfg.Start.Add(15*time.Hour + 17*time.Minute)
	return cfg
}

func generate(t *testing.T, cfg trailgen.Config) *trailgen.Trail {
	t.Helper()
	tr, err := trailgen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func optionsFor(tr *trailgen.Trail) Options {
	return Options{Start: tr.Start, End: tr.End, Keys: tr.KeySet(), Now: func() time.Time { return tr.End.Add(20 * time.Minute) }}
}

func run(t *testing.T, st store.Store, opts Options) *report.Report {
	t.Helper()
	rep, err := Run(context.Background(), st, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// kinds returns the distinct kinds of findings with severity error or warning.
func kinds(rep *report.Report) []string {
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity != report.Info {
			seen[string(f.Kind)] = true
		}
	}
	out := []string{}
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dump(rep *report.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "  %s %s %s: %s\n", f.Severity, f.Kind, f.Object, f.Detail)
	}
	return b.String()
}

// chainDigests returns the generated digests of the first hourly chain of region.
func chainDigests(t *testing.T, tr *trailgen.Trail, region string) []*trailgen.DigestInfo {
	t.Helper()
	for _, c := range tr.Chains {
		if c.ID.Region == region && !c.ID.Backfill {
			return c.Digests
		}
	}
	t.Fatalf("no chain in %s", region)
	return nil
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func get(t *testing.T, m *store.Mem, key string) ([]byte, store.Meta) {
	t.Helper()
	data, meta, ok := m.Get(key)
	if !ok {
		t.Fatalf("no object %s", key)
	}
	return data, meta
}

// emptyMiddle returns a digest in the middle of ds that lists no log file.
func emptyMiddle(t *testing.T, ds []*trailgen.DigestInfo) int {
	t.Helper()
	for i := 2; i < len(ds)-2; i++ {
		if len(ds[i].Logs) == 0 {
			return i
		}
	}
	t.Fatal("no empty hour in the middle of the chain; change the seed")
	return 0
}

func withLogs(t *testing.T, ds []*trailgen.DigestInfo) int {
	t.Helper()
	for i := len(ds) / 2; i < len(ds); i++ {
		if len(ds[i].Logs) > 0 {
			return i
		}
	}
	t.Fatal("no digest with logs")
	return 0
}

func TestCleanTrailHasNoFindings(t *testing.T) {
	tr := generate(t, cleanConfig())
	rep := run(t, tr.Store, optionsFor(tr))
	if len(rep.Findings) != 0 || rep.Verdict != report.Valid {
		t.Fatalf("clean trail: verdict %s\n%s", rep.Verdict, dump(rep))
	}
	if rep.Summary.Digests.Total != 60 || rep.Summary.Digests.Valid != 60 {
		t.Fatalf("digests %+v, want 60 valid", rep.Summary.Digests)
	}
	if rep.Summary.Logs.Total != tr.LogFiles || rep.Summary.Logs.Valid != tr.LogFiles {
		t.Fatalf("logs %+v, want %d valid", rep.Summary.Logs, tr.LogFiles)
	}
	if len(rep.Keys) < 3 {
		t.Fatalf("expected a key rotation: keys used %+v", rep.Keys)
	}
	for _, c := range rep.Chains {
		if len(c.Verified) != 1 || !c.Verified[0].Start.Equal(tr.Start) || !c.Verified[0].End.Equal(tr.End) {
			t.Errorf("chain %s verified %+v, want one interval %s..%s", c.ID, c.Verified, tr.Start, tr.End)
		}
		if c.Newest == nil || !c.Newest.End.Equal(tr.End) {
			t.Errorf("chain %s newest %+v", c.ID, c.Newest)
		}
	}
}

func TestSampleTrail(t *testing.T) {
	tr := generate(t, trailgen.SampleConfig())
	opts := Options{Start: trailgen.SampleStart, End: trailgen.SampleEnd, Keys: tr.KeySet()}
	rep := run(t, tr.Store, opts)
	if got := kinds(rep); strings.Join(got, ",") != "chain_gap" || rep.Verdict != report.Valid {
		t.Fatalf("sample: kinds %v verdict %s\n%s", got, rep.Verdict, dump(rep))
	}
	if rep.Summary.Chains != 5 { // 2 accounts x 2 regions + 1 backfill chain
		t.Fatalf("chains = %d, want 5", rep.Summary.Chains)
	}
	if rep.Summary.Digests.Invalid != 0 || rep.Summary.Logs.Invalid != 0 || rep.Summary.Logs.Total != tr.LogFiles {
		t.Fatalf("summary %+v (trail has %d logs)", rep.Summary, tr.LogFiles)
	}
	opts.FailOnGap = true
	if rep := run(t, tr.Store, opts); rep.Verdict != report.Invalid {
		t.Fatal("--fail-on-gap did not fail the run")
	}
	// Narrowing by account and region.
	opts.FailOnGap = false
	opts.Accounts, opts.Regions = []string{"739104628153"}, []string{"eu-west-1"}
	if rep := run(t, tr.Store, opts); rep.Summary.Chains != 1 || rep.Chains[0].Account != "739104628153" || rep.Chains[0].Region != "eu-west-1" {
		t.Fatalf("narrowed run: %+v", rep.Chains)
	}
}

// TestTamperMatrix applies one mutation per row to a clean trail and expects
// exactly the listed finding kinds.
func TestTamperMatrix(t *testing.T) {
	type mutation func(t *testing.T, tr *trailgen.Trail, opts *Options)
	rows := []struct {
		name   string
		mutate mutation
		want   []string
		count  map[string]int // exact counts where it matters
	}{
		{"delete a digest", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "us-east-1")
			tr.Store.Delete(ds[emptyMiddle(t, ds)].Key)
		}, []string{"digest_missing"}, map[string]int{"digest_missing": 1}},
		{"delete three digests in a row", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "eu-west-1")
			i := len(ds) / 2
			for j := i; j < i+3; j++ {
				tr.Store.Delete(ds[j].Key)
				for _, l := range ds[j].Logs {
					tr.Store.Delete(l)
				}
			}
		}, []string{"digest_missing"}, map[string]int{"digest_missing": 3}},
		{"corrupt a digest", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "us-east-1")
			d := ds[emptyMiddle(t, ds)]
			_, meta := get(t, tr.Store, d.Key)
			tr.Store.Put(d.Key, gz([]byte(`{"not":"a digest"}`)), meta)
		}, []string{"digest_invalid_format"}, nil},
		{"edit the newest digest", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "us-east-1")
			d := ds[len(ds)-1]
			data, meta := get(t, tr.Store, d.Key)
			raw := gunzip(t, data)
			edited := bytes.Replace(raw, []byte(`"digestStartTime":"`), []byte(`"digestStartTime" :"`), 1)
			tr.Store.Put(d.Key, gz(edited), meta)
		}, []string{"digest_signature_invalid"}, map[string]int{"digest_signature_invalid": 1}},
		{"strip the newest digest's signature", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "eu-west-1")
			d := ds[len(ds)-1]
			data, _ := get(t, tr.Store, d.Key)
			tr.Store.Put(d.Key, data, store.Meta{"signature-algorithm": "SHA256withRSA"})
		}, []string{"digest_unanchored"}, map[string]int{"digest_unanchored": 1}},
		{"move the newest digest", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "us-east-1")
			d := ds[len(ds)-1]
			data, meta := get(t, tr.Store, d.Key)
			info, _ := digest.ParseDigestKey(d.Key)
			tr.Store.Delete(d.Key)
			tr.Store.Put(info.Chain.DigestKey(d.End.Add(30*time.Minute)), data, meta)
		}, []string{"digest_moved"}, map[string]int{"digest_moved": 1}},
		{"key of another region", func(t *testing.T, tr *trailgen.Trail, opts *Options) {
			var ks []*keys.Key
			for _, k := range tr.Keys {
				c := *k
				if c.Region == "eu-west-1" {
					c.Region = "ap-south-1"
				}
				ks = append(ks, &c)
			}
			opts.Keys = keys.NewSet(ks...)
		}, []string{"digest_key_not_found"}, map[string]int{"digest_key_not_found": 30}},
		{"re-signed digest with a wrong previous hash", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			forgeNewest(t, tr, "us-east-1", func(raw []byte) []byte {
				i := bytes.Index(raw, []byte(`"previousDigestHashValue":"`)) + len(`"previousDigestHashValue":"`)
				out := append([]byte{}, raw...)
				out[i] ^= 1 // '0'..'9' and 'a'..'f' stay hex-ish; still a different hash
				if out[i] < '0' || (out[i] > '9' && out[i] < 'a') || out[i] > 'f' {
					out[i] = '0'
					if raw[i] == '0' {
						out[i] = '1'
					}
				}
				return out
			})
		}, []string{"digest_chain_mismatch"}, map[string]int{"digest_chain_mismatch": 1}},
		{"re-signed digest that does not start where its predecessor ends", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			forgeNewest(t, tr, "eu-west-1", func(raw []byte) []byte {
				var d struct{ DigestStartTime string }
				json.Unmarshal(raw, &d)
				st, _ := time.Parse(digest.TimeLayout, d.DigestStartTime)
				return bytes.Replace(raw, []byte(d.DigestStartTime), []byte(st.Add(time.Minute).Format(digest.TimeLayout)), 1)
			})
		}, []string{"digest_chain_mismatch"}, map[string]int{"digest_chain_mismatch": 1}},
		{"delete the newest digests", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "eu-west-1")
			for _, d := range ds[len(ds)-3:] {
				tr.Store.Delete(d.Key)
			}
		}, []string{"chain_truncated"}, map[string]int{"chain_truncated": 1}},
		{"delete every digest of a region", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			for _, d := range chainDigests(t, tr, "eu-west-1") {
				tr.Store.Delete(d.Key)
			}
		}, []string{"no_digests"}, map[string]int{"no_digests": 1}},
		{"delete a log file", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "us-east-1")
			tr.Store.Delete(ds[withLogs(t, ds)].Logs[0])
		}, []string{"log_missing"}, map[string]int{"log_missing": 1}},
		{"edit a log file", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "us-east-1")
			key := ds[withLogs(t, ds)].Logs[0]
			data, _ := get(t, tr.Store, key)
			raw := gunzip(t, data)
			tr.Store.Put(key, gz(bytes.Replace(raw, []byte(`"eventName":"`), []byte(`"eventName":"x`), 1)), nil)
		}, []string{"log_hash_mismatch"}, map[string]int{"log_hash_mismatch": 1}},
		{"truncate a log file", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "eu-west-1")
			key := ds[withLogs(t, ds)].Logs[0]
			data, _ := get(t, tr.Store, key)
			tr.Store.Put(key, data[:len(data)-5], nil)
		}, []string{"log_invalid_format"}, map[string]int{"log_invalid_format": 1}},
		{"append to a log file", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "eu-west-1")
			key := ds[withLogs(t, ds)].Logs[0]
			data, _ := get(t, tr.Store, key)
			extra := gz([]byte(`{"Records":[{"eventName":"Injected"}]}`))
			tr.Store.Put(key, append(append([]byte{}, data...), extra...), nil)
		}, []string{"log_trailing_data"}, map[string]int{"log_trailing_data": 1}},
		{"inject a log file", func(t *testing.T, tr *trailgen.Trail, _ *Options) {
			ds := chainDigests(t, tr, "us-east-1")
			d := ds[len(ds)/2]
			info, _ := digest.ParseDigestKey(d.Key)
			ts := d.Start.Add(10 * time.Minute)
			key := info.Chain.LogRegionPrefix() + digest.DayFolder(ts) + fmt.Sprintf("%s_CloudTrail_%s_%s_AAAAAAAAAAAAAAAA.json.gz",
				info.Chain.Account, info.Chain.Region, ts.Format(digest.LogKeyTimeLayout))
			tr.Store.Put(key, gz([]byte(`{"Records":[]}`)), nil)
		}, []string{"log_unreferenced"}, map[string]int{"log_unreferenced": 1}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			tr := generate(t, cleanConfig())
			opts := optionsFor(tr)
			row.mutate(t, tr, &opts)
			rep := run(t, tr.Store, opts)
			if got := kinds(rep); strings.Join(got, ",") != strings.Join(row.want, ",") {
				t.Fatalf("kinds %v, want %v\n%s", got, row.want, dump(rep))
			}
			if rep.Verdict != report.Invalid {
				t.Fatalf("verdict %s", rep.Verdict)
			}
			for k, n := range row.count {
				if got := rep.Summary.ByKind[report.Kind(k)]; got != n {
					t.Fatalf("%d %s findings, want %d\n%s", got, k, n, dump(rep))
				}
			}
		})
	}
}

// forgeNewest rewrites the newest digest of region's chain with edit and
// signs it again with the trail's test key: what only a key holder could do,
// so that the link checks (not the signature) must catch it.
func forgeNewest(t *testing.T, tr *trailgen.Trail, region string, edit func([]byte) []byte) {
	t.Helper()
	ds := chainDigests(t, tr, region)
	d := ds[len(ds)-1]
	data, meta := get(t, tr.Store, d.Key)
	raw := edit(gunzip(t, data))
	if bytes.Equal(raw, gunzip(t, data)) {
		t.Fatal("edit changed nothing")
	}
	parsed, err := digest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := tr.Sign(region, parsed.End, parsed.SigningString())
	if err != nil {
		t.Fatal(err)
	}
	m := store.Meta{}
	for k, v := range meta {
		m[k] = v
	}
	m["signature"] = sig
	tr.Store.Put(d.Key, gz(raw), m)
}

// TestRecompressedObjectsStayValid: hashes are over decompressed bytes, so
// recompressing a digest or a log (as a copy tool might) is not tampering.
func TestRecompressedObjectsStayValid(t *testing.T) {
	tr := generate(t, cleanConfig())
	for _, key := range tr.Store.Keys() {
		data, meta := get(t, tr.Store, key)
		tr.Store.Put(key, gz(gunzip(t, data)), meta)
	}
	if rep := run(t, tr.Store, optionsFor(tr)); len(rep.Findings) != 0 {
		t.Fatalf("recompressed trail:\n%s", dump(rep))
	}
}

// TestSignaturesFromSuccessors: with only the newest digest's signature
// known (a local copy), the whole chain is verified through the links.
func TestSignaturesFromSuccessors(t *testing.T) {
	tr := generate(t, cleanConfig())
	newest := map[string]bool{}
	for _, c := range tr.Chains {
		newest[c.Digests[len(c.Digests)-1].Key] = true
	}
	for _, key := range tr.Store.Keys() {
		data, meta := get(t, tr.Store, key)
		if meta != nil && !newest[key] {
			tr.Store.Put(key, data, store.Meta{})
		}
	}
	rep := run(t, tr.Store, optionsFor(tr))
	if len(rep.Findings) != 0 || rep.Summary.Digests.Valid != 60 {
		t.Fatalf("anchored by newest only: %+v\n%s", rep.Summary.Digests, dump(rep))
	}
}

// TestDeterministicAcrossWorkers: the report is byte-identical whatever the
// number of workers.
func TestDeterministicAcrossWorkers(t *testing.T) {
	tr := generate(t, trailgen.SampleConfig())
	// Some findings, so that ordering matters.
	for i, key := range tr.Store.Keys() {
		if i%17 == 0 {
			tr.Store.Delete(key)
		}
	}
	var first []byte
	for _, w := range []int{1, 3, 16} {
		opts := Options{Start: trailgen.SampleStart, End: trailgen.SampleEnd, Keys: tr.KeySet(), Workers: w, KeepValid: true}
		rep := run(t, tr.Store, opts)
		b, err := json.Marshal(struct {
			R *report.Report
			O []report.ObjectResult
		}{rep, rep.Objects})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
			if len(rep.Findings) == 0 {
				t.Fatal("mutations produced no findings")
			}
			continue
		}
		if !bytes.Equal(first, b) {
			t.Fatalf("report with %d workers differs from 1 worker", w)
		}
	}
}

func TestRunErrors(t *testing.T) {
	tr := generate(t, cleanConfig())
	if _, err := Run(context.Background(), tr.Store, Options{Keys: tr.KeySet()}); err == nil {
		t.Fatal("no start time accepted")
	}
	if _, err := Run(context.Background(), tr.Store, Options{Start: tr.End, End: tr.Start, Keys: tr.KeySet()}); err == nil {
		t.Fatal("end before start accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, tr.Store, optionsFor(tr)); err == nil {
		t.Fatal("cancelled context gave a report")
	}
	// An empty store is a failure, not a pass.
	rep := run(t, store.NewMem("empty"), optionsFor(tr))
	if rep.Verdict != report.Invalid || strings.Join(kinds(rep), ",") != "no_digests" {
		t.Fatalf("empty store: %s %v", rep.Verdict, kinds(rep))
	}
}

// TestGapExplained: the sample's stop is explained by the StopLogging and
// StartLogging events in the owner's home-region logs, for every chain of
// the trail, including chains in other regions and accounts.
func TestGapExplained(t *testing.T) {
	tr := generate(t, trailgen.SampleConfig())
	rep := run(t, tr.Store, Options{Start: trailgen.SampleStart, End: trailgen.SampleEnd, Keys: tr.KeySet()})
	gaps := 0
	for _, f := range rep.Findings {
		if f.Kind != report.ChainGap {
			continue
		}
		gaps++
		if f.Unexplained || len(f.Events) != 2 || f.Events[0].Name != "StopLogging" || f.Events[1].Name != "StartLogging" {
			t.Fatalf("gap %s: events %+v", f.Object, f.Events)
		}
		if f.Events[0].Actor == "" || f.Events[0].SourceIP == "" || !strings.Contains(f.Detail, "StopLogging by arn:aws:iam::") {
			t.Fatalf("gap %s: %+v %s", f.Object, f.Events[0], f.Detail)
		}
	}
	if gaps != 4 {
		t.Fatalf("%d gaps, want 4", gaps)
	}
	// Without the owner's home region in the run, the same gaps have no
	// explanation and say so.
	rep = run(t, tr.Store, Options{Start: trailgen.SampleStart, End: trailgen.SampleEnd, Keys: tr.KeySet(), Regions: []string{"eu-west-1"}})
	for _, f := range rep.Findings {
		if f.Kind == report.ChainGap && (!f.Unexplained || !strings.Contains(f.Detail, "unexplained")) {
			t.Fatalf("gap without evidence not flagged: %+v", f)
		}
	}
}

// TestTruncationUsesLatestDelivery: with CloudTrail's latest digest delivery
// time, a stopped trail (no digest after ours) is not truncation, and a
// deleted tail is, however late the run.
func TestTruncationUsesLatestDelivery(t *testing.T) {
	tr := generate(t, cleanConfig())
	ds := chainDigests(t, tr, "us-east-1")
	for _, d := range ds[len(ds)-3:] {
		tr.Store.Delete(d.Key)
	}
	last := ds[len(ds)-4].End
	opts := optionsFor(tr)
	opts.Regions = []string{"us-east-1"}
	opts.Now = func() time.Time { return tr.End.Add(30 * 24 * time.Hour) }

	opts.LatestDelivery = func(string, string) (time.Time, bool) { return tr.End.Add(4 * time.Minute), true }
	if got := kinds(run(t, tr.Store, opts)); strings.Join(got, ",") != "chain_truncated" {
		t.Fatalf("deleted tail with later delivery: %v", got)
	}
	opts.LatestDelivery = func(string, string) (time.Time, bool) { return last.Add(4 * time.Minute), true }
	if rep := run(t, tr.Store, opts); len(kinds(rep)) != 0 {
		t.Fatalf("trail stopped after its last digest: %v\n%s", kinds(rep), dump(rep))
	}
	opts.LatestDelivery = nil
	if got := kinds(run(t, tr.Store, opts)); strings.Join(got, ",") != "chain_truncated" {
		t.Fatalf("without delivery time: %v", got)
	}
}

// TestIncrementalAnchors: a second run from the first run's newest digests
// validates only what is new, and proves it links to what was verified.
func TestIncrementalAnchors(t *testing.T) {
	first := func(tr *trailgen.Trail) map[string]report.DigestRef {
		opts := optionsFor(tr)
		opts.End = tr.Start.Add(20 * time.Hour)
		rep := run(t, tr.Store, opts)
		if rep.Verdict != report.Valid {
			t.Fatalf("first run:\n%s", dump(rep))
		}
		anchors := map[string]report.DigestRef{}
		for _, c := range rep.Chains {
			anchors[c.ID] = *c.Newest
		}
		return anchors
	}
	second := func(tr *trailgen.Trail, anchors map[string]report.DigestRef) *report.Report {
		opts := optionsFor(tr)
		opts.Anchors = anchors
		opts.Start = tr.Start.Add(19 * time.Hour)
		return run(t, tr.Store, opts)
	}

	tr := generate(t, cleanConfig())
	anchors := first(tr)
	rep := second(tr, anchors)
	// The first run covered digests up to its end + 1h (the AWS CLI's
	// selection): 21 per chain; 9 are new.
	if rep.Verdict != report.Valid || rep.Summary.Digests.Total != 18 {
		t.Fatalf("incremental run: %+v\n%s", rep.Summary.Digests, dump(rep))
	}
	for _, c := range rep.Chains {
		if !c.Newest.End.Equal(tr.End) {
			t.Fatalf("newest not advanced: %+v", c.Newest)
		}
	}

	cases := []struct {
		name   string
		mutate func(tr *trailgen.Trail, anchors map[string]report.DigestRef)
		want   string
	}{
		{"anchor deleted between runs", func(tr *trailgen.Trail, a map[string]report.DigestRef) {
			ds := chainDigests(t, tr, "us-east-1")
			tr.Store.Delete(ds[20].Key)
		}, "digest_missing"},
		{"digest after the anchor deleted", func(tr *trailgen.Trail, a map[string]report.DigestRef) {
			ds := chainDigests(t, tr, "us-east-1")
			tr.Store.Delete(ds[21].Key)
			for _, l := range ds[21].Logs {
				tr.Store.Delete(l)
			}
		}, "digest_missing"},
		{"anchor rewritten between runs", func(tr *trailgen.Trail, a map[string]report.DigestRef) {
			ds := chainDigests(t, tr, "eu-west-1")
			data, meta := get(t, tr.Store, ds[20].Key)
			tr.Store.Put(ds[20].Key, gz(bytes.Replace(gunzip(t, data), []byte(`"digestS3Bucket"`), []byte(`"digestS3Bucket" `), 1)), meta)
		}, "digest_chain_mismatch"},
		{"state from another history", func(tr *trailgen.Trail, a map[string]report.DigestRef) {
			for id, ref := range a {
				ref.SHA256 = strings.Repeat("0", 64)
				a[id] = ref
			}
		}, "digest_chain_mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := generate(t, cleanConfig())
			anchors := first(tr)
			tc.mutate(tr, anchors)
			rep := second(tr, anchors)
			if got := kinds(rep); strings.Join(got, ",") != tc.want {
				t.Fatalf("kinds %v, want %s\n%s", got, tc.want, dump(rep))
			}
		})
	}

	// Nothing new yet: the anchors carry over, and nothing is due.
	tr = generate(t, cleanConfig())
	anchors = first(tr)
	opts := optionsFor(tr)
	opts.Anchors, opts.Start, opts.End = anchors, tr.Start.Add(19*time.Hour), tr.Start.Add(20*time.Hour)
	opts.Now = func() time.Time { return tr.Start.Add(20*time.Hour + 30*time.Minute) }
	rep = run(t, tr.Store, opts)
	if rep.Verdict != report.Valid || len(rep.Chains) != 2 || rep.Chains[0].Newest == nil || !rep.Chains[0].Newest.End.Equal(tr.Start.Add(21*time.Hour)) {
		t.Fatalf("no new digests: %+v\n%s", rep.Chains, dump(rep))
	}
}
