package portmap

import "github.com/portmap-toolkit/pmap/pkg/xdr"

// Program is the port mapper's RPC program number (RFC 1833 §2, §3).
const Program = 100000

// Port is the well-known port of the port mapper on TCP and UDP (RFC 1833 §1).
const Port = 111

// Versions of program 100000: 2 is portmap (RFC 1833 §3), 3 and 4 are rpcbind
// (RFC 1833 §2).
const (
	V2 = 2
	V3 = 3
	V4 = 4
)

// Procedures of portmap version 2 (RFC 1833 §3.2).
const (
	ProcNull    = 0 // NULL, in every version
	PmapSet     = 1 // SET(mapping) -> bool
	PmapUnset   = 2 // UNSET(mapping) -> bool
	PmapGetport = 3 // GETPORT(mapping) -> unsigned int
	PmapDump    = 4 // DUMP() -> pmaplist
	PmapCallit  = 5 // CALLIT(call_args) -> call_result
)

// Procedures of rpcbind versions 3 and 4 (RFC 1833 §2.2). Versions 3 and 4
// share numbers 0 to 8; 9 to 12 exist only in version 4, where 5 is called
// BCAST.
const (
	RpcbSet         = 1  // SET(rpcb) -> bool
	RpcbUnset       = 2  // UNSET(rpcb) -> bool
	RpcbGetaddr     = 3  // GETADDR(rpcb) -> string
	RpcbDump        = 4  // DUMP() -> rpcblist
	RpcbCallit      = 5  // CALLIT(rpcb_rmtcallargs) -> rpcb_rmtcallres (v3)
	RpcbBcast       = 5  // BCAST(rpcb_rmtcallargs) -> rpcb_rmtcallres (v4)
	RpcbGettime     = 6  // GETTIME() -> unsigned int, seconds since the epoch
	RpcbUaddr2taddr = 7  // UADDR2TADDR(string) -> netbuf
	RpcbTaddr2uaddr = 8  // TADDR2UADDR(netbuf) -> string
	RpcbGetversaddr = 9  // GETVERSADDR(rpcb) -> string (v4)
	RpcbIndirect    = 10 // INDIRECT(rpcb_rmtcallargs) -> rpcb_rmtcallres (v4)
	RpcbGetaddrlist = 11 // GETADDRLIST(rpcb) -> rpcb_entry_list (v4)
	RpcbGetstat     = 12 // GETSTAT() -> rpcb_stat_byvers (v4)
)

// StatHighProc is the number of per-procedure counters in an rpcb_stat,
// RPCBSTAT_HIGHPROC of RFC 1833 §2.1: one for each v4 procedure 0..12.
const StatHighProc = 13

// IP protocol numbers carried in the prot field of a v2 [Mapping]
// (RFC 1833 §3.1: IPPROTO_TCP and IPPROTO_UDP).
const (
	IPProtoTCP = 6
	IPProtoUDP = 17
)

// Limits applied when decoding. None of them is set by RFC 1833, which leaves
// every string and opaque unbounded; they are chosen far above anything a real
// port mapper sends so that only a hostile or broken peer meets them. They stop
// a declared length from being trusted before the bytes are there (the
// "rpcbomb" of CVE-2017-8779).
const (
	// MaxNetidLen bounds a netid (and an rpcb_entry's protofmly and proto).
	// netconfig(5) names are a handful of characters ("tcp6", "local");
	// 255 leaves room for any name a netconfig database could hold.
	MaxNetidLen = 255

	// MaxUaddrLen bounds a universal address. The longest IP form, an IPv6
	// address with a zone and the two port parts, is under 80 bytes; a local
	// address is a socket path, at most 108 bytes in sockaddr_un but up to
	// PATH_MAX (4096) as a name. 4096 covers every path the system accepts.
	MaxUaddrLen = 4096

	// MaxOwnerLen bounds an rpcb owner: rpcbind writes "superuser", "unknown"
	// or a decimal uid; 255 holds any Linux user name (LOGIN_NAME_MAX is 256
	// with the terminating NUL).
	MaxOwnerLen = 255

	// MaxCallDataLen bounds the opaque arguments and results of CALLIT, BCAST
	// and INDIRECT. Forwarding is datagram-only (a UDP payload is at most
	// 65,507 bytes), but a TCP caller may send more; 1 MiB is sixteen times
	// the largest datagram and still a bounded cost per call.
	MaxCallDataLen = 1 << 20

	// MaxNetbufLen bounds a netbuf's buffer, a struct sockaddr: 16 bytes for
	// sockaddr_in, 28 for sockaddr_in6, 110 for sockaddr_un, 128 for
	// sockaddr_storage, the largest any kernel hands out. 1024 is generous.
	MaxNetbufLen = 1024

	// MaxListEntries bounds the entries of one optional-data list (pmaplist,
	// rpcblist, rpcb_entry_list and the two statistics lists). A registry of
	// 100,000 entries must still list, so the bound is 2^18 = 262,144 entries:
	// a pmaplist that long is 5 MiB on the wire, an rpcblist of entries like
	// "tcp 0.0.0.0.8.1 superuser" about 13 MiB. The input bounds a list too:
	// every entry consumes at least 20 input bytes, so no list holds more
	// entries than its input has room for.
	MaxListEntries = 1 << 18
)

// Mapping is a portmap v2 registration: program, version, IP protocol
// ([IPProtoTCP] or [IPProtoUDP]) and port (RFC 1833 §3.1, struct mapping). It is
// the argument of SET, UNSET and GETPORT and the element of pmaplist.
type Mapping struct {
	Prog, Vers, Prot, Port uint32
}

// mappingSize is the encoded size of a Mapping: four unsigned integers.
const mappingSize = 16

// Append appends v's XDR encoding to b.
func (v Mapping) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, v.Prog)
	b = xdr.AppendUint32(b, v.Vers)
	b = xdr.AppendUint32(b, v.Prot)
	return xdr.AppendUint32(b, v.Port)
}

// Decode reads a Mapping from d; check d.Err afterwards.
func (v *Mapping) Decode(d *xdr.Decoder) {
	v.Prog = d.Uint32()
	v.Vers = d.Uint32()
	v.Prot = d.Uint32()
	v.Port = d.Uint32()
}

// CallArgs is the argument of portmap v2 CALLIT: the procedure to call and its
// encoded arguments (RFC 1833 §3.1, struct call_args).
type CallArgs struct {
	Prog, Vers, Proc uint32
	Args             []byte // the procedure's XDR-encoded arguments, at most MaxCallDataLen
}

// Append appends v's XDR encoding to b.
func (v CallArgs) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, v.Prog)
	b = xdr.AppendUint32(b, v.Vers)
	b = xdr.AppendUint32(b, v.Proc)
	return xdr.AppendOpaque(b, v.Args)
}

// Decode reads a CallArgs from d; check d.Err afterwards. Args is copied into
// v.Args's existing storage where it fits, so it does not alias the input.
func (v *CallArgs) Decode(d *xdr.Decoder) {
	v.Prog = d.Uint32()
	v.Vers = d.Uint32()
	v.Proc = d.Uint32()
	v.Args = copyOpaque(v.Args, d.Opaque(MaxCallDataLen))
}

// CallResult is the result of portmap v2 CALLIT: the port the call went to and
// the procedure's encoded results (RFC 1833 §3.1, struct call_result).
type CallResult struct {
	Port uint32
	Res  []byte // the procedure's XDR-encoded results, at most MaxCallDataLen
}

// Append appends v's XDR encoding to b.
func (v CallResult) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, v.Port)
	return xdr.AppendOpaque(b, v.Res)
}

// Decode reads a CallResult from d; check d.Err afterwards. Res does not alias
// the input.
func (v *CallResult) Decode(d *xdr.Decoder) {
	v.Port = d.Uint32()
	v.Res = copyOpaque(v.Res, d.Opaque(MaxCallDataLen))
}

// RPCB is an rpcbind v3/v4 registration: program, version, netid, universal
// address and owner (RFC 1833 §2.1, struct rpcb). It is the argument of SET,
// UNSET, GETADDR, GETVERSADDR and GETADDRLIST and the element of rpcblist.
type RPCB struct {
	Prog, Vers uint32
	Netid      string // e.g. "tcp", "udp6", "local"; at most MaxNetidLen bytes
	Addr       string // universal address; at most MaxUaddrLen bytes
	Owner      string // "superuser", a decimal uid or "unknown"; at most MaxOwnerLen bytes
}

// Append appends v's XDR encoding to b.
func (v RPCB) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, v.Prog)
	b = xdr.AppendUint32(b, v.Vers)
	b = xdr.AppendString(b, v.Netid)
	b = xdr.AppendString(b, v.Addr)
	return xdr.AppendString(b, v.Owner)
}

// Decode reads an RPCB from d; check d.Err afterwards.
func (v *RPCB) Decode(d *xdr.Decoder) {
	v.Prog = d.Uint32()
	v.Vers = d.Uint32()
	v.Netid = internNetid(d.StringBytes(MaxNetidLen))
	v.Addr = d.String(MaxUaddrLen)
	v.Owner = internOwner(d.StringBytes(MaxOwnerLen))
}

// RmtCallArgs is the argument of rpcbind CALLIT, BCAST and INDIRECT (RFC 1833
// §2.1, struct rpcb_rmtcallargs).
type RmtCallArgs struct {
	Prog, Vers, Proc uint32
	Args             []byte // the procedure's XDR-encoded arguments, at most MaxCallDataLen
}

// Append appends v's XDR encoding to b.
func (v RmtCallArgs) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, v.Prog)
	b = xdr.AppendUint32(b, v.Vers)
	b = xdr.AppendUint32(b, v.Proc)
	return xdr.AppendOpaque(b, v.Args)
}

// Decode reads an RmtCallArgs from d; check d.Err afterwards. Args does not
// alias the input.
func (v *RmtCallArgs) Decode(d *xdr.Decoder) {
	v.Prog = d.Uint32()
	v.Vers = d.Uint32()
	v.Proc = d.Uint32()
	v.Args = copyOpaque(v.Args, d.Opaque(MaxCallDataLen))
}

// RmtCallRes is the result of rpcbind CALLIT, BCAST and INDIRECT: the universal
// address of the program called and its encoded results (RFC 1833 §2.1,
// struct rpcb_rmtcallres).
type RmtCallRes struct {
	Addr    string // universal address; at most MaxUaddrLen bytes
	Results []byte // the procedure's XDR-encoded results, at most MaxCallDataLen
}

// Append appends v's XDR encoding to b.
func (v RmtCallRes) Append(b []byte) []byte {
	b = xdr.AppendString(b, v.Addr)
	return xdr.AppendOpaque(b, v.Results)
}

// Decode reads an RmtCallRes from d; check d.Err afterwards. Results does not
// alias the input.
func (v *RmtCallRes) Decode(d *xdr.Decoder) {
	v.Addr = d.String(MaxUaddrLen)
	v.Results = copyOpaque(v.Results, d.Opaque(MaxCallDataLen))
}

// Entry is one address of a program in an rpcbind v4 GETADDRLIST result (RFC
// 1833 §2.1, struct rpcb_entry): merged (universal) address, netid, transport
// semantics ([SemanticsCLTS], [SemanticsCOTS], [SemanticsCOTSOrd]), protocol
// family ("inet", "inet6", "loopback") and protocol ("udp", "tcp", "-").
type Entry struct {
	Maddr     string // at most MaxUaddrLen bytes
	Netid     string // at most MaxNetidLen bytes
	Semantics uint32
	Protofmly string // at most MaxNetidLen bytes
	Proto     string // at most MaxNetidLen bytes
}

// Append appends v's XDR encoding to b.
func (v Entry) Append(b []byte) []byte {
	b = xdr.AppendString(b, v.Maddr)
	b = xdr.AppendString(b, v.Netid)
	b = xdr.AppendUint32(b, v.Semantics)
	b = xdr.AppendString(b, v.Protofmly)
	return xdr.AppendString(b, v.Proto)
}

// Decode reads an Entry from d; check d.Err afterwards.
func (v *Entry) Decode(d *xdr.Decoder) {
	v.Maddr = d.String(MaxUaddrLen)
	v.Netid = internNetid(d.StringBytes(MaxNetidLen))
	v.Semantics = d.Uint32()
	v.Protofmly = internNetid(d.StringBytes(MaxNetidLen))
	v.Proto = internNetid(d.StringBytes(MaxNetidLen))
}

// Netbuf is a transport address as the argument of TADDR2UADDR and the result
// of UADDR2TADDR (RFC 1833 §2.1, struct netbuf). Buf holds a struct sockaddr
// laid out as the server's kernel does it; see [NetbufFromAddrPort] and
// [Netbuf.AddrPort].
type Netbuf struct {
	MaxLen uint32
	Buf    []byte // at most MaxNetbufLen bytes
}

// Append appends v's XDR encoding to b.
func (v Netbuf) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, v.MaxLen)
	return xdr.AppendOpaque(b, v.Buf)
}

// Decode reads a Netbuf from d; check d.Err afterwards. Buf does not alias the
// input.
func (v *Netbuf) Decode(d *xdr.Decoder) {
	v.MaxLen = d.Uint32()
	v.Buf = copyOpaque(v.Buf, d.Opaque(MaxNetbufLen))
}

// AddrStat is one entry of the address-lookup statistics of an rpcb_stat: the
// GETPORT/GETADDR calls for one (program, version, netid) and how many found an
// address (RFC 1833 §2.1, struct rpcbs_addrlist).
type AddrStat struct {
	Prog, Vers       uint32
	Success, Failure int32
	Netid            string // at most MaxNetidLen bytes
}

// Append appends v's XDR encoding to b, without the list's "next" marker.
func (v AddrStat) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, v.Prog)
	b = xdr.AppendUint32(b, v.Vers)
	b = xdr.AppendInt32(b, v.Success)
	b = xdr.AppendInt32(b, v.Failure)
	return xdr.AppendString(b, v.Netid)
}

// Decode reads an AddrStat from d; check d.Err afterwards.
func (v *AddrStat) Decode(d *xdr.Decoder) {
	v.Prog = d.Uint32()
	v.Vers = d.Uint32()
	v.Success = d.Int32()
	v.Failure = d.Int32()
	v.Netid = internNetid(d.StringBytes(MaxNetidLen))
}

// RmtCallStat is one entry of the remote-call statistics of an rpcb_stat: the
// CALLIT/BCAST/INDIRECT calls to one (program, version, procedure, netid)
// (RFC 1833 §2.1, struct rpcbs_rmtcalllist).
type RmtCallStat struct {
	Prog, Vers, Proc           uint32
	Success, Failure, Indirect int32
	Netid                      string // at most MaxNetidLen bytes
}

// Append appends v's XDR encoding to b, without the list's "next" marker.
func (v RmtCallStat) Append(b []byte) []byte {
	b = xdr.AppendUint32(b, v.Prog)
	b = xdr.AppendUint32(b, v.Vers)
	b = xdr.AppendUint32(b, v.Proc)
	b = xdr.AppendInt32(b, v.Success)
	b = xdr.AppendInt32(b, v.Failure)
	b = xdr.AppendInt32(b, v.Indirect)
	return xdr.AppendString(b, v.Netid)
}

// Decode reads an RmtCallStat from d; check d.Err afterwards.
func (v *RmtCallStat) Decode(d *xdr.Decoder) {
	v.Prog = d.Uint32()
	v.Vers = d.Uint32()
	v.Proc = d.Uint32()
	v.Success = d.Int32()
	v.Failure = d.Int32()
	v.Indirect = d.Int32()
	v.Netid = internNetid(d.StringBytes(MaxNetidLen))
}

// Stat holds the statistics of one port mapper version (RFC 1833 §2.1, struct
// rpcb_stat): a call count per procedure number, the successful SET and UNSET
// counts, and the address-lookup and remote-call lists (rpcbind keeps them
// newest first).
type Stat struct {
	Info      [StatHighProc]int32 // calls per procedure number, rpcbs_proc
	SetInfo   int32               // successful SETs
	UnsetInfo int32               // successful UNSETs
	AddrInfo  []AddrStat          // rpcbs_addrlist
	RmtInfo   []RmtCallStat       // rpcbs_rmtcalllist
}

// Append appends v's XDR encoding to b.
func (v Stat) Append(b []byte) []byte {
	for _, n := range v.Info {
		b = xdr.AppendInt32(b, n)
	}
	b = xdr.AppendInt32(b, v.SetInfo)
	b = xdr.AppendInt32(b, v.UnsetInfo)
	for _, e := range v.AddrInfo {
		b = e.Append(xdr.AppendBool(b, true))
	}
	b = xdr.AppendBool(b, false)
	for _, e := range v.RmtInfo {
		b = e.Append(xdr.AppendBool(b, true))
	}
	return xdr.AppendBool(b, false)
}

// Decode reads a Stat from d; check d.Err afterwards. The lists are read into
// the existing storage of v.AddrInfo and v.RmtInfo, each at most
// MaxListEntries long.
func (v *Stat) Decode(d *xdr.Decoder) {
	for i := range v.Info {
		v.Info[i] = d.Int32()
	}
	v.SetInfo = d.Int32()
	v.UnsetInfo = d.Int32()
	v.AddrInfo = v.AddrInfo[:0]
	for d.ListNext(len(v.AddrInfo), MaxListEntries) {
		var e AddrStat
		e.Decode(d)
		v.AddrInfo = append(v.AddrInfo, e)
	}
	v.RmtInfo = v.RmtInfo[:0]
	for d.ListNext(len(v.RmtInfo), MaxListEntries) {
		var e RmtCallStat
		e.Decode(d)
		v.RmtInfo = append(v.RmtInfo, e)
	}
}

// StatByVers is the result of rpcbind v4 GETSTAT: one [Stat] per version, index
// 0 for v2, 1 for v3, 2 for v4 (RFC 1833 §2.1, rpcb_stat_byvers).
type StatByVers [3]Stat

// Append appends v's XDR encoding to b.
func (v StatByVers) Append(b []byte) []byte {
	for _, s := range v {
		b = s.Append(b)
	}
	return b
}

// Decode reads a StatByVers from d; check d.Err afterwards.
func (v *StatByVers) Decode(d *xdr.Decoder) {
	for i := range v {
		v[i].Decode(d)
	}
}

// Version returns the statistics of port mapper version vers (2, 3 or 4), or
// nil for any other version.
func (v *StatByVers) Version(vers uint32) *Stat {
	if vers < V2 || vers > V4 {
		return nil
	}
	return &v[vers-V2]
}

// copyOpaque copies src into dst's storage, growing it only when needed, so a
// decoded value never aliases the decoder's input. A nil src (an error or an
// empty opaque) leaves dst empty.
func copyOpaque(dst, src []byte) []byte {
	return append(dst[:0], src...)
}

// internNetid returns the constant string for a netid, protocol family or
// protocol name this package knows, so a long list allocates only its
// addresses; any other text is copied.
func internNetid(b []byte) string {
	switch string(b) { // the compiler does not allocate for this conversion
	case NetidUDP:
		return NetidUDP
	case NetidTCP:
		return NetidTCP
	case NetidUDP6:
		return NetidUDP6
	case NetidTCP6:
		return NetidTCP6
	case NetidLocal:
		return NetidLocal
	case NetidUnix:
		return NetidUnix
	case FamilyInet:
		return FamilyInet
	case FamilyInet6:
		return FamilyInet6
	case FamilyLoopback:
		return FamilyLoopback
	case "-":
		return "-"
	}
	return string(b)
}

// internOwner does for owners what internNetid does for netids: rpcbind's
// "superuser" and "unknown" are shared.
func internOwner(b []byte) string {
	switch string(b) {
	case "superuser":
		return "superuser"
	case "unknown":
		return "unknown"
	}
	return string(b)
}
