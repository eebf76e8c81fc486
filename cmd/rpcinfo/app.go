package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/audit"
	"github.com/portmap-toolkit/pmap/pkg/client"
)

// completionFlag is urfave/cli's hidden flag that asks for completions.
const completionFlag = cliutil.FlagBashComplete

// Names of the flags.
const (
	flagOutput     = "output"
	flagTimeout    = "timeout"
	flagPort       = "port"
	flagColor      = "color"
	flagCompletion = cliutil.FlagCompletion
	flagVersion    = "version"
	flagHelp       = "help"
	flagMan        = cliutil.FlagMan
	flagVerify     = "verify"
	flagNFS        = "nfs"
	flagParallel   = "parallel"
	flagProgress   = "progress"
	flagAudit      = "audit"
	flagDiscover   = "discover"
	flagProbe      = "probe"
	flagNoForward  = "no-forward"
	flagWindow     = "window"
	flagAttempts   = "attempts"
	flagPrograms   = "programs"
	flagRate       = "rate"
)

// Values of --color and --progress.
const (
	colorAuto   = "auto"
	colorAlways = "always"
	colorNever  = "never"
)

const description = `rpcinfo makes an RPC call to an RPC server and reports what it finds.

Without a mode option it lists the programs registered with rpcbind on host,
or on the local machine through /run/rpcbind.sock; -s lists them concisely,
-p with version 2 of the protocol (portmap), -m shows rpcbind's statistics and
-l the addresses of one program and version. -t, -u, -T and -a call procedure
0 of a program and report whether it answered; without a version they find
the versions it serves and call each. -b broadcasts that call and reports
every host that answers; -d deletes a registration. Programs are given by
number or by name (/etc/rpc).

Options and operands may be given in any order, as with GNU getopt; "--" ends
the options. Every failure exits with status 1.

Beyond the original, rpcinfo debugs port discovery. The listings (default,
-s, -p, -m, -l) ask several hosts at once when given several hosts (-p, -s,
-l), a comma-separated list or a CIDR range (192.0.2.0/24), at most --parallel
at a time, each answer labelled with its host (JSON lines with -o json); the
addresses of a range are first swept with one UDP call each and only those
whose port mapper answers are listed, so a range where most addresses are
silent takes about one timeout. --verify calls every registered address and
tells which registrations are alive, refused (the service died), silent,
answering other versions or taken by another program. --nfs host follows an
NFS client's path: port mapper, mountd, nfs, nlockmgr and status over tcp and
udp, one line per step, with the likely cause of each failure.

It also checks what a port mapper gives away. --audit host... measures, from
here, how many bytes each UDP reply carries for each byte of request (the
amplification factor of portmap and rpcbind DUMP and GETSTAT, every datagram
counted) and whether remote calls are forwarded, and says what fixes it; it
never registers or removes anything, and exits 2 when it finds a reflector or
a forwarder. --discover -T udp|tcp host:port... finds which RPC programs
answer at a port without asking the port mapper (nmap's rpc-grind), and the
versions they serve. Both take lists and ranges of hosts like the listings.

The output, messages and exit status are those of rpcinfo from rpcbind 1.2.6;
-o table and -o json give the same answers as a table or as a JSON document
(schema pmap.rpcinfo/v1). docs/rpcinfo.md lists where this implementation
departs from the original on purpose.`

// newApp returns the command's definition: its flags (rpcinfo's own, which
// the arguments check has already vetted, and this implementation's long
// ones), help, completion and man page. cl is the command line as getopt read
// it and words the arguments it was read from, for completion.
func (r *runner) newApp(cl cmdline, words []string) *cli.App {
	return &cli.App{
		Name:                 "rpcinfo",
		Usage:                "report RPC information",
		UsageText:            strings.TrimSpace(strings.ReplaceAll(strings.TrimPrefix(usageText, "Usage: "), "       rpcinfo", "rpcinfo")),
		Description:          description,
		Version:              cliutil.Version(),
		HideHelp:             true,
		HideHelpCommand:      true,
		HideVersion:          true,
		EnableBashCompletion: true,
		Writer:               r.stdout,
		ErrWriter:            r.stderr,
		Flags:                flags(),
		Action:               r.action,
		BashComplete:         func(c *cli.Context) { r.complete(c, cl, words) },
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			fmt.Fprintf(r.stderr, "%s: %v\n", r.prog, err)
			return errFailed
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run, not urfave/cli, decides the exit
	}
}

// flags defines every option: rpcinfo's (one letter) and this
// implementation's (long).
func flags() []cli.Flag {
	return append([]cli.Flag{
		&cli.BoolFlag{Name: "p", DisableDefaultText: true, Usage: "list the registrations with portmap (rpcbind version 2) DUMP: rpcinfo -p [host]"},
		&cli.BoolFlag{Name: "s", DisableDefaultText: true, Usage: "list the registered programs concisely: rpcinfo -s [host]"},
		&cli.BoolFlag{Name: "m", DisableDefaultText: true, Usage: "show rpcbind's statistics: rpcinfo -m [host]"},
		&cli.BoolFlag{Name: "l", DisableDefaultText: true, Usage: "list the addresses of prognum versnum on host: rpcinfo -l [-T netid] host prognum versnum"},
		&cli.BoolFlag{Name: "t", DisableDefaultText: true, Usage: "call procedure 0 of prognum over TCP: rpcinfo [-n portnum] -t host prognum [versnum]"},
		&cli.BoolFlag{Name: "u", DisableDefaultText: true, Usage: "call procedure 0 of prognum over UDP: rpcinfo [-n portnum] -u host prognum [versnum]"},
		&cli.BoolFlag{Name: "b", DisableDefaultText: true, Usage: "broadcast a call to procedure 0 and list who answers: rpcinfo -b [-T netid] prognum versnum"},
		&cli.BoolFlag{Name: "d", DisableDefaultText: true, Usage: "delete the registration of prognum versnum: rpcinfo -d [-T netid] prognum versnum"},
		&cli.StringFlag{Name: "a", Usage: "call procedure 0 at universal address `serv_address`, without asking rpcbind (needs -T)"},
		&cli.StringFlag{Name: "T", Usage: "the transport to use, a `netid`: udp, tcp, udp6, tcp6, local"},
		&cli.StringFlag{Name: "n", Usage: "call the service at port `portnum` instead of asking rpcbind (-t and -u)"},
		&cli.StringFlag{Name: flagOutput, Aliases: []string{"o"}, Value: render.Classic.String(),
			Usage: "output `form`: " + strings.Join(render.Formats(), ", ")},
		&cli.DurationFlag{Name: flagTimeout, Usage: "time limit of the whole query (of each host when several are asked or with --audit, of each step of --nfs, of each target of --discover), a `duration` such as 5s",
			DefaultText: "rpcinfo's own: 10s a call, 60s a listing; 5s a host when several are asked; 10s a host for --audit; none for --discover"},
		&cli.IntFlag{Name: flagPort, Usage: "`port` of the port mapper", Value: 111},
		&cli.StringFlag{Name: flagColor, Value: colorAuto, Usage: "color the table output, `when`: auto (on a terminal, unless NO_COLOR is set), always, never"},
		&cli.BoolFlag{Name: flagVerify, DisableDefaultText: true,
			Usage: "with a listing (default, -s, -p, -l): call procedure 0 at every registered address over its own transport and print each registration as alive (with the round-trip time), refused, silent, mismatch (the versions it serves), unavailable or failed; exit 1 unless all answer"},
		&cli.BoolFlag{Name: flagNFS, DisableDefaultText: true,
			Usage: "check an NFS client's path to host: port mapper, mountd, nfs, nlockmgr and status over tcp and udp, one line per step with the likely cause of a failure: rpcinfo --nfs host"},
		&cli.IntFlag{Name: flagParallel, Value: client.DefaultParallel,
			Usage:       "ask at most `n` hosts at once when a listing names several hosts or ranges (--audit: at most 25, 16 by default; --discover: 16 by default)",
			DefaultText: fmt.Sprint(client.DefaultParallel)},
		&cli.StringFlag{Name: flagProgress, Value: colorAuto,
			Usage: "progress bar on standard error while many hosts are asked, `when`: auto (when standard error is a terminal), always, never"},
		&cli.BoolFlag{Name: flagAudit, DisableDefaultText: true,
			Usage: "audit each host as a UDP reflector: the amplification factor of each probe (reply bytes over request bytes, every datagram counted) and whether remote calls are forwarded, with a verdict and the advice that fixes it; exit 2 when a reflector or forwarder is found: rpcinfo --audit host..."},
		&cli.StringFlag{Name: flagProbe, Value: "all",
			Usage: "with --audit: the probes to run, a comma-separated `list` of dump-v2, dump-v3, dump-v4, getstat-v4, or all, or none (the forwarding check only)"},
		&cli.BoolFlag{Name: flagNoForward, DisableDefaultText: true, Usage: "with --audit: leave out the forwarding check"},
		&cli.IntFlag{Name: flagAttempts, Value: audit.DefaultAttempts,
			Usage: "with --audit: send each probe up to `n` times while nothing comes back (every send counts in the factor)"},
		&cli.DurationFlag{Name: flagWindow,
			Usage:       "with --audit, how long each probe listens after a send; with --discover, how long each call waits for its answer: a `duration` such as 500ms",
			DefaultText: "1s for --audit, 2s for --discover"},
		&cli.BoolFlag{Name: flagDiscover, DisableDefaultText: true,
			Usage: "find which RPC programs answer at a port, without the port mapper, and the versions they serve: rpcinfo --discover -T udp|tcp host:port... or rpcinfo --discover -T udp|tcp -n port host..."},
		&cli.StringFlag{Name: flagPrograms,
			Usage:       "with --discover: the programs to look for, a comma-separated `list` of numbers, names and ranges (100000-100099)",
			DefaultText: "every program of /etc/rpc"},
		&cli.Float64Flag{Name: flagRate, Value: audit.DefaultRate,
			Usage: "with --discover: start at most `n` calls a second at each target (0: no bound)"},
		&cli.BoolFlag{Name: flagVersion, DisableDefaultText: true, Usage: "print the version"},
		&cli.BoolFlag{Name: flagHelp, DisableDefaultText: true, Usage: "show this help"},
	}, cliutil.DocFlags()...)
}

// action runs once urfave/cli has read the normalised arguments: it answers
// --help, --version and the documentation flags, and otherwise runs the
// command.
func (r *runner) action(c *cli.Context) error {
	switch {
	case c.Bool(flagHelp):
		return cli.ShowAppHelp(c)
	case c.Bool(flagVersion):
		fmt.Fprintf(r.stdout, "rpcinfo (pmap) %s\n", cliutil.Version())
		return nil
	}
	if done, err := cliutil.DocsWithPage(c, manPage, func(shell string) error { return r.fail("%s: %s", r.prog, cliutil.ShellUsage(shell)) }); done {
		return err
	}
	return r.execute(c.Context, cliOptions{c})
}

// execute runs the command with the options o.
func (r *runner) execute(ctx context.Context, o options) error {
	if err := r.configure(o); err != nil {
		return err
	}
	r.req = request{
		netid:    o.String("T"),
		hasNetid: o.IsSet("T"),
		address:  o.String("a"),
		args:     o.Operands(),
	}
	for letter, m := range modeLetters {
		if o.Bool(string(letter)) || (letter == 'a' && o.IsSet("a")) {
			r.req.mode = m
		}
	}
	if o.IsSet("n") {
		p, err := portNumber(o.String("n"))
		if err != nil {
			return r.fail("%s", err)
		}
		r.req.port = p
	}
	r.out = render.New(r.stdout, render.Options{Format: r.cfg.format, Color: r.cfg.color, Names: r.names})
	return r.dispatch(ctx)
}

// configure reads this implementation's own options.
func (r *runner) configure(c options) error {
	f, err := render.ParseFormat(c.String(flagOutput))
	if err != nil {
		return r.fail("%s: invalid value %q for --%s: want %s", r.prog, c.String(flagOutput), flagOutput,
			strings.Join(render.Formats(), ", "))
	}
	r.cfg.format = f
	if r.cfg.color, err = r.when(c, flagColor, r.terminal && r.getenv("NO_COLOR") == "" && r.getenv("TERM") != "dumb"); err != nil {
		return err
	}
	if d := c.Duration(flagTimeout); d < 0 || (c.IsSet(flagTimeout) && d == 0) {
		return r.fail("%s: invalid value %q for --%s: want a positive duration such as 5s", r.prog, d, flagTimeout)
	} else {
		r.cfg.timeout = d
	}
	if p := c.Int(flagPort); p < 1 || p > 65535 {
		return r.fail("%s: invalid value %d for --%s: want 1 to 65535", r.prog, p, flagPort)
	} else if p != 111 {
		r.cfg.port = p
	}
	if n := c.Int(flagParallel); n < 1 || n > maxParallel {
		return r.fail("%s: invalid value %d for --%s: want 1 to %d", r.prog, n, flagParallel, maxParallel)
	} else {
		r.cfg.parallel = n
	}
	if r.cfg.progress, err = r.when(c, flagProgress, r.errTerminal && r.getenv("TERM") != "dumb"); err != nil {
		return err
	}
	r.cfg.verify = c.Bool(flagVerify)
	r.cfg.nfs = c.Bool(flagNFS)
	r.cfg.parallelSet = c.IsSet(flagParallel)
	return r.configureExposure(c)
}

// when reads an option whose value is auto, always or never (--color,
// --progress): auto is what the terminal and the environment say.
func (r *runner) when(c options, flag string, auto bool) (bool, error) {
	switch v := c.String(flag); v {
	case colorAlways:
		return true, nil
	case colorNever:
		return false, nil
	case colorAuto:
		return auto, nil
	default:
		return false, r.fail("%s: invalid value %q for --%s: want %s, %s or %s", r.prog, v, flag, colorAuto, colorAlways, colorNever)
	}
}
