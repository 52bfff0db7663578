// Command bench measures trailcheck end to end and writes
// docs/performance.md:
//
//	go run ./scripts/bench -scenario all -out docs/performance.md
//	go run ./scripts/bench -quick            # smoke test: small sizes, no AWS CLI, < 1 min
//
// Scenarios (-scenario, comma-separated, or all):
//
//	s3       the loopback S3/CloudTrail stand-in (pkg/standin) with 20 ms added
//	         before each response; `aws cloudtrail validate-logs` against
//	         `trailcheck validate --trail-arn` at several worker counts
//	local    a local copy with logs of a few MB (about 1 GB decompressed):
//	         trailcheck's throughput against the machine's limit, the best
//	         gunzip+SHA-256 pipeline this program has (bench limit)
//	scale    10,000, 100,000 and 250,000 small log files on disk: time per file and
//	         peak RSS
//	startup  validating testdata/sample (hyperfine when on PATH)
//
// Every measured program runs as its own process; wall time, CPU time and
// peak RSS (getrusage, the figure GNU time -v prints as "Maximum resident
// set size") come from wait4. Generated trails are kept in -work and reused
// by later runs with the same sizes.
//
// The trailcheck measured is cmd/trailcheck, built into -work, when it
// builds (and, for s3, when `validate --help` offers --trail-arn);
// otherwise this program's own `validate` subcommand, which calls
// validate.Run as the CLI does (see fallback.go). -trailcheck picks one.
//
// Subcommands, used by the harness and usable alone:
//
//	bench limit [-impl klauspost|stdlib] [-workers N] DIR
//	    gunzip and SHA-256 every log file below DIR (CloudTrail/…/*.json.gz),
//	    N at once; prints one JSON line {files, bytes, decompressed, seconds}
//	bench validate --dir DIR --public-keys F --signatures F --start-time S --end-time E [--workers N] [--output json|text]
//	bench validate --trail-arn ARN --start-time S --end-time E [--workers N] [--output json|text]
//	    the library fallback for `trailcheck validate` (plus --cpuprofile,
//	    --memprofile, --memprofilerate, --store-trace for profiling the engine)
//	bench serve [-hours 170] [-logs-per-hour 12] [-latency 20ms]
//	    serve the s3 scenario's trail from the stand-in until interrupted;
//	    prints the shell lines that point the AWS CLI and trailcheck at it
package main

import (
	"fmt"
	"os"
)

// childEnv marks a process started by the harness from its own executable,
// so that a test binary (see main_test.go) runs the subcommand too.
const childEnv = "TRAILCHECK_BENCH_CHILD"

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs a subcommand or the harness and returns the exit status.
func dispatch(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "limit":
			return limitMain(args[1:], os.Stdout, os.Stderr)
		case "validate":
			return validateMain(args[1:], os.Stdout, os.Stderr)
		case "serve":
			return serveMain(args[1:], os.Stdout, os.Stderr)
		}
	}
	if err := harnessMain(args, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}
