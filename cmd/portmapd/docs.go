package main

import (
	_ "embed"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
)

//go:generate go test -run "TestManPage|TestFishCompletion" -update

// completionValues are the candidates of the options whose values the shell
// can complete; the other options that take a value are completed as files.
var completionValues = map[string][]string{
	"log-format": {"text", "json"},
	"log-level":  {"debug", "info", "warn", "error"},
}

// manPage is the committed man page, portmapd.8, which --generate-man
// prints, and fishScript the committed fish completion script: both are
// rendered by urfave/cli from newApp with text/template, which the binary
// does without (cmdline.go). TestManPage and TestFishCompletion keep them
// equal to what urfave/cli renders; go generate rewrites them.
var (
	//go:embed portmapd.8
	manPage string
	//go:embed portmapd.fish
	fishScript string
)

// printDocs answers --generate-man and --completion, and reports whether
// one was given; an unknown shell is a usage error (exit status 2).
func printDocs(c *cli.Context) (bool, error) {
	var doc string
	switch {
	case c.Bool(cliutil.FlagMan):
		doc = manPage
	case c.IsSet(cliutil.FlagCompletion):
		switch shell := c.String(cliutil.FlagCompletion); shell {
		case "bash":
			doc = cliutil.BashScript(c.App.Name)
		case "zsh":
			doc = cliutil.ZshScript(c.App.Name)
		case "fish":
			doc = fishScript
		default:
			return true, usageError{cliutil.ShellUsage(shell)}
		}
	default:
		return false, nil
	}
	_, err := io.WriteString(c.App.Writer, doc)
	return true, err
}
