package cliutil

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// DocFlags returns the definitions of the documentation flags every command
// has: --completion SHELL, and the hidden --generate-man that `go generate`
// uses to write the committed man page.
func DocFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: FlagCompletion, Usage: "print a completion script for this shell: " + strings.Join(Shells, ", ")},
		&cli.BoolFlag{Name: FlagMan, Hidden: true, Usage: "print the man page (roff)"},
	}
}

// ShellUsage is the words of a usage error for an unknown shell given to
// --completion, for the command to print after its own prefix.
func ShellUsage(shell string) string {
	return fmt.Sprintf("invalid value %q for --%s: want bash, zsh or fish", shell, FlagCompletion)
}

// Docs answers the documentation flags of DocFlags, if one was given, by
// writing the man page (rendered by ManPage) or the completion script to the
// app's writer, and reports whether it did. A shell that CompletionScript
// does not know is handed to badShell, whose error is returned: each command
// words and exits on usage errors its own way.
func Docs(c *cli.Context, badShell func(shell string) error) (bool, error) {
	return docs(c, func() (string, error) { return ManPage(c.App) }, badShell)
}

// DocsWithPage is Docs for a command that answers --generate-man with page,
// its committed man page embedded in the binary, instead of rendering it.
// The binary then never calls urfave/cli's man page generator: the flag
// keeps working in a build with the tag urfave_cli_no_docs, which leaves the
// generator out. The command's test keeps page equal to what ManPage
// renders (CheckManPage).
func DocsWithPage(c *cli.Context, page string, badShell func(shell string) error) (bool, error) {
	return docs(c, func() (string, error) { return page, nil }, badShell)
}

// docs is Docs with the man page given by man.
func docs(c *cli.Context, man func() (string, error), badShell func(shell string) error) (bool, error) {
	switch {
	case c.Bool(FlagMan):
		page, err := man()
		if err != nil {
			return true, err
		}
		_, err = io.WriteString(c.App.Writer, page)
		return true, err
	case IsSet(c, FlagCompletion):
		shell := c.String(FlagCompletion)
		err := WriteCompletion(c.App.Writer, c.App, shell)
		if errors.Is(err, ErrUnknownShell) {
			return true, badShell(shell)
		}
		return true, err
	}
	return false, nil
}
