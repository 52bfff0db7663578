// Package state keeps what an unattended (cron) run needs from the previous
// one: per chain, the newest digest that was verified, so the next run checks
// only what is new and proves it links to what was verified.
//
// The state file is JSON, written atomically (temporary file, fsync,
// rename), and locked against a concurrent run for as long as a run holds
// it. A file that is not a trailcheck state file, is damaged, or belongs to
// another source is an error naming the file: never a silent full re-run,
// never a silent pass.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/trailcheck/trailcheck/pkg/atomicfile"
	"github.com/trailcheck/trailcheck/pkg/report"
)

// Version is the state file's schema version.
const Version = 1

// Kind marks a trailcheck state file.
const Kind = "trailcheck-state"

// maxSize caps the state file read.
const maxSize = 64 << 20

// File is the content of a state file.
type File struct {
	Kind          string `json:"kind"`
	SchemaVersion int    `json:"schema_version"`
	// Source identifies what was validated (bucket and prefix, or trail
	// ARN); a state file is only ever used for the same source.
	Source  string    `json:"source"`
	Updated time.Time `json:"updated"`
	// Chains maps a chain ID to the newest verified digest of that chain.
	Chains map[string]report.DigestRef `json:"chains"`
}

// Handle is an open, locked state file.
type Handle struct {
	path string
	lock *os.File
}

// ErrLocked is returned (wrapped) by Open when another run holds the lock.
var ErrLocked = errors.New("locked by another run")

// Open locks the state file at path (which need not exist yet) for this
// run. Close releases it.
func Open(path string) (*Handle, error) {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("state file %s: directory %s does not exist", path, dir)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &Handle{path: path, lock: lock}, nil
}

// Path returns the state file's path.
func (h *Handle) Path() string { return h.path }

// Close releases the lock.
func (h *Handle) Close() error {
	if h.lock == nil {
		return nil
	}
	err := unlockFile(h.lock)
	h.lock = nil
	return err
}

// Load reads the state. ok is false when the file does not exist yet (a
// first run). A file for another source is an error.
func (h *Handle) Load(source string) (f *File, ok bool, err error) {
	fd, err := os.Open(h.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state file %s: %w", h.path, err)
	}
	defer fd.Close()
	data, err := io.ReadAll(io.LimitReader(fd, maxSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("state file %s: %w", h.path, err)
	}
	if len(data) > maxSize {
		return nil, false, fmt.Errorf("state file %s: larger than %d bytes, not a trailcheck state file", h.path, maxSize)
	}
	f = &File{}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, false, fmt.Errorf("state file %s: corrupt (%v); move it aside to start over", h.path, err)
	}
	if f.Kind != Kind {
		return nil, false, fmt.Errorf("state file %s: not a trailcheck state file", h.path)
	}
	if f.SchemaVersion != Version {
		return nil, false, fmt.Errorf("state file %s: schema version %d, this trailcheck reads %d", h.path, f.SchemaVersion, Version)
	}
	if f.Source != source {
		return nil, false, fmt.Errorf("state file %s: records %s, not %s", h.path, f.Source, source)
	}
	for id, ref := range f.Chains {
		if ref.Object == "" || ref.End.IsZero() || len(ref.SHA256) != 64 || ref.Signature == "" {
			return nil, false, fmt.Errorf("state file %s: chain %s has an incomplete digest record", h.path, id)
		}
	}
	return f, true, nil
}

// Save writes f atomically.
func (h *Handle) Save(f *File) error {
	f.Kind, f.SchemaVersion = Kind, Version
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	err = atomicfile.WriteFile(h.path, 0o644, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("state file %w", err)
	}
	return nil
}

// Advance returns the state after a run: each chain of the report with a
// newest verified digest and no error finding moves its anchor to it; a
// chain with errors keeps its old anchor, so the next run checks (and
// reports) the same digests again until the problem is dealt with. Chains
// the run did not see keep theirs.
func Advance(prev *File, source string, rep *report.Report, now time.Time) *File {
	next := &File{Source: source, Updated: now.UTC().Truncate(time.Second), Chains: map[string]report.DigestRef{}}
	if prev != nil {
		for id, ref := range prev.Chains {
			next.Chains[id] = ref
		}
	}
	failed := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity == report.Error {
			failed[f.Chain] = true
		}
	}
	for _, c := range rep.Chains {
		if c.Newest == nil || failed[c.ID] {
			continue
		}
		next.Chains[c.ID] = *c.Newest
	}
	return next
}

// Start returns the earliest anchor end: where an incremental run starts
// listing. ok is false when there is no anchor.
func (f *File) Start() (t time.Time, ok bool) {
	ids := make([]string, 0, len(f.Chains))
	for id := range f.Chains {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := f.Chains[id].End
		if !ok || e.Before(t) {
			t, ok = e, true
		}
	}
	return t, ok
}
