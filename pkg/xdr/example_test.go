package xdr_test

import (
	"fmt"

	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

func Example() {
	// A port mapper mapping: program, version, protocol, port (RFC 1833 §3.1).
	b := xdr.AppendUint32(nil, 100003)
	b = xdr.AppendUint32(b, 3)
	b = xdr.AppendUint32(b, 6)
	b = xdr.AppendUint32(b, 2049)
	b = xdr.AppendString(b, "nfs")

	d := xdr.NewDecoder(b)
	prog, vers, prot, port := d.Uint32(), d.Uint32(), d.Uint32(), d.Uint32()
	name := d.String(64)
	fmt.Println(prog, vers, prot, port, name, d.Err())

	// A declared length larger than the input is an error, not an allocation.
	d = xdr.NewDecoder([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	d.Opaque(-1)
	fmt.Println(d.Err())
	// Output:
	// 100003 3 6 2049 nfs <nil>
	// xdr: opaque length at offset 0: short input: need 4294967295 bytes, 4 remain
}
