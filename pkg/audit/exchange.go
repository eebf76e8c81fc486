package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// UDPHeaderLen is the size of a UDP header (RFC 768). The audit counts IP
// payload bytes: each datagram's RPC message plus this header. IP headers
// (20 bytes for IPv4, 40 for IPv6), fragmentation and link framing are left
// out: they depend on the path, not on the port mapper.
const UDPHeaderLen = 8

// maxDatagram is the receive buffer of a measurement: 65,536 bytes hold the
// largest UDP payload over IPv4 (65,507) or IPv6 without jumbograms (65,527),
// so no reply is ever truncated and every byte is counted.
const maxDatagram = 1 << 16

// Statuses of an [Exchange] that got no RPC status.
const (
	// StatusSilent: no datagram came back within the window of any attempt.
	StatusSilent = "silent"
	// StatusGarbled: datagrams came back, but none was a decodable reply to
	// the call.
	StatusGarbled = "garbled"
	// StatusRefused: nothing listens (ICMP port unreachable, a TCP reset).
	// Only connected sockets learn this; a measured Exchange cannot.
	StatusRefused = "refused"
	// StatusError: the exchange failed locally (no socket, no route, the
	// context ended before the first send); Error says why.
	StatusError = "error"
)

// Exchange is what one measured UDP exchange with a host saw: the call sent
// (again, while nothing answered) and every datagram that came back from the
// host's address during the window after each send. Bytes are IP payload
// bytes ([UDPHeaderLen] plus the RPC message).
type Exchange struct {
	// Status is the first decodable reply's status: its accept_stat
	// ("SUCCESS", "PROG_UNAVAIL", "PROG_MISMATCH", "PROC_UNAVAIL",
	// "GARBAGE_ARGS", "SYSTEM_ERR") or reject_stat ("RPC_MISMATCH",
	// "AUTH_ERROR") as RFC 5531 §9 names them; or StatusSilent,
	// StatusGarbled, StatusError.
	Status string `json:"status"`
	// RequestDatagrams and RequestBytes count the calls sent.
	RequestDatagrams int `json:"request_datagrams"`
	RequestBytes     int `json:"request_bytes"`
	// ReplyDatagrams and ReplyBytes count every datagram from the host's
	// address, whatever its content: duplicates, strays and garbage too.
	ReplyDatagrams int `json:"reply_datagrams"`
	ReplyBytes     int `json:"reply_bytes"`
	// ForeignDatagrams counts datagrams from other addresses, which are not
	// in the factor.
	ForeignDatagrams int `json:"foreign_datagrams,omitempty"`
	// Factor is ReplyBytes / RequestBytes; 0 when nothing came back.
	Factor float64 `json:"factor"`
	// PayloadFactor is the same ratio over the RPC messages alone (UDP
	// payloads), the figure the 2014-2015 reflection advisories quote.
	PayloadFactor float64 `json:"payload_factor"`
	// RTTMillis is the time from the last send before the first reply to
	// that reply, in milliseconds; absent without a reply.
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	// Error describes a local failure or a context that ended mid-window.
	Error string `json:"error,omitempty"`

	hdr     rpc.ReplyHeader // the first decodable reply's header
	results []byte          // its results (SUCCESS), owned
}

// measureConfig says how to run one measured exchange.
type measureConfig struct {
	window   time.Duration // listening time after each send
	attempts int           // sends while nothing has come back
}

// measure sends the call (prog, vers, proc, args) with AUTH_NONE to dst from
// an unconnected UDP socket of its own and counts what comes back; see
// [Exchange]. A new send is made only when nothing at all came back during
// the window after the previous one; every send repeats the same message,
// xid included, as a client's retransmission does.
func measure(ctx context.Context, dst netip.AddrPort, prog, vers, proc uint32, args []byte, cfg measureConfig) Exchange {
	var ex Exchange
	xid := rand.Uint32()
	h := rpc.CallHeader{XID: xid, RPCVers: rpc.RPCVersion, Prog: prog, Vers: vers, Proc: proc}
	msg := append(h.Append(nil), args...)

	network := "udp4"
	if !dst.Addr().Is4() {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, nil)
	if err != nil {
		ex.fail(fmt.Errorf("audit: %w", err))
		return ex
	}
	defer conn.Close()
	// An ended context interrupts the read at once.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	buf := make([]byte, maxDatagram)
	attempts := max(cfg.attempts, 1)
	for a := 0; a < attempts && ex.ReplyDatagrams == 0; a++ {
		if err := ctx.Err(); err != nil {
			if ex.RequestDatagrams == 0 {
				ex.fail(fmt.Errorf("audit: %w", err))
				return ex
			}
			ex.Error = err.Error()
			break
		}
		sent := time.Now()
		if _, err := conn.WriteToUDPAddrPort(msg, dst); err != nil {
			ex.fail(fmt.Errorf("audit: sending to %v: %w", dst, err))
			return ex
		}
		ex.RequestDatagrams++
		ex.RequestBytes += UDPHeaderLen + len(msg)
		end := sent.Add(cfg.window)
		if dl, ok := ctx.Deadline(); ok && dl.Before(end) {
			end = dl
		}
		conn.SetReadDeadline(end)
		if ctx.Err() != nil { // ended since: AfterFunc's deadline may have been overwritten
			conn.SetReadDeadline(time.Unix(1, 0))
		}
		if err := ex.collect(ctx, conn, dst.Addr(), xid, sent, buf); err != nil {
			ex.Error = err.Error()
			break
		}
	}
	ex.finish()
	return ex
}

// collect reads datagrams until the socket's read deadline, counting those
// from host and keeping the first decodable reply to xid. It returns an
// error for a failure other than the deadline, and the context's error if
// the context ended first.
func (ex *Exchange) collect(ctx context.Context, conn *net.UDPConn, host netip.Addr, xid uint32, sent time.Time, buf []byte) error {
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return fmt.Errorf("audit: receiving: %w", err)
		}
		if from.Addr().Unmap() != host.Unmap() {
			ex.ForeignDatagrams++
			continue
		}
		ex.ReplyDatagrams++
		ex.ReplyBytes += UDPHeaderLen + n
		if ex.Status != "" {
			continue
		}
		var h rpc.ReplyHeader
		d := xdr.NewDecoder(buf[:n])
		h.Decode(d)
		if d.Err() != nil || h.XID != xid {
			continue
		}
		ex.hdr = h
		ex.results = bytes.Clone(d.Rest())
		ex.Status = replyStatus(h)
		ex.RTTMillis = float64(time.Since(sent).Microseconds()) / 1000
	}
}

// finish sets the status of an exchange without a decodable reply and
// computes the factors.
func (ex *Exchange) finish() {
	switch {
	case ex.Status != "":
	case ex.ReplyDatagrams > 0:
		ex.Status = StatusGarbled
	default:
		ex.Status = StatusSilent
	}
	if ex.RequestBytes > 0 {
		ex.Factor = float64(ex.ReplyBytes) / float64(ex.RequestBytes)
		req := ex.RequestBytes - UDPHeaderLen*ex.RequestDatagrams
		rep := ex.ReplyBytes - UDPHeaderLen*ex.ReplyDatagrams
		ex.PayloadFactor = float64(rep) / float64(req)
	}
}

// fail records a local failure that ended the exchange before it could say
// anything about the host.
func (ex *Exchange) fail(err error) {
	ex.Status = StatusError
	ex.Error = err.Error()
}

// Answered reports whether the host sent back a decodable reply.
func (ex *Exchange) Answered() bool {
	switch ex.Status {
	case StatusSilent, StatusGarbled, StatusError, "":
		return false
	}
	return true
}

// replyStatus names a reply's status as RFC 5531 §9 does.
func replyStatus(h rpc.ReplyHeader) string {
	if h.Stat == rpc.MsgAccepted {
		return h.Accept.String()
	}
	return h.Reject.String()
}
