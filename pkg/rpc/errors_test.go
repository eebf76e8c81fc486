package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestErrorText: the texts libtirpc's clnt_sperror and clnt_spcreateerror
// print, as the rpcinfo reference shows them.
func TestErrorText(t *testing.T) {
	refused := &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvmsg", syscall.ECONNREFUSED)}
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Status: CantRecv, Err: refused}, "RPC: Unable to receive; errno = Connection refused"},
		{&Error{Status: CantRecv}, "RPC: Unable to receive"},
		{&Error{Status: CantRecv, Err: io.EOF}, "RPC: Unable to receive; errno = Connection reset by peer"},
		{&Error{Status: CantSend, Err: syscall.EPIPE}, "RPC: Unable to send; errno = Broken pipe"},
		{&Error{Status: SystemError, Err: syscall.ECONNREFUSED}, "RPC: Remote system error - Connection refused"},
		{&Error{Status: SystemError, Err: &net.OpError{Op: "dial", Err: syscall.ENOENT}}, "RPC: Remote system error - No such file or directory"},
		{&Error{Status: SystemError}, "RPC: Remote system error"},
		{&Error{Status: ProgVersMismatch, Low: 2, High: 4}, "RPC: Program/version mismatch; low version = 2, high version = 4"},
		{&Error{Status: VersMismatch, Low: 2, High: 2}, "RPC: Incompatible versions of RPC; low version = 2, high version = 2"},
		{&Error{Status: AuthError, Why: AuthTooWeak}, "RPC: Authentication error; why = Client credential too weak"},
		{&Error{Status: AuthError, Why: AuthBadCred}, "RPC: Authentication error; why = Invalid client credential"},
		{&Error{Status: AuthError, Why: 13}, "RPC: Authentication error; why = (unknown authentication error - 13)"},
		{&Error{Status: TimedOut, Err: context.DeadlineExceeded}, "RPC: Timed out"},
		{&Error{Status: ProgUnavail}, "RPC: Program unavailable"},
		{&Error{Status: ProcUnavail}, "RPC: Procedure unavailable"},
		{&Error{Status: CantDecodeArgs}, "RPC: Server can't decode arguments"},
		{&Error{Status: ProgNotRegistered}, "RPC: Program not registered"},
		{&Error{Status: UnknownHost}, "RPC: Unknown host"},
		{&Error{Status: PMapFailure}, "RPC: Port mapper failure"},
		{&Error{Status: Failed}, "RPC: Failed (unspecified error)"},
		{&Error{Status: UnknownProto}, "RPC: Unknown protocol"},
		{&Error{Status: N2AXlateFailure}, "RPC: (unknown error code)"},
		{&Error{Status: -1}, "RPC: (unknown error code)"},
		{&Error{Status: CantRecv, Err: syscall.Errno(4095)}, "RPC: Unable to receive; errno = Unknown error 4095"},
	}
	for _, tt := range tests {
		if got := tt.e.Text(); got != tt.want {
			t.Errorf("Text() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorContext(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Status: ProgUnavail}, "rpc: RPC: Program unavailable"},
		{&Error{Status: TimedOut, Network: "udp", Addr: "127.0.0.1:111"}, "rpc: udp 127.0.0.1:111: RPC: Timed out"},
		{&Error{Status: ProcUnavail, Network: "tcp", Addr: "[::1]:111", Prog: 100000, Vers: 0, Proc: 0},
			"rpc: tcp [::1]:111 program 100000 version 0 procedure 0: RPC: Procedure unavailable"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorIsAs(t *testing.T) {
	e := &Error{Status: CantRecv, Err: &net.OpError{Op: "read", Err: syscall.ECONNREFUSED}, Network: "udp"}
	wrapped := fmt.Errorf("ping: %w", e)
	if !errors.Is(wrapped, ErrCantRecv) {
		t.Error("errors.Is(err, ErrCantRecv) = false")
	}
	if errors.Is(wrapped, ErrTimedOut) {
		t.Error("errors.Is(err, ErrTimedOut) = true")
	}
	if !errors.Is(wrapped, syscall.ECONNREFUSED) {
		t.Error("errors.Is(err, ECONNREFUSED) = false")
	}
	var got *Error
	if !errors.As(wrapped, &got) || got.Status != CantRecv {
		t.Errorf("errors.As gave %v", got)
	}
	to := &Error{Status: TimedOut, Err: context.DeadlineExceeded}
	if !errors.Is(to, context.DeadlineExceeded) || !to.Timeout() {
		t.Error("a timeout does not unwrap to context.DeadlineExceeded")
	}
	if !errors.Is(AuthErrorReply(AuthTooWeak), ErrAuth) {
		t.Error("AuthErrorReply is not ErrAuth")
	}
}

// TestDialDeadlineIsTimedOut: a dial cut short by the deadline the context
// gave it is TimedOut, even when the dialer's timer fires before the
// context's own and ctx.Err() is still nil.
func TestDialDeadlineIsTimedOut(t *testing.T) {
	err := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	e := dialError(context.Background(), err)
	if e.Status != TimedOut || e.Text() != "RPC: Timed out" {
		t.Errorf("got %v (%q), want TimedOut", e.Status, e.Text())
	}
	if e := dialError(context.Background(), &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}); e.Status != SystemError {
		t.Errorf("refused dial: %v, want SystemError", e.Status)
	}
	if e := dialError(context.Background(), &Error{Status: UnknownHost}); e.Status != UnknownHost {
		t.Errorf("an *Error is kept as it is: got %v", e.Status)
	}
}
