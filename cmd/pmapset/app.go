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
	exitOK    = 0 // every entry was registered (removed, synchronised)
	exitFail  = 1 // something was not, or the input was malformed, or the mapper unreachable
	exitUsage = 2 // the command line is wrong
)

// defaultTimeout bounds each call to the mapper: libtirpc's clnt_call
// default, the 25 seconds rpcinfo and pmap_set wait.
const defaultTimeout = 25 * time.Second

var (
	// errUsage marks a command-line error, already reported.
	errUsage = errors.New("pmapset: usage")
	// errReported marks a failure whose messages are already printed.
	errReported = errors.New("pmapset: failed")
)

const description = `pmapset reads registrations, as pmapdump(8) (or portmap's pmap_dump) prints them,
from its standard input or --file, and registers them with a port mapper
(portmap v2 or rpcbind v3/v4, program 100000).

It reads three forms, told apart line by line or by the first character:
pmap_dump's lines ("program version protocol port", the rest ignored),
pmapdump's extended lines ("program version netid address owner", the rest
ignored; fields may be quoted), which may be mixed with the first and with
'#' comment lines, and pmapdump's JSON document (also rpcinfo's -p and
default JSON documents). docs/pmapdump.md gives the grammar.

pmapset reads and checks the whole input first: a malformed line is reported
with its number and content, and then nothing at all is registered.

It then lists the mapper's registrations and makes its changes over one
connection, many calls in flight, each sent after the one before, so that the
mapper's listing keeps the file's order. A line of the classic form is
registered with a portmap v2 SET, an extended line with an rpcbind SET.
Entries of program 100000, the port mapper's own, are never registered nor
removed: the mapper registers itself. Registering an entry the mapper holds
already is harmless, so the same file can be given again. An entry the mapper
refuses is reported as "not registered: LINE (REASON)" and the others go on.

The mapper decides the owner of what is registered: "superuser" for root over
the local socket, the caller's uid for others there, "unknown" over the
network. pmapset sends the owner an extended line records, and afterwards
names the entries whose recorded owner the mapper did not keep.

--unset removes the listed entries instead. --sync makes the mapper hold
exactly the listed entries: it removes every other registration (except
program 100000's) and adds what is missing, printing "removed: LINE" and
"added: LINE" for each change; it refuses an input without entries, which
would remove everything. --dry-run prints what would be done
("would add: LINE", "would remove: LINE", ...) and changes nothing.

Without a host, pmapset talks to the local port mapper over its unix socket
(--socket, /run/rpcbind.sock) when that exists and no --port is given, and
over TCP to 127.0.0.1 otherwise. With a host it uses TCP to its --port; port
mappers accept changes only from the local host.

Exit status: 0 when every entry was registered (removed, synchronised), or a
dry run foresees no failure; 1 when an entry was not, the input is malformed,
or the port mapper could not be reached; 2 for a wrong command line.`

// Names of the flags.
const (
	flagFile   = "file"
	flagUnset  = "unset"
	flagSync   = "sync"
	flagDryRun = "dry-run"
)

// newApp builds the command; run and the man page test share it. args are
// the words of the command line, for completion.
func newApp(stdin io.Reader, stdout, stderr io.Writer, args []string) *cli.App {
	return &cli.App{
		Name:        "pmapset",
		Usage:       "register, remove or synchronise port mapper registrations from a pmapdump file",
		UsageText:   "pmapset [--file FILE] [--unset | --sync] [--dry-run] [--port PORT] [--timeout DURATION] [--socket PATH] [host]",
		Description: description,
		Version:     cliutil.Version(),
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: flagFile, Aliases: []string{"f"}, Value: "-", Usage: "read the registrations from `FILE` (- for the standard input)", TakesFile: true},
			&cli.BoolFlag{Name: flagUnset, Usage: "remove the listed entries instead of registering them"},
			&cli.BoolFlag{Name: flagSync, Usage: "make the port mapper hold exactly the listed entries (program 100000 aside); print what was added and removed"},
			&cli.BoolFlag{Name: flagDryRun, Aliases: []string{"n"}, Usage: "print what would be done and change nothing"},
		}, append(cliutil.MapperFlags(defaultTimeout, "how long to wait for each answer of the port mapper"), cliutil.DocFlags()...)...),
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		BashComplete:         cliutil.Completer(args, completionValues),
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		ExitErrHandler:       func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			fmt.Fprintf(stderr, "pmapset: %v\nUsage: pmapset [options] [host]; see pmapset --help\n", err)
			return errUsage
		},
		Action: setAction,
	}
}

// run runs pmapset with args (args[0] is the program name) and returns its
// exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := newApp(stdin, stdout, stderr, args).RunContext(ctx, args)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errReported):
		return exitFail
	}
	fmt.Fprintf(stderr, "pmapset: %v\n", err)
	return exitFail
}

// usagef reports a command-line error and returns errUsage.
func usagef(c *cli.Context, format string, a ...any) error {
	fmt.Fprintf(c.App.ErrWriter, "pmapset: "+format+"\nUsage: %s\n", append(a, c.App.UsageText)...)
	return errUsage
}
