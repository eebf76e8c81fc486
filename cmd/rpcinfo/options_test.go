package main

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// urfaveOptions reads args (without the program's name) as main does
// through urfave/cli and returns what the action sees.
func urfaveOptions(t *testing.T, args []string) cliOptions {
	t.Helper()
	cl := getopt(append([]string{"rpcinfo"}, args...), debianOptions, false)
	r := &runner{stdout: io.Discard, stderr: io.Discard, prog: "rpcinfo"}
	app := r.newApp(cl, args)
	var got *cli.Context
	app.Action = func(c *cli.Context) error { got = c; return nil }
	if err := app.RunContext(context.Background(), cl.normalize("rpcinfo")); err != nil || got == nil {
		t.Fatalf("%q: urfave/cli: %v", args, err)
	}
	return cliOptions{got}
}

// TestShortOptions checks that a command line of one-letter options reads
// the same without urfave/cli as through it: every value and IsSet of every
// flag, by each of its names, and the operands.
func TestShortOptions(t *testing.T) {
	// Each one-letter option is a flag of the kind shortOptions can fill.
	for i := 0; i < len(debianOptions); i++ {
		c := debianOptions[i]
		if c == ':' {
			continue
		}
		takesArg := i+1 < len(debianOptions) && debianOptions[i+1] == ':'
		f, _ := shortOptions{flags: flags()}.flag(string(c))
		switch f.(type) {
		case *cli.BoolFlag:
			if takesArg {
				t.Errorf("-%c takes an argument but is a bool flag", c)
			}
		case *cli.StringFlag:
			if !takesArg {
				t.Errorf("-%c takes no argument but is a string flag", c)
			}
		default:
			t.Errorf("-%c is a %T", c, f)
		}
	}

	for _, line := range []string{
		"",
		"-p 127.0.0.1",
		"-p",
		"-s 192.0.2.1",
		"-m",
		"-l 127.0.0.1 100003 3",
		"-t 127.0.0.1 100000",
		"-u 127.0.0.1 nfs 3",
		"-n 2049 -t 127.0.0.1 100003",
		"-n=5 -u h 1",
		"-T tcp 127.0.0.1 100000 4",
		"-T udp6 -l ::1 100000 4",
		"-a 127.0.0.1.0.111 -T tcp 100000 2",
		"-a true -T tcp 100000 2",
		"-a 1 -T udp 100000",
		"-b 100000 2",
		"-d 100005 3",
		"-d -T local 100005 3",
		"-o json -p 127.0.0.1",
		"-o table -o json -s",
		"-ojson -pT tcp 127.0.0.1",
		"-T tcp -T= -p h",
		"-p -- -1 two",
		"127.0.0.1 -p",
	} {
		args := strings.Fields(line)
		want := urfaveOptions(t, args)
		cl := getopt(append([]string{"rpcinfo"}, args...), debianOptions, false)
		if len(cl.long) != 0 {
			t.Fatalf("%q has long options", line)
		}
		got := cl.shortOptions()
		if !reflect.DeepEqual(got.Operands(), want.Operands()) && len(got.Operands())+len(want.Operands()) > 0 {
			t.Errorf("%q: operands %q, urfave/cli %q", line, got.Operands(), want.Operands())
		}
		for _, f := range flags() {
			for _, n := range f.Names() {
				check := func(what string, g, w any) {
					if !reflect.DeepEqual(g, w) {
						t.Errorf("%q: %s(%q) = %v, urfave/cli %v", line, what, n, g, w)
					}
				}
				check("IsSet", got.IsSet(n), want.Context.IsSet(n))
				switch f.(type) {
				case *cli.BoolFlag, *cli.StringFlag:
					check("Bool", got.Bool(n), want.Bool(n))
					check("String", got.String(n), want.String(n))
				case *cli.IntFlag:
					check("Int", got.Int(n), want.Int(n))
				case *cli.DurationFlag:
					check("Duration", got.Duration(n), want.Duration(n))
				case *cli.Float64Flag:
					check("Float64", got.Float64(n), want.Float64(n))
				default:
					t.Errorf("flag %s is a %T, which shortOptions does not know", n, f)
				}
				check("cliOptions.IsSet", want.IsSet(n), want.Context.IsSet(n))
			}
		}
	}
}

// TestCliOptionsIsSet checks cliOptions.IsSet (cliutil.IsSet) against
// urfave/cli's IsSet for every flag, by each of its names, with long
// options.
func TestCliOptionsIsSet(t *testing.T) {
	for _, line := range []string{
		"--timeout 5s -p h",
		"--parallel=4 --verify h1 h2",
		"--audit --probe dump-v2 --attempts 2 --window 1s --no-forward h",
		"--discover -T udp --programs 100000-100003 --rate 0 h:111",
		"--nfs h --port 1111 --color never --progress always",
		"-T tcp --output json -n 5 -a x",
		"--completion bash",
	} {
		args := strings.Fields(line)
		o := urfaveOptions(t, args)
		for _, f := range flags() {
			for _, n := range f.Names() {
				if got, want := o.IsSet(n), o.Context.IsSet(n); got != want {
					t.Errorf("%q: IsSet(%q) = %v, urfave/cli %v", line, n, got, want)
				}
			}
		}
	}
}
