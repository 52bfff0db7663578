package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the process's standard streams and environment, injected so
// that tests run commands in-process with terminals on or off.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutIsTTY and ErrIsTTY say whether stdout and stderr are terminals:
	// color by default only on a terminal, progress only on a terminal.
	OutIsTTY bool
	ErrIsTTY bool
	// Args are the command-line arguments (for reports that record the
	// exact command).
	Args []string
	// Getenv reads the environment (NO_COLOR, CLICOLOR, CLICOLOR_FORCE).
	Getenv func(string) string
}

func systemStreams() *IOStreams {
	return &IOStreams{
		In:       os.Stdin,
		Out:      os.Stdout,
		ErrOut:   os.Stderr,
		OutIsTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrIsTTY: term.IsTerminal(int(os.Stderr.Fd())),
		Getenv:   os.Getenv,
	}
}

// colorEnabled decides whether to color the text output. An explicit
// --color always or never wins over the environment (as no-color.org
// asks); auto colors a terminal unless NO_COLOR is set, CLICOLOR=0 or
// TERM=dumb, and CLICOLOR_FORCE forces color into a pipe.
func (s *IOStreams) colorEnabled(mode string) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if getenv("NO_COLOR") != "" {
		return false
	}
	if v := getenv("CLICOLOR_FORCE"); v != "" && v != "0" {
		return true
	}
	if getenv("CLICOLOR") == "0" || getenv("TERM") == "dumb" {
		return false
	}
	return s.OutIsTTY
}
