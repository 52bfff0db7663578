// Package gzhash hashes the decompressed content of a CloudTrail log file as
// it streams by, with a strict gzip reader: exactly one member, correct CRC
// and length, nothing after it.
//
// Memory per call is a fixed buffer and a pooled decompressor whatever the
// object's size.
package gzhash

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// ErrTrailingData is returned when bytes follow the first gzip member.
var ErrTrailingData = errors.New("unexpected data after end of compressed stream")

// FormatError is returned for data that is not one valid gzip member
// (bad header, corrupt deflate data, bad CRC or length, truncated).
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return "invalid gzip: " + e.Reason }

// Result is the hash of a decompressed stream.
type Result struct {
	SHA256 [sha256.Size]byte
	Size   int64 // decompressed bytes
}

// source remembers the first error of the underlying reader so that an I/O
// failure (could not read) is told apart from a format failure (bad data).
type source struct {
	r   io.Reader
	err error
	n   int64
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

type state struct {
	src source
	br  *bufio.Reader
	zr  gzip.Reader
	h   hash.Hash
	buf []byte
}

const bufSize = 64 << 10

var pool = sync.Pool{New: func() any {
	return &state{br: bufio.NewReaderSize(nil, bufSize), h: sha256.New(), buf: make([]byte, bufSize)}
}}

// Hash reads r to its end and returns the SHA-256 of the decompressed bytes.
// Errors: a *FormatError or ErrTrailingData for bad data; any other error
// is the reader's own (the object could not be read).
func Hash(r io.Reader) (Result, error) {
	st := pool.Get().(*state)
	defer func() {
		st.src = source{}
		st.br.Reset(nil)
		pool.Put(st)
	}()
	st.src = source{r: r}
	st.br.Reset(&st.src)
	st.h.Reset()
	// bufio.Reader is an io.ByteReader, so the decompressor reads through it
	// without buffering of its own: whatever it has not consumed after the
	// member is still in st.br for the trailing-data check.
	if err := st.zr.Reset(st.br); err != nil {
		return Result{}, classify(&st.src, err, "bad header")
	}
	st.zr.Multistream(false)
	n, err := io.CopyBuffer(st.h, &st.zr, st.buf)
	if err != nil {
		return Result{}, classify(&st.src, err, "")
	}
	if _, err := st.br.ReadByte(); err == nil {
		return Result{}, ErrTrailingData
	} else if err != io.EOF {
		return Result{}, classify(&st.src, err, "")
	}
	var res Result
	st.h.Sum(res.SHA256[:0])
	res.Size = n
	return res, nil
}

func classify(src *source, err error, what string) error {
	if src.err != nil {
		return src.err
	}
	switch {
	case errors.Is(err, io.EOF) && src.n == 0:
		return &FormatError{Reason: "empty object"}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FormatError{Reason: "truncated"}
	case errors.Is(err, gzip.ErrChecksum):
		return &FormatError{Reason: "checksum or length mismatch"}
	case errors.Is(err, gzip.ErrHeader):
		return &FormatError{Reason: "not gzip data"}
	}
	if what == "" {
		what = err.Error()
	}
	return &FormatError{Reason: fmt.Sprint(what)}
}
