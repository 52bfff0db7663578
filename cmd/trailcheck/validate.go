package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/render"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

// ValidateOptions is the validate command's parsed command line.
type ValidateOptions struct {
	IO *IOStreams

	// Source: a local copy of the bucket.
	Dir string
	// The S3 source's options (trail ARN, profile, role, endpoint) go here
	// with the S3 store.

	PublicKeys []string // FILE or REGION=FILE
	Signatures string   // FILE, or "" for none

	Start, End time.Time // UTC; End is now when --end-time is not given

	Accounts, Regions, Trails []string
	Bucket                    string
	Prefix                    string
	PrefixSet                 bool

	Workers   int
	FailOnGap bool

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

	cmd := &cobra.Command{
		Use:   "validate --dir DIR --public-keys FILE --start-time TIME [flags]",
		Short: "Verify CloudTrail digest and log files",
		Long: `Validate verifies the CloudTrail log files delivered in a period: the
signature of every digest file, the links between consecutive digests, the
SHA-256 of every log file a digest lists, and that no digest is missing (also
the newest ones), no log file is missing and none was added.

It validates every trail, region and account found in the bucket, unless
--account-id, --region or --trail-name narrow it.

A local copy of the bucket (aws s3 sync) has no S3 metadata, so it needs the
public keys (aws cloudtrail list-public-keys, saved per region) and the
digests' signatures (aws s3api head-object, saved with --signatures).
Without signatures, only chains whose newest digest is signed can be verified.

Times are UTC: RFC 3339 (2015-01-08T05:21:42Z; another offset is converted to
UTC) or a date (2015-01-08, meaning 00:00:00Z).

Output (--output): text for people, json for programs (one document on
stdout), aws for exactly what 'aws cloudtrail validate-logs' prints.

Exit status:
  0    everything in the requested range was verified
  1    integrity findings: a digest or log file invalid, missing or injected,
       a broken chain, no digests at all (or a gap, with --fail-on-gap)
  2    usage error: a bad flag or time, a missing --dir or --start-time
  3    the run could not complete: unreadable directory, bad public key or
       signatures file, or a read error during validation
  130  interrupted`,
		Example: `  # A local copy of the bucket, with keys and signatures saved beforehand
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
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError("run 'trailcheck validate --help' for usage", "validate takes no arguments, got %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(cmd, startText, endText, colorMode, time.Now()); err != nil {
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
	f.StringVar(&opts.Dir, "dir", "", "validate a local copy of the bucket: `DIR` is the bucket's root folder")
	// The S3 source's flags (--trail-arn, --profile, --role-arn,
	// --endpoint-url) go here with the S3 store.

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
	f.StringVar(&opts.Output, "output", "text", "output `FORMAT`: text, json or aws")
	f.BoolVar(&opts.Verbose, "verbose", false, "also list every valid object (text and aws output)")
	f.StringVar(&colorMode, "color", "auto", "color the text output: `WHEN` is auto, always or never")
	return cmd
}

// parse checks the flags and fills the options that need parsing. Every
// error is a usage error.
func (o *ValidateOptions) parse(cmd *cobra.Command, startText, endText, colorMode string, now time.Time) error {
	const help = "run 'trailcheck validate --help' for usage"
	if o.Dir == "" {
		return usageError("copy the bucket with 'aws s3 sync s3://BUCKET DIR'", "no trail to validate: give --dir DIR, the root of a local copy of the bucket")
	}
	if len(o.PublicKeys) == 0 {
		return usageError("save them with 'aws cloudtrail list-public-keys --region REGION > keys.json' and give --public-keys REGION=keys.json",
			"--dir needs --public-keys: a local copy cannot ask CloudTrail for its public keys")
	}
	for _, spec := range o.PublicKeys {
		if _, file := splitKeySpec(spec); file == "" {
			return usageError(help, "--public-keys %q: no file name", spec)
		}
	}
	if startText == "" {
		return usageError("for example --start-time 2024-01-01 or --start-time 2024-01-01T00:00:00Z", "--start-time is required")
	}
	var err error
	if o.Start, err = parseTime("--start-time", startText); err != nil {
		return err
	}
	o.End = now.UTC().Truncate(time.Second)
	endName := "now (" + o.End.Format(render.TimeLayout) + ")"
	if endText != "" {
		if o.End, err = parseTime("--end-time", endText); err != nil {
			return err
		}
		endName = "--end-time " + o.End.Format(render.TimeLayout)
	}
	if o.Start.After(o.End) {
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
	case "text", "json", "aws":
	default:
		return usageError("", "--output %q: must be text, json or aws", o.Output)
	}
	switch colorMode {
	case "auto", "always", "never":
	default:
		return usageError("", "--color %q: must be auto, always or never", colorMode)
	}
	o.Color = o.IO.colorEnabled(colorMode)
	return nil
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

func runValidate(ctx context.Context, opts *ValidateOptions) error {
	ks, err := loadPublicKeys(opts.PublicKeys)
	if err != nil {
		return err
	}
	var sigs map[string]store.Meta
	if opts.Signatures != "" {
		if sigs, err = store.LoadSignatures(opts.Signatures); err != nil {
			return runError("", "signatures: %v", err)
		}
	}
	local, err := store.NewLocal(opts.Dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return runError("", "--dir %s: %v", opts.Dir, err)
	}
	var st store.Store = local
	if sigs != nil {
		st = store.WithMetadata(st, sigs)
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
		Keys:      ks,
		Workers:   opts.Workers,
		FailOnGap: opts.FailOnGap,
		// Valid objects are listed only by the verbose text and aws
		// outputs; keeping them costs memory.
		KeepValid: opts.Verbose && opts.Output != "json",
	}
	var progress *hashProgress
	if opts.IO.ErrIsTTY {
		progress = newHashProgress(opts.IO.ErrOut)
		vopts.Progress = progress
	}
	run := opts.validate
	if run == nil {
		run = validate.Run
	}
	rep, err := run(ctx, st, vopts)
	if progress != nil {
		progress.finish()
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err != nil {
		hint := ""
		if errors.Is(err, store.ErrAccessDenied) {
			hint = "check that you can read every file below " + opts.Dir
		}
		return runError(hint, "%v", err)
	}
	if rep == nil {
		return runError("", "the validator returned no report")
	}

	if err := writeReport(opts, rep); err != nil {
		return runError("", "writing the report: %v", err)
	}
	if opts.Output != "aws" && opts.Signatures == "" && hasKind(rep, report.DigestUnanchored) {
		// Not for --output aws: its stderr must be the AWS CLI's.
		fmt.Fprintln(opts.IO.ErrOut, "trailcheck: hint: a local copy has no S3 metadata: give the digests' signatures with --signatures FILE")
	}
	if rep.HasErrors() || rep.Verdict == report.Invalid {
		return errInvalid
	}
	return nil
}

func writeReport(opts *ValidateOptions, rep *report.Report) error {
	switch opts.Output {
	case "json":
		return render.JSON(opts.IO.Out, rep)
	case "aws":
		return render.AWS(opts.IO.Out, opts.IO.ErrOut, rep, render.AWSOptions{Verbose: opts.Verbose})
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
