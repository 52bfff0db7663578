package awskeys_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/awskeys"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/store"
)

var (
	keyOnce sync.Once
	rsaKeys []*rsa.PrivateKey
)

// testKeys returns n distinct RSA-2048 keys (made once per test binary).
func testKeys(t *testing.T, n int) []*rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		for range 6 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys = append(rsaKeys, k)
		}
	})
	return rsaKeys[:n]
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// publicKeys returns one CloudTrail key per private key, each valid for 30
// days and overlapping the next by 5, the first from t0; the last one in
// SPKI form, as some of AWS's are.
func publicKeys(t *testing.T, region string, privs []*rsa.PrivateKey) []*keys.Key {
	t.Helper()
	var out []*keys.Key
	for i, p := range privs {
		der := x509.MarshalPKCS1PublicKey(&p.PublicKey)
		if i == len(privs)-1 {
			var err error
			if der, err = x509.MarshalPKIXPublicKey(&p.PublicKey); err != nil {
				t.Fatal(err)
			}
		}
		from := t0.Add(time.Duration(i) * 25 * day)
		k, err := keys.NewKey(der, "", region, from, from.Add(30*day))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

func setup(t *testing.T, opts standin.Options) (*standin.Server, *awskeys.Source) {
	t.Helper()
	srv := standin.StartTest(t, opts)
	cfg, err := awsapi.LoadConfig(context.Background(), awsapi.Options{MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return t0.Add(200 * day) }
	return srv, awskeys.New(cfg, awskeys.WithClock(now))
}

func lookup(t *testing.T, src keys.Source, region, fp string, at time.Time) keys.Lookup {
	t.Helper()
	l, err := src.Lookup(context.Background(), region, fp, at)
	if err != nil {
		t.Fatalf("Lookup(%s, %s, %s): %v", region, fp, at, err)
	}
	return l
}

func TestPagingAndPrefetch(t *testing.T) {
	srv, src := setup(t, standin.Options{KeysPageSize: 1})
	ks := publicKeys(t, "us-east-1", testKeys(t, 5))
	srv.SetKeys("us-east-1", ks)

	if err := src.Prefetch(context.Background(), "us-east-1", t0, t0.Add(120*day)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("ListPublicKeys"); n != 5 {
		t.Errorf("Prefetch made %d calls, want 5 (one page per key)", n)
	}
	for i, k := range ks {
		at := k.ValidFrom.Add(time.Duration(i+1) * time.Hour)
		l := lookup(t, src, "us-east-1", strings.ToUpper(k.Fingerprint), at)
		if l.Status != keys.Found || l.Key.Fingerprint != k.Fingerprint || !l.RegionChecked || l.Key.Region != "us-east-1" {
			t.Errorf("key %d: %+v, want Found with the region checked", i, l)
		}
	}
	if n := srv.Count("ListPublicKeys"); n != 5 {
		t.Errorf("lookups after Prefetch made %d more calls", n-5)
	}
	if got := len(src.Keys()); got != 5 {
		t.Errorf("Keys() holds %d keys, want 5", got)
	}
	// The keys a source fetched save as a region map that loads back.
	data, err := keys.RegionMap(src.Keys())
	if err != nil {
		t.Fatal(err)
	}
	if back, err := keys.Parse("saved", data, ""); err != nil || len(back) != 5 {
		t.Errorf("saved keys load as %d keys, error %v", len(back), err)
	}
}

func TestLookupWithoutPrefetch(t *testing.T) {
	srv, src := setup(t, standin.Options{KeysPageSize: 2})
	ks := publicKeys(t, "us-east-1", testKeys(t, 5))
	srv.SetKeys("us-east-1", ks)
	// Hourly digests over ten days: a handful of calls, not one per hour.
	for h := range 240 {
		at := t0.Add(40*day + time.Duration(h)*time.Hour + 4*time.Minute)
		l := lookup(t, src, "us-east-1", ks[1].Fingerprint, at)
		if l.Status != keys.Found {
			t.Fatalf("hour %d: %+v", h, l)
		}
	}
	if n := srv.Count("ListPublicKeys"); n == 0 || n > 6 {
		t.Errorf("240 hourly lookups made %d calls", n)
	}
	for _, r := range srv.Requests() {
		if r.Region != "us-east-1" {
			t.Errorf("asked %s for a us-east-1 key", r.Region)
		}
	}
}

func TestWindowAndUnknown(t *testing.T) {
	srv, src := setup(t, standin.Options{})
	ks := publicKeys(t, "us-east-1", testKeys(t, 3))
	srv.SetKeys("us-east-1", ks)
	// Key 0 is valid t0..t0+30d; at t0+52d only key 2 is.
	l := lookup(t, src, "us-east-1", ks[0].Fingerprint, t0.Add(52*day))
	if l.Status != keys.OutsideWindow || l.Key == nil || l.Key.Fingerprint != ks[0].Fingerprint {
		t.Errorf("key used outside its window: %+v, want OutsideWindow", l)
	}
	l = lookup(t, src, "us-east-1", strings.Repeat("ab", 16), t0.Add(52*day))
	if l.Status != keys.NotFound || !l.RegionChecked {
		t.Errorf("unknown fingerprint: %+v, want NotFound with the region checked", l)
	}
}

func TestRegionSeparation(t *testing.T) {
	srv, src := setup(t, standin.Options{})
	privs := testKeys(t, 4)
	east := publicKeys(t, "us-east-1", privs[:2])
	west := publicKeys(t, "eu-west-1", privs[2:])
	srv.SetKeys("us-east-1", east)
	srv.SetKeys("eu-west-1", west)
	at := t0.Add(10 * day)
	if l := lookup(t, src, "eu-west-1", east[0].Fingerprint, at); l.Status != keys.NotFound {
		t.Errorf("a us-east-1 key looked up for eu-west-1: %+v, want NotFound", l)
	}
	if l := lookup(t, src, "eu-west-1", west[0].Fingerprint, at); l.Status != keys.Found || l.Key.Region != "eu-west-1" {
		t.Errorf("eu-west-1 key: %+v", l)
	}
	if l := lookup(t, src, "us-east-1", east[0].Fingerprint, at); l.Status != keys.Found || l.Key.Region != "us-east-1" {
		t.Errorf("us-east-1 key: %+v", l)
	}
	regions := map[string]bool{}
	for _, r := range srv.Requests() {
		regions[r.Region] = true
	}
	if !regions["us-east-1"] || !regions["eu-west-1"] || len(regions) != 2 {
		t.Errorf("asked regions %v, want us-east-1 and eu-west-1", regions)
	}
}

func TestBadKeyRejected(t *testing.T) {
	srv, src := setup(t, standin.Options{})
	ks := publicKeys(t, "us-east-1", testKeys(t, 2))
	bad := ks[0].ToWire()
	claimed := strings.Repeat("0", 32)
	bad.Fingerprint = claimed // not the MD5 of the key
	notRSA := keys.WireKey{
		ValidityStartTime: keys.Epoch{Time: t0}, ValidityEndTime: keys.Epoch{Time: t0.Add(30 * day)},
		Value: base64.StdEncoding.EncodeToString([]byte("not a key")), Fingerprint: strings.Repeat("1", 32),
	}
	srv.SetWireKeys("us-east-1", []keys.WireKey{bad, notRSA, ks[1].ToWire()})
	at := t0.Add(27 * day)
	_, err := src.Lookup(context.Background(), "us-east-1", claimed, at)
	if err == nil || !strings.Contains(err.Error(), "fingerprint does not match") {
		t.Errorf("lookup of a key whose fingerprint is wrong: error %v, want a mismatch", err)
	}
	// The key's real fingerprint does not find it either: it was rejected.
	if l := lookup(t, src, "us-east-1", ks[0].Fingerprint, at); l.Status != keys.NotFound {
		t.Errorf("the rejected key by its real fingerprint: %+v, want NotFound", l)
	}
	if _, err := src.Lookup(context.Background(), "us-east-1", strings.Repeat("1", 32), at); err == nil {
		t.Error("lookup of a Value that is no RSA key succeeded")
	}
	// The good key of the same answer is used.
	if l := lookup(t, src, "us-east-1", ks[1].Fingerprint, at); l.Status != keys.Found {
		t.Errorf("the good key next to the bad ones: %+v", l)
	}
	// A caller saving keys learns which were left out.
	rej := src.Rejected()
	if len(rej) != 2 || !strings.Contains(rej[0].Error(), "region us-east-1: key "+claimed) || !strings.Contains(rej[1].Error(), strings.Repeat("1", 32)) {
		t.Errorf("Rejected() = %v", rej)
	}
}

func TestConcurrentLookupsShareOneCall(t *testing.T) {
	srv, src := setup(t, standin.Options{Latency: 50 * time.Millisecond, KeysPageSize: 1})
	privs := testKeys(t, 6)
	byRegion := map[string][]*keys.Key{
		"us-east-1": publicKeys(t, "us-east-1", privs[:3]),
		"eu-west-1": publicKeys(t, "eu-west-1", privs[3:]),
	}
	for r, ks := range byRegion {
		srv.SetKeys(r, ks)
	}
	var wg sync.WaitGroup
	for i := range 64 {
		region := []string{"us-east-1", "eu-west-1"}[i%2]
		wg.Go(func() {
			at := t0.Add(26*day + time.Duration(i)*time.Hour)
			l, err := src.Lookup(context.Background(), region, byRegion[region][0].Fingerprint, at)
			if err != nil || l.Status != keys.Found {
				t.Errorf("%s at %s: %+v, %v", region, at, l, err)
			}
		})
	}
	wg.Wait()
	// One paged call per region: the two keys valid around those times,
	// one per page.
	if n := srv.Count("ListPublicKeys"); n != 4 {
		t.Errorf("64 concurrent lookups made %d calls, want 4", n)
	}
}

func TestErrors(t *testing.T) {
	srv, src := setup(t, standin.Options{})
	srv.SetKeys("us-east-1", publicKeys(t, "us-east-1", testKeys(t, 1)))
	at := t0.Add(day)

	srv.Inject(standin.Fault{Op: "ListPublicKeys", Kind: standin.SlowDown, Times: 2})
	if l := lookup(t, src, "us-east-1", strings.Repeat("ab", 16), at); l.Status != keys.NotFound {
		t.Errorf("after throttling: %+v", l)
	}

	srv.ClearFaults()
	srv.Inject(standin.Fault{Op: "ListPublicKeys", Region: "eu-west-1", Kind: standin.AccessDenied})
	_, err := src.Lookup(context.Background(), "eu-west-1", strings.Repeat("ab", 16), at)
	if !errors.Is(err, store.ErrAccessDenied) || !strings.Contains(err.Error(), "cloudtrail:ListPublicKeys") {
		t.Errorf("refused: %v, want access denied naming cloudtrail:ListPublicKeys", err)
	}
	// A failed call is not remembered: the next lookup asks again.
	srv.ClearFaults()
	if l := lookup(t, src, "eu-west-1", strings.Repeat("ab", 16), at); l.Status != keys.NotFound {
		t.Errorf("after the refusal ended: %+v", l)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Lookup(ctx, "ap-south-1", strings.Repeat("ab", 16), at); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
