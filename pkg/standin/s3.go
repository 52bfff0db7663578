package standin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/johannesboyne/gofakes3"

	"github.com/trailcheck/trailcheck/pkg/store"
)

// CreateBucket creates bucket (if it does not exist) in region, which
// GetBucketLocation reports: "" or "us-east-1" is reported as S3 does, as
// an empty LocationConstraint; "EU" is reported as is, as S3 does for old
// eu-west-1 buckets.
func (s *Server) CreateBucket(bucket, region string) error {
	if err := s.ensureBucket(bucket); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucketRegion[bucket] = region
	return nil
}

func (s *Server) ensureBucket(bucket string) error {
	ok, err := s.backend.BucketExists(bucket)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.backend.CreateBucket(bucket); err != nil {
			return fmt.Errorf("standin: create bucket %s: %w", bucket, err)
		}
	}
	return nil
}

// PutObject stores data under key in bucket (created if needed), with
// user metadata meta (names in any case, without "x-amz-meta-") and, if
// not empty, the Content-Encoding header contentEncoding. data is stored as
// given: "gzip" only labels it.
func (s *Server) PutObject(bucket, key string, data []byte, meta store.Meta, contentEncoding string) error {
	if err := s.ensureBucket(bucket); err != nil {
		return err
	}
	h := map[string]string{
		"Content-Type":  "binary/octet-stream",
		"Last-Modified": s.now().UTC().Format(http.TimeFormat),
	}
	if contentEncoding != "" {
		h["Content-Encoding"] = contentEncoding
	}
	for k, v := range meta {
		h[http.CanonicalHeaderKey("X-Amz-Meta-"+k)] = v
	}
	if _, err := s.backend.PutObject(bucket, key, h, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		return fmt.Errorf("standin: put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// LoadStore copies every object of st, with its metadata, into bucket.
// contentEncoding, if not empty, labels every object (CloudTrail's objects
// are gzip files; some buckets serve them with Content-Encoding: gzip).
func (s *Server) LoadStore(ctx context.Context, bucket string, st store.Store, contentEncoding string) (int, error) {
	if err := s.ensureBucket(bucket); err != nil {
		return 0, err
	}
	n := 0
	err := st.List(ctx, "", func(o store.Object) error {
		rc, meta, err := st.Open(ctx, o.Key)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		n++
		return s.PutObject(bucket, o.Key, data, meta, contentEncoding)
	})
	return n, err
}

// LoadMem copies every object of m into the bucket of m's name.
func (s *Server) LoadMem(m *store.Mem) error {
	if m.Bucket() == "" {
		return fmt.Errorf("standin: the store.Mem has no bucket name")
	}
	_, err := s.LoadStore(context.Background(), m.Bucket(), m, "")
	return err
}

// serveS3 answers S3 requests: gofakes3, except where it differs from S3.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request, req Request) {
	switch req.Op {
	case "GetBucketLocation":
		s.getBucketLocation(w, req)
	case "ListObjectsV2":
		s.listObjectsV2(w, r, req)
	case "GetObject", "HeadObject":
		ow := &objectHeaderWriter{ResponseWriter: w}
		s.s3.ServeHTTP(ow, r)
		ow.clean() // a HEAD answer may have written nothing yet
	case "HeadBucket":
		// S3 names the bucket's region in every HeadBucket answer; SDKs
		// use it to find a bucket without s3:GetBucketLocation.
		if ok, _ := s.backend.BucketExists(req.Bucket); ok {
			w.Header().Set("X-Amz-Bucket-Region", s.regionOf(req.Bucket))
		}
		s.s3.ServeHTTP(w, r)
	default:
		s.s3.ServeHTTP(w, r)
	}
}

// regionOf returns the region of bucket as HeadBucket names it.
func (s *Server) regionOf(bucket string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r := s.bucketRegion[bucket]; r {
	case "":
		return "us-east-1"
	case "EU":
		return "eu-west-1"
	default:
		return r
	}
}

const s3XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

func (s *Server) bucketExists(w http.ResponseWriter, bucket string) bool {
	ok, err := s.backend.BucketExists(bucket)
	if err != nil || !ok {
		writeError(w, "s3", "NoSuchBucket", "The specified bucket does not exist")
		return false
	}
	return true
}

// getBucketLocation answers with the region given to CreateBucket
// (gofakes3 always answers us-east-1).
func (s *Server) getBucketLocation(w http.ResponseWriter, req Request) {
	if !s.bucketExists(w, req.Bucket) {
		return
	}
	s.mu.Lock()
	region := s.bucketRegion[req.Bucket]
	s.mu.Unlock()
	if region == "us-east-1" {
		region = ""
	}
	w.Header().Set("Content-Type", "application/xml")
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Region  string   `xml:",chardata"`
	}{Xmlns: s3XMLNS, Region: region})
}

type listV2Result struct {
	XMLName               xml.Name            `xml:"ListBucketResult"`
	Xmlns                 string              `xml:"xmlns,attr"`
	Name                  string              `xml:"Name"`
	Prefix                string              `xml:"Prefix"`
	Delimiter             string              `xml:"Delimiter,omitempty"`
	MaxKeys               int                 `xml:"MaxKeys"`
	EncodingType          string              `xml:"EncodingType,omitempty"`
	KeyCount              int                 `xml:"KeyCount"`
	IsTruncated           bool                `xml:"IsTruncated"`
	ContinuationToken     string              `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string              `xml:"NextContinuationToken,omitempty"`
	StartAfter            string              `xml:"StartAfter,omitempty"`
	Contents              []*gofakes3.Content `xml:"Contents"`
	CommonPrefixes        []commonPrefix      `xml:"CommonPrefixes"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// listObjectsV2 implements ListObjectsV2 over the backend's plain prefix
// listing. gofakes3's own repeats a common prefix on every page where keys
// below it fall (its continuation token is the last key, not the last
// prefix), and ignores encoding-type, which the AWS CLI always sends.
//
// The continuation token is the last key or common prefix returned,
// base64'd, so a page never starts inside a prefix already returned.
func (s *Server) listObjectsV2(w http.ResponseWriter, r *http.Request, req Request) {
	if !s.bucketExists(w, req.Bucket) {
		return
	}
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, "s3", "InvalidArgument", "Provided max-keys not an integer or within integer range")
			return
		}
		maxKeys = min(n, 1000)
	}
	encodeURL := false
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		encodeURL = true
	default:
		writeError(w, "s3", "InvalidArgument", "Invalid Encoding Method specified in Request")
		return
	}
	after := q.Get("start-after")
	token := q.Get("continuation-token")
	fromToken := q.Has("continuation-token")
	if fromToken {
		b, err := base64.URLEncoding.DecodeString(token)
		if err != nil || len(b) == 0 {
			writeError(w, "s3", "InvalidArgument", "The continuation token provided is incorrect")
			return
		}
		after = string(b)
	}

	pfx := gofakes3.Prefix{HasPrefix: prefix != "", Prefix: prefix}
	all, err := s.backend.ListBucket(req.Bucket, &pfx, gofakes3.ListBucketPage{})
	if err != nil {
		writeError(w, "s3", "InternalError", err.Error())
		return
	}
	enc := func(s string) string {
		if encodeURL {
			return url.QueryEscape(s)
		}
		return s
	}
	res := listV2Result{
		Xmlns:             s3XMLNS,
		Name:              req.Bucket,
		Prefix:            enc(prefix),
		Delimiter:         enc(delim),
		MaxKeys:           maxKeys,
		ContinuationToken: token,
		StartAfter:        enc(q.Get("start-after")),
	}
	if encodeURL {
		res.EncodingType = "url"
	}
	last := ""
	for _, c := range all.Contents {
		if !strings.HasPrefix(c.Key, prefix) || c.Key <= after {
			continue
		}
		// Skip what a common prefix already returned covers.
		if fromToken && delim != "" && strings.HasSuffix(after, delim) && strings.HasPrefix(c.Key, after) && len(after) > len(prefix) {
			continue
		}
		entry, isPrefix := c.Key, false
		if delim != "" {
			if i := strings.Index(c.Key[len(prefix):], delim); i >= 0 {
				entry, isPrefix = c.Key[:len(prefix)+i+len(delim)], true
			}
		}
		if isPrefix && entry == last {
			continue
		}
		if res.KeyCount == maxKeys {
			// S3 answers max-keys=0 with an empty, complete page.
			res.IsTruncated = maxKeys > 0
			break
		}
		if isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc(entry)})
		} else {
			cc := *c
			cc.Key = enc(c.Key)
			cc.StorageClass = "STANDARD"
			res.Contents = append(res.Contents, &cc)
		}
		last = entry
		res.KeyCount++
	}
	if res.IsTruncated {
		res.NextContinuationToken = base64.URLEncoding.EncodeToString([]byte(last))
	}
	w.Header().Set("Content-Type", "application/xml")
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(res)
}

// objectHeaderWriter drops the headers gofakes3 echoes from the request
// that stored an object (X-Amz-Date, X-Amz-Content-Sha256,
// X-Amz-Decoded-Content-Length…) from GET and HEAD object responses, which
// S3 never returns, and sends metadata names lower-case, as S3 does.
type objectHeaderWriter struct {
	http.ResponseWriter
	done bool
}

func (w *objectHeaderWriter) clean() {
	if w.done {
		return
	}
	w.done = true
	h := w.Header()
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, "X-Amz-Meta-"):
			// S3 keeps metadata names lower-case and sends them so;
			// net/http would send them canonicalised, and clients such as
			// the AWS CLI pass the names on as received.
			delete(h, k)
			h[strings.ToLower(k)] = v
		case strings.HasPrefix(k, "X-Amz-") && !objectResponseHeader(k):
			delete(h, k)
		}
	}
	// A CORS header no S3 bucket without a CORS configuration sends.
	h.Del("Access-Control-Allow-Origin")
}

func objectResponseHeader(k string) bool {
	for _, p := range []string{"X-Amz-Meta-", "X-Amz-Checksum-", "X-Amz-Server-Side-Encryption", "X-Amz-Object-Lock-"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	switch k {
	case "X-Amz-Request-Id", "X-Amz-Id-2", "X-Amz-Version-Id", "X-Amz-Delete-Marker", "X-Amz-Storage-Class",
		"X-Amz-Bucket-Region", "X-Amz-Expiration", "X-Amz-Restore", "X-Amz-Tagging-Count",
		"X-Amz-Website-Redirect-Location", "X-Amz-Replication-Status", "X-Amz-Mp-Parts-Count":
		return true
	}
	return false
}

func (w *objectHeaderWriter) WriteHeader(code int) {
	w.clean()
	w.ResponseWriter.WriteHeader(code)
}

func (w *objectHeaderWriter) Write(b []byte) (int, error) {
	w.clean()
	return w.ResponseWriter.Write(b)
}
