package validate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// afterLogs orders chain-level findings of a digest after its log files, as
// the AWS CLI prints a gap after the digest that restarts the chain.
const afterLogs = 1 << 30

// assessor turns what was read into findings and counts. It does no I/O:
// everything it needs was fetched by the scan.
type assessor struct {
	e        *engine
	bucket   string
	rep      *report.Report
	keysUsed map[string]report.KeyInfo
}

func (a *assessor) uri(key string) string { return store.URI(bucketOr(a.bucket), key) }

// location assesses every chain of a location, then the log objects no
// digest references.
func (a *assessor) location(l *location) {
	ids := make([]digest.ChainID, 0, len(l.chains))
	for id := range l.chains {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })

	var home *report.Chain // where unreferenced logs are counted
	homeIdx := -1
	for _, id := range ids {
		c := l.chains[id]
		ch := a.chain(c)
		a.rep.Chains = append(a.rep.Chains, ch)
		if !id.Backfill && homeIdx < 0 {
			homeIdx = len(a.rep.Chains) - 1
		}
	}
	if homeIdx >= 0 {
		home = &a.rep.Chains[homeIdx]
	}

	if len(l.chains) == 0 {
		if l.otherTrails || l.logCount == 0 {
			return
		}
		// Log files but no digest at all: every digest of the range deleted,
		// or validation never enabled. Either way nothing here is verified.
		ch := report.Chain{
			ID: l.loc.String() + "/-", Prefix: l.loc.Prefix, OrgID: l.loc.OrgID,
			Account: l.loc.Account, Region: l.loc.Region,
			Logs: report.Counts{Total: l.logCount, Invalid: l.logCount},
		}
		a.rep.Findings = append(a.rep.Findings, report.Finding{
			Kind: report.NoDigests, Severity: report.Error, Chain: ch.ID,
			Object: a.uri(l.loc.DigestRegionPrefix()),
			Detail: fmt.Sprintf("%d log files between %s and %s but no digest file: none of them can be verified",
				l.logCount, fmtTime(l.firstLog), fmtTime(l.lastLog)),
		})
		a.rep.Chains = append(a.rep.Chains, ch)
		return
	}
	if l.otherTrails || home == nil {
		// Other trails' log files share these folders and are not ours to
		// judge; without their digests the check would accuse them.
		return
	}
	for _, o := range l.unreferenced {
		home.Logs.Total++
		home.Logs.Invalid++
		t := o.t
		a.rep.Findings = append(a.rep.Findings, report.Finding{
			Kind: report.LogUnreferenced, Severity: report.Error, Chain: home.ID,
			Object: a.uri(o.key), Time: &t,
			Order:  report.Order{LogIndex: afterLogs},
			Detail: fmt.Sprintf("log file delivered at %s is listed in no digest file of the trail", t.Format("2006-01-02T15:04Z")),
		})
	}
}

// chain assesses one chain and returns its summary; findings go to the report.
func (a *assessor) chain(c *chain) report.Chain {
	e := a.e
	id := c.id
	ch := report.Chain{
		ID: id.String(), Prefix: id.Prefix, OrgID: id.OrgID, Account: id.Account, Region: id.Region,
		Trail: id.Trail, HomeRegion: id.HomeRegion, Backfill: id.Backfill,
	}
	switch {
	case e.opts.TrailARN != "" && strings.HasSuffix(e.opts.TrailARN, ":trail/"+id.Trail):
		ch.TrailARN = e.opts.TrailARN
	case id.OrgID == "":
		ch.TrailARN = fmt.Sprintf("arn:%s:cloudtrail:%s:%s:trail/%s", digest.Partition(id.HomeRegion), id.HomeRegion, id.Account, id.Trail)
	}
	bad := map[*digestRec]bool{}
	add := func(r *digestRec, f report.Finding) {
		f.Chain = ch.ID
		if f.Severity == "" {
			f.Severity = report.Error
		}
		if r != nil {
			if f.Object == "" {
				f.Object = a.uri(r.key)
			}
			if f.Time == nil {
				t := r.end
				f.Time = &t
			}
			if f.Order.DigestEnd.IsZero() {
				f.Order = report.Order{DigestEnd: r.end, LogIndex: -1}
			}
			if f.Severity == report.Error {
				bad[r] = true
			}
		}
		a.rep.Findings = append(a.rep.Findings, f)
	}

	// The newest digest an earlier run verified must still be there, unchanged.
	if c.anchor != nil {
		ar := c.anchorRec
		f := report.Finding{Object: a.uri(c.anchorKey), Time: timePtr(c.anchor.End), Order: report.Order{DigestEnd: c.anchor.End, LogIndex: -1}}
		switch {
		case ar.d == nil && ar.failKind == report.DigestMissing:
			f.Kind, f.Detail = report.DigestMissing, "the newest digest verified by the previous run (state file) is gone"
		case ar.d == nil:
			f.Kind, f.Detail = ar.failKind, "the newest digest verified by the previous run (state file): "+ar.failDetail
		case !strings.EqualFold(ar.d.SHA256, c.anchor.SHA256):
			f.Kind, f.Detail = report.DigestChainMismatch, fmt.Sprintf("changed since the previous run verified it: SHA-256 now %s, was %s", ar.d.SHA256, c.anchor.SHA256)
		}
		if f.Kind != "" {
			add(nil, f)
		}
	}

	// Each digest on its own: readable, in place, right algorithms, a key.
	regionUnchecked := false
	for _, r := range c.digests {
		if r.d == nil {
			add(r, report.Finding{Kind: r.failKind, Detail: r.failDetail})
			continue
		}
		d := r.d
		if d.DigestS3Object != r.key || (a.bucket != "" && d.DigestS3Bucket != a.bucket) {
			add(r, report.Finding{Kind: report.DigestMoved,
				Detail: fmt.Sprintf("the digest says it was delivered to s3://%s/%s", d.DigestS3Bucket, d.DigestS3Object)})
			continue
		}
		if d.DigestSignatureAlgorithm != digest.SignatureAlgorithm {
			add(r, report.Finding{Kind: report.DigestSignatureInvalid,
				Detail: fmt.Sprintf("unsupported digestSignatureAlgorithm %q", d.DigestSignatureAlgorithm)})
			continue
		}
		if alg, ok := r.meta["signature-algorithm"]; ok && alg != digest.SignatureAlgorithm {
			add(r, report.Finding{Kind: report.DigestSignatureInvalid,
				Detail: fmt.Sprintf("unsupported signature-algorithm metadata %q", alg)})
			continue
		}
		if d.PreviousDigestHashAlgo != nil && *d.PreviousDigestHashAlgo != digest.HashAlgorithm {
			add(r, report.Finding{Kind: report.DigestInvalidFormat,
				Detail: fmt.Sprintf("unsupported previousDigestHashAlgorithm %q", *d.PreviousDigestHashAlgo)})
		}
		if r.badHashAlgo != "" {
			add(r, report.Finding{Kind: report.DigestInvalidFormat, Detail: r.badHashAlgo})
		}
		switch r.lookup.Status {
		case keys.NotFound:
			add(r, report.Finding{Kind: report.DigestKeyNotFound,
				Detail: fmt.Sprintf("public key not found in region %s for fingerprint %s", id.Region, d.DigestPublicKeyFingerprint)})
			continue
		case keys.OutsideWindow:
			k := r.lookup.Key
			add(r, report.Finding{Kind: report.DigestKeyNotFound,
				Detail: fmt.Sprintf("public key %s of region %s is valid from %s to %s, which does not cover %s",
					k.Fingerprint, id.Region, fmtTime(k.ValidFrom), fmtTime(k.ValidTo), fmtTime(r.keyAt))})
			continue
		}
		if !r.lookup.RegionChecked {
			regionUnchecked = true
		}
	}

	// Which digest names which as its predecessor.
	succ := map[*digestRec]*digestRec{}
	for _, s := range c.digests {
		if s.d == nil || s.d.IsChainStart() {
			continue
		}
		if p := c.byKey[*s.d.PreviousDigestS3Object]; p != nil {
			if other, dup := succ[p]; dup {
				add(s, report.Finding{Kind: report.DigestChainMismatch,
					Detail: fmt.Sprintf("names %s as its previous digest, which %s already does (forked chain)", p.key, other.key)})
				continue
			}
			succ[p] = s
		}
	}

	// Signatures: from S3 metadata (or --signatures), else from the
	// successor's previousDigestSignature.
	authentic := map[*digestRec]string{} // digest → the signature that verified it
	for _, r := range c.digests {
		if r.d == nil || bad[r] {
			continue
		}
		sig, from := r.meta["signature"], "its S3 metadata"
		if sig == "" {
			if s := succ[r]; s != nil {
				sig, from = *s.d.PreviousDigestSignature, "the previousDigestSignature of "+s.key
			}
		}
		if sig == "" {
			add(r, report.Finding{Kind: report.DigestUnanchored,
				Detail: "no signature: none in S3 metadata or the signatures file, and no newer digest links to it"})
			continue
		}
		if err := r.lookup.Key.Verify(r.d.SigningString(), sig); err != nil {
			add(r, report.Finding{Kind: report.DigestSignatureInvalid,
				Detail: fmt.Sprintf("signature from %s does not verify with key %s", from, r.lookup.Key.Fingerprint)})
			continue
		}
		authentic[r] = sig
		r.verified = true
		k := r.lookup.Key
		if _, ok := a.keysUsed[k.Fingerprint+"/"+k.Region]; !ok {
			a.keysUsed[k.Fingerprint+"/"+k.Region] = report.KeyInfo{Fingerprint: k.Fingerprint, Region: k.Region,
				ValidFrom: k.ValidFrom, ValidTo: k.ValidTo, Encoding: k.Encoding}
		}
	}
	if regionUnchecked {
		add(nil, report.Finding{Kind: report.KeyRegionUnchecked, Severity: report.Info,
			Object: a.uri(id.DigestRegionPrefix()),
			Detail: "public keys came from a file that does not name their region; the region of the keys was not checked"})
	}

	// Links between consecutive digests, and what is missing between them.
	lo := e.start.Format(digest.KeyTimeLayout)
	missing := 0
	reportMissing := func(key string, end time.Time, detail string) {
		missing++
		t := end
		add(nil, report.Finding{Kind: report.DigestMissing, Object: a.uri(key), Time: &t,
			Order: report.Order{DigestEnd: end, LogIndex: -1}, Detail: detail})
	}
	for i, s := range c.digests {
		if s.d == nil || s.d.IsChainStart() {
			continue
		}
		d := s.d
		pkey := *d.PreviousDigestS3Object
		if *d.PreviousDigestS3Bucket != d.DigestS3Bucket {
			add(s, report.Finding{Kind: report.DigestChainMismatch,
				Detail: fmt.Sprintf("previous digest is in another bucket (s3://%s/%s)", *d.PreviousDigestS3Bucket, pkey)})
			continue
		}
		if p := c.byKey[pkey]; p != nil {
			if p.d == nil {
				continue // already reported
			}
			if !strings.EqualFold(p.d.SHA256, *d.PreviousDigestHashValue) {
				add(s, report.Finding{Kind: report.DigestChainMismatch,
					Detail: fmt.Sprintf("previousDigestHashValue %s is not the SHA-256 of %s (%s)", *d.PreviousDigestHashValue, pkey, p.d.SHA256)})
			}
			if psig := p.meta["signature"]; psig != "" && !strings.EqualFold(psig, *d.PreviousDigestSignature) {
				add(s, report.Finding{Kind: report.DigestChainMismatch,
					Detail: fmt.Sprintf("previousDigestSignature is not the signature of %s", pkey)})
			}
			if !d.Start.Equal(p.d.End) {
				add(s, report.Finding{Kind: report.DigestChainMismatch,
					Detail: fmt.Sprintf("digestStartTime %s is not the previous digest's digestEndTime %s", d.DigestStartTime, p.d.DigestEndTime)})
			}
			continue
		}
		if c.anchor != nil && pkey == c.anchorKey {
			if !strings.EqualFold(*d.PreviousDigestHashValue, c.anchor.SHA256) || !strings.EqualFold(*d.PreviousDigestSignature, c.anchor.Signature) {
				add(s, report.Finding{Kind: report.DigestChainMismatch,
					Detail: "previousDigestHashValue or previousDigestSignature is not that of the digest verified by the previous run (" + pkey + ")"})
			}
			if !d.Start.Equal(c.anchor.End) {
				add(s, report.Finding{Kind: report.DigestChainMismatch,
					Detail: fmt.Sprintf("digestStartTime %s is not the end of the digest verified by the previous run (%s)", d.DigestStartTime, fmtTime(c.anchor.End))})
			}
			continue
		}
		info, err := digest.ParseDigestKey(pkey)
		if err != nil || info.Chain != c.id {
			add(s, report.Finding{Kind: report.DigestChainMismatch,
				Detail: fmt.Sprintf("previous digest %s is not a digest of this chain", pkey)})
			continue
		}
		if c.anchor != nil && !info.End.After(c.anchor.End) {
			add(s, report.Finding{Kind: report.DigestChainMismatch,
				Detail: fmt.Sprintf("previous digest %s is not the digest verified by the previous run (%s): the chain forked", pkey, c.anchorKey)})
			continue
		}
		if c.anchor == nil && info.End.Format(digest.KeyTimeLayout) < lo {
			continue // before the range: not ours to check
		}
		if !info.End.Equal(d.Start) {
			add(s, report.Finding{Kind: report.DigestChainMismatch,
				Detail: fmt.Sprintf("previous digest %s does not end at digestStartTime %s", pkey, d.DigestStartTime)})
		}
		reportMissing(pkey, info.End, "named as the previous digest of "+s.key+" but not found")
		// The digests between the previous one present and this one are
		// hourly: each of their keys can be computed.
		var olderEnd time.Time
		if c.anchor != nil {
			olderEnd = c.anchor.End
		}
		for j := i - 1; j >= 0; j-- {
			if c.digests[j].end.Before(info.End) {
				olderEnd = c.digests[j].end
				break
			}
		}
		for t := info.End.Add(-time.Hour); t.After(olderEnd) && !t.Before(e.start); t = t.Add(-time.Hour) {
			k := c.id.DigestKey(t)
			if c.byKey[k] == nil {
				reportMissing(k, t, "expected hourly digest (computed from the chain's cadence) not found")
			}
		}
	}

	// Chain restarts: a digest with null previous fields after older ones.
	for i, n := range c.digests {
		if n.d == nil || !n.d.IsChainStart() || (i == 0 && c.anchor == nil) {
			continue
		}
		var from time.Time
		if i == 0 {
			from = c.anchor.End
		} else if o := c.digests[i-1]; o.d != nil {
			from = o.d.End
		} else {
			from = o.end
		}
		until := n.d.Start
		sev := report.Warning
		if e.opts.FailOnGap {
			sev = report.Error
		}
		f := report.Finding{Kind: report.ChainGap, Severity: sev, Object: a.uri(n.key),
			Time: &from, Until: &until, Order: report.Order{DigestEnd: n.end, LogIndex: afterLogs},
			Detail: fmt.Sprintf("chain restarts: no digest between %s and %s (%s); logging or validation was stopped, or digests were removed",
				fmtTime(from), fmtTime(until), until.Sub(from))}
		a.rep.Findings = append(a.rep.Findings, withChain(f, ch.ID))
		ch.Gaps = append(ch.Gaps, report.Interval{Start: from, End: until})
	}

	// The newest digests deleted: digests are due every hour up to the end
	// of the range (or the trail's latest delivery), once delivered.
	if !id.Backfill && (len(c.digests) > 0 || c.anchor != nil) {
		var newest time.Time
		if len(c.digests) > 0 {
			newest = c.digests[len(c.digests)-1].end
		} else {
			newest = c.anchor.End
		}
		next := newest.Add(time.Hour)
		due := e.now.Add(-e.opts.DeliveryDelay)
		if e.end.Before(due) {
			due = e.end
		}
		var truncated bool
		if latest, ok := e.latestDelivery(id); ok {
			// CloudTrail says when it last delivered a digest: a later one
			// than ours was delivered, or ours is the last (logging stopped).
			truncated = newest.Before(e.end) && !latest.Before(next.Add(-10*time.Minute))
			if latest.Before(due) {
				due = latest
			}
		} else {
			truncated = newest.Before(due) && !next.Add(e.opts.DeliveryDelay).After(e.now)
		}
		if truncated {
			n := int(due.Sub(newest) / time.Hour)
			if n < 1 {
				n = 1
			}
			t := newest
			f := report.Finding{Kind: report.ChainTruncated, Severity: report.Error, Object: a.uri(c.id.DigestKey(next)),
				Time: &t, Until: &due, Order: report.Order{DigestEnd: next, LogIndex: -1},
				Detail: fmt.Sprintf("no digest after %s: hourly digests were due up to %s (about %d missing); the newest digests were deleted or logging stopped",
					fmtTime(newest), fmtTime(due), n)}
			a.rep.Findings = append(a.rep.Findings, withChain(f, ch.ID))
		}
	}

	// Log files of authentic digests, and the counts.
	ch.Digests.Total = len(c.digests) + missing
	for _, r := range c.digests {
		sig, ok := authentic[r]
		digestOK := ok && !bad[r]
		if digestOK {
			ch.Digests.Valid++
		}
		if e.opts.KeepValid {
			a.rep.Objects = append(a.rep.Objects, report.ObjectResult{Chain: ch.ID, Digest: true, Object: a.uri(r.key),
				Valid: digestOK, Order: report.Order{DigestEnd: r.end, LogIndex: -1}})
		}
		if r.d == nil {
			continue
		}
		r.compact(e.opts.KeepValid)
		if !ok {
			// An unauthenticated digest vouches for nothing: its list of
			// log files is not counted as examined (the digest's finding
			// says why), as the AWS CLI does.
			ch.LogsUnverified += r.nLogs
			continue
		}
		ch.Logs.Total += r.nLogs
		ch.Logs.Valid += r.okCount
		allLogs := len(r.failures) == 0
		for _, f := range r.failures {
			a.rep.Findings = append(a.rep.Findings, report.Finding{Kind: f.res.kind, Severity: report.Error, Chain: ch.ID,
				Object: store.URI(f.ref.bucket, f.ref.key), Detail: f.res.detail, Time: timePtr(r.end),
				Order: report.Order{DigestEnd: r.end, LogIndex: f.i}})
		}
		if e.opts.KeepValid {
			next := 0
			for i, ref := range r.refs {
				valid := true
				if next < len(r.failures) && r.failures[next].i == i {
					valid = false
					next++
				}
				a.rep.Objects = append(a.rep.Objects, report.ObjectResult{Chain: ch.ID, Object: store.URI(ref.bucket, ref.key),
					Valid: valid, Order: report.Order{DigestEnd: r.end, LogIndex: i}})
			}
		}
		from, to := maxTime(r.d.Start, e.start), minTime(r.d.End, e.end)
		if ch.ValidFrom == nil || from.Before(*ch.ValidFrom) {
			ch.ValidFrom = timePtr(from)
		}
		if ch.ValidTo == nil || to.After(*ch.ValidTo) {
			ch.ValidTo = timePtr(to)
		}
		if digestOK && allLogs && from.Before(to) {
			// Clipped to the requested period, like ValidFrom and ValidTo.
			ch.Verified = appendInterval(ch.Verified, report.Interval{Start: from, End: to})
		}
		if !id.Backfill && (ch.Newest == nil || r.d.End.After(ch.Newest.End)) {
			ch.Newest = &report.DigestRef{Object: a.uri(r.key), End: r.d.End, Signature: strings.ToLower(sig), SHA256: r.d.SHA256}
		}
		if !contains(ch.Keys, r.lookup.Key.Fingerprint) {
			ch.Keys = append(ch.Keys, r.lookup.Key.Fingerprint)
		}
	}
	if ch.Newest == nil && c.anchor != nil && c.anchorRec.d != nil && strings.EqualFold(c.anchorRec.d.SHA256, c.anchor.SHA256) {
		anchor := *c.anchor
		ch.Newest = &anchor
	}
	ch.Digests.Invalid = ch.Digests.Total - ch.Digests.Valid
	ch.Logs.Invalid = ch.Logs.Total - ch.Logs.Valid
	sort.Strings(ch.Keys)
	return ch
}

func (e *engine) latestDelivery(id digest.ChainID) (time.Time, bool) {
	if e.opts.LatestDelivery == nil {
		return time.Time{}, false
	}
	return e.opts.LatestDelivery(id.Trail, id.HomeRegion)
}

func withChain(f report.Finding, id string) report.Finding { f.Chain = id; return f }

func timePtr(t time.Time) *time.Time { return &t }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// appendInterval adds iv to a list of intervals sorted by start, merging
// when they touch. Digests are visited in time order, so only the last
// interval can touch.
func appendInterval(list []report.Interval, iv report.Interval) []report.Interval {
	if n := len(list); n > 0 && !iv.Start.After(list[n-1].End) {
		if iv.End.After(list[n-1].End) {
			list[n-1].End = iv.End
		}
		return list
	}
	return append(list, iv)
}
