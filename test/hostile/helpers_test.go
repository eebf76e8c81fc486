package hostile

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// The bounds every suite holds its subject to (issue #11).
const (
	// rssLimit is the most resident memory a program under attack may
	// reach: 64 MiB, several times what the port mapper and the tools need
	// for the largest real registry, and far below what an allocation
	// driven by a length from the wire would take.
	rssLimit = 64 << 20

	// answerLimit is how long a well-behaved caller may wait for portmapd
	// while an attack runs.
	answerLimit = 2 * time.Second

	// exitSlack is how long after its --timeout a tool facing a hostile
	// server must have exited.
	exitSlack = 2 * time.Second
)

// attackTime is how long each attack on portmapd lasts. The default keeps the
// suite well under a minute in `make test`; a longer run gives the same
// checks more time to fail.
var attackTime = flag.Duration("hostile.duration", 1500*time.Millisecond, "how long each attack on portmapd lasts")

// floodRate is how many datagrams a second the datagram attacks send in all.
// The default is some ten times the load of a busy NFS server's port
// mapper, and below what one portmapd socket drains, so that the flood
// measures the cost of each hostile datagram rather than the kernel's
// dropping of a full socket queue; see docs/security.md for a run at full
// speed.
var floodRate = flag.Int("hostile.rate", 10000, "datagrams a second of each datagram attack")

// mib formats a byte count in MiB.
func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// memStatus returns the resident memory (VmRSS) and its peak (VmHWM) of a
// process, from /proc/PID/status.
func memStatus(pid int) (rss, hwm uint64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val) // "1234 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: unexpected %q", pid, key, val)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %v", pid, key, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// raiseNofile raises this process's soft limit of open files to at least n,
// up to the hard limit, and fails the test if that is not enough.
func raiseNofile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Fatalf("RLIMIT_NOFILE hard limit %d is below the %d descriptors this test needs", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
}

// callMsg returns a call message (without a record mark) of procedure proc of
// version vers of program prog with AUTH_NONE and args.
func callMsg(xid, prog, vers, proc uint32, args []byte) []byte {
	h := rpc.CallHeader{XID: xid, RPCVers: rpc.RPCVersion, Prog: prog, Vers: vers, Proc: proc}
	return append(h.Append(nil), args...)
}

// record returns msg as one record of a single, last fragment.
func record(msg []byte) []byte {
	return append(xdr.AppendUint32(nil, uint32(len(msg))|1<<31), msg...)
}

// checkReply reports whether reply is a well-formed REPLY (RFC 5531 §9): its
// header decodes and nothing follows a header that carries no results.
func checkReply(reply []byte) (rpc.ReplyHeader, error) {
	var h rpc.ReplyHeader
	d := xdr.NewDecoder(reply)
	h.Decode(d)
	if err := d.Err(); err != nil {
		return h, fmt.Errorf("reply %x: %v", reply, err)
	}
	if (h.Stat != rpc.MsgAccepted || h.Accept != rpc.AcceptSuccess) && d.Remaining() != 0 {
		return h, fmt.Errorf("reply %x: %d bytes after a header without results", reply, d.Remaining())
	}
	return h, nil
}

// enc encodes unsigned integers, booleans, strings and byte slices (as
// variable-length opaque data) in XDR.
func enc(vals ...any) []byte {
	var b []byte
	for _, v := range vals {
		switch v := v.(type) {
		case int:
			b = xdr.AppendUint32(b, uint32(v))
		case uint32:
			b = xdr.AppendUint32(b, v)
		case bool:
			b = xdr.AppendBool(b, v)
		case string:
			b = xdr.AppendString(b, v)
		case []byte:
			b = xdr.AppendOpaque(b, v)
		default:
			panic(fmt.Sprintf("enc: %T", v))
		}
	}
	return b
}
