// Package store is the object store a trail is read from: an S3 bucket, a
// local copy of one (as `aws s3 sync` leaves it), or memory for tests. All of
// them sit behind one interface and pass one conformance suite (storetest).
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotFound is returned (wrapped) by Open for an object that does not exist.
var ErrNotFound = errors.New("object not found")

// ErrAccessDenied is returned (wrapped) when the store refuses access. A run
// cannot go on without access, so it is an operational error, not a finding.
var ErrAccessDenied = errors.New("access denied")

// Object is one listed object.
type Object struct {
	Key  string
	Size int64
}

// Meta is an object's user metadata with lower-case names and no
// "x-amz-meta-" prefix, as the SDKs expose it: "signature",
// "signature-algorithm", "backfill-generation-timestamp".
type Meta map[string]string

// Store reads objects from one bucket.
type Store interface {
	// Bucket is the bucket name, or "" when not known (a local copy).
	Bucket() string
	// List calls fn for every object whose key starts with prefix, in
	// ascending key order. An error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// ListDirs returns the distinct "folders" directly below prefix (which is
	// empty or ends in "/"): each is prefix + name + "/", ascending.
	ListDirs(ctx context.Context, prefix string) ([]string, error)
	// Open returns the object's stored bytes (never transparently
	// decompressed) and its user metadata. A missing object gives an error
	// wrapping ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, Meta, error)
}

// URI returns s3://bucket/key for an object of s.
func URI(bucket, key string) string { return "s3://" + bucket + "/" + key }

// WithMetadata returns a store that answers Open with the given metadata for
// the listed keys, merged over what s returns (the given values win). It is
// how digest signatures reach the validator for a local copy, which has no
// S3 metadata.
func WithMetadata(s Store, meta map[string]Meta) Store {
	return &metaStore{Store: s, meta: meta}
}

type metaStore struct {
	Store
	meta map[string]Meta
}

// Unwrap returns the wrapped store.
func (m *metaStore) Unwrap() Store { return m.Store }

func (m *metaStore) Open(ctx context.Context, key string) (io.ReadCloser, Meta, error) {
	rc, md, err := m.Store.Open(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	extra, ok := m.meta[key]
	if !ok {
		return rc, md, nil
	}
	merged := Meta{}
	for k, v := range md {
		merged[k] = v
	}
	for k, v := range extra {
		merged[strings.ToLower(k)] = v
	}
	return rc, merged, nil
}

// WithBucket returns a store reporting bucket as its name; for a local copy
// whose bucket name is known.
func WithBucket(s Store, bucket string) Store { return &bucketStore{Store: s, bucket: bucket} }

type bucketStore struct {
	Store
	bucket string
}

// Unwrap returns the wrapped store.
func (b *bucketStore) Unwrap() Store { return b.Store }

// Base returns the innermost store of a chain of wrappers (WithMetadata,
// WithBucket).
func Base(s Store) Store {
	for {
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return s
		}
		s = u.Unwrap()
	}
}

func (b *bucketStore) Bucket() string { return b.bucket }

// NotFound returns an error wrapping ErrNotFound for key.
func NotFound(key string) error { return fmt.Errorf("%s: %w", key, ErrNotFound) }
