package s3store_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/s3store"
	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/store/storetest"
)

// fast is a config whose retries do not wait long.
func fast(bucket string) s3store.Config {
	return s3store.Config{Bucket: bucket, MaxBackoff: 5 * time.Millisecond}
}

func open(t *testing.T, cfg s3store.Config) *s3store.Store {
	t.Helper()
	st, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return st
}

func readAll(t *testing.T, st store.Store, key string) ([]byte, store.Meta) {
	t.Helper()
	rc, meta, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Open(%s): reading: %v", key, err)
	}
	return data, meta
}

// TestConformance proves that S3, as the SDK sees it through the stand-in,
// behaves like Local and Mem.
func TestConformance(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{})
	var warnings []string
	var mu sync.Mutex
	storetest.Run(t, func(t *testing.T, objs map[string]storetest.Object) store.Store {
		for k, o := range objs {
			if err := srv.PutObject("conformance", k, o.Data, o.Meta, o.ContentEncoding); err != nil {
				t.Fatal(err)
			}
		}
		cfg := fast("conformance")
		cfg.Warnf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			warnings = append(warnings, fmt.Sprintf(format, args...))
		}
		st := open(t, cfg)
		if st.Region() != "us-east-1" || st.Bucket() != "conformance" {
			t.Errorf("Region, Bucket = %q, %q", st.Region(), st.Bucket())
		}
		if st.Endpoint() != srv.URL() {
			t.Errorf("Endpoint = %q, want %q from AWS_ENDPOINT_URL_S3", st.Endpoint(), srv.URL())
		}
		return st
	})
	// Without WhenRequired the SDK warns "Response has no supported
	// checksum" for every object.
	if len(warnings) > 0 {
		t.Errorf("the SDK warned: %q", warnings)
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

// TestGzipEncodingIsRaw checks that an object served with
// Content-Encoding: gzip is read as its stored bytes, while a plain
// net/http client would decompress it (so the test is not vacuous).
func TestGzipEncodingIsRaw(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{})
	data := gz(`{"Records":[]}`)
	if err := srv.PutObject("b", "log.json.gz", data, nil, "gzip"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL() + "/b/log.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(plain) != `{"Records":[]}` {
		t.Fatalf("net/http read %q: the stand-in does not serve Content-Encoding: gzip, so this test proves nothing", plain)
	}
	got, _ := readAll(t, open(t, fast("b")), "log.json.gz")
	if !bytes.Equal(got, data) {
		t.Errorf("s3store read %q, want the stored gzip bytes", got)
	}
}

// TestPaging lists more keys and folders than one page holds.
func TestPaging(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{})
	var want []string
	for i := range 2345 {
		k := fmt.Sprintf("d%04d/obj", i)
		want = append(want, k)
		if err := srv.PutObject("big", k, []byte("x"), nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	st := open(t, fast("big"))
	var got []string
	if err := st.List(context.Background(), "", func(o store.Object) error {
		got = append(got, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("List returned %d keys, want %d in order", len(got), len(want))
	}
	dirs, err := st.ListDirs(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(want) || dirs[0] != "d0000/" || dirs[len(dirs)-1] != "d2344/" {
		t.Errorf("ListDirs returned %d folders (%q…), want %d", len(dirs), dirs[:min(3, len(dirs))], len(want))
	}
	if n := srv.Count("ListObjectsV2"); n != 6 {
		t.Errorf("%d ListObjectsV2 calls, want 3 pages for List and 3 for ListDirs", n)
	}
}

func TestRegionDiscovery(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{})
	for _, tc := range []struct{ stored, want string }{
		{"", "us-east-1"},
		{"us-east-1", "us-east-1"},
		{"EU", "eu-west-1"},
		{"ap-southeast-2", "ap-southeast-2"},
	} {
		bucket := "bucket-" + strings.ToLower(tc.stored)
		if tc.stored == "" {
			bucket = "bucket-none"
		}
		if err := srv.CreateBucket(bucket, tc.stored); err != nil {
			t.Fatal(err)
		}
		srv.ResetRequests()
		st := open(t, fast(bucket))
		if st.Region() != tc.want {
			t.Errorf("bucket in %q: Region() = %q, want %q", tc.stored, st.Region(), tc.want)
		}
		if _, err := st.ListDirs(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		for _, r := range srv.Requests() {
			if r.Op == "ListObjectsV2" && r.Region != tc.want {
				t.Errorf("bucket in %q: listed with a client for %q, want %q", tc.stored, r.Region, tc.want)
			}
		}
	}
	// A given region is used as is, without asking.
	srv.ResetRequests()
	cfg := fast("bucket-eu")
	cfg.Region = "eu-west-1"
	if st := open(t, cfg); st.Region() != "eu-west-1" || srv.Count("GetBucketLocation") != 0 {
		t.Errorf("with Region set: Region() = %q after %d GetBucketLocation calls", st.Region(), srv.Count("GetBucketLocation"))
	}
	// Without s3:GetBucketLocation, HeadBucket's x-amz-bucket-region answers.
	srv.Inject(standin.Fault{Op: "GetBucketLocation", Kind: standin.AccessDenied})
	if st := open(t, fast("bucket-ap-southeast-2")); st.Region() != "ap-southeast-2" {
		t.Errorf("without GetBucketLocation: Region() = %q", st.Region())
	}
	// Without either, the error names the permission.
	srv.Inject(standin.Fault{Op: "HeadBucket", Kind: standin.AccessDenied})
	_, err := s3store.New(context.Background(), fast("bucket-eu"))
	if !errors.Is(err, store.ErrAccessDenied) || !strings.Contains(err.Error(), "s3:GetBucketLocation") {
		t.Errorf("both refused: error %v, want access denied naming s3:GetBucketLocation", err)
	}
}

func TestNoSuchBucket(t *testing.T) {
	standin.StartTest(t, standin.Options{})
	_, err := s3store.New(context.Background(), fast("nope"))
	if !errors.Is(err, s3store.ErrNoSuchBucket) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("New of a missing bucket: %v, want ErrNoSuchBucket (not ErrNotFound)", err)
	}
	cfg := fast("nope")
	cfg.Region = "us-east-1"
	st := open(t, cfg)
	_, _, err = st.Open(context.Background(), "k")
	if !errors.Is(err, s3store.ErrNoSuchBucket) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Open in a missing bucket: %v, want ErrNoSuchBucket (not ErrNotFound)", err)
	}
}

// TestEndpointHostName uses an endpoint given by host name, which the SDK
// would address virtual-host style (bucket.localhost) unless path style is
// turned on.
func TestEndpointHostName(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{})
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	if err := srv.PutObject("b", "k", []byte("v"), nil, ""); err != nil {
		t.Fatal(err)
	}
	cfg := fast("b")
	cfg.EndpointURL = strings.Replace(srv.URL(), "127.0.0.1", "localhost", 1)
	st := open(t, cfg)
	if got, _ := readAll(t, st, "k"); string(got) != "v" {
		t.Errorf("read %q", got)
	}
	for _, r := range srv.Requests() {
		if r.Bucket != "b" {
			t.Errorf("request %+v was not path-style", r)
		}
	}
}

func TestRetries(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{})
	data := make([]byte, 1<<20+3)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	if err := srv.PutObject("b", "obj", data, nil, ""); err != nil {
		t.Fatal(err)
	}
	st := open(t, fast("b"))
	for _, kind := range []standin.FaultKind{standin.SlowDown, standin.InternalError, standin.Unavailable, standin.Reset, standin.Truncate} {
		t.Run(kind.String(), func(t *testing.T) {
			srv.ClearFaults()
			srv.ResetRequests()
			srv.Inject(standin.Fault{Op: "GetObject", Key: "obj", Kind: kind, Times: 2})
			got, _ := readAll(t, st, "obj")
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, want the %d stored", len(got), len(data))
			}
			faults, ranged := 0, 0
			for _, r := range srv.Requests() {
				if r.Fault {
					faults++
				}
				if r.Range != "" {
					ranged++
				}
			}
			if faults != 2 || srv.Count("GetObject") < 3 {
				t.Errorf("%d faults in %d GetObject requests, want 2 faults and a success", faults, srv.Count("GetObject"))
			}
			// A broken download is resumed, not started over.
			if kind == standin.Truncate && ranged != 2 {
				t.Errorf("%d ranged GETs after broken downloads, want 2", ranged)
			}
		})
	}
	t.Run("ListThrottled", func(t *testing.T) {
		srv.ClearFaults()
		srv.Inject(standin.Fault{Op: "ListObjectsV2", Kind: standin.SlowDown, Times: 3})
		n := 0
		if err := st.List(context.Background(), "", func(store.Object) error { n++; return nil }); err != nil || n != 1 {
			t.Errorf("List under throttling: %d objects, error %v", n, err)
		}
	})
	t.Run("GivesUp", func(t *testing.T) {
		srv.ClearFaults()
		srv.ResetRequests()
		srv.Inject(standin.Fault{Op: "GetObject", Kind: standin.InternalError})
		_, _, err := st.Open(context.Background(), "obj")
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAccessDenied) {
			t.Errorf("Open when S3 always fails: %v", err)
		}
		if n := srv.Count("GetObject"); n != awsapi.DefaultMaxAttempts {
			t.Errorf("%d attempts, want %d", n, awsapi.DefaultMaxAttempts)
		}
	})
}

func TestAccessDenied(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{})
	if err := srv.PutObject("b", "AWSLogs/obj", []byte("x"), nil, ""); err != nil {
		t.Fatal(err)
	}
	st := open(t, fast("b"))
	ctx := context.Background()
	for _, tc := range []struct {
		op, permission string
		kind           standin.FaultKind
		want           string
		call           func() error
	}{
		{"ListObjectsV2", "s3:ListBucket", standin.AccessDenied, "lack permission", func() error {
			return st.List(ctx, "AWSLogs/", func(store.Object) error { return nil })
		}},
		{"ListObjectsV2", "s3:ListBucket", standin.AccessDenied, "lack permission", func() error {
			_, err := st.ListDirs(ctx, "AWSLogs/")
			return err
		}},
		{"GetObject", "s3:GetObject", standin.AccessDenied, "lack permission", func() error {
			_, _, err := st.Open(ctx, "AWSLogs/obj")
			return err
		}},
		{"GetObject", "", standin.ExpiredToken, "expired", func() error {
			_, _, err := st.Open(ctx, "AWSLogs/obj")
			return err
		}},
	} {
		srv.ClearFaults()
		srv.ResetRequests()
		srv.Inject(standin.Fault{Op: tc.op, Kind: tc.kind})
		err := tc.call()
		if !errors.Is(err, store.ErrAccessDenied) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s refused (%v): error %v, want one wrapping store.ErrAccessDenied", tc.op, tc.kind, err)
			continue
		}
		if !s3store.IsAccessDenied(err) {
			t.Errorf("IsAccessDenied(%v) = false", err)
		}
		if !strings.Contains(err.Error(), tc.permission) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s refused: error %q does not say %q and %q", tc.op, err, tc.want, tc.permission)
		}
		if n := srv.Count(tc.op); n != 1 {
			t.Errorf("%s refused: %d attempts, want 1 (a refusal is not retried)", tc.op, n)
		}
	}
}

func TestBadCredentials(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{AccessKeyID: "AKIASTANDINGOOD"})
	if err := srv.CreateBucket("b", "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	open(t, fast("b")) // the right key works

	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASTANDINWRONG")
	_, err := s3store.New(context.Background(), fast("b"))
	if !errors.Is(err, store.ErrAccessDenied) || !strings.Contains(err.Error(), "rejected the credentials") {
		t.Errorf("wrong key: %v, want access denied saying the credentials were rejected", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	_, err = s3store.New(context.Background(), fast("b"))
	if !errors.Is(err, store.ErrAccessDenied) || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Errorf("no credentials: %v, want access denied saying there are none", err)
	}
}

func TestAssumeRole(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{AccessKeyID: "AKIASTANDINBASE"})
	if err := srv.PutObject("b", "k", []byte("v"), nil, ""); err != nil {
		t.Fatal(err)
	}
	cfg := fast("b")
	cfg.RoleARN = "arn:aws:iam::111122223333:role/auditor"
	st := open(t, cfg)
	if got, _ := readAll(t, st, "k"); string(got) != "v" {
		t.Errorf("read %q", got)
	}
	if srv.Count("AssumeRole") != 1 {
		t.Errorf("%d AssumeRole calls, want 1", srv.Count("AssumeRole"))
	}
	for _, r := range srv.Requests() {
		if r.Service == "s3" && !strings.HasPrefix(r.AccessKey, "ASIASTANDIN") {
			t.Errorf("%s signed with %q, not the assumed role's key", r.Op, r.AccessKey)
		}
	}

	srv.Inject(standin.Fault{Op: "AssumeRole", Kind: standin.AccessDenied})
	_, err := s3store.New(context.Background(), cfg)
	if !errors.Is(err, store.ErrAccessDenied) || !strings.Contains(err.Error(), "sts:AssumeRole") {
		t.Errorf("AssumeRole refused: %v, want access denied naming sts:AssumeRole", err)
	}
}

func TestCancelDuringRetries(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{})
	if err := srv.PutObject("b", "k", []byte("v"), nil, ""); err != nil {
		t.Fatal(err)
	}
	cfg := fast("b")
	cfg.MaxBackoff = time.Minute
	st := open(t, cfg)
	srv.Inject(standin.Fault{Op: "GetObject", Kind: standin.SlowDown})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, _, err := st.Open(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open cancelled while backing off: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Open took %v to notice the cancellation", d)
	}
}

// BenchmarkOpenParallel reads small objects 128 at a time (the validator's
// default) from a stand-in that answers in 20 ms, as S3 does in-region: the
// connection pool must keep them all in flight.
func BenchmarkOpenParallel(b *testing.B) {
	srv, err := standin.Start(standin.Options{Latency: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.Setenv(b)
	const n = 512
	for i := range n {
		if err := srv.PutObject("bench", fmt.Sprintf("k%04d", i), gz("{}"), nil, ""); err != nil {
			b.Fatal(err)
		}
	}
	st, err := s3store.New(context.Background(), fast("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		sem := make(chan struct{}, 128)
		var wg sync.WaitGroup
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				rc, _, err := st.Open(context.Background(), fmt.Sprintf("k%04d", i))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, rc)
				rc.Close()
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}
