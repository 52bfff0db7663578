// Package digest parses CloudTrail digest files and builds the string that
// CloudTrail signs for each of them.
//
// A digest is kept together with its exact decompressed bytes: every hash in
// CloudTrail's integrity scheme is over those bytes, never over re-serialised
// JSON.
package digest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxSize caps the decompressed size of a digest file. A digest lists at most
// one hour of log files for one region; real ones are a few hundred KiB at
// the busiest. Anything larger is not a digest and is refused rather than read.
const MaxSize = 32 << 20

// MaxCompressedSize caps the stored (compressed) size read for a digest.
const MaxCompressedSize = 16 << 20

// TimeLayout is the layout of every time field in a digest.
const TimeLayout = "2006-01-02T15:04:05Z"

// SignatureAlgorithm and HashAlgorithm are the only algorithms CloudTrail uses.
const (
	SignatureAlgorithm = "SHA256withRSA"
	HashAlgorithm      = "SHA-256"
)

// LogFile is one entry of a digest's logFiles list.
type LogFile struct {
	S3Bucket        string  `json:"s3Bucket"`
	S3Object        string  `json:"s3Object"`
	HashValue       string  `json:"hashValue"`
	HashAlgorithm   string  `json:"hashAlgorithm"`
	NewestEventTime *string `json:"newestEventTime"`
	OldestEventTime *string `json:"oldestEventTime"`
}

// Digest is a parsed digest file. Nullable fields are pointers so that a JSON
// null (a chain start) is told apart from a value.
type Digest struct {
	AWSAccountID               string    `json:"awsAccountId"`
	DigestStartTime            string    `json:"digestStartTime"`
	DigestEndTime              string    `json:"digestEndTime"`
	DigestS3Bucket             string    `json:"digestS3Bucket"`
	DigestS3Object             string    `json:"digestS3Object"`
	DigestPublicKeyFingerprint string    `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm   string    `json:"digestSignatureAlgorithm"`
	NewestEventTime            *string   `json:"newestEventTime"`
	OldestEventTime            *string   `json:"oldestEventTime"`
	PreviousDigestS3Bucket     *string   `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object     *string   `json:"previousDigestS3Object"`
	PreviousDigestHashValue    *string   `json:"previousDigestHashValue"`
	PreviousDigestHashAlgo     *string   `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature    *string   `json:"previousDigestSignature"`
	LogFiles                   []LogFile `json:"logFiles"`

	// Raw is the exact decompressed digest, as signed and as hashed by the
	// successor digest.
	Raw []byte `json:"-"`
	// SHA256 is the lowercase hex SHA-256 of Raw.
	SHA256 string `json:"-"`
	// Start and End are DigestStartTime and DigestEndTime parsed.
	Start, End time.Time `json:"-"`
}

var knownFields = []string{"awsAccountId", "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
	"digestPublicKeyFingerprint", "digestSignatureAlgorithm", "newestEventTime", "oldestEventTime",
	"previousDigestS3Bucket", "previousDigestS3Object", "previousDigestHashValue", "previousDigestHashAlgorithm",
	"previousDigestSignature", "logFiles"}

// FormatError says why bytes are not a digest.
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return "invalid digest format: " + e.Reason }

func formatErr(f string, a ...any) error { return &FormatError{Reason: fmt.Sprintf(f, a...)} }

// Decompress reads a gzip-compressed digest from r, refusing more than
// MaxCompressedSize stored bytes or MaxSize decompressed bytes, data after the
// gzip member, and a damaged member.
func Decompress(r io.Reader) ([]byte, error) {
	src := &sourceReader{r: r}
	lr := &io.LimitedReader{R: src, N: MaxCompressedSize + 1}
	// A bufio.Reader is an io.ByteReader, so gzip reads through it without a
	// buffer of its own and bytes after the member stay visible to us.
	br := bufio.NewReader(lr)
	zr, err := gzip.NewReader(br)
	if err != nil {
		if src.err != nil {
			return nil, src.err
		}
		return nil, formatErr("not gzip data")
	}
	zr.Multistream(false)
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(zr, MaxSize+1))
	if err != nil {
		if lr.N <= 0 {
			return nil, formatErr("compressed size exceeds %d bytes", MaxCompressedSize)
		}
		if src.err != nil {
			return nil, src.err
		}
		return nil, formatErr("corrupt gzip data: %v", err)
	}
	if n > MaxSize {
		return nil, formatErr("decompressed size exceeds %d bytes", MaxSize)
	}
	// Anything after the single gzip member is not CloudTrail's.
	var one [1]byte
	if m, _ := io.ReadFull(br, one[:]); m > 0 {
		if lr.N <= 0 {
			return nil, formatErr("compressed size exceeds %d bytes", MaxCompressedSize)
		}
		return nil, formatErr("unexpected data after end of compressed stream")
	}
	return buf.Bytes(), nil
}

// sourceReader remembers the first error of the underlying reader, so that
// an I/O failure (the object could not be read) is told apart from a decoding
// failure (the object is not a valid digest).
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// Parse parses decompressed digest bytes. It keeps raw (not a copy) as the
// digest's Raw field. Every field the integrity checks rely on must be present
// with the right JSON type; times must be in CloudTrail's layout.
func Parse(raw []byte) (*Digest, error) {
	if len(raw) > MaxSize {
		return nil, formatErr("size exceeds %d bytes", MaxSize)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, formatErr("not a JSON object: %v", err)
	}
	if fields == nil {
		return nil, formatErr("not a JSON object")
	}
	// Presence is checked on the raw map: a missing field and a null one mean
	// different things for the previousDigest* group.
	for _, name := range []string{"awsAccountId", "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
		"digestPublicKeyFingerprint", "digestSignatureAlgorithm", "previousDigestSignature", "logFiles"} {
		if _, ok := fields[name]; !ok {
			return nil, formatErr("missing field %q", name)
		}
	}
	// encoding/json matches names case-insensitively; CloudTrail's readers
	// do not. A near-duplicate name could make us read a different value
	// from the one the AWS CLI reads, so it is refused.
	for name := range fields {
		for _, known := range knownFields {
			if name != known && strings.EqualFold(name, known) {
				return nil, formatErr("field %q differs from %q only in case", name, known)
			}
		}
	}
	d := &Digest{}
	if err := json.Unmarshal(raw, d); err != nil {
		return nil, formatErr("%v", err)
	}
	for name, v := range map[string]string{
		"awsAccountId": d.AWSAccountID, "digestS3Bucket": d.DigestS3Bucket, "digestS3Object": d.DigestS3Object,
		"digestPublicKeyFingerprint": d.DigestPublicKeyFingerprint, "digestSignatureAlgorithm": d.DigestSignatureAlgorithm,
	} {
		if v == "" {
			return nil, formatErr("field %q is empty", name)
		}
	}
	var err error
	if d.Start, err = time.Parse(TimeLayout, d.DigestStartTime); err != nil {
		return nil, formatErr("digestStartTime %q is not a UTC time", d.DigestStartTime)
	}
	if d.End, err = time.Parse(TimeLayout, d.DigestEndTime); err != nil {
		return nil, formatErr("digestEndTime %q is not a UTC time", d.DigestEndTime)
	}
	if d.End.Before(d.Start) {
		return nil, formatErr("digestEndTime %s is before digestStartTime %s", d.DigestEndTime, d.DigestStartTime)
	}
	if d.LogFiles == nil {
		return nil, formatErr("logFiles is null")
	}
	for i, lf := range d.LogFiles {
		if lf.S3Bucket == "" || lf.S3Object == "" {
			return nil, formatErr("logFiles[%d] has no s3Bucket or s3Object", i)
		}
		if !isHexLen(lf.HashValue, sha256.Size*2) {
			return nil, formatErr("logFiles[%d] hashValue %q is not a hex SHA-256", i, lf.HashValue)
		}
	}
	if nulls := d.previousNulls(); nulls != 0 && nulls != 5 {
		return nil, formatErr("previousDigest fields are partly null")
	}
	if !d.IsChainStart() {
		if !isHexLen(*d.PreviousDigestHashValue, sha256.Size*2) {
			return nil, formatErr("previousDigestHashValue %q is not a hex SHA-256", *d.PreviousDigestHashValue)
		}
		if _, err := hex.DecodeString(*d.PreviousDigestSignature); err != nil || *d.PreviousDigestSignature == "" {
			return nil, formatErr("previousDigestSignature is not hex")
		}
	}
	d.Raw = raw
	sum := sha256.Sum256(raw)
	d.SHA256 = hex.EncodeToString(sum[:])
	return d, nil
}

// IsChainStart reports whether the digest starts a chain: CloudTrail writes
// null previousDigest* fields when validation or logging (re)starts.
func (d *Digest) IsChainStart() bool {
	return d.PreviousDigestSignature == nil
}

// previousNulls counts the previousDigest* fields that are null: a valid
// digest has all five or none.
func (d *Digest) previousNulls() int {
	n := 0
	for _, p := range []*string{d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, d.PreviousDigestHashValue,
		d.PreviousDigestHashAlgo, d.PreviousDigestSignature} {
		if p == nil {
			n++
		}
	}
	return n
}

// SigningString returns the exact bytes CloudTrail signs for d:
//
//	digestEndTime \n digestS3Bucket/digestS3Object \n hex(SHA-256(raw)) \n previousDigestSignature
//
// with a null previousDigestSignature written as "null".
func SigningString(endTime, bucket, object, rawSHA256Hex string, previousSignature *string) []byte {
	prev := "null"
	if previousSignature != nil {
		prev = *previousSignature
	}
	var b bytes.Buffer
	b.Grow(len(endTime) + len(bucket) + len(object) + len(rawSHA256Hex) + len(prev) + 4)
	b.WriteString(endTime)
	b.WriteByte('\n')
	b.WriteString(bucket)
	b.WriteByte('/')
	b.WriteString(object)
	b.WriteByte('\n')
	b.WriteString(rawSHA256Hex)
	b.WriteByte('\n')
	b.WriteString(prev)
	return b.Bytes()
}

// SigningString returns the bytes CloudTrail signed for this digest.
func (d *Digest) SigningString() []byte {
	return SigningString(d.DigestEndTime, d.DigestS3Bucket, d.DigestS3Object, d.SHA256, d.PreviousDigestSignature)
}

func isHexLen(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// IsHex reports whether s is a non-empty even-length hex string.
func IsHex(s string) bool { return len(s) > 0 && len(s)%2 == 0 && isHexLen(s, len(s)) }
