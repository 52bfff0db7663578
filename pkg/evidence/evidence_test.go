package evidence

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/store"
)

func TestRecorderWritesWholeObjectsOnly(t *testing.T) {
	ctx := context.Background()
	remote := store.NewMem("b")
	logKey := "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/x.json.gz"
	digestKey := "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/d.json.gz"
	remote.Put(logKey, []byte("log bytes"), nil)
	remote.Put(digestKey, []byte("digest bytes"), store.Meta{"signature": "ab"})
	dir := t.TempDir()
	rec, err := NewRecorder(remote, dir)
	if err != nil {
		t.Fatal(err)
	}
	// A read abandoned half way leaves nothing behind.
	rc, _, err := rec.Open(ctx, logKey)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	io.ReadFull(rc, buf)
	rc.Close()
	if _, err := os.Stat(filepath.Join(dir, logKey)); !os.IsNotExist(err) {
		t.Fatalf("partial object written: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(filepath.Join(dir, logKey)))
	if len(entries) != 0 {
		t.Fatalf("temporary files left: %v", entries)
	}
	// A full read writes the object.
	for _, k := range []string{logKey, digestKey} {
		rc, _, err := rec.Open(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
	data, err := os.ReadFile(filepath.Join(dir, logKey))
	if err != nil || string(data) != "log bytes" {
		t.Fatalf("recorded log: %q %v", data, err)
	}
	if m := rec.Metas()[digestKey]; m["signature"] != "ab" {
		t.Fatalf("digest metadata not recorded: %v", rec.Metas())
	}
	// Resume: a recorded log file is served from disk, even when the
	// remote no longer has it; digests are always read again.
	remote.Delete(logKey)
	rc, _, err = rec.Open(ctx, logKey)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "log bytes" {
		t.Fatalf("resume read %q", got)
	}
	remote.Delete(digestKey)
	if _, _, err := rec.Open(ctx, digestKey); err == nil {
		t.Fatal("a digest was served from disk; digests must be read again")
	}
	if _, _, err := rec.Open(ctx, "../escape"); err == nil {
		t.Fatal("a key escaping the directory was accepted")
	}
}

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := Load(dir); ok || err != nil {
		t.Fatalf("no manifest: %v %v", ok, err)
	}
	m := &Manifest{Bucket: "b", Start: time.Unix(0, 0).UTC(), End: time.Unix(3600, 0).UTC(), Signatures: map[string]store.Meta{"k": {"signature": "ab"}}}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, ok, err := Load(dir)
	if err != nil || !ok || got.Bucket != "b" || got.Signatures["k"]["signature"] != "ab" {
		t.Fatalf("load: %+v %v %v", got, ok, err)
	}
	os.WriteFile(filepath.Join(dir, ManifestName), []byte(`{"schema_version": 9}`), 0o644)
	if _, _, err := Load(dir); err == nil {
		t.Fatal("foreign manifest accepted")
	}
}
