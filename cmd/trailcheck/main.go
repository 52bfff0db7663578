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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, let a second one kill the process at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], systemStreams()))
}
