package store

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	sigKey  = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20240102T010405Z.json.gz"
	sigKey2 = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20240102T020405Z_backfill.json.gz"
)

func TestParseSignatures(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]Meta
	}{
		{
			name: "hex string",
			in:   `{"` + sigKey + `": "0a1B"}`,
			want: map[string]Meta{sigKey: {"signature": "0a1B", "signature-algorithm": "SHA256withRSA"}},
		},
		{
			name: "s3 URI",
			in:   `{"s3://my-bucket/` + sigKey + `": "0a1b"}`,
			want: map[string]Meta{sigKey: {"signature": "0a1b", "signature-algorithm": "SHA256withRSA"}},
		},
		{
			name: "metadata object, names lower-cased and prefix removed",
			in: `{"` + sigKey + `": {"Signature": "0a1b", "x-amz-meta-signature-algorithm": "SHA256withRSA"},
			      "` + sigKey2 + `": {"signature": "ff", "signature-algorithm": "SHA256withRSA", "backfill-generation-timestamp": "2024-01-02T03:00:00Z"}}`,
			want: map[string]Meta{
				sigKey:  {"signature": "0a1b", "signature-algorithm": "SHA256withRSA"},
				sigKey2: {"signature": "ff", "signature-algorithm": "SHA256withRSA", "backfill-generation-timestamp": "2024-01-02T03:00:00Z"},
			},
		},
		{
			name: "whole head-object output",
			in: `{"` + sigKey + `": {
				"AcceptRanges": "bytes",
				"LastModified": "2024-01-02T01:10:00+00:00",
				"ContentLength": 1234,
				"ETag": "\"abc\"",
				"ContentType": "application/json",
				"ContentEncoding": "gzip",
				"Metadata": {"signature": "0a1b", "signature-algorithm": "SHA256withRSA"}
			}}`,
			want: map[string]Meta{sigKey: {"signature": "0a1b", "signature-algorithm": "SHA256withRSA"}},
		},
		{
			// A tampered or stripped signature is the run's finding, not a
			// refused file.
			name: "metadata values taken as they are",
			in:   `{"` + sigKey + `": {"Metadata": {"signature": "not hex"}}}`,
			want: map[string]Meta{sigKey: {"signature": "not hex"}},
		},
		{
			name: "empty metadata",
			in:   `{"` + sigKey + `": {"Metadata": {}}}`,
			want: map[string]Meta{sigKey: {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSignatures("sigs.json", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSignaturesErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `nope`, `sigs.json: not a JSON object: invalid character 'o' in literal null (expecting 'u') at byte 2`},
		{"array", `["a"]`, `sigs.json: not a JSON object (expected {"digest key": signature, …})`},
		{"string", ` "ab" `, `sigs.json: not a JSON object (expected {"digest key": signature, …})`},
		{"empty file", ``, `sigs.json: not a JSON object: unexpected end of JSON input at byte 0`},
		{"empty object", `{}`, `sigs.json: no signatures in file`},
		{"truncated", `{"k": "ab"`, `sigs.json: not a JSON object: unexpected end of JSON input at byte 10`},
		{"trailing data", `{"k": "ab"} {}`, `sigs.json: not a JSON object: invalid character '{' after top-level value at byte 13`},
		{"not hex", `{"k": "xyz"}`, `sigs.json: entry "k": signature is not a hex string`},
		{"odd hex", `{"k": "abc"}`, `sigs.json: entry "k": signature is not a hex string`},
		{"empty signature", `{"k": ""}`, `sigs.json: entry "k": signature is not a hex string`},
		{"number", `{"k": 12}`, `sigs.json: entry "k": value is neither a hex signature string nor a metadata object`},
		{"null", `{"k": null}`, `sigs.json: entry "k": value is neither a hex signature string nor a metadata object`},
		{"non-string metadata", `{"k": {"signature": "ab", "size": 3}}`, `sigs.json: entry "k": metadata "size" is not a string (expected a hex signature, a Metadata object or head-object output)`},
		{"non-string in Metadata", `{"k": {"Metadata": {"signature": 1}}}`, `sigs.json: entry "k": Metadata: metadata "signature" is not a string (expected a hex signature, a Metadata object or head-object output)`},
		{"metadata twice", `{"k": {"signature": "ab", "Signature": "cd"}}`, `sigs.json: entry "k": metadata "signature" given twice`},
		{"empty key", `{"": "ab"}`, `sigs.json: entry "": empty object key`},
		{"URI without key", `{"s3://bucket": "ab"}`, `sigs.json: entry "s3://bucket": s3:// URI without an object key`},
		{"URI without key 2", `{"s3://bucket/": "ab"}`, `sigs.json: entry "s3://bucket/": s3:// URI without an object key`},
		{"URI without bucket", `{"s3:///k": "ab"}`, `sigs.json: entry "s3:///k": s3:// URI without a bucket name`},
		{"duplicate key", `{"k": "ab", "k": "cd"}`, `sigs.json: entry "k": object k already given by entry "k"`},
		{"duplicate via URI", `{"k": "ab", "s3://b/k": "cd"}`, `sigs.json: entry "s3://b/k": object k already given by entry "k"`},
		{"bad entry value", `{"k": {"signature": }}`, `sigs.json: not a JSON object: invalid character '}' looking for beginning of value at byte 21`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSignatures("sigs.json", strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("no error, got %v", got)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestParseSignaturesSizeCap(t *testing.T) {
	const limit = 1 << 10
	// An endless stream must be cut at the cap, not read to the end.
	r := &endless{prefix: []byte(`{"k": "`)}
	_, err := parseSignatures("big.json", r, limit)
	if want := "big.json: signatures file larger than 1024 bytes"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if r.n > limit+32<<10 {
		t.Errorf("read %d bytes, cap is %d", r.n, limit)
	}
	// Exactly at the cap is fine.
	in := `{"k":  "` + strings.Repeat("a", limit-len(`{"k":  ""}`)) + `"}`
	if _, err := parseSignatures("ok.json", strings.NewReader(in), limit); err != nil {
		t.Errorf("file of exactly the cap: %v", err)
	}
}

type endless struct {
	prefix []byte
	n      int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		if e.n+i < len(e.prefix) {
			p[i] = e.prefix[e.n+i]
		} else {
			p[i] = 'a'
		}
	}
	e.n += len(p)
	return len(p), nil
}

func TestLoadSignatures(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sigs.json")
	if err := os.WriteFile(path, []byte(`{"s3://b/`+sigKey+`": "ab"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSignatures(path)
	if err != nil {
		t.Fatal(err)
	}
	if got[sigKey]["signature"] != "ab" {
		t.Errorf("got %v", got)
	}

	_, err = LoadSignatures(filepath.Join(dir, "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: got %v, want an error naming the file", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"k": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadSignatures(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+": entry \"k\": ") {
		t.Errorf("bad file: got %v, want an error naming the file and the entry", err)
	}
}

// TestSignaturesReachOpen checks the intended use: a local copy answers Open
// with the signature given in the file.
func TestSignaturesReachOpen(t *testing.T) {
	sigs, err := ParseSignatures("sigs.json", strings.NewReader(`{"s3://b/`+sigKey+`": {"Metadata": {"signature": "ab", "signature-algorithm": "SHA256withRSA"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMem("b")
	m.Put(sigKey, []byte("x"), nil)
	rc, meta, err := WithMetadata(m, sigs).Open(t.Context(), sigKey)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if meta["signature"] != "ab" || meta["signature-algorithm"] != "SHA256withRSA" {
		t.Errorf("Open metadata = %v", meta)
	}
}

func FuzzParseSignatures(f *testing.F) {
	f.Add(`{"k": "ab"}`)
	f.Add(`{"s3://b/k": {"Metadata": {"signature": "ab"}}}`)
	f.Add(`{"k": {"Signature": "ab", "x-amz-meta-signature-algorithm": "SHA256withRSA"}}`)
	f.Add(`{"k": "ab", "k": "cd"}`)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseSignatures("f", strings.NewReader(in))
		if err != nil {
			if got != nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "f: ") {
				t.Fatalf("bad error %q (result %v)", err, got)
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("success without signatures")
		}
		for k, m := range got {
			if k == "" {
				t.Fatalf("bad key %q", k)
			}
			for name := range m {
				if name != strings.ToLower(name) {
					t.Fatalf("metadata name %q not lower-case", name)
				}
			}
		}
	})
}
