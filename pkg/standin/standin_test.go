package standin_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/store"
)

func start(t *testing.T, opts standin.Options) *standin.Server {
	t.Helper()
	srv, err := standin.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestLoopbackOnly(t *testing.T) {
	srv := start(t, standin.Options{})
	u, err := url.Parse(srv.URL())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		t.Errorf("URL %q is not on 127.0.0.1", srv.URL())
	}
	for _, kv := range srv.Env() {
		if !strings.HasPrefix(kv, "AWS_ENDPOINT_URL_") || !strings.HasSuffix(kv, "="+srv.URL()) {
			t.Errorf("Env has %q", kv)
		}
	}
}

type listResult struct {
	IsTruncated           bool
	NextContinuationToken string
	EncodingType          string
	KeyCount              int
	Contents              []struct{ Key string }
	CommonPrefixes        []struct{ Prefix string }
}

func get(t *testing.T, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// listAll pages through ListObjectsV2 and returns keys and common prefixes.
func listAll(t *testing.T, srv *standin.Server, bucket, prefix, delim string, maxKeys int, encode bool) (keys, prefixes []string) {
	t.Helper()
	token := ""
	for page := 0; ; page++ {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}, "max-keys": {fmt.Sprint(maxKeys)}}
		if delim != "" {
			q.Set("delimiter", delim)
		}
		if encode {
			q.Set("encoding-type", "url")
		}
		if token != "" {
			q.Set("continuation-token", token)
		}
		resp, body := get(t, srv.URL()+"/"+bucket+"?"+q.Encode())
		if resp.StatusCode != 200 {
			t.Fatalf("ListObjectsV2: %s: %s", resp.Status, body)
		}
		var res listResult
		if err := xml.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		dec := func(s string) string {
			if !encode {
				return s
			}
			if res.EncodingType != "url" {
				t.Fatalf("encoding-type=url not echoed")
			}
			d, err := url.QueryUnescape(s)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if res.KeyCount != len(res.Contents)+len(res.CommonPrefixes) || res.KeyCount > maxKeys {
			t.Fatalf("KeyCount %d for %d keys and %d prefixes (max-keys %d)", res.KeyCount, len(res.Contents), len(res.CommonPrefixes), maxKeys)
		}
		for _, c := range res.Contents {
			keys = append(keys, dec(c.Key))
		}
		for _, p := range res.CommonPrefixes {
			prefixes = append(prefixes, dec(p.Prefix))
		}
		if !res.IsTruncated {
			return keys, prefixes
		}
		token = res.NextContinuationToken
		if token == "" || page > 10000 {
			t.Fatal("truncated page without a token")
		}
	}
}

// model lists like S3 does.
func model(all []string, prefix, delim string) (keys, prefixes []string) {
	seen := map[string]bool{}
	for _, k := range all {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				p := k[:len(prefix)+i+len(delim)]
				if !seen[p] {
					seen[p] = true
					prefixes = append(prefixes, p)
				}
				continue
			}
		}
		keys = append(keys, k)
	}
	return keys, prefixes
}

// TestListObjectsV2 compares every way of paging through a bucket with
// what S3 answers. gofakes3's own ListObjectsV2 repeats common prefixes
// across pages.
func TestListObjectsV2(t *testing.T) {
	srv := start(t, standin.Options{})
	r := rand.New(rand.NewPCG(7, 8))
	parts := []string{"a", "a.b", "b", "AWSLogs", "1", "x y", "p+q", "ü", "%41", ""}
	seen := map[string]bool{}
	var all []string
	for len(all) < 150 {
		n := 1 + r.IntN(4)
		var ps []string
		for range n {
			ps = append(ps, parts[r.IntN(len(parts))])
		}
		k := strings.Join(ps, "/")
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		all = append(all, k)
		if err := srv.PutObject("b", k, []byte(k), nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(all)
	for _, prefix := range []string{"", "a", "a/", "a.", "AWSLogs/", "x y/", "a/b/", "zzz", "/"} {
		for _, delim := range []string{"", "/"} {
			for _, maxKeys := range []int{1, 2, 3, 7, 1000} {
				for _, encode := range []bool{false, true} {
					gotK, gotP := listAll(t, srv, "b", prefix, delim, maxKeys, encode)
					wantK, wantP := model(all, prefix, delim)
					if !reflect.DeepEqual(gotK, wantK) || !reflect.DeepEqual(gotP, wantP) {
						t.Errorf("prefix %q delimiter %q max-keys %d encoded %v:\n got %q %q\nwant %q %q",
							prefix, delim, maxKeys, encode, gotK, gotP, wantK, wantP)
					}
				}
			}
		}
	}
	resp, _ := get(t, srv.URL()+"/nope?list-type=2")
	if resp.StatusCode != 404 {
		t.Errorf("listing a missing bucket: %s", resp.Status)
	}
}

func TestObjectHeaders(t *testing.T) {
	srv := start(t, standin.Options{})
	data := []byte{0x1f, 0x8b, 8, 0}
	if err := srv.PutObject("b", "k.gz", data, store.Meta{"Signature": "abc", "signature-algorithm": "SHA256withRSA"}, "gzip"); err != nil {
		t.Fatal(err)
	}
	// An upload over HTTP, as the AWS CLI would make it.
	req, _ := http.NewRequest(http.MethodPut, srv.URL()+"/b/up", strings.NewReader("up"))
	req.Header.Set("X-Amz-Date", "20240101T000000Z")
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req.Header.Set("X-Amz-Meta-Note", "n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	resp.Body.Close()

	resp, body := get(t, srv.URL()+"/b/k.gz", "Accept-Encoding", "identity")
	if !bytes.Equal(body, data) || resp.Header.Get("Content-Encoding") != "gzip" ||
		resp.Header.Get("X-Amz-Meta-Signature") != "abc" || resp.Header.Get("X-Amz-Meta-Signature-Algorithm") != "SHA256withRSA" {
		t.Errorf("GET: %q, headers %v", body, resp.Header)
	}
	resp, body = get(t, srv.URL()+"/b/up")
	if string(body) != "up" || resp.Header.Get("X-Amz-Meta-Note") != "n" {
		t.Errorf("GET of the upload: %q, headers %v", body, resp.Header)
	}
	for k := range resp.Header {
		if k == "X-Amz-Date" || k == "X-Amz-Content-Sha256" {
			t.Errorf("GET echoes the upload's request header %s", k)
		}
	}
}

func TestBucketLocation(t *testing.T) {
	srv := start(t, standin.Options{})
	for region, want := range map[string]string{"": "", "us-east-1": "", "EU": "EU", "eu-central-1": "eu-central-1"} {
		bucket := "b-" + strings.ToLower(region)
		if err := srv.CreateBucket(bucket, region); err != nil {
			t.Fatal(err)
		}
		_, body := get(t, srv.URL()+"/"+bucket+"?location")
		var loc struct {
			Region string `xml:",chardata"`
		}
		if err := xml.Unmarshal(body, &loc); err != nil || loc.Region != want {
			t.Errorf("location of a bucket in %q: %s", region, body)
		}
	}
}

func post(t *testing.T, srv *standin.Server, target, region, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if region != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/"+region+"/cloudtrail/aws4_request, SignedHeaders=host, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	return resp, out
}

func TestCloudTrailTargets(t *testing.T) {
	srv := start(t, standin.Options{KeysPageSize: 2})
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var ws []keys.WireKey
	for i := range 5 {
		s := from.Add(time.Duration(i) * 25 * 24 * time.Hour)
		ws = append(ws, keys.WireKey{ValidityStartTime: keys.Epoch{Time: s}, ValidityEndTime: keys.Epoch{Time: s.Add(30 * 24 * time.Hour)},
			Value: "AAAA", Fingerprint: fmt.Sprintf("%032d", i)})
	}
	srv.SetWireKeys("us-east-1", ws)
	for _, target := range []string{"CloudTrail_20131101.ListPublicKeys", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListPublicKeys"} {
		// Keys 1 and 2 overlap days 50..54; key 2 alone covers day 60.
		body := fmt.Sprintf(`{"StartTime": %d, "EndTime": %d.5}`, from.Add(52*24*time.Hour).Unix(), from.Add(60*24*time.Hour).Unix())
		resp, out := post(t, srv, target, "us-east-1", body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s %v", target, resp.Status, out)
		}
		list := out["PublicKeyList"].([]any)
		if len(list) != 2 || out["NextToken"] != nil {
			t.Errorf("%s: %v", target, out)
		}
		k := list[0].(map[string]any)
		if k["Fingerprint"] != fmt.Sprintf("%032d", 1) || k["Value"] != "AAAA" || k["ValidityStartTime"] != float64(ws[1].ValidityStartTime.Unix()) {
			t.Errorf("%s: first key %v", target, k)
		}
	}
	// Paging: all five keys, two a page.
	var got []string
	token := ""
	for {
		body := fmt.Sprintf(`{"StartTime": %d, "EndTime": %d}`, from.Unix(), from.Add(365*24*time.Hour).Unix())
		if token != "" {
			body = body[:len(body)-1] + fmt.Sprintf(`, "NextToken": %q}`, token)
		}
		_, out := post(t, srv, "CloudTrail_20131101.ListPublicKeys", "us-east-1", body)
		for _, k := range out["PublicKeyList"].([]any) {
			got = append(got, k.(map[string]any)["Fingerprint"].(string))
		}
		tok, _ := out["NextToken"].(string)
		if tok == "" {
			break
		}
		token = tok
	}
	if len(got) != 5 || srv.Count("ListPublicKeys") != 2+3 {
		t.Errorf("paged through %v in %d calls", got, srv.Count("ListPublicKeys")-2)
	}
	// Another region has none.
	if _, out := post(t, srv, "CloudTrail_20131101.ListPublicKeys", "eu-west-1", body0(from)); len(out["PublicKeyList"].([]any)) != 0 {
		t.Errorf("eu-west-1: %v", out)
	}
	for _, tc := range []struct{ target, body, code string }{
		{"CloudTrail_20131101.ListPublicKeys", `{"StartTime": 20, "EndTime": 10}`, "InvalidTimeRangeException"},
		{"CloudTrail_20131101.ListPublicKeys", `{"NextToken": "bogus"}`, "InvalidTokenException"},
		{"CloudTrail_20131101.GetTrailStatus", `{"Name": "nope"}`, "TrailNotFoundException"},
		{"CloudTrail_20131101.CreateTrail", `{}`, "UnknownOperationException"},
		{"AWSOrganizationsV20161128.ListAccounts", `{}`, "AWSOrganizationsNotInUseException"},
	} {
		resp, out := post(t, srv, tc.target, "us-east-1", tc.body)
		if resp.StatusCode != 400 || out["__type"] != tc.code || resp.Header.Get("X-Amzn-ErrorType") != tc.code {
			t.Errorf("%s %s: %s %v, want %s", tc.target, tc.body, resp.Status, out, tc.code)
		}
	}
}

func body0(from time.Time) string {
	return fmt.Sprintf(`{"StartTime": %d, "EndTime": %d}`, from.Unix(), from.Add(365*24*time.Hour).Unix())
}

func TestLatencyAndFaults(t *testing.T) {
	srv := start(t, standin.Options{Latency: 30 * time.Millisecond})
	if err := srv.PutObject("b", "k", []byte("v"), nil, ""); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, body := get(t, srv.URL()+"/b/k"); string(body) != "v" {
		t.Errorf("GET: %q", body)
	}
	if d := time.Since(t0); d < 30*time.Millisecond {
		t.Errorf("a request took %v, less than the latency", d)
	}
	srv.Inject(standin.Fault{Op: "GetObject", Key: "k", Kind: standin.SlowDown, Times: 2})
	for i, want := range []int{503, 503, 200} {
		if resp, body := get(t, srv.URL()+"/b/k"); resp.StatusCode != want {
			t.Errorf("request %d: %s %s, want %d", i, resp.Status, body, want)
		} else if want == 503 && !strings.Contains(string(body), "<Code>SlowDown</Code>") {
			t.Errorf("request %d: %s", i, body)
		}
	}
	srv.Inject(standin.Fault{Op: "GetObject", Kind: standin.Reset, Times: 1})
	// On a fresh connection, so net/http does not retry by itself.
	if _, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(mustRequest(srv.URL() + "/b/k")); err == nil {
		t.Error("a reset request got an answer")
	}
	reqs := srv.Requests()
	if len(reqs) != 5 || reqs[4].Status != 0 || !reqs[4].Fault || reqs[1].Status != 503 || reqs[0].Op != "GetObject" || reqs[0].Key != "k" {
		t.Errorf("requests: %+v", reqs)
	}
}

func mustRequest(u string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}
