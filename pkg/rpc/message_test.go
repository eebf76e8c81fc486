package rpc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// TestCallVectors: every call rpcinfo-era clients sent decodes, and re-encodes
// to the same header bytes.
func TestCallVectors(t *testing.T) {
	index := readIndex(t)
	for _, c := range vectors.All() {
		t.Run(c.Name, func(t *testing.T) {
			d := xdr.NewDecoder(c.Call)
			var h CallHeader
			h.Decode(d)
			if err := d.Err(); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got, want := fmt.Sprintf("v%d proc %d", h.Vers, h.Proc), index[c.Name].call; got != want {
				t.Errorf("call is %q, INDEX.md says %q", got, want)
			}
			hdrLen := d.Offset()
			got := h.Append(nil)
			if !bytes.Equal(got, c.Call[:hdrLen]) {
				t.Errorf("re-encoded header\n got %x\nwant %x", got, c.Call[:hdrLen])
			}
			// The whole call survives header + arguments.
			if whole := append(got, d.Rest()...); !bytes.Equal(whole, c.Call) {
				t.Errorf("re-encoded call differs")
			}
		})
	}
}

// indexRow is what INDEX.md says of a case.
type indexRow struct {
	call  string // "v2 proc 3"
	reply string // "MSG_ACCEPTED SUCCESS, 4 result bytes (value 2049)"
}

// readIndex reads INDEX.md of the vectors.
func readIndex(t *testing.T) map[string]indexRow {
	t.Helper()
	f, err := os.Open("../../internal/vectors/testdata/INDEX.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]indexRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "|")
		if len(cols) < 5 || strings.HasPrefix(strings.TrimSpace(cols[1]), "---") || strings.TrimSpace(cols[1]) == "case" {
			continue
		}
		m[strings.TrimSpace(cols[1])] = indexRow{call: strings.TrimSpace(cols[3]), reply: strings.TrimSpace(cols[4])}
	}
	return m
}

// describe renders a decoded reply in the words of INDEX.md.
func describe(h *ReplyHeader, res []byte) string {
	switch {
	case h.Stat == MsgDenied && h.Reject == RejectAuthError:
		return "MSG_DENIED AUTH_ERROR " + strings.TrimPrefix(h.Auth.String(), "AUTH_")
	case h.Stat == MsgDenied:
		return fmt.Sprintf("MSG_DENIED RPC_MISMATCH low %d high %d", h.Low, h.High)
	case h.Accept == AcceptProgMismatch:
		return fmt.Sprintf("MSG_ACCEPTED PROG_MISMATCH low %d high %d", h.Low, h.High)
	case h.Accept != AcceptSuccess:
		return "MSG_ACCEPTED " + h.Accept.String()
	case len(res) == 4:
		return fmt.Sprintf("MSG_ACCEPTED SUCCESS, 4 result bytes (value %d)", binary.BigEndian.Uint32(res))
	}
	return fmt.Sprintf("MSG_ACCEPTED SUCCESS, %d result bytes", len(res))
}

// TestReplyVectors: every reply decodes to what INDEX.md says rpcbind answered,
// matches its call's xid, and re-encodes to the same header bytes.
func TestReplyVectors(t *testing.T) {
	index := readIndex(t)
	n := 0
	for _, c := range vectors.All() {
		row, ok := index[c.Name]
		want := row.reply
		if !ok {
			t.Errorf("%s: not in INDEX.md", c.Name)
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			if c.Reply == nil {
				if !strings.HasPrefix(want, "no reply") {
					t.Fatalf("no reply file, INDEX.md says %q", want)
				}
				return
			}
			n++
			d := xdr.NewDecoder(c.Reply)
			var h ReplyHeader
			h.Decode(d)
			if err := d.Err(); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			hdrLen := d.Offset()
			res := d.Rest()
			if got := describe(&h, res); got != want {
				t.Errorf("reply is %q, INDEX.md says %q", got, want)
			}
			if h.XID != binary.BigEndian.Uint32(c.Call) {
				t.Errorf("xid %#x does not match the call's", h.XID)
			}
			if got := h.Append(nil); !bytes.Equal(got, c.Reply[:hdrLen]) {
				t.Errorf("re-encoded header\n got %x\nwant %x", got, c.Reply[:hdrLen])
			}
		})
	}
	if n < 20 {
		t.Errorf("only %d replies checked", n)
	}
}

// TestReplyVectorErrors: the statuses the brief singles out, and the *Error
// each turns into.
func TestReplyVectorErrors(t *testing.T) {
	tests := []struct {
		name string
		want ReplyHeader // XID ignored
		text string      // Err().Text(), "" for success
	}{
		{"auth_badflavor", ReplyHeader{Stat: MsgDenied, Reject: RejectAuthError, Auth: AuthRejectedCred},
			"RPC: Authentication error; why = Server rejected credential"},
		{"prog_mismatch_v5", ReplyHeader{Accept: AcceptProgMismatch, Low: 2, High: 4},
			"RPC: Program/version mismatch; low version = 2, high version = 4"},
		{"prog_unavail", ReplyHeader{Accept: AcceptProgUnavail}, "RPC: Program unavailable"},
		{"v2_proc_unavail", ReplyHeader{Accept: AcceptProcUnavail}, "RPC: Procedure unavailable"},
		{"v4_indirect_unregistered", ReplyHeader{Accept: AcceptProgUnavail}, "RPC: Program unavailable"},
		{"v2_null", ReplyHeader{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := vectors.Load(tt.name)
			var h ReplyHeader
			d := xdr.NewDecoder(c.Reply)
			h.Decode(d)
			if d.Err() != nil {
				t.Fatal(d.Err())
			}
			h.XID = 0
			if h.Verf.Body != nil && len(h.Verf.Body) == 0 {
				h.Verf.Body = nil
			}
			if fmt.Sprint(h) != fmt.Sprint(tt.want) {
				t.Errorf("header %+v, want %+v", h, tt.want)
			}
			err := h.Err()
			if tt.text == "" {
				if err != nil {
					t.Errorf("Err() = %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Err() = %v, not an *Error", err)
			}
			if e.Text() != tt.text {
				t.Errorf("Text() = %q, want %q", e.Text(), tt.text)
			}
		})
	}
}

func TestCallHeaderDecodeErrors(t *testing.T) {
	good := vectors.Load("v2_null_authsys").Call
	reply := vectors.Load("v2_null").Reply
	long := (&CallHeader{Cred: OpaqueAuth{Flavor: AuthSys, Body: make([]byte, MaxAuthBytes+1)}}).Append(nil)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, xdr.ErrShort},
		{"truncated in cred", good[:40], xdr.ErrShort},
		{"a reply", reply, errMsgType},
		{"cred body 401 bytes", long, xdr.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h CallHeader
			d := xdr.NewDecoder(tt.in)
			h.Decode(d)
			if !errors.Is(d.Err(), tt.want) {
				t.Errorf("err = %v, want %v", d.Err(), tt.want)
			}
			var xe *xdr.Error
			if !errors.As(d.Err(), &xe) {
				t.Errorf("err %v is not an *xdr.Error", d.Err())
			}
		})
	}
}

func TestReplyHeaderDecodeErrors(t *testing.T) {
	hdr := func(words ...uint32) []byte {
		var b []byte
		for _, w := range words {
			b = xdr.AppendUint32(b, w)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"a call", vectors.Load("v2_null").Call, errMsgType},
		{"bad reply_stat", hdr(1, 1, 7), errUnionArm},
		{"bad reject_stat", hdr(1, 1, 1, 9), errUnionArm},
		{"short prog_mismatch", hdr(1, 1, 0, 0, 0, 2, 2), xdr.ErrShort},
		{"verifier too long", append(hdr(1, 1, 0, 0, 401), make([]byte, 404)...), xdr.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h ReplyHeader
			d := xdr.NewDecoder(tt.in)
			h.Decode(d)
			if !errors.Is(d.Err(), tt.want) {
				t.Errorf("err = %v, want %v", d.Err(), tt.want)
			}
		})
	}
}

// TestReplyHeaderErr maps every reply status to libtirpc's clnt_stat.
func TestReplyHeaderErr(t *testing.T) {
	tests := []struct {
		h    ReplyHeader
		want Status
	}{
		{ReplyHeader{Accept: AcceptSuccess}, Success},
		{ReplyHeader{Accept: AcceptProgUnavail}, ProgUnavail},
		{ReplyHeader{Accept: AcceptProgMismatch, Low: 1, High: 3}, ProgVersMismatch},
		{ReplyHeader{Accept: AcceptProcUnavail}, ProcUnavail},
		{ReplyHeader{Accept: AcceptGarbageArgs}, CantDecodeArgs},
		{ReplyHeader{Accept: AcceptSystemErr}, SystemError},
		{ReplyHeader{Accept: 99}, Failed},
		{ReplyHeader{Stat: MsgDenied, Reject: RejectRPCMismatch, Low: 2, High: 2}, VersMismatch},
		{ReplyHeader{Stat: MsgDenied, Reject: RejectAuthError, Auth: AuthTooWeak}, AuthError},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			// Round trip through the wire first.
			var h ReplyHeader
			d := xdr.NewDecoder(tt.h.Append(nil))
			h.Decode(d)
			if d.Err() != nil {
				t.Fatal(d.Err())
			}
			err := h.Err()
			if tt.want == Success {
				if err != nil {
					t.Fatalf("Err() = %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.want {
				t.Fatalf("Err() = %v, want status %v", err, tt.want)
			}
			if e.Low != tt.h.Low || e.High != tt.h.High || e.Why != tt.h.Auth {
				t.Errorf("details %+v, want low %d high %d why %v", e, tt.h.Low, tt.h.High, tt.h.Auth)
			}
		})
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{Call.String(), "CALL"},
		{MsgType(5).String(), "msg_type(5)"},
		{MsgDenied.String(), "MSG_DENIED"},
		{AcceptGarbageArgs.String(), "GARBAGE_ARGS"},
		{AcceptStat(6).String(), "accept_stat(6)"},
		{RejectRPCMismatch.String(), "RPC_MISMATCH"},
		{AuthRejectedCred.String(), "AUTH_REJECTEDCRED"},
		{AuthStat(13).String(), "auth_stat(13)"},
		{AuthSys.String(), "AUTH_SYS"},
		{RPCSECGSS.String(), "RPCSEC_GSS"},
		{AuthFlavor(99).String(), "auth_flavor(99)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestCallHeaderDecodeAllocs: decoding a header allocates nothing (bodies alias
// the input).
func TestCallHeaderDecodeAllocs(t *testing.T) {
	msg := vectors.Load("v2_null_authsys").Call
	var d xdr.Decoder
	var h CallHeader
	n := testing.AllocsPerRun(100, func() {
		d.Reset(msg, 0)
		h.Decode(&d)
	})
	if n != 0 {
		t.Errorf("Decode allocates %v times, want 0", n)
	}
}

func benchHeader(b *testing.B) CallHeader {
	cred, err := AuthSysParams{Stamp: 1, MachineName: "bench.example", UID: 1000, GID: 1000, GIDs: []uint32{4, 24, 27}}.Auth()
	if err != nil {
		b.Fatal(err)
	}
	return CallHeader{XID: 1, RPCVers: RPCVersion, Prog: 100000, Vers: 2, Proc: 3, Cred: cred}
}

func BenchmarkCallHeaderAppendAuthSys(b *testing.B) {
	h := benchHeader(b)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = h.Append(buf[:0])
	}
}

func BenchmarkCallHeaderDecodeAuthSys(b *testing.B) {
	h := benchHeader(b)
	msg := h.Append(nil)
	var d xdr.Decoder
	var got CallHeader
	b.ReportAllocs()
	for b.Loop() {
		d.Reset(msg, 0)
		got.Decode(&d)
	}
	if d.Err() != nil {
		b.Fatal(d.Err())
	}
}

func BenchmarkParseAuthSys(b *testing.B) {
	cred := benchHeader(b).Cred
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthSys(cred); err != nil {
			b.Fatal(err)
		}
	}
}
