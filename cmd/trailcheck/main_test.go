package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run the test binary as the trailcheck command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"trailcheck": main})
}

// TestScript runs the end-to-end scripts in testdata/script: the real
// binary, its real streams and exit codes.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Setenv("TESTDATA", filepath.Join(wd, "testdata"))
			// The sample trail of the repository (make sample).
			env.Setenv("SAMPLE", filepath.Join(wd, "..", "..", "testdata", "sample"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// status N PROG ARGS... runs PROG and checks that it exits
			// with N; stdout and stderr can be checked afterwards.
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: status CODE PROG [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("status: %v", err)
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					ee, ok := err.(interface{ ExitCode() int })
					if !ok {
						ts.Fatalf("status: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("exit status %d, want %d", got, want)
				}
			},
		},
	})
}

// cli runs trailcheck in-process with buffers for streams.
type cli struct {
	out, errOut bytes.Buffer
	ios         *IOStreams
}

func newCLI(env map[string]string) *cli {
	c := &cli{}
	c.ios = &IOStreams{
		In:     &bytes.Buffer{},
		Out:    &c.out,
		ErrOut: &c.errOut,
		Getenv: func(k string) string { return env[k] },
	}
	return c
}

func (c *cli) run(t *testing.T, args ...string) int {
	t.Helper()
	return run(t.Context(), args, c.ios)
}

// runWith runs trailcheck with a stand-in for validate.Run.
func (c *cli) runWith(ctx context.Context, fake validateFunc, args ...string) int {
	root := newRootCmd(c.ios, func(ctx context.Context, o *ValidateOptions) error {
		o.validate = fake
		return runValidate(ctx, o)
	})
	return execute(ctx, root, args, c.ios)
}
