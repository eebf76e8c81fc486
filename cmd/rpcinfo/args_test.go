package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// referenceDir holds what Debian's rpcinfo printed: NAME.cmd/.out/.err/.rc.
const referenceDir = "../../testdata/rpcinfo"

// runArgs runs rpcinfo in-process with args (without the program's name)
// and an environment given as a map.
func runArgs(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, rc int) {
	t.Helper()
	var out, errb bytes.Buffer
	r := &runner{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] },
		names: portmap.DefaultNames()}
	rc = r.main(context.Background(), append([]string{"rpcinfo"}, args...))
	return out.String(), errb.String(), rc
}

func TestGetopt(t *testing.T) {
	ev := func(c byte, arg string) optEvent { return optEvent{c: c, arg: arg} }
	bad := func(c byte) optEvent { return optEvent{c: '?', diag: "rpcinfo: invalid option -- '" + string(c) + "'"} }
	tests := []struct {
		name  string
		args  []string
		posix bool
		want  cmdline
	}{
		{"operands and options interleave", []string{"127.0.0.1", "-p"}, false,
			cmdline{events: []optEvent{ev('p', "")}, operands: []string{"127.0.0.1"}}},
		{"POSIXLY_CORRECT stops at the first operand", []string{"127.0.0.1", "-p"}, true,
			cmdline{operands: []string{"127.0.0.1", "-p"}}},
		{"clusters", []string{"-pTtcp", "h"}, false,
			cmdline{events: []optEvent{ev('p', ""), ev('T', "tcp")}, operands: []string{"h"}}},
		{"argument in the next word, whatever it is", []string{"-T", "-p", "-a", "--"}, false,
			cmdline{events: []optEvent{ev('T', "-p"), ev('a', "--")}}},
		{"missing argument", []string{"-n"}, false,
			cmdline{events: []optEvent{{c: '?', diag: "rpcinfo: option requires an argument -- 'n'"}}}},
		{"-- ends the options, - is an operand", []string{"-t", "-", "--", "-1"}, false,
			cmdline{events: []optEvent{ev('t', "")}, operands: []string{"-", "-1"}}},
		{"negative number after operands", []string{"-t", "h", "100000", "-1"}, false,
			cmdline{events: []optEvent{ev('t', ""), bad('1')}, operands: []string{"h", "100000"}}},
		{"unknown long option is a cluster", []string{"--hex"}, false,
			cmdline{events: []optEvent{bad('-'), bad('h'), bad('e'), bad('x')}}},
		{"long options of ours", []string{"--output", "json", "--timeout=5s", "--version", "-o", "table"}, false,
			cmdline{long: []string{"--output=json", "--timeout=5s", "--version"}, events: []optEvent{ev('o', "table")}}},
		{"long option without its argument", []string{"--port"}, false,
			cmdline{longErr: "rpcinfo: option '--port' requires an argument"}},
		{"colon is no option", []string{"-:"}, false, cmdline{events: []optEvent{bad(':')}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := getopt(append([]string{"rpcinfo"}, tt.args...), debianOptions, tt.posix)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	cl := getopt([]string{"rpcinfo", "h", "-pT", "-x", "--port", "1111", "p", "-n=5", "--", "-1"}, debianOptions, false)
	want := []string{"rpcinfo", "--port=1111", "-p", "-T=-x", "-n==5", "--", "h", "p", "-1"}
	if got := cl.normalize("rpcinfo"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStrtol(t *testing.T) {
	tests := []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"111", 111, true}, {" \t\n42", 42, true}, {"+7", 7, true}, {"-1", -1, true},
		{"", 0, false}, {" ", 0, false}, {"-", 0, false}, {"+", 0, false}, {"12 ", 12, false}, {"0x10", 0, false},
		{"12a", 12, false}, {"9223372036854775807", 9223372036854775807, true},
		{"99999999999999999999", 9223372036854775807, true}, {"-99999999999999999999", -9223372036854775808, true},
		{"-9223372036854775808", -9223372036854775808, true},
	}
	for _, tt := range tests {
		v, ok := strtol(tt.in)
		if ok != tt.ok || (ok && v != tt.v) {
			t.Errorf("strtol(%q) = %d, %v; want %d, %v", tt.in, v, ok, tt.v, tt.ok)
		}
	}
}

func TestNumbers(t *testing.T) {
	names := portmap.BuiltinNames()
	progs := []struct {
		in   string
		want uint64
		err  string
	}{
		{"100000", 100000, ""}, {"portmapper", 100000, ""}, {"rpcbind", 100000, ""}, {"mount", 100005, ""},
		{"99999999999", 99999999999, ""}, {"99999999999999999999", 9223372036854775807, ""},
		{"12a", 0, "rpcinfo: 12a is unknown service"}, {"+5", 0, "rpcinfo: +5 is unknown service"},
		{"12-", 0, "rpcinfo: 12- is illegal program number"}, {"-", 0, "rpcinfo: - is illegal program number"},
		{"+", 0, "rpcinfo: + is illegal program number"}, {"", 0, "rpcinfo:  is illegal program number"},
		{"nosuch", 0, "rpcinfo: nosuch is unknown service"}, {"1.5", 0, "rpcinfo: 1.5 is unknown service"},
	}
	for _, tt := range progs {
		v, err := progNumber(tt.in, names)
		if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) || (err == nil && v != tt.want) {
			t.Errorf("progNumber(%q) = %d, %v; want %d, %q", tt.in, v, err, tt.want, tt.err)
		}
	}
	vers := []struct {
		in   string
		want uint64
		err  string
	}{
		{"2", 2, ""}, {" 2", 2, ""}, {"-1", 18446744073709551615, ""}, {"4294967295", 18446744073709551615, ""},
		{"2147483648", 18446744071562067968, ""}, {"99999999999", 1215752191, ""},
		{"x", 0, "rpcinfo: x is illegal version number"}, {"", 0, "rpcinfo:  is illegal version number"},
	}
	for _, tt := range vers {
		v, err := versNumber(tt.in)
		if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) || (err == nil && v != tt.want) {
			t.Errorf("versNumber(%q) = %d, %v; want %d, %q", tt.in, v, err, tt.want, tt.err)
		}
	}
	ports := []struct {
		in   string
		want uint16
		ok   bool
	}{{"111", 111, true}, {"65647", 111, true}, {"-1", 65535, true}, {"", 0, false}, {"1x", 0, false}}
	for _, tt := range ports {
		v, err := portNumber(tt.in)
		if (err == nil) != tt.ok || v != tt.want {
			t.Errorf("portNumber(%q) = %d, %v", tt.in, v, err)
		}
	}
}

// TestReferenceOffline runs the reference cases that need no port mapper
// (usage errors) and compares standard output, standard error and exit
// status with what Debian's rpcinfo printed. The others run in
// TestReferenceLive.
func TestReferenceOffline(t *testing.T) {
	for _, name := range []string{"usage", "negative_version", "two_modes_interleaved"} {
		t.Run(name, func(t *testing.T) {
			ref := loadReference(t, name)
			out, errs, rc := runArgs(t, nil, ref.args...)
			ref.check(t, out, errs, rc)
		})
	}
}

// reference is one recorded run of Debian's rpcinfo.
type reference struct {
	name     string
	args     []string
	out, err string
	rc       int
}

func loadReference(t *testing.T, name string) reference {
	t.Helper()
	read := func(ext string) string {
		b, err := os.ReadFile(filepath.Join(referenceDir, name+ext))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	fields := strings.Fields(read(".cmd"))
	if len(fields) == 0 || fields[0] != "rpcinfo" {
		t.Fatalf("%s.cmd: %q", name, fields)
	}
	rc, err := strconv.Atoi(strings.TrimSpace(read(".rc")))
	if err != nil {
		t.Fatal(err)
	}
	return reference{name: name, args: fields[1:], out: read(".out"), err: read(".err"), rc: rc}
}

func (ref reference) check(t *testing.T, out, errs string, rc int) {
	t.Helper()
	if out != ref.out {
		t.Errorf("%s: standard output differs\n got:\n%s\nwant:\n%s", ref.name, out, ref.out)
	}
	if errs != ref.err {
		t.Errorf("%s: standard error differs\n got:\n%s\nwant:\n%s", ref.name, errs, ref.err)
	}
	if rc != ref.rc {
		t.Errorf("%s: exit status %d, want %d", ref.name, rc, ref.rc)
	}
}

// TestUsageErrors checks argument errors that stop rpcinfo before it calls
// anything, in rpcinfo's order and words.
func TestUsageErrors(t *testing.T) {
	usage := usageText
	tests := []struct {
		name string
		env  map[string]string
		args []string
		err  string
	}{
		{"no argument to -T", nil, []string{"-T"}, "rpcinfo: option requires an argument -- 'T'\n" + usage},
		{"two modes clustered", nil, []string{"-pt"}, usage},
		{"a mode twice", nil, []string{"-pp"}, usage},
		{"invalid then valid", nil, []string{"-zp"}, "rpcinfo: invalid option -- 'z'\n" + usage},
		{"-h is not an option", nil, []string{"-h"}, "rpcinfo: invalid option -- 'h'\n" + usage},
		{"bad port stops at once", nil, []string{"-z", "-n", "x", "-y"}, "rpcinfo: invalid option -- 'z'\nrpcinfo: x is illegal port number\n"},
		{"-a without -T", nil, []string{"-a", "127.0.0.1.0.111", "100000"}, usage},
		{"-n with -p", nil, []string{"-n", "111", "-p", "127.0.0.1"}, usage},
		{"-p with two hosts", nil, []string{"-p", "a", "b"}, usage},
		{"-s with two hosts", nil, []string{"-s", "a", "b"}, usage},
		{"-l without a version", nil, []string{"-l", "127.0.0.1", "100000"}, usage},
		{"-b without a version", nil, []string{"-b", "100000"}, usage},
		{"-d without a version", nil, []string{"-d", "100000"}, usage},
		{"-t without a program", nil, []string{"-t", "127.0.0.1"}, usage},
		{"too many operands", nil, []string{"a", "b", "c", "d"}, usage},
		{"POSIXLY_CORRECT keeps -p an operand", map[string]string{"POSIXLY_CORRECT": "1"}, []string{"-s", "127.0.0.1", "-p"}, usage},
		{"-d reads the version first", nil, []string{"-d", "x", "y"}, "rpcinfo: y is illegal version number\n"},
		{"-d with an unknown netid", nil, []string{"-d", "-T", "foo", "1", "1"}, "rpcinfo: netid foo not supported\n"},
		{"-b with an unknown program", nil, []string{"-b", "nosuch", "1"}, "rpcinfo: nosuch is unknown service\n"},
		{"-T with an unknown netid", nil, []string{"-T", "xyz", "h", "100000", "2"}, "rpcinfo: Could not find xyz\n"},
		{"-a with an unknown netid", nil, []string{"-a", "x", "-T", "zz", "100000"}, "rpcinfo: Could not find zz\n"},
		{"-a with a bad address", nil, []string{"-a", "bad", "-T", "tcp", "100000"}, "rpcinfo: rpcinfo: no address for client handle\n"},
		{"-a with an address of the other family", nil, []string{"-a", "::1.0.111", "-T", "udp", "100000"}, "rpcinfo: rpcinfo: no address for client handle\n"},
		{"-t with an illegal version", nil, []string{"-t", "h", "100000", "x"}, "rpcinfo: x is illegal version number\n"},
		{"bad output", nil, []string{"-o", "xml", "-p"}, "rpcinfo: invalid value \"xml\" for --output: want classic, table, json\n"},
		{"bad color", nil, []string{"--color", "pink", "-p"}, "rpcinfo: invalid value \"pink\" for --color: want auto, always or never\n"},
		{"bad port", nil, []string{"--port", "0", "-p"}, "rpcinfo: invalid value 0 for --port: want 1 to 65535\n"},
		{"bad completion", nil, []string{"--completion", "tcsh"}, "rpcinfo: invalid value \"tcsh\" for --completion: want bash, zsh or fish\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, rc := runArgs(t, tt.env, tt.args...)
			if out != "" || errs != tt.err || rc != 1 {
				t.Errorf("got rc %d, stdout %q, stderr:\n%s\nwant rc 1, no stdout, stderr:\n%s", rc, out, errs, tt.err)
			}
		})
	}
}

// TestInfo checks --help, --version and the completion scripts.
func TestInfo(t *testing.T) {
	out, _, rc := runArgs(t, nil, "--help", "-z")
	for _, want := range []string{"rpcinfo - report RPC information", "-T netid", "--output form, -o form", "--timeout duration"} {
		if rc != 0 || !strings.Contains(out, want) {
			t.Errorf("--help (rc %d) lacks %q:\n%s", rc, want, out)
		}
	}
	if out, _, rc := runArgs(t, nil, "--version"); rc != 0 || out != "rpcinfo (pmap) "+cliutil.Version()+"\n" {
		t.Errorf("--version: rc %d, %q", rc, out)
	}
	for shell, want := range map[string]string{"bash": "complete -o default -F _rpcinfo_complete rpcinfo",
		"zsh": "compdef _rpcinfo rpcinfo", "fish": "complete -c rpcinfo"} {
		out, _, rc := runArgs(t, nil, "--completion", shell)
		if rc != 0 || !strings.Contains(out, want) {
			t.Errorf("--completion %s (rc %d) lacks %q:\n%s", shell, rc, want, out)
		}
	}
}

// TestComplete checks the candidates the completion scripts get.
func TestComplete(t *testing.T) {
	tests := []struct {
		args []string
		has  []string
		not  []string
	}{
		{[]string{"--generate-bash-completion"}, []string{"-p", "-T", "--output", "--timeout"}, []string{"portmapper", "--generate-man"}},
		{[]string{"-T", "--generate-bash-completion"}, []string{"udp", "tcp6", "local"}, []string{"-p"}},
		{[]string{"-o", "--generate-bash-completion"}, []string{"classic", "table", "json"}, nil},
		{[]string{"--color", "--generate-bash-completion"}, []string{"never"}, nil},
		{[]string{"-t", "127.0.0.1", "--generate-bash-completion"}, []string{"portmapper", "nfs", "-u"}, nil},
		{[]string{"-b", "--generate-bash-completion"}, []string{"mountd"}, nil},
	}
	for _, tt := range tests {
		out, errs, rc := runArgs(t, nil, tt.args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		has := func(s string) bool {
			for _, l := range lines {
				if l == s {
					return true
				}
			}
			return false
		}
		if rc != 0 || errs != "" {
			t.Errorf("%q: rc %d, stderr %q", tt.args, rc, errs)
		}
		for _, w := range tt.has {
			if !has(w) {
				t.Errorf("%q: no candidate %q in %q", tt.args, w, lines)
			}
		}
		for _, w := range tt.not {
			if has(w) {
				t.Errorf("%q: unexpected candidate %q", tt.args, w)
			}
		}
	}
}
