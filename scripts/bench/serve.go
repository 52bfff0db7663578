package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
)

// s3TrailConfig is the s3 scenario's trail: one account, one region, hours
// × perHour log files, 1 to 8 records each.
func s3TrailConfig(hours, perHour int) trailgen.Config {
	cfg := trailgen.DefaultConfig()
	cfg.Bucket = "trailcheck-bench-s3"
	cfg.TrailName = "bench-trail"
	cfg.Hours = hours
	cfg.LogsPerHourMin, cfg.LogsPerHourMax = perHour, perHour
	cfg.Seed = 7
	return cfg
}

// serveMain serves the s3 scenario's trail from the stand-in until
// interrupted, to run either tool against it by hand:
//
//	bench serve -latency 20ms > s3.env &
//	. ./s3.env
//	aws cloudtrail validate-logs --trail-arn "$TRAIL_ARN" --start-time "$START" --end-time "$END"
func serveMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hours := fs.Int("hours", 170, "hours of the one-region trail")
	perHour := fs.Int("logs-per-hour", 12, "log files an hour")
	latency := fs.Duration("latency", 20*time.Millisecond, "latency added before every response")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := s3TrailConfig(*hours, *perHour)
	tr, err := trailgen.Generate(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "serve:", err)
		return 1
	}
	srv, err := standin.Start(standin.Options{Latency: *latency})
	if err != nil {
		fmt.Fprintln(stderr, "serve:", err)
		return 1
	}
	defer srv.Close()
	trail, err := srv.LoadTrail(ctx, tr, "gzip")
	if err != nil {
		fmt.Fprintln(stderr, "serve:", err)
		return 1
	}
	for _, kv := range srv.Env() {
		fmt.Fprintf(stdout, "export %s\n", kv)
	}
	fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=%s\n", cfg.HomeRegion)
	fmt.Fprintf(stdout, "export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true\n")
	fmt.Fprintf(stdout, "export TRAIL_ARN=%s START=%s END=%s\n", trail.ARN(), fmtTime(tr.Start), fmtTime(tr.End))
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	fmt.Fprintf(stderr, "serve: %d log files, %d objects on %s (%s latency) until interrupted\n", tr.LogFiles, tr.Objects, srv.URL(), *latency)
	<-ctx.Done()
	return 0
}
