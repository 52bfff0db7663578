package trailgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// Signatures returns the metadata of every digest (hourly and backfill),
// by digest key. The maps are copies.
func (t *Trail) Signatures() map[string]store.Meta {
	out := map[string]store.Meta{}
	for _, c := range t.Chains {
		for _, d := range c.Digests {
			out[d.Key] = copyMeta(d.Meta)
		}
	}
	return out
}

// Digests returns the digest keys of every chain, oldest first.
func (t *Trail) Digests() map[digest.ChainID][]string {
	out := map[digest.ChainID][]string{}
	for _, c := range t.Chains {
		for _, d := range c.Digests {
			out[c.ID] = append(out[c.ID], d.Key)
		}
	}
	return out
}

// KeySet returns the trail's public keys as a key source.
func (t *Trail) KeySet() *keys.Set { return keys.NewSet(t.Keys...) }

// WriteDir writes every object of t.Store as a file dir/KEY, as `aws s3
// sync` leaves a bucket. Metadata is not written (see WriteSidecars).
func (t *Trail) WriteDir(dir string) error {
	if t.Store == nil {
		return errors.New("trailgen: trail has no store (streamed); use GenerateDir")
	}
	sink := DirSink(dir)
	for _, k := range t.Store.Keys() {
		data, _, _ := t.Store.Get(k)
		if err := sink(k, data, nil); err != nil {
			return err
		}
	}
	return nil
}

// GenerateDir generates cfg's trail straight into files under dir (see
// WriteDir) without holding it in memory.
func GenerateDir(cfg Config, dir string) (*Trail, error) {
	return GenerateTo(cfg, DirSink(dir))
}

// DirSink returns a sink writing each object to dir/KEY.
func DirSink(dir string) Sink {
	return func(key string, data []byte, _ store.Meta) error {
		if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
			return fmt.Errorf("trailgen: cannot write key %q as a file", key)
		}
		for _, part := range strings.Split(key, "/") {
			if part == "" || part == "." || part == ".." {
				return fmt.Errorf("trailgen: cannot write key %q as a file", key)
			}
		}
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o644)
	}
}

// SignaturesJSON renders Signatures as an indented JSON object, keys sorted:
// {"DIGEST KEY": {"signature": "…", "signature-algorithm": "SHA256withRSA"}, …}.
func (t *Trail) SignaturesJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(t.Signatures()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// KeysJSON renders the public keys as a region map key file
// ({"REGION": {"PublicKeyList": [...]}}), see keys.RegionMap.
func (t *Trail) KeysJSON() ([]byte, error) {
	b, err := keys.RegionMap(t.Keys)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteSidecars writes the signatures file (SignaturesJSON) to sigPath and
// the region map key file (KeysJSON) to keysPath. An empty path is skipped.
func (t *Trail) WriteSidecars(sigPath, keysPath string) error {
	for _, f := range []struct {
		path   string
		render func() ([]byte, error)
	}{{sigPath, t.SignaturesJSON}, {keysPath, t.KeysJSON}} {
		if f.path == "" {
			continue
		}
		b, err := f.render()
		if err != nil {
			return fmt.Errorf("trailgen: %s: %w", f.path, err)
		}
		if err := os.WriteFile(f.path, b, 0o644); err != nil {
			return fmt.Errorf("trailgen: %w", err)
		}
	}
	return nil
}
