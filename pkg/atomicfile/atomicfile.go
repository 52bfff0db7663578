// Package atomicfile writes files that readers never see half written: the
// content goes to a temporary file in the same directory, is synced, and is
// renamed over the target. On any failure the target is left as it was and
// the temporary file is removed.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// bare drops the temporary file's name from an error: the caller's message
// names the target, and the temporary name would only confuse.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// WriteFile writes path atomically with the bytes write produces, with
// permissions perm (0644 for files meant to be read by others: a report, a
// metrics file). Errors name the file.
func WriteFile(path string, perm os.FileMode, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, bare(err))
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	fail := func(err error) error {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, bare(err))
	}
	if err := write(tmp); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, bare(err))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, bare(err))
	}
	// Make the rename itself durable (best effort: not every file system
	// lets a directory be synced).
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
