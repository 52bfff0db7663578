package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/trailcheck/trailcheck/pkg/digest"
)

// MaxSignatureFileSize caps a signatures file. An entry is under 1 KiB (a
// 512-hex-digit signature and a key, or one head-object output), and a
// region delivers 8,760 digests a year, so this holds decades of digests for
// every region of a few accounts; anything larger is refused, not read.
const MaxSignatureFileSize = 256 << 20

// LoadSignatures reads a signatures file: the S3 user metadata of digest
// objects, for a local copy of a bucket (`aws s3 sync` does not keep
// metadata). The file is one JSON object mapping each digest's object key
// (or its full s3://bucket/key URI) to one of:
//
//   - the hex signature, a string: it stands for the metadata
//     {"signature": HEX, "signature-algorithm": "SHA256withRSA"};
//   - the object's user metadata as `aws s3api head-object` prints it in
//     "Metadata" ({"signature": …, "signature-algorithm": …, …});
//   - the whole `aws s3api head-object` output (an object with "Metadata").
//
// Metadata names are lower-cased (and an "x-amz-meta-" prefix removed), as
// the SDKs expose them. Metadata values are taken as S3 holds them, so that a
// tampered value is a finding of the run rather than a refused file. The
// result is meant for WithMetadata.
func LoadSignatures(path string) (map[string]Meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseSignatures(path, f)
}

// ParseSignatures parses a signatures file (see LoadSignatures) read from r;
// name is used in errors.
func ParseSignatures(name string, r io.Reader) (map[string]Meta, error) {
	return parseSignatures(name, r, MaxSignatureFileSize)
}

func parseSignatures(name string, r io.Reader, limit int64) (map[string]Meta, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: signatures file larger than %d bytes", name, limit)
	}
	// Unmarshal first: it rejects every syntax error and trailing data, with
	// offsets counted from the start of the file (a Decoder's are not).
	var top json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v", name, jsonError(err))
	}
	if top[0] != '{' {
		return nil, fmt.Errorf("%s: not a JSON object (expected {\"digest key\": signature, …})", name)
	}
	// Walk the members in order, so that a key given twice is an error
	// rather than silently the last one.
	dec := json.NewDecoder(bytes.NewReader(top))
	dec.Token() // the opening brace
	out := map[string]Meta{}
	entries := map[string]string{} // object key → the entry that gave it
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err) // not reached: the JSON is valid
		}
		entry, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: entry %q: %v", name, entry, err) // not reached
		}
		key, err := signatureKey(entry)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %v", name, entry, err)
		}
		if prev, dup := entries[key]; dup {
			return nil, fmt.Errorf("%s: entry %q: object %s already given by entry %q", name, entry, key, prev)
		}
		meta, err := signatureMeta(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %v", name, entry, err)
		}
		entries[key] = entry
		out[key] = meta
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no signatures in file", name)
	}
	return out, nil
}

// signatureKey turns an entry name into an object key.
func signatureKey(entry string) (string, error) {
	key := entry
	if rest, ok := strings.CutPrefix(entry, "s3://"); ok {
		bucket, k, found := strings.Cut(rest, "/")
		if bucket == "" {
			return "", errors.New("s3:// URI without a bucket name")
		}
		if !found || k == "" {
			return "", errors.New("s3:// URI without an object key")
		}
		key = k
	}
	if key == "" {
		return "", errors.New("empty object key")
	}
	return key, nil
}

// signatureMeta decodes one entry's value.
func signatureMeta(raw json.RawMessage) (Meta, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("no value")
	}
	switch raw[0] {
	case '"':
		var sig string
		if err := json.Unmarshal(raw, &sig); err != nil {
			return nil, err
		}
		if !digest.IsHex(sig) {
			return nil, errors.New("signature is not a hex string")
		}
		return Meta{"signature": sig, "signature-algorithm": digest.SignatureAlgorithm}, nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, err
		}
		// The whole head-object output: use its Metadata member.
		for k, v := range obj {
			if t := bytes.TrimSpace(v); strings.EqualFold(k, "Metadata") && len(t) > 0 && t[0] == '{' {
				var md map[string]json.RawMessage
				if err := json.Unmarshal(v, &md); err != nil {
					return nil, fmt.Errorf("Metadata: %v", err)
				}
				return metaFromObject(md, "Metadata: ")
			}
		}
		return metaFromObject(obj, "")
	default:
		return nil, errors.New("value is neither a hex signature string nor a metadata object")
	}
}

func metaFromObject(obj map[string]json.RawMessage, where string) (Meta, error) {
	meta := Meta{}
	for k, v := range obj {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%smetadata %q is not a string (expected a hex signature, a Metadata object or head-object output)", where, k)
		}
		name := strings.ToLower(k)
		name = strings.TrimPrefix(name, "x-amz-meta-")
		if _, dup := meta[name]; dup {
			return nil, fmt.Errorf("%smetadata %q given twice", where, name)
		}
		meta[name] = s
	}
	return meta, nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v at byte %d", se, se.Offset)
	}
	return err
}
