// Command gentrail writes a generated CloudTrail trail (package trailgen) to
// a directory, as `aws s3 sync` would leave the bucket, plus the digests'
// signatures (S3 metadata a local copy lacks) and the public keys as a
// region map key file.
//
// The sample trail shipped in testdata/ is made with (make sample):
//
//	go run ./scripts/gentrail -sample -out testdata/sample
//
// An existing DIR is replaced if it is empty or an earlier output (it has
// a signatures.json); anything else needs -force.
//
// Every other flag overrides the base configuration (-sample's or
// trailgen.DefaultConfig's).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/trailgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gentrail:", err)
		os.Exit(1)
	}
}

type stopsFlag struct {
	stops []trailgen.Stop
	set   bool
}

func (s *stopsFlag) String() string { return "" }

func (s *stopsFlag) Set(v string) error {
	from, to, ok := strings.Cut(v, "/")
	if !ok {
		return errors.New("want FROM/TO (RFC 3339 times)")
	}
	f, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, to)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, trailgen.Stop{From: f, To: t})
	s.set = true
	return nil
}

// parseRange parses "N" or "MIN-MAX".
func parseRange(v string) (int, int, error) {
	lo, hi, ok := strings.Cut(v, "-")
	if !ok {
		hi = lo
	}
	a, err := strconv.Atoi(lo)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not N or MIN-MAX", v)
	}
	b, err := strconv.Atoi(hi)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not N or MIN-MAX", v)
	}
	return a, b, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func run(args []string) error {
	fs := flag.NewFlagSet("gentrail", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: gentrail [flags] -out DIR\n\nWrites a generated trail (test-only keys) to DIR, DIR/signatures.json and DIR/keys.json.\n\n")
		fs.PrintDefaults()
	}
	var (
		out      = fs.String("out", "", "directory to write the bucket copy to (required)")
		sigPath  = fs.String("signatures", "", "signatures file (default DIR/signatures.json; \"-\" for none)")
		keysPath = fs.String("keys", "", "region map key file (default DIR/keys.json; \"-\" for none)")
		force    = fs.Bool("force", false, "remove DIR first even if it is not an earlier gentrail output")
		sample   = fs.Bool("sample", false, "start from the sample trail (trailgen.SampleConfig) instead of trailgen.DefaultConfig")

		seed         = fs.Uint64("seed", 0, "random seed")
		bucket       = fs.String("bucket", "", "bucket name")
		prefix       = fs.String("prefix", "", "key prefix before AWSLogs/")
		org          = fs.String("org", "", "organization ID (o-…): organization layout")
		accounts     = fs.String("accounts", "", "comma-separated 12-digit account IDs (the first owns the trail)")
		regions      = fs.String("regions", "", "comma-separated regions")
		home         = fs.String("home-region", "", "trail home region (default: first region)")
		trail        = fs.String("trail", "", "trail name")
		start        = fs.String("start", "", "first digest start time, RFC 3339 (whole seconds)")
		hours        = fs.Int("hours", 0, "trail length in hours (hourly digests per chain without stops)")
		stagger      = fs.Duration("stagger", 0, "shift each chain's digest times by this much more than the previous chain's")
		logs         = fs.String("logs", "", "log files per hour: N or MIN-MAX (MIN 0 gives empty hours)")
		events       = fs.String("events", "", "records per log file: N or MIN-MAX")
		logSize      = fs.Int("log-size", -1, "approximate decompressed bytes per log file (0: from the record count)")
		keyPeriod    = fs.Duration("key-period", 0, "validity of each signing key (default 720h)")
		keyRotate    = fs.Duration("key-rotate", 0, "time between key windows (default 2/3 of -key-period)")
		keyAnchor    = fs.String("key-anchor", "", "RFC 3339 start of one key window")
		backfill     = fs.Int("backfill", -1, "number of chains that get a backfill chain")
		backfillN    = fs.Int("backfill-digests", 0, "digests per backfill chain")
		backfillLogs = fs.Int("backfill-logs", 0, "late log files per backfill digest")
		stopAll      = fs.Bool("stop-events-all-chains", false, "record StopLogging/StartLogging in every chain, not only the owner's home region")
		stops        stopsFlag
	)
	fs.Var(&stops, "stop", "logging stop FROM/TO (RFC 3339); repeat for several; replaces the base configuration's stops")
	noStops := fs.Bool("no-stops", false, "remove the base configuration's stops")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-out is required and no arguments are taken")
	}

	cfg := trailgen.DefaultConfig()
	if *sample {
		cfg = trailgen.SampleConfig()
	}
	if *seed != 0 {
		cfg.Seed = *seed
	}
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setStr(&cfg.Bucket, *bucket)
	setStr(&cfg.Prefix, *prefix)
	setStr(&cfg.OrgID, *org)
	setStr(&cfg.TrailName, *trail)
	if *accounts != "" {
		cfg.Accounts = splitList(*accounts)
	}
	if *regions != "" {
		cfg.Regions = splitList(*regions)
		if *home == "" {
			cfg.HomeRegion = cfg.Regions[0]
		}
	}
	setStr(&cfg.HomeRegion, *home)
	if *start != "" {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return fmt.Errorf("-start: %v", err)
		}
		cfg.Start = t
	}
	if *hours != 0 {
		cfg.Hours = *hours
	}
	if *stagger != 0 {
		cfg.ChainStagger = *stagger
	}
	var err error
	if *logs != "" {
		if cfg.LogsPerHourMin, cfg.LogsPerHourMax, err = parseRange(*logs); err != nil {
			return fmt.Errorf("-logs: %v", err)
		}
	}
	if *events != "" {
		if cfg.EventsPerLogMin, cfg.EventsPerLogMax, err = parseRange(*events); err != nil {
			return fmt.Errorf("-events: %v", err)
		}
	}
	if *logSize >= 0 {
		cfg.LogSize = *logSize
	}
	if *keyPeriod != 0 {
		cfg.KeyPeriod = *keyPeriod
		if *keyRotate == 0 {
			cfg.KeyRotate = 0 // derived from the period
		}
	}
	if *keyRotate != 0 {
		cfg.KeyRotate = *keyRotate
	}
	if *keyAnchor != "" {
		t, err := time.Parse(time.RFC3339, *keyAnchor)
		if err != nil {
			return fmt.Errorf("-key-anchor: %v", err)
		}
		cfg.KeyAnchor = t
	}
	if *noStops {
		cfg.Stops = nil
	}
	if stops.set {
		cfg.Stops = stops.stops
	}
	if *stopAll {
		cfg.StopEventsAllChains = true
	}
	if *backfill >= 0 {
		cfg.Backfill.Chains = *backfill
	}
	if *backfillN != 0 {
		cfg.Backfill.Digests = *backfillN
	}
	if *backfillLogs != 0 {
		cfg.Backfill.LogsPerDigest = *backfillLogs
	}

	if err := cfg.Check(); err != nil {
		return err
	}
	if err := prepare(*out, *force); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	tr, err := trailgen.GenerateDir(cfg, *out)
	if err != nil {
		return err
	}
	sidecar := func(flagValue, name string) string {
		switch flagValue {
		case "-":
			return ""
		case "":
			return filepath.Join(*out, name)
		}
		return flagValue
	}
	sp, kp := sidecar(*sigPath, "signatures.json"), sidecar(*keysPath, "keys.json")
	if err := tr.WriteSidecars(sp, kp); err != nil {
		return err
	}
	digests := 0
	for _, c := range tr.Chains {
		digests += len(c.Digests)
	}
	fmt.Printf("wrote %d objects (%d digests in %d chains, %d log files, %d bytes) to %s\n",
		tr.Objects, digests, len(tr.Chains), tr.LogFiles, tr.Bytes, *out)
	fmt.Printf("range %s to %s; %d public keys\n", tr.Start.Format(time.RFC3339), tr.End.Format(time.RFC3339), len(tr.Keys))
	if sp != "" {
		fmt.Printf("signatures: %s\n", sp)
	}
	if kp != "" {
		fmt.Printf("keys: %s\n", kp)
	}
	return nil
}

// prepare empties dir for a new trail. A directory that is empty or holds an
// earlier output (a signatures.json at its top) is replaced; anything else
// only with force.
func prepare(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "signatures.json")); err != nil && !force {
		return fmt.Errorf("%s is not empty and not an earlier gentrail output (use -force to replace it)", dir)
	}
	return os.RemoveAll(dir)
}
