package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes. They are documented in the validate command's help.
const (
	exitValid       = 0
	exitInvalid     = 1
	exitUsage       = 2
	exitFailed      = 3
	exitInterrupted = 130
)

// exitError ends a command with an exit code, a one-line message (none for
// an integrity failure: the report already said it) and an optional hint.
type exitError struct {
	code int
	msg  string
	hint string
}

func (e *exitError) Error() string { return e.msg }

// usageError is a mistake in the command line: exit 2.
func usageError(hint, format string, a ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, a...), hint: hint}
}

// runError is a run that could not complete: exit 3.
func runError(hint, format string, a ...any) error {
	return &exitError{code: exitFailed, msg: fmt.Sprintf(format, a...), hint: hint}
}

// errInvalid is a completed run with integrity findings: exit 1.
var errInvalid = &exitError{code: exitInvalid}

var errInterrupted = &exitError{code: exitInterrupted, msg: "interrupted"}

// run runs trailcheck with args and returns the exit code. Only main exits.
func run(ctx context.Context, args []string, ios *IOStreams) int {
	ios.Args = args
	return execute(ctx, newRootCmd(ios, nil), args, ios)
}

// execute runs cmd and turns its error into an exit code and at most two
// lines on stderr: "trailcheck: error: …" and "trailcheck: hint: …".
func execute(ctx context.Context, cmd *cobra.Command, args []string, ios *IOStreams) int {
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitValid
	}
	var ee *exitError
	if ctx.Err() != nil {
		ee = errInterrupted
	} else if !errors.As(err, &ee) {
		// Anything else comes from cobra parsing the command line: an
		// unknown command or flag, or a bad flag value.
		msg, rest, _ := strings.Cut(err.Error(), "\n")
		hint := "run 'trailcheck --help' for usage"
		if _, sugg, ok := strings.Cut(rest, "Did you mean this?\n"); ok {
			if s := strings.TrimSpace(strings.SplitN(sugg, "\n", 2)[0]); s != "" {
				hint = fmt.Sprintf("did you mean 'trailcheck %s'?", s)
			}
		}
		ee = &exitError{code: exitUsage, msg: msg, hint: hint}
	}
	if ee.msg != "" {
		fmt.Fprintf(ios.ErrOut, "trailcheck: error: %s\n", ee.msg)
	}
	if ee.hint != "" {
		fmt.Fprintf(ios.ErrOut, "trailcheck: hint: %s\n", ee.hint)
	}
	return ee.code
}

// newRootCmd builds the command tree. validateF, when not nil, replaces
// the validate command's run function (tests).
func newRootCmd(ios *IOStreams, validateF func(context.Context, *ValidateOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trailcheck <command> [flags]",
		Short: "Verify the integrity of AWS CloudTrail log files",
		Long: `trailcheck verifies the integrity of AWS CloudTrail log files: digest
signatures, the chain of digests, the hash of every log file, and that no
digest or log file is missing, injected or moved.

'trailcheck validate' replaces 'aws cloudtrail validate-logs': it checks
more, runs faster, covers every region and account of a bucket in one run,
and with --output aws prints exactly what the AWS CLI prints.`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmd.SetIn(ios.In)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	cmd.SetVersionTemplate("trailcheck version {{.Version}}\n")
	cmd.SetFlagErrorFunc(flagError)
	cmd.CompletionOptions.DisableDefaultCmd = true

	cmd.AddCommand(NewCmdValidate(ios, validateF))
	cmd.AddCommand(NewCmdFetch(ios))
	cmd.AddCommand(NewCmdReport(ios, nil))
	cmd.AddCommand(NewCmdKeys(ios))
	cmd.AddCommand(NewCmdVersion(ios))
	return cmd
}

// noArgs refuses positional arguments with a usage error naming the
// command and its help.
func noArgs(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError(fmt.Sprintf("run 'trailcheck %s --help' for usage", name), "%s takes no arguments, got %q", name, args[0])
		}
		return nil
	}
}

// flagError makes a flag parsing error a usage error naming the help to read.
func flagError(cmd *cobra.Command, err error) error {
	return usageError(fmt.Sprintf("run '%s --help' for usage", cmd.CommandPath()), "%v", err)
}
