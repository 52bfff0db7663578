package trailgen

import (
	"bytes"
	"compress/gzip"
	"fmt"
)

// digestBody holds a digest's fields as the strings CloudTrail writes; nil
// pointers are JSON nulls.
type digestBody struct {
	AccountID, Start, End, Bucket, Object, Fingerprint, SignatureAlgorithm string
	Newest, Oldest                                                         *string
	PrevBucket, PrevObject, PrevHash, PrevHashAlgorithm, PrevSignature     *string
	LogFiles                                                               []logEntry
}

type logEntry struct {
	Bucket, Object, Hash, HashAlgorithm string
	Newest, Oldest                      *string
}

// appendDigest writes d exactly as CloudTrail does: compact JSON, fields in
// CloudTrail's order, slashes escaped.
func appendDigest(b *bytes.Buffer, d *digestBody) {
	b.WriteByte('{')
	field(b, "awsAccountId", &d.AccountID, true)
	field(b, "digestStartTime", &d.Start, false)
	field(b, "digestEndTime", &d.End, false)
	field(b, "digestS3Bucket", &d.Bucket, false)
	field(b, "digestS3Object", &d.Object, false)
	field(b, "digestPublicKeyFingerprint", &d.Fingerprint, false)
	field(b, "digestSignatureAlgorithm", &d.SignatureAlgorithm, false)
	field(b, "newestEventTime", d.Newest, false)
	field(b, "oldestEventTime", d.Oldest, false)
	field(b, "previousDigestS3Bucket", d.PrevBucket, false)
	field(b, "previousDigestS3Object", d.PrevObject, false)
	field(b, "previousDigestHashValue", d.PrevHash, false)
	field(b, "previousDigestHashAlgorithm", d.PrevHashAlgorithm, false)
	field(b, "previousDigestSignature", d.PrevSignature, false)
	b.WriteString(`,"logFiles":[`)
	for i := range d.LogFiles {
		lf := &d.LogFiles[i]
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		field(b, "s3Bucket", &lf.Bucket, true)
		field(b, "s3Object", &lf.Object, false)
		field(b, "hashValue", &lf.Hash, false)
		field(b, "hashAlgorithm", &lf.HashAlgorithm, false)
		field(b, "newestEventTime", lf.Newest, false)
		field(b, "oldestEventTime", lf.Oldest, false)
		b.WriteByte('}')
	}
	b.WriteString("]}")
}

func field(b *bytes.Buffer, name string, v *string, first bool) {
	if !first {
		b.WriteByte(',')
	}
	jsonString(b, name)
	b.WriteByte(':')
	if v == nil {
		b.WriteString("null")
		return
	}
	jsonString(b, *v)
}

// jsonString writes s as a JSON string the way CloudTrail's digests have
// it: '/' escaped as "\/", control characters escaped, other characters
// (including non-ASCII) as they are.
func jsonString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// gzipper compresses deterministically: one gzip member, no name, zero
// modification time, fixed level.
type gzipper struct {
	zw  *gzip.Writer
	buf bytes.Buffer
}

// compress returns the compressed bytes in a new slice of their exact size.
func (z *gzipper) compress(raw []byte) []byte {
	z.buf.Reset()
	if z.zw == nil {
		z.zw, _ = gzip.NewWriterLevel(&z.buf, gzip.DefaultCompression)
	} else {
		z.zw.Reset(&z.buf)
	}
	// Writes to a bytes.Buffer cannot fail.
	_, _ = z.zw.Write(raw)
	_ = z.zw.Close()
	return bytes.Clone(z.buf.Bytes())
}
