package standin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// TestAWSCLI checks that the AWS CLI, as a user would point it at the
// stand-in, gets the answers AWS would give: S3 listings and metadata,
// CloudTrail keys (paged, long-form X-Amz-Target) and trails, and
// Organizations accounts.
func TestAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the AWS CLI (aws) is not on PATH; CI must have it")
		}
		t.Skip("the AWS CLI (aws) is not on PATH")
	}
	srv := start(t, standin.Options{KeysPageSize: 1})
	objects := map[string]string{
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/d.json.gz": "digest",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/l.json.gz":        "log",
		"odd/a b+c%41ü.json": "odd",
	}
	for k, v := range objects {
		var meta store.Meta
		if strings.Contains(k, "Digest") {
			meta = store.Meta{"signature": "abcd", "signature-algorithm": "SHA256withRSA"}
		}
		if err := srv.PutObject("trail-bucket", k, []byte(v), meta, ""); err != nil {
			t.Fatal(err)
		}
	}
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var ks []*keys.Key
	for i := range 2 {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		s := from.Add(time.Duration(i) * 25 * 24 * time.Hour)
		k, err := keys.NewKey(x509.MarshalPKCS1PublicKey(&priv.PublicKey), "", "us-east-1", s, s.Add(30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	srv.SetKeys("us-east-1", ks)
	srv.SetTrails(standin.Trail{Name: "main", HomeRegion: "us-east-1", Bucket: "trail-bucket", MultiRegion: true, LogFileValidation: true})
	srv.SetAccounts(standin.Account{ID: "111122223333"}, standin.Account{ID: "444455556666"})

	env := []string{
		"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, srv.Env()...)
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, aws, append(args, "--output", "json")...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}

	var list struct{ Contents []struct{ Key string } }
	if err := json.Unmarshal(run("s3api", "list-objects-v2", "--bucket", "trail-bucket"), &list); err != nil {
		t.Fatal(err)
	}
	var gotKeys []string
	for _, c := range list.Contents {
		gotKeys = append(gotKeys, c.Key)
	}
	if len(gotKeys) != len(objects) {
		t.Errorf("list-objects-v2: %q", gotKeys)
	}
	for _, k := range gotKeys {
		if _, ok := objects[k]; !ok {
			t.Errorf("list-objects-v2 returned %q, which is not a key", k)
		}
	}

	var head struct{ Metadata map[string]string }
	if err := json.Unmarshal(run("s3api", "head-object", "--bucket", "trail-bucket", "--key",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/d.json.gz"), &head); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"signature": "abcd", "signature-algorithm": "SHA256withRSA"}; !reflect.DeepEqual(head.Metadata, want) {
		t.Errorf("head-object metadata %v, want %v", head.Metadata, want)
	}

	// list-public-keys output is a key file; the CLI follows NextToken.
	out := run("cloudtrail", "list-public-keys", "--start-time", "2024-01-10T00:00:00Z", "--end-time", "2024-01-30T00:00:00Z")
	loaded, err := keys.Parse("list-public-keys", out, "us-east-1")
	if err != nil {
		t.Fatalf("list-public-keys output does not load: %v\n%s", err, out)
	}
	if len(loaded) != 2 || loaded[0].Fingerprint != ks[0].Fingerprint || !loaded[0].ValidFrom.Equal(ks[0].ValidFrom) {
		t.Errorf("list-public-keys: %d keys (%v)", len(loaded), loaded)
	}
	if n := srv.Count("ListPublicKeys"); n != 2 {
		t.Errorf("the CLI made %d ListPublicKeys calls, want 2 pages", n)
	}

	var trails struct {
		TrailList []struct {
			Name, S3BucketName, TrailARN string
			IsMultiRegionTrail           bool
		} `json:"trailList"`
	}
	if err := json.Unmarshal(run("cloudtrail", "describe-trails"), &trails); err != nil {
		t.Fatal(err)
	}
	if len(trails.TrailList) != 1 || trails.TrailList[0].TrailARN != "arn:aws:cloudtrail:us-east-1:111122223333:trail/main" || !trails.TrailList[0].IsMultiRegionTrail {
		t.Errorf("describe-trails: %+v", trails)
	}

	var accounts struct{ Accounts []struct{ Id string } }
	if err := json.Unmarshal(run("organizations", "list-accounts"), &accounts); err != nil {
		t.Fatal(err)
	}
	if len(accounts.Accounts) != 2 || accounts.Accounts[1].Id != "444455556666" {
		t.Errorf("list-accounts: %+v", accounts)
	}
}
