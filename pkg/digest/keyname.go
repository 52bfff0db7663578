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
	// Every listed log object goes through here (100,000s a run): a
	// hand-written parser takes the common case in a fraction of the
	// regular expression's time; anything it does not accept goes to the
	// regular expression, which decides and explains.
	if info, ok := parseLogKeyFast(key); ok {
		return info, nil
	}
	return parseLogKeyRE(key)
}

// parseLogKeyRE is ParseLogKey by the regular expression.
func parseLogKeyRE(key string) (LogKeyInfo, error) {
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

// parseLogKeyFast parses a log key exactly as logKeyRE and ParseLogKey do,
// for keys that are valid; ok is false for anything else.
func parseLogKeyFast(key string) (LogKeyInfo, bool) {
	const suffix = ".json.gz"
	if !strings.HasSuffix(key, suffix) {
		return LogKeyInfo{}, false
	}
	// From the end: ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/NAME.
	var seg [7]string
	rest := key
	for i := 6; i >= 0; i-- {
		j := strings.LastIndexByte(rest, '/')
		if j < 0 {
			return LogKeyInfo{}, false
		}
		seg[i], rest = rest[j+1:], rest[:j]
	}
	account, region, name := seg[0], seg[2], seg[6]
	if seg[1] != "CloudTrail" || !allDigits(account, 12) || !isRegionFast(region) ||
		!allDigits(seg[3], 4) || !allDigits(seg[4], 2) || !allDigits(seg[5], 2) {
		return LogKeyInfo{}, false
	}
	// rest is [PREFIX/]AWSLogs[/o-ORG].
	var org string
	if j := strings.LastIndexByte(rest, '/'); j >= 0 && strings.HasPrefix(rest[j+1:], "o-") {
		org, rest = rest[j+1:], rest[:j]
		if !isOrgFast(org) {
			return LogKeyInfo{}, false
		}
	}
	var prefix string
	switch {
	case rest == "AWSLogs":
	case strings.HasSuffix(rest, "/AWSLogs"):
		prefix = rest[:len(rest)-len("/AWSLogs")]
	default:
		return LogKeyInfo{}, false
	}
	// NAME: ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE16.json.gz
	head := account + "_CloudTrail_" + region + "_"
	body, ok := strings.CutPrefix(strings.TrimSuffix(name, suffix), head)
	if !ok || len(body) != 14+1+16 || body[14] != '_' {
		return LogKeyInfo{}, false
	}
	ts, unique := body[:14], body[15:]
	if !allDigits(ts[:8], 8) || ts[8] != 'T' || !allDigits(ts[9:13], 4) || ts[13] != 'Z' || !isAlnum(unique) {
		return LogKeyInfo{}, false
	}
	t, err := time.Parse(LogKeyTimeLayout, ts)
	if err != nil || seg[3]+"/"+seg[4]+"/"+seg[5]+"/" != DayFolder(t) {
		return LogKeyInfo{}, false
	}
	return LogKeyInfo{Location: Location{Prefix: prefix, OrgID: org, Account: account, Region: region}, Time: t}, true
}

func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// isRegionFast is reRegion: two lower-case letters, one or more
// "-[a-z0-9]+" parts, and a final "-DIGITS" part.
func isRegionFast(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts[0]) != 2 || parts[0][0] < 'a' || parts[0][0] > 'z' || parts[0][1] < 'a' || parts[0][1] > 'z' {
		return false
	}
	last := parts[len(parts)-1]
	if last == "" || !allDigits(last, len(last)) {
		return false
	}
	for _, p := range parts[1 : len(parts)-1] {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			if !(p[i] >= 'a' && p[i] <= 'z' || p[i] >= '0' && p[i] <= '9') {
				return false
			}
		}
	}
	return true
}

// isOrgFast is reOrg: "o-" and 10 to 32 lower-case letters or digits.
func isOrgFast(s string) bool {
	id := strings.TrimPrefix(s, "o-")
	if len(id) < 10 || len(id) > 32 || len(id) == len(s) {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !(id[i] >= 'a' && id[i] <= 'z' || id[i] >= '0' && id[i] <= '9') {
			return false
		}
	}
	return true
}
