package loadgen

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRunCounts runs a fixed count of every procedure over both transports
// with both engines and checks that the generator's counts, the server's and
// the count asked for all agree, and that the answers were decoded.
func TestRunCounts(t *testing.T) {
	f := startFake(t, fakeAnswer)
	tests := []struct {
		proc       Proc
		vers       uint32
		prog       uint32
		wantAnswer string
		wantEmpty  bool
	}{
		{ProcNull, 2, 0, "ok", false},
		{ProcNull, 4, 0, "ok", false},
		{ProcGetport, 2, 100003, "2049", false},
		{ProcGetport, 2, 100099, "0", true},
		{ProcGetaddr, 3, 100003, `"127.0.0.1.8.1"`, false},
		{ProcGetaddr, 4, 100099, `""`, true},
		{ProcDump, 2, 0, "3 entries", false},
		{ProcDump, 3, 0, "3 entries", false},
	}
	for _, eng := range engines() {
		for _, network := range []string{"udp", "tcp"} {
			for _, tc := range tests {
				name := fmt.Sprintf("%v/%s/%v%d/%d", eng, network, tc.proc, tc.vers, tc.prog)
				t.Run(name, func(t *testing.T) {
					const count = 300
					before := f.calls.Load()
					res, err := Run(testContext(t), Config{
						Target: f.addr(network), Network: network, Proc: tc.proc, Vers: tc.vers,
						Prog: tc.prog, ProgVers: 3, Clients: 4, Window: 3, Count: count, Engine: eng,
					})
					if err != nil {
						t.Fatal(err)
					}
					served := f.calls.Load() - before
					if res.Calls != count || res.Errors != 0 || res.Timeouts != 0 || res.Unfinished != 0 || res.Stray != 0 {
						t.Errorf("calls %d errors %d timeouts %d unfinished %d stray %d (first error %q), want %d calls and nothing else",
							res.Calls, res.Errors, res.Timeouts, res.Unfinished, res.Stray, res.FirstError, count)
					}
					if served != count {
						t.Errorf("the server answered %d calls, want %d", served, count)
					}
					if res.StoppedBy != StopCount {
						t.Errorf("stopped by %q, want %q", res.StoppedBy, StopCount)
					}
					if res.Answer != tc.wantAnswer {
						t.Errorf("answer %q, want %q", res.Answer, tc.wantAnswer)
					}
					if wantEmpty := map[bool]int64{true: count}[tc.wantEmpty]; res.Empty != wantEmpty {
						t.Errorf("%d empty answers, want %d", res.Empty, wantEmpty)
					}
					if res.CallsPerSec <= 0 || res.LatencyUS.P50 <= 0 || res.LatencyUS.P50 > res.LatencyUS.P99 || res.LatencyUS.P99 > res.LatencyUS.Max {
						t.Errorf("rate %.0f/s, latency %+v: want a positive rate and p50 <= p99 <= max", res.CallsPerSec, res.LatencyUS)
					}
				})
			}
		}
	}
}

// TestRunStopsByItself checks that a run with neither a count nor a
// duration ends at the default duration, and one with a duration ends then,
// with the calls still in flight counted as unfinished.
func TestRunStopsByItself(t *testing.T) {
	if testing.Short() {
		t.Skip("takes DefaultDuration")
	}
	f := startFake(t, fakeAnswer)
	for _, eng := range engines() {
		for _, tc := range []struct {
			duration, want time.Duration
		}{
			{0, DefaultDuration},
			{300 * time.Millisecond, 300 * time.Millisecond},
		} {
			t.Run(fmt.Sprintf("%v/%v", eng, tc.duration), func(t *testing.T) {
				start := time.Now()
				res, err := Run(testContext(t), Config{Target: f.udp, Clients: 2, Duration: tc.duration, Engine: eng})
				took := time.Since(start)
				if err != nil {
					t.Fatal(err)
				}
				if res.StoppedBy != StopDuration {
					t.Errorf("stopped by %q, want %q", res.StoppedBy, StopDuration)
				}
				if took < tc.want || took > tc.want+2*time.Second {
					t.Errorf("ran %v, want about %v", took, tc.want)
				}
				if res.Calls == 0 || res.Errors != 0 || res.Timeouts != 0 {
					t.Errorf("%d calls, %d errors, %d timeouts (%s)", res.Calls, res.Errors, res.Timeouts, res.FirstError)
				}
				if res.Unfinished > 2 {
					t.Errorf("%d unfinished calls, want at most one per client", res.Unfinished)
				}
			})
		}
	}
}

// TestRunTimeoutsAndErrors checks that calls a mapper drops count as
// timeouts, calls it refuses as errors, and that both still end the run at
// its count.
func TestRunTimeoutsAndErrors(t *testing.T) {
	mute := startFake(t, fakeMute)
	noProc := startFake(t, fakeNoProc)
	for _, eng := range engines() {
		for _, tc := range []struct {
			name          string
			f             *fakeMapper
			network       string
			errs, timeout int64
			firstErr      string
		}{
			{"mute/udp", mute, "udp", 0, 12, ""},
			{"mute/tcp", mute, "tcp", 0, 12, ""},
			{"proc-unavail/udp", noProc, "udp", 12, 0, "Procedure unavailable"},
			{"proc-unavail/tcp", noProc, "tcp", 12, 0, "Procedure unavailable"},
		} {
			t.Run(fmt.Sprintf("%v/%s", eng, tc.name), func(t *testing.T) {
				start := time.Now()
				res, err := Run(testContext(t), Config{
					Target: tc.f.addr(tc.network), Network: tc.network, Proc: ProcGetport,
					Clients: 3, Count: 12, Timeout: 50 * time.Millisecond, Engine: eng,
				})
				if err != nil {
					t.Fatal(err)
				}
				if res.Calls != 0 || res.Errors != tc.errs || res.Timeouts != tc.timeout || res.Unfinished != 0 {
					t.Errorf("calls %d errors %d timeouts %d unfinished %d, want 0, %d, %d, 0",
						res.Calls, res.Errors, res.Timeouts, res.Unfinished, tc.errs, tc.timeout)
				}
				if res.Done() != 12 || res.StoppedBy != StopCount {
					t.Errorf("%d calls done, stopped by %q; want 12 and %q", res.Done(), res.StoppedBy, StopCount)
				}
				if !strings.Contains(res.FirstError, tc.firstErr) {
					t.Errorf("first error %q, want one with %q", res.FirstError, tc.firstErr)
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("took %v for 12 calls of 50 ms timeout", took)
				}
			})
		}
	}
}

// TestRunNoMapper checks that a run against a closed port fails at once over
// TCP (the connection is refused) and counts errors over UDP (ICMP).
func TestRunNoMapper(t *testing.T) {
	f := startFake(t, fakeAnswer)
	udp, tcp := f.udp, f.tcp
	f.stop()
	for _, eng := range engines() {
		t.Run(eng.String()+"/tcp", func(t *testing.T) {
			_, err := Run(testContext(t), Config{Target: tcp, Network: "tcp", Count: 5, Engine: eng})
			if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Errorf("Run against a closed TCP port: %v, want connection refused", err)
			}
		})
		t.Run(eng.String()+"/udp", func(t *testing.T) {
			res, err := Run(testContext(t), Config{Target: udp, Count: 5, Clients: 1, Timeout: 100 * time.Millisecond, Engine: eng})
			if err != nil {
				t.Fatal(err)
			}
			if res.Calls != 0 || res.Done() != 5 {
				t.Errorf("%d calls, %d done, want 0 and 5", res.Calls, res.Done())
			}
		})
	}
}

// TestRunContext checks that the end of the caller's context ends a run.
func TestRunContext(t *testing.T) {
	f := startFake(t, fakeAnswer)
	for _, eng := range engines() {
		t.Run(eng.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			res, err := Run(ctx, Config{Target: f.tcp, Network: "tcp", Duration: time.Minute, Engine: eng})
			if err != nil {
				t.Fatal(err)
			}
			if res.StoppedBy != StopContext || time.Since(start) > 5*time.Second {
				t.Errorf("stopped by %q after %v, want %q soon after 200ms", res.StoppedBy, time.Since(start), StopContext)
			}
		})
	}
}

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"127.0.0.1", "127.0.0.1:111"},
		{"127.0.0.1:1111", "127.0.0.1:1111"},
		{"127.255.255.254:7", "127.255.255.254:7"},
		{"localhost", "127.0.0.1:111"},
		{"localhost:112", "127.0.0.1:112"},
		{"", "127.0.0.1:111"},
		{"::1", "[::1]:111"},
		{"[::1]", "[::1]:111"},
		{"[::1]:2000", "[::1]:2000"},
		{"::ffff:127.0.0.2", "127.0.0.2:111"},
		{"192.0.2.1", "192.0.2.1:111"},
		{"192.0.2.254:111", "192.0.2.254:111"},
		{"192.0.3.1", ""},
		{"192.0.1.255", ""},
		{"128.0.0.1", ""},
		{"10.0.0.1", ""},
		{"192.168.1.1", ""},
		{"172.16.0.1", ""},
		{"8.8.8.8", ""},
		{"0.0.0.0", ""},
		{"::", ""},
		{"::2", ""},
		{"fe80::1%lo", ""},
		{"::ffff:10.0.0.1", ""},
		{"example.com", ""},
		{"127.0.0.1:0", ""},
		{"127.0.0.1:65536", ""},
		{"127.0.0.1:x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := CheckTarget(tc.in)
			switch {
			case tc.want == "" && err == nil:
				t.Errorf("CheckTarget(%q) = %v, want it refused", tc.in, got)
			case tc.want != "" && err != nil:
				t.Errorf("CheckTarget(%q): %v, want %s", tc.in, err, tc.want)
			case tc.want != "" && got.String() != tc.want:
				t.Errorf("CheckTarget(%q) = %v, want %s", tc.in, got, tc.want)
			case err != nil && !strings.HasPrefix(err.Error(), "loadgen: "):
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestRunRefusesTarget checks that Run refuses a target outside the allowed
// networks before opening anything, whatever the rest of the configuration.
func TestRunRefusesTarget(t *testing.T) {
	for _, target := range []string{"10.1.2.3:111", "198.51.100.7", "2001:db8::1", "192.0.3.1"} {
		for _, eng := range engines() {
			t.Run(eng.String()+"/"+target, func(t *testing.T) {
				start := time.Now()
				res, err := Run(testContext(t), Config{Target: target, Count: 1, Engine: eng})
				if !errors.Is(err, ErrTarget) || res != nil {
					t.Errorf("Run(%q) = %v, %v; want ErrTarget", target, res, err)
				}
				if time.Since(start) > time.Second {
					t.Errorf("refusing took %v", time.Since(start))
				}
			})
		}
	}
}

func TestConfigCheck(t *testing.T) {
	ok := Config{Target: "127.0.0.1"}
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"network", func(c *Config) { c.Network = "sctp" }, "network"},
		{"getport v3", func(c *Config) { c.Proc, c.Vers = ProcGetport, 3 }, "version 2 procedure"},
		{"getaddr v2", func(c *Config) { c.Proc, c.Vers = ProcGetaddr, 2 }, "version 3 and 4"},
		{"vers 5", func(c *Config) { c.Vers = 5 }, "want 2, 3 or 4"},
		{"proc", func(c *Config) { c.Proc = 9 }, "unknown procedure"},
		{"getport netid", func(c *Config) { c.Proc, c.Netid = ProcGetport, "udp6" }, "udp or tcp"},
		{"clients", func(c *Config) { c.Clients = MaxClients + 1 }, "clients"},
		{"negative clients", func(c *Config) { c.Clients = -1 }, "clients"},
		{"window", func(c *Config) { c.Window = MaxWindow + 1 }, "window"},
		{"count", func(c *Config) { c.Count = MaxCount + 1 }, "count"},
		{"duration", func(c *Config) { c.Duration = MaxDuration + 1 }, "duration"},
		{"timeout", func(c *Config) { c.Timeout = MaxTimeout + 1 }, "timeout"},
		{"engine", func(c *Config) { c.Engine = 7 }, "engine"},
		{"max everything", func(c *Config) {
			c.Clients, c.Window, c.Count, c.Duration, c.Timeout = MaxClients, MaxWindow, MaxCount, MaxDuration, MaxTimeout
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			_, err := c.check()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("check: %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("check: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestConfigDefaults checks the bounds a run gets when none is given.
func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		count     int64
		limit     time.Duration
		vers, key uint32
	}{
		{"nothing", Config{}, DefaultCount, DefaultDuration, 2, 100003},
		{"count only", Config{Count: 10}, 10, MaxDuration, 2, 100003},
		{"duration only", Config{Duration: time.Second}, DefaultCount, time.Second, 2, 100003},
		{"getaddr", Config{Proc: ProcGetaddr, Prog: 7, ProgVers: 1}, DefaultCount, DefaultDuration, 3, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.check()
			if err != nil {
				t.Fatal(err)
			}
			if got.count != tc.count || got.limit != tc.limit || got.Vers != tc.vers || got.Prog != tc.key {
				t.Errorf("count %d limit %v vers %d prog %d, want %d %v %d %d", got.count, got.limit, got.Vers, got.Prog, tc.count, tc.limit, tc.vers, tc.key)
			}
			if got.Clients != DefaultClients || got.Window != DefaultWindow || got.Timeout != DefaultTimeout || got.Netid != "udp" {
				t.Errorf("clients %d window %d timeout %v netid %q", got.Clients, got.Window, got.Timeout, got.Netid)
			}
		})
	}
}

func TestParseNames(t *testing.T) {
	for p := ProcNull; p <= ProcDump; p++ {
		if got, err := ParseProc(strings.ToUpper(p.String())); err != nil || got != p {
			t.Errorf("ParseProc(%q) = %v, %v", p.String(), got, err)
		}
	}
	for e := EngineAuto; e <= EngineRPC; e++ {
		if got, err := ParseEngine(e.String()); err != nil || got != e {
			t.Errorf("ParseEngine(%q) = %v, %v", e.String(), got, err)
		}
	}
	for _, bad := range []string{"", "callit", "getport2"} {
		if _, err := ParseProc(bad); err == nil {
			t.Errorf("ParseProc(%q) accepted", bad)
		}
		if _, err := ParseEngine(bad); err == nil {
			t.Errorf("ParseEngine(%q) accepted", bad)
		}
	}
}
