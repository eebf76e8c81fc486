package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

var update = flag.Bool("update", false, "rewrite pmapdump.8 from the command's definition")

// extremes are registrations at the ends of every field's range, of
// programs /etc/rpc does not know, and of netids the v2 view leaves out.
var extremes = []portmap.RPCB{
	rb(100003, 3, "udp", "0.0.0.0.8.1", "superuser"),
	rb(4294967295, 4294967295, "tcp", "0.0.0.0.255.255", "unknown"),
	rb(0, 0, "udp", "0.0.0.0.0.0", "0"),
	rb(123456789, 1, "tcp", "127.0.0.1.1.0", "1000"),
	rb(2147483648, 2147483648, "udp", "0.0.0.0.128.0", "unknown"),
	rb(100003, 4, "tcp6", "::.8.1", "superuser"),
	rb(100005, 3, "local", "/run/mountd.sock", "superuser"),
}

// TestClassic checks the default output against pmap_dump's printf format,
// applied here with fmt to what the mapper's v2 view holds.
func TestClassic(t *testing.T) {
	tm := startMapper(t)
	tm.Set(t, extremes...)
	names := portmap.DefaultNames()
	var want strings.Builder
	for _, m := range tm.Srv.Registry().DumpV2() {
		name, _ := names.Name(m.Prog)
		fmt.Fprintf(&want, "%10d %4d %5s %6d  %s\n", m.Prog, m.Vers, portmap.ProtName(m.Prot), m.Port, name)
	}
	if n := strings.Count(want.String(), "\n"); n != 3+5 {
		t.Fatalf("the v2 view holds %d entries, want 8", n)
	}
	for _, args := range [][]string{tm.TCPArgs(), tm.UnixArgs(), append([]string{"-o", "classic"}, tm.TCPArgs()...)} {
		got := pmapdump(t, args...)
		if got.code != exitOK || got.stderr != "" || got.stdout != want.String() {
			t.Errorf("pmapdump %v = %+v\nwant stdout\n%s", args, got, want.String())
		}
	}
}

// weird are registrations whose strings need quoting in the extended form.
var weird = []portmap.RPCB{
	rb(200000, 1, "my net", "an address", ""),
	rb(200001, 1, "local", "2049", `a"b\c`),
	rb(200002, 1, "x", "\x00\t\n\r\x7f\xff", "ü"),
}

// TestExtendedAndJSON checks that the extended and JSON forms carry every
// registration of the rpcbind listing, in order, so that they read back
// equal to it.
func TestExtendedAndJSON(t *testing.T) {
	tm := startMapper(t)
	tm.Set(t, extremes...)
	tm.Set(t, weird...)
	names := portmap.DefaultNames()
	var want []regfile.Entry
	for i, r := range tm.Srv.Registry().Dump() {
		name, _ := names.Name(r.Prog)
		e := regfile.RPCBEntry(r, name)
		e.Line = i + 2 // after the header line
		want = append(want, e)
	}
	got := pmapdump(t, append([]string{"-o", "extended"}, tm.UnixArgs()...)...)
	if got.code != exitOK || got.stderr != "" || !strings.HasPrefix(got.stdout, regfile.ExtendedHeader) {
		t.Fatalf("pmapdump -o extended = %+v", got)
	}
	es, err := regfile.Parse(strings.NewReader(got.stdout))
	if err != nil {
		t.Fatalf("the extended form does not read back: %v\n%s", err, got.stdout)
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("extended form reads back as\n%+v\nwant\n%+v", es, want)
	}

	// JSON strings hold UTF-8 only: leave out the entry that is not.
	tm.Srv.Registry().Unset(200002, 1, "x", "superuser")
	want = want[:len(want)-1] // it was registered last
	got = pmapdump(t, append([]string{"--output", "json"}, tm.TCPArgs()...)...)
	if got.code != exitOK || got.stderr != "" {
		t.Fatalf("pmapdump -o json = %+v", got)
	}
	var doc regfile.RegistrationsDocument
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || doc.Schema != regfile.Schema || doc.Kind != regfile.KindRegistrations || doc.Host != "127.0.0.1" {
		t.Errorf("JSON header = %+v, %v", doc, err)
	}
	es, err = regfile.Parse(strings.NewReader(got.stdout))
	if err != nil {
		t.Fatalf("the JSON form does not read back: %v", err)
	}
	for i := range es {
		es[i].Line = want[i].Line
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("JSON form reads back as\n%+v\nwant\n%+v", es, want)
	}
}

// startV2Mapper serves a port mapper that knows only portmap v2, holding ms,
// or, when ms is nil, no program at all.
func startV2Mapper(t *testing.T, ms []portmap.Mapping) int {
	t.Helper()
	var mux rpc.Mux
	if ms != nil {
		mux.HandleFunc(portmap.Program, portmap.V2, portmap.PmapDump, func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) {
			return portmap.AppendMappingList(res, ms), nil
		})
	}
	srv := &rpc.Server{Handler: &mux}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestV2OnlyMapper(t *testing.T) {
	ms := []portmap.Mapping{
		{Prog: 100000, Vers: 2, Prot: portmap.IPProtoTCP, Port: 111},
		{Prog: 300000, Vers: 7, Prot: 132, Port: 65535},
	}
	port := strconv.Itoa(startV2Mapper(t, ms))
	classic := "    100000    2   tcp    111  portmapper\n    300000    7   132  65535  \n"
	got := pmapdump(t, "--port", port, "127.0.0.1")
	if got.code != exitOK || got.stdout != classic || got.stderr != "" {
		t.Errorf("classic = %+v", got)
	}
	got = pmapdump(t, "-o", "extended", "--port", port, "127.0.0.1")
	if got.code != exitOK || got.stdout != regfile.ExtendedHeader+classic || got.stderr != "" {
		t.Errorf("extended falls back to classic lines: %+v", got)
	}
	got = pmapdump(t, "-o", "json", "--port", port, "127.0.0.1")
	var doc regfile.MappingsDocument
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || got.code != exitOK || doc.Kind != regfile.KindMappings || len(doc.Mappings) != 2 || doc.Mappings[1].Protocol != "132" {
		t.Errorf("json = %+v (%v)", got, err)
	}
}

func TestFailures(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	noMapper := startV2Mapper(t, nil)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"closed port", []string{"--port", strconv.Itoa(closed), "127.0.0.1"},
			fmt.Sprintf("pmapdump: can't contact the port mapper at 127.0.0.1 port %d: RPC: Remote system error - Connection refused\n", closed)},
		{"closed port, extended", []string{"-o", "extended", "--port", strconv.Itoa(closed)},
			fmt.Sprintf("pmapdump: can't contact the port mapper at 127.0.0.1 port %d: RPC: Remote system error - Connection refused\n", closed)},
		{"missing socket", []string{"--socket", "/nonexistent/rpcbind.sock"},
			"pmapdump: can't contact the port mapper at /nonexistent/rpcbind.sock: RPC: Remote system error - No such file or directory\n"},
		{"not a port mapper", []string{"--port", strconv.Itoa(noMapper), "127.0.0.1"},
			fmt.Sprintf("pmapdump: the port mapper at 127.0.0.1 port %d failed to list its registrations: RPC: Program unavailable\n", noMapper)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pmapdump(t, tt.args...)
			if got.code != exitFail || got.stdout != "" || got.stderr != tt.want {
				t.Errorf("pmapdump %v = %+v\nwant stderr %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-o", "xml"}, `pmapdump: unknown output form "xml" (want classic, extended or json)` + "\n"},
		{[]string{"host1", "host2"}, `pmapdump: too many arguments: ["host1" "host2"] (options go before the host)` + "\n"},
		{[]string{"--port", "65536"}, "pmapdump: bad --port 65536 (want 1 to 65535)\n"},
		{[]string{"--timeout", "0s"}, "pmapdump: bad --timeout 0s (want a positive duration such as 5s)\n"},
		{[]string{"--bogus"}, "pmapdump: flag provided but not defined: -bogus\n"},
		{[]string{"--completion", "tcsh"}, "pmapdump: invalid value \"tcsh\" for --completion: want bash, zsh or fish\n"},
	}
	for _, tt := range tests {
		got := pmapdump(t, tt.args...)
		if got.code != exitUsage || got.stdout != "" || !strings.HasPrefix(got.stderr, tt.want) || !strings.Contains(got.stderr, "Usage: pmapdump ") {
			t.Errorf("pmapdump %v = %+v\nwant exit 2 and stderr starting %q", tt.args, got, tt.want)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	got := pmapdump(t, "--version")
	if got.code != exitOK || got.stdout != "pmapdump version "+cliutil.Version()+"\n" {
		t.Errorf("--version = %+v", got)
	}
	got = pmapdump(t, "--help")
	if got.code != exitOK || !strings.Contains(got.stdout, "--output value, -o value") || !strings.Contains(got.stdout, "Exit status: 0") {
		t.Errorf("--help = %+v", got)
	}
}

// TestManPage checks that pmapdump.8 is what the command's definition
// generates; go generate (or -update) rewrites it.
func TestManPage(t *testing.T) {
	got := pmapdump(t, "--generate-man")
	if got.code != exitOK || got.stderr != "" || got.stdout != manPage {
		t.Fatalf("--generate-man = %+v, not the embedded pmapdump.8", got)
	}
	if !cliutil.CanGenerateMan {
		t.Skip("built with -tags urfave_cli_no_docs: no generator to compare pmapdump.8 with")
	}
	page, err := cliutil.ManPage(newApp(io.Discard, io.Discard, nil))
	if err != nil {
		t.Fatal(err)
	}
	cliutil.CheckManPage(t, "pmapdump.8", page, *update,
		".TH pmapdump 8", "--output", "--port", "--timeout", "--socket", "--completion", "pmap_dump", "Exit status")
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		got := pmapdump(t, "--completion", sh)
		if got.code != exitOK || !strings.Contains(got.stdout, "pmapdump") {
			t.Errorf("--completion %s = %+v", sh, got)
		}
	}
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"-o"}, "classic\nextended\njson\n"},
		{[]string{"--output"}, "classic\nextended\njson\n"},
		{[]string{"--completion"}, "bash\nzsh\nfish\n"},
		{[]string{"--socket"}, ""}, // the shell completes file names
		{[]string{"--port", "111"}, "--output\n-o\n--port\n--timeout\n--socket\n--completion\n--help\n-h\n--version\n-v\n"},
	}
	for _, tt := range tests {
		got := pmapdump(t, append(tt.words, "--generate-bash-completion")...)
		if got.code != exitOK || got.stdout != tt.want {
			t.Errorf("completion after %q = %+v, want %q", tt.words, got, tt.want)
		}
	}
}
