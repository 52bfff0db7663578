package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailcheck/trailcheck/pkg/evidence"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

// NewCmdFetch returns the fetch command: download a trail's digests and log
// files for a period into an evidence directory, verifying as it goes.
func NewCmdFetch(ios *IOStreams) *cobra.Command {
	opts := &ValidateOptions{IO: ios}
	var out, startText, endText string
	cmd := &cobra.Command{
		Use:   "fetch (--trail-arn ARN | --s3-bucket BUCKET) --start-time TIME --out DIR [flags]",
		Short: "Download a trail into an evidence directory, verifying it",
		Long: `Fetch downloads a trail's digest and log files for a period from S3 into DIR,
laid out as 'aws s3 sync' leaves a bucket, and verifies every object as it
arrives (the same checks as validate). It writes DIR/` + evidence.ManifestName + `:
the bucket, prefix, trail and period, every digest's signature (S3 metadata,
which a copy loses) and the public keys used, so that

  trailcheck validate --dir DIR

verifies the evidence again offline, with no further flags, and reports what
the online run reported.

An interrupted fetch resumes: log files already in DIR are kept (and
verified again from disk); digests are always read again.

Exit status is validate's: 0 verified, 1 findings, 2 usage, 3 could not
complete, 130 interrupted.`,
		Example: `  $ trailcheck fetch --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/main \
      --start-time 2024-01-01 --end-time 2024-02-01 --out evidence-2024-01
  $ trailcheck validate --dir evidence-2024-01 --report evidence-2024-01.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError("for example --out ./evidence", "--out DIR is required")
			}
			if err := opts.parse(cmd, startText, endText, "never", nil, time.Now()); err != nil {
				return err
			}
			return runFetch(cmd.Context(), opts, out)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&out, "out", "", "the evidence `DIR` to write (created if needed)")
	f.StringVar(&opts.TrailARN, "trail-arn", "", "the trail `ARN` (CloudTrail DescribeTrails finds its bucket and prefix)")
	f.StringVar(&opts.Bucket, "s3-bucket", "", "the trail's `BUCKET` (with no --trail-arn: no CloudTrail call but ListPublicKeys)")
	f.StringVar(&opts.Prefix, "s3-prefix", "", "the key `PREFIX` before AWSLogs/ (default: the trail's, or found by looking)")
	f.StringVar(&opts.Profile, "profile", "", "use this AWS shared config `PROFILE`")
	f.StringVar(&opts.RoleARN, "role-arn", "", "assume the IAM role `ARN` to read the bucket")
	f.StringVar(&opts.EndpointURL, "endpoint-url", "", "S3-compatible endpoint `URL`")
	f.BoolVar(&opts.PathStyle, "path-style", false, "path-style S3 requests")
	f.StringVar(&startText, "start-time", "", "fetch log files delivered at or after `TIME` (required)")
	f.StringVar(&endText, "end-time", "", "fetch log files delivered at or before `TIME` (default now)")
	f.StringArrayVar(&opts.Accounts, "account-id", nil, "only this `ACCOUNT` (repeatable)")
	f.StringArrayVar(&opts.Regions, "region", nil, "only this `REGION` (repeatable)")
	f.StringArrayVar(&opts.Trails, "trail-name", nil, "only this `TRAIL` (repeatable)")
	f.StringArrayVar(&opts.PublicKeys, "public-keys", nil, "public keys `FILE` instead of ListPublicKeys (repeatable)")
	f.IntVar(&opts.Workers, "workers", 0, "read `N` objects at once (default 256)")
	f.StringVar(&opts.Output, "output", "text", "output `FORMAT`: text, json, aws, junit or ndjson")
	return cmd
}

func runFetch(ctx context.Context, opts *ValidateOptions, out string) error {
	if opts.Dir != "" {
		return usageError("", "fetch reads from S3: give --trail-arn or --s3-bucket")
	}
	src, err := openSource(ctx, opts)
	if err != nil {
		return err
	}
	vopts := validate.Options{
		Start: opts.Start, End: opts.End, Accounts: opts.Accounts, Regions: opts.Regions, Trails: opts.Trails,
		Prefix: opts.Prefix, PrefixSet: opts.PrefixSet, Bucket: opts.Bucket, Workers: opts.Workers,
	}
	src.apply(&vopts)
	var progress *hashProgress
	if opts.IO.ErrIsTTY {
		progress = newHashProgress(opts.IO.ErrOut)
		vopts.Progress = progress
	}
	man := evidence.Manifest{TrailARN: src.trailARN, Prefix: vopts.Prefix, PrefixSet: vopts.PrefixSet, Tool: "trailcheck " + versionString()}
	rep, err := evidence.Fetch(ctx, src.st, out, vopts, man)
	if progress != nil {
		progress.finish()
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err != nil {
		return awsRunError(err)
	}
	rep.ApplyPolicy(opts.FailOn)
	if err := writeReport(opts, rep, src.trailARN); err != nil {
		return runError("", "writing the report: %v", err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "trailcheck: evidence written to %s; verify it offline with: trailcheck validate --dir %s\n", out, out)
	if rep.Verdict == report.Invalid {
		return errInvalid
	}
	return nil
}
