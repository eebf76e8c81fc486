package portmap_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// maxAuthBody is RFC 5531's bound on an opaque_auth body.
const maxAuthBody = 400

// callHeader reads an RPC call header (RFC 5531 §9) by its fields and returns
// the program, version, procedure and the arguments that follow.
func callHeader(t testing.TB, msg []byte) (prog, vers, proc uint32, args []byte) {
	t.Helper()
	d := xdr.NewDecoder(msg)
	d.Uint32() // xid
	if mt := d.Uint32(); mt != 0 {
		t.Fatalf("msg_type %d, want CALL (0)", mt)
	}
	d.Uint32() // rpcvers
	prog, vers, proc = d.Uint32(), d.Uint32(), d.Uint32()
	for range 2 { // credential, verifier
		d.Uint32()
		d.Opaque(maxAuthBody)
	}
	if err := d.Err(); err != nil {
		t.Fatalf("call header: %v", err)
	}
	return prog, vers, proc, d.Rest()
}

// replyResults reads an RPC reply header and returns the results of an
// accepted, successful reply; ok is false for any other reply.
func replyResults(t testing.TB, msg []byte) (res []byte, ok bool) {
	t.Helper()
	d := xdr.NewDecoder(msg)
	d.Uint32() // xid
	if mt := d.Uint32(); mt != 1 {
		t.Fatalf("msg_type %d, want REPLY (1)", mt)
	}
	if d.Uint32() != 0 { // MSG_DENIED
		return nil, false
	}
	d.Uint32()
	d.Opaque(maxAuthBody)
	stat := d.Uint32()
	if err := d.Err(); err != nil {
		t.Fatalf("reply header: %v", err)
	}
	return d.Rest(), stat == 0
}

// results returns the successful results of vector name's reply.
func results(t testing.TB, name string) []byte {
	t.Helper()
	res, ok := replyResults(t, vectors.Load(name).Reply)
	if !ok {
		t.Fatalf("%s: reply is not an accepted success", name)
	}
	return res
}

// args returns the arguments of vector name's call.
func args(t testing.TB, name string) []byte {
	t.Helper()
	_, _, _, a := callHeader(t, vectors.Load(name).Call)
	return a
}

// codec is a port mapper type with an encoder and a decoder, through a pointer.
type codec[T any] interface {
	*T
	Append([]byte) []byte
	Decode(*xdr.Decoder)
}

// decodeAll decodes b as one T that must use every byte.
func decodeAll[T any, P codec[T]](b []byte) (T, error) {
	var v T
	d := xdr.NewDecoder(b)
	P(&v).Decode(d)
	if err := d.Err(); err != nil {
		return v, err
	}
	if d.Remaining() != 0 {
		return v, &xdr.Error{Op: "trailing bytes", Offset: d.Offset(), Err: xdr.ErrTooLong}
	}
	return v, nil
}

// roundTrip decodes b as a T and checks that encoding it again gives b.
func roundTrip[T any, P codec[T]](t testing.TB, name string, b []byte) T {
	t.Helper()
	v, err := decodeAll[T, P](b)
	if err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	if got := P(&v).Append(nil); !bytes.Equal(got, b) {
		t.Fatalf("%s: re-encoding differs\n got %x\nwant %x", name, got, b)
	}
	return v
}

// Lists and a bare string wrapped as codecs for the generic helpers.
type (
	mappingList []portmap.Mapping
	rpcbList    []portmap.RPCB
	entryList   []portmap.Entry
	xdrString   string
	xdrUint     uint32
	noArgs      struct{}
)

func (l mappingList) Append(b []byte) []byte { return portmap.AppendMappingList(b, l) }
func (l *mappingList) Decode(d *xdr.Decoder) {
	*l = portmap.DecodeMappingList(d, (*l)[:0], portmap.MaxListEntries)
}
func (l rpcbList) Append(b []byte) []byte { return portmap.AppendRPCBList(b, l) }
func (l *rpcbList) Decode(d *xdr.Decoder) {
	*l = portmap.DecodeRPCBList(d, (*l)[:0], portmap.MaxListEntries)
}
func (l entryList) Append(b []byte) []byte { return portmap.AppendEntryList(b, l) }
func (l *entryList) Decode(d *xdr.Decoder) {
	*l = portmap.DecodeEntryList(d, (*l)[:0], portmap.MaxListEntries)
}
func (s xdrString) Append(b []byte) []byte { return xdr.AppendString(b, string(s)) }
func (s *xdrString) Decode(d *xdr.Decoder) { *s = xdrString(d.String(portmap.MaxUaddrLen)) }
func (u xdrUint) Append(b []byte) []byte   { return xdr.AppendUint32(b, uint32(u)) }
func (u *xdrUint) Decode(d *xdr.Decoder)   { *u = xdrUint(d.Uint32()) }
func (noArgs) Append(b []byte) []byte      { return b }
func (*noArgs) Decode(*xdr.Decoder)        {}

// readTable returns the whitespace-separated fields of each line of a file in
// the repository's testdata, skipping the first skip lines.
func readTable(t testing.TB, rel string, skip int) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		if i < skip || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		rows = append(rows, strings.Fields(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func atou(t testing.TB, s string) uint32 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(v)
}

// mappingRow turns a "prog vers proto port" row into a Mapping.
func mappingRow(t testing.TB, f []string) portmap.Mapping {
	t.Helper()
	prot, ok := portmap.ParseProt(f[2])
	if !ok {
		t.Fatalf("bad protocol %q", f[2])
	}
	return portmap.Mapping{Prog: atou(t, f[0]), Vers: atou(t, f[1]), Prot: prot, Port: atou(t, f[3])}
}

// syntheticMappings returns n distinct mappings, for size tests and benchmarks.
func syntheticMappings(n int) []portmap.Mapping {
	l := make([]portmap.Mapping, n)
	for i := range l {
		l[i] = portmap.Mapping{Prog: 200000 + uint32(i/4), Vers: uint32(i%2) + 1, Prot: portmap.IPProtoTCP, Port: uint32(1024 + i%60000)}
		if i%4 >= 2 {
			l[i].Prot = portmap.IPProtoUDP
		}
	}
	return l
}
