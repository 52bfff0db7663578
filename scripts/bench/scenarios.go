package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
)

// ---- 1. S3 with latency -------------------------------------------------

type s3Result struct {
	Latency    time.Duration
	Hours      int
	LogFiles   int
	Digests    int
	Start, End time.Time
	Env        []string // shown
	AWS        *series  // nil when skipped
	AWSSkipped string
	AWSCounts  string // "170/170 digest files valid, 2040/2040 log files valid"
	Trailcheck []*series
	Workers    []int
	Requests   map[string]int // command name → requests per run (last run)
	// StandinCPU is the harness's own CPU time during each run of a
	// command: the stand-in serving it (the harness does nothing else
	// meanwhile).
	StandinCPU    map[string][]time.Duration
	TrailcheckIs  string
	TrailcheckCmd []string
}

var awsCounts = regexp.MustCompile(`(?m)^(\d+)/(\d+) (digest|log) files valid$`)

func (h *harness) scenarioS3(ctx context.Context) (*s3Result, error) {
	cfg := s3TrailConfig(h.o.S3Hours, h.o.S3LogsPerHour)
	h.logf("generating a %d-hour trail with %d log files an hour …", cfg.Hours, cfg.LogsPerHourMax)
	tr, err := trailgen.Generate(cfg)
	if err != nil {
		return nil, err
	}
	res := &s3Result{Latency: h.o.Latency, Hours: cfg.Hours, LogFiles: tr.LogFiles, Start: tr.Start, End: tr.End,
		Workers: h.o.S3Workers, Requests: map[string]int{}, StandinCPU: map[string][]time.Duration{}, TrailcheckIs: h.tcS3.Note}
	for _, c := range tr.Chains {
		res.Digests += len(c.Digests)
	}
	srv, err := standin.Start(standin.Options{Latency: h.o.Latency})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	trail, err := srv.LoadTrail(ctx, tr, "gzip")
	if err != nil {
		return nil, err
	}
	home := cfg.HomeRegion
	awsVars := append(srv.Env(),
		"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_DEFAULT_REGION="+home,
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
	env := environ([]string{"AWS_"}, awsVars...)
	res.Env = []string{"AWS_ENDPOINT_URL_S3=$STANDIN", "AWS_ENDPOINT_URL_CLOUDTRAIL=$STANDIN", "AWS_ENDPOINT_URL_ORGANIZATIONS=$STANDIN",
		"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_DEFAULT_REGION=" + home}
	rangeArgs := []string{"--trail-arn", trail.ARN(), "--start-time", fmtTime(tr.Start), "--end-time", fmtTime(tr.End)}

	var cmds []command
	for _, w := range h.o.S3Workers {
		args := append([]string{"validate"}, rangeArgs...)
		args = append(args, "--output", "json")
		name := "trailcheck (default workers)"
		if w > 0 {
			args = append(args, "--workers", strconv.Itoa(w))
			name = fmt.Sprintf("trailcheck --workers %d", w)
		}
		c := h.tcS3.command(name, env, args...)
		cmds = append(cmds, c)
		res.TrailcheckCmd = append(res.TrailcheckCmd, h.show(c))
	}
	lastCPU := selfCPU()
	// served records what the stand-in did for the run that just ended.
	served := func(c command) {
		now := selfCPU()
		res.StandinCPU[c.Name] = append(res.StandinCPU[c.Name], now-lastCPU)
		res.Requests[c.Name] = srv.Count("")
		srv.ResetRequests()
		lastCPU = selfCPU()
	}
	check := func(c command, r run) error {
		if _, err := checkReport(r.Stdout, res.Digests, res.LogFiles); err != nil {
			return err
		}
		served(c)
		return nil
	}
	// One untimed run of each: the binaries are read and the stand-in's
	// first connections are made.
	srv.ResetRequests()
	for _, c := range cmds {
		r, err := mustSucceed(ctx, c)
		if err != nil {
			return nil, err
		}
		if err := check(c, r); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	res.StandinCPU = map[string][]time.Duration{}
	lastCPU = selfCPU()

	if h.o.AWS == "yes" {
		awsPath, err := exec.LookPath("aws")
		if err != nil {
			return nil, fmt.Errorf("the AWS CLI (aws) is not on PATH; give -aws no to skip it")
		}
		c := command{Name: "aws cloudtrail validate-logs", Path: awsPath, Env: env,
			Args: append([]string{"cloudtrail", "validate-logs"}, rangeArgs...)}
		h.logf("running the AWS CLI %d time(s); each takes a while (serial requests, %s each) …", h.o.AWSRuns, h.o.Latency)
		ss, err := rounds(ctx, h.o.AWSRuns, []command{c}, func(_ command, r run) error {
			m := awsCounts.FindAllStringSubmatch(string(r.Stdout), -1)
			got := map[string][2]int{}
			for _, x := range m {
				a, _ := strconv.Atoi(x[1])
				b, _ := strconv.Atoi(x[2])
				got[x[3]] = [2]int{a, b}
			}
			if got["digest"] != [2]int{res.Digests, res.Digests} || got["log"] != [2]int{res.LogFiles, res.LogFiles} {
				return fmt.Errorf("the AWS CLI did not find %d/%d digests and %d/%d logs valid:\n%s%s",
					res.Digests, res.Digests, res.LogFiles, res.LogFiles, tail(r.Stdout, 1500), tail(r.Stderr, 1500))
			}
			res.AWSCounts = fmt.Sprintf("%d/%d digest files valid, %d/%d log files valid", got["digest"][0], got["digest"][1], got["log"][0], got["log"][1])
			served(c)
			return nil
		}, h.progress)
		if err != nil {
			return nil, err
		}
		res.AWS = ss[0]
		res.AWS.Cmd.Show = h.show(c)
	} else {
		res.AWSSkipped = "skipped (-aws no, the default with -quick)"
	}

	ss, err := rounds(ctx, h.runs(7, 2), cmds, check, h.progress)
	if err != nil {
		return nil, err
	}
	res.Trailcheck = ss
	return res, nil
}

// selfCPU is the harness's own user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ---- 2. Local copy with large logs ---------------------------------------

type localResult struct {
	Data         *dataset
	LogSize      int
	Decompressed int64
	Trailcheck   []*series // default workers first
	Limits       []*series // all cores first (klauspost, stdlib), then one core
	LimitIn      map[string]float64
	TrailcheckIs string
}

func (h *harness) scenarioLocal(ctx context.Context) (*localResult, error) {
	cfg := trailgen.DefaultConfig()
	cfg.Bucket = "trailcheck-bench-local"
	cfg.TrailName = "bench-trail"
	const perHour = 4
	cfg.Hours = max(1, h.o.LocalFiles/perHour)
	cfg.LogsPerHourMin, cfg.LogsPerHourMax = perHour, perHour
	cfg.LogSize = h.o.LocalLogSize
	cfg.Seed = 11
	d, err := h.dataset("local", cfg)
	if err != nil {
		return nil, err
	}
	res := &localResult{Data: d, LogSize: cfg.LogSize, LimitIn: map[string]float64{}, TrailcheckIs: h.tcLocal.Note}
	ncpu := runtime.NumCPU()
	tc := []command{
		h.tcLocal.command("trailcheck (default workers)", nil, localArgs(d, "--output", "json")...),
		h.tcLocal.command(fmt.Sprintf("trailcheck --workers %d", 2*ncpu), nil, localArgs(d, "--output", "json", "--workers", strconv.Itoa(2*ncpu))...),
	}
	lim := []command{
		h.self.command(fmt.Sprintf("limit klauspost, %d workers", ncpu), nil, "limit", "-impl", "klauspost", "-workers", strconv.Itoa(ncpu), d.Dir),
		h.self.command(fmt.Sprintf("limit stdlib, %d workers", ncpu), nil, "limit", "-impl", "stdlib", "-workers", strconv.Itoa(ncpu), d.Dir),
		h.self.command("limit klauspost, 1 worker", nil, "limit", "-impl", "klauspost", "-workers", "1", d.Dir),
	}
	var mu sync.Mutex
	check := func(c command, r run) error {
		if strings.HasPrefix(c.Name, "trailcheck") {
			_, err := checkReport(r.Stdout, d.Digests, d.LogFiles)
			return err
		}
		var lr limitResult
		if err := json.Unmarshal(r.Stdout, &lr); err != nil {
			return err
		}
		if lr.Files != d.LogFiles {
			return fmt.Errorf("hashed %d files, want %d", lr.Files, d.LogFiles)
		}
		mu.Lock()
		defer mu.Unlock()
		res.Decompressed = lr.Decompressed
		res.LimitIn[c.Name] = float64(lr.Decompressed) / lr.Seconds
		return nil
	}
	all := append(append([]command{}, tc...), lim...)
	// Warm the page cache: one untimed run of each (every file is read by
	// each), so that every timed run reads from memory.
	h.logf("warm-up (page cache) …")
	for _, c := range all {
		r, err := mustSucceed(ctx, c)
		if err != nil {
			return nil, err
		}
		if err := check(c, r); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	ss, err := rounds(ctx, h.runs(7, 2), all, check, h.progress)
	if err != nil {
		return nil, err
	}
	res.Trailcheck, res.Limits = ss[:len(tc)], ss[len(tc):]
	return res, nil
}

// throughput is decompressed bytes per second at the median.
func throughput(bytes int64, s *series) float64 {
	return float64(bytes) / s.Median().Seconds()
}

// ---- 3. Scale -----------------------------------------------------------

type scaleResult struct {
	Regions      []string
	LogsPerHour  int
	Points       []scalePoint
	TrailcheckIs string
}

type scalePoint struct {
	Want    int
	Regions int
	Data    *dataset
	Run     *series
}

// scaleRegions are the regions of the scale trails, used four at a time.
var scaleRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1",
	"us-east-2", "us-west-1", "us-west-2", "eu-central-1", "eu-west-2", "eu-west-3", "eu-north-1",
	"ap-northeast-1", "ap-northeast-2", "ap-south-1", "ca-central-1", "ap-southeast-1"}

// scaleMaxHours bounds a scale trail's length: beyond about three months
// the generator's embedded test keys come round again (the same
// fingerprint for two key windows), which no real trail has. Larger counts
// take more regions instead.
const scaleMaxHours = 2100

func (h *harness) scenarioScale(ctx context.Context) (*scaleResult, error) {
	res := &scaleResult{LogsPerHour: 12, TrailcheckIs: h.tcLocal.Note}
	var cmds []command
	var data []*dataset
	var nregions []int
	for _, n := range h.o.ScaleSizes {
		cfg := trailgen.DefaultConfig()
		cfg.Bucket = "trailcheck-bench-scale"
		cfg.TrailName = "bench-trail"
		groups := (n + 4*res.LogsPerHour*scaleMaxHours - 1) / (4 * res.LogsPerHour * scaleMaxHours)
		cfg.Regions = scaleRegions[:min(len(scaleRegions), 4*max(1, groups))]
		if len(cfg.Regions) > len(res.Regions) {
			res.Regions = cfg.Regions
		}
		nregions = append(nregions, len(cfg.Regions))
		cfg.LogsPerHourMin, cfg.LogsPerHourMax = res.LogsPerHour, res.LogsPerHour
		per := len(cfg.Regions) * res.LogsPerHour
		cfg.Hours = max(1, (n+per-1)/per)
		cfg.Seed = 13
		d, err := h.dataset(fmt.Sprintf("scale%d", n), cfg)
		if err != nil {
			return nil, err
		}
		data = append(data, d)
		cmds = append(cmds, h.tcLocal.command(fmt.Sprintf("trailcheck, %d log files", d.LogFiles), nil, localArgs(d, "--output", "json")...))
	}
	check := func(c command, r run) error {
		for i, cc := range cmds {
			if cc.Name == c.Name {
				_, err := checkReport(r.Stdout, data[i].Digests, data[i].LogFiles)
				return err
			}
		}
		return nil
	}
	for _, c := range cmds { // warm-up
		r, err := mustSucceed(ctx, c)
		if err != nil {
			return nil, err
		}
		if err := check(c, r); err != nil {
			return nil, err
		}
	}
	// The sizes alternate round by round, so that a noisy stretch of the
	// machine does not land on one size only.
	ss, err := rounds(ctx, h.runs(5, 1), cmds, check, h.progress)
	if err != nil {
		return nil, err
	}
	for i, n := range h.o.ScaleSizes {
		res.Points = append(res.Points, scalePoint{Want: n, Regions: nregions[i], Data: data[i], Run: ss[i]})
	}
	return res, nil
}

// ---- 4. Startup ---------------------------------------------------------

type startupResult struct {
	Cmd          string
	Internal     *series
	Hyperfine    *hyperfineResult
	HyperfineCmd string
	Skipped      string
	TrailcheckIs string
}

type hyperfineResult struct {
	Mean, Stddev, Median, Min, Max float64 // seconds
	Runs                           int
}

func (h *harness) scenarioStartup(ctx context.Context) (*startupResult, error) {
	sample := filepath.Join(h.o.Repo, "testdata", "sample")
	d := &dataset{Dir: sample, Keys: filepath.Join(sample, "keys.json"), Signatures: filepath.Join(sample, "signatures.json"),
		Start: trailgen.SampleStart, End: trailgen.SampleEnd}
	c := h.tcLocal.command("trailcheck testdata/sample", nil, localArgs(d)...)
	res := &startupResult{Cmd: h.show(c), TrailcheckIs: h.tcLocal.Note}
	for range 3 { // warm-up
		if _, err := mustSucceed(ctx, c); err != nil {
			return nil, err
		}
	}
	ss, err := rounds(ctx, h.o.StartupRuns, []command{c}, nil, nil)
	if err != nil {
		return nil, err
	}
	res.Internal = ss[0]
	if !h.o.Hyperfine {
		res.Skipped = "hyperfine not used (-hyperfine=false)"
		return res, nil
	}
	hf, err := exec.LookPath("hyperfine")
	if err != nil {
		res.Skipped = "hyperfine is not on PATH (apt-get install hyperfine)"
		return res, nil
	}
	jsonPath := filepath.Join(h.o.Work, "startup-hyperfine.json")
	line := strings.Join(append([]string{c.Path}, c.Args...), " ")
	hc := exec.CommandContext(ctx, hf, "-N", "--warmup", "3", "--runs", strconv.Itoa(h.o.StartupRuns),
		"--style", "none", "--export-json", jsonPath, line)
	if out, err := hc.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hyperfine: %v\n%s", err, out)
	}
	res.HyperfineCmd = fmt.Sprintf("hyperfine -N --warmup 3 --runs %d \"%s\"", h.o.StartupRuns, res.Cmd)
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Results []struct {
			Mean, Stddev, Median, Min, Max float64
			Times                          []float64
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Results) != 1 {
		return nil, fmt.Errorf("hyperfine's JSON: %v", err)
	}
	r := doc.Results[0]
	res.Hyperfine = &hyperfineResult{Mean: r.Mean, Stddev: r.Stddev, Median: r.Median, Min: r.Min, Max: r.Max, Runs: len(r.Times)}
	return res, nil
}
