// Package evidence builds and reads evidence directories: a local copy of a
// trail's digests and log files for a period, laid out as `aws s3 sync`
// leaves a bucket, with a manifest that records where they came from, the
// digest signatures (S3 metadata, which a copy loses) and the public keys.
// `trailcheck validate --dir` verifies such a directory offline with no
// further flags.
//
// Fetch downloads through the validator itself, so every object is verified
// as it arrives; an interrupted fetch resumes, keeping the log files already
// written (they are verified again, from disk).
package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/trailcheck/trailcheck/pkg/atomicfile"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

// ManifestName is the manifest's file name in an evidence directory.
const ManifestName = "trailcheck-manifest.json"

// ManifestVersion is the manifest's schema version.
const ManifestVersion = 1

// maxManifestSize caps the manifest read: signatures of a decade of hourly
// digests for dozens of chains fit well within it.
const maxManifestSize = 512 << 20

// Manifest describes an evidence directory.
type Manifest struct {
	SchemaVersion int       `json:"schema_version"`
	Tool          string    `json:"tool"`
	Created       time.Time `json:"created"`
	Bucket        string    `json:"bucket"`
	Prefix        string    `json:"prefix"`
	PrefixSet     bool      `json:"prefix_set"`
	TrailARN      string    `json:"trail_arn,omitempty"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	// Signatures maps each digest key to its S3 user metadata.
	Signatures map[string]store.Meta `json:"signatures"`
	// Keys is a region map of public keys ({"us-east-1": {"PublicKeyList": …}}).
	Keys json.RawMessage `json:"keys"`
}

// Load reads dir's manifest. ok is false when dir has none.
func Load(dir string) (m *Manifest, ok bool, err error) {
	path := filepath.Join(dir, ManifestName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxManifestSize {
		return nil, false, fmt.Errorf("%s: larger than %d bytes", path, maxManifestSize)
	}
	m = &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, false, fmt.Errorf("%s: not a trailcheck manifest: %v", path, err)
	}
	if m.SchemaVersion != ManifestVersion {
		return nil, false, fmt.Errorf("%s: manifest schema version %d, this trailcheck reads %d", path, m.SchemaVersion, ManifestVersion)
	}
	if m.Bucket == "" || m.Start.IsZero() || m.End.IsZero() {
		return nil, false, fmt.Errorf("%s: manifest lacks bucket or range", path)
	}
	return m, true, nil
}

// KeySet returns the manifest's public keys.
func (m *Manifest) KeySet(dir string) (*keys.Set, error) {
	if len(m.Keys) == 0 {
		return keys.NewSet(), nil
	}
	ks, err := keys.Parse(filepath.Join(dir, ManifestName)+": keys", m.Keys, "")
	if err != nil {
		return nil, err
	}
	return keys.NewSet(ks...), nil
}

// Save writes the manifest to dir atomically.
func (m *Manifest) Save(dir string) error {
	m.SchemaVersion = ManifestVersion
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestName), 0o644, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// Recorder is a store that reads from a remote store and writes every object
// read to completion into a directory, recording digest metadata. Log files
// already in the directory are served from it (resume).
type Recorder struct {
	remote store.Store
	dir    string

	mu    sync.Mutex
	metas map[string]store.Meta
}

// NewRecorder records remote's objects into dir (created if needed).
func NewRecorder(remote store.Store, dir string) (*Recorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Recorder{remote: remote, dir: dir, metas: map[string]store.Meta{}}, nil
}

// Bucket returns the remote bucket.
func (r *Recorder) Bucket() string { return r.remote.Bucket() }

// List lists the remote store.
func (r *Recorder) List(ctx context.Context, prefix string, fn func(store.Object) error) error {
	return r.remote.List(ctx, prefix, fn)
}

// ListDirs lists the remote store.
func (r *Recorder) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	return r.remote.ListDirs(ctx, prefix)
}

func isDigestKey(key string) bool { return strings.Contains(key, "/CloudTrail-Digest/") }

// path is where key is recorded. Keys with empty parts ("a//b", "a/") are
// refused as well: two of them would be written to one file.
func (r *Recorder) path(key string) (string, error) {
	if strings.Contains(key, "//") || strings.HasSuffix(key, "/") {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	return store.KeyPath(r.dir, key)
}

// Open serves a log file already recorded from disk; anything else is read
// from the remote store and written to disk as it is read.
func (r *Recorder) Open(ctx context.Context, key string) (io.ReadCloser, store.Meta, error) {
	path, err := r.path(key)
	if err != nil {
		return nil, nil, err
	}
	if !isDigestKey(key) {
		if f, err := os.Open(path); err == nil {
			return f, store.Meta{}, nil
		}
	}
	rc, meta, err := r.remote.Open(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	if isDigestKey(key) {
		r.mu.Lock()
		r.metas[key] = meta
		r.mu.Unlock()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		rc.Close()
		return nil, nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".part-*")
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return &teeBody{src: rc, tmp: tmp, final: path}, meta, nil
}

// Metas returns the metadata of every digest read, by key.
func (r *Recorder) Metas() map[string]store.Meta {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]store.Meta, len(r.metas))
	for k, v := range r.metas {
		out[k] = v
	}
	return out
}

// teeBody copies what is read into a temporary file and renames it into
// place only when the object was read to its end, so a file in the
// directory is always a whole object.
type teeBody struct {
	src   io.ReadCloser
	tmp   *os.File
	final string
	err   error
	done  bool
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	if n > 0 && t.err == nil {
		if _, werr := t.tmp.Write(p[:n]); werr != nil {
			t.err = werr
		}
	}
	if err == io.EOF {
		t.done = true
	}
	return n, err
}

func (t *teeBody) Close() error {
	serr := t.src.Close()
	cerr := t.tmp.Close()
	if t.done && t.err == nil && cerr == nil {
		if err := os.Rename(t.tmp.Name(), t.final); err != nil {
			os.Remove(t.tmp.Name())
			return err
		}
		return serr
	}
	os.Remove(t.tmp.Name())
	if t.err != nil {
		return t.err
	}
	return serr
}

// KeyLister is a key source that can list the keys it used.
type KeyLister interface {
	Keys() []*keys.Key
}

// Fetch validates the trail in remote for opts, writing every object read
// into dir, then the log files no digest lists (so that the offline copy
// shows the same findings), then the manifest. The report is the online
// validation's. man supplies the trail's description (bucket, prefix, trail
// ARN); signatures, keys and range are filled in.
func Fetch(ctx context.Context, remote store.Store, dir string, opts validate.Options, man Manifest) (*report.Report, error) {
	rec, err := NewRecorder(remote, dir)
	if err != nil {
		return nil, err
	}
	rep, err := validate.Run(ctx, rec, opts)
	if err != nil {
		return nil, err
	}
	for _, f := range rep.Findings {
		if f.Kind != report.LogUnreferenced {
			continue
		}
		key := strings.TrimPrefix(f.Object, "s3://"+rep.Bucket+"/")
		rc, _, err := rec.Open(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("copying unreferenced log %s: %w", f.Object, err)
		}
		_, err = io.Copy(io.Discard, rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("copying unreferenced log %s: %w", f.Object, err)
		}
	}
	// Merge signatures with any from an earlier, interrupted run.
	old, ok, err := Load(dir)
	if err != nil {
		return nil, err
	}
	sigs := map[string]store.Meta{}
	if ok {
		for k, v := range old.Signatures {
			sigs[k] = v
		}
	}
	for k, v := range rec.Metas() {
		sigs[k] = v
	}
	man.Signatures = sigs
	if kl, ok := opts.Keys.(KeyLister); ok {
		ks := kl.Keys()
		sort.Slice(ks, func(i, j int) bool { return ks[i].Fingerprint < ks[j].Fingerprint })
		data, err := keys.RegionMap(ks)
		if err != nil {
			return nil, err
		}
		man.Keys = data
	}
	man.Bucket = rep.Bucket
	man.Start, man.End = rep.Requested.Start, rep.Requested.End
	if man.Created.IsZero() {
		man.Created = time.Now().UTC().Truncate(time.Second)
	}
	if err := man.Save(dir); err != nil {
		return nil, err
	}
	return rep, nil
}
