package main

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

// urfaveApp is the command's definition as urfave/cli's Run would see it
// once set up (with --version added), writing to w: the source of the help,
// the man page and the fish script the binary carries pre-rendered.
func urfaveApp(w io.Writer) *cli.App {
	app := newApp(w, w, nil)
	app.Setup()
	return app
}

// TestHelpMatchesUrfave checks that --help prints what urfave/cli's help
// template renders from the same definition.
func TestHelpMatchesUrfave(t *testing.T) {
	var want bytes.Buffer
	app := newApp(&want, io.Discard, nil)
	app.Action = cli.ShowAppHelp
	if err := app.RunContext(context.Background(), []string{"portmapd"}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--help"}, {"--help", "--version"}, {"-w", "--help"}} {
		var stdout, stderr bytes.Buffer
		rc := run(context.Background(), append([]string{"portmapd"}, args...), &stdout, &stderr)
		if rc != 0 || stderr.Len() != 0 {
			t.Errorf("%q: rc %d, stderr %q", args, rc, stderr.String())
		}
		if got := stdout.String(); got != want.String() {
			t.Errorf("%q: help differs from urfave/cli's:\n%s", args, lineDiff(got, want.String()))
		}
	}
	if !strings.Contains(want.String(), "--version, -v") || !strings.Contains(want.String(), "rpcbind's options") {
		t.Errorf("urfave/cli's help lacks --version or a category:\n%s", want.String())
	}
}

// lineDiff shows the first line where got and want differ.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, gl, wl)
		}
	}
	return "(same lines)"
}

// TestFishCompletion checks that portmapd.fish is the script urfave/cli
// renders from the definition, and that --completion fish prints it; go
// generate (or -update) rewrites it.
func TestFishCompletion(t *testing.T) {
	const file = "portmapd.fish"
	script, err := urfaveApp(io.Discard).ToFishCompletion()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != script {
		t.Errorf("%s is out of date: run go generate in cmd/portmapd (or go test -run TestFishCompletion -update)", file)
	}
	var stdout, stderr bytes.Buffer
	if rc := run(context.Background(), []string{"portmapd", "--completion", "fish"}, &stdout, &stderr); rc != 0 || stdout.String() != fishScript {
		t.Errorf("--completion fish: rc %d, stderr %q, and not the embedded script", rc, stderr.String())
	}
	for _, want := range []string{"-l warm-start", "-l gc-percent", "-l version"} {
		if !strings.Contains(script, want) {
			t.Errorf("the fish script does not offer %s", want)
		}
	}
}

// flagValues is what a command line set, flag by flag: each name's value
// and whether it was given.
func flagValues(c *cli.Context) string {
	var b strings.Builder
	for _, f := range c.App.Flags {
		for _, n := range f.Names() {
			fmt.Fprintf(&b, "%s=%v set=%v\n", n, c.Value(n), c.IsSet(n))
		}
	}
	fmt.Fprintf(&b, "args=%q\n", c.Args().Slice())
	return b.String()
}

// TestParseLikeUrfave checks that the command line reads the same, flag by
// flag, as urfave/cli's Run reads it, and fails the same way.
func TestParseLikeUrfave(t *testing.T) {
	tests := []string{
		"",
		"-w -f",
		"-wf -h 192.0.2.1 -h127.0.0.1",
		"-h 192.0.2.1,192.0.2.2",
		"--host 192.0.2.1 --listen 127.0.0.1 --listen ::1 --port 1111 --no-socket",
		"-adilrs --user nobody --state /tmp/x --warm-start-dir /tmp",
		"--gc-percent 30 --memory-limit 16MiB --log-format json --log-level debug",
		"--udp-rate 5.5 --udp-burst 7 --allow 192.0.2.0/24 --deny 0.0.0.0/0 --allow-amplification",
		"--max-record 1024 --max-conns 3 --idle-timeout 1s --max-in-flight 2 --max-forwards 1 --forward-timeout 2s --prune-interval 1m",
		"--max-registrations 5 --answer-rpc-mismatch --socket /tmp/s",
		"-port=99 --debug=false",
		"--version",
		"-v",
		"--help",
		"--completion bash",
		"operand -w",
		"-w -- -f",
		// errors
		"-x",
		"-h",
		"--port nine",
		"--udp-rate fast",
		"--idle-timeout soon",
		"--help=maybe",
	}
	for _, line := range tests {
		t.Run(line, func(t *testing.T) {
			args := expandShort(append([]string{"portmapd"}, strings.Fields(line)...))
			var want string
			app := newApp(io.Discard, io.Discard, nil)
			app.Action = func(c *cli.Context) error {
				want = flagValues(c)
				return nil
			}
			werr := app.RunContext(context.Background(), args)

			c, complete, err := parseCommandLine(context.Background(), newApp(io.Discard, io.Discard, nil), args)
			if complete {
				t.Fatal("read as a completion request")
			}
			if fmt.Sprint(err) != fmt.Sprint(werr) {
				t.Fatalf("error %v; urfave/cli's %v", err, werr)
			}
			if err != nil {
				return
			}
			if line == "--version" || line == "-v" || line == "--help" {
				// urfave/cli answers these before the action
				return
			}
			if got := flagValues(c); got != want {
				t.Errorf("read as\n%s\nurfave/cli read\n%s", got, want)
			}
		})
	}
}

// TestCommandLine checks what parseCommandLine adds to urfave/cli's
// reading, and the answers of --version and completion requests.
func TestCommandLine(t *testing.T) {
	tests := []struct {
		args           string
		rc             int
		stdout, stderr string
	}{
		{"--version", 0, "portmapd version " + cliutil.Version() + "\n", ""},
		{"-v -w", 0, "portmapd version " + cliutil.Version() + "\n", ""},
		{"-h 192.0.2.1 --host 192.0.2.2", 2, "", "portmapd: cannot use two forms of the same flag: h host (see --help)\n"},
		{"-w --warm-start", 2, "", "portmapd: cannot use two forms of the same flag: w warm-start (see --help)\n"},
		{"--bogus --generate-bash-completion", 0, "--help\n", ""},                                                               // a line being typed: no error
		{"-- --generate-bash-completion", 2, "", "portmapd: unexpected argument \"--generate-bash-completion\" (see --help)\n"}, // an operand after --
		{"--completion tcsh", 2, "", "portmapd: invalid value \"tcsh\" for --completion: want bash, zsh or fish\n"},
		{"--completion bash", 0, cliutil.BashScript("portmapd"), ""},
		{"--completion zsh", 0, cliutil.ZshScript("portmapd"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			rc := run(context.Background(), append([]string{"portmapd"}, strings.Fields(tt.args)...), &stdout, &stderr)
			out := stdout.String()
			if strings.HasSuffix(tt.args, "--generate-bash-completion") && tt.rc == 0 {
				if !strings.HasPrefix(out, tt.stdout) || !strings.Contains(out, "\n--version\n-v\n") {
					t.Errorf("candidates %q; want every flag, --version and -v among them", out)
				}
				out = tt.stdout
			}
			if rc != tt.rc || out != tt.stdout || stderr.String() != tt.stderr {
				t.Errorf("rc %d, stdout %q, stderr %q; want %d, %q, %q", rc, stdout.String(), stderr.String(), tt.rc, tt.stdout, tt.stderr)
			}
		})
	}
}

// TestNoReflectMethod checks that the binary does not link
// reflect.Value.Method or MethodByName, as text/template's executor does:
// with either reachable the linker keeps every exported method of the
// program, about 1.2 MB of portmapd's code and tables, all of it resident
// (cmdline.go). A help, man page or completion rendered at run time by
// urfave/cli would bring them back.
func TestNoReflectMethod(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, s := range syms {
		found[s.Name] = true
	}
	if !found["main.main"] || !found["main.parseCommandLine"] {
		t.Fatalf("the symbol table of %s lacks main.main or main.parseCommandLine: cannot tell", bin)
	}
	for _, name := range []string{"reflect.Value.Method", "reflect.Value.MethodByName", "text/template.(*state).evalField"} {
		if found[name] {
			t.Errorf("%s links %s: the linker keeps every exported method (see cmdline.go)", bin, name)
		}
	}
}
