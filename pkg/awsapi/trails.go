package awsapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/trailcheck/trailcheck/pkg/digest"
)

// Client asks CloudTrail about trails and Organizations about accounts.
// It is safe for concurrent use.
type Client struct {
	cfg aws.Config

	mu  sync.Mutex
	ct  map[string]*cloudtrail.Client // by region
	org *organizations.Client
}

// New returns a client using cfg (from LoadConfig).
func New(cfg aws.Config) *Client {
	return &Client{cfg: cfg, ct: map[string]*cloudtrail.Client{}}
}

// CloudTrail returns the CloudTrail client for region (one per region,
// made once).
func (c *Client) CloudTrail(region string) *cloudtrail.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.ct[region]; ok {
		return cl
	}
	cl := cloudtrail.NewFromConfig(c.cfg, func(o *cloudtrail.Options) { o.Region = region })
	c.ct[region] = cl
	return cl
}

// Trail is a trail's configuration, as DescribeTrails gives it.
type Trail struct {
	Name              string
	ARN               string
	Account           string // owner, from the ARN
	HomeRegion        string
	Bucket            string
	Prefix            string // S3 key prefix before AWSLogs/, without a trailing slash
	MultiRegion       bool
	Organization      bool
	LogFileValidation bool
}

// ErrTrailNotFound is returned (wrapped) for a trail CloudTrail does not
// know.
var ErrTrailNotFound = errors.New("trail not found")

// ParseTrailARN splits arn:PARTITION:cloudtrail:REGION:ACCOUNT:trail/NAME.
func ParseTrailARN(arn string) (region, account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "cloudtrail" || !strings.HasPrefix(parts[5], "trail/") {
		return "", "", "", false
	}
	return parts[3], parts[4], strings.TrimPrefix(parts[5], "trail/"), true
}

// Partition returns the AWS partition of region: "aws", "aws-cn" or
// "aws-us-gov".
func Partition(region string) string { return digest.Partition(region) }

// TrailARN returns the ARN of trail name created in homeRegion by account.
func TrailARN(homeRegion, account, name string) string {
	return "arn:" + Partition(homeRegion) + ":cloudtrail:" + homeRegion + ":" + account + ":trail/" + name
}

// regionFor picks the region to ask about a trail: an ARN's, else the
// configured one.
func (c *Client) regionFor(nameOrARN string) (string, error) {
	if r, _, _, ok := ParseTrailARN(nameOrARN); ok {
		return r, nil
	}
	if c.cfg.Region == "" {
		return "", fmt.Errorf("trail %q: give the trail's ARN, or a region to look for the name in", nameOrARN)
	}
	return c.cfg.Region, nil
}

func trailFrom(t cttypes.Trail) Trail {
	out := Trail{
		Name:              aws.ToString(t.Name),
		ARN:               aws.ToString(t.TrailARN),
		HomeRegion:        aws.ToString(t.HomeRegion),
		Bucket:            aws.ToString(t.S3BucketName),
		Prefix:            strings.TrimSuffix(aws.ToString(t.S3KeyPrefix), "/"),
		MultiRegion:       aws.ToBool(t.IsMultiRegionTrail),
		Organization:      aws.ToBool(t.IsOrganizationTrail),
		LogFileValidation: aws.ToBool(t.LogFileValidationEnabled),
	}
	if _, acct, _, ok := ParseTrailARN(out.ARN); ok {
		out.Account = acct
	}
	return out
}

// DescribeTrail returns the trail named by its ARN (or by its name, looked
// up in the configured region).
func (c *Client) DescribeTrail(ctx context.Context, nameOrARN string) (Trail, error) {
	region, err := c.regionFor(nameOrARN)
	if err != nil {
		return Trail{}, err
	}
	out, err := c.CloudTrail(region).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{
		TrailNameList:       []string{nameOrARN},
		IncludeShadowTrails: aws.Bool(true),
	})
	if err != nil {
		return Trail{}, describeErr(err, "describe trail "+nameOrARN+" in "+region)
	}
	for _, t := range out.TrailList {
		if aws.ToString(t.TrailARN) == nameOrARN || aws.ToString(t.Name) == nameOrARN {
			return trailFrom(t), nil
		}
	}
	return Trail{}, fmt.Errorf("trail %s: %w in region %s", nameOrARN, ErrTrailNotFound, region)
}

// DescribeTrails returns the trails that log region: those created there
// and the multi-region trails of other home regions.
func (c *Client) DescribeTrails(ctx context.Context, region string) ([]Trail, error) {
	out, err := c.CloudTrail(region).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return nil, describeErr(err, "describe trails in "+region)
	}
	trails := make([]Trail, 0, len(out.TrailList))
	for _, t := range out.TrailList {
		trails = append(trails, trailFrom(t))
	}
	sort.Slice(trails, func(i, j int) bool { return trails[i].ARN < trails[j].ARN })
	return trails, nil
}

func describeErr(err error, action string) error {
	var nf *cttypes.TrailNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("%s: %w", action, ErrTrailNotFound)
	}
	if d := Denied(err, action, "cloudtrail:DescribeTrails"); d != err {
		return d
	}
	return fmt.Errorf("%s: %w", action, err)
}

// TrailStatus is what GetTrailStatus says about a trail.
type TrailStatus struct {
	IsLogging bool
	// LatestDigestDelivery is when CloudTrail last delivered a digest;
	// zero if never.
	LatestDigestDelivery time.Time
	// LatestDigestDeliveryError is the last digest delivery error (e.g.
	// AccessDenied when the bucket policy changed); "" if none.
	LatestDigestDeliveryError string
	StartLogging              time.Time
	StopLogging               time.Time
}

// TrailStatus returns the status of the trail named by its ARN (or by its
// name, in the configured region). The call goes to the trail's home region.
func (c *Client) TrailStatus(ctx context.Context, nameOrARN string) (TrailStatus, error) {
	region, err := c.regionFor(nameOrARN)
	if err != nil {
		return TrailStatus{}, err
	}
	out, err := c.CloudTrail(region).GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(nameOrARN)})
	if err != nil {
		action := "get status of trail " + nameOrARN
		var nf *cttypes.TrailNotFoundException
		if errors.As(err, &nf) {
			return TrailStatus{}, fmt.Errorf("%s: %w", action, ErrTrailNotFound)
		}
		if d := Denied(err, action, "cloudtrail:GetTrailStatus"); d != err {
			return TrailStatus{}, d
		}
		return TrailStatus{}, fmt.Errorf("%s: %w", action, err)
	}
	return TrailStatus{
		IsLogging:                 aws.ToBool(out.IsLogging),
		LatestDigestDelivery:      aws.ToTime(out.LatestDigestDeliveryTime).UTC(),
		LatestDigestDeliveryError: aws.ToString(out.LatestDigestDeliveryError),
		StartLogging:              aws.ToTime(out.StartLoggingTime).UTC(),
		StopLogging:               aws.ToTime(out.StopLoggingTime).UTC(),
	}, nil
}

func (c *Client) organizations() *organizations.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.org == nil {
		// Organizations has one endpoint per partition.
		region := "us-east-1"
		switch Partition(c.cfg.Region) {
		case "aws-cn":
			region = "cn-northwest-1"
		case "aws-us-gov":
			region = "us-gov-west-1"
		}
		c.org = organizations.NewFromConfig(c.cfg, func(o *organizations.Options) { o.Region = region })
	}
	return c.org
}

// ErrNoOrganization is returned (wrapped) when the account is not in an
// organization.
var ErrNoOrganization = errors.New("the account is not a member of an organization")

func orgErr(err error, action, permission string) error {
	if ErrorCode(err) == "AWSOrganizationsNotInUseException" {
		return fmt.Errorf("%s: %w", action, ErrNoOrganization)
	}
	if d := Denied(err, action, permission); d != err {
		return d
	}
	return fmt.Errorf("%s: %w", action, err)
}

// ListAccounts returns the IDs of the organization's member accounts,
// sorted, following every page. It needs the management account (or a
// delegated administrator).
func (c *Client) ListAccounts(ctx context.Context) ([]string, error) {
	p := organizations.NewListAccountsPaginator(c.organizations(), &organizations.ListAccountsInput{})
	var ids []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, orgErr(err, "list organization accounts", "organizations:ListAccounts")
		}
		for _, a := range page.Accounts {
			ids = append(ids, aws.ToString(a.Id))
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Organization is the caller's organization.
type Organization struct {
	ID                string // o-…
	ManagementAccount string
}

// DescribeOrganization returns the caller's organization.
func (c *Client) DescribeOrganization(ctx context.Context) (Organization, error) {
	out, err := c.organizations().DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return Organization{}, orgErr(err, "describe organization", "organizations:DescribeOrganization")
	}
	if out.Organization == nil {
		return Organization{}, fmt.Errorf("describe organization: empty answer")
	}
	return Organization{
		ID:                aws.ToString(out.Organization.Id),
		ManagementAccount: aws.ToString(out.Organization.MasterAccountId),
	}, nil
}
