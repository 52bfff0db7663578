// Package report holds the result of a validation run: per-chain counts,
// findings as values, and the overall verdict. Renderers in package render
// turn a Report into text, JSON or the AWS CLI's format.
//
// A Report is deterministic: it contains no durations, no worker counts and
// nothing whose order depends on scheduling; Sort puts everything in a
// canonical order.
package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON document. It changes only when a
// field is removed or changes meaning.
const SchemaVersion = 1

// Kind is the stable name of a finding. Scripts match on it.
type Kind string

// The finding kinds. Their meanings are documented in the README.
const (
	DigestMissing          Kind = "digest_missing"
	DigestInvalidFormat    Kind = "digest_invalid_format"
	DigestSignatureInvalid Kind = "digest_signature_invalid"
	DigestUnanchored       Kind = "digest_unanchored"
	DigestMoved            Kind = "digest_moved"
	DigestKeyNotFound      Kind = "digest_key_not_found"
	DigestChainMismatch    Kind = "digest_chain_mismatch"
	ChainTruncated         Kind = "chain_truncated"
	ChainGap               Kind = "chain_gap"
	NoDigests              Kind = "no_digests"
	LogMissing             Kind = "log_missing"
	LogHashMismatch        Kind = "log_hash_mismatch"
	LogInvalidFormat       Kind = "log_invalid_format"
	LogTrailingData        Kind = "log_trailing_data"
	LogUnreferenced        Kind = "log_unreferenced"
	// ObjectUnreadable is an object that could not be read after retries
	// (not a proof of tampering, but not verified either).
	ObjectUnreadable Kind = "object_unreadable"
	// KeyRegionUnchecked says a key came from a file that does not say which
	// region it belongs to, so the region check was not made.
	KeyRegionUnchecked Kind = "key_region_unchecked"
)

// Kinds lists every kind in documentation order.
var Kinds = []Kind{
	DigestMissing, DigestInvalidFormat, DigestSignatureInvalid, DigestUnanchored, DigestMoved,
	DigestKeyNotFound, DigestChainMismatch, ChainTruncated, ChainGap, NoDigests,
	LogMissing, LogHashMismatch, LogInvalidFormat, LogTrailingData, LogUnreferenced, ObjectUnreadable, KeyRegionUnchecked,
}

// Severity says whether a finding fails the run.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Finding is one integrity problem, or a notable fact, about one object.
type Finding struct {
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	// Object is the s3://bucket/key URI of the object concerned. For a
	// finding about an object that should exist (a missing digest) it is the
	// key the object should have.
	Object string `json:"object"`
	Detail string `json:"detail"`
	// Chain is the ID of the chain the finding belongs to (Chain.ID).
	Chain string `json:"chain,omitempty"`
	// Time places the finding on the chain's timeline: the end time of the
	// digest concerned, or the start of a gap.
	Time *time.Time `json:"time,omitempty"`
	// Until is the end of the period a gap or truncation finding covers.
	Until *time.Time `json:"until,omitempty"`
	// Events are the trail-control events (StopLogging, DeleteTrail, …)
	// found in verified log files around a gap or truncation: who stopped
	// the trail, when, and from where.
	Events []Event `json:"events,omitempty"`
	// Unexplained is set on a gap or truncation for which no such event
	// was found in the verified log files around it.
	Unexplained bool `json:"unexplained,omitempty"`
	// Order orders findings of one chain the way the AWS CLI would print them
	// (newest digest first, then its log files in digest order). It is not
	// part of the JSON document.
	Order Order `json:"-"`
}

// Event is a CloudTrail management event that explains a gap.
type Event struct {
	Name      string    `json:"event_name"`
	Time      time.Time `json:"event_time"`
	Actor     string    `json:"actor"` // userIdentity.arn, or its type and principal
	SourceIP  string    `json:"source_ip"`
	UserAgent string    `json:"user_agent,omitempty"`
	Region    string    `json:"region"`
	Account   string    `json:"account"`
	Trail     string    `json:"trail,omitempty"` // requestParameters name or trailName
	LogFile   string    `json:"log_file"`        // the verified log file it was found in
}

// Order positions a finding within a chain for AWS CLI-compatible output.
type Order struct {
	DigestEnd time.Time // the digest the finding belongs to (zero: chain level)
	LogIndex  int       // -1 for the digest itself, else the log's index in it
}

// Counts is how many objects were examined and how many were verified.
// Invalid counts every object that was not verified, for whatever reason.
type Counts struct {
	Total   int `json:"total"`
	Valid   int `json:"valid"`
	Invalid int `json:"invalid"`
}

// Add adds c2 to c.
func (c *Counts) Add(c2 Counts) {
	c.Total += c2.Total
	c.Valid += c2.Valid
	c.Invalid += c2.Invalid
}

// Interval is a half-open time interval [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Chain is the summary of one digest chain.
type Chain struct {
	ID         string `json:"id"`
	Prefix     string `json:"prefix,omitempty"`
	OrgID      string `json:"org_id,omitempty"`
	Account    string `json:"account"`
	Region     string `json:"region"`
	Trail      string `json:"trail,omitempty"`
	HomeRegion string `json:"home_region,omitempty"`
	Backfill   bool   `json:"backfill,omitempty"`
	TrailARN   string `json:"trail_arn,omitempty"`

	Digests Counts `json:"digests"`
	Logs    Counts `json:"logs"`
	// LogsUnverified counts the log files listed by digests that could not
	// be authenticated: not examined, since their list cannot be trusted.
	LogsUnverified int `json:"logs_unverified,omitempty"`
	// Verified lists the periods covered by verified digests, merged.
	Verified []Interval `json:"verified,omitempty"`
	// Gaps lists the periods with no digests between two verified segments.
	Gaps []Interval `json:"gaps,omitempty"`
	// ValidFrom and ValidTo are the earliest start and latest end of the
	// verified digests, clipped to the requested range (the AWS CLI's
	// "Results found for").
	ValidFrom *time.Time `json:"valid_from,omitempty"`
	ValidTo   *time.Time `json:"valid_to,omitempty"`
	// Newest is the newest verified digest, for incremental runs.
	Newest *DigestRef `json:"newest,omitempty"`
	// Fingerprints of the public keys that verified this chain's digests.
	Keys []string `json:"keys,omitempty"`
}

// Name names the chain for people: account, region and trail, with the
// organization and key prefix when there are any.
func (c *Chain) Name() string {
	s := c.Account + " " + c.Region
	if c.OrgID != "" {
		s = c.OrgID + "/" + s
	}
	if c.Prefix != "" {
		s = c.Prefix + ": " + s
	}
	trail := c.Trail
	if trail == "" {
		trail = "(no digests)"
	}
	s += " " + trail
	if c.Backfill {
		s += " (backfill)"
	}
	return s
}

// DigestRef identifies a verified digest well enough to prove the next run
// links to it.
type DigestRef struct {
	Object    string    `json:"object"`
	End       time.Time `json:"end"`
	Signature string    `json:"signature"`
	SHA256    string    `json:"sha256"`
}

// Summary is the overall count.
type Summary struct {
	Chains   int                `json:"chains"`
	Digests  Counts             `json:"digests"`
	Logs     Counts             `json:"logs"`
	Findings map[Severity]int   `json:"findings"`
	ByKind   map[Kind]int       `json:"findings_by_kind,omitempty"`
	Range    *Interval          `json:"covered,omitempty"`
	Keys     map[string]KeyInfo `json:"-"`
}

// KeyInfo describes a public key used in the run.
type KeyInfo struct {
	Fingerprint string    `json:"fingerprint"`
	Region      string    `json:"region,omitempty"`
	ValidFrom   time.Time `json:"valid_from"`
	ValidTo     time.Time `json:"valid_to"`
	Encoding    string    `json:"encoding"`
}

// Verdict is the one-word result of a run.
type Verdict string

// Verdicts.
const (
	// Valid: everything in the requested range was verified.
	Valid Verdict = "valid"
	// Invalid: at least one finding of severity error.
	Invalid Verdict = "invalid"
)

// Report is the result of one validation run.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Source        string    `json:"source"`
	Bucket        string    `json:"bucket,omitempty"`
	Requested     Interval  `json:"requested"`
	Verdict       Verdict   `json:"verdict"`
	Summary       Summary   `json:"summary"`
	Chains        []Chain   `json:"chains"`
	Keys          []KeyInfo `json:"keys,omitempty"`
	Findings      []Finding `json:"findings"`

	// Objects lists every object examined with its status, in AWS CLI walk
	// order per chain; filled only when the validator is asked to keep valid
	// objects (verbose output). Not part of the JSON document.
	Objects []ObjectResult `json:"-"`
}

// ObjectResult is the status of one examined object, for verbose listings.
type ObjectResult struct {
	Chain  string
	Digest bool // a digest file, else a log file
	Object string
	Valid  bool
	Order  Order
}

// Finalize sorts the report, recomputes the summary and sets the verdict.
// Callers that change findings or chains call it again.
func (r *Report) Finalize() {
	r.SchemaVersion = SchemaVersion
	sort.Slice(r.Chains, func(i, j int) bool { return r.Chains[i].ID < r.Chains[j].ID })
	SortFindings(r.Findings)
	sort.SliceStable(r.Objects, func(i, j int) bool { return lessObject(r.Objects[i], r.Objects[j]) })
	sort.Slice(r.Keys, func(i, j int) bool { return r.Keys[i].Fingerprint < r.Keys[j].Fingerprint })

	s := Summary{Chains: len(r.Chains), Findings: map[Severity]int{Error: 0, Warning: 0, Info: 0}, ByKind: map[Kind]int{}}
	for _, c := range r.Chains {
		s.Digests.Add(c.Digests)
		s.Logs.Add(c.Logs)
		for _, iv := range c.Verified {
			if s.Range == nil {
				v := iv
				s.Range = &v
				continue
			}
			if iv.Start.Before(s.Range.Start) {
				s.Range.Start = iv.Start
			}
			if iv.End.After(s.Range.End) {
				s.Range.End = iv.End
			}
		}
	}
	for _, f := range r.Findings {
		s.Findings[f.Severity]++
		s.ByKind[f.Kind]++
	}
	r.Summary = s
	r.Verdict = Valid
	if s.Findings[Error] > 0 {
		r.Verdict = Invalid
	}
}

// SortFindings orders findings by chain, then newest digest first, then log
// index (the AWS CLI's walk order), then kind and object.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Chain != b.Chain {
			return a.Chain < b.Chain
		}
		if !a.Order.DigestEnd.Equal(b.Order.DigestEnd) {
			return a.Order.DigestEnd.After(b.Order.DigestEnd)
		}
		if a.Order.LogIndex != b.Order.LogIndex {
			return a.Order.LogIndex < b.Order.LogIndex
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Detail < b.Detail
	})
}

func lessObject(a, b ObjectResult) bool {
	if a.Chain != b.Chain {
		return a.Chain < b.Chain
	}
	if !a.Order.DigestEnd.Equal(b.Order.DigestEnd) {
		return a.Order.DigestEnd.After(b.Order.DigestEnd)
	}
	if a.Order.LogIndex != b.Order.LogIndex {
		return a.Order.LogIndex < b.Order.LogIndex
	}
	return a.Object < b.Object
}

// HasErrors reports whether any finding has severity error.
func (r *Report) HasErrors() bool {
	for _, f := range r.Findings {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

// DefaultFailOn returns the kinds that fail a run by default: every kind
// whose severity is error by default (all but chain_gap, a warning, and
// key_region_unchecked, a note).
func DefaultFailOn() map[Kind]bool {
	m := map[Kind]bool{}
	for _, k := range Kinds {
		if k != ChainGap && k != KeyRegionUnchecked {
			m[k] = true
		}
	}
	return m
}

// ApplyPolicy sets each finding's severity from the kinds that fail the
// run: error for those, warning for the others (notes stay notes). It then
// finalizes the report again.
func (r *Report) ApplyPolicy(failOn map[Kind]bool) {
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Severity == Info && !failOn[f.Kind] {
			continue
		}
		if failOn[f.Kind] {
			f.Severity = Error
		} else {
			f.Severity = Warning
		}
	}
	r.Finalize()
}

// ParseFailOn reads a --fail-on list: kind names, "default" (DefaultFailOn),
// "all" (every kind) and "-KIND" to remove one, applied in order, e.g.
// "default,chain_gap" or "default,-log_unreferenced".
func ParseFailOn(items []string) (map[Kind]bool, error) {
	known := map[Kind]bool{}
	for _, k := range Kinds {
		known[k] = true
	}
	m := map[Kind]bool{}
	for _, it := range items {
		switch {
		case it == "default":
			for k := range DefaultFailOn() {
				m[k] = true
			}
		case it == "all":
			for k := range known {
				m[k] = true
			}
		case strings.HasPrefix(it, "-") && known[Kind(it[1:])]:
			delete(m, Kind(it[1:]))
		case known[Kind(it)]:
			m[Kind(it)] = true
		default:
			return nil, fmt.Errorf("%q is not a finding kind (or default, all, -KIND)", it)
		}
	}
	return m, nil
}
