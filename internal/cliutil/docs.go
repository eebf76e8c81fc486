package cliutil

import (
	"errors"
	"fmt"
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
// writing the man page or the completion script to the app's writer, and
// reports whether it did. A shell that CompletionScript does not know is
// handed to badShell, whose error is returned: each command words and exits
// on usage errors its own way.
func Docs(c *cli.Context, badShell func(shell string) error) (bool, error) {
	switch {
	case c.Bool(FlagMan):
		return true, WriteMan(c.App.Writer, c.App)
	case c.IsSet(FlagCompletion):
		shell := c.String(FlagCompletion)
		err := WriteCompletion(c.App.Writer, c.App, shell)
		if errors.Is(err, ErrUnknownShell) {
			return true, badShell(shell)
		}
		return true, err
	}
	return false, nil
}
