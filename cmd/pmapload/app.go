package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/loadgen"
)

// Exit statuses.
const (
	exitOK    = 0 // the run ended and every call was answered
	exitFail  = 1 // the run could not start, or calls failed or timed out
	exitUsage = 2 // the command line is wrong
)

// name is the command's name in messages.
const name = "pmapload"

const description = `pmapload drives a port mapper (program 100000: portmap v2, rpcbind v3 and v4)
with concurrent clients and reports how fast it answered: calls per second,
latency percentiles (p50, p90, p99, max), errors and timeouts.

Each client has a socket of its own (a connected UDP socket or a TCP
connection) and keeps --window calls in flight; the next call leaves when a
reply or a timeout ends one. Every call is the same pre-encoded message with
a new xid. The raw engine (the default on Linux) runs the clients from epoll
event loops, one per CPU the process may use; --engine rpc runs them over
the toolkit's own RPC client instead.

The procedure (--proc) is null, getport (version 2), getaddr (version 3 or
4, --pmap-vers) or dump (any version). getport and getaddr look up the key
--prog, --vers and --netid (default: NFS version 3, 100003 3, over the
transport's netid). A reply saying "not registered" (port 0, an empty
address, an empty list) is a success, counted as empty.

A run always ends by itself: after --duration (5s unless --count is given;
at most 10m) or --count calls (at most 10^9), whichever comes first, or at
SIGINT. Targets are IP addresses only, and only in 127.0.0.0/8, ::1 and
192.0.2.0/24 (TEST-NET-1, the addresses of test namespaces): any other
address is refused.

Exit status: 0 when every call was answered, 1 when the run could not
start or some calls failed or timed out, 2 for a wrong command line.`

// usageError is a command-line error.
type usageError struct{ error }

// run runs the command with args (args[0] is the program's name) and
// returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	status := exitOK
	app := &cli.App{
		Name:            name,
		Usage:           "load generator for ONC RPC port mappers",
		UsageText:       name + " [options] [TARGET[:PORT]]",
		Description:     description,
		Version:         cliutil.Version(),
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "transport", Aliases: []string{"t"}, Value: "udp", Usage: "`NETWORK` to call over: udp or tcp"},
			&cli.StringFlag{Name: "proc", Aliases: []string{"P"}, Value: "getport", Usage: "`PROCEDURE` to call: null, getport, getaddr or dump"},
			&cli.UintFlag{Name: "pmap-vers", Aliases: []string{"V"}, Usage: "`VERSION` of program 100000 to call: 2, 3 or 4 (default 2, or 3 for getaddr)"},
			&cli.UintFlag{Name: "prog", Value: 100003, Usage: "`PROGRAM` number looked up by getport and getaddr"},
			&cli.UintFlag{Name: "vers", Value: 3, Usage: "`VERSION` of the program looked up"},
			&cli.StringFlag{Name: "netid", Usage: "`NETID` looked up (default: the transport's, udp or tcp)"},
			&cli.IntFlag{Name: "clients", Aliases: []string{"c"}, Value: loadgen.DefaultClients, Usage: fmt.Sprintf("concurrent `N` clients, each with its own socket (at most %d)", loadgen.MaxClients)},
			&cli.IntFlag{Name: "window", Aliases: []string{"w"}, Value: loadgen.DefaultWindow, Usage: fmt.Sprintf("calls in flight per client (at most %d)", loadgen.MaxWindow)},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Usage: fmt.Sprintf("stop after `TIME` (default %v, or %v with --count)", loadgen.DefaultDuration, loadgen.MaxDuration)},
			&cli.Int64Flag{Name: "count", Aliases: []string{"n"}, Usage: fmt.Sprintf("stop after `N` calls (default %d)", loadgen.DefaultCount)},
			&cli.DurationFlag{Name: "timeout", Value: loadgen.DefaultTimeout, Usage: "how long a call waits for its reply before it counts as a timeout"},
			&cli.StringFlag{Name: "engine", Value: "auto", Usage: "`ENGINE`: raw (epoll event loops), rpc (the toolkit's RPC client) or auto"},
			&cli.IntFlag{Name: "loops", Usage: "event loops of the raw engine (default: the CPUs the process may use)"},
			&cli.BoolFlag{Name: "spin", Usage: "raw engine: poll without sleeping (a busy CPU per loop; for a generator pinned to CPUs of its own)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORM` of the report: text or json"},
		},
		Action: func(c *cli.Context) error {
			cfg, form, err := config(c)
			if err != nil {
				return err
			}
			res, err := loadgen.Run(c.Context, cfg)
			if err != nil {
				return err
			}
			if form == "json" {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				err = enc.Encode(res)
			} else {
				err = res.WriteText(c.App.Writer)
			}
			if err != nil {
				return err
			}
			if res.Errors+res.Timeouts > 0 || res.Calls == 0 {
				status = exitFail
			}
			return nil
		},
	}
	if err := app.RunContext(ctx, args); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		if errors.As(err, new(usageError)) {
			return exitUsage
		}
		return exitFail
	}
	return status
}

// config builds the run's configuration from the command line.
func config(c *cli.Context) (loadgen.Config, string, error) {
	var cfg loadgen.Config
	if c.NArg() > 1 {
		return cfg, "", usageError{fmt.Errorf("one target at most, not %q", c.Args().Slice())}
	}
	cfg.Target = c.Args().First()
	if cfg.Target == "" {
		cfg.Target = "127.0.0.1"
	}
	form := c.String("output")
	if form != "text" && form != "json" {
		return cfg, "", usageError{fmt.Errorf("--output %q: want text or json", form)}
	}
	proc, err := loadgen.ParseProc(c.String("proc"))
	if err != nil {
		return cfg, "", usageError{err}
	}
	engine, err := loadgen.ParseEngine(c.String("engine"))
	if err != nil {
		return cfg, "", usageError{err}
	}
	for _, f := range []string{"pmap-vers", "prog", "vers"} {
		if c.Uint(f) > 1<<32-1 {
			return cfg, "", usageError{fmt.Errorf("--%s %d: over 32 bits", f, c.Uint(f))}
		}
	}
	cfg.Network = c.String("transport")
	cfg.Proc = proc
	cfg.Vers = uint32(c.Uint("pmap-vers"))
	cfg.Prog, cfg.ProgVers = uint32(c.Uint("prog")), uint32(c.Uint("vers"))
	cfg.Netid = c.String("netid")
	cfg.Clients = c.Int("clients")
	cfg.Window = c.Int("window")
	cfg.Duration = c.Duration("duration")
	cfg.Count = c.Int64("count")
	cfg.Timeout = c.Duration("timeout")
	cfg.Engine = engine
	cfg.Loops = c.Int("loops")
	cfg.Spin = c.Bool("spin")
	if cfg.Clients <= 0 || cfg.Window <= 0 || cfg.Count < 0 || cfg.Duration < 0 || cfg.Timeout <= 0 || cfg.Loops < 0 {
		return cfg, "", usageError{errors.New("--clients, --window and --timeout must be positive; --count, --duration and --loops not negative")}
	}
	return cfg, form, nil
}
