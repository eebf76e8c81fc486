package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// mode is what rpcinfo was asked to do: its "function".
type mode int

const (
	modeNone      mode = iota
	modePmapDump       // -p
	modeTCPPing        // -t
	modeUDPPing        // -u
	modeBroadcast      // -b
	modeDelete         // -d
	modeAddrPing       // -a
	modeProgPing       // host prog [vers]
	modeDump           // [host]
	modeDumpShort      // -s
	modeAddrList       // -l
	modeStats          // -m
)

// modeLetters maps each mode option to its mode.
var modeLetters = map[byte]mode{
	'p': modePmapDump, 't': modeTCPPing, 'u': modeUDPPing, 'b': modeBroadcast, 'd': modeDelete,
	'a': modeAddrPing, 'l': modeAddrList, 'm': modeStats, 's': modeDumpShort,
}

// request is what the command line asks, as rpcinfo's main reads it.
type request struct {
	mode     mode
	netid    string // -T
	hasNetid bool
	address  string // -a
	port     uint16 // -n; 0 when not given
	args     []string
}

// config holds the settings of this implementation's own options.
type config struct {
	format  render.Format
	color   bool
	timeout time.Duration // --timeout for the whole query; 0: rpcinfo's own per-call timeouts
	port    int           // --port of the port mapper; 0: 111
	socket  string        // the local mapper's unix socket
	// Extensions for debugging port discovery.
	verify      bool // --verify: call every registration of a listing
	nfs         bool // --nfs: check the NFS path of a host
	parallel    int  // --parallel: hosts asked at once
	parallelSet bool // --parallel was given
	progress    bool // a progress bar on standard error while many hosts are asked
	exposure    exposureConfig
}

// runner is one run of the command.
type runner struct {
	stdout, stderr io.Writer
	prog           string              // argv[0], as getopt's messages name it
	getenv         func(string) string // the environment
	terminal       bool                // standard output is a terminal
	errTerminal    bool                // standard error is a terminal
	names          *portmap.Names      // program names, as getrpcbynumber(3) sees them
	cfg            config
	req            request
	out            *render.Printer
}

// Timeouts of Debian's rpcinfo, used for each call when --timeout is not
// given: a NULL call waits 10 seconds, a listing or a lookup 60.
const (
	pingTimeout = 10 * time.Second
	listTimeout = 60 * time.Second
)

// run runs rpcinfo with args (args[0] is the program's name) and returns its
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	r := &runner{
		stdout:      stdout,
		stderr:      stderr,
		getenv:      os.Getenv,
		terminal:    isTerminal(stdout),
		errTerminal: isTerminal(stderr),
		names:       portmap.DefaultNames(),
	}
	return r.main(ctx, args)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// main is rpcinfo's main: it reads the arguments as GNU getopt does, applies
// rpcinfo's checks in rpcinfo's order, then runs the mode: straight away for
// a command line of one-letter options, else through urfave/cli, which
// reads the normalised argument list (long options, help, completion) and
// whose action runs the mode.
func (r *runner) main(ctx context.Context, args []string) int {
	r.prog = "rpcinfo"
	if len(args) > 0 {
		r.prog = args[0]
	}
	r.cfg.socket = client.DefaultSocket

	completing := len(args) > 1 && args[len(args)-1] == "--"+completionFlag
	if completing {
		args = args[:len(args)-1]
	}
	cl := getopt(args, debianOptions, r.getenv("POSIXLY_CORRECT") != "")
	if !completing && !cl.wantsInfo() {
		if err := r.check(cl); err != nil {
			return 1
		}
	}
	norm := cl.normalize(r.prog)
	if completing {
		// urfave/cli completes only without "--"; the candidates come from
		// the words themselves.
		norm = []string{r.prog, "--" + completionFlag}
	}
	var err error
	if !completing && len(cl.long) == 0 {
		// rpcinfo's own options only, as nearly every run has: getopt has
		// read everything, and urfave/cli would only cost time.
		err = r.execute(ctx, cl.shortOptions())
	} else {
		err = r.newApp(cl, args).RunContext(ctx, norm)
	}
	if err != nil {
		if errors.Is(err, errFound) {
			return exitFound
		}
		if !errors.Is(err, errFailed) {
			fmt.Fprintf(r.stderr, "rpcinfo: %v\n", err)
		}
		return 1
	}
	return 0
}

// wantsInfo reports whether the command line asks for help, the version, a
// completion script or the man page, which urfave/cli answers whatever the
// other options say.
func (cl cmdline) wantsInfo() bool {
	for _, l := range cl.long {
		switch name := longName(l); name {
		case "help", "version", "completion", "generate-man":
			return true
		}
	}
	return false
}

// check applies rpcinfo's option loop to the options getopt returned, in
// order: the diagnostics getopt printed, a second mode, a bad -n, and
// finally the usage message if anything was wrong or -a came without -T.
func (r *runner) check(cl cmdline) error {
	m := modeNone
	errflg := false
	hasNetid := false
	for _, ev := range cl.events {
		switch ev.c {
		case '?':
			fmt.Fprintln(r.stderr, ev.diag)
			errflg = true
		case 'n':
			if _, err := portNumber(ev.arg); err != nil {
				return r.fail("%s", err)
			}
		case 'T':
			hasNetid = true
		case 'o':
		default:
			if m != modeNone {
				errflg = true
			} else {
				m = modeLetters[ev.c]
			}
		}
	}
	if cl.longErr != "" {
		fmt.Fprintln(r.stderr, cl.longErr)
		errflg = true
	}
	if errflg || (m == modeAddrPing && !hasNetid) {
		return r.usage()
	}
	return nil
}

// normalize returns the argument list in the form urfave/cli reads: the
// program's name, the long options, the short options one a word with their
// arguments attached, "--", and the operands.
func (cl cmdline) normalize(prog string) []string {
	out := []string{prog}
	out = append(out, cl.long...)
	for _, ev := range cl.events {
		switch {
		case ev.c == '?':
		case ev.c == 'a' || ev.c == 'n' || ev.c == 'T' || ev.c == 'o':
			out = append(out, "-"+string(ev.c)+"="+ev.arg)
		default:
			out = append(out, "-"+string(ev.c))
		}
	}
	out = append(out, "--")
	return append(out, cl.operands...)
}

// longName returns the name of a long option word ("--name=value").
func longName(word string) string {
	name := word[2:]
	for i := 0; i < len(name); i++ {
		if name[i] == '=' {
			return name[:i]
		}
	}
	return name
}

// catchInterrupt returns ctx, cancelled by SIGINT and SIGTERM, for this
// implementation's own modes (--audit, --discover, --nfs, --verify, several
// hosts), which then end through their own path (with several hosts: the
// progress bar erased, each host's outcome printed). rpcinfo's own modes
// leave the signals alone and die of them at once (Debian's rpcinfo dies of
// them too, but only once its call is over: libtirpc blocks signals during
// a call; docs/rpcinfo.md, "Ctrl-C ends a call at once"). Catching them costs every run about 0.4 ms, a tenth of a `rpcinfo -p` of
// a small registry (os/signal starts a goroutine locked to a thread of its
// own, which takes two more threads).
func catchInterrupt(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// dispatch runs the mode of r.req, as rpcinfo's main does once its options
// are read, or this implementation's extensions: --audit, --discover, --nfs,
// and listings of several hosts.
func (r *runner) dispatch(ctx context.Context) error {
	q := &r.req
	if err := r.checkExposure(); err != nil {
		return err
	}
	if r.cfg.exposure.audit || r.cfg.exposure.discover || r.cfg.nfs || r.cfg.verify {
		var stop context.CancelFunc
		ctx, stop = catchInterrupt(ctx)
		defer stop()
	}
	switch {
	case r.cfg.exposure.audit:
		return r.auditHosts(ctx)
	case r.cfg.exposure.discover:
		return r.discover(ctx)
	case r.cfg.nfs:
		return r.nfsPath(ctx)
	}
	if q.mode == modeNone {
		if len(q.args) > 1 {
			q.mode = modeProgPing
		} else {
			q.mode = modeDump
		}
	}
	if r.cfg.verify && !q.mode.listing() && !(q.mode == modeProgPing && slices.ContainsFunc(q.args, client.IsMany)) {
		return r.fail("%s: --%s checks the registrations of a listing: use it without a mode, or with -s, -p or -l", r.prog, flagVerify)
	}
	if hosts, rest, ok := r.manyHosts(); ok {
		if !r.cfg.verify { // else caught already
			var stop context.CancelFunc
			ctx, stop = catchInterrupt(ctx)
			defer stop()
		}
		return r.many(ctx, hosts, rest)
	}
	if r.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.timeout)
		defer cancel()
	}
	return r.runMode(ctx)
}

// listing reports whether m lists registrations, which --verify can check.
func (m mode) listing() bool {
	return m == modeDump || m == modeDumpShort || m == modePmapDump || m == modeAddrList
}

// runMode runs the mode of r.req.
func (r *runner) runMode(ctx context.Context) error {
	q := &r.req
	switch q.mode {
	case modePmapDump:
		if q.port != 0 {
			return r.usage()
		}
		return r.pmapDump(ctx)
	case modeUDPPing:
		return r.ipPing(ctx, "udp")
	case modeTCPPing:
		return r.ipPing(ctx, "tcp")
	case modeBroadcast:
		return r.broadcast(ctx)
	case modeDelete:
		return r.deleteReg(ctx)
	case modeAddrPing:
		return r.addrPing(ctx)
	case modeProgPing:
		return r.progPing(ctx)
	case modeDump, modeDumpShort:
		return r.rpcbDump(ctx)
	case modeStats:
		return r.stats(ctx)
	case modeAddrList:
		return r.addrList(ctx)
	}
	return r.usage()
}

// callCtx returns the context of one call: ctx itself under --timeout, else
// ctx bounded by rpcinfo's own timeout for the call, d.
func (r *runner) callCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if r.cfg.timeout > 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
