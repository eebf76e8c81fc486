package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/urfave/cli/v2"
)

// The command line is read with the definitions of newApp, but without
// cli.App.Run: Run makes urfave/cli's help printer reachable, a text/template,
// and a binary that can execute templates keeps every exported method of
// every type it converts to an interface (the linker cannot tell which a
// template will call). With urfave/cli's man page renderer, which Run's
// --generate-man also reached, that was about 1.4 MB of portmapd's code and
// tables, all of it resident (the kernel maps a binary's pages in large
// blocks): 1.4 MiB of its RSS, for a help printed once in a while. So portmapd applies the
// flags to a flag.FlagSet itself, wraps the result in a cli.Context (the
// flags read as before), and prints its help, man page and fish completion
// without templates: help.go renders the help as urfave/cli's template does,
// and the man page and fish script are committed files embedded in the
// binary (docs.go). The tests hold all three equal to what urfave/cli
// renders from newApp.

// addVersionFlag adds to app the flag that cli.App.Setup adds to an App
// with a version, --version (-v), which the help, the man page and the
// completions list: a copy of cli.VersionFlag, since applying a flag writes
// to it and the global may be applied by another run at the same time.
func addVersionFlag(app *cli.App) {
	for _, f := range app.Flags {
		if slices.Contains(f.Names(), "version") {
			return
		}
	}
	v := *cli.VersionFlag.(*cli.BoolFlag)
	app.Flags = append(app.Flags, &v)
}

// parseCommandLine reads args (args[0] is the program's name) with app's
// flags, as cli.App.Run would, into a context carrying ctx. complete is true
// when the last word is urfave/cli's FlagBashComplete (the completion
// scripts ask for candidates that way): the word is left out and errors are
// ignored, since the line is still being typed. A flag the command does not
// know, a value it cannot read, or two names of one flag on one command line
// are usage errors.
func parseCommandLine(ctx context.Context, app *cli.App, args []string) (c *cli.Context, complete bool, err error) {
	addVersionFlag(app)
	words := args[min(1, len(args)):]
	if n := len(words); app.EnableBashCompletion && n > 0 && words[n-1] == "--"+cliutil.FlagBashComplete && !slices.Contains(args, "--") {
		words, complete = words[:n-1], true
	}
	set := flag.NewFlagSet(app.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range app.Flags {
		if err := f.Apply(set); err != nil {
			return nil, false, err // a default that does not parse: a bug, not a usage error
		}
	}
	err = set.Parse(words)
	if err == nil {
		err = oneForm(app.Flags, set)
	}
	c = cli.NewContext(app, set, nil)
	c.Context = ctx
	if err != nil && !complete {
		return c, false, usageError{err.Error() + " (see --help)"}
	}
	return c, complete, nil
}

// oneForm refuses a flag given under two of its names ("-h A --host B"),
// as urfave/cli does: its names share one value, and which was meant is
// unclear.
func oneForm(flags []cli.Flag, set *flag.FlagSet) error {
	given := make(map[string]bool)
	set.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, f := range flags {
		first := ""
		for _, name := range f.Names() {
			if !given[name] {
				continue
			}
			if first != "" {
				return fmt.Errorf("cannot use two forms of the same flag: %s %s", name, first)
			}
			first = name
		}
	}
	return nil
}

// execute runs the command line read into c: the help, the version, the
// documentation flags, or the server, in cli.App.Run's order.
func execute(c *cli.Context) error {
	if c.Bool("help") {
		return writeHelp(c.App.Writer, c.App)
	}
	if c.Bool("version") {
		_, err := fmt.Fprintf(c.App.Writer, "%s version %s\n", c.App.Name, c.App.Version)
		return err
	}
	if done, err := printDocs(c); done {
		return err
	}
	return serve(c)
}
