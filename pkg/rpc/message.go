package rpc

import (
	"errors"
	"fmt"

	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// RPCVersion is the only version of the RPC message protocol, rpcvers in a
// call_body (RFC 5531 §9).
const RPCVersion = 2

// MsgType is msg_type, the discriminant of rpc_msg (RFC 5531 §9).
type MsgType uint32

// Message types (RFC 5531 §9).
const (
	Call  MsgType = 0 // CALL
	Reply MsgType = 1 // REPLY
)

// String returns "CALL" or "REPLY".
func (t MsgType) String() string {
	switch t {
	case Call:
		return "CALL"
	case Reply:
		return "REPLY"
	}
	return fmt.Sprintf("msg_type(%d)", uint32(t))
}

// ReplyStat is reply_stat, the discriminant of reply_body (RFC 5531 §9).
type ReplyStat uint32

// Reply statuses (RFC 5531 §9).
const (
	MsgAccepted ReplyStat = 0 // MSG_ACCEPTED
	MsgDenied   ReplyStat = 1 // MSG_DENIED
)

// String returns "MSG_ACCEPTED" or "MSG_DENIED".
func (s ReplyStat) String() string {
	switch s {
	case MsgAccepted:
		return "MSG_ACCEPTED"
	case MsgDenied:
		return "MSG_DENIED"
	}
	return fmt.Sprintf("reply_stat(%d)", uint32(s))
}

// AcceptStat is accept_stat, the status of an accepted call (RFC 5531 §9).
//
// Its constants carry an Accept prefix because the caller-side [Status] of
// libtirpc uses the plain names (ProgUnavail, ProcUnavail, ...).
type AcceptStat uint32

// Accept statuses (RFC 5531 §9).
const (
	AcceptSuccess      AcceptStat = 0 // SUCCESS: results follow
	AcceptProgUnavail  AcceptStat = 1 // PROG_UNAVAIL: program not exported
	AcceptProgMismatch AcceptStat = 2 // PROG_MISMATCH: version not supported; low, high follow
	AcceptProcUnavail  AcceptStat = 3 // PROC_UNAVAIL: procedure not supported
	AcceptGarbageArgs  AcceptStat = 4 // GARBAGE_ARGS: arguments cannot be decoded
	AcceptSystemErr    AcceptStat = 5 // SYSTEM_ERR: e.g. memory allocation failure
)

var acceptNames = [...]string{"SUCCESS", "PROG_UNAVAIL", "PROG_MISMATCH", "PROC_UNAVAIL", "GARBAGE_ARGS", "SYSTEM_ERR"}

// String returns the status's RFC name, such as "PROG_MISMATCH".
func (s AcceptStat) String() string {
	if int(s) < len(acceptNames) {
		return acceptNames[s]
	}
	return fmt.Sprintf("accept_stat(%d)", uint32(s))
}

// RejectStat is reject_stat, the reason a call was denied (RFC 5531 §9).
type RejectStat uint32

// Reject statuses (RFC 5531 §9).
const (
	RejectRPCMismatch RejectStat = 0 // RPC_MISMATCH: rpcvers != 2; low, high follow
	RejectAuthError   RejectStat = 1 // AUTH_ERROR: an auth_stat follows
)

// String returns "RPC_MISMATCH" or "AUTH_ERROR".
func (s RejectStat) String() string {
	switch s {
	case RejectRPCMismatch:
		return "RPC_MISMATCH"
	case RejectAuthError:
		return "AUTH_ERROR"
	}
	return fmt.Sprintf("reject_stat(%d)", uint32(s))
}

// errMsgType and errUnionArm are the causes a header decoder records.
var (
	errMsgType  = errors.New("unexpected msg_type")
	errUnionArm = errors.New("unknown union discriminant")
)

// CallHeader is the fixed part of a CALL message: rpc_msg with a call_body up to
// and including the verifier (RFC 5531 §9). The procedure's arguments follow it.
type CallHeader struct {
	XID     uint32
	RPCVers uint32 // RPCVersion in every well-formed call
	Prog    uint32
	Vers    uint32
	Proc    uint32
	Cred    OpaqueAuth
	Verf    OpaqueAuth
}

// Append appends the header (xid .. verf) to b. It does not check the bodies
// of Cred and Verf against [MaxAuthBytes]; see [OpaqueAuth.Check].
func (h *CallHeader) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, h.XID)
	b = xdr.AppendUint32(b, uint32(Call))
	b = xdr.AppendUint32(b, h.RPCVers)
	b = xdr.AppendUint32(b, h.Prog)
	b = xdr.AppendUint32(b, h.Vers)
	b = xdr.AppendUint32(b, h.Proc)
	b = h.Cred.Append(b)
	return h.Verf.Append(b)
}

// Decode reads a call header from d. A msg_type other than CALL, a short input
// or an authenticator body over [MaxAuthBytes] is recorded as d's sticky error.
// rpcvers is read but not checked, so a server can answer RPC_MISMATCH. The
// bodies of Cred and Verf alias d's input.
func (h *CallHeader) Decode(d *xdr.Decoder) {
	h.XID = d.Uint32()
	if t := MsgType(d.Uint32()); d.Err() == nil && t != Call {
		d.Fail("msg_type", fmt.Errorf("%w %v, want CALL", errMsgType, t))
	}
	h.RPCVers = d.Uint32()
	h.Prog = d.Uint32()
	h.Vers = d.Uint32()
	h.Proc = d.Uint32()
	h.Cred.Decode(d)
	h.Verf.Decode(d)
}

// ReplyHeader is the fixed part of a REPLY message (RFC 5531 §9): rpc_msg with a
// reply_body, up to the procedure's results when Stat is MsgAccepted and Accept
// is AcceptSuccess. Which of the other fields mean something depends on the arms:
//
//   - Verf and Accept: Stat == MsgAccepted;
//   - Low and High: Accept == AcceptProgMismatch, or Reject == RejectRPCMismatch;
//   - Reject: Stat == MsgDenied; Auth: Reject == RejectAuthError.
type ReplyHeader struct {
	XID    uint32
	Stat   ReplyStat
	Verf   OpaqueAuth
	Accept AcceptStat
	Reject RejectStat
	Low    uint32
	High   uint32
	Auth   AuthStat
}

// Append appends the header to b, writing only the fields of the union arms
// that Stat, Accept and Reject select.
func (h *ReplyHeader) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, h.XID)
	b = xdr.AppendUint32(b, uint32(Reply))
	b = xdr.AppendUint32(b, uint32(h.Stat))
	if h.Stat == MsgAccepted {
		b = h.Verf.Append(b)
		b = xdr.AppendUint32(b, uint32(h.Accept))
		if h.Accept == AcceptProgMismatch {
			b = xdr.AppendUint32(b, h.Low)
			b = xdr.AppendUint32(b, h.High)
		}
		return b
	}
	b = xdr.AppendUint32(b, uint32(h.Reject))
	switch h.Reject {
	case RejectRPCMismatch:
		b = xdr.AppendUint32(b, h.Low)
		b = xdr.AppendUint32(b, h.High)
	case RejectAuthError:
		b = xdr.AppendUint32(b, uint32(h.Auth))
	}
	return b
}

// Decode reads a reply header from d, leaving d at the results of an accepted
// call. A msg_type other than REPLY or an unknown reply_stat or reject_stat is
// recorded as d's sticky error; an unknown accept_stat is not (it is reported
// by [ReplyHeader.Err]), since nothing follows it that must be parsed.
func (h *ReplyHeader) Decode(d *xdr.Decoder) {
	*h = ReplyHeader{XID: d.Uint32()}
	if t := MsgType(d.Uint32()); d.Err() == nil && t != Reply {
		d.Fail("msg_type", fmt.Errorf("%w %v, want REPLY", errMsgType, t))
		return
	}
	h.Stat = ReplyStat(d.Uint32())
	switch {
	case d.Err() != nil:
	case h.Stat == MsgAccepted:
		h.Verf.Decode(d)
		h.Accept = AcceptStat(d.Uint32())
		if h.Accept == AcceptProgMismatch {
			h.Low = d.Uint32()
			h.High = d.Uint32()
		}
	case h.Stat == MsgDenied:
		h.Reject = RejectStat(d.Uint32())
		switch {
		case d.Err() != nil:
		case h.Reject == RejectRPCMismatch:
			h.Low = d.Uint32()
			h.High = d.Uint32()
		case h.Reject == RejectAuthError:
			h.Auth = AuthStat(d.Uint32())
		default:
			d.Fail("reject_stat", fmt.Errorf("%w %v", errUnionArm, h.Reject))
		}
	default:
		d.Fail("reply_stat", fmt.Errorf("%w %v", errUnionArm, h.Stat))
	}
}

// Err returns nil for an accepted, successful call and otherwise an [*Error]
// whose Status is what libtirpc's clnt_call would report for this reply.
func (h *ReplyHeader) Err() error {
	if h.Stat == MsgDenied {
		if h.Reject == RejectRPCMismatch {
			return &Error{Status: VersMismatch, Low: h.Low, High: h.High}
		}
		return &Error{Status: AuthError, Why: h.Auth}
	}
	switch h.Accept {
	case AcceptSuccess:
		return nil
	case AcceptProgUnavail:
		return &Error{Status: ProgUnavail}
	case AcceptProgMismatch:
		return &Error{Status: ProgVersMismatch, Low: h.Low, High: h.High}
	case AcceptProcUnavail:
		return &Error{Status: ProcUnavail}
	case AcceptGarbageArgs:
		return &Error{Status: CantDecodeArgs}
	case AcceptSystemErr:
		return &Error{Status: SystemError}
	}
	return &Error{Status: Failed}
}
