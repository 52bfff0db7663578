package keys

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

// TestGenuineKeys loads the four genuine AWS keys and checks each against the
// independently derived inventory: fingerprint = MD5(DER), encoding, window.
func TestGenuineKeys(t *testing.T) {
	var all []*Key
	for _, f := range []string{"testdata/awsdocs-2015-listpublickeys-sample.json", "testdata/awscli-example-2016-listpublickeys.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := Parse(f, data, "")
		if err != nil {
			t.Fatalf("Parse(%s): %v", f, err)
		}
		all = append(all, ks...)
	}
	byFP := map[string]*Key{}
	for _, k := range all {
		byFP[k.Fingerprint] = k
	}
	inv, err := os.Open("testdata/public-keys-inventory.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	sc := bufio.NewScanner(inv)
	sc.Scan() // header
	n := 0
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		fp, enc, start, end := col[1], col[4], col[8], col[9]
		k := byFP[fp]
		if k == nil {
			t.Errorf("key %s not loaded", fp)
			continue
		}
		n++
		wantEnc := map[string]string{"PKCS1-RSAPublicKey": PKCS1, "X509-SubjectPublicKeyInfo": SPKI}[enc]
		if k.Encoding != wantEnc {
			t.Errorf("%s: encoding %s, want %s", fp, k.Encoding, wantEnc)
		}
		if got := k.ValidFrom.Format(time.RFC3339); got != start {
			t.Errorf("%s: from %s, want %s", fp, got, start)
		}
		if got := k.ValidTo.Format(time.RFC3339); got != end {
			t.Errorf("%s: to %s, want %s", fp, got, end)
		}
		if k.Public.N.BitLen() != 2048 || k.Region != "" {
			t.Errorf("%s: %d bits, region %q", fp, k.Public.N.BitLen(), k.Region)
		}
	}
	if n != 4 {
		t.Fatalf("checked %d keys, want 4", n)
	}
}

func TestFingerprintMismatchRejected(t *testing.T) {
	data, _ := os.ReadFile("testdata/awscli-example-2016-listpublickeys.json")
	bad := strings.Replace(string(data), "7f3f401420072e50a65a141430817ab3", "7f3f401420072e50a65a141430817ab4", 1)
	if _, err := Parse("k.json", []byte(bad), ""); err == nil || !strings.Contains(err.Error(), "fingerprint does not match") {
		t.Fatalf("Parse = %v, want fingerprint error", err)
	}
}

func TestParseErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":     "{",
		"empty object": "{}",
		"bad region":   `{"nowhere": {"PublicKeyList": []}}`,
		"bad base64":   `{"PublicKeyList": [{"ValidityStartTime": 1, "ValidityEndTime": 2, "Value": "%%%", "Fingerprint": "aa"}]}`,
		"not a key":    `{"PublicKeyList": [{"ValidityStartTime": 1, "ValidityEndTime": 2, "Value": "AAAA", "Fingerprint": ""}]}`,
		"bad time":     `{"PublicKeyList": [{"ValidityStartTime": "soon", "ValidityEndTime": 2, "Value": "AAAA", "Fingerprint": "aa"}]}`,
	} {
		if _, err := Parse("keys.json", []byte(in), ""); err == nil || !strings.HasPrefix(err.Error(), "keys.json") {
			t.Errorf("%s: Parse = %v, want an error naming the file", name, err)
		}
	}
}

func newTestKey(t *testing.T, region string, from time.Time) (*rsa.PrivateKey, *Key) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(x509.MarshalPKCS1PublicKey(&priv.PublicKey), "", region, from, from.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return priv, k
}

func TestRegionMapRoundTripAndLookup(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	priv, k1 := newTestKey(t, "us-east-1", from)
	_, k2 := newTestKey(t, "eu-west-1", from)
	data, err := RegionMap([]*Key{k1, k2})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Parse("map.json", data, "")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSet(loaded...)
	ctx := context.Background()
	at := from.Add(time.Hour)
	if l, _ := s.Lookup(ctx, "us-east-1", k1.Fingerprint, at); l.Status != Found || !l.RegionChecked {
		t.Fatalf("own region: %+v", l)
	}
	if l, _ := s.Lookup(ctx, "eu-west-1", k1.Fingerprint, at); l.Status != NotFound {
		t.Fatalf("a key of another region must not verify: %+v", l)
	}
	if l, _ := s.Lookup(ctx, "us-east-1", k1.Fingerprint, from.Add(-time.Minute)); l.Status != OutsideWindow {
		t.Fatalf("before window: %+v", l)
	}
	// Unlabelled keys match any region, saying so.
	u := NewSet(&Key{Fingerprint: k1.Fingerprint, ValidFrom: k1.ValidFrom, ValidTo: k1.ValidTo, Public: k1.Public})
	if l, _ := u.Lookup(ctx, "ap-south-1", k1.Fingerprint, at); l.Status != Found || l.RegionChecked {
		t.Fatalf("unlabelled: %+v", l)
	}

	msg := []byte("2026-01-01T01:00:00Z\nb/k\n00\nnull")
	h := sha256.Sum256(msg)
	sig, _ := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, h[:])
	if err := k1.Verify(msg, hex.EncodeToString(sig)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := k1.Verify(append(msg, 'x'), hex.EncodeToString(sig)); err == nil {
		t.Fatal("Verify accepted a changed message")
	}
	if err := k2.Verify(msg, hex.EncodeToString(sig)); err == nil {
		t.Fatal("Verify accepted another key")
	}
	if err := k1.Verify(msg, "zz"); err == nil {
		t.Fatal("Verify accepted non-hex")
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/awsdocs-2015-listpublickeys-sample.json", "testdata/awscli-example-2016-listpublickeys.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"us-east-1": {"PublicKeyList": []}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := Parse("fuzz.json", data, "")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, k := range ks {
			if k.Public == nil || len(k.Fingerprint) != 32 || !k.ValidTo.After(k.ValidFrom) {
				t.Fatalf("accepted an incomplete key: %+v", k)
			}
		}
	})
}
