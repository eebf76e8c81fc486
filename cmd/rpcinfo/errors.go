package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// errFailed ends a run with exit status 1 once its messages are printed:
// every failure of Debian's rpcinfo exits 1.
var errFailed = errors.New("rpcinfo: failed")

// errFound ends a run of --audit that found a reflector or a forwarder with
// exitFound, once its report is printed.
var errFound = errors.New("rpcinfo: found")

// exitFound is the exit status of an audit that found a reflector or a
// forwarder. rpcinfo's own modes never exit 2, and 1 stays every failure's,
// so a script tells "the audit ran and found something" from "it could not
// run".
const exitFound = 2

// libtirpc words a failure in two ways, and rpcinfo uses both:
//
//   - clnt_spcreateerror, for a client that could not be made (the lookup of
//     an address, a connection that was refused): the status, then
//     " - strerror" for a system error, " - status" for a port mapper
//     failure, and nothing else, so "RPC: Unable to receive" has no errno;
//   - clnt_sperror, for a call that failed: the status, then "; errno = ..."
//     for a failed send or receive, the version range of a mismatch, the
//     reason of an authentication error, and nothing for a system error.

// asRPCError returns err as an *rpc.Error, wrapping any other error as
// RPC_FAILED.
func asRPCError(err error) *rpc.Error {
	var e *rpc.Error
	if errors.As(err, &e) {
		return e
	}
	return &rpc.Error{Status: rpc.Failed, Err: err}
}

// createText is clnt_spcreateerror's text for err, without its prefix.
func createText(err error) string {
	e := asRPCError(err)
	s := e.Status.String()
	switch e.Status {
	case rpc.PMapFailure:
		inner := rpc.Failed
		var ie *rpc.Error
		if e.Err != nil && errors.As(e.Err, &ie) {
			inner = ie.Status
		}
		// libtirpc skips the inner text's "RPC: ".
		return s + " - " + strings.TrimPrefix(inner.String(), "RPC: ")
	case rpc.SystemError:
		return s + " - " + strerror(e.Err)
	}
	return s
}

// callText is clnt_sperror's text for err, without its prefix.
func callText(err error) string {
	e := asRPCError(err)
	s := e.Status.String()
	switch e.Status {
	case rpc.Success, rpc.CantEncodeArgs, rpc.CantDecodeRes, rpc.TimedOut, rpc.ProgUnavail,
		rpc.ProcUnavail, rpc.CantDecodeArgs, rpc.SystemError, rpc.UnknownHost, rpc.UnknownProto,
		rpc.PMapFailure, rpc.ProgNotRegistered, rpc.Failed:
		return s
	case rpc.CantSend, rpc.CantRecv:
		return s + "; errno = " + strerror(e.Err)
	case rpc.VersMismatch, rpc.ProgVersMismatch, rpc.AuthError:
		return e.Text()
	}
	return s + "; s1 = 0, s2 = 0"
}

// strerror is glibc's strerror of the system error inside err; "Success"
// (errno 0) when there is none.
func strerror(err error) string {
	if err == nil {
		return "Success"
	}
	return rpc.Strerror(err)
}

// status returns err's RPC status, or rpc.Failed.
func status(err error) rpc.Status { return asRPCError(err).Status }

// fail prints one line on standard error and returns errFailed.
func (r *runner) fail(format string, a ...any) error {
	fmt.Fprintf(r.stderr, format+"\n", a...)
	return errFailed
}

// usageText is rpcinfo's usage message, printed on standard error.
const usageText = `Usage: rpcinfo [-m | -s] [host]
       rpcinfo -p [host]
       rpcinfo -T netid host prognum [versnum]
       rpcinfo -l host prognum versnum
       rpcinfo [-n portnum] -u | -t host prognum [versnum]
       rpcinfo -a serv_address -T netid prognum [version]
       rpcinfo -b prognum versnum
       rpcinfo -d [-T netid] prognum versnum
`

// usage prints the usage message and returns errFailed.
func (r *runner) usage() error {
	fmt.Fprint(r.stderr, usageText)
	return errFailed
}

// u64 formats an unsigned number.
func u64(v uint64) string { return strconv.FormatUint(v, 10) }
