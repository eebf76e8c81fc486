package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// args returns the XDR-encoded arguments of the run's procedure.
func (t *target) args() []byte {
	switch t.Proc {
	case ProcGetport:
		return portmap.Mapping{Prog: t.Prog, Vers: t.ProgVers, Prot: t.prot}.Append(nil)
	case ProcGetaddr:
		return portmap.RPCB{Prog: t.Prog, Vers: t.ProgVers, Netid: t.Netid}.Append(nil)
	}
	return nil
}

// message returns the call message (RFC 5531 §9) with xid 0, and the offset
// of its xid: over TCP the message is a record of one fragment (§11), its
// mark in front.
func (t *target) message() (msg []byte, xidOff int) {
	if t.Network == "tcp" {
		msg, xidOff = make([]byte, 4), 4
	}
	h := rpc.CallHeader{RPCVers: rpc.RPCVersion, Prog: portmap.Program, Vers: t.Vers, Proc: t.Proc.number()}
	msg = h.Append(msg)
	msg = append(msg, t.args()...)
	if xidOff == 4 {
		binary.BigEndian.PutUint32(msg, 1<<31|uint32(len(msg)-4))
	}
	return msg, xidOff
}

// errReplyTooShort is a reply with no room for its xid.
var errReplyTooShort = errors.New("loadgen: reply shorter than an xid")

// replyXID returns the xid of a reply message.
func replyXID(msg []byte) (uint32, error) {
	if len(msg) < 4 {
		return 0, errReplyTooShort
	}
	return binary.BigEndian.Uint32(msg), nil
}

// checkReply decodes a reply's header (RFC 5531 §9) and returns its
// results, or the error a libtirpc client would report for it.
func checkReply(msg []byte) ([]byte, error) {
	var d xdr.Decoder
	d.Reset(msg, 0)
	var h rpc.ReplyHeader
	h.Decode(&d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: garbled reply: %w", err)
	}
	if err := h.Err(); err != nil {
		return nil, err
	}
	return d.Rest(), nil
}

// isEmpty reports whether the results of a successful call say "nothing":
// GETPORT's port 0, GETADDR's empty address, an empty DUMP list. Each of
// these is a zero first word; NULL has no results and is never empty.
func (t *target) isEmpty(res []byte) bool {
	if t.Proc == ProcNull {
		return false
	}
	return len(res) < 4 || binary.BigEndian.Uint32(res) == 0
}

// answer renders the results of one successful call for the report: the
// port, the universal address, or the number of entries listed.
func (t *target) answer(res []byte) string {
	d := xdr.NewDecoder(res)
	var s string
	switch t.Proc {
	case ProcNull:
		return "ok"
	case ProcGetport:
		s = strconv.FormatUint(uint64(d.Uint32()), 10)
	case ProcGetaddr:
		s = strconv.Quote(d.String(portmap.MaxUaddrLen))
	case ProcDump:
		var n int
		if t.Vers == portmap.V2 {
			n = len(portmap.DecodeMappingList(d, nil, portmap.MaxListEntries))
		} else {
			n = len(portmap.DecodeRPCBList(d, nil, portmap.MaxListEntries))
		}
		s = strconv.Itoa(n) + " entries"
	}
	if err := d.Err(); err != nil {
		return "undecodable: " + err.Error()
	}
	return s
}
