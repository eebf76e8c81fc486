package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// AuthStat is auth_stat, why an authentication failed (RFC 5531 §9).
type AuthStat uint32

// Authentication statuses (RFC 5531 §9).
const (
	AuthOK           AuthStat = 0 // AUTH_OK: success
	AuthBadCred      AuthStat = 1 // AUTH_BADCRED: bad credential (seal broken)
	AuthRejectedCred AuthStat = 2 // AUTH_REJECTEDCRED: client must begin new session
	AuthBadVerf      AuthStat = 3 // AUTH_BADVERF: bad verifier (seal broken)
	AuthRejectedVerf AuthStat = 4 // AUTH_REJECTEDVERF: verifier expired or replayed
	AuthTooWeak      AuthStat = 5 // AUTH_TOOWEAK: rejected for security reasons
	AuthInvalidResp  AuthStat = 6 // AUTH_INVALIDRESP: bogus response verifier
	AuthFailed       AuthStat = 7 // AUTH_FAILED: reason unknown
)

var authNames = [...]string{"AUTH_OK", "AUTH_BADCRED", "AUTH_REJECTEDCRED", "AUTH_BADVERF",
	"AUTH_REJECTEDVERF", "AUTH_TOOWEAK", "AUTH_INVALIDRESP", "AUTH_FAILED"}

// authTexts are libtirpc's auth_errmsg texts, printed after "why = ".
var authTexts = [...]string{"Authentication OK", "Invalid client credential", "Server rejected credential",
	"Invalid client verifier", "Server rejected verifier", "Client credential too weak",
	"Invalid server verifier", "Failed (unspecified error)"}

// String returns the status's RFC name, such as "AUTH_TOOWEAK".
func (s AuthStat) String() string {
	if int(s) < len(authNames) {
		return authNames[s]
	}
	return fmt.Sprintf("auth_stat(%d)", uint32(s))
}

// Status is libtirpc's enum clnt_stat: the outcome of a call as the caller
// sees it, which is what rpcinfo and every libtirpc program print. A reply's
// accept_stat or reject_stat maps onto it (PROG_UNAVAIL -> ProgUnavail,
// PROG_MISMATCH -> ProgVersMismatch, GARBAGE_ARGS -> CantDecodeArgs,
// RPC_MISMATCH -> VersMismatch, ...), and so do local failures.
type Status int

// Statuses, with libtirpc's values (rpc/clnt_stat.h).
const (
	Success           Status = 0  // RPC_SUCCESS
	CantEncodeArgs    Status = 1  // RPC_CANTENCODEARGS: the call could not be built
	CantDecodeRes     Status = 2  // RPC_CANTDECODERES: the reply could not be decoded or was too large
	CantSend          Status = 3  // RPC_CANTSEND: sending failed; Err says why
	CantRecv          Status = 4  // RPC_CANTRECV: receiving failed; Err says why (ECONNREFUSED on UDP)
	TimedOut          Status = 5  // RPC_TIMEDOUT: the context ended first
	VersMismatch      Status = 6  // RPC_VERSMISMATCH: MSG_DENIED RPC_MISMATCH; Low, High
	AuthError         Status = 7  // RPC_AUTHERROR: MSG_DENIED AUTH_ERROR; Why
	ProgUnavail       Status = 8  // RPC_PROGUNAVAIL: PROG_UNAVAIL
	ProgVersMismatch  Status = 9  // RPC_PROGVERSMISMATCH: PROG_MISMATCH; Low, High
	ProcUnavail       Status = 10 // RPC_PROCUNAVAIL: PROC_UNAVAIL
	CantDecodeArgs    Status = 11 // RPC_CANTDECODEARGS: GARBAGE_ARGS
	SystemError       Status = 12 // RPC_SYSTEMERROR: SYSTEM_ERR, or a failed connect (Err says why)
	UnknownHost       Status = 13 // RPC_UNKNOWNHOST
	PMapFailure       Status = 14 // RPC_RPCBFAILURE (RPC_PMAPFAILURE): the port mapper's call failed
	ProgNotRegistered Status = 15 // RPC_PROGNOTREGISTERED
	Failed            Status = 16 // RPC_FAILED: unspecified, e.g. an unknown accept_stat
	UnknownProto      Status = 17 // RPC_UNKNOWNPROTO
	Intr              Status = 18 // RPC_INTR
	UnknownAddr       Status = 19 // RPC_UNKNOWNADDR
	TLIError          Status = 20 // RPC_TLIERROR
	NoBroadcast       Status = 21 // RPC_NOBROADCAST
	N2AXlateFailure   Status = 22 // RPC_N2AXLATEFAILURE: name to address translation failed
	UDError           Status = 23 // RPC_UDERROR
	InProgress        Status = 24 // RPC_INPROGRESS
	StaleRACHandle    Status = 25 // RPC_STALERACHANDLE
	CantConnect       Status = 26 // RPC_CANTCONNECT
	XprtFailed        Status = 27 // RPC_XPRTFAILED
	CantCreateStream  Status = 28 // RPC_CANTCREATESTREAM
)

// statusTexts are libtirpc's clnt_sperrno texts; it has none past
// RPC_UNKNOWNPROTO.
var statusTexts = [...]string{
	"RPC: Success",
	"RPC: Can't encode arguments",
	"RPC: Can't decode result",
	"RPC: Unable to send",
	"RPC: Unable to receive",
	"RPC: Timed out",
	"RPC: Incompatible versions of RPC",
	"RPC: Authentication error",
	"RPC: Program unavailable",
	"RPC: Program/version mismatch",
	"RPC: Procedure unavailable",
	"RPC: Server can't decode arguments",
	"RPC: Remote system error",
	"RPC: Unknown host",
	"RPC: Port mapper failure",
	"RPC: Program not registered",
	"RPC: Failed (unspecified error)",
	"RPC: Unknown protocol",
}

// String returns libtirpc's clnt_sperrno text, such as "RPC: Program unavailable".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusTexts) {
		return statusTexts[s]
	}
	return "RPC: (unknown error code)"
}

// Error is the error of a failed call: what libtirpc would report (Status and
// its details), the OS error behind a transport failure, and where the call
// went. Every failure of [Client.Call] is an *Error. Test the status with
// errors.Is against the Err* values below, or reach the fields with errors.As.
type Error struct {
	Status Status
	Low    uint32   // VersMismatch, ProgVersMismatch: lowest version supported
	High   uint32   // VersMismatch, ProgVersMismatch: highest version supported
	Why    AuthStat // AuthError
	Err    error    // cause of CantSend, CantRecv, SystemError, TimedOut (the context's error), ...

	// Context, filled by the client when known.
	Network string // "udp", "tcp", "unix", ...
	Addr    string // the server's address
	Prog    uint32 // zero when unknown (program 0 is not a real program)
	Vers    uint32
	Proc    uint32
}

// Errors to compare with errors.Is, which matches on Status alone. A handler
// returns one of them to make a [Server] answer that status (see [Handler]).
var (
	ErrCantDecodeRes     = &Error{Status: CantDecodeRes}
	ErrCantSend          = &Error{Status: CantSend}
	ErrCantRecv          = &Error{Status: CantRecv}
	ErrTimedOut          = &Error{Status: TimedOut}
	ErrVersMismatch      = &Error{Status: VersMismatch}
	ErrAuth              = &Error{Status: AuthError}
	ErrProgUnavail       = &Error{Status: ProgUnavail}      // PROG_UNAVAIL
	ErrProgMismatch      = &Error{Status: ProgVersMismatch} // PROG_MISMATCH
	ErrProcUnavail       = &Error{Status: ProcUnavail}      // PROC_UNAVAIL
	ErrGarbageArgs       = &Error{Status: CantDecodeArgs}   // GARBAGE_ARGS
	ErrSystemErr         = &Error{Status: SystemError}      // SYSTEM_ERR, also a failed connect
	ErrProgNotRegistered = &Error{Status: ProgNotRegistered}
)

// ErrNoReply, returned by a [Handler], makes the server send no reply at all.
var ErrNoReply = errors.New("rpc: no reply")

// AuthErrorReply returns an error that makes the server answer MSG_DENIED
// AUTH_ERROR with why, when a [Handler] returns it.
func AuthErrorReply(why AuthStat) error { return &Error{Status: AuthError, Why: why} }

// Text returns exactly what libtirpc's clnt_sperror prints after its prefix,
// such as "RPC: Unable to receive; errno = Connection refused" or "RPC:
// Program/version mismatch; low version = 2, high version = 4". A SystemError
// with a cause reads as clnt_spcreateerror prints a failed connect: "RPC:
// Remote system error - Connection refused".
func (e *Error) Text() string {
	s := e.Status.String()
	switch e.Status {
	case CantSend, CantRecv:
		if e.Err != nil {
			return s + "; errno = " + Strerror(e.Err)
		}
	case SystemError:
		if e.Err != nil {
			return s + " - " + Strerror(e.Err)
		}
	case VersMismatch, ProgVersMismatch:
		return fmt.Sprintf("%s; low version = %d, high version = %d", s, e.Low, e.High)
	case AuthError:
		if int(e.Why) < len(authTexts) {
			return s + "; why = " + authTexts[e.Why]
		}
		return fmt.Sprintf("%s; why = (unknown authentication error - %d)", s, int32(e.Why))
	}
	return s
}

// Error returns "rpc: <network> <addr> program P version V procedure N: " and
// [Error.Text], with only the parts of the context that are known.
func (e *Error) Error() string {
	var ctx []string
	if e.Network != "" {
		ctx = append(ctx, e.Network)
	}
	if e.Addr != "" {
		ctx = append(ctx, e.Addr)
	}
	if e.Prog != 0 {
		ctx = append(ctx, fmt.Sprintf("program %d version %d procedure %d", e.Prog, e.Vers, e.Proc))
	}
	if len(ctx) == 0 {
		return "rpc: " + e.Text()
	}
	return "rpc: " + strings.Join(ctx, " ") + ": " + e.Text()
}

// Unwrap returns the cause, such as syscall.ECONNREFUSED or context.DeadlineExceeded.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// Timeout reports whether the call timed out.
func (e *Error) Timeout() bool { return e.Status == TimedOut }

// Strerror returns the text glibc's strerror gives the OS error inside err
// ("Connection refused", "No such file or directory"); an end of stream reads
// as libtirpc reports it, "Connection reset by peer". Other errors give their
// own text.
func Strerror(err error) string {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return capitalize(errno.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return capitalize(syscall.ECONNRESET.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return capitalize(syscall.ETIMEDOUT.Error())
	}
	return err.Error()
}

// capitalize turns Go's errno text, glibc's with its first letter lowered,
// back into glibc's.
func capitalize(s string) string {
	if strings.HasPrefix(s, "errno ") { // unknown to Go: glibc says "Unknown error N"
		return "Unknown error " + strings.TrimPrefix(s, "errno ")
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
