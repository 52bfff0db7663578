package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// controlEvents are the CloudTrail API calls that legitimately interrupt a
// digest chain.
var controlEvents = map[string]bool{
	"StopLogging": true, "StartLogging": true, "DeleteTrail": true, "CreateTrail": true,
	"UpdateTrail": true, "PutEventSelectors": true,
}

// explainWindow is how far around a gap verified log files are searched.
const explainWindow = 2 * time.Hour

// maxExplainLogSize caps the decompressed bytes read from one log file
// while looking for control events.
const maxExplainLogSize = 512 << 20

// explain searches the verified log files of the trail around each gap and
// truncation for the events that explain it, and records them on the
// finding. Log files are read again (streamed), only those near a gap.
func (e *engine) explain(ctx context.Context, rep *report.Report, locs []*location) error {
	type target struct {
		idx      int
		trail    string
		from, to time.Time
	}
	var targets []target
	for i, f := range rep.Findings {
		if (f.Kind != report.ChainGap && f.Kind != report.ChainTruncated) || f.Time == nil || f.Until == nil {
			continue
		}
		trail := trailOfChain(f.Chain)
		targets = append(targets, target{idx: i, trail: trail, from: f.Time.Add(-explainWindow), to: f.Until.Add(explainWindow)})
	}
	if len(targets) == 0 {
		return nil
	}
	// Verified log files of each trail, near a target.
	type candidate struct {
		uri, key, region, account string
	}
	want := map[string]candidate{}
	forTarget := make([][]string, len(targets))
	for _, l := range locs {
		if l == nil {
			continue
		}
		for id, c := range l.chains {
			if id.Backfill {
				continue
			}
			for _, r := range c.digests {
				if r.d == nil || !r.verified {
					continue
				}
				var near []int
				for ti, t := range targets {
					if t.trail == id.Trail && !r.d.End.Before(t.from) && !r.d.Start.After(t.to) {
						near = append(near, ti)
					}
				}
				if len(near) == 0 {
					continue
				}
				refs, err := e.verifiedLogs(ctx, r)
				if err != nil {
					return err
				}
				for _, ref := range refs {
					want[ref.key] = candidate{uri: store.URI(ref.bucket, ref.key), key: ref.key, region: id.Region, account: id.Account}
					for _, ti := range near {
						forTarget[ti] = append(forTarget[ti], ref.key)
					}
				}
			}
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	found := map[string][]report.Event{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.workers)
	for _, k := range keys {
		c := want[k]
		g.Go(func() error {
			evs, err := e.controlEventsIn(gctx, c.key, c.uri)
			if err != nil {
				if errors.Is(err, store.ErrAccessDenied) || gctx.Err() != nil {
					return err
				}
				return nil // verified a moment ago; a read failure now only loses the explanation
			}
			mu.Lock()
			found[k] = evs
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for ti, t := range targets {
		f := &rep.Findings[t.idx]
		seen := map[string]bool{}
		var evs []report.Event
		for _, k := range forTarget[ti] {
			for _, ev := range found[k] {
				id := ev.Name + ev.Time.String() + ev.Actor + ev.LogFile
				if seen[id] || ev.Time.Before(t.from) || ev.Time.After(t.to) || !trailMatches(ev.Trail, t.trail) {
					continue
				}
				seen[id] = true
				evs = append(evs, ev)
			}
		}
		sort.Slice(evs, func(i, j int) bool {
			if !evs[i].Time.Equal(evs[j].Time) {
				return evs[i].Time.Before(evs[j].Time)
			}
			return evs[i].LogFile < evs[j].LogFile
		})
		f.Events = evs
		if len(evs) == 0 {
			f.Unexplained = true
			f.Detail += "; unexplained: no StopLogging, DeleteTrail, UpdateTrail or PutEventSelectors event in the verified log files around it"
			continue
		}
		var parts []string
		for _, ev := range evs {
			parts = append(parts, fmt.Sprintf("%s by %s from %s at %s", ev.Name, ev.Actor, ev.SourceIP, fmtTime(ev.Time)))
		}
		f.Detail += "; the logs show " + strings.Join(parts, ", ")
	}
	return nil
}

// verifiedLogs returns the log files of a verified digest that were
// verified. Their list was dropped once they were hashed (memory stays
// small), so the digest is read again: it is one of the few near a gap.
func (e *engine) verifiedLogs(ctx context.Context, r *digestRec) ([]logRef, error) {
	refs := r.refs
	if refs == nil && r.nLogs > 0 {
		again := &digestRec{key: r.key}
		d, _, err := e.readDigest(ctx, again)
		if err != nil {
			return nil, err
		}
		if d == nil || d.SHA256 != r.d.SHA256 {
			return nil, nil // changed since it was verified: explain nothing from it
		}
		for _, lf := range d.LogFiles {
			refs = append(refs, logRef{key: lf.S3Object, bucket: lf.S3Bucket})
		}
	}
	failed := map[int]bool{}
	for _, f := range r.failures {
		failed[f.i] = true
	}
	var out []logRef
	for i, ref := range refs {
		if !failed[i] && ref.bucket == r.d.DigestS3Bucket {
			out = append(out, ref)
		}
	}
	return out, nil
}

// trailOfChain returns the trail name from a chain ID
// ("[prefix:][org/]account/region/trail[ (backfill)]").
func trailOfChain(id string) string {
	id = strings.TrimSuffix(id, " (backfill)")
	// The trail name may not contain "/", the rest is account/region.
	if i := strings.LastIndex(id, "/"); i >= 0 {
		return id[i+1:]
	}
	return id
}

// trailMatches tells whether an event's trail parameter (a name or an ARN)
// is the trail; an event that names no trail matches.
func trailMatches(param, trail string) bool {
	if param == "" {
		return true
	}
	return param == trail || strings.HasSuffix(param, ":trail/"+trail)
}

// record is the part of a CloudTrail record needed to explain a gap.
type record struct {
	EventName    string `json:"eventName"`
	EventSource  string `json:"eventSource"`
	EventTime    string `json:"eventTime"`
	AWSRegion    string `json:"awsRegion"`
	SourceIP     string `json:"sourceIPAddress"`
	UserAgent    string `json:"userAgent"`
	Recipient    string `json:"recipientAccountId"`
	UserIdentity struct {
		Type        string `json:"type"`
		ARN         string `json:"arn"`
		PrincipalID string `json:"principalId"`
		AccountID   string `json:"accountId"`
	} `json:"userIdentity"`
	RequestParameters struct {
		Name      string `json:"name"`
		TrailName string `json:"trailName"`
	} `json:"requestParameters"`
}

// controlEventsIn streams one log file's records and returns its trail
// control events.
func (e *engine) controlEventsIn(ctx context.Context, key, uri string) ([]report.Event, error) {
	rc, _, err := e.st.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(io.LimitReader(zr, maxExplainLogSize))
	// {"Records":[ ... ]}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var out []report.Event
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if name, _ := tok.(string); name != "Records" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return nil, err
		}
		for dec.More() {
			var r record
			if err := dec.Decode(&r); err != nil {
				return nil, err
			}
			if r.EventSource != "cloudtrail.amazonaws.com" || !controlEvents[r.EventName] {
				continue
			}
			t, err := time.Parse(time.RFC3339, r.EventTime)
			if err != nil {
				continue
			}
			actor := r.UserIdentity.ARN
			if actor == "" {
				actor = strings.TrimSpace(r.UserIdentity.Type + " " + r.UserIdentity.PrincipalID)
			}
			trail := r.RequestParameters.Name
			if trail == "" {
				trail = r.RequestParameters.TrailName
			}
			account := r.Recipient
			if account == "" {
				account = r.UserIdentity.AccountID
			}
			out = append(out, report.Event{Name: r.EventName, Time: t.UTC(), Actor: actor, SourceIP: r.SourceIP,
				UserAgent: r.UserAgent, Region: r.AWSRegion, Account: account, Trail: trail, LogFile: uri})
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q", want)
	}
	return nil
}
