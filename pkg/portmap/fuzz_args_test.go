package portmap_test

import (
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// FuzzArgs decodes arbitrary bytes as each single-value argument and result
// of program 100000 (mapping, rpcb, call_args, call_result, rpcb_rmtcallargs,
// rpcb_rmtcallres, netbuf) and holds every value that decodes to a stable
// round trip. Seeds: the arguments of every recorded call.
func FuzzArgs(f *testing.F) {
	for _, n := range []string{"v2_set", "v2_getport_registered", "v3_set", "v3_getaddr",
		"v3_unset", "v4_getversaddr", "v4_getaddrlist", "v4_indirect_unregistered",
		"v2_callit_null_to_nfs_unanswered", "v3_taddr2uaddr"} {
		f.Add(args(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := decodeAll[portmap.Mapping](b); err == nil {
			stable(t, v)
		}
		if v, err := decodeAll[portmap.RPCB](b); err == nil {
			stable(t, v)
		}
		if v, err := decodeAll[portmap.CallArgs](b); err == nil {
			stable(t, v)
		}
		if v, err := decodeAll[portmap.CallResult](b); err == nil {
			stable(t, v)
		}
		if v, err := decodeAll[portmap.RmtCallArgs](b); err == nil {
			stable(t, v)
		}
		if v, err := decodeAll[portmap.RmtCallRes](b); err == nil {
			stable(t, v)
		}
		if v, err := decodeAll[portmap.Netbuf](b); err == nil {
			stable(t, v)
		}
	})
}
