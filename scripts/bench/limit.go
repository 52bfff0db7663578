package main

import (
	"bufio"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
)

// limitImpls are the decompressors `bench limit` can use.
var limitImpls = []string{"klauspost", "stdlib"}

// limitResult is the one JSON line `bench limit` prints.
type limitResult struct {
	Impl         string  `json:"impl"`
	Workers      int     `json:"workers"`
	Files        int     `json:"files"`
	Bytes        int64   `json:"bytes"`        // stored (gzip) bytes read
	Decompressed int64   `json:"decompressed"` // bytes hashed
	Seconds      float64 `json:"seconds"`      // from the first open to the last hash
}

// limitMain is the machine's limit for the job: it does nothing but read,
// gunzip (one member, CRC and length checked, nothing after it) and SHA-256
// every log file below a directory, with all cores. No listing by key, no
// digests, no signatures, no report.
func limitMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("limit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", "klauspost", "gzip implementation: "+strings.Join(limitImpls, " or "))
	workers := fs.Int("workers", runtime.NumCPU(), "files hashed at once")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: bench limit [-impl klauspost|stdlib] [-workers N] DIR")
		return 2
	}
	res, err := runLimit(fs.Arg(0), *impl, *workers)
	if err != nil {
		fmt.Fprintln(stderr, "limit:", err)
		return 1
	}
	b, _ := json.Marshal(res)
	fmt.Fprintln(stdout, string(b))
	return 0
}

// logFiles returns the log files below dir: *.json.gz in a CloudTrail/
// folder (not CloudTrail-Digest/).
func logFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".json.gz") &&
			strings.Contains(filepath.ToSlash(p), "/CloudTrail/") {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

func runLimit(dir, impl string, workers int) (limitResult, error) {
	res := limitResult{Impl: impl, Workers: workers}
	var newHasher func() fileHasher
	switch impl {
	case "klauspost":
		newHasher = newKlauspostHasher
	case "stdlib":
		newHasher = newStdlibHasher
	default:
		return res, fmt.Errorf("unknown -impl %q", impl)
	}
	if workers < 1 {
		return res, errors.New("-workers must be at least 1")
	}
	files, err := logFiles(dir)
	if err != nil {
		return res, err
	}
	if len(files) == 0 {
		return res, fmt.Errorf("no log files (CloudTrail/…/*.json.gz) below %s", dir)
	}
	t0 := time.Now()
	var next atomic.Int64
	var stored, plain atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := newHasher()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				s, n, err := h.hashFile(files[i])
				if err != nil {
					errs[w] = fmt.Errorf("%s: %w", files[i], err)
					return
				}
				stored.Add(s)
				plain.Add(n)
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	res.Files, res.Bytes, res.Decompressed = len(files), stored.Load(), plain.Load()
	return res, nil
}

// fileHasher hashes one file's decompressed content; one per goroutine, so
// buffers and decompressors are reused without a pool.
type fileHasher interface {
	hashFile(path string) (stored, decompressed int64, err error)
}

const limitBuf = 256 << 10

type klauspostHasher struct {
	br  *bufio.Reader
	zr  kgzip.Reader
	h   hash.Hash
	sum []byte
}

func newKlauspostHasher() fileHasher {
	return &klauspostHasher{br: bufio.NewReaderSize(nil, limitBuf), h: sha256.New(), sum: make([]byte, 0, sha256.Size)}
}

func (k *klauspostHasher) hashFile(path string) (int64, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cr := &countReader{r: f}
	k.br.Reset(cr)
	k.h.Reset()
	if err := k.zr.Reset(k.br); err != nil {
		return 0, 0, err
	}
	k.zr.Multistream(false)
	// gzip.Reader.WriteTo: inflate straight into the hash (and the CRC).
	n, err := k.zr.WriteTo(k.h)
	if err != nil {
		return 0, 0, err
	}
	if _, err := k.br.ReadByte(); err != io.EOF {
		return 0, 0, errors.New("data after the gzip member")
	}
	k.sum = k.h.Sum(k.sum[:0])
	return cr.n, n, nil
}

type stdlibHasher struct {
	br  *bufio.Reader
	zr  *stdgzip.Reader
	h   hash.Hash
	buf []byte
	sum []byte
}

func newStdlibHasher() fileHasher {
	return &stdlibHasher{br: bufio.NewReaderSize(nil, limitBuf), h: sha256.New(), buf: make([]byte, limitBuf), sum: make([]byte, 0, sha256.Size)}
}

func (s *stdlibHasher) hashFile(path string) (int64, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cr := &countReader{r: f}
	s.br.Reset(cr)
	s.h.Reset()
	if s.zr == nil {
		if s.zr, err = stdgzip.NewReader(s.br); err != nil {
			return 0, 0, err
		}
	} else if err := s.zr.Reset(s.br); err != nil {
		return 0, 0, err
	}
	s.zr.Multistream(false)
	n, err := io.CopyBuffer(s.h, s.zr, s.buf)
	if err != nil {
		return 0, 0, err
	}
	if _, err := s.br.ReadByte(); err != io.EOF {
		return 0, 0, errors.New("data after the gzip member")
	}
	s.sum = s.h.Sum(s.sum[:0])
	return cr.n, n, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
