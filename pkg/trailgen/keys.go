package trailgen

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"github.com/trailcheck/trailcheck/pkg/keys"
)

// testKeysPEM holds TEST-ONLY RSA-2048 private keys, published on purpose
// (see testkeys/README.md). RSA key generation is not deterministic in Go,
// so reproducible trails need fixed keys.
//
//go:embed testkeys/test-only-rsa-2048.pem
var testKeysPEM []byte

// testKeys parses testKeysPEM once.
var testKeys = sync.OnceValues(func() ([]*rsa.PrivateKey, error) {
	var out []*rsa.PrivateKey
	rest := testKeysPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("trailgen test key %d: %v", len(out), err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("trailgen: no embedded test keys")
	}
	return out, nil
})

// TestKeyCount is the number of embedded test keys. A trail needs one per
// region and key window; beyond that keys are reused (see keySchedule).
const TestKeyCount = 32

// signer is one region's key for one window.
type signer struct {
	pub  *keys.Key
	priv *rsa.PrivateKey
}

// keySchedule assigns a test key to every (region, window). Window n is
// valid from anchor+n×rotate for period; windows overlap when rotate <
// period. A time's signing window is the newest window that has started.
type keySchedule struct {
	anchor         time.Time
	rotate, period time.Duration
	regions        []string
	first, last    int64 // windows exposed
	signers        map[string][]*signer
}

func floorDiv(d, unit time.Duration) int64 {
	n := int64(d / unit)
	if d%unit < 0 {
		n--
	}
	return n
}

func (s *keySchedule) windowStart(n int64) time.Time {
	return s.anchor.Add(time.Duration(n) * s.rotate)
}

// newKeySchedule builds the keys of every region whose windows overlap
// [from, to].
func newKeySchedule(cfg Config, from, to time.Time) (*keySchedule, error) {
	pool, err := testKeys()
	if err != nil {
		return nil, err
	}
	s := &keySchedule{anchor: cfg.KeyAnchor, rotate: cfg.KeyRotate, period: cfg.KeyPeriod, regions: cfg.Regions, signers: map[string][]*signer{}}
	// Oldest window still valid at from: its start + period >= from.
	s.first = floorDiv(from.Sub(s.anchor)-s.period, s.rotate)
	for s.windowStart(s.first).Add(s.period).Before(from) {
		s.first++
	}
	s.last = floorDiv(to.Sub(s.anchor), s.rotate)
	nr := len(cfg.Regions)
	for ri, region := range cfg.Regions {
		for n := s.first; n <= s.last; n++ {
			priv := pool[(int(n-s.first)*nr+ri)%len(pool)]
			der := x509.MarshalPKCS1PublicKey(&priv.PublicKey)
			start := s.windowStart(n)
			k, err := keys.NewKey(der, "", region, start, start.Add(s.period))
			if err != nil {
				return nil, err
			}
			s.signers[region] = append(s.signers[region], &signer{pub: k, priv: priv})
		}
	}
	return s, nil
}

// at returns region's signer for time t: the newest key whose window covers t.
func (s *keySchedule) at(region string, t time.Time) (*signer, error) {
	n := floorDiv(t.Sub(s.anchor), s.rotate)
	if n < s.first || n > s.last {
		return nil, fmt.Errorf("trailgen: no key window for %s at %s", region, t.Format(time.RFC3339))
	}
	return s.signers[region][n-s.first], nil
}

// public lists every key, by region (config order) then window.
func (s *keySchedule) public() []*keys.Key {
	var out []*keys.Key
	for _, r := range s.regions {
		for _, sg := range s.signers[r] {
			out = append(out, sg.pub)
		}
	}
	return out
}

// sign returns the hex RSASSA-PKCS1-v1_5 SHA-256 signature of msg.
func (sg *signer) sign(msg []byte) (string, error) {
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(nil, sg.priv, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sig), nil
}
