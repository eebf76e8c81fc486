package client

import (
	"context"
	"errors"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// fakeProg is the program number of the fake services of the tests, in the
// range RFC 5531 §7.3 leaves to local use.
const fakeProg = 0x20000099

// nullOK answers NULL.
func nullOK(context.Context, *rpc.Request, []byte) ([]byte, error) { return nil, nil }

// versionsMux serves NULL of fakeProg for each version in vers.
func versionsMux(vers ...uint32) *rpc.Mux {
	m := &rpc.Mux{}
	for _, v := range vers {
		m.HandleFunc(fakeProg, v, 0, nullOK)
	}
	return m
}

// versionHandler answers NULL of every version with what answers says, and
// success for versions it does not list.
type versionHandler map[uint32]error

func (h versionHandler) ServeRPC(_ context.Context, req *rpc.Request, res []byte) ([]byte, error) {
	if req.Header.Prog != fakeProg {
		return nil, rpc.ErrProgUnavail
	}
	return res, h[req.Header.Vers]
}

func TestPingVersions(t *testing.T) {
	mismatch := func(low, high uint32) error {
		return &rpc.Error{Status: rpc.ProgVersMismatch, Low: low, High: high}
	}
	type res struct {
		vers   uint32
		status rpc.Status // 0: success
	}
	tests := []struct {
		name    string
		h       rpc.Handler
		prog    uint32
		want    []res
		wantErr rpc.Status // 0: none
	}{
		{"versions 2 to 4", versionsMux(2, 3, 4), fakeProg, []res{{2, 0}, {3, 0}, {4, 0}}, 0},
		{"a version of the range fails", func() rpc.Handler {
			m := versionsMux(2, 4)
			m.HandleFunc(fakeProg, 3, 1, nullOK) // version 3 exists, without NULL
			return m
		}(), fakeProg, []res{{2, 0}, {3, rpc.ProcUnavail}, {4, 0}}, 0},
		{"program unavailable", versionsMux(2), fakeProg + 1, []res{{0, rpc.ProgUnavail}}, rpc.ProgUnavail},
		{"version 0 answers, the highest gives the range",
			versionHandler{maxVers: mismatch(1, 3)}, fakeProg, []res{{1, 0}, {2, 0}, {3, 0}}, 0},
		{"version 0 answers, the highest fails",
			versionHandler{maxVers: rpc.ErrSystemErr}, fakeProg, []res{{maxVers, rpc.SystemError}}, rpc.SystemError},
		{"empty range", versionHandler{0: mismatch(4, 2)}, fakeProg, []res{{0, rpc.ProgVersMismatch}}, rpc.ProgVersMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, tc.h)
			for network, addr := range map[string]string{
				"udp": net.JoinHostPort("127.0.0.1", itoa(f.port)), "tcp": net.JoinHostPort("127.0.0.1", itoa(f.port)), "unix": f.sock,
			} {
				got, err := PingVersions(ctxT(t, 10*time.Second), network, addr, tc.prog, nil)
				var gotRes []res
				for _, r := range got {
					var st rpc.Status
					if r.Err != nil {
						var e *rpc.Error
						if !errors.As(r.Err, &e) {
							t.Fatalf("%s: result %d: %v is not an *rpc.Error", network, r.Vers, r.Err)
						}
						st = e.Status
						if e.Prog != tc.prog || e.Vers != r.Vers || e.Network != network || e.Addr != addr {
							t.Errorf("%s: error %v does not name the call", network, r.Err)
						}
					}
					gotRes = append(gotRes, res{r.Vers, st})
				}
				if !reflect.DeepEqual(gotRes, tc.want) {
					t.Errorf("%s: results %v, want %v", network, gotRes, tc.want)
				}
				var e *rpc.Error
				switch {
				case tc.wantErr == 0 && err != nil:
					t.Errorf("%s: error %v, want none", network, err)
				case tc.wantErr != 0 && (!errors.As(err, &e) || e.Status != tc.wantErr):
					t.Errorf("%s: error %v, want status %v", network, err, tc.wantErr)
				}
			}
		})
	}
}

// TestPingVersionsEveryVersion: a server that accepts every version gets
// MaxPingVersions calls, not four billion.
func TestPingVersionsEveryVersion(t *testing.T) {
	f := startFake(t, versionHandler{})
	start := time.Now()
	got, err := PingVersions(ctxT(t, 30*time.Second), "tcp", net.JoinHostPort("127.0.0.1", itoa(f.port)), fakeProg, nil)
	if !errors.Is(err, ErrTooManyVersions) {
		t.Errorf("error %v, want one wrapping ErrTooManyVersions", err)
	}
	if len(got) != MaxPingVersions || got[0].Vers != 0 || got[len(got)-1].Vers != MaxPingVersions-1 {
		t.Fatalf("got %d results, want versions 0 to %d", len(got), MaxPingVersions-1)
	}
	for _, r := range got {
		if r.Err != nil {
			t.Fatalf("version %d: %v", r.Vers, r.Err)
		}
	}
	t.Logf("%d pings in %v", len(got), time.Since(start))
}

func TestPing(t *testing.T) {
	f := startFake(t, versionsMux(2, 3, 4))
	addr := net.JoinHostPort("127.0.0.1", itoa(f.port))
	tests := []struct {
		network, addr string
		prog, vers    uint32
		status        rpc.Status
		low, high     uint32
	}{
		{"udp", addr, fakeProg, 3, 0, 0, 0},
		{"tcp", addr, fakeProg, 4, 0, 0, 0},
		{"unix", f.sock, fakeProg, 2, 0, 0, 0},
		{"tcp", addr, fakeProg, 7, rpc.ProgVersMismatch, 2, 4},
		{"udp", addr, fakeProg + 1, 1, rpc.ProgUnavail, 0, 0},
		{"unix", f.sock + ".none", fakeProg, 1, rpc.SystemError, 0, 0},
	}
	for _, tc := range tests {
		err := Ping(ctxT(t, 5*time.Second), tc.network, tc.addr, tc.prog, tc.vers, nil)
		if tc.status == 0 {
			if err != nil {
				t.Errorf("%s %d/%d: %v", tc.network, tc.prog, tc.vers, err)
			}
			continue
		}
		var e *rpc.Error
		if !errors.As(err, &e) || e.Status != tc.status || e.Low != tc.low || e.High != tc.high ||
			e.Prog != tc.prog || e.Vers != tc.vers || e.Network != tc.network || e.Addr != tc.addr {
			t.Errorf("%s %d/%d: got %#v, want status %v (%d-%d) naming the call", tc.network, tc.prog, tc.vers, err, tc.status, tc.low, tc.high)
		}
	}
}
