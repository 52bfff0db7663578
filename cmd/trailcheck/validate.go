package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailcheck/trailcheck/pkg/auditreport"
	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/awssource"
	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/evidence"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/metrics"
	"github.com/trailcheck/trailcheck/pkg/render"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/state"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

// ValidateOptions is the validate command's parsed command line.
type ValidateOptions struct {
	IO *IOStreams

	// Source: a local copy of the bucket (or an evidence directory written
	// by 'trailcheck fetch')…
	Dir string
	// …or the trail in S3: by ARN (DescribeTrails finds bucket and prefix)
	// or by --s3-bucket alone.
	TrailARN    string
	Profile     string
	RoleARN     string
	EndpointURL string
	PathStyle   bool

	PublicKeys []string // FILE or REGION=FILE
	Signatures string   // FILE, or "" for none

	Start, End time.Time // UTC; End is now when --end-time is not given
	// StartSet and EndSet say the times were given (a state file or an
	// evidence manifest may supply them otherwise).
	StartSet, EndSet bool

	Accounts, Regions, Trails []string
	Bucket                    string
	Prefix                    string
	PrefixSet                 bool

	Workers   int
	FailOnGap bool
	FailOn    map[report.Kind]bool // resolved from --fail-on and --fail-on-gap

	// Unattended runs and evidence.
	StatePath   string
	MetricsPath string
	ReportPath  string
	Quiet       bool

	Output  string // text, json or aws
	Verbose bool
	Color   bool // resolved from --color and the environment

	// validate runs the validation; nil means validate.Run (tests replace it).
	validate validateFunc
}

type validateFunc func(context.Context, store.Store, validate.Options) (*report.Report, error)

// NewCmdValidate returns the validate command. runF, when not nil, is
// called with the parsed options instead of runValidate (tests).
func NewCmdValidate(ios *IOStreams, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: ios}
	var startText, endText, colorMode string
	var failOn []string

	cmd := &cobra.Command{
		Use:   "validate (--trail-arn ARN | --s3-bucket BUCKET | --dir DIR) --start-time TIME [flags]",
		Short: "Verify CloudTrail digest and log files",
		Long: `Validate verifies the CloudTrail log files delivered in a period: the
signature of every digest file, the links between consecutive digests, the
SHA-256 of every log file a digest lists, and that no digest is missing (also
the newest ones), no log file is missing and none was added.

It validates every trail, region and account found in the bucket, unless
--account-id, --region or --trail-name narrow it.

The trail is read from S3 (--trail-arn, or --s3-bucket with no CloudTrail
call), with the AWS CLI's flag names and the default credential chain
(--profile, --role-arn, AWS_ENDPOINT_URL_S3 or --endpoint-url), or from a
local copy (--dir). A copy made by 'trailcheck fetch' carries its keys and
signatures. One made by 'aws s3 sync' has no S3 metadata, so it needs the
public keys (trailcheck keys fetch, or aws cloudtrail list-public-keys saved
per region) and the digests' signatures (aws s3api head-object, saved with
--signatures); without them only chains whose newest digest is signed can
be verified.

Unattended runs: --state FILE checks only what is new since the last run
and proves it links to what was verified; --metrics-file writes Prometheus
metrics; --quiet prints nothing when everything verifies. --fail-on chooses
the finding kinds that fail the run; --report FILE.html writes an evidence
report.

Times are UTC: RFC 3339 (2015-01-08T05:21:42Z; another offset is converted to
UTC) or a date (2015-01-08, meaning 00:00:00Z).

Output (--output): text for people, json for programs (one document on
stdout), aws for exactly what 'aws cloudtrail validate-logs' prints.

Exit status:
  0    everything in the requested range was verified
  1    integrity findings: a digest or log file invalid, missing or injected,
       a broken chain, no digests at all (or a gap, with --fail-on-gap)
  2    usage error: a bad flag or time, no trail to validate, no --start-time
  3    the run could not complete: access denied (the error names the
       permission), unreadable directory, bad key, signatures or state file
  130  interrupted`,
		Example: `  # The trail in S3, every region and account, as aws cloudtrail validate-logs would
  $ trailcheck validate --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/main \
      --start-time 2024-01-01 --end-time 2024-02-01

  # Hourly from cron: only what is new, metrics for alerting
  $ trailcheck validate --trail-arn ARN --start-time 2024-01-01 --state /var/lib/trailcheck/state.json \
      --metrics-file /var/lib/node_exporter/textfile/trailcheck.prom --quiet

  # A local copy of the bucket, with keys and signatures saved beforehand
  $ aws s3 sync s3://my-trail-bucket ./bucket
  $ aws cloudtrail list-public-keys --region us-east-1 > us-east-1-keys.json
  $ trailcheck validate --dir ./bucket --public-keys us-east-1=us-east-1-keys.json \
      --signatures signatures.json --start-time 2024-01-01

  # Only one account and region, in the AWS CLI's format
  $ trailcheck validate --dir ./bucket --public-keys keys.json --signatures signatures.json \
      --account-id 111122223333 --region us-east-1 \
      --start-time 2024-01-01T00:00:00Z --end-time 2024-01-02T00:00:00Z --output aws --verbose

  # A JSON report for a pipeline
  $ trailcheck validate --dir ./bucket --public-keys keys.json --signatures signatures.json \
      --start-time 2024-01-01 --output json > report.json`,
		Args: noArgs("validate"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(cmd, startText, endText, colorMode, failOn, time.Now()); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runValidate(cmd.Context(), opts)
		},
	}
	cmd.SetFlagErrorFunc(flagError)

	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&opts.Dir, "dir", "", "validate a local copy of the bucket: `DIR` is the bucket's root folder\n(or an evidence directory written by 'trailcheck fetch')")
	f.StringVar(&opts.TrailARN, "trail-arn", "", "validate the trail `ARN` in S3 (CloudTrail DescribeTrails finds its bucket and prefix)")
	f.StringVar(&opts.Profile, "profile", "", "use this AWS shared config `PROFILE`")
	f.StringVar(&opts.RoleARN, "role-arn", "", "assume the IAM role `ARN` to read the bucket (cross-account)")
	f.StringVar(&opts.EndpointURL, "endpoint-url", "", "S3-compatible endpoint `URL` (MinIO, LocalStack); AWS_ENDPOINT_URL_S3 works too")
	f.BoolVar(&opts.PathStyle, "path-style", false, "path-style S3 requests (on by itself for --endpoint-url host names)")

	f.StringArrayVar(&opts.PublicKeys, "public-keys", nil, "public keys: a `FILE` mapping regions to 'aws cloudtrail list-public-keys' output,\nor REGION=FILE for one region's output (repeatable)")
	f.StringVar(&opts.Signatures, "signatures", "", "digest signatures for a local copy: a JSON `FILE` mapping digest keys to\nsignatures or 'aws s3api head-object' output")
	f.StringVar(&startText, "start-time", "", "validate log files delivered at or after `TIME` (required)")
	f.StringVar(&endText, "end-time", "", "validate log files delivered at or before `TIME` (default now)")
	// Lists are split by parse rather than by pflag's StringSlice, which
	// turns --account-id "" into no filter at all.
	f.StringArrayVar(&opts.Accounts, "account-id", nil, "only this `ACCOUNT` (repeatable, or comma-separated)")
	f.StringArrayVar(&opts.Regions, "region", nil, "only this `REGION` (repeatable, or comma-separated)")
	f.StringArrayVar(&opts.Trails, "trail-name", nil, "only this `TRAIL` (repeatable, or comma-separated)")
	f.StringVar(&opts.Bucket, "s3-bucket", "", "the `BUCKET` name the digests must carry (default: the name in the digests)")
	f.StringVar(&opts.Prefix, "s3-prefix", "", "the key `PREFIX` before AWSLogs/ (default: found by looking)")
	f.IntVar(&opts.Workers, "workers", 0, "read `N` objects at once (default: the number of CPUs for --dir)")
	f.BoolVar(&opts.FailOnGap, "fail-on-gap", false, "fail when a chain restarts (logging or validation was stopped)")
	f.StringArrayVar(&failOn, "fail-on", nil, "the finding `KINDS` that fail the run: kind names, default, all, -KIND\n(default: every kind but chain_gap and key_region_unchecked)")
	f.StringVar(&opts.Output, "output", "text", "output `FORMAT`: text, json, aws, junit or ndjson")
	f.BoolVar(&opts.Verbose, "verbose", false, "also list every valid object (text and aws output)")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stdout when everything verifies (for cron)")
	f.StringVar(&opts.StatePath, "state", "", "incremental runs: record the newest verified digests in `FILE` and next time\nvalidate only what is newer, proving it links to them")
	f.StringVar(&opts.MetricsPath, "metrics-file", "", "write Prometheus metrics to `FILE` (node_exporter textfile collector)")
	f.StringVar(&opts.ReportPath, "report", "", "write an evidence report to `FILE` (.html or .md)")
	f.StringVar(&colorMode, "color", "auto", "color the text output: `WHEN` is auto, always or never")
	return cmd
}

// parse checks the flags and fills the options that need parsing. Every
// error is a usage error.
func (o *ValidateOptions) parse(cmd *cobra.Command, startText, endText, colorMode string, failOn []string, now time.Time) error {
	const help = "run 'trailcheck validate --help' for usage"
	if o.Dir == "" && o.TrailARN == "" && o.Bucket == "" {
		return usageError("or copy the bucket with 'aws s3 sync s3://BUCKET DIR' and give --dir DIR",
			"no trail to validate: give --trail-arn ARN or --s3-bucket BUCKET, or --dir DIR, the root of a local copy of the bucket")
	}
	if o.Dir != "" && (o.TrailARN != "" || o.Profile != "" || o.RoleARN != "" || o.EndpointURL != "") {
		return usageError(help, "--dir reads a local copy: it does not take --trail-arn, --profile, --role-arn or --endpoint-url")
	}
	if o.TrailARN != "" {
		if _, _, _, ok := awsapi.ParseTrailARN(o.TrailARN); !ok {
			return usageError("a trail ARN looks like arn:aws:cloudtrail:us-east-1:111122223333:trail/my-trail", "--trail-arn %q is not a trail ARN", o.TrailARN)
		}
	}
	hasManifest := false
	if o.Dir != "" {
		_, err := os.Stat(filepath.Join(o.Dir, evidence.ManifestName))
		hasManifest = err == nil
	}
	if o.Dir != "" && len(o.PublicKeys) == 0 && !hasManifest {
		return usageError("save them with 'aws cloudtrail list-public-keys --region REGION > keys.json' and give --public-keys REGION=keys.json",
			"--dir needs --public-keys: a local copy cannot ask CloudTrail for its public keys")
	}
	for _, spec := range o.PublicKeys {
		if _, file := splitKeySpec(spec); file == "" {
			return usageError(help, "--public-keys %q: no file name", spec)
		}
	}
	if startText == "" && o.StatePath == "" && !hasManifest {
		return usageError("for example --start-time 2024-01-01 or --start-time 2024-01-01T00:00:00Z", "--start-time is required")
	}
	var err error
	if startText != "" {
		if o.Start, err = parseTime("--start-time", startText); err != nil {
			return err
		}
		o.StartSet = true
	}
	o.End = now.UTC().Truncate(time.Second)
	endName := "now (" + o.End.Format(render.TimeLayout) + ")"
	if endText != "" {
		if o.End, err = parseTime("--end-time", endText); err != nil {
			return err
		}
		o.EndSet = true
		endName = "--end-time " + o.End.Format(render.TimeLayout)
	}
	if o.StartSet && o.Start.After(o.End) {
		return usageError("", "--start-time %s is after %s", o.Start.Format(render.TimeLayout), endName)
	}
	filters := []struct {
		flag  string
		list  *[]string
		valid func(string) bool
		what  string
	}{
		{"--account-id", &o.Accounts, digest.IsAccountID, "a 12-digit AWS account ID"},
		{"--region", &o.Regions, digest.IsRegion, "an AWS region name (like us-east-1)"},
		{"--trail-name", &o.Trails, func(s string) bool { return !strings.ContainsAny(s, "/ ") }, "a trail name"},
	}
	for _, fl := range filters {
		var out []string
		for _, v := range *fl.list {
			for _, item := range strings.Split(v, ",") {
				if item == "" {
					return usageError("", "%s %q: empty name", fl.flag, v)
				}
				if !fl.valid(item) {
					hint := ""
					if strings.HasPrefix(item, "arn:") {
						hint = fl.flag + " takes a name, not an ARN"
					}
					return usageError(hint, "%s %q is not %s", fl.flag, item, fl.what)
				}
				out = append(out, item)
			}
		}
		*fl.list = out
	}
	o.PrefixSet = cmd.Flags().Changed("s3-prefix")
	o.Prefix = strings.Trim(o.Prefix, "/")
	if o.Workers < 0 {
		return usageError("", "--workers %d: must be 0 (automatic) or more", o.Workers)
	}
	switch o.Output {
	case "text", "json", "aws", "junit", "ndjson":
	default:
		return usageError("", "--output %q: must be text, json, aws, junit or ndjson", o.Output)
	}
	var items []string
	for _, v := range failOn {
		items = append(items, strings.Split(v, ",")...)
	}
	if len(items) == 0 {
		items = []string{"default"}
	}
	if o.FailOn, err = report.ParseFailOn(items); err != nil {
		return usageError("kinds: "+kindList(), "--fail-on: %v", err)
	}
	if o.FailOnGap {
		o.FailOn[report.ChainGap] = true
	}
	if o.ReportPath != "" {
		switch strings.ToLower(filepath.Ext(o.ReportPath)) {
		case ".html", ".htm", ".md", ".markdown":
		default:
			return usageError("", "--report %q: the file name must end in .html or .md", o.ReportPath)
		}
	}
	switch colorMode {
	case "auto", "always", "never":
	default:
		return usageError("", "--color %q: must be auto, always or never", colorMode)
	}
	o.Color = o.IO.colorEnabled(colorMode)
	return nil
}

func kindList() string {
	var names []string
	for _, k := range report.Kinds {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// timeLayouts are the accepted time forms, tried in order. A time without
// an offset is UTC, as the AWS CLI takes it.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseTime parses a time flag into UTC.
func parseTime(flag, s string) (time.Time, error) {
	norm := strings.ToUpper(strings.TrimSpace(s))
	if len(norm) > 10 && norm[10] == ' ' { // RFC 3339 allows a space for the T
		norm = norm[:10] + "T" + norm[11:]
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, norm); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageError("", "%s %q: not a time: use RFC 3339 (2015-01-08T05:21:42Z) or a date (2015-01-08)", flag, s)
}

// splitKeySpec splits REGION=FILE. A FILE alone (even one with "=" in its
// name) gives an empty region.
func splitKeySpec(spec string) (region, file string) {
	if r, f, ok := strings.Cut(spec, "="); ok && digest.IsRegion(r) {
		return r, f
	}
	return "", spec
}

// source is where a run reads the trail from, and what follows from it.
type source struct {
	st store.Store
	// id names the source in a state file: the trail ARN, s3://bucket/prefix,
	// or the directory.
	id string
	// trailARN names the trail in the AWS CLI's output, when known.
	trailARN string
	// apply sets the validate options that follow from the source.
	apply func(*validate.Options)
	// hasSignatures says digest signatures are available (S3 metadata, a
	// manifest, or --signatures).
	hasSignatures bool
	// defaultStart and defaultEnd come from an evidence manifest.
	defaultStart, defaultEnd time.Time
}

// openSource opens the local copy or the S3 bucket opts name.
func openSource(ctx context.Context, opts *ValidateOptions) (*source, error) {
	if opts.Dir != "" {
		return openLocal(opts)
	}
	src, err := awssource.Open(ctx, awssource.Config{
		TrailARN: opts.TrailARN, Bucket: opts.Bucket, Prefix: opts.Prefix, PrefixSet: opts.PrefixSet,
		Profile: opts.Profile, RoleARN: opts.RoleARN, EndpointURL: opts.EndpointURL, PathStyle: opts.PathStyle,
		Warnf: func(format string, a ...any) {
			fmt.Fprintf(opts.IO.ErrOut, "trailcheck: warning: %s\n", fmt.Sprintf(format, a...))
		},
	})
	if err != nil {
		return nil, awsRunError(err)
	}
	var fileKeys *keys.Set
	if len(opts.PublicKeys) > 0 {
		if fileKeys, err = loadPublicKeys(opts.PublicKeys); err != nil {
			return nil, err
		}
	}
	out := &source{st: src.Store, hasSignatures: true}
	switch {
	case src.Trail != nil:
		out.id, out.trailARN = src.Trail.ARN, src.Trail.ARN
	default:
		out.id = "s3://" + src.Store.Bucket() + "/" + opts.Prefix
	}
	out.apply = func(v *validate.Options) {
		src.Apply(v)
		if fileKeys != nil {
			v.Keys = fileKeys // offline keys given: no ListPublicKeys
		}
	}
	return out, nil
}

// openLocal opens a local copy, with its evidence manifest if it has one.
func openLocal(opts *ValidateOptions) (*source, error) {
	local, err := store.NewLocal(opts.Dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, runError("", "--dir %s: %v", opts.Dir, err)
	}
	man, hasMan, err := evidence.Load(opts.Dir)
	if err != nil {
		return nil, runError("", "--dir %s: %v", opts.Dir, err)
	}
	set := keys.NewSet()
	sigs := map[string]store.Meta{}
	if hasMan {
		ms, err := man.KeySet(opts.Dir)
		if err != nil {
			return nil, runError("", "%v", err)
		}
		set.Add(ms.Keys()...)
		for k, v := range man.Signatures {
			sigs[k] = v
		}
	}
	if len(opts.PublicKeys) > 0 {
		fk, err := loadPublicKeys(opts.PublicKeys)
		if err != nil {
			return nil, err
		}
		set.Add(fk.Keys()...)
	}
	if opts.Signatures != "" {
		fs, err := store.LoadSignatures(opts.Signatures)
		if err != nil {
			return nil, runError("", "signatures: %v", err)
		}
		for k, v := range fs {
			sigs[k] = v
		}
	}
	var st store.Store = local
	if len(sigs) > 0 {
		st = store.WithMetadata(st, sigs)
	}
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		abs = opts.Dir
	}
	out := &source{st: st, id: "dir:" + abs, hasSignatures: len(sigs) > 0}
	if hasMan {
		out.trailARN = man.TrailARN
		out.defaultStart, out.defaultEnd = man.Start, man.End
	}
	out.apply = func(v *validate.Options) {
		v.Keys = set
		if hasMan {
			if v.Bucket == "" {
				v.Bucket = man.Bucket
			}
			if !v.PrefixSet && man.PrefixSet {
				v.Prefix, v.PrefixSet = man.Prefix, true
			}
			if _, _, name, ok := awsapi.ParseTrailARN(man.TrailARN); ok {
				v.TrailARN = man.TrailARN
				if len(v.Trails) == 0 {
					v.Trails = []string{name}
				}
			}
		}
	}
	return out, nil
}

// awsRunError turns an error from AWS into a run error with a hint.
func awsRunError(err error) error {
	switch {
	case errors.Is(err, store.ErrAccessDenied):
		return runError("the credentials in use lack the permission named above; see 'Permissions' in the README", "%v", err)
	case errors.Is(err, awsapi.ErrTrailNotFound):
		return runError("check the ARN, and that the credentials are for the trail's account", "%v", err)
	}
	return runError("", "%v", err)
}

func runValidate(ctx context.Context, opts *ValidateOptions) error {
	started := time.Now()
	src, err := openSource(ctx, opts)
	if err != nil {
		return opts.failed(err, started)
	}
	vopts := validate.Options{
		Start:     opts.Start,
		End:       opts.End,
		Accounts:  opts.Accounts,
		Regions:   opts.Regions,
		Trails:    opts.Trails,
		Prefix:    opts.Prefix,
		PrefixSet: opts.PrefixSet,
		Bucket:    opts.Bucket,
		Workers:   opts.Workers,
		FailOnGap: opts.FailOn[report.ChainGap],
		// Valid objects are listed only by the verbose text and aws
		// outputs; keeping them costs memory.
		KeepValid: opts.Verbose && (opts.Output == "text" || opts.Output == "aws"),
	}
	src.apply(&vopts)
	if !opts.StartSet && !src.defaultStart.IsZero() {
		vopts.Start = src.defaultStart
		if !opts.EndSet {
			vopts.End = src.defaultEnd
		}
	}

	// An incremental run starts from the state file's anchors.
	var st *state.Handle
	var prev *state.File
	if opts.StatePath != "" {
		if st, err = state.Open(opts.StatePath); err != nil {
			return opts.failed(runError("", "%v", err), started)
		}
		defer st.Close()
		f, ok, err := st.Load(src.id)
		if err != nil {
			return opts.failed(runError("move the state file aside to start over with --start-time", "%v", err), started)
		}
		if ok {
			prev = f
			vopts.Anchors = f.Chains
			// Later runs start where the last one stopped; --start-time
			// (needed for the first run, harmless in a cron line) is
			// not used again.
			if s, ok := f.Start(); ok {
				vopts.Start = s
			}
		} else if !opts.StartSet && src.defaultStart.IsZero() {
			return opts.failed(usageError("the first run with --state needs --start-time; later runs start where the last one stopped",
				"state file %s does not exist yet and no --start-time was given", opts.StatePath), started)
		}
	}
	if vopts.Start.After(vopts.End) {
		return opts.failed(usageError("", "start %s is after end %s", vopts.Start.Format(render.TimeLayout), vopts.End.Format(render.TimeLayout)), started)
	}

	var progress *hashProgress
	if opts.IO.ErrIsTTY && !opts.Quiet {
		progress = newHashProgress(opts.IO.ErrOut)
		vopts.Progress = progress
	}
	run := opts.validate
	if run == nil {
		run = validate.Run
	}
	rep, err := run(ctx, src.st, vopts)
	if progress != nil {
		progress.finish()
	}
	if ctx.Err() != nil {
		return opts.failed(errInterrupted, started)
	}
	if err != nil {
		if opts.Dir == "" {
			return opts.failed(awsRunError(err), started)
		}
		hint := ""
		if errors.Is(err, store.ErrAccessDenied) {
			hint = "check that you can read every file below " + opts.Dir
		}
		return opts.failed(runError(hint, "%v", err), started)
	}
	if rep == nil {
		return opts.failed(runError("", "the validator returned no report"), started)
	}
	rep.ApplyPolicy(opts.FailOn)

	if !(opts.Quiet && rep.Verdict == report.Valid) {
		if err := writeReport(opts, rep, src.trailARN); err != nil {
			return runError("", "writing the report: %v", err)
		}
	}
	if opts.Output != "aws" && !src.hasSignatures && hasKind(rep, report.DigestUnanchored) {
		// Not for --output aws: its stderr must be the AWS CLI's.
		fmt.Fprintln(opts.IO.ErrOut, "trailcheck: hint: a local copy has no S3 metadata: give the digests' signatures with --signatures FILE")
	}
	if opts.ReportPath != "" {
		info := auditreport.RunInfo{ToolVersion: versionString(), Command: commandLine(opts.IO.Args),
			Started: started.UTC(), Duration: time.Since(started)}
		if err := auditreport.WriteFile(opts.ReportPath, rep, info); err != nil {
			return runError("", "--report: %v", err)
		}
	}
	if opts.MetricsPath != "" {
		if err := metrics.WriteFile(opts.MetricsPath, rep, metrics.Run{Duration: time.Since(started), Completed: true, Finished: time.Now()}); err != nil {
			return runError("", "%v", err)
		}
	}
	if st != nil {
		if err := st.Save(state.Advance(prev, src.id, rep, time.Now())); err != nil {
			return runError("", "%v", err)
		}
	}
	if rep.Verdict == report.Invalid {
		return errInvalid
	}
	return nil
}

// failed records a run that could not complete in the metrics file (so
// that an alert fires) and returns err.
func (opts *ValidateOptions) failed(err error, started time.Time) error {
	if opts.MetricsPath != "" {
		if merr := metrics.WriteFile(opts.MetricsPath, nil, metrics.Run{Duration: time.Since(started), Finished: time.Now()}); merr != nil {
			fmt.Fprintf(opts.IO.ErrOut, "trailcheck: warning: %v\n", merr)
		}
	}
	return err
}

// commandLine renders the arguments as one shell-quoted command line.
func commandLine(args []string) string {
	parts := []string{"trailcheck"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func writeReport(opts *ValidateOptions, rep *report.Report, trailARN string) error {
	switch opts.Output {
	case "json":
		return render.JSON(opts.IO.Out, rep)
	case "ndjson":
		return render.NDJSON(opts.IO.Out, rep)
	case "junit":
		return render.JUnit(opts.IO.Out, rep)
	case "aws":
		return render.AWS(opts.IO.Out, opts.IO.ErrOut, rep, render.AWSOptions{Verbose: opts.Verbose, TrailARN: trailARN})
	}
	return render.Text(opts.IO.Out, rep, render.TextOptions{Color: opts.Color, Verbose: opts.Verbose})
}

func hasKind(r *report.Report, k report.Kind) bool {
	for _, f := range r.Findings {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// loadPublicKeys reads every --public-keys file into one key set.
func loadPublicKeys(specs []string) (*keys.Set, error) {
	const hint = "give 'aws cloudtrail list-public-keys' output as --public-keys REGION=FILE, or a JSON object mapping regions to it"
	set := keys.NewSet()
	for _, spec := range specs {
		region, file := splitKeySpec(spec)
		data, err := readCapped(file, keys.MaxFileSize)
		if err != nil {
			return nil, runError("", "public keys: %v", err)
		}
		ks, err := keys.Parse(file, data, region)
		if err != nil {
			return nil, runError(hint, "public keys: %v", err)
		}
		if len(ks) == 0 {
			return nil, runError(hint, "public keys: %s: no keys in the file", file)
		}
		set.Add(ks...)
	}
	return set, nil
}

// readCapped reads a file of at most limit bytes (more is reported by the
// parser, which knows what the file is).
func readCapped(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return data, nil
}
