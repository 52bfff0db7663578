package trailgen

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/digest"
)

// Stop is a period during which logging was stopped: no log files and no
// digests are delivered from From to To. The digest running at From ends at
// From (it may be shorter than an hour); the first digest after To starts at
// To with null previousDigest* fields, and the hourly cadence goes on from To.
type Stop struct {
	From, To time.Time
}

// Backfill asks for backfill digest chains: for Chains of the trail's chains
// (picked by the seed), a chain of Digests backfill digests covering the
// periods of as many consecutive full-hour digests, each referencing
// LogsPerDigest extra log files with key times in its period that the hourly
// digest did not list (delivered late). The backfill chain starts with null
// previousDigest* fields and links only to its own digests. Every backfill
// digest carries the metadata backfill-generation-timestamp: the end of the
// last backfilled period plus Delay, and is signed with the key that covers
// that time.
type Backfill struct {
	Chains        int           // number of chains that get a backfill chain; 0: none
	Digests       int           // backfill digests per backfill chain; 0: 2
	LogsPerDigest int           // late log files per backfill digest; 0: 2
	Delay         time.Duration // generation time after the last backfilled period; 0: 3h
}

// Config describes a trail to generate. The zero value of a field means its
// default (see DefaultConfig) unless its comment says otherwise.
type Config struct {
	Bucket string
	// Prefix is the key prefix before AWSLogs/ (no leading or trailing
	// slash); empty for none.
	Prefix string
	// OrgID ("o-" and 10 to 32 lower-case letters or digits) gives the
	// organization layout AWSLogs/o-…/ACCOUNT/; empty for none.
	OrgID    string
	Accounts []string // 12-digit account IDs; the first owns the trail
	Regions  []string // regions that produce files (one chain per account and region)
	// HomeRegion is where the trail was created; default Regions[0]. It
	// need not be one of Regions.
	HomeRegion string
	// TrailName may contain any character a key can hold except "/".
	TrailName string

	// Start is the first digest's start time (second precision). Digests
	// then end every hour at the same minute and second, as CloudTrail's do.
	Start time.Time
	// Hours is the length of the trail: Start to Start+Hours hours. Without
	// stops it is the number of hourly digests per chain.
	Hours int
	// ChainStagger shifts chain i (in the order of Chains: accounts, then
	// regions) by i×ChainStagger, so that chains have different minute and
	// second offsets. Zero: all chains share Start's offset.
	ChainStagger time.Duration

	// LogsPerHourMin and LogsPerHourMax bound the number of log files per
	// digest (uniform). Both zero: 1 to 4. A minimum of 0 gives empty hours.
	LogsPerHourMin, LogsPerHourMax int
	// EventsPerLogMin and EventsPerLogMax bound the number of records per log
	// file. Both zero: 1 to 8. The minimum is at least 1.
	EventsPerLogMin, EventsPerLogMax int
	// LogSize, when positive, is the approximate decompressed size of each
	// log file in bytes: records are added until it is reached (at least
	// EventsPerLogMin records). Zero: sizes follow from the record counts
	// (about 1 KB a record).
	LogSize int

	// Seed drives every random choice: the same Config gives byte-identical
	// objects.
	Seed uint64

	// Stops are periods with logging stopped, in order, not overlapping,
	// inside the trail, second precision.
	Stops []Stop
	// StopEventsAllChains records the StopLogging and StartLogging events
	// in every chain's logs around each stop. By default they are recorded,
	// as CloudTrail does, only where the API call was made: the trail
	// owner's (Accounts[0]) home-region chain, or its first chain when
	// HomeRegion is not one of Regions.
	StopEventsAllChains bool

	// KeyPeriod is how long each signing key is valid; default 30 days.
	KeyPeriod time.Duration
	// KeyRotate is the time between the starts of consecutive keys of a
	// region; default two thirds of KeyPeriod (AWS: a new 30-day key about
	// every 20 days). It must not exceed KeyPeriod, so windows overlap.
	KeyRotate time.Duration
	// KeyAnchor is the start of one key window; the others start every
	// KeyRotate before and after it. Zero: Start - KeyRotate/2 + 1h2m3s.
	// A digest is signed with the newest key of its region whose window
	// covers its end time (backfill: its generation time).
	KeyAnchor time.Time

	Backfill Backfill
}

// Default values.
var (
	DefaultStart     = time.Date(2026, 11, 1, 0, 4, 4, 0, time.UTC)
	DefaultKeyPeriod = 30 * 24 * time.Hour
)

// DefaultConfig returns a small one-account, one-region trail of 24 hours.
func DefaultConfig() Config {
	return Config{
		Bucket:          "trailcheck-test-bucket",
		Accounts:        []string{"111122223333"},
		Regions:         []string{"us-east-1"},
		HomeRegion:      "us-east-1",
		TrailName:       "management-events",
		Start:           DefaultStart,
		Hours:           24,
		LogsPerHourMin:  1,
		LogsPerHourMax:  4,
		EventsPerLogMin: 1,
		EventsPerLogMax: 8,
		Seed:            1,
		KeyPeriod:       DefaultKeyPeriod,
		KeyRotate:       DefaultKeyPeriod * 2 / 3,
	}
}

// SampleStart and SampleEnd are the range of the sample trail (SampleConfig):
// the first digest's start time and the last hourly digest's end time.
var (
	SampleStart = time.Date(2026, 11, 1, 0, 4, 4, 0, time.UTC)
	SampleEnd   = time.Date(2026, 11, 2, 23, 37, 12, 0, time.UTC)
)

// SampleConfig is the sample trail shipped in testdata/sample (written by
// `go run ./scripts/gentrail -sample -out testdata/sample -force`). Its
// range is 2026-11-01T00:04:04Z to 2026-11-02T23:37:12Z (SampleStart,
// SampleEnd):
//
//	trailcheck validate --dir testdata/sample \
//	    --start-time 2026-11-01T00:04:04Z --end-time 2026-11-02T23:37:12Z
//
// Shape: bucket trailcheck-sample-bucket, organization trail (layout
// AWSLogs/o-7k2m9x4q1z/ACCOUNT/) for accounts 402819374615 (the trail
// owner) and 739104628153, multi-region trail "org_trail.main" (a name with
// "_" and ".") with home region us-east-1, files from us-east-1 and
// eu-west-1: four hourly chains of 45 digests each:
//
//   - 20 hourly digests ending 2026-11-01T01:04:04Z … 20:04:04Z, then a
//     27-minute digest 20:04:04Z–20:31:40Z;
//   - logging stopped from 2026-11-01T20:31:40Z to 23:37:12Z (3 h 5 min 32 s);
//     the StopLogging and StartLogging events are in 402819374615's
//     us-east-1 logs (the owner's home region, where the API was called);
//   - 24 hourly digests from 2026-11-01T23:37:12Z (a chain start: null
//     previousDigest* fields) to 2026-11-02T23:37:12Z, at the new offset :37:12.
//
// Keys: each region has a 30-day key from 2026-10-13T09:14:27Z and the next
// from 2026-11-02T09:14:27Z (AWS-like 20-day rotation); digests ending after
// 2026-11-02T09:14:27Z are signed with the newer one.
//
// Backfill: one chain (402819374615, eu-west-1) has a backfill chain of two
// digests repeating the periods 2026-11-02T02:37:12Z–03:37:12Z and
// 03:37:12Z–04:37:12Z, each with two late log files, generated (and signed)
// at 2026-11-02T07:37:12Z.
//
// Log files: 0 to 3 per hour (274 in all, so some hours are empty), 1 to 6
// records each; about 0.5 MB of objects, 0.85 MB with the sidecar files.
func SampleConfig() Config {
	return Config{
		Bucket:          "trailcheck-sample-bucket",
		OrgID:           "o-7k2m9x4q1z",
		Accounts:        []string{"402819374615", "739104628153"},
		Regions:         []string{"us-east-1", "eu-west-1"},
		HomeRegion:      "us-east-1",
		TrailName:       "org_trail.main",
		Start:           SampleStart,
		Hours:           48,
		LogsPerHourMin:  0,
		LogsPerHourMax:  3,
		EventsPerLogMin: 1,
		EventsPerLogMax: 6,
		Seed:            20261101,
		Stops: []Stop{{
			From: time.Date(2026, 11, 1, 20, 31, 40, 0, time.UTC),
			To:   time.Date(2026, 11, 1, 23, 37, 12, 0, time.UTC),
		}},
		KeyPeriod: DefaultKeyPeriod,
		KeyRotate: DefaultKeyPeriod * 2 / 3,
		KeyAnchor: time.Date(2026, 11, 2, 9, 14, 27, 0, time.UTC),
		Backfill:  Backfill{Chains: 1, Digests: 2, LogsPerDigest: 2, Delay: 3 * time.Hour},
	}
}

// Check reports whether c is a valid configuration (after defaults are
// filled in), as Generate would.
func (c Config) Check() error {
	_, err := normalize(c)
	return err
}

// normalize fills in defaults and checks cfg.
func normalize(cfg Config) (Config, error) {
	def := DefaultConfig()
	if cfg.Bucket == "" {
		cfg.Bucket = def.Bucket
	}
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = def.Accounts
	}
	if len(cfg.Regions) == 0 {
		cfg.Regions = def.Regions
	}
	cfg.Accounts = slices.Clone(cfg.Accounts)
	cfg.Regions = slices.Clone(cfg.Regions)
	cfg.Stops = slices.Clone(cfg.Stops)
	if cfg.HomeRegion == "" {
		cfg.HomeRegion = cfg.Regions[0]
	}
	if cfg.TrailName == "" {
		cfg.TrailName = def.TrailName
	}
	if cfg.Start.IsZero() {
		cfg.Start = def.Start
	}
	cfg.Start = cfg.Start.UTC()
	if cfg.Hours == 0 {
		cfg.Hours = def.Hours
	}
	if cfg.LogsPerHourMin == 0 && cfg.LogsPerHourMax == 0 {
		cfg.LogsPerHourMin, cfg.LogsPerHourMax = def.LogsPerHourMin, def.LogsPerHourMax
	}
	if cfg.EventsPerLogMin == 0 && cfg.EventsPerLogMax == 0 {
		cfg.EventsPerLogMin, cfg.EventsPerLogMax = def.EventsPerLogMin, def.EventsPerLogMax
	}
	if cfg.EventsPerLogMin == 0 {
		cfg.EventsPerLogMin = 1
	}
	if cfg.KeyPeriod == 0 {
		cfg.KeyPeriod = def.KeyPeriod
	}
	if cfg.KeyRotate == 0 {
		cfg.KeyRotate = cfg.KeyPeriod * 2 / 3
	}
	if cfg.KeyAnchor.IsZero() {
		cfg.KeyAnchor = cfg.Start.Add(-cfg.KeyRotate/2 + time.Hour + 2*time.Minute + 3*time.Second)
	}
	cfg.KeyAnchor = cfg.KeyAnchor.UTC()
	if cfg.Backfill.Chains > 0 {
		if cfg.Backfill.Digests == 0 {
			cfg.Backfill.Digests = 2
		}
		if cfg.Backfill.LogsPerDigest == 0 {
			cfg.Backfill.LogsPerDigest = 2
		}
		if cfg.Backfill.Delay == 0 {
			cfg.Backfill.Delay = 3 * time.Hour
		}
	}
	for i := range cfg.Stops {
		cfg.Stops[i].From = cfg.Stops[i].From.UTC()
		cfg.Stops[i].To = cfg.Stops[i].To.UTC()
	}
	return cfg, check(cfg)
}

func check(cfg Config) error {
	if strings.Contains(cfg.Bucket, "/") {
		return fmt.Errorf("bucket %q contains a slash", cfg.Bucket)
	}
	if strings.HasPrefix(cfg.Prefix, "/") || strings.HasSuffix(cfg.Prefix, "/") {
		return fmt.Errorf("prefix %q must not start or end with a slash", cfg.Prefix)
	}
	if cfg.OrgID != "" && !digest.IsOrgID(cfg.OrgID) {
		return fmt.Errorf("org ID %q is not o- and 10 to 32 lower-case letters or digits", cfg.OrgID)
	}
	seen := map[string]bool{}
	for _, a := range cfg.Accounts {
		if !digest.IsAccountID(a) {
			return fmt.Errorf("account %q is not a 12-digit account ID", a)
		}
		if seen[a] {
			return fmt.Errorf("account %s given twice", a)
		}
		seen[a] = true
	}
	for _, r := range append([]string{cfg.HomeRegion}, cfg.Regions...) {
		if !digest.IsRegion(r) {
			return fmt.Errorf("%q is not a region name", r)
		}
	}
	for i, r := range cfg.Regions {
		if slices.Contains(cfg.Regions[:i], r) {
			return fmt.Errorf("region %s given twice", r)
		}
	}
	if strings.Contains(cfg.TrailName, "/") {
		return fmt.Errorf("trail name %q contains a slash", cfg.TrailName)
	}
	if !cfg.Start.Equal(cfg.Start.Truncate(time.Second)) {
		return fmt.Errorf("start %s is not a whole second", cfg.Start.Format(time.RFC3339Nano))
	}
	if cfg.Hours < 0 {
		return fmt.Errorf("hours %d is negative", cfg.Hours)
	}
	if cfg.ChainStagger < 0 || cfg.ChainStagger%time.Second != 0 {
		return fmt.Errorf("chain stagger %s must be a non-negative whole number of seconds", cfg.ChainStagger)
	}
	if cfg.LogsPerHourMin < 0 || cfg.LogsPerHourMax < cfg.LogsPerHourMin {
		return fmt.Errorf("logs per hour %d to %d is not a range", cfg.LogsPerHourMin, cfg.LogsPerHourMax)
	}
	if cfg.EventsPerLogMin < 1 || cfg.EventsPerLogMax < cfg.EventsPerLogMin {
		return fmt.Errorf("events per log %d to %d is not a range starting at 1 or more", cfg.EventsPerLogMin, cfg.EventsPerLogMax)
	}
	if cfg.LogSize < 0 {
		return fmt.Errorf("log size %d is negative", cfg.LogSize)
	}
	if cfg.KeyPeriod <= 0 || cfg.KeyRotate <= 0 || cfg.KeyRotate > cfg.KeyPeriod {
		return fmt.Errorf("key rotation every %s with keys valid %s: need 0 < rotation <= period", cfg.KeyRotate, cfg.KeyPeriod)
	}
	if cfg.KeyPeriod%time.Second != 0 || cfg.KeyRotate%time.Second != 0 || !cfg.KeyAnchor.Equal(cfg.KeyAnchor.Truncate(time.Second)) {
		return fmt.Errorf("key period, rotation and anchor must be whole seconds (keys are listed with epoch seconds)")
	}
	end := cfg.Start.Add(time.Duration(cfg.Hours)*time.Hour + time.Duration(len(cfg.Accounts)*len(cfg.Regions))*cfg.ChainStagger)
	prev := cfg.Start
	for i, s := range cfg.Stops {
		if !s.From.Equal(s.From.Truncate(time.Second)) || !s.To.Equal(s.To.Truncate(time.Second)) {
			return fmt.Errorf("stop %d: times must be whole seconds", i)
		}
		if !s.To.After(s.From) {
			return fmt.Errorf("stop %d: end %s is not after start %s", i, s.To.Format(time.RFC3339), s.From.Format(time.RFC3339))
		}
		if !s.From.After(prev) {
			return fmt.Errorf("stop %d: start %s is not after the trail's start or the previous stop's end", i, s.From.Format(time.RFC3339))
		}
		if s.From.After(end) {
			return fmt.Errorf("stop %d: start %s is after the trail's end %s", i, s.From.Format(time.RFC3339), end.Format(time.RFC3339))
		}
		prev = s.To
	}
	if b := cfg.Backfill; b.Chains < 0 || b.Digests < 0 || b.LogsPerDigest < 0 || b.Delay < 0 ||
		b.Chains > len(cfg.Accounts)*len(cfg.Regions) {
		return fmt.Errorf("backfill %+v: counts must be non-negative and at most the number of chains", b)
	}
	if cfg.Backfill.Delay%time.Second != 0 {
		return fmt.Errorf("backfill delay %s is not a whole number of seconds", cfg.Backfill.Delay)
	}
	return nil
}
