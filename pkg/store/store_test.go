package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/store/storetest"
)

func TestMemConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, objs map[string]storetest.Object) store.Store {
		m := store.NewMem("bucket")
		for k, o := range objs {
			m.Put(k, o.Data, o.Meta)
		}
		return m
	})
}

func TestLocalConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, objs map[string]storetest.Object) store.Store {
		dir := t.TempDir()
		for k, o := range objs {
			p := filepath.Join(dir, filepath.FromSlash(k))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, o.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, err := store.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}, storetest.WithoutMetadata())
}
