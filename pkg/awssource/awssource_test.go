package awssource_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/awssource"
	"github.com/trailcheck/trailcheck/pkg/evidence"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

func serve(t *testing.T, tr *trailgen.Trail) (*standin.Server, standin.Trail) {
	t.Helper()
	srv := standin.StartTest(t, standin.Options{KeysPageSize: 2})
	st, err := srv.LoadTrail(context.Background(), tr, "gzip")
	if err != nil {
		t.Fatal(err)
	}
	return srv, st
}

func findings(rep *report.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString(string(f.Kind) + " " + f.Object + "\n")
	}
	return b.String()
}

// TestTrailARNOverS3 validates the sample organization trail from the
// stand-in by ARN, and shows that a tampered copy fails there too.
func TestTrailARNOverS3(t *testing.T) {
	tr, err := trailgen.Generate(trailgen.SampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv, trail := serve(t, tr)
	ctx := context.Background()
	src, err := awssource.Open(ctx, awssource.Config{TrailARN: trail.ARN()})
	if err != nil {
		t.Fatal(err)
	}
	if src.Trail == nil || src.Trail.Bucket != tr.Config.Bucket || !src.Trail.Organization || len(src.Accounts) != 2 {
		t.Fatalf("trail %+v accounts %v", src.Trail, src.Accounts)
	}
	opts := validate.Options{Start: trailgen.SampleStart, End: trailgen.SampleEnd}
	src.Apply(&opts)
	rep, err := validate.Run(ctx, src.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != report.Valid || rep.Summary.Chains != 5 || rep.Summary.Logs.Valid != tr.LogFiles {
		t.Fatalf("verdict %s summary %+v\n%s", rep.Verdict, rep.Summary, findings(rep))
	}
	if n := srv.Count("ListPublicKeys"); n == 0 || n > 6 {
		t.Fatalf("%d ListPublicKeys calls, want a few (paged, cached per region)", n)
	}

}

// TestTamperedBucket: a log file deleted in S3 is reported missing, with
// the rest of the trail verified.
func TestTamperedBucket(t *testing.T) {
	tr, err := trailgen.Generate(trailgen.SampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	var victim []string
	for _, d := range tr.Chains[1].Digests {
		if len(d.Logs) > 0 {
			victim = d.Logs
			break
		}
	}
	tr.Store.Delete(victim[0])
	_, trail := serve(t, tr)
	ctx := context.Background()
	src, err := awssource.Open(ctx, awssource.Config{TrailARN: trail.ARN()})
	if err != nil {
		t.Fatal(err)
	}
	opts := validate.Options{Start: trailgen.SampleStart, End: trailgen.SampleEnd}
	src.Apply(&opts)
	rep, err := validate.Run(ctx, src.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := "log_missing s3://" + tr.Config.Bucket + "/" + victim[0]
	if rep.Verdict != report.Invalid || !strings.Contains(findings(rep), want) || rep.Summary.Findings[report.Error] != 1 {
		t.Fatalf("findings:\n%s", findings(rep))
	}
}

// TestBucketWithoutCloudTrail uses --s3-bucket alone: no CloudTrail call
// except ListPublicKeys, and org layouts found by listing.
func TestBucketWithoutCloudTrail(t *testing.T) {
	cfg := trailgen.SampleConfig()
	cfg.Prefix = "org/logs"
	tr, err := trailgen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := serve(t, tr)
	ctx := context.Background()
	src, err := awssource.Open(ctx, awssource.Config{Bucket: cfg.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	opts := validate.Options{Start: trailgen.SampleStart, End: trailgen.SampleEnd}
	src.Apply(&opts)
	rep, err := validate.Run(ctx, src.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != report.Valid || rep.Summary.Chains != 5 {
		t.Fatalf("verdict %s chains %d\n%s", rep.Verdict, rep.Summary.Chains, findings(rep))
	}
	for _, op := range []string{"DescribeTrails", "GetTrailStatus", "ListAccounts"} {
		if n := srv.Count(op); n != 0 {
			t.Fatalf("%d %s calls without a trail ARN", n, op)
		}
	}
}

// TestFetchThenValidateOffline downloads an evidence directory and checks
// that validating it offline gives the same report as the online run.
func TestFetchThenValidateOffline(t *testing.T) {
	tr, err := trailgen.Generate(trailgen.SampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	// An injected log file, so the copy must carry unreferenced logs too.
	var some *trailgen.DigestInfo
	for _, d := range tr.Chains[0].Digests[:10] {
		if len(d.Logs) > 0 {
			some = d
		}
	}
	injected := strings.Replace(some.Logs[0], some.Logs[0][len(some.Logs[0])-24:], "ZZZZZZZZZZZZZZZZ.json.gz", 1)
	data, _, _ := tr.Store.Get(some.Logs[0])
	tr.Store.Put(injected, data, nil)

	_, trail := serve(t, tr)
	ctx := context.Background()
	src, err := awssource.Open(ctx, awssource.Config{TrailARN: trail.ARN()})
	if err != nil {
		t.Fatal(err)
	}
	opts := validate.Options{Start: trailgen.SampleStart, End: trailgen.SampleEnd, Now: func() time.Time { return trailgen.SampleEnd.Add(time.Hour) }}
	src.Apply(&opts)
	dir := t.TempDir()
	online, err := evidence.Fetch(ctx, src.Store, dir, opts, evidence.Manifest{TrailARN: trail.ARN(), Prefix: "", PrefixSet: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := findings(online); !strings.Contains(got, "log_unreferenced") {
		t.Fatalf("online findings:\n%s", got)
	}
	// Resume: a second fetch into the same directory gives the same report.
	again, err := evidence.Fetch(ctx, src.Store, dir, opts, evidence.Manifest{TrailARN: trail.ARN(), PrefixSet: true})
	if err != nil {
		t.Fatal(err)
	}
	if findings(again) != findings(online) {
		t.Fatalf("resumed fetch differs:\n%s\nvs\n%s", findings(again), findings(online))
	}

	man, ok, err := evidence.Load(dir)
	if err != nil || !ok {
		t.Fatalf("manifest: %v %v", ok, err)
	}
	ks, err := man.KeySet(dir)
	if err != nil {
		t.Fatal(err)
	}
	local, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	offOpts := validate.Options{Start: man.Start, End: man.End, Keys: ks, Bucket: man.Bucket, Now: opts.Now,
		Prefix: man.Prefix, PrefixSet: man.PrefixSet, Trails: opts.Trails, ExpectAccounts: opts.ExpectAccounts}
	offline, err := validate.Run(ctx, store.WithMetadata(local, man.Signatures), offOpts)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(online.Findings)
	b, _ := json.Marshal(offline.Findings)
	if string(a) != string(b) || online.Summary.Logs != offline.Summary.Logs || online.Summary.Digests != offline.Summary.Digests {
		t.Fatalf("offline report differs:\nonline:\n%s\noffline:\n%s", findings(online), findings(offline))
	}
}
