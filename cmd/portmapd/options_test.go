package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/server"
	"github.com/urfave/cli/v2"
)

// TestExpandShort checks that rpcbind's clustered options are read as
// getopt reads them and that everything else is left alone.
func TestExpandShort(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"-w -f", "-w -f"},
		{"-wf", "-w -f"},
		{"-fw -l", "-f -w -l"},
		{"-adilrsw", "-a -d -i -l -r -s -w"},
		{"-h127.0.0.1", "-h 127.0.0.1"},
		{"-wh 192.0.2.1", "-w -h 192.0.2.1"},
		{"-wh::1 -f", "-w -h ::1 -f"},
		{"-h 127.0.0.1", "-h 127.0.0.1"},
		{"--state /run/x -w", "--state /run/x -w"},
		{"-listen 127.0.0.1", "-listen 127.0.0.1"}, // Go's single-dash long form: not a cluster
		{"-wx", "-wx"},                             // x is no option of rpcbind's: left for the parser to refuse
		{"-w -- -wf", "-w -- -wf"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			args := append([]string{"portmapd"}, strings.Fields(tt.in)...)
			got := strings.Join(expandShort(args)[1:], " ")
			if got != tt.want {
				t.Errorf("expandShort(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// parseServer runs the command's flag parsing on args and returns the
// server it would run, without running it.
func parseServer(t *testing.T, args ...string) (*server.Server, error) {
	t.Helper()
	var srv *server.Server
	var perr error
	app := newApp(io.Discard, io.Discard, nil)
	app.Action = func(c *cli.Context) error {
		srv, perr = newServer(c, slog.New(slog.DiscardHandler))
		return perr
	}
	if err := app.RunContext(context.Background(), expandShort(append([]string{"portmapd"}, args...))); err != nil {
		return nil, err
	}
	return srv, perr
}

// TestRpcbindOptions checks that rpcbind's options, as its unit files and
// /etc/default/rpcbind give them, set what they mean in rpcbind.
func TestRpcbindOptions(t *testing.T) {
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	tests := []struct {
		args  string
		check func(t *testing.T, s *server.Server)
	}{
		{"-f -w", func(t *testing.T, s *server.Server) {
			if s.WarmStartDir != "/run/rpcbind" || s.StateFile != "/run/rpcbind/portmapd.state" {
				t.Errorf("warm start %q, state %q", s.WarmStartDir, s.StateFile)
			}
		}},
		{"-w --state /var/lib/portmapd/state --warm-start-dir /tmp/rb", func(t *testing.T, s *server.Server) {
			if s.WarmStartDir != "/tmp/rb" || s.StateFile != "/var/lib/portmapd/state" {
				t.Errorf("warm start %q, state %q", s.WarmStartDir, s.StateFile)
			}
		}},
		{"-f", func(t *testing.T, s *server.Server) {
			if s.WarmStartDir != "" || s.StateFile != "" || s.Policy.Forward || s.Policy.AllowRemoteSet || s.LogCalls || s.UDPAddrs != nil {
				t.Errorf("defaults changed: %+v", s)
			}
			if s.Policy.AllowAmplification || s.Policy.NoUDPRateLimit || s.Policy.UDPRate != server.DefaultUDPRate {
				t.Errorf("safety defaults: %+v", s.Policy)
			}
		}},
		{"-h 192.0.2.1 -h 127.0.0.1 -h192.0.2.7", func(t *testing.T, s *server.Server) {
			want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), lo4, netip.MustParseAddr("192.0.2.7"), lo6}
			if !reflect.DeepEqual(s.UDPAddrs, want) || s.Addrs != nil {
				t.Errorf("UDP %v, TCP %v; want UDP %v and TCP on every address", s.UDPAddrs, s.Addrs, want)
			}
		}},
		{"-irl", func(t *testing.T, s *server.Server) {
			if !s.Policy.AllowRemoteSet || !s.Policy.Forward || !s.LogCalls {
				t.Errorf("-irl: %+v", s.Policy)
			}
		}},
		{"-a -d", func(t *testing.T, s *server.Server) {}},
		{"--allow 192.0.2.0/24 --allow 2001:db8::1 --deny 0.0.0.0/0 --udp-rate 0 --allow-amplification", func(t *testing.T, s *server.Server) {
			p := s.Policy
			if fmt.Sprint(p.Allow) != "[192.0.2.0/24 2001:db8::1/128]" || fmt.Sprint(p.Deny) != "[0.0.0.0/0]" || !p.NoUDPRateLimit || !p.AllowAmplification {
				t.Errorf("policy %+v", p)
			}
		}},
		{"--udp-rate 5.5 --udp-burst 7 --prune-interval 1m --max-forwards 3 --forward-timeout 1s --max-registrations 10 --idle-timeout 5s", func(t *testing.T, s *server.Server) {
			if s.Policy.UDPRate != 5.5 || s.Policy.UDPBurst != 7 || s.PruneInterval != time.Minute || s.MaxForwards != 3 ||
				s.ForwardTimeout != time.Second || s.MaxRegistrations != 10 || s.IdleTimeout != 5*time.Second {
				t.Errorf("limits: %+v", s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			s, err := parseServer(t, strings.Fields(tt.args)...)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// TestUsageErrors checks the messages of the options portmapd cannot use.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args, stderr string
	}{
		{"-h", "portmapd: flag needs an argument: -h (see --help)\n"},
		{"-h localhost", "portmapd: -h \"localhost\": not an IP address\n"},
		{"-x", "portmapd: flag provided but not defined: -x (see --help)\n"},
		{"-p 111", "portmapd: flag provided but not defined: -p (see --help)\n"},
		{"--allow 192.0.2.0/33", "portmapd: --allow \"192.0.2.0/33\": not an address or CIDR prefix\n"},
		{"--deny nowhere", "portmapd: --deny \"nowhere\": not an address or CIDR prefix\n"},
		{"--udp-rate -1", "portmapd: --udp-rate -1: want 0 (no limit) or more\n"},
		{"--udp-burst 0", "portmapd: --udp-burst 0: want 1 or more\n"},
		{"--max-conns 0", "portmapd: --max-conns 0: want 1 or more\n"},
		{"--forward-timeout 0s", "portmapd: --forward-timeout 0s: want a positive duration\n"},
		{"--prune-interval -1s", "portmapd: --prune-interval -1s: want a positive duration, or 0 for never\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			rc := run(context.Background(), append([]string{"portmapd"}, strings.Fields(tt.args)...), &stdout, &stderr)
			if rc != 2 || stderr.String() != tt.stderr {
				t.Errorf("rc %d, stderr %q; want 2 and %q", rc, stderr.String(), tt.stderr)
			}
		})
	}
}
