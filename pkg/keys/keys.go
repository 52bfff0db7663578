// Package keys loads CloudTrail's public keys and verifies digest signatures
// with them.
//
// Keys come from CloudTrail's ListPublicKeys: a DER RSA key (PKCS#1 or
// SubjectPublicKeyInfo), its fingerprint (the lowercase hex MD5 of the DER
// bytes) and a validity window. A key verifies a digest only if its
// fingerprint is the one the digest names, it belongs to the digest's source
// region, and its window covers the digest's end time.
package keys

import (
	"context"
	"crypto"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Encodings of a key's DER bytes.
const (
	PKCS1 = "PKCS#1"
	SPKI  = "SPKI"
)

// Key is one CloudTrail public key.
type Key struct {
	Fingerprint string // lowercase hex MD5 of DER
	Region      string // the region it signs for; "" when the source did not say
	ValidFrom   time.Time
	ValidTo     time.Time
	DER         []byte
	Encoding    string
	Public      *rsa.PublicKey
}

// NewKey builds a Key from DER bytes, checking that they are an RSA public
// key and that fingerprint, if not empty, is their MD5.
func NewKey(der []byte, fingerprint, region string, from, to time.Time) (*Key, error) {
	sum := md5.Sum(der)
	fp := hex.EncodeToString(sum[:])
	if fingerprint != "" && !strings.EqualFold(fingerprint, fp) {
		return nil, fmt.Errorf("key %s: fingerprint does not match the key (MD5 of the key is %s)", fingerprint, fp)
	}
	k := &Key{Fingerprint: fp, Region: region, ValidFrom: from.UTC(), ValidTo: to.UTC(), DER: der}
	if pub, err := x509.ParsePKCS1PublicKey(der); err == nil {
		k.Public, k.Encoding = pub, PKCS1
	} else if anyPub, err2 := x509.ParsePKIXPublicKey(der); err2 == nil {
		pub, ok := anyPub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("key %s: not an RSA key", fp)
		}
		k.Public, k.Encoding = pub, SPKI
	} else {
		return nil, fmt.Errorf("key %s: not a DER RSA public key (PKCS#1 or SubjectPublicKeyInfo)", fp)
	}
	if k.Public.N.BitLen() < 2048 {
		return nil, fmt.Errorf("key %s: RSA key of %d bits is too small", fp, k.Public.N.BitLen())
	}
	if !to.After(from) {
		return nil, fmt.Errorf("key %s: validity end %s is not after start %s", fp, to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	return k, nil
}

// Covers reports whether t is inside the key's validity window.
func (k *Key) Covers(t time.Time) bool {
	return !t.Before(k.ValidFrom) && !t.After(k.ValidTo)
}

// ErrSignature is returned by Verify for a signature that does not verify.
var ErrSignature = errors.New("signature verification failed")

// Verify checks an RSASSA-PKCS1-v1_5 SHA-256 signature (hex) over signed.
func (k *Key) Verify(signed []byte, signatureHex string) error {
	sig, err := hex.DecodeString(signatureHex)
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("%w: signature is not hex", ErrSignature)
	}
	h := sha256.Sum256(signed)
	if err := rsa.VerifyPKCS1v15(k.Public, crypto.SHA256, h[:], sig); err != nil {
		return ErrSignature
	}
	return nil
}

// Status is the outcome of a key lookup.
type Status int

// Lookup outcomes.
const (
	// Found: a key with that fingerprint, of that region (or of no stated
	// region), whose window covers the time.
	Found Status = iota
	// NotFound: no key with that fingerprint for that region.
	NotFound
	// OutsideWindow: the key exists but its window does not cover the time.
	OutsideWindow
)

// Lookup is the answer to a key request.
type Lookup struct {
	Status Status
	Key    *Key // set for Found and OutsideWindow
	// RegionChecked is false when the key came from a source that does not
	// say which region it belongs to.
	RegionChecked bool
}

// Source finds the key that signed a digest.
type Source interface {
	// Lookup returns the key with fingerprint fp for region at time at. An
	// error means the source could not be asked (not that the key is
	// unknown).
	Lookup(ctx context.Context, region, fp string, at time.Time) (Lookup, error)
}

// Set is an in-memory key source, loaded from files. It is safe for
// concurrent use once loaded.
type Set struct {
	mu   sync.RWMutex
	byFP map[string][]*Key
}

// NewSet returns a set holding keys.
func NewSet(keys ...*Key) *Set {
	s := &Set{byFP: map[string][]*Key{}}
	s.Add(keys...)
	return s
}

// Add adds keys. A key already present (same fingerprint and region) is kept once.
func (s *Set) Add(keys ...*Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		dup := false
		for _, old := range s.byFP[k.Fingerprint] {
			if old.Region == k.Region {
				dup = true
			}
		}
		if !dup {
			s.byFP[k.Fingerprint] = append(s.byFP[k.Fingerprint], k)
		}
	}
}

// Keys returns every key, sorted by region then fingerprint.
func (s *Set) Keys() []*Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Key
	for _, ks := range s.byFP {
		out = append(out, ks...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out
}

// Len returns the number of keys.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, ks := range s.byFP {
		n += len(ks)
	}
	return n
}

// Lookup finds fp for region at time at. A key labelled with another region
// never matches; an unlabelled key matches with RegionChecked false.
func (s *Set) Lookup(_ context.Context, region, fp string, at time.Time) (Lookup, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fp = strings.ToLower(fp)
	var labelled, unlabelled *Key
	for _, k := range s.byFP[fp] {
		switch k.Region {
		case region:
			labelled = k
		case "":
			unlabelled = k
		}
	}
	k, checked := labelled, true
	if k == nil {
		k, checked = unlabelled, false
	}
	if k == nil {
		return Lookup{Status: NotFound}, nil
	}
	if !k.Covers(at) {
		return Lookup{Status: OutsideWindow, Key: k, RegionChecked: checked}, nil
	}
	return Lookup{Status: Found, Key: k, RegionChecked: checked}, nil
}
