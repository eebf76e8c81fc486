package main

import (
	_ "embed"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
)

//go:generate go test -run TestManPage -update

// Names of the flags that print documentation rather than dump.
const (
	flagCompletion = cliutil.FlagCompletion
	flagMan        = cliutil.FlagMan
)

// completionValues are the candidates of the options whose values the shell
// can complete; the other options that take a value are completed as files.
var completionValues = map[string][]string{flagOutput: {formClassic, formExtended, formJSON}}

// printDocs answers --generate-man and --completion, and reports whether
// one was given.
func printDocs(c *cli.Context) (bool, error) {
	return cliutil.DocsWithPage(c, manPage, func(shell string) error { return usagef(c, "%s", cliutil.ShellUsage(shell)) })
}

// manPage is the committed man page, which --generate-man prints (see
// cliutil.DocsWithPage); TestManPage keeps it current.
//
//go:embed pmapdump.8
var manPage string
