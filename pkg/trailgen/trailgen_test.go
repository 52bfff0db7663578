package trailgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/gzhash"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/store"
)

var t0 = time.Date(2026, 11, 1, 0, 4, 4, 0, time.UTC)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// configs are the trails every invariant is checked on.
func configs() map[string]Config {
	small := DefaultConfig()
	small.Hours = 6

	org := DefaultConfig()
	org.Prefix = "audit/ct"
	org.OrgID = "o-abcdef1234"
	org.Accounts = []string{"111111111111", "222222222222", "333333333333"}
	org.Regions = []string{"us-west-2", "ap-northeast-1"}
	org.HomeRegion = "us-west-2"
	org.TrailName = "my.trail+1"
	org.Hours = 8
	org.LogsPerHourMin, org.LogsPerHourMax = 0, 2
	org.ChainStagger = 17*time.Minute + 3*time.Second
	org.Seed = 7

	stops := DefaultConfig()
	stops.Regions = []string{"eu-central-1", "us-east-1"}
	stops.HomeRegion = "us-east-1"
	stops.Hours = 30
	stops.LogsPerHourMin, stops.LogsPerHourMax = 0, 2
	stops.Stops = []Stop{
		{From: at("2026-11-01T05:04:04Z"), To: at("2026-11-01T07:00:00Z")}, // on a boundary
		{From: at("2026-11-01T10:03:00Z"), To: at("2026-11-01T10:30:30Z")}, // 3-minute final digest
		{From: at("2026-11-01T15:45:10Z"), To: at("2026-11-01T18:12:13Z")}, // ordinary
		{From: at("2026-11-02T05:20:00Z"), To: at("2026-11-02T09:00:00Z")}, // past the end: no restart
	}
	stops.Backfill = Backfill{Chains: 2, Digests: 3, LogsPerDigest: 1}
	stops.KeyPeriod = 10 * time.Hour
	stops.KeyRotate = 7 * time.Hour
	stops.Seed = 99

	allChains := stops
	allChains.StopEventsAllChains = true
	allChains.Backfill = Backfill{}

	big := DefaultConfig()
	big.Hours = 2
	big.LogsPerHourMin, big.LogsPerHourMax = 1, 1
	big.LogSize = 200 << 10

	return map[string]Config{
		"default": DefaultConfig(), "small": small, "org": org, "stops": stops,
		"stops-all-chains": allChains, "logsize": big, "sample": SampleConfig(),
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type testRecord struct {
	EventVersion      string          `json:"eventVersion"`
	UserIdentity      map[string]any  `json:"userIdentity"`
	EventTime         string          `json:"eventTime"`
	EventSource       string          `json:"eventSource"`
	EventName         string          `json:"eventName"`
	AWSRegion         string          `json:"awsRegion"`
	SourceIPAddress   string          `json:"sourceIPAddress"`
	UserAgent         string          `json:"userAgent"`
	RequestParameters json.RawMessage `json:"requestParameters"`
	RequestID         string          `json:"requestID"`
	EventID           string          `json:"eventID"`
	EventType         string          `json:"eventType"`
	Recipient         string          `json:"recipientAccountId"`
	EventCategory     string          `json:"eventCategory"`
}

func records(t *testing.T, tr *Trail, key string) []testRecord {
	t.Helper()
	data, _, ok := tr.Store.Get(key)
	if !ok {
		t.Fatalf("log %s missing", key)
	}
	var lf struct{ Records []testRecord }
	if err := json.Unmarshal(gunzip(t, data), &lf); err != nil {
		t.Fatalf("log %s: %v", key, err)
	}
	return lf.Records
}

var digestFieldOrder = []string{"awsAccountId", "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
	"digestPublicKeyFingerprint", "digestSignatureAlgorithm", "newestEventTime", "oldestEventTime",
	"previousDigestS3Bucket", "previousDigestS3Object", "previousDigestHashValue", "previousDigestHashAlgorithm",
	"previousDigestSignature", "logFiles"}

// topLevelKeys returns the keys of a JSON object in document order.
func topLevelKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v", err)
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkTrail checks every documented guarantee of a generated trail.
func checkTrail(t *testing.T, tr *Trail) {
	t.Helper()
	cfg := tr.Config
	ctx := context.Background()
	set := tr.KeySet()
	fpRegion := map[string]string{}
	for _, k := range tr.Keys {
		if k.Region == "" || k.Encoding != keys.PKCS1 {
			t.Fatalf("key %s: region %q encoding %s", k.Fingerprint, k.Region, k.Encoding)
		}
		if r, ok := fpRegion[k.Fingerprint]; ok && r != k.Region {
			t.Errorf("key %s used by %s and %s", k.Fingerprint, r, k.Region)
		}
		fpRegion[k.Fingerprint] = k.Region
	}

	// Every object is a digest or a log of the trail.
	logsInStore := map[string]bool{}
	for _, key := range tr.Store.Keys() {
		_, derr := digest.ParseDigestKey(key)
		_, lerr := digest.ParseLogKey(key)
		switch {
		case derr == nil && lerr == nil:
			t.Errorf("%s parses as both a digest and a log key", key)
		case lerr == nil:
			logsInStore[key] = true
		case derr != nil:
			t.Errorf("%s is neither: %v / %v", key, derr, lerr)
		}
	}
	if tr.LogFiles != len(logsInStore) || tr.Objects != len(tr.Store.Keys()) {
		t.Errorf("counts: %d logs %d objects, store has %d logs %d objects", tr.LogFiles, tr.Objects, len(logsInStore), len(tr.Store.Keys()))
	}
	referenced := map[string]int{}
	digestCount := 0
	emptySeen := false

	for _, c := range tr.Chains {
		var prev *digest.Digest
		for i, info := range c.Digests {
			digestCount++
			data, meta, ok := tr.Store.Get(info.Key)
			if !ok {
				t.Fatalf("digest %s not stored", info.Key)
			}
			raw, err := digest.Decompress(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", info.Key, err)
			}
			d, err := digest.Parse(raw)
			if err != nil {
				t.Fatalf("%s: %v", info.Key, err)
			}
			// Key name, location, times.
			ki, err := digest.ParseDigestKey(info.Key)
			if err != nil {
				t.Fatal(err)
			}
			if ki.Chain != c.ID || !ki.End.Equal(d.End) || d.DigestS3Object != info.Key || d.DigestS3Bucket != cfg.Bucket ||
				d.AWSAccountID != c.ID.Account || !d.Start.Equal(info.Start) || !d.End.Equal(info.End) {
				t.Errorf("%s: key info %+v disagrees with digest (%s, %s..%s)", info.Key, ki, d.DigestS3Object, d.DigestStartTime, d.DigestEndTime)
			}
			// Exact shape: compact, field order, escaped slashes.
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil || !bytes.Equal(compact.Bytes(), raw) {
				t.Errorf("%s: not compact JSON", info.Key)
			}
			if got := topLevelKeys(t, raw); !slices.Equal(got, digestFieldOrder) {
				t.Errorf("%s: field order %v", info.Key, got)
			}
			if strings.Contains(strings.ReplaceAll(string(raw), `\/`, ""), "/") {
				t.Errorf("%s: unescaped slash", info.Key)
			}
			if !strings.Contains(string(raw), `"digestS3Object":"`+strings.ReplaceAll(info.Key, "/", `\/`)+`"`) {
				t.Errorf("%s: digestS3Object not written with escaped slashes", info.Key)
			}
			if d.DigestSignatureAlgorithm != digest.SignatureAlgorithm || d.SHA256 != info.SHA256 {
				t.Errorf("%s: algorithm %s sha %s/%s", info.Key, d.DigestSignatureAlgorithm, d.SHA256, info.SHA256)
			}
			// Metadata and signature.
			if meta["signature-algorithm"] != digest.SignatureAlgorithm || meta["signature"] != info.Meta["signature"] || len(meta["signature"]) != 512 {
				t.Errorf("%s: metadata %v", info.Key, meta)
			}
			signAt := d.End
			if c.ID.Backfill {
				g, err := time.Parse(digest.TimeLayout, meta["backfill-generation-timestamp"])
				if err != nil || !g.Equal(info.Generated) || !g.After(d.End) {
					t.Errorf("%s: backfill-generation-timestamp %q", info.Key, meta["backfill-generation-timestamp"])
				}
				signAt = g
			} else if _, ok := meta["backfill-generation-timestamp"]; ok {
				t.Errorf("%s: hourly digest with backfill metadata", info.Key)
			}
			lk, err := set.Lookup(ctx, c.ID.Region, d.DigestPublicKeyFingerprint, signAt)
			if err != nil || lk.Status != keys.Found || !lk.RegionChecked {
				t.Fatalf("%s: key lookup %+v %v", info.Key, lk, err)
			}
			if err := lk.Key.Verify(d.SigningString(), meta["signature"]); err != nil {
				t.Errorf("%s: signature: %v", info.Key, err)
			}
			// The newest covering key of the region signs.
			for _, k := range tr.Keys {
				if k.Region == c.ID.Region && k.Covers(signAt) && k.ValidFrom.After(lk.Key.ValidFrom) {
					t.Errorf("%s: signed with %s although newer %s covers %s", info.Key, lk.Key.Fingerprint, k.Fingerprint, signAt)
				}
			}
			// Another region's key does not verify it.
			for _, k := range tr.Keys {
				if k.Region != c.ID.Region && k.Verify(d.SigningString(), meta["signature"]) == nil {
					t.Errorf("%s verifies with %s's key %s", info.Key, k.Region, k.Fingerprint)
				}
			}
			// Chain links and continuity.
			if info.ChainStart != d.IsChainStart() {
				t.Errorf("%s: ChainStart %v, digest says %v", info.Key, info.ChainStart, d.IsChainStart())
			}
			if d.IsChainStart() {
				if !bytes.Contains(raw, []byte(`"previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null`)) {
					t.Errorf("%s: chain start without five nulls", info.Key)
				}
				if i > 0 && !c.ID.Backfill {
					// A restart: only after a stop.
					ok := false
					for _, st := range cfg.Stops {
						ok = ok || (prev.End.Equal(st.From) || prev.End.Before(st.From)) && !d.Start.Before(st.To) && st.From.Before(d.Start)
					}
					if !ok {
						t.Errorf("%s: chain restart not explained by a stop", info.Key)
					}
				}
				if c.ID.Backfill && i > 0 {
					t.Errorf("%s: backfill chain restarts", info.Key)
				}
			} else {
				if prev == nil {
					t.Fatalf("%s: first digest links to a predecessor", info.Key)
				}
				if *d.PreviousDigestS3Bucket != cfg.Bucket || *d.PreviousDigestS3Object != prev.DigestS3Object ||
					*d.PreviousDigestHashValue != prev.SHA256 || *d.PreviousDigestHashAlgo != digest.HashAlgorithm ||
					*d.PreviousDigestSignature != c.Digests[i-1].Meta["signature"] {
					t.Errorf("%s: bad link to %s", info.Key, prev.DigestS3Object)
				}
				if !d.Start.Equal(prev.End) {
					t.Errorf("%s: starts %s, predecessor ends %s", info.Key, d.DigestStartTime, prev.DigestEndTime)
				}
			}
			// Length: an hour, except the last digest before a stop.
			if dur := d.End.Sub(d.Start); dur != time.Hour {
				short := false
				for _, st := range cfg.Stops {
					short = short || d.End.Equal(st.From)
				}
				if !short || dur > time.Hour || c.ID.Backfill {
					t.Errorf("%s: lasts %s", info.Key, dur)
				}
			}
			// Log files.
			if len(d.LogFiles) == 0 {
				emptySeen = true
				if d.NewestEventTime != nil || d.OldestEventTime != nil || !bytes.HasSuffix(raw, []byte(`"logFiles":[]}`)) {
					t.Errorf("%s: empty digest not shaped like CloudTrail's", info.Key)
				}
			}
			var newest, oldest string
			for _, lf := range d.LogFiles {
				referenced[lf.S3Object]++
				if lf.S3Bucket != cfg.Bucket || lf.HashAlgorithm != digest.HashAlgorithm || lf.NewestEventTime == nil || lf.OldestEventTime == nil {
					t.Errorf("%s: log entry %+v", info.Key, lf)
					continue
				}
				li, err := digest.ParseLogKey(lf.S3Object)
				if err != nil {
					t.Errorf("%s: %v", info.Key, err)
					continue
				}
				if li.Location != c.ID.Location {
					t.Errorf("%s: log %s of another location", info.Key, lf.S3Object)
				}
				if li.Time.Before(d.Start) || li.Time.After(d.End.Add(-5*time.Minute)) {
					t.Errorf("%s: log %s key time outside %s..end-5m", info.Key, lf.S3Object, d.DigestStartTime)
				}
				data, _, ok := tr.Store.Get(lf.S3Object)
				if !ok {
					t.Errorf("%s: log %s not stored", info.Key, lf.S3Object)
					continue
				}
				res, err := gzhash.Hash(bytes.NewReader(data))
				if err != nil || hex.EncodeToString(res.SHA256[:]) != lf.HashValue {
					t.Errorf("%s: log %s hash mismatch (%v)", info.Key, lf.S3Object, err)
				}
				var lo, hi string
				for _, rec := range records(t, tr, lf.S3Object) {
					if rec.EventVersion == "" || rec.UserIdentity["type"] == nil || rec.EventSource == "" || rec.EventName == "" ||
						rec.AWSRegion != c.ID.Region || rec.SourceIPAddress == "" || rec.UserAgent == "" || rec.RequestID == "" ||
						rec.EventID == "" || rec.EventType != "AwsApiCall" || rec.Recipient != c.ID.Account || rec.EventCategory != "Management" {
						t.Errorf("log %s: incomplete record %+v", lf.S3Object, rec)
					}
					et, err := time.Parse(digest.TimeLayout, rec.EventTime)
					if err != nil || et.Before(d.Start) || et.After(li.Time) {
						t.Errorf("log %s: event time %s outside %s..%s", lf.S3Object, rec.EventTime, d.DigestStartTime, li.Time)
					}
					if lo == "" || rec.EventTime < lo {
						lo = rec.EventTime
					}
					hi = max(hi, rec.EventTime)
				}
				if *lf.NewestEventTime != hi || *lf.OldestEventTime != lo {
					t.Errorf("log %s: digest says %s..%s, records %s..%s", lf.S3Object, *lf.OldestEventTime, *lf.NewestEventTime, lo, hi)
				}
				newest = max(newest, hi)
				if oldest == "" || lo < oldest {
					oldest = lo
				}
			}
			if len(d.LogFiles) > 0 && (*d.NewestEventTime != newest || *d.OldestEventTime != oldest) {
				t.Errorf("%s: event times %s..%s, logs %s..%s", info.Key, *d.OldestEventTime, *d.NewestEventTime, oldest, newest)
			}
			if !slices.Equal(info.Logs, func() []string {
				var s []string
				for _, lf := range d.LogFiles {
					s = append(s, lf.S3Object)
				}
				return s
			}()) {
				t.Errorf("%s: DigestInfo.Logs disagrees", info.Key)
			}
			prev = d
		}
	}
	for k := range logsInStore {
		if referenced[k] != 1 {
			t.Errorf("log %s referenced %d times", k, referenced[k])
		}
	}
	if len(referenced) != len(logsInStore) {
		t.Errorf("%d logs referenced, %d stored", len(referenced), len(logsInStore))
	}
	if digestCount+len(logsInStore) != len(tr.Store.Keys()) {
		t.Errorf("%d digests + %d logs != %d objects", digestCount, len(logsInStore), len(tr.Store.Keys()))
	}
	if cfg.LogsPerHourMin == 0 && cfg.Hours >= 24 && !emptySeen {
		t.Errorf("no empty hour in a day with LogsPerHourMin 0")
	}
}

func TestInvariants(t *testing.T) {
	for name, cfg := range configs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tr, err := Generate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkTrail(t, tr)
		})
	}
}

func TestDeterministic(t *testing.T) {
	for name, cfg := range configs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, err := Generate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Generate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Store.Keys(), b.Store.Keys()) {
				t.Fatal("different keys")
			}
			for _, k := range a.Store.Keys() {
				da, ma, _ := a.Store.Get(k)
				db, mb, _ := b.Store.Get(k)
				if !bytes.Equal(da, db) || len(ma) != len(mb) {
					t.Fatalf("%s differs", k)
				}
				for mk, v := range ma {
					if mb[mk] != v {
						t.Fatalf("%s: metadata %s differs", k, mk)
					}
				}
			}
			ka, _ := a.KeysJSON()
			kb, _ := b.KeysJSON()
			if !bytes.Equal(ka, kb) {
				t.Error("key files differ")
			}
			// Another seed gives other objects.
			cfg.Seed++
			c, err := Generate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(a.Store.Keys(), c.Store.Keys()) {
				t.Error("a different seed gives the same keys")
			}
		})
	}
}

// The digest writer reproduces the genuine CloudTrail digest byte for byte.
func TestDigestShapeMatchesGenuine(t *testing.T) {
	paths, _ := filepath.Glob("../../../shared/testvectors/llmguard-digest-*.json")
	if len(paths) == 0 {
		paths, _ = filepath.Glob("/work/shared/testvectors/llmguard-digest-*.json")
	}
	if len(paths) == 0 {
		t.Skip("genuine digest test vector not found")
	}
	genuine, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	d, err := digest.Parse(genuine)
	if err != nil {
		t.Fatal(err)
	}
	body := &digestBody{
		AccountID: d.AWSAccountID, Start: d.DigestStartTime, End: d.DigestEndTime, Bucket: d.DigestS3Bucket, Object: d.DigestS3Object,
		Fingerprint: d.DigestPublicKeyFingerprint, SignatureAlgorithm: d.DigestSignatureAlgorithm, Newest: d.NewestEventTime, Oldest: d.OldestEventTime,
		PrevBucket: d.PreviousDigestS3Bucket, PrevObject: d.PreviousDigestS3Object, PrevHash: d.PreviousDigestHashValue,
		PrevHashAlgorithm: d.PreviousDigestHashAlgo, PrevSignature: d.PreviousDigestSignature,
	}
	for _, lf := range d.LogFiles {
		body.LogFiles = append(body.LogFiles, logEntry{Bucket: lf.S3Bucket, Object: lf.S3Object, Hash: lf.HashValue, HashAlgorithm: lf.HashAlgorithm, Newest: lf.NewestEventTime, Oldest: lf.OldestEventTime})
	}
	var b bytes.Buffer
	appendDigest(&b, body)
	if !bytes.Equal(b.Bytes(), genuine) {
		t.Errorf("rendering differs from the genuine digest:\n got %s\nwant %s", b.Bytes(), genuine)
	}
}

func TestJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"AWSLogs/1/x":  `"AWSLogs\/1\/x"`,
		`a"b\c`:        `"a\"b\\c"`,
		"tab\there\n":  `"tab\there\n"`,
		"\x01":         `"\u0001"`,
		"my.trail+1_é": `"my.trail+1_é"`,
	} {
		var b bytes.Buffer
		jsonString(&b, in)
		if b.String() != want {
			t.Errorf("jsonString(%q) = %s, want %s", in, b.String(), want)
		}
		var back string
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || back != in {
			t.Errorf("%s does not decode back to %q: %v", b.String(), in, err)
		}
	}
}

func TestSample(t *testing.T) {
	tr, err := Generate(SampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Start.Equal(SampleStart) || !tr.End.Equal(SampleEnd) {
		t.Errorf("range %s..%s, documented %s..%s", tr.Start, tr.End, SampleStart, SampleEnd)
	}
	if tr.Bytes > 2<<20 {
		t.Errorf("sample is %d bytes", tr.Bytes)
	}
	var hourly, backfill int
	for _, c := range tr.Chains {
		if c.ID.OrgID != "o-7k2m9x4q1z" {
			t.Errorf("chain %s not under the organization", c.ID)
		}
		if c.ID.Backfill {
			backfill++
			if len(c.Digests) != 2 || c.ID.Account != "402819374615" || c.ID.Region != "eu-west-1" ||
				!c.Digests[0].Start.Equal(at("2026-11-02T02:37:12Z")) || !c.Digests[1].End.Equal(at("2026-11-02T04:37:12Z")) ||
				!c.Digests[1].Generated.Equal(at("2026-11-02T07:37:12Z")) || len(c.Digests[0].Logs)+len(c.Digests[1].Logs) != 4 {
				t.Errorf("backfill chain %s not as documented", c.ID)
			}
			continue
		}
		hourly++
		if len(c.Digests) != 45 {
			t.Errorf("%s: %d digests, documented 45", c.ID, len(c.Digests))
		}
		starts, fps := 0, map[string]bool{}
		for _, d := range c.Digests {
			fps[d.Fingerprint] = true
			if d.ChainStart {
				starts++
			}
		}
		if starts != 2 {
			t.Errorf("%s: %d chain starts, want 2 (start and restart)", c.ID, starts)
		}
		if len(fps) != 2 {
			t.Errorf("%s: %d signing keys, want a rotation", c.ID, len(fps))
		}
		d20, d21 := c.Digests[20], c.Digests[21]
		if !d20.End.Equal(at("2026-11-01T20:31:40Z")) || !d21.Start.Equal(at("2026-11-01T23:37:12Z")) || !d21.ChainStart {
			t.Errorf("%s: stop not as documented: %s, %s", c.ID, d20.End, d21.Start)
		}
		owner := c.ID.Account == "402819374615" && c.ID.Region == "us-east-1"
		if (d20.StopLogging != "") != owner || (d21.StartLogging != "") != owner {
			t.Errorf("%s: stop events %q %q", c.ID, d20.StopLogging, d21.StartLogging)
		}
	}
	if hourly != 4 || backfill != 1 {
		t.Errorf("%d hourly and %d backfill chains", hourly, backfill)
	}
	for _, k := range tr.Keys {
		if from := k.ValidFrom.Format(time.RFC3339); from != "2026-10-13T09:14:27Z" && from != "2026-11-02T09:14:27Z" ||
			k.ValidTo.Sub(k.ValidFrom) != 30*24*time.Hour {
			t.Errorf("key %s %s: window %s..%s not as documented", k.Region, k.Fingerprint, k.ValidFrom, k.ValidTo)
		}
	}
	if len(tr.Keys) != 4 {
		t.Errorf("%d keys, want 2 per region", len(tr.Keys))
	}
}

// The sample shipped in testdata/sample, if present, is what SampleConfig
// generates: regenerate it with scripts/gentrail after changing the generator.
var shippedSample = filepath.Join("..", "..", "testdata", "sample")

func TestShippedSampleUpToDate(t *testing.T) {
	dir := shippedSample
	if _, err := os.Stat(dir); err != nil {
		t.Skip("testdata/sample not present")
	}
	tr, err := Generate(SampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	local, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	if err := local.List(context.Background(), "", func(o store.Object) error {
		files = append(files, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := append(tr.Store.Keys(), "keys.json", "signatures.json")
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Fatalf("testdata/sample has %d files, SampleConfig gives %d: regenerate with go run ./scripts/gentrail -sample -out testdata/sample -force", len(files), len(want))
	}
	sigs, _ := tr.SignaturesJSON()
	ks, _ := tr.KeysJSON()
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		var exp []byte
		switch f {
		case "keys.json":
			exp = ks
		case "signatures.json":
			exp = sigs
		default:
			exp, _, _ = tr.Store.Get(f)
		}
		if !bytes.Equal(got, exp) {
			t.Errorf("testdata/sample/%s differs from SampleConfig's: regenerate with go run ./scripts/gentrail -sample -out testdata/sample -force", f)
		}
	}
}

// StopLogging before each stop and StartLogging after, in the owner's
// home-region chain (or every chain).
func TestStopEvents(t *testing.T) {
	for _, all := range []bool{false, true} {
		cfg := configs()["stops"]
		cfg.StopEventsAllChains = all
		tr, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		arn := "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events"
		for _, c := range tr.Chains {
			if c.ID.Backfill {
				continue
			}
			want := all || c.ID.Region == "us-east-1"
			stops, starts := 0, 0
			for i, d := range c.Digests {
				check := func(key, name string, last bool) {
					recs := records(t, tr, key)
					rec := recs[0]
					if last {
						rec = recs[len(recs)-1]
					}
					if rec.EventName != name || rec.EventSource != "cloudtrail.amazonaws.com" || rec.UserIdentity["arn"] == nil ||
						rec.SourceIPAddress == "" || !strings.Contains(string(rec.RequestParameters), `"name":"`+arn+`"`) {
						t.Errorf("%s: %s record %+v", key, name, rec)
					}
					for _, other := range d.Logs {
						if other == key {
							continue
						}
						li, _ := digest.ParseLogKey(other)
						ki, _ := digest.ParseLogKey(key)
						if last && li.Time.After(ki.Time) || !last && li.Time.Before(ki.Time) {
							t.Errorf("%s: %s is not in the %s log", d.Key, name, map[bool]string{true: "last", false: "first"}[last])
						}
					}
				}
				if d.StopLogging != "" {
					stops++
					check(d.StopLogging, "StopLogging", true)
					// Only empty digests (a final one too short for logs) may follow.
					for _, next := range c.Digests[i+1:] {
						if next.ChainStart {
							break
						}
						if len(next.Logs) > 0 || next.End.Sub(next.Start) > 10*time.Minute {
							t.Errorf("%s: StopLogging but the chain goes on", d.Key)
						}
					}
				}
				if d.StartLogging != "" {
					starts++
					check(d.StartLogging, "StartLogging", false)
					if !d.ChainStart || i == 0 {
						t.Errorf("%s: StartLogging not at a restart", d.Key)
					}
				}
			}
			// Three stops inside the trail; the last one is never restarted.
			wantStops, wantStarts := 0, 0
			if want {
				wantStops, wantStarts = 4, 3
			}
			if stops != wantStops || starts != wantStarts {
				t.Errorf("all=%v %s: %d StopLogging, %d StartLogging; want %d, %d", all, c.ID, stops, starts, wantStops, wantStarts)
			}
		}
	}
}

func TestKeyRotation(t *testing.T) {
	if pool, err := testKeys(); err != nil || len(pool) != TestKeyCount {
		t.Fatalf("embedded test keys: %d, %v", len(pool), err)
	}
	cfg := DefaultConfig()
	cfg.Regions = []string{"us-east-1", "sa-east-1"}
	cfg.Hours = 40
	cfg.KeyPeriod = 12 * time.Hour
	cfg.KeyRotate = 8 * time.Hour
	tr, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byRegion := map[string][]*keys.Key{}
	for _, k := range tr.Keys {
		byRegion[k.Region] = append(byRegion[k.Region], k)
	}
	for _, region := range cfg.Regions {
		ks := byRegion[region]
		if len(ks) < 6 {
			t.Errorf("%s: %d keys for 40 hours of 8-hour rotation", region, len(ks))
		}
		for i := 1; i < len(ks); i++ {
			if ks[i].ValidFrom.Sub(ks[i-1].ValidFrom) != 8*time.Hour || ks[i].ValidTo.Sub(ks[i].ValidFrom) != 12*time.Hour {
				t.Errorf("%s: windows %s..%s then %s..%s", region, ks[i-1].ValidFrom, ks[i-1].ValidTo, ks[i].ValidFrom, ks[i].ValidTo)
			}
		}
	}
	for _, c := range tr.Chains {
		used := map[string]bool{}
		for _, d := range c.Digests {
			used[d.Fingerprint] = true
		}
		if len(used) < 5 {
			t.Errorf("%s: %d keys used", c.ID, len(used))
		}
	}
	checkTrail(t, tr)
}

func TestLayout(t *testing.T) {
	tr, err := Generate(configs()["org"])
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[string]bool{}
	for _, c := range tr.Chains {
		offsets[c.Digests[0].End.Format("04:05")] = true
	}
	if len(offsets) != 6 {
		t.Errorf("staggered chains share offsets: %v", offsets)
	}
	for _, k := range tr.Store.Keys() {
		if !strings.HasPrefix(k, "audit/ct/AWSLogs/o-abcdef1234/") {
			t.Fatalf("%s: not under the prefix and organization", k)
		}
		if i, err := digest.ParseDigestKey(k); err == nil {
			if i.Chain.Trail != "my.trail+1" || i.Chain.HomeRegion != "us-west-2" || i.Chain.Prefix != "audit/ct" || i.Chain.OrgID != "o-abcdef1234" {
				t.Errorf("%s parses as %+v", k, i.Chain)
			}
		}
	}
	want := "audit/ct/AWSLogs/o-abcdef1234/222222222222/CloudTrail-Digest/ap-northeast-1/2026/11/01/222222222222_CloudTrail-Digest_ap-northeast-1_my.trail+1_us-west-2_20261101T"
	found := false
	for _, k := range tr.Store.Keys() {
		found = found || strings.HasPrefix(k, want)
	}
	if !found {
		t.Errorf("no digest key starting %s", want)
	}
}

func TestLogSize(t *testing.T) {
	cfg := configs()["logsize"]
	tr, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range tr.Store.Keys() {
		if _, err := digest.ParseLogKey(k); err != nil {
			continue
		}
		n++
		data, _, _ := tr.Store.Get(k)
		size := len(gunzip(t, data))
		if size < cfg.LogSize || size > cfg.LogSize+8<<10 {
			t.Errorf("%s: %d bytes, want about %d", k, size, cfg.LogSize)
		}
	}
	if n != 2 {
		t.Errorf("%d logs", n)
	}
}

func TestStreamingAndFiles(t *testing.T) {
	cfg := configs()["stops"]
	mem, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	streamed := map[string][]byte{}
	st, err := GenerateTo(cfg, func(key string, data []byte, meta store.Meta) error {
		if _, dup := streamed[key]; dup {
			t.Errorf("%s emitted twice", key)
		}
		streamed[key] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Store != nil || len(streamed) != len(mem.Store.Keys()) {
		t.Fatalf("streamed %d objects, generated %d", len(streamed), len(mem.Store.Keys()))
	}
	for k, v := range streamed {
		if d, _, _ := mem.Store.Get(k); !bytes.Equal(d, v) {
			t.Errorf("%s differs between Generate and GenerateTo", k)
		}
	}

	dir1, dir2 := t.TempDir(), t.TempDir()
	if err := mem.WriteDir(dir1); err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateDir(cfg, dir2); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{dir1, dir2} {
		local, err := store.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		if err := local.List(context.Background(), "", func(o store.Object) error {
			listed = append(listed, o.Key)
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(o.Key)))
			if d, _, _ := mem.Store.Get(o.Key); err != nil || !bytes.Equal(b, d) {
				t.Errorf("%s: file differs", o.Key)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(listed, mem.Store.Keys()) {
			t.Errorf("%s: %d files, %d objects", dir, len(listed), len(mem.Store.Keys()))
		}
	}

	sigPath, keysPath := filepath.Join(dir1, "signatures.json"), filepath.Join(dir1, "keys.json")
	if err := mem.WriteSidecars(sigPath, keysPath); err != nil {
		t.Fatal(err)
	}
	var sigs map[string]store.Meta
	b, _ := os.ReadFile(sigPath)
	if err := json.Unmarshal(b, &sigs); err != nil {
		t.Fatal(err)
	}
	want := mem.Signatures()
	if len(sigs) != len(want) {
		t.Errorf("%d signatures written, %d digests", len(sigs), len(want))
	}
	for k, m := range want {
		_, _, ok := mem.Store.Get(k)
		if !ok || sigs[k]["signature"] != m["signature"] || sigs[k]["signature-algorithm"] != "SHA256withRSA" ||
			sigs[k]["backfill-generation-timestamp"] != m["backfill-generation-timestamp"] {
			t.Errorf("%s: written %v, want %v", k, sigs[k], m)
		}
	}
	if !bytes.HasPrefix(b, []byte("{\n  \"AWSLogs/")) {
		t.Errorf("signatures file not indented with plain keys: %.200s", b)
	}
	kb, _ := os.ReadFile(keysPath)
	loaded, err := keys.Parse("keys.json", kb, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != len(mem.Keys) {
		t.Fatalf("%d keys loaded, %d generated", len(loaded), len(mem.Keys))
	}
	for _, k := range loaded {
		found := false
		for _, g := range mem.Keys {
			found = found || g.Fingerprint == k.Fingerprint && g.Region == k.Region && g.ValidFrom.Equal(k.ValidFrom) && g.ValidTo.Equal(k.ValidTo)
		}
		if !found {
			t.Errorf("loaded key %s (%s) not generated", k.Fingerprint, k.Region)
		}
	}
	// A streamed trail has no store to write.
	if err := st.WriteDir(t.TempDir()); err == nil {
		t.Error("WriteDir of a streamed trail succeeded")
	}
	if got := mem.Digests(); len(got) != len(mem.Chains) {
		t.Errorf("Digests: %d chains, want %d", len(got), len(mem.Chains))
	}
}

func TestConfigErrors(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"account":        func(c *Config) { c.Accounts = []string{"12345"} },
		"dup account":    func(c *Config) { c.Accounts = []string{"111122223333", "111122223333"} },
		"region":         func(c *Config) { c.Regions = []string{"useast1"} },
		"org":            func(c *Config) { c.OrgID = "o-ABC" },
		"prefix":         func(c *Config) { c.Prefix = "logs/" },
		"trail slash":    func(c *Config) { c.TrailName = "a/b" },
		"logs range":     func(c *Config) { c.LogsPerHourMin, c.LogsPerHourMax = 3, 1 },
		"rotate":         func(c *Config) { c.KeyRotate = c.KeyPeriod + time.Hour },
		"subsecond":      func(c *Config) { c.Start = c.Start.Add(time.Millisecond) },
		"stop backwards": func(c *Config) { c.Stops = []Stop{{From: t0.Add(3 * time.Hour), To: t0.Add(2 * time.Hour)}} },
		"stop overlap": func(c *Config) {
			c.Stops = []Stop{{From: t0.Add(2 * time.Hour), To: t0.Add(4 * time.Hour)}, {From: t0.Add(3 * time.Hour), To: t0.Add(5 * time.Hour)}}
		},
		"stop at start":    func(c *Config) { c.Stops = []Stop{{From: t0, To: t0.Add(time.Hour)}} },
		"stop after end":   func(c *Config) { c.Stops = []Stop{{From: t0.Add(100 * time.Hour), To: t0.Add(101 * time.Hour)}} },
		"backfill chains":  func(c *Config) { c.Backfill.Chains = 2 },
		"backfill too big": func(c *Config) { c.Backfill = Backfill{Chains: 1, Digests: 30} },
	} {
		cfg := DefaultConfig()
		mut(&cfg)
		if _, err := Generate(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func BenchmarkGenerateTo(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Regions = []string{"us-east-1", "eu-west-1"}
	cfg.Hours = 24
	cfg.LogsPerHourMin, cfg.LogsPerHourMax = 40, 60
	for b.Loop() {
		if _, err := GenerateTo(cfg, func(string, []byte, store.Meta) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
