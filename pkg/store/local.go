package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Local is a bucket copied to a directory: object key k is file Dir/k.
type Local struct {
	dir string
}

// NewLocal opens dir as a bucket root. It fails if dir is not a readable
// directory.
func NewLocal(dir string) (*Local, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	if _, err := os.ReadDir(dir); err != nil {
		return nil, err
	}
	return &Local{dir: dir}, nil
}

// Dir returns the directory.
func (l *Local) Dir() string { return l.dir }

// Bucket returns "": a local copy does not know its bucket (see WithBucket).
func (l *Local) Bucket() string { return "" }

func (l *Local) path(key string) (string, error) { return KeyPath(l.dir, key) }

// KeyPath returns the file that holds object key in a bucket copied to dir.
// A key that could name a file outside dir ("/a", "a/../b", "a/./b") is
// refused.
func KeyPath(dir, key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == ".." || part == "." {
			return "", fmt.Errorf("invalid object key %q", key)
		}
	}
	return filepath.Join(dir, filepath.FromSlash(key)), nil
}

// List walks the files below prefix. The keys are sorted before fn sees them
// because directory order is not key order ("a.b" < "a/b" as keys).
func (l *Local) List(ctx context.Context, prefix string, fn func(Object) error) error {
	// Walk the deepest directory that contains every key with this prefix.
	root := l.dir
	dirPart := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dirPart = prefix[:i+1]
		p, err := l.path(strings.TrimSuffix(dirPart, "/"))
		if err != nil {
			return err
		}
		root = p
	}
	var objs []Object
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll // nothing below a missing folder or a file
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.dir, p)
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		objs = append(objs, Object{Key: key, Size: info.Size()})
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// ListDirs lists the subdirectories of prefix.
func (l *Local) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("ListDirs: prefix %q does not end in /", prefix)
	}
	dir := l.dir
	if prefix != "" {
		p, err := l.path(strings.TrimSuffix(prefix, "/"))
		if err != nil {
			return nil, err
		}
		dir = p
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, prefix+e.Name()+"/")
		}
	}
	sort.Strings(out)
	return out, nil
}

// Open opens the file for key. A local copy has no metadata.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, Meta, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	p, err := l.path(key)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil, NotFound(key)
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, NotFound(key)
	}
	return f, Meta{}, nil
}
