package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/awskeys"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/s3store"
)

func TestServeDirectory(t *testing.T) {
	dir := t.TempDir()
	bucketDir := filepath.Join(dir, "trail-bucket")
	digestKey := "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/01/02/d.json.gz"
	for k, v := range map[string]string{digestKey: "digest", "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/01/02/l.json.gz": "log"} {
		p := filepath.Join(bucketDir, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sigs := filepath.Join(dir, "sigs.json")
	os.WriteFile(sigs, []byte(`{"s3://trail-bucket/`+digestKey+`": {"signature": "abcd", "signature-algorithm": "SHA256withRSA"}}`), 0o644)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	key, err := keys.NewKey(x509.MarshalPKCS1PublicKey(&priv.PublicKey), "", "eu-west-1", from, from.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	keyMap, _ := keys.RegionMap([]*keys.Key{key})
	keyFile := filepath.Join(dir, "keys.json")
	os.WriteFile(keyFile, keyMap, 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-dir", bucketDir, "-region", "eu-west-1", "-signatures", sigs, "-keys", keyFile, "-trail", "main"}, pw, io.Discard)
		pw.Close()
	}()

	// The stdout lines are shell exports; apply them as a user's shell would.
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	sc := bufio.NewScanner(pr)
	exports := 0
	for exports < 6 && sc.Scan() {
		kv, ok := strings.CutPrefix(sc.Text(), "export ")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 {
			t.Fatalf("stdout line %q is not an export", sc.Text())
		}
		if strings.HasPrefix(k, "AWS_ENDPOINT_URL_") && !strings.HasPrefix(v, "http://127.0.0.1:") {
			t.Errorf("%s=%s is not on 127.0.0.1", k, v)
		}
		t.Setenv(k, v)
		exports++
	}
	if exports != 6 {
		t.Fatalf("%d export lines", exports)
	}

	st, err := s3store.New(ctx, s3store.Config{Bucket: "trail-bucket"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Region() != "eu-west-1" {
		t.Errorf("region %s", st.Region())
	}
	rc, meta, err := st.Open(ctx, digestKey)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "digest" || meta["signature"] != "abcd" || meta["signature-algorithm"] != "SHA256withRSA" {
		t.Errorf("digest: %q, %v", data, meta)
	}
	l, err := awskeys.New(st.AWSConfig()).Lookup(ctx, "eu-west-1", key.Fingerprint, from.Add(24*time.Hour))
	if err != nil || l.Status != keys.Found {
		t.Errorf("key lookup: %+v, %v", l, err)
	}
	tr, err := awsapi.New(st.AWSConfig()).DescribeTrail(ctx, awsapi.TrailARN("eu-west-1", "111122223333", "main"))
	if err != nil || tr.Bucket != "trail-bucket" {
		t.Errorf("trail: %+v, %v", tr, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d", code)
	}
}
