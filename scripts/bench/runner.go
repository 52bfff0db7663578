package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// command is one program invocation the harness measures.
type command struct {
	Name string   // label in the report
	Path string   // executable
	Args []string // arguments after the executable
	Env  []string // full environment; nil means the harness's own
	// Show is how the command is printed in the report (paths shortened);
	// empty means Path and Args as they are.
	Show string
}

// run is one measured execution.
type run struct {
	Wall      time.Duration
	User, Sys time.Duration
	MaxRSS    int64 // bytes, from wait4 (GNU time -v: "Maximum resident set size")
	Exit      int
	Stdout    []byte
	Stderr    []byte
}

// gnuTime is the path of GNU time, when found (findGNUTime). Peak RSS is
// then GNU time's "%M": wait4's ru_maxrss of a child that GNU time, a small
// process, forked. The harness's own wait4 figure is only a fallback: Go
// starts children with vfork, and Linux carries the parent's RSS high-water
// mark over into the child's ru_maxrss at exec, so the figure cannot be
// lower than the harness's own RSS (tens of MB here).
var gnuTime string

// findGNUTime looks for GNU time on PATH (the package "time").
func findGNUTime() string {
	for _, p := range []string{"/usr/bin/time", "time"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if out, _ := exec.Command(path, "--version").CombinedOutput(); bytes.Contains(out, []byte("GNU")) {
			return path
		}
	}
	return ""
}

// execute runs c to its end. A non-zero exit is not an error (the caller
// checks Exit); failing to start is.
func execute(ctx context.Context, c command) (run, error) {
	path, args := c.Path, c.Args
	var rssFile string
	if gnuTime != "" {
		f, err := os.CreateTemp("", "bench-rss-*")
		if err != nil {
			return run{}, err
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		path, args = gnuTime, append([]string{"-f", "%M", "-o", rssFile, c.Path}, c.Args...)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = c.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	r := run{Wall: time.Since(t0), Stdout: out.Bytes(), Stderr: errb.Bytes()}
	if cmd.ProcessState == nil {
		return r, fmt.Errorf("%s: %w", c.Name, err)
	}
	r.Exit = cmd.ProcessState.ExitCode()
	r.User, r.Sys = cmd.ProcessState.UserTime(), cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSS = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	if rssFile != "" {
		// GNU time writes "Command exited with non-zero status N" before
		// the figure when the command fails: the figure is the last line.
		b, err := os.ReadFile(rssFile)
		lines := strings.Fields(string(b))
		if err != nil || len(lines) == 0 {
			return r, fmt.Errorf("%s: GNU time wrote no figure: %v %q", c.Name, err, b)
		}
		kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
		if err != nil {
			return r, fmt.Errorf("%s: GNU time: %q", c.Name, b)
		}
		r.MaxRSS = kb * 1024
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	return r, nil
}

// mustSucceed runs c and fails unless it exits 0.
func mustSucceed(ctx context.Context, c command) (run, error) {
	r, err := execute(ctx, c)
	if err != nil {
		return r, err
	}
	if r.Exit != 0 {
		return r, fmt.Errorf("%s exited %d:\n%s%s", c.Name, r.Exit, tail(r.Stdout, 2000), tail(r.Stderr, 2000))
	}
	return r, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// series is the runs of one command.
type series struct {
	Cmd  command
	Runs []run
}

func (s *series) walls() []time.Duration {
	var w []time.Duration
	for _, r := range s.Runs {
		w = append(w, r.Wall)
	}
	return w
}

// Median wall time.
func (s *series) Median() time.Duration { return median(s.walls()) }

// Min and Max wall time.
func (s *series) Min() time.Duration { return slices.Min(s.walls()) }
func (s *series) Max() time.Duration { return slices.Max(s.walls()) }

// MedianCPU is the median of user+system time.
func (s *series) MedianCPU() time.Duration {
	var c []time.Duration
	for _, r := range s.Runs {
		c = append(c, r.User+r.Sys)
	}
	return median(c)
}

// PeakRSS is the largest peak RSS of the runs.
func (s *series) PeakRSS() int64 {
	var m int64
	for _, r := range s.Runs {
		m = max(m, r.MaxRSS)
	}
	return m
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// rounds runs each command once per round, rounds times, interleaved (A B
// C, A B C, …) so that drift on a shared machine hits every command alike.
// check, when not nil, is called with every run and may fail it.
func rounds(ctx context.Context, n int, cmds []command, check func(command, run) error, progress func(string)) ([]*series, error) {
	out := make([]*series, len(cmds))
	for i, c := range cmds {
		out[i] = &series{Cmd: c}
	}
	for round := range n {
		for i, c := range cmds {
			r, err := mustSucceed(ctx, c)
			if err != nil {
				return nil, err
			}
			if check != nil {
				if err := check(c, r); err != nil {
					return nil, fmt.Errorf("%s: %w", c.Name, err)
				}
			}
			r.Stdout, r.Stderr = nil, nil // checked; do not keep
			out[i].Runs = append(out[i].Runs, r)
			if progress != nil {
				progress(fmt.Sprintf("round %d/%d %-34s %8s", round+1, n, c.Name, fmtDur(r.Wall)))
			}
		}
	}
	return out, nil
}

// environ returns the harness's environment without variables whose name
// starts with one of drop, plus extra.
func environ(drop []string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, p := range drop {
			if strings.HasPrefix(name, p) {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func fmtMB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
