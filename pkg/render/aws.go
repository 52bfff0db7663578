package render

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/trailcheck/trailcheck/pkg/report"
)

// AWSOptions tune the AWS CLI-compatible output.
type AWSOptions struct {
	// Verbose prints a line for every valid object, as --verbose does for
	// the AWS CLI. Valid objects come from Report.Objects.
	Verbose bool
	// TrailARN names the trail in the startup line when the report does not
	// know a chain's ARN (organization trails, whose ARN names the
	// management account), and when no chain was found at all.
	TrailARN string
}

// AWS writes r exactly as `aws cloudtrail validate-logs` would have printed
// it: the startup line and the summary on stdout, valid objects on stdout
// when verbose, INVALID lines and gap lines on stderr, with the AWS CLI's
// blank lines. The AWS CLI validates one trail in one account and region
// per run, so each such trail (its digest chain together with its backfill
// chain) gets a block of its own, as if the AWS CLI had been run once for
// each, in chain order.
//
// Where trailcheck finds what the AWS CLI cannot (a broken link, deleted
// newest digests, unreferenced log files…), the finding is printed in the
// same line shape with status "INVALID: " and the finding's detail. The
// counts in the summary are the report's: an object that was not verified
// counts as INVALID even when the AWS CLI would not have looked at it (the
// log files of a digest that failed verification).
func AWS(stdout, stderr io.Writer, r *report.Report, opts AWSOptions) error {
	a := &awsWriter{out: stdout, errOut: stderr, verbose: opts.Verbose}
	blocks := awsBlocks(r, opts.Verbose)
	for _, b := range blocks {
		a.block(r, b, opts)
	}
	return a.err
}

// awsBlock is what one AWS CLI run would have covered.
type awsBlock struct {
	chains []*report.Chain // the chain first, then its backfill chain
	items  []awsItem
}

// awsItem is one line of a block's walk: a valid object or a finding.
type awsItem struct {
	chain   *report.Chain // nil for a finding that belongs to no chain
	order   report.Order
	object  *report.ObjectResult
	finding *report.Finding
}

// awsBlocks groups the chains of one trail in one account and region, and
// lays out each block's walk: for each chain, newest digest first, each
// digest followed by its log files (report.Order), valid objects before the
// findings at the same place. Valid objects are laid out only when they
// are to be printed (verbose).
func awsBlocks(r *report.Report, verbose bool) []*awsBlock {
	type trailKey struct{ prefix, org, account, region, trail, home string }
	var blocks []*awsBlock
	byTrail := map[trailKey]*awsBlock{}
	for i := range r.Chains {
		c := &r.Chains[i]
		k := trailKey{c.Prefix, c.OrgID, c.Account, c.Region, c.Trail, c.HomeRegion}
		b := byTrail[k]
		if b == nil {
			b = &awsBlock{}
			byTrail[k] = b
			blocks = append(blocks, b)
		}
		b.chains = append(b.chains, c)
	}
	for _, b := range blocks {
		sort.SliceStable(b.chains, func(i, j int) bool { return !b.chains[i].Backfill && b.chains[j].Backfill })
	}

	perChain := map[string][]awsItem{}
	chains := chainIndex(r)
	for i := range r.Objects {
		o := &r.Objects[i]
		if verbose && o.Valid {
			perChain[o.Chain] = append(perChain[o.Chain], awsItem{chain: chains[o.Chain], order: o.Order, object: o})
		}
	}
	var orphans []awsItem
	for i := range r.Findings {
		f := &r.Findings[i]
		it := awsItem{chain: chains[f.Chain], order: f.Order, finding: f}
		if it.chain == nil {
			orphans = append(orphans, it)
			continue
		}
		perChain[f.Chain] = append(perChain[f.Chain], it)
	}
	for _, b := range blocks {
		for _, c := range b.chains {
			items := perChain[c.ID]
			sort.SliceStable(items, func(i, j int) bool { return walkLess(items[i].order, items[j].order) })
			b.items = append(b.items, items...)
		}
	}
	// Findings about no chain (nothing found at all) make a block of their
	// own when there is no other; else they close the last block.
	if len(orphans) > 0 || len(blocks) == 0 {
		if len(blocks) == 0 {
			blocks = append(blocks, &awsBlock{})
		}
		last := blocks[len(blocks)-1]
		last.items = append(last.items, orphans...)
	}
	return blocks
}

// walkLess is report's walk order: newest digest first, then the digest
// before its log files.
func walkLess(a, b report.Order) bool {
	if !a.DigestEnd.Equal(b.DigestEnd) {
		return a.DigestEnd.After(b.DigestEnd)
	}
	return a.LogIndex < b.LogIndex
}

type awsWriter struct {
	out, errOut io.Writer
	verbose     bool
	err         error
	// lastDoubleSpace is the AWS CLI's _is_last_status_double_space: an
	// error line is preceded by a blank line unless the last thing printed
	// already ended with one.
	lastDoubleSpace bool
}

func (a *awsWriter) write(w io.Writer, s string) {
	if a.err != nil {
		return
	}
	_, a.err = io.WriteString(w, s)
}

// status is the AWS CLI's _write_status.
func (a *awsWriter) status(msg string, isError bool) {
	if isError {
		if a.lastDoubleSpace {
			a.write(a.errOut, msg+"\n\n")
		} else {
			a.write(a.errOut, "\n"+msg+"\n\n")
		}
		a.lastDoubleSpace = true
	} else if a.verbose {
		a.lastDoubleSpace = false
		a.write(a.out, msg+"\n")
	}
}

func (a *awsWriter) block(r *report.Report, b *awsBlock, opts AWSOptions) {
	// Each block is a fresh AWS CLI run: the startup text ends with a
	// blank line.
	a.lastDoubleSpace = true
	a.write(a.out, fmt.Sprintf("Validating log files for trail %s between %s and %s\n\n",
		blockARN(b, opts.TrailARN), fmtTime(r.Requested.Start), fmtTime(r.Requested.End)))

	for _, it := range b.items {
		backfill := it.chain != nil && it.chain.Backfill
		if it.object != nil {
			if it.object.Digest {
				a.status(backfillPrefix(backfill)+"Digest file\t"+it.object.Object+"\tvalid", false)
			} else {
				a.status("Log file\t"+it.object.Object+"\tvalid", false)
			}
			continue
		}
		if line, ok := awsFindingLine(*it.finding, it.chain); ok {
			a.status(line, true)
		}
	}
	a.summary(r, b)
}

// summary is the AWS CLI's _write_summary_text.
func (a *awsWriter) summary(r *report.Report, b *awsBlock) {
	if !a.lastDoubleSpace {
		a.write(a.out, "\n")
	}
	a.write(a.out, fmt.Sprintf("Results requested for %s to %s\n", fmtTime(r.Requested.Start), fmtTime(r.Requested.End)))

	var digests, backfill, logs report.Counts
	var found *report.Interval
	for _, c := range b.chains {
		if c.Backfill {
			backfill.Add(c.Digests)
		} else {
			digests.Add(c.Digests)
		}
		logs.Add(c.Logs)
		if c.ValidFrom != nil && c.ValidTo != nil {
			if found == nil {
				found = &report.Interval{Start: *c.ValidFrom, End: *c.ValidTo}
				continue
			}
			if c.ValidFrom.Before(found.Start) {
				found.Start = *c.ValidFrom
			}
			if c.ValidTo.After(found.End) {
				found.End = *c.ValidTo
			}
		}
	}
	if digests.Valid+digests.Invalid+backfill.Valid+backfill.Invalid == 0 {
		a.write(a.out, "No digests found\n")
		return
	}
	if found == nil {
		a.write(a.out, "No valid digests found in range\n")
	} else {
		a.write(a.out, fmt.Sprintf("Results found for %s to %s:\n", fmtTime(found.Start), fmtTime(found.End)))
	}
	a.ratio(digests, "digest")
	a.ratio(backfill, "backfill digest")
	a.ratio(logs, "log")
	a.write(a.out, "\n")
}

// ratio is the AWS CLI's _write_ratio.
func (a *awsWriter) ratio(c report.Counts, name string) {
	total := c.Valid + c.Invalid
	if total == 0 {
		return
	}
	a.write(a.out, fmt.Sprintf("\n%d/%d %s files valid", c.Valid, total, name))
	if c.Invalid > 0 {
		a.write(a.out, fmt.Sprintf(", %d/%d %s files INVALID", c.Invalid, total, name))
	}
}

func backfillPrefix(backfill bool) string {
	if backfill {
		return "(backfill) "
	}
	return ""
}

// blockARN names a block's trail: the ARN the report knows, else the one
// given, else one built from the chain (right for the trails of an account;
// an organization trail's ARN names the management account, unknown here).
func blockARN(b *awsBlock, given string) string {
	for _, c := range b.chains {
		if c.TrailARN != "" {
			return c.TrailARN
		}
	}
	if given != "" {
		return given
	}
	if len(b.chains) == 0 {
		return "(unknown)"
	}
	c := b.chains[0]
	home := c.HomeRegion
	if home == "" {
		home = c.Region
	}
	trail := c.Trail
	if trail == "" {
		trail = "(unknown)"
	}
	return fmt.Sprintf("arn:%s:cloudtrail:%s:%s:trail/%s", partition(home), home, c.Account, trail)
}

// partition returns the AWS partition a region belongs to.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	}
	return "aws"
}

// awsStatus is the AWS CLI's status text for the finding kinds it knows.
var awsStatus = map[report.Kind]string{
	report.DigestMissing:          "INVALID: not found",
	report.LogMissing:             "INVALID: not found",
	report.DigestInvalidFormat:    "INVALID: invalid format",
	report.LogInvalidFormat:       "INVALID: invalid format",
	report.DigestSignatureInvalid: "INVALID: signature verification failed",
	report.DigestUnanchored:       "INVALID: signature verification failed",
	report.DigestMoved:            "INVALID: has been moved from its original location",
	report.LogHashMismatch:        "INVALID: hash value doesn't match",
	report.LogTrailingData:        "INVALID: unexpected data after end of compressed stream",
}

// fingerprintRE finds the key fingerprint in a digest_key_not_found
// finding's detail, which is where the report carries it (report.Finding
// has no field for it).
var fingerprintRE = regexp.MustCompile(`\b[0-9a-fA-F]{32}\b`)

// awsFindingLine returns the line the AWS CLI prints for a finding, and
// false for findings it prints nothing for (warnings and notes).
func awsFindingLine(f report.Finding, c *report.Chain) (string, bool) {
	backfill := c != nil && c.Backfill
	if f.Kind == report.ChainGap && f.Time != nil && f.Until != nil {
		// The AWS CLI prints the end of the older digest, then the start
		// of the digest that restarts the chain (next_end_date,
		// last_start_date), whether or not a gap fails the run.
		return fmt.Sprintf("%sNo log files were delivered by CloudTrail between %s and %s",
			backfillPrefix(backfill), fmtTime(*f.Time), fmtTime(*f.Until)), true
	}
	if f.Severity != report.Error {
		return "", false
	}
	isLog := strings.HasPrefix(string(f.Kind), "log_") ||
		f.Kind == report.ObjectUnreadable && !strings.Contains(f.Object, "/CloudTrail-Digest/")
	prefix := backfillPrefix(backfill) + "Digest file\t"
	if isLog {
		prefix = "Log file\t"
	}
	status, ok := awsStatus[f.Kind]
	if f.Kind == report.DigestKeyNotFound {
		// The AWS CLI names the trail's home region here.
		region := ""
		if c != nil {
			region = c.HomeRegion
			if region == "" {
				region = c.Region
			}
		}
		if fp := fingerprintRE.FindString(f.Detail); fp != "" && region != "" {
			status, ok = fmt.Sprintf("INVALID: public key not found in region %s for fingerprint %s", region, fp), true
		}
	}
	if !ok {
		status = "INVALID: " + f.Detail
	}
	return prefix + f.Object + "\t" + status, true
}
