package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
)

// Exit statuses.
const (
	exitOK    = 0 // the dump was printed
	exitFail  = 1 // the mapper could not be reached or answered with an error
	exitUsage = 2 // the command line is wrong
)

// defaultTimeout bounds each call to the mapper: libtirpc's clnt_call
// default, the 25 seconds rpcinfo and pmap_dump wait.
const defaultTimeout = 25 * time.Second

// Output forms of -o.
const (
	formClassic  = "classic"
	formExtended = "extended"
	formJSON     = "json"
)

// errUsage marks a command-line error, already reported.
var errUsage = errors.New("pmapdump: usage")

const description = `pmapdump asks a port mapper (portmap v2 or rpcbind v3/v4, program 100000) for its
registrations and prints them in a form pmapset(8) reads back, so that they
survive a restart of the port mapper or move to another host.

The classic form (-o classic, the default) is portmap's pmap_dump output, byte
for byte: one line per portmap v2 mapping (a v2 DUMP),

    printf("%10u %4u %5s %6u  %s\n", program, version, protocol, port, service)

with the protocol "tcp", "udp" or its number, and the service name from
/etc/rpc (empty when unknown).

The extended form (-o extended) lists rpcbind's registrations (a v4 DUMP,
or v3, falling back to the classic lines for a mapper that speaks only v2):
program, version, netid, universal address and owner, then the service
name, after a '#' header line. A field with blanks, control bytes, quotes
or backslashes, or an empty one, is quoted with backslash escapes.

The JSON form (-o json) holds the same entries as the extended form in a
document whose "schema" is "pmap.pmapdump/v1" and whose "kind" is
"registrations" (or "mappings" for a v2-only mapper).

Without a host, pmapdump asks the local port mapper over its unix socket
(--socket, /run/rpcbind.sock) when that exists and no --port is given, and
over TCP to 127.0.0.1 otherwise. With a host it uses TCP to its --port.

Unlike pmap_dump, a port mapper that cannot be reached is an error.

Exit status: 0 when the registrations were printed, 1 when the port mapper
could not be reached or failed, 2 for a wrong command line.

docs/pmapdump.md has the full grammar of the forms.`

// Names of the flags.
const (
	flagOutput = "output"
)

// newApp builds the command; run and the man page test share it. args are
// the words of the command line, for completion.
func newApp(stdout, stderr io.Writer, args []string) *cli.App {
	return &cli.App{
		Name:        "pmapdump",
		Usage:       "print the registrations of a port mapper in a form pmapset reads back",
		UsageText:   "pmapdump [--output classic|extended|json] [--port PORT] [--timeout DURATION] [--socket PATH] [host]",
		Description: description,
		Version:     cliutil.Version(),
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: flagOutput, Aliases: []string{"o"}, Value: formClassic, Usage: "output form: classic (pmap_dump's lines), extended (rpcbind entries) or json"},
		}, append(cliutil.MapperFlags(defaultTimeout, "how long to wait for the port mapper's answer"), cliutil.DocFlags()...)...),
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		BashComplete:         cliutil.Completer(args, completionValues),
		Writer:               stdout,
		ErrWriter:            stderr,
		ExitErrHandler:       func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			fmt.Fprintf(stderr, "pmapdump: %v\nUsage: pmapdump [options] [host]; see pmapdump --help\n", err)
			return errUsage
		},
		Action: dumpAction,
	}
}

// run runs pmapdump with args (args[0] is the program name) and returns its
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr, args)
	err := app.RunContext(ctx, args)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	}
	fmt.Fprintf(stderr, "pmapdump: %v\n", err)
	return exitFail
}

// usagef reports a command-line error and returns errUsage.
func usagef(c *cli.Context, format string, a ...any) error {
	fmt.Fprintf(c.App.ErrWriter, "pmapdump: "+format+"\nUsage: %s\n", append(a, c.App.UsageText)...)
	return errUsage
}
