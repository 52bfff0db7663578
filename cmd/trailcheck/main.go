// Command trailcheck verifies the integrity of AWS CloudTrail log files: it
// checks digest signatures, the links between digests, the hashes of the
// log files they list, and that nothing is missing. `trailcheck validate` is
// a faster, stricter replacement for `aws cloudtrail validate-logs`.
//
// The command is a thin client of the packages under pkg/: it parses flags,
// loads keys and signatures, calls validate.Run and renders the report.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// memoryLimit is the soft limit on the Go heap unless GOMEMLIMIT says
// otherwise. The engine's live memory is a few hundred bytes per log file
// (65 MB at 100,000); without a limit the collector lets the heap grow to
// twice that before collecting. With it, peak RSS stays under 150 MB at
// 100,000 log files at no measurable cost in time (docs/performance.md). It
// is soft: a larger trail still runs, collecting more often.
const memoryLimit = 128 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, let a second one kill the process at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], systemStreams()))
}
