package rpc

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

func TestAuthSysVector(t *testing.T) {
	var h CallHeader
	d := xdr.NewDecoder(vectors.Load("v2_null_authsys").Call)
	h.Decode(d)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	p, err := ParseAuthSys(h.Cred)
	if err != nil {
		t.Fatal(err)
	}
	want := AuthSysParams{Stamp: 0x5f5e1000, MachineName: "vectorhost", UID: 0, GID: 0, GIDs: []uint32{0}}
	if p.Stamp != want.Stamp || p.MachineName != want.MachineName || p.UID != want.UID || p.GID != want.GID || !slices.Equal(p.GIDs, want.GIDs) {
		t.Errorf("ParseAuthSys = %+v, want %+v", p, want)
	}
	a, err := p.Auth()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Body, h.Cred.Body) {
		t.Errorf("Auth() body %x, want %x", a.Body, h.Cred.Body)
	}
}

// TestAuthLimits holds the limits of RFC 5531 on both sides: one over the
// limit fails to encode and fails to decode; at the limit both work.
func TestAuthLimits(t *testing.T) {
	gids := func(n int) []uint32 { return make([]uint32, n) }
	tests := []struct {
		name string
		p    AuthSysParams
		ok   bool
	}{
		{"machine name 255", AuthSysParams{MachineName: strings.Repeat("m", 255)}, true},
		{"machine name 256", AuthSysParams{MachineName: strings.Repeat("m", 256)}, false},
		{"16 gids", AuthSysParams{GIDs: gids(16)}, true},
		{"17 gids", AuthSysParams{GIDs: gids(17)}, false},
		{"both at limit", AuthSysParams{MachineName: strings.Repeat("m", 255), GIDs: gids(16)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Auth()
			if tt.ok != (err == nil) {
				t.Fatalf("Auth() err = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrAuthTooLong) {
				t.Errorf("err %v does not wrap ErrAuthTooLong", err)
			}
			// Encode by hand, bypassing the check, and decode.
			body := xdr.AppendUint32(nil, tt.p.Stamp)
			body = xdr.AppendString(body, tt.p.MachineName)
			body = xdr.AppendUint32(body, tt.p.UID)
			body = xdr.AppendUint32(body, tt.p.GID)
			body = xdr.AppendUint32(body, uint32(len(tt.p.GIDs)))
			for _, g := range tt.p.GIDs {
				body = xdr.AppendUint32(body, g)
			}
			_, err = ParseAuthSys(OpaqueAuth{Flavor: AuthSys, Body: body})
			if tt.ok != (err == nil) {
				t.Errorf("ParseAuthSys err = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, xdr.ErrTooLong) {
				t.Errorf("ParseAuthSys err %v does not wrap xdr.ErrTooLong", err)
			}
		})
	}
}

func TestOpaqueAuthLimit(t *testing.T) {
	for _, n := range []int{0, 1, 399, 400, 401} {
		a := OpaqueAuth{Flavor: AuthDH, Body: bytes.Repeat([]byte{7}, n)}
		ok := n <= MaxAuthBytes
		if err := a.Check(); (err == nil) != ok {
			t.Errorf("%d bytes: Check() = %v", n, err)
		}
		var got OpaqueAuth
		d := xdr.NewDecoder(a.Append(nil))
		got.Decode(d)
		if (d.Err() == nil) != ok {
			t.Errorf("%d bytes: Decode err = %v", n, d.Err())
		}
		if ok && (got.Flavor != a.Flavor || !bytes.Equal(got.Body, a.Body) || d.Remaining() != 0) {
			t.Errorf("%d bytes: round trip gave %+v", n, got)
		}
	}
	_, err := ParseAuthSys(OpaqueAuth{Flavor: AuthSys, Body: make([]byte, 401)})
	if !errors.Is(err, ErrAuthTooLong) {
		t.Errorf("ParseAuthSys of 401 bytes: %v", err)
	}
}

func TestParseAuthSysErrors(t *testing.T) {
	good, _ := AuthSysParams{MachineName: "h", GIDs: []uint32{1, 2}}.Auth()
	tests := []struct {
		name string
		a    OpaqueAuth
	}{
		{"wrong flavor", OpaqueAuth{Flavor: AuthNone, Body: good.Body}},
		{"empty", OpaqueAuth{Flavor: AuthSys}},
		{"truncated gids", OpaqueAuth{Flavor: AuthSys, Body: good.Body[:len(good.Body)-4]}},
		{"gid count 4 GiB", OpaqueAuth{Flavor: AuthSys, Body: append(good.Body[:len(good.Body)-12:len(good.Body)-12], 0xff, 0xff, 0xff, 0xff)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := ParseAuthSys(tt.a); err == nil {
				t.Errorf("ParseAuthSys = %+v, want an error", p)
			}
		})
	}
}
