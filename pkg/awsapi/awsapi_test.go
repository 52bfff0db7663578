package awsapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/store"
)

func setup(t *testing.T, opts standin.Options, region string) (*standin.Server, *awsapi.Client) {
	t.Helper()
	srv := standin.StartTest(t, opts)
	cfg, err := awsapi.LoadConfig(context.Background(), awsapi.Options{Region: region, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return srv, awsapi.New(cfg)
}

var delivered = time.Date(2024, 3, 1, 10, 4, 4, 0, time.UTC)

var trails = []standin.Trail{
	{Name: "org.trail", HomeRegion: "eu-west-1", Bucket: "org-logs", Prefix: "audit", MultiRegion: true,
		Organization: true, LogFileValidation: true, LatestDigestDelivery: delivered},
	{Name: "local", HomeRegion: "us-east-1", Bucket: "local-logs", LogFileValidation: true, Stopped: true,
		StopLogging: delivered.Add(-time.Hour)},
}

func TestDescribeTrail(t *testing.T) {
	srv, c := setup(t, standin.Options{}, "us-east-1")
	srv.SetTrails(trails...)
	ctx := context.Background()

	arn := trails[0].ARN()
	tr, err := c.DescribeTrail(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	want := awsapi.Trail{Name: "org.trail", ARN: arn, Account: standin.DefaultAccount, HomeRegion: "eu-west-1",
		Bucket: "org-logs", Prefix: "audit", MultiRegion: true, Organization: true, LogFileValidation: true}
	if tr != want {
		t.Errorf("DescribeTrail(%s) =\n %+v\nwant\n %+v", arn, tr, want)
	}
	// By ARN the call goes to the home region.
	if r := srv.Requests(); len(r) != 1 || r[0].Region != "eu-west-1" {
		t.Errorf("requests %+v, want one to eu-west-1", r)
	}
	// By name, in the configured region.
	if tr, err := c.DescribeTrail(ctx, "local"); err != nil || tr.HomeRegion != "us-east-1" || tr.MultiRegion {
		t.Errorf("DescribeTrail(local) = %+v, %v", tr, err)
	}
	if _, err := c.DescribeTrail(ctx, "nope"); !errors.Is(err, awsapi.ErrTrailNotFound) {
		t.Errorf("DescribeTrail(nope): %v, want ErrTrailNotFound", err)
	}

	// A region lists its own trails and the multi-region ones.
	all, err := c.DescribeTrails(ctx, "ap-south-1")
	if err != nil || len(all) != 1 || all[0].Name != "org.trail" {
		t.Errorf("DescribeTrails(ap-south-1) = %+v, %v", all, err)
	}
	all, err = c.DescribeTrails(ctx, "us-east-1")
	if err != nil || len(all) != 2 {
		t.Errorf("DescribeTrails(us-east-1) = %+v, %v", all, err)
	}

	srv.Inject(standin.Fault{Op: "DescribeTrails", Kind: standin.AccessDenied})
	_, err = c.DescribeTrail(ctx, arn)
	if !errors.Is(err, store.ErrAccessDenied) || !strings.Contains(err.Error(), "cloudtrail:DescribeTrails") {
		t.Errorf("refused: %v", err)
	}
}

func TestTrailStatus(t *testing.T) {
	srv, c := setup(t, standin.Options{}, "us-east-1")
	srv.SetTrails(trails...)
	ctx := context.Background()
	st, err := c.TrailStatus(ctx, trails[0].ARN())
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsLogging || !st.LatestDigestDelivery.Equal(delivered) {
		t.Errorf("TrailStatus = %+v, want logging, last digest at %s", st, delivered)
	}
	st, err = c.TrailStatus(ctx, trails[1].ARN())
	if err != nil || st.IsLogging || !st.LatestDigestDelivery.IsZero() || !st.StopLogging.Equal(delivered.Add(-time.Hour)) {
		t.Errorf("TrailStatus(stopped) = %+v, %v", st, err)
	}
	if _, err := c.TrailStatus(ctx, awsapi.TrailARN("us-east-1", "111122223333", "gone")); !errors.Is(err, awsapi.ErrTrailNotFound) {
		t.Errorf("TrailStatus(gone): %v", err)
	}
	srv.Inject(standin.Fault{Op: "GetTrailStatus", Kind: standin.AccessDenied})
	if _, err := c.TrailStatus(ctx, trails[0].ARN()); !errors.Is(err, store.ErrAccessDenied) || !strings.Contains(err.Error(), "cloudtrail:GetTrailStatus") {
		t.Errorf("refused: %v", err)
	}
}

func TestTrailNameNeedsRegion(t *testing.T) {
	_, c := setup(t, standin.Options{}, "")
	if _, err := c.DescribeTrail(context.Background(), "local"); err == nil || !strings.Contains(err.Error(), "ARN") {
		t.Errorf("a trail name without a region: %v", err)
	}
}

func TestOrganizations(t *testing.T) {
	srv, c := setup(t, standin.Options{AccountsPageSize: 2}, "eu-central-1")
	ctx := context.Background()
	if _, err := c.ListAccounts(ctx); !errors.Is(err, awsapi.ErrNoOrganization) {
		t.Errorf("ListAccounts outside an organization: %v", err)
	}
	var accounts []standin.Account
	var want []string
	for i := 5; i > 0; i-- {
		id := fmt.Sprintf("%012d", i)
		accounts = append(accounts, standin.Account{ID: id})
		want = append([]string{id}, want...)
	}
	accounts[2].Status = "SUSPENDED"
	srv.SetAccounts(accounts...)
	srv.SetOrganization(standin.Organization{ID: "o-abcdefghij", ManagementAccount: "000000000005"})
	ids, err := c.ListAccounts(ctx)
	if err != nil || strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("ListAccounts = %v, %v; want %v", ids, err, want)
	}
	if n := srv.Count("ListAccounts"); n != 4 { // 1 refused + 3 pages
		t.Errorf("%d ListAccounts calls, want 1 + 3 pages", n)
	}
	for _, r := range srv.Requests() {
		if r.Region != "us-east-1" {
			t.Errorf("Organizations asked in %s, want its us-east-1 endpoint", r.Region)
		}
	}
	org, err := c.DescribeOrganization(ctx)
	if err != nil || org.ID != "o-abcdefghij" || org.ManagementAccount != "000000000005" {
		t.Errorf("DescribeOrganization = %+v, %v", org, err)
	}
	srv.Inject(standin.Fault{Op: "ListAccounts", Kind: standin.AccessDenied})
	if _, err := c.ListAccounts(ctx); !errors.Is(err, store.ErrAccessDenied) || !strings.Contains(err.Error(), "organizations:ListAccounts") {
		t.Errorf("refused: %v", err)
	}
}

func TestCustomEndpoint(t *testing.T) {
	srv, _ := setup(t, standin.Options{}, "")
	ctx := context.Background()
	cfg, err := awsapi.LoadConfig(ctx, awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := awsapi.CustomEndpoint(ctx, cfg, "S3"); got != srv.URL() {
		t.Errorf("CustomEndpoint(S3) = %q, want %q", got, srv.URL())
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	if got := awsapi.CustomEndpoint(ctx, cfg, "S3"); got != "" {
		t.Errorf("CustomEndpoint(S3) without the variable = %q", got)
	}
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	cfg, _ = awsapi.LoadConfig(ctx, awsapi.Options{})
	if got := awsapi.CustomEndpoint(ctx, cfg, "S3"); got != "http://127.0.0.1:1" {
		t.Errorf("CustomEndpoint(S3) with AWS_ENDPOINT_URL = %q", got)
	}
}

func TestProfileNotFound(t *testing.T) {
	setup(t, standin.Options{}, "")
	_, err := awsapi.LoadConfig(context.Background(), awsapi.Options{Profile: "nope"})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing profile: %v", err)
	}
}

func TestParseTrailARN(t *testing.T) {
	for _, tc := range []struct {
		arn                   string
		region, account, name string
		ok                    bool
	}{
		{"arn:aws:cloudtrail:us-east-1:111122223333:trail/t", "us-east-1", "111122223333", "t", true},
		{"arn:aws-cn:cloudtrail:cn-north-1:111122223333:trail/a.b_c-d", "cn-north-1", "111122223333", "a.b_c-d", true},
		{"arn:aws:s3:::bucket", "", "", "", false},
		{"trail", "", "", "", false},
	} {
		r, a, n, ok := awsapi.ParseTrailARN(tc.arn)
		if r != tc.region || a != tc.account || n != tc.name || ok != tc.ok {
			t.Errorf("ParseTrailARN(%q) = %q, %q, %q, %v", tc.arn, r, a, n, ok)
		}
		if ok && awsapi.TrailARN(r, a, n) != tc.arn {
			t.Errorf("TrailARN(%q, %q, %q) = %q", r, a, n, awsapi.TrailARN(r, a, n))
		}
	}
}
