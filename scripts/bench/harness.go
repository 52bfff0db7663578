package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
)

var allScenarios = []string{"s3", "local", "scale", "startup"}

// options are the harness's flags.
type options struct {
	Scenarios  []string
	Quick      bool
	Out        string
	Work       string
	Trailcheck string // auto, self or a path
	BuildSelf  bool   // build this program into Work (else run os.Executable)
	AWS        string // auto, yes, no
	AWSRuns    int
	Runs       int // 0: each scenario's default
	Hyperfine  bool
	Repo       string

	Latency       time.Duration
	S3Hours       int
	S3LogsPerHour int
	S3Workers     []int // 0 is the default

	LocalFiles   int
	LocalLogSize int

	ScaleSizes []int

	StartupRuns int

	Log io.Writer // progress
}

func defaultOptions(quick bool) options {
	o := options{
		Quick: quick, Trailcheck: "auto", BuildSelf: true, AWS: "auto", AWSRuns: 2, Hyperfine: true,
		Scenarios: allScenarios, Latency: 20 * time.Millisecond,
		S3Hours: 170, S3LogsPerHour: 12, S3Workers: []int{0, 16, 64, 256},
		LocalFiles: 256, LocalLogSize: 4 << 20,
		ScaleSizes:  []int{10_000, 100_000, 250_000},
		StartupRuns: 30,
	}
	if quick {
		o.S3Hours, o.S3LogsPerHour, o.S3Workers = 12, 4, []int{0, 16}
		o.LocalFiles, o.LocalLogSize = 24, 1<<20
		o.ScaleSizes = []int{1_000, 2_000}
		o.StartupRuns = 5
	}
	return o
}

func harnessMain(args []string, log io.Writer) error {
	quick := false
	for _, a := range args {
		if a == "-quick" || a == "--quick" || a == "-quick=true" || a == "--quick=true" {
			quick = true
		}
	}
	o := defaultOptions(quick)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(log)
	scen := fs.String("scenario", "all", "scenarios to run: all, or a comma-separated list of "+strings.Join(allScenarios, ","))
	fs.BoolVar(&o.Quick, "quick", quick, "small sizes, few runs, no AWS CLI unless -aws yes: a smoke test of the plumbing (timings mean little)")
	fs.StringVar(&o.Out, "out", "", "write the report (Markdown) to `FILE`, e.g. docs/performance.md; default: stdout")
	fs.StringVar(&o.Work, "work", filepath.Join(os.TempDir(), "trailcheck-bench"), "work `DIR`: binaries and generated trails (kept and reused)")
	fs.StringVar(&o.Trailcheck, "trailcheck", o.Trailcheck, "trailcheck to measure: auto (build ./cmd/trailcheck, fall back to this program's validate where it lacks a flag), self, or a `PATH`")
	fs.StringVar(&o.AWS, "aws", o.AWS, "run the AWS CLI in the s3 scenario: auto (yes unless -quick), yes or no")
	fs.IntVar(&o.AWSRuns, "aws-runs", o.AWSRuns, "AWS CLI runs in the s3 scenario (each takes minutes)")
	fs.IntVar(&o.Runs, "runs", 0, "timed runs of each trailcheck command (0: the scenario's default)")
	fs.BoolVar(&o.Hyperfine, "hyperfine", o.Hyperfine, "also time the startup scenario with hyperfine when it is on PATH")
	fs.DurationVar(&o.Latency, "latency", o.Latency, "latency the stand-in adds before each response")
	fs.IntVar(&o.S3Hours, "s3-hours", o.S3Hours, "hours of the s3 scenario's one-region trail")
	fs.IntVar(&o.S3LogsPerHour, "s3-logs-per-hour", o.S3LogsPerHour, "log files per hour in the s3 scenario")
	s3w := fs.String("s3-workers", joinInts(o.S3Workers), "trailcheck --workers values for s3 (0: its default)")
	fs.IntVar(&o.LocalFiles, "local-files", o.LocalFiles, "log files in the local scenario")
	fs.IntVar(&o.LocalLogSize, "local-log-size", o.LocalLogSize, "decompressed bytes per log file in the local scenario")
	scale := fs.String("scale", joinInts(o.ScaleSizes), "log file counts of the scale scenario")
	fs.IntVar(&o.StartupRuns, "startup-runs", o.StartupRuns, "timed runs of the startup scenario")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (subcommands: limit, validate)", fs.Arg(0))
	}
	var err error
	if o.S3Workers, err = parseInts(*s3w); err != nil {
		return fmt.Errorf("-s3-workers: %v", err)
	}
	if o.ScaleSizes, err = parseInts(*scale); err != nil {
		return fmt.Errorf("-scale: %v", err)
	}
	if *scen != "all" {
		o.Scenarios = nil
		for _, s := range strings.Split(*scen, ",") {
			if !contains(allScenarios, s) {
				return fmt.Errorf("-scenario %q: not one of %s", s, strings.Join(allScenarios, ","))
			}
			o.Scenarios = append(o.Scenarios, s)
		}
	}
	o.Log = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return runHarness(ctx, o)
}

// tool is a program the harness runs, with the arguments that come first.
type tool struct {
	Path   string
	Prefix []string
	Show   string // how the report names it
	Note   string // what it is
}

func (t tool) command(name string, env []string, args ...string) command {
	if env == nil {
		env = os.Environ()
	}
	// Marks this program's own subcommands (harmless for another binary):
	// a test binary standing in for this program dispatches on it.
	env = append(env[:len(env):len(env)], childEnv+"=1")
	return command{Name: name, Path: t.Path, Args: append(append([]string{}, t.Prefix...), args...), Env: env}
}

type harness struct {
	o       options
	started time.Time
	self    tool // this program (limit, validate subcommands)
	tcLocal tool // trailcheck for --dir
	tcS3    tool // trailcheck for --trail-arn
	notes   []string

	results results
}

// results is everything the report needs.
type results struct {
	Machine machine
	S3      *s3Result
	Local   *localResult
	Scale   *scaleResult
	Startup *startupResult
	Errors  map[string]string // scenario → error
}

func runHarness(ctx context.Context, o options) error {
	if o.Repo == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		o.Repo = root
	}
	if err := os.MkdirAll(o.Work, 0o755); err != nil {
		return err
	}
	work, err := filepath.Abs(o.Work)
	if err != nil {
		return err
	}
	o.Work = work
	if o.AWS == "auto" {
		o.AWS = "yes"
		if o.Quick {
			o.AWS = "no"
		}
	}
	if o.AWS != "yes" && o.AWS != "no" {
		return fmt.Errorf("-aws %q: auto, yes or no", o.AWS)
	}
	h := &harness{o: o, started: time.Now(), results: results{Errors: map[string]string{}}}
	gnuTime = findGNUTime()
	if gnuTime == "" {
		h.notes = append(h.notes, "GNU time was not found (apt-get install time): peak RSS figures are the harness's wait4 ru_maxrss, an upper bound that cannot fall below the harness's own RSS.")
	}
	if err := h.setupTools(ctx); err != nil {
		return err
	}
	h.results.Machine = probeMachine(ctx, o.Repo)

	for _, s := range o.Scenarios {
		h.logf("== %s", s)
		var err error
		switch s {
		case "s3":
			h.results.S3, err = h.scenarioS3(ctx)
		case "local":
			h.results.Local, err = h.scenarioLocal(ctx)
		case "scale":
			h.results.Scale, err = h.scenarioScale(ctx)
		case "startup":
			h.results.Startup, err = h.scenarioStartup(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			h.logf("%s: FAILED: %v", s, err)
			h.results.Errors[s] = err.Error()
		}
	}
	doc := h.render()
	if o.Out == "" {
		fmt.Print(doc)
	} else {
		if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.Out, []byte(doc), 0o644); err != nil {
			return err
		}
		h.logf("wrote %s (%s in all)", o.Out, fmtDur(time.Since(h.started)))
	}
	if len(h.results.Errors) > 0 {
		return fmt.Errorf("%d scenario(s) failed: %s", len(h.results.Errors), strings.Join(mapKeys(h.results.Errors), ", "))
	}
	return nil
}

func (h *harness) logf(format string, a ...any) {
	if h.o.Log != nil {
		fmt.Fprintf(h.o.Log, "bench: "+format+"\n", a...)
	}
}

func (h *harness) progress(s string) { h.logf("  %s", s) }

// runs is the number of timed runs for a scenario whose default is def
// (quickDef with -quick).
func (h *harness) runs(def, quickDef int) int {
	if h.o.Runs > 0 {
		return h.o.Runs
	}
	if h.o.Quick {
		return quickDef
	}
	return def
}

// setupTools builds (or finds) this program and trailcheck.
func (h *harness) setupTools(ctx context.Context) error {
	if h.o.BuildSelf {
		p := filepath.Join(h.o.Work, "bench")
		if err := h.goBuild(ctx, p, "./scripts/bench"); err != nil {
			return err
		}
		h.self = tool{Path: p, Show: "$WORK/bench", Note: "this program, `go build -o $WORK/bench ./scripts/bench`"}
	} else {
		p, err := os.Executable()
		if err != nil {
			return err
		}
		h.self = tool{Path: p, Show: p, Note: "this program"}
	}
	// The harness passes "validate" first, which is also this program's
	// subcommand.
	fallback := tool{Path: h.self.Path, Show: h.self.Show,
		Note: "scripts/bench's `validate` subcommand: validate.Run called as the CLI calls it (fallback)"}
	switch h.o.Trailcheck {
	case "self":
		h.tcLocal, h.tcS3 = fallback, fallback
		h.notes = append(h.notes, "trailcheck was the library fallback (-trailcheck self).")
	case "auto":
		p := filepath.Join(h.o.Work, "trailcheck")
		if err := h.goBuild(ctx, p, "./cmd/trailcheck"); err != nil {
			h.logf("cmd/trailcheck does not build; measuring the library fallback: %v", err)
			h.tcLocal, h.tcS3 = fallback, fallback
			h.notes = append(h.notes, "cmd/trailcheck did not build; every trailcheck figure is the library fallback (`bench validate`).")
			return nil
		}
		built := tool{Path: p, Show: "$WORK/trailcheck", Note: "cmd/trailcheck, `go build -trimpath -ldflags '-s -w' -o $WORK/trailcheck ./cmd/trailcheck`"}
		h.tcLocal, h.tcS3 = built, built
		help, _ := exec.CommandContext(ctx, p, "validate", "--help").CombinedOutput()
		if !bytes.Contains(help, []byte("--trail-arn")) {
			h.tcS3 = fallback
			h.notes = append(h.notes, "cmd/trailcheck has no --trail-arn yet: the S3 figures are the library fallback (`bench validate --trail-arn`, same engine, same awssource calls); the local figures are cmd/trailcheck.")
			h.logf("cmd/trailcheck has no --trail-arn yet: s3 uses the library fallback")
		}
	default:
		p, err := filepath.Abs(h.o.Trailcheck)
		if err != nil {
			return err
		}
		t := tool{Path: p, Show: p, Note: "given with -trailcheck"}
		h.tcLocal, h.tcS3 = t, t
	}
	return nil
}

func (h *harness) goBuild(ctx context.Context, out, pkg string) error {
	h.logf("go build -o %s %s", out, pkg)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = h.o.Repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// show renders a command for the report: work and repository paths
// shortened, tools by their names.
func (h *harness) show(c command, envShow ...string) string {
	path := c.Path
	for _, t := range []tool{h.tcLocal, h.tcS3, h.self} {
		if t.Path == c.Path {
			path = t.Show
		}
	}
	if path == c.Path && filepath.IsAbs(path) {
		path = filepath.Base(path)
	}
	parts := append([]string{}, envShow...)
	parts = append(parts, path)
	for _, a := range c.Args {
		a = strings.ReplaceAll(a, h.o.Work, "$WORK")
		if rel, ok := strings.CutPrefix(a, h.o.Repo+string(filepath.Separator)); ok {
			a = rel
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// dataset is a generated trail on disk.
type dataset struct {
	Dir        string // the bucket's root
	Signatures string
	Keys       string
	Start, End time.Time
	LogFiles   int
	Digests    int
	Objects    int
	Bytes      int64 // stored bytes of every object
	Seconds    float64
}

// dataset generates cfg's trail into Work/NAME-HASH (streaming, with
// GenerateDir), or reuses it from an earlier run.
func (h *harness) dataset(name string, cfg trailgen.Config) (*dataset, error) {
	cj, _ := json.Marshal(cfg)
	sum := sha256.Sum256(cj)
	root := filepath.Join(h.o.Work, fmt.Sprintf("%s-%x", name, sum[:5]))
	stamp := filepath.Join(root, "dataset.json")
	if b, err := os.ReadFile(stamp); err == nil {
		var d dataset
		if json.Unmarshal(b, &d) == nil && d.Dir != "" {
			h.logf("reusing %s (%d log files)", root, d.LogFiles)
			return &d, nil
		}
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	h.logf("generating %s …", root)
	t0 := time.Now()
	d := &dataset{Dir: filepath.Join(root, "bucket"), Signatures: filepath.Join(root, "signatures.json"), Keys: filepath.Join(root, "keys.json")}
	tr, err := trailgen.GenerateDir(cfg, d.Dir)
	if err != nil {
		return nil, err
	}
	if err := tr.WriteSidecars(d.Signatures, d.Keys); err != nil {
		return nil, err
	}
	d.Start, d.End, d.LogFiles, d.Objects, d.Bytes = tr.Start, tr.End, tr.LogFiles, tr.Objects, tr.Bytes
	for _, c := range tr.Chains {
		d.Digests += len(c.Digests)
	}
	d.Seconds = time.Since(t0).Seconds()
	b, _ := json.MarshalIndent(d, "", "  ")
	if err := os.WriteFile(stamp, b, 0o644); err != nil {
		return nil, err
	}
	h.logf("generated %d log files, %s, in %s", d.LogFiles, fmtMB(d.Bytes), fmtDur(time.Since(t0)))
	return d, nil
}

// localArgs are trailcheck's arguments for a dataset.
func localArgs(d *dataset, extra ...string) []string {
	return append([]string{"validate", "--dir", d.Dir, "--public-keys", d.Keys, "--signatures", d.Signatures,
		"--start-time", fmtTime(d.Start), "--end-time", fmtTime(d.End)}, extra...)
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// checkReport parses trailcheck's JSON report and checks that it is valid
// with the expected counts (-1: any).
func checkReport(out []byte, digests, logs int) (*report.Report, error) {
	var rep report.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("report is not JSON: %v\n%s", err, tail(out, 500))
	}
	s := rep.Summary
	switch {
	case rep.Verdict != report.Valid:
		return &rep, fmt.Errorf("verdict %q: %v", rep.Verdict, s.ByKind)
	case s.Digests.Valid != s.Digests.Total || s.Logs.Valid != s.Logs.Total:
		return &rep, fmt.Errorf("not all valid: digests %+v logs %+v", s.Digests, s.Logs)
	case digests >= 0 && s.Digests.Total != digests:
		return &rep, fmt.Errorf("%d digests, want %d", s.Digests.Total, digests)
	case logs >= 0 && s.Logs.Total != logs:
		return &rep, fmt.Errorf("%d log files, want %d", s.Logs.Total, logs)
	}
	return &rep, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/trailcheck/trailcheck\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the trailcheck module (run from the repository)")
		}
		dir = parent
	}
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ReplaceAll(strings.TrimSpace(f), "_", "")
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func joinInts(v []int) string {
	var s []string
	for _, n := range v {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ",")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
