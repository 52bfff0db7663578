// Package metrics writes a run's result in the Prometheus text exposition
// format, for node_exporter's textfile collector: a cron run writes the
// file, Prometheus scrapes it, and alerts fire on a failed run, a finding
// or a chain whose newest verified digest grows old.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/atomicfile"
	"github.com/trailcheck/trailcheck/pkg/report"
)

// Run describes the run itself, beyond the report.
type Run struct {
	Duration time.Duration
	// Completed is false when the run could not complete (rep may be nil).
	Completed bool
	// Finished is when the run ended.
	Finished time.Time
}

// Write writes the metrics of rep and run to w. Series are sorted, so the
// output is deterministic for a given report and run.
func Write(w io.Writer, rep *report.Report, run Run) error {
	bw := bufio.NewWriter(w)
	gauge := func(name, help string, samples []sample) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		sort.Slice(samples, func(i, j int) bool { return samples[i].labels < samples[j].labels })
		for _, s := range samples {
			fmt.Fprintf(bw, "%s%s %s\n", name, s.labels, formatFloat(s.value))
		}
	}
	success := 0.0
	if run.Completed && rep != nil && rep.Verdict == report.Valid {
		success = 1
	}
	completed := 0.0
	if run.Completed {
		completed = 1
	}
	gauge("trailcheck_run_success", "1 if the last run completed and everything in range verified.", []sample{{"", success}})
	gauge("trailcheck_run_completed", "1 if the last run completed (0: it could not, e.g. access denied).", []sample{{"", completed}})
	gauge("trailcheck_run_duration_seconds", "Duration of the last run.", []sample{{"", run.Duration.Seconds()}})
	gauge("trailcheck_run_timestamp_seconds", "When the last run finished.", []sample{{"", float64(run.Finished.Unix())}})
	if rep != nil {
		var newest, dv, dt, lv, lt []sample
		findings := map[string]float64{}
		for _, c := range rep.Chains {
			l := chainLabels(c)
			if c.Newest != nil {
				newest = append(newest, sample{l, float64(c.Newest.End.Unix())})
			}
			dv = append(dv, sample{l, float64(c.Digests.Valid)})
			dt = append(dt, sample{l, float64(c.Digests.Total)})
			lv = append(lv, sample{l, float64(c.Logs.Valid)})
			lt = append(lt, sample{l, float64(c.Logs.Total)})
			for _, k := range report.Kinds {
				findings[withKind(l, k)] = 0
			}
		}
		byID := map[string]report.Chain{}
		for _, c := range rep.Chains {
			byID[c.ID] = c
		}
		for _, f := range rep.Findings {
			c, ok := byID[f.Chain]
			if !ok {
				c = report.Chain{ID: "-"}
			}
			findings[withKind(chainLabels(c), f.Kind)]++
		}
		var fs []sample
		for l, v := range findings {
			fs = append(fs, sample{l, v})
		}
		gauge("trailcheck_chain_newest_verified_digest_end_timestamp_seconds", "End time of the newest verified digest of the chain.", newest)
		gauge("trailcheck_chain_digests_verified", "Digests verified in the last run.", dv)
		gauge("trailcheck_chain_digests", "Digests examined in the last run.", dt)
		gauge("trailcheck_chain_logs_verified", "Log files verified in the last run.", lv)
		gauge("trailcheck_chain_logs", "Log files examined in the last run.", lt)
		gauge("trailcheck_chain_findings", "Findings of the last run by kind.", fs)
	}
	return bw.Flush()
}

type sample struct {
	labels string
	value  float64
}

func chainLabels(c report.Chain) string {
	return fmt.Sprintf(`{chain="%s",account="%s",region="%s",trail="%s"}`,
		escape(c.ID), escape(c.Account), escape(c.Region), escape(c.Trail))
}

func withKind(labels string, k report.Kind) string {
	return strings.TrimSuffix(labels, "}") + `,kind="` + string(k) + `"}`
}

// escape escapes a label value as the exposition format requires.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

func formatFloat(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}

// WriteFile writes the metrics to path atomically (the textfile collector
// must never read a half-written file).
func WriteFile(path string, rep *report.Report, run Run) error {
	if err := atomicfile.WriteFile(path, 0o644, func(w io.Writer) error { return Write(w, rep, run) }); err != nil {
		return fmt.Errorf("metrics file %w", err)
	}
	return nil
}
