package rpc

import (
	"errors"
	"fmt"

	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// AuthFlavor is auth_flavor, the kind of an authenticator (RFC 5531 §8.2).
type AuthFlavor uint32

// Authentication flavors (RFC 5531 §8.2, Appendix A; RFC 2203 for RPCSEC_GSS).
const (
	AuthNone  AuthFlavor = 0 // AUTH_NONE: no authentication
	AuthSys   AuthFlavor = 1 // AUTH_SYS (AUTH_UNIX): uid, gid, gids; see [AuthSysParams]
	AuthShort AuthFlavor = 2 // AUTH_SHORT: a server's shorthand for an AUTH_SYS credential
	AuthDH    AuthFlavor = 3 // AUTH_DH: Diffie-Hellman
	RPCSECGSS AuthFlavor = 6 // RPCSEC_GSS
)

// String returns the flavor's RFC name, such as "AUTH_SYS".
func (f AuthFlavor) String() string {
	switch f {
	case AuthNone:
		return "AUTH_NONE"
	case AuthSys:
		return "AUTH_SYS"
	case AuthShort:
		return "AUTH_SHORT"
	case AuthDH:
		return "AUTH_DH"
	case RPCSECGSS:
		return "RPCSEC_GSS"
	}
	return fmt.Sprintf("auth_flavor(%d)", uint32(f))
}

// Limits of RFC 5531. Each is enforced when encoding ([AuthSysParams.Auth],
// [OpaqueAuth.Check], [Client.Call]) and when decoding.
const (
	// MaxAuthBytes bounds the body of an opaque_auth: opaque body<400> (RFC 5531 §8.2).
	MaxAuthBytes = 400
	// MaxMachineName bounds the machine name of AUTH_SYS: string machinename<255>
	// (RFC 5531 Appendix A).
	MaxMachineName = 255
	// MaxGIDs bounds the supplementary groups of AUTH_SYS: unsigned int gids<16>
	// (RFC 5531 Appendix A).
	MaxGIDs = 16
)

// ErrAuthTooLong is wrapped by the error of an encoder given an authenticator
// or AUTH_SYS field over the limits above.
var ErrAuthTooLong = errors.New("rpc: authenticator exceeds protocol limit")

// OpaqueAuth is opaque_auth, a credential or verifier: a flavor and an opaque
// body of at most [MaxAuthBytes] (RFC 5531 §8.2). The zero value is AUTH_NONE
// with an empty body.
type OpaqueAuth struct {
	Flavor AuthFlavor
	Body   []byte
}

// Check reports an error wrapping [ErrAuthTooLong] when the body is longer
// than [MaxAuthBytes].
func (a OpaqueAuth) Check() error {
	if len(a.Body) > MaxAuthBytes {
		return fmt.Errorf("%w: %v body of %d bytes, limit %d", ErrAuthTooLong, a.Flavor, len(a.Body), MaxAuthBytes)
	}
	return nil
}

// Append appends the authenticator to b. It encodes the body as it is; call
// [OpaqueAuth.Check] first for one that did not come from this package.
func (a OpaqueAuth) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, uint32(a.Flavor))
	return xdr.AppendOpaque(b, a.Body)
}

// Decode reads an authenticator from d; a body over [MaxAuthBytes] is d's
// sticky error. The body aliases d's input.
func (a *OpaqueAuth) Decode(d *xdr.Decoder) {
	a.Flavor = AuthFlavor(d.Uint32())
	a.Body = d.Opaque(MaxAuthBytes)
}

// AuthSysParams is the body of an AUTH_SYS credential, authsys_parms
// (RFC 5531 Appendix A).
type AuthSysParams struct {
	Stamp       uint32 // arbitrary ID the caller may generate
	MachineName string // the caller's host name, at most MaxMachineName bytes
	UID         uint32
	GID         uint32
	GIDs        []uint32 // supplementary groups, at most MaxGIDs
}

// Auth encodes p as an AUTH_SYS credential. A machine name over
// [MaxMachineName] bytes or more than [MaxGIDs] groups is an error wrapping
// [ErrAuthTooLong]. (Within those limits the body is at most 340 bytes, under
// [MaxAuthBytes].)
func (p AuthSysParams) Auth() (OpaqueAuth, error) {
	if len(p.MachineName) > MaxMachineName {
		return OpaqueAuth{}, fmt.Errorf("%w: AUTH_SYS machine name of %d bytes, limit %d", ErrAuthTooLong, len(p.MachineName), MaxMachineName)
	}
	if len(p.GIDs) > MaxGIDs {
		return OpaqueAuth{}, fmt.Errorf("%w: AUTH_SYS with %d gids, limit %d", ErrAuthTooLong, len(p.GIDs), MaxGIDs)
	}
	b := make([]byte, 0, 20+len(p.MachineName)+xdr.Pad(len(p.MachineName))+4*len(p.GIDs))
	b = xdr.AppendUint32(b, p.Stamp)
	b = xdr.AppendString(b, p.MachineName)
	b = xdr.AppendUint32(b, p.UID)
	b = xdr.AppendUint32(b, p.GID)
	b = xdr.AppendUint32(b, uint32(len(p.GIDs)))
	for _, g := range p.GIDs {
		b = xdr.AppendUint32(b, g)
	}
	return OpaqueAuth{Flavor: AuthSys, Body: b}, nil
}

// ParseAuthSys decodes the body of an AUTH_SYS credential. A flavor other than
// AUTH_SYS, a short body, a machine name over [MaxMachineName] bytes or more
// than [MaxGIDs] groups is an error (the server answers AUTH_BADCRED). Bytes
// after the groups are ignored, as libtirpc does.
func ParseAuthSys(a OpaqueAuth) (AuthSysParams, error) {
	if a.Flavor != AuthSys {
		return AuthSysParams{}, fmt.Errorf("rpc: credential flavor %v is not AUTH_SYS", a.Flavor)
	}
	if len(a.Body) > MaxAuthBytes {
		return AuthSysParams{}, a.Check()
	}
	d := xdr.NewDecoder(a.Body)
	var p AuthSysParams
	p.Stamp = d.Uint32()
	p.MachineName = string(d.StringBytes(MaxMachineName))
	p.UID = d.Uint32()
	p.GID = d.Uint32()
	if n := d.ArrayLen(MaxGIDs, 4); n > 0 {
		p.GIDs = make([]uint32, n)
		for i := range p.GIDs {
			p.GIDs[i] = d.Uint32()
		}
	}
	if err := d.Err(); err != nil {
		return AuthSysParams{}, fmt.Errorf("rpc: AUTH_SYS credential: %w", err)
	}
	return p, nil
}
