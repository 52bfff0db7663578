package store

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"sync"
)

// Mem is an in-memory bucket for tests and for the trail generator. It is
// safe for concurrent use.
type Mem struct {
	mu      sync.RWMutex
	bucket  string
	objects map[string]memObject
}

type memObject struct {
	data []byte
	meta Meta
}

// NewMem returns an empty in-memory bucket named bucket.
func NewMem(bucket string) *Mem { return &Mem{bucket: bucket, objects: map[string]memObject{}} }

// Bucket returns the bucket name.
func (m *Mem) Bucket() string { return m.bucket }

// Put stores data (not copied) with metadata under key.
func (m *Mem) Put(key string, data []byte, meta Meta) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = memObject{data: data, meta: meta}
}

// Get returns the stored bytes and metadata of key.
func (m *Mem) Get(key string) ([]byte, Meta, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.objects[key]
	return o.data, o.meta, ok
}

// Delete removes key.
func (m *Mem) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
}

// Keys returns all keys, sorted.
func (m *Mem) Keys() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// List lists the keys with prefix in order.
func (m *Mem) List(ctx context.Context, prefix string, fn func(Object) error) error {
	m.mu.RLock()
	var objs []Object
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			objs = append(objs, Object{Key: k, Size: int64(len(o.data))})
		}
	}
	m.mu.RUnlock()
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

// ListDirs lists the folders directly below prefix.
func (m *Mem) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	m.mu.RLock()
	seen := map[string]bool{}
	for k := range m.objects {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := k[len(prefix):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seen[prefix+rest[:i+1]] = true
		}
	}
	m.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, ctx.Err()
}

// Open returns a reader over the object's bytes.
func (m *Mem) Open(ctx context.Context, key string) (io.ReadCloser, Meta, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	data, meta, ok := m.Get(key)
	if !ok {
		return nil, nil, NotFound(key)
	}
	md := Meta{}
	for k, v := range meta {
		md[strings.ToLower(k)] = v
	}
	return io.NopCloser(bytes.NewReader(data)), md, nil
}
