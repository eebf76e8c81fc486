package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/audit"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// TestExposureArgs checks the refusals of --audit and --discover: each exits
// 1 with one line on standard error and nothing on standard output, before
// any packet is sent.
func TestExposureArgs(t *testing.T) {
	audit := "rpcinfo: --audit takes hosts and no mode, -T or -n (--port names the port mapper's port): " + auditUsage + "\n"
	discover := "rpcinfo: --discover takes -T udp or -T tcp, targets and no mode: " + discoverUsage + "\n"
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"--audit"}, audit},
		{[]string{"--audit", "-p", "h"}, audit},
		{[]string{"--audit", "-T", "udp", "h"}, audit},
		{[]string{"--audit", "-n", "111", "h"}, audit},
		{[]string{"--audit", "192.0.2.0/30:111"}, "rpcinfo: --audit: a range takes no port (192.0.2.0:111): use --port\n"},
		{[]string{"--audit", "--parallel", "26", "a,b"}, "rpcinfo: invalid value 26 for --parallel: want 1 to 25\n"},
		{[]string{"--audit", "--probe", "dump-v5", "h"}, "rpcinfo: invalid value \"dump-v5\" for --probe: want all, none, or a list of dump-v2, dump-v3, dump-v4, getstat-v4\n"},
		{[]string{"--audit", "--attempts", "0", "h"}, "rpcinfo: invalid value 0 for --attempts: want 1 to 10\n"},
		{[]string{"--audit", "--window", "0s", "h"}, "rpcinfo: invalid value \"0s\" for --window: want a positive duration such as 500ms\n"},
		{[]string{"--audit", "--programs", "nfs", "h"}, "rpcinfo: --programs and --rate go with --discover\n"},
		{[]string{"--audit", "--discover", "h"}, "rpcinfo: --audit and --discover are two checks: run them one at a time\n"},
		{[]string{"--audit", "--verify", "h"}, "rpcinfo: --audit and --discover do not go with --verify or --nfs\n"},
		{[]string{"--audit", "a,,b"}, "rpcinfo: empty host in \"a,,b\"\n"},
		{[]string{"--audit", "h:0"}, "rpcinfo: bad target \"h:0\": want host, host:port or [ipv6]:port\n"},
		{[]string{"--discover", "h:1"}, discover},
		{[]string{"--discover", "-T", "udp6", "h:1"}, discover},
		{[]string{"--discover", "-T", "tcp", "-s", "h:1"}, discover},
		{[]string{"--discover", "-T", "tcp"}, discover},
		{[]string{"--discover", "-T", "tcp", "h"}, "rpcinfo: --discover: h has no port: give host:port, or -n port\n"},
		{[]string{"--discover", "-T", "tcp", "10.0.0.0/19:1"}, "rpcinfo: range 10.0.0.0/19 is wider than 4096 addresses (a /20 of IPv4)\n"},
		{[]string{"--discover", "-T", "tcp", "--parallel", "51", "h:1"}, "rpcinfo: invalid value 51 for --parallel: want 1 to 50\n"},
		{[]string{"--discover", "-T", "tcp", "--rate", "-1", "h:1"}, "rpcinfo: invalid value -1 for --rate: want a number of calls a second, or 0 for no bound\n"},
		{[]string{"--discover", "-T", "tcp", "--programs", "nosuchservice", "h:1"},
			"rpcinfo: invalid value \"nosuchservice\" for --programs: nosuchservice is neither a program number, a name of /etc/rpc nor a range\n"},
		{[]string{"--discover", "-T", "tcp", "--no-forward", "h:1"}, "rpcinfo: --probe, --no-forward and --attempts go with --audit\n"},
		{[]string{"--window", "1s", "-p"}, "rpcinfo: --window goes with --audit or --discover\n"},
		{[]string{"--rate", "5", "-s"}, "rpcinfo: --programs and --rate go with --discover\n"},
		{[]string{"--audit", "--probe"}, "rpcinfo: option '--probe' requires an argument\n" + usageText},
	}
	for _, tt := range tests {
		out, errs, rc := runArgs(t, nil, tt.args...)
		if rc != 1 || out != "" || errs != tt.err {
			t.Errorf("%q: rc %d, stdout %q, stderr %q\nwant %q", tt.args, rc, out, errs, tt.err)
		}
	}
}

func TestParseProbes(t *testing.T) {
	tests := []struct {
		in   string
		want []audit.ProbeKind
		err  bool
	}{
		{"all", nil, false},
		{"none", []audit.ProbeKind{}, false},
		{"getstat-v4,dump_v2,DUMP-V2", []audit.ProbeKind{audit.DumpV2, audit.GetstatV4}, false},
		{"dump-v3", []audit.ProbeKind{audit.DumpV3}, false},
		{"", nil, true},
		{"dump-v2,", nil, true},
		{"callit", nil, true},
	}
	for _, tt := range tests {
		got, err := parseProbes(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseProbes(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParsePrograms(t *testing.T) {
	r := &runner{names: portmap.BuiltinNames()}
	tests := []struct {
		in   string
		want []uint32
		err  string
	}{
		{"nfs,100005,mountd, 7", []uint32{100003, 100005, 7}, ""},
		{"100000-100003,100002", []uint32{100000, 100001, 100002, 100003}, ""},
		{"4294967295", []uint32{4294967295}, ""},
		{"4294967296", nil, "4294967296 is not a 32-bit program number"},
		{"5-1", nil, "range 5-1 runs backwards"},
		{"0-65536", nil, "range 0-65536 is more than 65536 programs"},
		{"0-65535,65536", nil, "more than 65536 programs"},
		{"nfs,", nil, "an empty program"},
		{"no-such", nil, "no-such is neither a program number, a name of /etc/rpc nor a range"},
	}
	for _, tt := range tests {
		got, err := r.parsePrograms(tt.in)
		if fmt.Sprint(err) != fmt.Sprint(map[bool]any{true: nil, false: tt.err}[tt.err == ""]) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parsePrograms(%q) = %v, %v; want %v, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseExposureTargets(t *testing.T) {
	tests := []struct {
		args []string
		want []string // names, with "*" after a ranged one
		err  string
	}{
		{[]string{"192.0.2.2,nfs1:2049", "[fd00::1]:111", "fd00::2", "[fd00::3]"},
			[]string{"192.0.2.2", "nfs1:2049", "[fd00::1]:111", "fd00::2", "fd00::3"}, ""},
		{[]string{"192.0.2.4/31:7", "192.0.2.5:7", "192.0.2.5"}, []string{"192.0.2.4:7*", "192.0.2.5:7*", "192.0.2.5"}, ""},
		{[]string{"h:99999"}, nil, "bad target \"h:99999\": want host, host:port or [ipv6]:port"},
		{[]string{":7"}, nil, "bad target \":7\": want host, host:port or [ipv6]:port"},
		{[]string{"192.0.2.0/33"}, nil, "bad range \"192.0.2.0/33\": want an address and a prefix length, such as 192.0.2.0/24"},
	}
	for _, tt := range tests {
		ts, err := parseExposureTargets(tt.args)
		var got []string
		for _, t := range ts {
			n := t.name()
			if t.Ranged {
				n += "*"
			}
			got = append(got, n)
		}
		if fmt.Sprint(err) != fmt.Sprint(map[bool]any{true: nil, false: tt.err}[tt.err == ""]) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseExposureTargets(%q) = %q, %v; want %q, %q", tt.args, got, err, tt.want, tt.err)
		}
	}
}

func TestExposureCompletion(t *testing.T) {
	out, errs, rc := runArgs(t, nil, "--probe", "--generate-bash-completion")
	if rc != 0 || errs != "" || out != strings.Join(probeNames(), "\n")+"\n" || !strings.Contains(out, "getstat-v4\n") {
		t.Errorf("--probe completion: rc %d, %q, %q", rc, out, errs)
	}
	out, _, _ = runArgs(t, nil, "--generate-bash-completion")
	for _, want := range []string{"--audit", "--discover", "--probe", "--programs", "--rate", "--window"} {
		if !strings.Contains(out, "\n"+want+"\n") {
			t.Errorf("no candidate %q", want)
		}
	}
}
