package digest

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// KeyTimeLayout is the layout of the timestamp in a digest object's name.
const KeyTimeLayout = "20060102T150405Z"

// LogKeyTimeLayout is the layout of the timestamp in a log object's name.
const LogKeyTimeLayout = "20060102T1504Z"

// Location is where one account's files for one region live in a bucket:
// [Prefix/]AWSLogs/[OrgID/]Account/{CloudTrail,CloudTrail-Digest}/Region/.
type Location struct {
	Prefix  string // key prefix before AWSLogs/, without the trailing slash; may be empty
	OrgID   string // o-… for organization trails, else empty
	Account string
	Region  string // the region that produced the files
}

// AccountBase returns "[Prefix/]AWSLogs/[OrgID/]Account/".
func (l Location) AccountBase() string {
	var b strings.Builder
	if l.Prefix != "" {
		b.WriteString(l.Prefix)
		b.WriteByte('/')
	}
	b.WriteString("AWSLogs/")
	if l.OrgID != "" {
		b.WriteString(l.OrgID)
		b.WriteByte('/')
	}
	b.WriteString(l.Account)
	b.WriteByte('/')
	return b.String()
}

// DigestRegionPrefix returns the folder holding this location's digests.
func (l Location) DigestRegionPrefix() string {
	return l.AccountBase() + "CloudTrail-Digest/" + l.Region + "/"
}

// LogRegionPrefix returns the folder holding this location's log files.
func (l Location) LogRegionPrefix() string {
	return l.AccountBase() + "CloudTrail/" + l.Region + "/"
}

// DayFolder returns "YYYY/MM/DD/" for t in UTC.
func DayFolder(t time.Time) string { return t.UTC().Format("2006/01/02/") }

// String names the location for humans: account/region, with org and prefix.
func (l Location) String() string {
	s := l.Account + "/" + l.Region
	if l.OrgID != "" {
		s = l.OrgID + "/" + s
	}
	if l.Prefix != "" {
		s = l.Prefix + ":" + s
	}
	return s
}

// ChainID identifies one digest chain: one trail's digests for one location.
// Backfill digests form chains of their own.
type ChainID struct {
	Location
	Trail      string
	HomeRegion string
	Backfill   bool
}

// String names the chain for humans and for sorting.
func (c ChainID) String() string {
	s := c.Location.String() + "/" + c.Trail
	if c.Backfill {
		s += " (backfill)"
	}
	return s
}

// DigestKey returns the object key CloudTrail uses for this chain's digest
// ending at end.
func (c ChainID) DigestKey(end time.Time) string {
	end = end.UTC()
	suffix := ".json.gz"
	if c.Backfill {
		suffix = "_backfill.json.gz"
	}
	return c.DigestRegionPrefix() + DayFolder(end) + c.Account + "_CloudTrail-Digest_" + c.Region + "_" +
		c.Trail + "_" + c.HomeRegion + "_" + end.Format(KeyTimeLayout) + suffix
}

// DigestKeyInfo is what a digest object's name says.
type DigestKeyInfo struct {
	Chain ChainID
	End   time.Time // the timestamp in the name (the digest's end time)
}

// LogKeyInfo is what a log object's name says.
type LogKeyInfo struct {
	Location
	Time time.Time // minute-precision timestamp in the name
}

const (
	reRegion = `[a-z]{2}(?:-[a-z0-9]+)+-\d+`
	reOrg    = `o-[a-z0-9]{10,32}`
)

var (
	digestKeyRE = regexp.MustCompile(`^(?:(.*)/)?AWSLogs/(?:(` + reOrg + `)/)?(\d{12})/CloudTrail-Digest/(` + reRegion + `)/(\d{4})/(\d{2})/(\d{2})/` +
		`(\d{12})_CloudTrail-Digest_(` + reRegion + `)_(.+)_(` + reRegion + `)_(\d{8}T\d{6}Z)(_backfill)?\.json\.gz$`)
	logKeyRE = regexp.MustCompile(`^(?:(.*)/)?AWSLogs/(?:(` + reOrg + `)/)?(\d{12})/CloudTrail/(` + reRegion + `)/(\d{4})/(\d{2})/(\d{2})/` +
		`(\d{12})_CloudTrail_(` + reRegion + `)_(\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$`)
)

// ParseDigestKey parses a digest object key. It fails for anything that is
// not exactly CloudTrail's naming, including folders that disagree with the
// file name.
func ParseDigestKey(key string) (DigestKeyInfo, error) {
	m := digestKeyRE.FindStringSubmatch(key)
	if m == nil {
		return DigestKeyInfo{}, fmt.Errorf("%q is not a CloudTrail digest key", key)
	}
	end, err := time.Parse(KeyTimeLayout, m[12])
	if err != nil {
		return DigestKeyInfo{}, fmt.Errorf("digest key %q: bad timestamp %q", key, m[12])
	}
	if m[3] != m[8] || m[4] != m[9] {
		return DigestKeyInfo{}, fmt.Errorf("digest key %q: folder and file name disagree on account or region", key)
	}
	if m[5]+"/"+m[6]+"/"+m[7]+"/" != DayFolder(end) {
		return DigestKeyInfo{}, fmt.Errorf("digest key %q: date folder does not match the timestamp", key)
	}
	return DigestKeyInfo{
		Chain: ChainID{
			Location:   Location{Prefix: m[1], OrgID: m[2], Account: m[3], Region: m[4]},
			Trail:      m[10],
			HomeRegion: m[11],
			Backfill:   m[13] != "",
		},
		End: end,
	}, nil
}

// ParseLogKey parses a log object key.
func ParseLogKey(key string) (LogKeyInfo, error) {
	m := logKeyRE.FindStringSubmatch(key)
	if m == nil {
		return LogKeyInfo{}, fmt.Errorf("%q is not a CloudTrail log key", key)
	}
	t, err := time.Parse(LogKeyTimeLayout, m[10])
	if err != nil {
		return LogKeyInfo{}, fmt.Errorf("log key %q: bad timestamp %q", key, m[10])
	}
	if m[3] != m[8] || m[4] != m[9] {
		return LogKeyInfo{}, fmt.Errorf("log key %q: folder and file name disagree on account or region", key)
	}
	if m[5]+"/"+m[6]+"/"+m[7]+"/" != DayFolder(t) {
		return LogKeyInfo{}, fmt.Errorf("log key %q: date folder does not match the timestamp", key)
	}
	return LogKeyInfo{Location: Location{Prefix: m[1], OrgID: m[2], Account: m[3], Region: m[4]}, Time: t}, nil
}

// IsRegion reports whether s looks like an AWS region name.
func IsRegion(s string) bool { return regionRE.MatchString(s) }

// IsOrgID reports whether s looks like an AWS Organizations ID (o-…).
func IsOrgID(s string) bool { return orgRE.MatchString(s) }

// IsAccountID reports whether s is a 12-digit AWS account ID.
func IsAccountID(s string) bool { return accountRE.MatchString(s) }

var (
	regionRE  = regexp.MustCompile(`^` + reRegion + `$`)
	orgRE     = regexp.MustCompile(`^` + reOrg + `$`)
	accountRE = regexp.MustCompile(`^\d{12}$`)
)

// Partition returns the AWS partition of region, for ARNs: "aws",
// "aws-cn" or "aws-us-gov".
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
