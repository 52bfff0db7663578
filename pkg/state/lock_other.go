//go:build !unix

package state

import (
	"errors"
	"fmt"
	"os"
)

// lockFile creates path exclusively; it is removed on unlock. A run that
// crashed leaves it behind, and the error says which file to remove.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w (remove %s if no run is going on)", ErrLocked, path)
		}
		return nil, err
	}
	return f, nil
}

func unlockFile(f *os.File) error {
	name := f.Name()
	err := f.Close()
	os.Remove(name)
	return err
}
