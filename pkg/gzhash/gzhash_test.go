package gzhash

import (
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

func gz(data []byte) []byte {
	var b bytes.Buffer
	w := stdgzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// records returns n bytes of JSON-like text that compresses like a log.
func records(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	for b.Len() < n {
		fmt.Fprintf(&b, `{"eventVersion":"1.10","eventTime":"2026-11-01T00:%02d:%02dZ","eventName":"GetObject","sourceIPAddress":"10.%d.%d.%d","requestID":"%016x"},`,
			r.IntN(60), r.IntN(60), r.IntN(256), r.IntN(256), r.IntN(256), r.Uint64())
	}
	b.WriteString(`{}]}`)
	return b.Bytes()
}

func TestHash(t *testing.T) {
	body := records(600 << 10) // larger than one buffer
	good := gz(body)
	res, err := Hash(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != sha256.Sum256(body) || res.Size != int64(len(body)) {
		t.Fatal("wrong hash or size")
	}
	// The pool must not leak state from one call to the next.
	small := []byte(`{"Records":[]}`)
	res, err = Hash(bytes.NewReader(gz(small)))
	if err != nil || res.SHA256 != sha256.Sum256(small) {
		t.Fatalf("second call: %v", err)
	}
}

func TestHashRejects(t *testing.T) {
	good := gz(records(4096))
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"trailing byte":    {append(append([]byte{}, good...), 0), ErrTrailingData},
		"second member":    {append(append([]byte{}, good...), gz([]byte("x"))...), ErrTrailingData},
		"truncated":        {good[:len(good)-4], &FormatError{}},
		"truncated member": {good[:len(good)/2], &FormatError{}},
		"bad crc":          {append(append([]byte{}, good[:len(good)-8]...), 1, 2, 3, 4, 0, 16, 0, 0), &FormatError{}},
		"not gzip":         {[]byte(`{"Records":[]}`), &FormatError{}},
		"empty":            {nil, &FormatError{}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Hash(bytes.NewReader(c.in))
			var fe *FormatError
			switch c.want.(type) {
			case *FormatError:
				if !errors.As(err, &fe) {
					t.Fatalf("Hash = %v, want FormatError", err)
				}
			default:
				if !errors.Is(err, c.want) {
					t.Fatalf("Hash = %v, want %v", err, c.want)
				}
			}
		})
	}
}

type failing struct {
	r   io.Reader
	err error
}

func (f failing) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestHashReadErrorIsNotFormat(t *testing.T) {
	good := gz(records(100 << 10))
	boom := errors.New("connection reset by peer")
	_, err := Hash(failing{bytes.NewReader(good[:len(good)/2]), boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Hash = %v, want the read error", err)
	}
}

// BenchmarkHash measures decompress+hash throughput (bytes are decompressed
// bytes) of this package against the standard library's gzip, so that the
// choice of implementation rests on a measurement.
func BenchmarkHash(b *testing.B) {
	body := records(4 << 20)
	data := gz(body)
	b.Run("gzhash", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := Hash(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		buf := make([]byte, bufSize)
		for b.Loop() {
			zr, err := stdgzip.NewReader(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			if _, err := io.CopyBuffer(h, zr, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sha256-only", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			sha256.Sum256(body)
		}
	})
}
