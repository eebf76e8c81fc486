package portmap_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// addVectorSeeds seeds f with the reply results of the named vectors.
func addVectorSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(results(f, n))
	}
}

// stable checks the round-trip property for input that decoded: encoding the
// value and decoding that gives the same value, and encoding again gives the
// same bytes. (The input itself need not come back byte for byte: XDR padding
// is skipped unread, so nonzero padding is lost.)
func stable[T any, P codec[T]](t *testing.T, v T) {
	enc := P(&v).Append(nil)
	back, err := decodeAll[T, P](enc)
	if err != nil {
		t.Fatalf("re-decoding %x: %v", enc, err)
	}
	if !reflect.DeepEqual(normalize(back), normalize(v)) {
		t.Fatalf("value changed in a round trip:\n%+v\n%+v", v, back)
	}
	if again := P(&back).Append(nil); !bytes.Equal(again, enc) {
		t.Fatalf("encoding changed in a round trip:\n%x\n%x", enc, again)
	}
}

// normalize makes empty and nil slices compare equal.
func normalize(v any) string { return fmt.Sprintf("%+v", v) }

func FuzzMappingList(f *testing.F) {
	addVectorSeeds(f, "v2_dump")
	f.Add(portmap.AppendMappingList(nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := xdr.NewDecoder(b)
		l := portmap.DecodeMappingList(d, nil, portmap.MaxListEntries)
		if d.Err() != nil {
			return
		}
		// Mappings have no padding, so the bytes read come back exactly.
		if enc := portmap.AppendMappingList(nil, l); !bytes.Equal(enc, b[:d.Offset()]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, b[:d.Offset()])
		}
		stable[mappingList](t, l)
	})
}

func FuzzRPCBList(f *testing.F) {
	addVectorSeeds(f, "v3_dump", "v4_dump")
	f.Fuzz(func(t *testing.T, b []byte) {
		d := xdr.NewDecoder(b)
		l := portmap.DecodeRPCBList(d, nil, portmap.MaxListEntries)
		if d.Err() == nil {
			stable[rpcbList](t, l)
		}
	})
}

func FuzzEntryList(f *testing.F) {
	addVectorSeeds(f, "v4_getaddrlist")
	f.Fuzz(func(t *testing.T, b []byte) {
		d := xdr.NewDecoder(b)
		l := portmap.DecodeEntryList(d, nil, portmap.MaxListEntries)
		if d.Err() == nil {
			stable[entryList](t, l)
		}
	})
}

func FuzzStatByVers(f *testing.F) {
	addVectorSeeds(f, "v4_getstat")
	f.Fuzz(func(t *testing.T, b []byte) {
		var s portmap.StatByVers
		d := xdr.NewDecoder(b)
		s.Decode(d)
		if d.Err() == nil {
			stable[portmap.StatByVers](t, s)
		}
	})
}

// FuzzNetbuf: any netbuf that yields an address yields the same address
// again after being rebuilt from it.
func FuzzNetbuf(f *testing.F) {
	f.Add(args(f, "v3_taddr2uaddr"))
	f.Add(results(f, "v3_uaddr2taddr"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var nb portmap.Netbuf
		d := xdr.NewDecoder(b)
		if nb.Decode(d); d.Err() != nil {
			return
		}
		stable[portmap.Netbuf](t, nb)
		u, err := nb.Uaddr()
		if err != nil {
			return
		}
		if ap, err := nb.AddrPort(); err == nil {
			if ap2, err := portmap.NetbufFromAddrPort(ap).AddrPort(); err != nil || ap2.Port() != ap.Port() || ap2.Addr().WithZone("") != ap.Addr().WithZone("") {
				t.Fatalf("%v rebuilt as %v, %v", ap, ap2, err)
			}
			if back, err := portmap.ParseUaddr("", u); err != nil || back != ap {
				t.Fatalf("uaddr %q of %v parses to %v, %v", u, ap, back, err)
			}
		}
	})
}

func FuzzUaddr(f *testing.F) {
	for _, n := range []string{"v3_getaddr", "v4_getaddr", "v4_getversaddr", "v3_taddr2uaddr"} {
		d := xdr.NewDecoder(results(f, n))
		f.Add(d.String(-1))
	}
	for _, s := range []string{"0.0.0.0.8.1", "::.0.111", "::ffff:127.0.0.1.8.1", "fe80::1%eth0.0.111", "300.0.0.1.8.1", "1.2.3.4.5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, netid := range []string{"", "tcp", "udp6", "local", "bogus"} {
			ap, err := portmap.ParseUaddr(netid, s)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "portmap: ") {
					t.Fatalf("error %q lacks the package prefix", err)
				}
				continue
			}
			u := portmap.FormatUaddr(ap)
			back, err := portmap.ParseUaddr(netid, u)
			if err != nil || back != ap {
				t.Fatalf("ParseUaddr(%q, %q) = %v, formatted %q, parsed back %v, %v", netid, s, ap, u, back, err)
			}
			// The IPv4 form is canonical: only one text per address.
			if ap.Addr().Is4() && u != s {
				t.Fatalf("IPv4 uaddr %q formats as %q", s, u)
			}
		}
		// The appending form gives the same text, for any input.
		for _, local := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), {}} {
			if got, want := string(portmap.AppendReplaceWildcard([]byte("x"), s, local)), "x"+portmap.ReplaceWildcard(s, local); got != want {
				t.Fatalf("AppendReplaceWildcard(%q, %v) = %q, want %q", s, local, got, want)
			}
		}
	})
}

func FuzzNames(f *testing.F) {
	f.Add(sampleRPC)
	f.Add("a 1\nb\nc x\n#\n\t\n d 2 e f # g\n")
	f.Fuzz(func(t *testing.T, text string) {
		n, err := portmap.ParseNames(strings.NewReader(text))
		if n == nil {
			t.Fatalf("nil Names (err %v)", err)
		}
		entries := n.Entries()
		// Every entry is reachable both ways, first entry winning.
		for _, e := range entries {
			if _, ok := n.Name(e.Number); !ok {
				t.Fatalf("number %d of %+v not found", e.Number, e)
			}
			for _, s := range append([]string{e.Name}, e.Aliases...) {
				if _, ok := n.Number(s); !ok {
					t.Fatalf("name %q of %+v not found", s, e)
				}
			}
		}
		// Written back out, the entries parse to themselves, without error.
		var sb strings.Builder
		for _, e := range entries {
			fmt.Fprintf(&sb, "%s\t%d", e.Name, e.Number)
			for _, a := range e.Aliases {
				sb.WriteString(" " + a)
			}
			sb.WriteByte('\n')
		}
		again, err := portmap.ParseNames(strings.NewReader(sb.String()))
		if err != nil || !reflect.DeepEqual(again.Entries(), entries) {
			t.Fatalf("entries %+v written as %q read back as %+v, %v", entries, sb.String(), again.Entries(), err)
		}
	})
}
