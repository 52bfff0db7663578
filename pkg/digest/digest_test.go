package digest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const genuine = "testdata/llmguard-digest-327878933619_ap-northeast-1_20231015T230404Z.json"

func TestSigningStringVector(t *testing.T) {
	// The AWS CLI's unit-test vector (reference section 3).
	sum := sha256.Sum256([]byte("abc"))
	got := SigningString("a", "b", "c", hex.EncodeToString(sum[:]), nil)
	want := "a\nb/c\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nnull"
	if string(got) != want {
		t.Fatalf("SigningString = %q, want %q", got, want)
	}
	prev := "abcd"
	if got := SigningString("a", "b", "c", "00", &prev); string(got) != "a\nb/c\n00\nabcd" {
		t.Fatalf("with previous signature: %q", got)
	}
}

func TestParseGenuineDigest(t *testing.T) {
	raw, err := os.ReadFile(genuine)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(genuine): %v", err)
	}
	// Escaped slashes are decoded in values but the raw bytes are kept.
	if !bytes.Contains(d.Raw, []byte(`AWSLogs\/327878933619`)) {
		t.Fatal("raw bytes were not kept verbatim")
	}
	wantObj := "AWSLogs/327878933619/CloudTrail-Digest/ap-northeast-1/2023/10/15/327878933619_CloudTrail-Digest_ap-northeast-1_llm-guard-trail_us-west-2_20231015T230404Z.json.gz"
	if d.DigestS3Object != wantObj {
		t.Fatalf("digestS3Object = %q", d.DigestS3Object)
	}
	if d.IsChainStart() {
		t.Fatal("genuine digest has a previous digest")
	}
	if got := d.End.Sub(d.Start); got != time.Hour {
		t.Fatalf("period = %v, want 1h", got)
	}
	sum := sha256.Sum256(raw)
	if d.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("SHA256 is not over the raw bytes")
	}
	if len(d.LogFiles) == 0 || d.LogFiles[0].HashAlgorithm != "SHA-256" {
		t.Fatalf("log files: %+v", d.LogFiles)
	}
	ss := string(d.SigningString())
	if !strings.HasPrefix(ss, "2023-10-15T23:04:04Z\nllm-guard-trail/AWSLogs/327878933619/") || !strings.HasSuffix(ss, "\n"+*d.PreviousDigestSignature) {
		t.Fatalf("signing string = %q", ss)
	}
	info, err := ParseDigestKey(d.DigestS3Object)
	if err != nil {
		t.Fatal(err)
	}
	if info.Chain.Trail != "llm-guard-trail" || info.Chain.HomeRegion != "us-west-2" || info.Chain.Region != "ap-northeast-1" || !info.End.Equal(d.End) {
		t.Fatalf("key info = %+v", info)
	}
	if info.Chain.DigestKey(info.End) != d.DigestS3Object {
		t.Fatalf("DigestKey round trip = %q", info.Chain.DigestKey(info.End))
	}
	for _, lf := range d.LogFiles {
		if _, err := ParseLogKey(lf.S3Object); err != nil {
			t.Errorf("ParseLogKey(%q): %v", lf.S3Object, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	raw, err := os.ReadFile(genuine)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"not json":             "nope",
		"array":                "[]",
		"null":                 "null",
		"missing end time":     strings.Replace(string(raw), `"digestEndTime"`, `"x"`, 1),
		"bad end time":         strings.Replace(string(raw), `"2023-10-15T23:04:04Z"`, `"yesterday"`, 1),
		"partly null previous": strings.Replace(string(raw), `"previousDigestHashAlgorithm":"SHA-256"`, `"previousDigestHashAlgorithm":null`, 1),
		"short log hash":       strings.Replace(string(raw), `"hashValue":"4309c6161e`, `"hashValue":"4309`, 1),
		"logFiles null":        strings.Replace(string(raw), `"logFiles":[`, `"logFiles":null,"x":[`, 1),
		"case variant":         strings.Replace(string(raw), `{"awsAccountId"`, `{"DigestEndTime":"2023-10-15T23:04:04Z","awsAccountId"`, 1),
		"number bucket":        strings.Replace(string(raw), `"digestS3Bucket":"llm-guard-trail"`, `"digestS3Bucket":5`, 1),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if in == string(raw) {
				t.Fatal("mutation did not apply")
			}
			_, err := Parse([]byte(in))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a FormatError", err)
			}
		})
	}
}

func gz(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestDecompress(t *testing.T) {
	body := []byte(`{"a":1}`)
	good := gz(t, body)
	got, err := Decompress(bytes.NewReader(good))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Decompress = %q, %v", got, err)
	}
	bad := map[string][]byte{
		"trailing data": append(append([]byte{}, good...), 'x'),
		"second member": append(append([]byte{}, good...), good...),
		"truncated":     good[:len(good)-3],
		"not gzip":      body,
		"empty":         nil,
		"bad crc":       append(append([]byte{}, good[:len(good)-8]...), 0, 0, 0, 0, 7, 0, 0, 0),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := Decompress(bytes.NewReader(in))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Decompress = %v, want FormatError", err)
			}
		})
	}
	readErr := errors.New("connection reset")
	if _, err := Decompress(&failReader{data: good[:10], err: readErr}); !errors.Is(err, readErr) {
		t.Fatalf("read failure = %v, want the reader's error", err)
	}
}

type failReader struct {
	data []byte
	err  error
}

func (f *failReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestKeyNames(t *testing.T) {
	id := ChainID{Location: Location{Prefix: "logs/x", OrgID: "o-abcdefghij", Account: "111122223333", Region: "eu-west-1"},
		Trail: "my.trail+1_x", HomeRegion: "us-east-1"}
	end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key := id.DigestKey(end)
	want := "logs/x/AWSLogs/o-abcdefghij/111122223333/CloudTrail-Digest/eu-west-1/2026/01/02/111122223333_CloudTrail-Digest_eu-west-1_my.trail+1_x_us-east-1_20260102T030405Z.json.gz"
	if key != want {
		t.Fatalf("DigestKey = %q", key)
	}
	info, err := ParseDigestKey(key)
	if err != nil || info.Chain != id || !info.End.Equal(end) {
		t.Fatalf("ParseDigestKey = %+v, %v", info, err)
	}
	id.Backfill = true
	info, err = ParseDigestKey(id.DigestKey(end))
	if err != nil || !info.Chain.Backfill || info.Chain.Trail != "my.trail+1_x" {
		t.Fatalf("backfill: %+v, %v", info, err)
	}
	for _, bad := range []string{
		"AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/01/03/111122223333_CloudTrail-Digest_eu-west-1_t_us-east-1_20260102T030405Z.json.gz", // date folder
		"AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/01/02/999922223333_CloudTrail-Digest_eu-west-1_t_us-east-1_20260102T030405Z.json.gz", // account
		"AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/01/02/111122223333_CloudTrail-Digest_eu-west-1_t_us-east-1_20260102T030405Z.json",    // suffix
	} {
		if _, err := ParseDigestKey(bad); err == nil {
			t.Errorf("ParseDigestKey(%q) accepted", bad)
		}
	}
	lk := "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/01/02/111122223333_CloudTrail_eu-west-1_20260102T0305Z_abcdEFGH12345678.json.gz"
	li, err := ParseLogKey(lk)
	if err != nil || li.Account != "111122223333" || li.Time.Minute() != 5 {
		t.Fatalf("ParseLogKey = %+v, %v", li, err)
	}
}

func FuzzParse(f *testing.F) {
	raw, err := os.ReadFile(genuine)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"logFiles":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("non-format error %v", err)
			}
			return
		}
		// Whatever parses has a consistent signing string and hash.
		sum := sha256.Sum256(data)
		if d.SHA256 != hex.EncodeToString(sum[:]) || !bytes.HasPrefix(d.SigningString(), []byte(d.DigestEndTime+"\n")) {
			t.Fatal("inconsistent parse")
		}
		if d.End.Before(d.Start) {
			t.Fatal("end before start accepted")
		}
	})
}

func FuzzDecompress(f *testing.F) {
	f.Add(gz(f, []byte(`{"a":1}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Decompress(bytes.NewReader(data))
		if err == nil && len(out) > MaxSize {
			t.Fatal("size cap not enforced")
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("non-format error %v", err)
			}
		}
	})
}
