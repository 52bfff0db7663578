package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/awssource"
	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/render"
	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

// validateMain is the library fallback for `trailcheck validate`, for as
// long as cmd/trailcheck lacks a flag the harness needs: the same flags
// (those the benchmarks use), the same calls (store.NewLocal with
// store.WithMetadata and a key set for --dir; awssource.Open and Apply for
// --trail-arn; then validate.Run without KeepValid) and the same exit
// status (0 valid, 1 findings, 2 usage, 3 could not run).
func validateMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "local copy of the bucket")
	trailARN := fs.String("trail-arn", "", "trail to validate through S3 and CloudTrail")
	var keyFiles multiFlag
	fs.Var(&keyFiles, "public-keys", "public keys: region map FILE or REGION=FILE (repeatable)")
	sigPath := fs.String("signatures", "", "signatures file for a local copy")
	startText := fs.String("start-time", "", "start of the range (RFC 3339)")
	endText := fs.String("end-time", "", "end of the range (RFC 3339)")
	workers := fs.Int("workers", 0, "objects read at once (0: the engine's default)")
	output := fs.String("output", "text", "text or json")
	// Profiling, for findings about the engine (not CLI flags).
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	memProfile := fs.String("memprofile", "", "write a heap profile to `FILE`, taken when the heap in use peaks (sampled every 50 ms)")
	memRate := fs.Int("memprofilerate", 0, "runtime.MemProfileRate for --memprofile (0: Go's default, 512 KiB; 1: every allocation)")
	storeTrace := fs.String("store-trace", "", "write every store call (start, duration, operation, key) to `FILE` (TSV)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuProfile != "" {
		stopCPU, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "validate:", err)
			return 3
		}
		defer stopCPU()
	}
	if *memProfile != "" {
		if *memRate > 0 {
			runtime.MemProfileRate = *memRate
		}
		stopMem := startPeakHeapProfile(*memProfile, stderr)
		defer stopMem()
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "validate: "+format+"\n", a...)
		return 2
	}
	if (*dir == "") == (*trailARN == "") {
		return usage("give exactly one of --dir and --trail-arn")
	}
	start, err := time.Parse(time.RFC3339, *startText)
	if err != nil {
		return usage("--start-time: %v", err)
	}
	end, err := time.Parse(time.RFC3339, *endText)
	if err != nil {
		return usage("--end-time: %v", err)
	}
	if *output != "text" && *output != "json" {
		return usage("--output %q: text or json", *output)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	opts := validate.Options{Start: start, End: end, Workers: *workers}
	var st store.Store
	if *dir != "" {
		if len(keyFiles) == 0 {
			return usage("--dir needs --public-keys")
		}
		set := keys.NewSet()
		for _, spec := range keyFiles {
			region, file := "", spec
			if r, f, ok := strings.Cut(spec, "="); ok && digest.IsRegion(r) {
				region, file = r, f
			}
			data, err := os.ReadFile(file)
			if err != nil {
				fmt.Fprintln(stderr, "validate:", err)
				return 3
			}
			ks, err := keys.Parse(file, data, region)
			if err != nil {
				fmt.Fprintln(stderr, "validate:", err)
				return 3
			}
			set.Add(ks...)
		}
		opts.Keys = set
		local, err := store.NewLocal(*dir)
		if err != nil {
			fmt.Fprintln(stderr, "validate:", err)
			return 3
		}
		st = local
		if *sigPath != "" {
			sigs, err := store.LoadSignatures(*sigPath)
			if err != nil {
				fmt.Fprintln(stderr, "validate:", err)
				return 3
			}
			st = store.WithMetadata(st, sigs)
		}
	} else {
		src, err := awssource.Open(ctx, awssource.Config{
			TrailARN: *trailARN,
			Warnf:    func(f string, a ...any) { fmt.Fprintf(stderr, "validate: warning: "+f+"\n", a...) },
		})
		if err != nil {
			fmt.Fprintln(stderr, "validate:", err)
			return 3
		}
		src.Apply(&opts)
		st = src.Store
	}
	if *storeTrace != "" {
		tr := newTracingStore(st)
		st = tr
		defer tr.write(*storeTrace, stderr)
	}
	rep, err := validate.Run(ctx, st, opts)
	if err != nil {
		fmt.Fprintln(stderr, "validate:", err)
		return 3
	}
	if *output == "json" {
		err = render.JSON(stdout, rep)
	} else {
		err = render.Text(stdout, rep, render.TextOptions{})
	}
	if err != nil {
		fmt.Fprintln(stderr, "validate:", err)
		return 3
	}
	if rep.HasErrors() || rep.Verdict == report.Invalid {
		return 1
	}
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
