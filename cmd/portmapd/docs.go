package main

import (
	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
)

//go:generate go test -run TestManPage -update

// completionValues are the candidates of the options whose values the shell
// can complete; the other options that take a value are completed as files.
var completionValues = map[string][]string{
	"log-format": {"text", "json"},
	"log-level":  {"debug", "info", "warn", "error"},
}

// printDocs answers --generate-man and --completion, and reports whether
// one was given; an unknown shell is a usage error (exit status 2).
func printDocs(c *cli.Context) (bool, error) {
	return cliutil.Docs(c, func(shell string) error { return usageError{cliutil.ShellUsage(shell)} })
}
