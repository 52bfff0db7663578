// Package standin is a loopback stand-in for the parts of AWS that
// trailcheck talks to, for tests and benchmarks: S3 (GetObject, HeadObject,
// ListObjectsV2, GetBucketLocation… through gofakes3 with an in-memory
// backend), CloudTrail (DescribeTrails, GetTrailStatus, ListPublicKeys),
// Organizations (ListAccounts, DescribeOrganization) and STS (AssumeRole,
// GetCallerIdentity), all on one listener bound to 127.0.0.1.
//
// Point the AWS SDK or CLI at it with the AWS_ENDPOINT_URL_* variables
// (Server.Env, Server.Setenv). Requests are routed by protocol: a JSON
// request's X-Amz-Target names CloudTrail or Organizations, a form POST to
// "/" is STS, anything else is S3 (path-style). The region of a request is
// the one in its SigV4 credential scope, so one endpoint serves every region
// and CloudTrail's per-region answers stay separate.
//
// For retry and failure tests a Server injects faults (Server.Inject), adds
// latency to every response (Options.Latency) and records every request
// (Server.Requests, Server.Count).
//
// Where gofakes3 differs from S3 in a way trailcheck would notice, the
// stand-in answers itself: ListObjectsV2 (gofakes3 repeats a common prefix
// on every page that has keys below it, and ignores encoding-type),
// GetBucketLocation (gofakes3 always says us-east-1), and the headers of
// GET and HEAD object responses (gofakes3 echoes the uploader's request
// headers, such as X-Amz-Date and X-Amz-Content-Sha256, back to readers).
package standin

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/trailcheck/trailcheck/pkg/keys"
)

// Options configures a Server. The zero value is a usable server.
type Options struct {
	// Latency is added before every response (20 ms is about what S3 takes
	// in-region; use it for benchmarks).
	Latency time.Duration

	// KeysPageSize is the number of keys in one ListPublicKeys page; 0
	// means 50. Tests set it small to exercise paging.
	KeysPageSize int

	// AccountsPageSize is the number of accounts in one ListAccounts page
	// (and the default MaxResults); 0 means 20, as Organizations does.
	AccountsPageSize int

	// AccessKeyID, when set, is the only long-term access key accepted
	// (plus those AssumeRole hands out): any other signature, or none, is
	// refused the way AWS refuses an unknown key.
	AccessKeyID string

	// Now is the clock for ListPublicKeys' default times and STS
	// expirations; nil means time.Now.
	Now func() time.Time
}

// Server is a running stand-in. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	ln      net.Listener
	srv     *http.Server
	url     string
	backend *s3mem.Backend
	s3      http.Handler

	mu           sync.Mutex
	bucketRegion map[string]string
	trails       []Trail
	keys         map[string][]keys.WireKey // by region
	org          *Organization
	accounts     []Account
	faults       []*Fault
	requests     []Request
	issuedKeys   map[string]bool // access keys handed out by AssumeRole
}

// Start starts a server on 127.0.0.1 with a free port.
func Start(opts Options) (*Server, error) {
	if opts.KeysPageSize <= 0 {
		opts.KeysPageSize = 50
	}
	if opts.AccountsPageSize <= 0 {
		opts.AccountsPageSize = 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("standin: %w", err)
	}
	backend := s3mem.New()
	faker := gofakes3.New(backend,
		gofakes3.WithLogger(gofakes3.DiscardLog()),
		gofakes3.WithoutVersioning(),
		// Requests are signed now but objects may be loaded with any
		// time; never refuse a request for its date.
		gofakes3.WithTimeSkewLimit(0),
	)
	s := &Server{
		opts:         opts,
		ln:           ln,
		url:          "http://" + ln.Addr().String(),
		backend:      backend,
		s3:           faker.Server(),
		bucketRegion: map[string]string{},
		keys:         map[string][]keys.WireKey{},
		issuedKeys:   map[string]bool{},
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// URL is the base URL of every service, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.url }

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Env returns the variables that point the AWS SDKs and the AWS CLI at the
// server: AWS_ENDPOINT_URL_{S3,CLOUDTRAIL,ORGANIZATIONS,STS}.
func (s *Server) Env() []string {
	var out []string
	for _, svc := range []string{"S3", "CLOUDTRAIL", "ORGANIZATIONS", "STS"} {
		out = append(out, "AWS_ENDPOINT_URL_"+svc+"="+s.url)
	}
	return out
}

// Setenver is the part of testing.TB that Setenv needs.
type Setenver interface {
	Setenv(key, value string)
}

// TB is the part of testing.TB that StartTest needs (so this package does
// not import testing).
type TB interface {
	Setenver
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// StartTest starts a server for a test, stops it when the test ends, and
// points the AWS SDK and CLI at it (Setenv).
func StartTest(t TB, opts Options) *Server {
	t.Helper()
	srv, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.Setenv(t)
	return srv
}

// Setenv points the AWS SDK at the server for the rest of a test and
// isolates it from the machine's AWS configuration: the endpoint variables
// of Env, static credentials (Options.AccessKeyID, or "standin"), no
// profile, no config files, no region, and instance metadata disabled so
// that nothing can reach for a network address other than the server. With
// t.Setenv the test cannot be parallel, and everything is restored after
// it.
func (s *Server) Setenv(t Setenver) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ak := s.opts.AccessKeyID
	if ak == "" {
		ak = "standin"
	}
	t.Setenv("AWS_ACCESS_KEY_ID", ak)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "standin-secret")
	for _, k := range []string{
		"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
		"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Request is one request the server received.
type Request struct {
	Service string // "s3", "cloudtrail", "organizations", "sts"
	Op      string // operation name, e.g. "GetObject", "ListPublicKeys"
	Region  string // from the SigV4 credential scope; "" if unsigned
	// AccessKey is the access key that signed the request; "" if unsigned.
	AccessKey string
	Bucket    string // S3 only
	Key       string // S3 object key
	Range     string // S3 Range header
	Status    int    // HTTP status sent; 0 for a reset connection
	Fault     bool   // answered by an injected fault
}

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns the number of requests for op ("" counts all).
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if op == "" || r.Op == op {
			n++
		}
	}
	return n
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// ServeHTTP answers one request (Server is its own handler).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := classify(r)
	if s.opts.Latency > 0 {
		t := time.NewTimer(s.opts.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	// The request is recorded when its status is decided, before the
	// client can see the answer, so a test that got an answer finds its
	// request in Requests.
	sw := &statusWriter{ResponseWriter: w, record: func(code int) {
		req.Status = code
		s.record(req)
	}}
	defer sw.finish()
	if f := s.takeFault(req); f != nil {
		req.Fault = true
		s.serveFault(sw, r, req, f.Kind)
		return
	}
	if code, msg, ok := s.authenticate(r); !ok {
		writeError(sw, req.Service, code, msg)
		return
	}
	switch req.Service {
	case "cloudtrail":
		s.serveCloudTrail(sw, r, req)
	case "organizations":
		s.serveOrganizations(sw, r, req)
	case "sts":
		s.serveSTS(sw, r, req)
	default:
		s.serveS3(sw, r, req)
	}
}

func (s *Server) record(req Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
}

// statusWriter records the request once with the status sent.
type statusWriter struct {
	http.ResponseWriter
	record func(code int)
	done   bool
}

// decide records the request with status code, once.
func (w *statusWriter) decide(code int) {
	if !w.done {
		w.done = true
		w.record(code)
	}
}

func (w *statusWriter) WriteHeader(code int) {
	w.decide(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.decide(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// finish records a request whose handler wrote nothing (an implicit 200).
func (w *statusWriter) finish() { w.decide(http.StatusOK) }

// Hijack takes the connection over (for resets); the status must have been
// decided first.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("standin: connection cannot be hijacked")
	}
	return hj.Hijack()
}

// Target prefixes of the JSON protocols. CloudTrail's SDKs send the short
// form, the AWS CLI the long one.
const (
	cloudTrailTarget     = "CloudTrail_20131101."
	cloudTrailLongTarget = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
	organizationsTarget  = "AWSOrganizationsV20161128."
)

// classify names the service and operation of r without reading its body
// (except an STS form, whose Action is in the body: r.ParseForm keeps the
// values for the handler).
func classify(r *http.Request) Request {
	req := Request{}
	req.Region, req.AccessKey = credentialScope(r)
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		switch {
		case strings.HasPrefix(target, cloudTrailLongTarget):
			req.Service, req.Op = "cloudtrail", strings.TrimPrefix(target, cloudTrailLongTarget)
		case strings.HasPrefix(target, cloudTrailTarget):
			req.Service, req.Op = "cloudtrail", strings.TrimPrefix(target, cloudTrailTarget)
		case strings.HasPrefix(target, organizationsTarget):
			req.Service, req.Op = "organizations", strings.TrimPrefix(target, organizationsTarget)
		default:
			req.Service, req.Op = "unknown", target
		}
		return req
	}
	if r.Method == http.MethodPost && r.URL.Path == "/" {
		req.Service = "sts"
		if err := r.ParseForm(); err == nil {
			req.Op = r.PostForm.Get("Action")
		}
		return req
	}
	req.Service = "s3"
	req.Range = r.Header.Get("Range")
	path := strings.TrimPrefix(r.URL.Path, "/")
	req.Bucket, req.Key, _ = strings.Cut(path, "/")
	q := r.URL.Query()
	switch {
	case req.Bucket == "":
		req.Op = "ListBuckets"
	case req.Key != "":
		switch r.Method {
		case http.MethodGet:
			req.Op = "GetObject"
		case http.MethodHead:
			req.Op = "HeadObject"
		case http.MethodPut:
			req.Op = "PutObject"
		case http.MethodDelete:
			req.Op = "DeleteObject"
		default:
			req.Op = r.Method + "Object"
		}
	case r.Method == http.MethodGet && q.Has("location"):
		req.Op = "GetBucketLocation"
	case r.Method == http.MethodGet && q.Get("list-type") == "2":
		req.Op = "ListObjectsV2"
	case r.Method == http.MethodGet:
		req.Op = "ListObjects"
	case r.Method == http.MethodHead:
		req.Op = "HeadBucket"
	case r.Method == http.MethodPut:
		req.Op = "CreateBucket"
	default:
		req.Op = r.Method + "Bucket"
	}
	return req
}

// credentialScope returns the region and access key of r's SigV4
// signature (header or presigned query), or "" for unsigned requests.
func credentialScope(r *http.Request) (region, accessKey string) {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		if _, after, ok := strings.Cut(auth, "Credential="); ok {
			cred, _, _ = strings.Cut(after, ",")
		}
	}
	// AKID/20240101/us-east-1/s3/aws4_request
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return "", ""
	}
	return parts[2], parts[0]
}

// authenticate checks the access key when Options.AccessKeyID is set.
func (s *Server) authenticate(r *http.Request) (code, msg string, ok bool) {
	if s.opts.AccessKeyID == "" {
		return "", "", true
	}
	_, ak := credentialScope(r)
	s.mu.Lock()
	issued := s.issuedKeys[ak]
	s.mu.Unlock()
	if ak == s.opts.AccessKeyID || issued {
		return "", "", true
	}
	if ak == "" {
		return "AccessDenied", "Anonymous access is forbidden for this operation", false
	}
	return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", false
}

// now is the server's clock.
func (s *Server) now() time.Time { return s.opts.Now() }
