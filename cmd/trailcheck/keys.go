package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/trailcheck/trailcheck/pkg/atomicfile"
	"github.com/trailcheck/trailcheck/pkg/awsapi"
	"github.com/trailcheck/trailcheck/pkg/awskeys"
	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/render"
)

// NewCmdKeys returns the keys command and its subcommands.
func NewCmdKeys(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys <command>",
		Short: "Save and check CloudTrail public keys for offline runs",
		Long: `A local copy of a bucket is validated with CloudTrail's public keys saved
beforehand ('trailcheck validate --dir DIR --public-keys FILE'). 'keys fetch'
saves them for the regions and period of the copy; 'keys check' checks key
files before a run relies on them.`,
		// Runnable, so that an unknown subcommand is a usage error rather
		// than cobra's help and exit 0.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			hint := "run 'trailcheck keys --help' for usage"
			if sugg := cmd.SuggestionsFor(args[0]); len(sugg) > 0 {
				hint = fmt.Sprintf("did you mean 'trailcheck keys %s'?", sugg[0])
			}
			return usageError(hint, "unknown command %q for %q", args[0], cmd.CommandPath())
		},
	}
	cmd.SuggestionsMinimumDistance = 2
	cmd.SetFlagErrorFunc(flagError)
	cmd.AddCommand(NewCmdKeysFetch(ios, nil))
	cmd.AddCommand(NewCmdKeysCheck(ios, nil))
	return cmd
}

// KeysFetchOptions is the keys fetch command's parsed command line.
type KeysFetchOptions struct {
	IO *IOStreams

	Regions    []string
	Start, End time.Time // UTC
	Out        string
	Profile    string
	RoleARN    string
}

// keysFetchDefaultPeriod is how far back keys fetch looks by default: a
// quarter, the period audits most often ask for.
const keysFetchDefaultPeriod = 90 * 24 * time.Hour

// NewCmdKeysFetch returns the keys fetch command. runF, when not nil, is
// called with the parsed options instead of runKeysFetch (tests).
func NewCmdKeysFetch(ios *IOStreams, runF func(context.Context, *KeysFetchOptions) error) *cobra.Command {
	opts := &KeysFetchOptions{IO: ios}
	var startText, endText string
	cmd := &cobra.Command{
		Use:   "fetch --region REGION [--region REGION…] --out FILE [flags]",
		Short: "Save the regions' CloudTrail public keys to a file",
		Long: `Fetch asks CloudTrail (ListPublicKeys, every page) for the public keys of
each region that were valid in a period, checks each one (an RSA key whose
MD5 is its fingerprint), and writes them to FILE as a region map:

  {"us-east-1": {"PublicKeyList": [...]}, "eu-west-1": {...}}

which 'trailcheck validate --dir DIR --public-keys FILE' reads. Each key is
labelled with its region, so a key of one region can never verify another's
digests. The file is replaced atomically.

The period is the last 90 days unless --start-time or --end-time says
otherwise; give the period of the logs to validate. Times are UTC: RFC 3339
or a date.

Credentials come from the AWS SDK's default chain, --profile or --role-arn;
the call needs cloudtrail:ListPublicKeys.

Exit status:
  0    the keys were saved
  2    usage error: no --region or --out, a bad region or time
  3    the keys could not be fetched or saved (access denied, no keys)`,
		Example: `  $ trailcheck keys fetch --region us-east-1 --region eu-west-1 \
      --start-time 2024-01-01 --end-time 2024-04-01 --out keys.json
  $ trailcheck validate --dir ./bucket --public-keys keys.json --start-time 2024-01-01`,
		Args: noArgs("keys fetch"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(startText, endText, time.Now()); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runKeysFetch(cmd.Context(), opts)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	f := cmd.Flags()
	f.SortFlags = false
	f.StringArrayVar(&opts.Regions, "region", nil, "fetch the keys of `REGION` (repeatable, or comma-separated; required)")
	f.StringVar(&startText, "start-time", "", "keys valid at or after `TIME` (default 90 days ago)")
	f.StringVar(&endText, "end-time", "", "keys valid at or before `TIME` (default now)")
	f.StringVar(&opts.Out, "out", "", "write the region map to `FILE` (required)")
	f.StringVar(&opts.Profile, "profile", "", "use this AWS shared config `PROFILE`")
	f.StringVar(&opts.RoleARN, "role-arn", "", "assume the IAM role `ARN` to call CloudTrail")
	return cmd
}

func (o *KeysFetchOptions) parse(startText, endText string, now time.Time) error {
	var regions []string
	seen := map[string]bool{}
	for _, v := range o.Regions {
		for _, r := range strings.Split(v, ",") {
			if r == "" {
				return usageError("", "--region %q: empty name", v)
			}
			if !digest.IsRegion(r) {
				return usageError("", "--region %q is not an AWS region name (like us-east-1)", r)
			}
			if !seen[r] {
				seen[r] = true
				regions = append(regions, r)
			}
		}
	}
	if len(regions) == 0 {
		return usageError("for example --region us-east-1 --region eu-west-1", "--region is required: the regions whose keys to fetch")
	}
	o.Regions = regions
	if o.Out == "" {
		return usageError("for example --out keys.json", "--out FILE is required")
	}
	o.End = now.UTC().Truncate(time.Second)
	endName := "now (" + o.End.Format(render.TimeLayout) + ")"
	var err error
	if endText != "" {
		if o.End, err = parseTime("--end-time", endText); err != nil {
			return err
		}
		endName = "--end-time " + o.End.Format(render.TimeLayout)
	}
	o.Start = o.End.Add(-keysFetchDefaultPeriod)
	if startText != "" {
		if o.Start, err = parseTime("--start-time", startText); err != nil {
			return err
		}
		if o.Start.After(o.End) {
			return usageError("", "--start-time %s is after %s", o.Start.Format(render.TimeLayout), endName)
		}
	}
	return nil
}

func runKeysFetch(ctx context.Context, opts *KeysFetchOptions) error {
	var warnMu sync.Mutex // the SDK warns from the regions' goroutines
	cfg, err := awsapi.LoadConfig(ctx, awsapi.Options{
		Profile: opts.Profile,
		RoleARN: opts.RoleARN,
		Warnf: func(format string, args ...any) {
			warnMu.Lock()
			defer warnMu.Unlock()
			fmt.Fprintf(opts.IO.ErrOut, "trailcheck: warning: "+format+"\n", args...)
		},
	})
	if err != nil {
		return runError("", "%v", err)
	}
	src := awskeys.New(cfg)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, region := range opts.Regions {
		g.Go(func() error { return src.Prefetch(gctx, region, opts.Start, opts.End) })
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return awsRunError(err)
	}

	ks := src.Keys()
	for _, err := range src.Rejected() {
		// Not saved: a digest signed with it will fail to verify offline,
		// and this says why.
		fmt.Fprintf(opts.IO.ErrOut, "trailcheck: warning: CloudTrail listed a bad public key, not saved: %v\n", err)
	}
	perRegion := map[string]int{}
	for _, k := range ks {
		perRegion[k.Region]++
	}
	period := opts.Start.Format(render.TimeLayout) + " to " + opts.End.Format(render.TimeLayout)
	var empty []string
	for _, r := range opts.Regions {
		if perRegion[r] == 0 {
			empty = append(empty, r)
		}
	}
	if len(ks) == 0 {
		return runError("check the regions and the period", "CloudTrail listed no public keys in %s for %s", strings.Join(empty, ", "), period)
	}
	for _, r := range empty {
		fmt.Fprintf(opts.IO.ErrOut, "trailcheck: warning: CloudTrail listed no public keys in %s for %s\n", r, period)
	}
	data, err := keys.RegionMap(ks)
	if err != nil {
		return runError("", "%v", err)
	}
	data = append(data, '\n')
	// What is saved must load as validate loads it.
	if _, err := keys.Parse(opts.Out, data, ""); err != nil {
		return runError("", "the key file made does not load: %v", err)
	}
	if err := atomicfile.WriteFile(opts.Out, 0o644, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return runError("", "--out %v", err)
	}
	count := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	fmt.Fprintf(opts.IO.ErrOut, "trailcheck: saved %s of %s to %s\n",
		count(len(ks), "public key"), count(len(opts.Regions)-len(empty), "region"), opts.Out)
	return nil
}

// withoutPath drops the path of an fs.PathError (the caller names the file).
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// KeysCheckOptions is the keys check command's parsed command line.
type KeysCheckOptions struct {
	IO    *IOStreams
	Specs []string // FILE or REGION=FILE
}

// NewCmdKeysCheck returns the keys check command. runF, when not nil, is
// called with the parsed options instead of runKeysCheck (tests).
func NewCmdKeysCheck(ios *IOStreams, runF func(context.Context, *KeysCheckOptions) error) *cobra.Command {
	opts := &KeysCheckOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "check FILE|REGION=FILE...",
		Short: "Check public key files and list their keys",
		Long: `Check loads key files as 'trailcheck validate --public-keys' does (a region
map, or one region's 'aws cloudtrail list-public-keys' output as FILE or
REGION=FILE) and prints a line per key: its region ("(unlabelled)" when the
file does not say), fingerprint, DER encoding (PKCS#1 or SPKI), validity
window and its length in days, and RSA modulus size.

Each key must be a DER RSA public key of at least 2048 bits whose MD5 is
the fingerprint listed with it, valid for a window that ends after it
starts. A bad key fails the check, naming its file and key.

A period between the windows of one region's keys (of one file, for keys
without a region) that no key covers is reported as a note on stderr:
digests signed then cannot be verified with these files. It does not fail
the check.

Exit status:
  0    every key is good (notes may have been printed)
  2    usage error: no file given
  3    a file could not be read, or holds a bad key or no keys`,
		Example: `  $ trailcheck keys check keys.json
  $ trailcheck keys check us-east-1=us-east-1-keys.json eu-west-1=eu-west-1-keys.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("for example 'trailcheck keys check keys.json' or 'trailcheck keys check us-east-1=keys.json'", "keys check needs a key FILE or REGION=FILE")
			}
			for _, a := range args {
				if _, file := splitKeySpec(a); file == "" {
					return usageError("run 'trailcheck keys check --help' for usage", "%q: no file name", a)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Specs = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runKeysCheck(cmd.Context(), opts)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

// checkedKey is a key and the group its windows are compared within.
type checkedKey struct {
	*keys.Key
	group string // the region, or the file for keys without one
}

func runKeysCheck(ctx context.Context, opts *KeysCheckOptions) error {
	var all []checkedKey
	seen := map[string]bool{} // region + fingerprint, as keys.Set dedups
	failed := false
	for _, spec := range opts.Specs {
		if ctx.Err() != nil {
			return errInterrupted
		}
		region, file := splitKeySpec(spec)
		ks, err := loadKeyFile(file, region)
		if err != nil {
			// Every file is checked; each bad one gets its line.
			fmt.Fprintf(opts.IO.ErrOut, "trailcheck: error: %v\n", err)
			failed = true
			continue
		}
		for _, k := range ks {
			if seen[k.Region+"/"+k.Fingerprint] {
				continue
			}
			seen[k.Region+"/"+k.Fingerprint] = true
			group := k.Region
			if group == "" {
				group = "file " + file
			}
			all = append(all, checkedKey{Key: k, group: group})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Region != b.Region {
			// Unlabelled keys last.
			return b.Region == "" || (a.Region != "" && a.Region < b.Region)
		}
		if a.group != b.group {
			return a.group < b.group
		}
		if !a.ValidFrom.Equal(b.ValidFrom) {
			return a.ValidFrom.Before(b.ValidFrom)
		}
		return a.Fingerprint < b.Fingerprint
	})
	if len(all) > 0 {
		if err := writeKeyTable(opts.IO, all); err != nil {
			return runError("", "writing the table: %v", err)
		}
	}
	for _, g := range coverageGaps(all) {
		fmt.Fprintf(opts.IO.ErrOut, "trailcheck: note: %s: no key is valid from %s to %s (%s days): digests signed then cannot be verified with these files\n",
			g.group, g.from.Format(render.TimeLayout), g.to.Format(render.TimeLayout), keyDays(g.to.Sub(g.from)))
	}
	if failed {
		return &exitError{code: exitFailed} // the errors are printed
	}
	return nil
}

// loadKeyFile reads and parses one key file; the error names the file and,
// for a bad key, the key.
func loadKeyFile(file, region string) ([]*keys.Key, error) {
	data, err := readCapped(file, keys.MaxFileSize)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %v", file, pe.Err)
		}
		return nil, err
	}
	ks, err := keys.Parse(file, data, region)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("%s: no keys in the file", file)
	}
	return ks, nil
}

func writeKeyTable(ios *IOStreams, ks []checkedKey) error {
	tw := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tFINGERPRINT\tENCODING\tVALID FROM\tVALID TO\tDAYS\tBITS\tSTATUS")
	for _, k := range ks {
		region := k.Region
		if region == "" {
			region = "(unlabelled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\tok\n", region, k.Fingerprint, k.Encoding,
			k.ValidFrom.Format(render.TimeLayout), k.ValidTo.Format(render.TimeLayout),
			keyDays(k.ValidTo.Sub(k.ValidFrom)), k.Public.N.BitLen())
	}
	return tw.Flush()
}

// keyDays prints a duration in days with one decimal: key windows are about
// 30 days, but not always whole ones.
func keyDays(d time.Duration) string {
	return fmt.Sprintf("%.1f", d.Hours()/24)
}

type keyGap struct {
	group    string
	from, to time.Time
}

// coverageGaps finds, in each group of keys (sorted by group, then start),
// the periods between the first start and the last end that no key's
// window covers.
func coverageGaps(ks []checkedKey) []keyGap {
	var gaps []keyGap
	for i := 0; i < len(ks); {
		j := i
		covered := ks[i].ValidTo
		for j++; j < len(ks) && ks[j].group == ks[i].group; j++ {
			if ks[j].ValidFrom.After(covered) {
				gaps = append(gaps, keyGap{group: ks[i].group, from: covered, to: ks[j].ValidFrom})
			}
			if ks[j].ValidTo.After(covered) {
				covered = ks[j].ValidTo
			}
		}
		i = j
	}
	return gaps
}
