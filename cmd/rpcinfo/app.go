package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/render"
)

// version is this rpcinfo's version, printed by --version.
const version = "1.0.0"

// completionFlag is urfave/cli's hidden flag that asks for completions.
const completionFlag = "generate-bash-completion"

// Names of the flags.
const (
	flagOutput     = "output"
	flagTimeout    = "timeout"
	flagPort       = "port"
	flagColor      = "color"
	flagCompletion = "completion"
	flagVersion    = "version"
	flagHelp       = "help"
	flagMan        = "generate-man"
)

// Values of --color.
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
		Version:              version,
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
	return []cli.Flag{
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
		&cli.DurationFlag{Name: flagTimeout, Usage: "time limit of the whole query, a `duration` such as 5s", DefaultText: "rpcinfo's own: 10s a call, 60s a listing"},
		&cli.IntFlag{Name: flagPort, Usage: "`port` of the port mapper", Value: 111},
		&cli.StringFlag{Name: flagColor, Value: colorAuto, Usage: "color the table output, `when`: auto (on a terminal, unless NO_COLOR is set), always, never"},
		&cli.StringFlag{Name: flagCompletion, Usage: "print a completion script for `shell`: bash, zsh, fish"},
		&cli.BoolFlag{Name: flagVersion, DisableDefaultText: true, Usage: "print the version"},
		&cli.BoolFlag{Name: flagHelp, DisableDefaultText: true, Usage: "show this help"},
		&cli.BoolFlag{Name: flagMan, DisableDefaultText: true, Usage: "print the man page (roff)", Hidden: true},
	}
}

// action runs once urfave/cli has read the normalised arguments.
func (r *runner) action(c *cli.Context) error {
	switch {
	case c.Bool(flagHelp):
		return cli.ShowAppHelp(c)
	case c.Bool(flagVersion):
		fmt.Fprintf(r.stdout, "rpcinfo (pmap) %s\n", version)
		return nil
	case c.IsSet(flagCompletion):
		return r.printCompletion(c.App, c.String(flagCompletion))
	case c.Bool(flagMan):
		man, err := manPage(c.App)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(r.stdout, man)
		return err
	}
	if err := r.configure(c); err != nil {
		return err
	}
	r.req = request{
		netid:    c.String("T"),
		hasNetid: c.IsSet("T"),
		address:  c.String("a"),
		args:     c.Args().Slice(),
	}
	for letter, m := range modeLetters {
		if c.Bool(string(letter)) || (letter == 'a' && c.IsSet("a")) {
			r.req.mode = m
		}
	}
	if c.IsSet("n") {
		p, err := portNumber(c.String("n"))
		if err != nil {
			return r.fail("%s", err)
		}
		r.req.port = p
	}
	r.out = render.New(r.stdout, render.Options{Format: r.cfg.format, Color: r.cfg.color, Names: r.names})
	return r.dispatch(c.Context)
}

// configure reads this implementation's own options.
func (r *runner) configure(c *cli.Context) error {
	f, err := render.ParseFormat(c.String(flagOutput))
	if err != nil {
		return r.fail("%s: invalid value %q for --%s: want %s", r.prog, c.String(flagOutput), flagOutput,
			strings.Join(render.Formats(), ", "))
	}
	r.cfg.format = f
	switch v := c.String(flagColor); v {
	case colorAlways:
		r.cfg.color = true
	case colorNever:
		r.cfg.color = false
	case colorAuto:
		r.cfg.color = r.terminal && r.getenv("NO_COLOR") == "" && r.getenv("TERM") != "dumb"
	default:
		return r.fail("%s: invalid value %q for --%s: want %s, %s or %s", r.prog, v, flagColor, colorAuto, colorAlways, colorNever)
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
	return nil
}
