package render

import (
	"strconv"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Procedure names of rpcinfo -m's counter rows, indexed by procedure number.
var (
	pmapProcNames = []string{"NULL", "SET", "UNSET", "GETPORT", "DUMP", "CALLIT"}
	rpcbProcNames = []string{"NULL", "SET", "UNSET", "GETADDR", "DUMP", "CALLIT", "TIME",
		"U2T", "T2U", "VERADDR", "INDRECT", "GETLIST", "GETSTAT"}
)

// Number of procedures each version counts (rpcb_highproc_2/3/4 + 1).
const (
	procsV2 = portmap.PmapCallit + 1
	procsV3 = portmap.RpcbTaddr2uaddr + 1
	procsV4 = portmap.RpcbGetstat + 1
)

// tabStop is rpcinfo -m's TABSTOP: every counter column is a multiple of it.
const tabStop = 8

// maxSpaces is the length of rpcinfo's space_array; spaces() gives nothing
// for a count above it.
const maxSpaces = 65

// statField is the text of counter i of st as rpcinfo -m prints it:
// "success/total" for SET, UNSET, GETPORT/GETADDR and CALLIT, the count
// alone for the others. C ints: sums wrap like int32. In version 4 the
// GETADDR total adds the GETADDRLIST count, as rpcinfo does.
func statField(st *portmap.Stat, i int, v4 bool) string {
	var b []byte
	switch i {
	case portmap.PmapSet:
		b = strconv.AppendInt(b, int64(st.SetInfo), 10)
		b = append(b, '/')
	case portmap.PmapUnset:
		b = strconv.AppendInt(b, int64(st.UnsetInfo), 10)
		b = append(b, '/')
	case portmap.PmapGetport:
		b = strconv.AppendInt(b, int64(addrSuccess(st)), 10)
		b = append(b, '/')
	case portmap.PmapCallit:
		b = strconv.AppendInt(b, int64(rmtSuccess(st)), 10)
		b = append(b, '/')
	}
	n := st.Info[i]
	if v4 && i == portmap.RpcbGetaddr {
		n += st.Info[portmap.RpcbGetaddrlist]
	}
	return string(strconv.AppendInt(b, int64(n), 10))
}

// addrSuccess sums the successes of the address-lookup list.
func addrSuccess(st *portmap.Stat) int32 {
	var n int32
	for _, a := range st.AddrInfo {
		n += a.Success
	}
	return n
}

// rmtSuccess sums the successes of the remote-call list.
func rmtSuccess(st *portmap.Stat) int32 {
	var n int32
	for _, r := range st.RmtInfo {
		n += r.Success
	}
	return n
}

// statRows appends one header row and one counter row for procedures
// [from, to) of st: each column is tabStop*(1+len(field)/tabStop) wide.
// The header row ends with "\n", the counter row with none.
func statRows(b []byte, st *portmap.Stat, names []string, from, to int, v4 bool) []byte {
	var line []byte
	for i := from; i < to; i++ {
		field := statField(st, i, v4)
		width := tabStop * (1 + len(field)/tabStop)
		b = append(b, names[i]...)
		b = cSpaces(b, width-len(names[i]))
		line = append(line, field...)
		line = cSpaces(line, width-len(field))
	}
	b = append(b, '\n')
	return append(b, line...)
}

// cSpaces is rpcinfo's spaces(): n spaces, or none when n is not in 1..65.
func cSpaces(b []byte, n int) []byte {
	if n > maxSpaces {
		return b
	}
	return spaces(b, n)
}

// classicStats reproduces rpcinfo -m.
func (p *Printer) classicStats(b []byte, st *portmap.StatByVers) []byte {
	v2, v3, v4 := &st[0], &st[1], &st[2]

	b = append(b, "PORTMAP (version 2) statistics\n"...)
	b = statRows(b, v2, pmapProcNames, 0, procsV2, false)
	b = append(b, "\n\n"...)
	if v2.Info[portmap.PmapCallit] != 0 {
		b = append(b, "PMAP_RMTCALL call statistics\n"...)
		b = p.rmtCallStat(b, v2, false)
		b = append(b, '\n')
	}
	if v2.Info[portmap.PmapGetport] != 0 {
		b = append(b, "PMAP_GETPORT call statistics\n"...)
		b = p.addrStat(b, v2)
		b = append(b, '\n')
	}

	b = append(b, "RPCBIND (version 3) statistics\n"...)
	b = statRows(b, v3, rpcbProcNames, 0, procsV3, false)
	b = append(b, "\n\n"...)
	if v3.Info[portmap.RpcbCallit] != 0 {
		b = append(b, "RPCB_RMTCALL (version 3) call statistics\n"...)
		b = p.rmtCallStat(b, v3, false)
		b = append(b, '\n')
	}
	if v3.Info[portmap.RpcbGetaddr] != 0 {
		b = append(b, "RPCB_GETADDR (version 3) call statistics\n"...)
		b = p.addrStat(b, v3)
		b = append(b, '\n')
	}

	b = append(b, "RPCBIND (version 4) statistics\n"...)
	b = statRows(b, v4, rpcbProcNames, 0, procsV3, true)
	b = append(b, '\n')
	b = statRows(b, v4, rpcbProcNames, procsV3, procsV4, true)
	b = append(b, '\n')
	if v4.Info[portmap.RpcbBcast] != 0 || v4.Info[portmap.RpcbIndirect] != 0 {
		b = append(b, "\nRPCB_RMTCALL (version 4) call statistics\n"...)
		b = p.rmtCallStat(b, v4, true)
	}
	if v4.Info[portmap.RpcbGetaddr] != 0 {
		b = append(b, "\nRPCB_GETADDR (version 4) call statistics\n"...)
		b = p.addrStat(b, v4)
	}
	return b
}

// rmtCallStat is rpcinfo's print_rmtcallstat: the name in "%-16s" or the
// number in "%-16d", then "%d\t%d\t%s\t", in version 4 "%d\t " with the
// indirect count, then "%d\t%d".
func (p *Printer) rmtCallStat(b []byte, st *portmap.Stat, v4 bool) []byte {
	if v4 {
		b = append(b, "prog\t\tvers\tproc\tnetid\tindirect success failure\n"...)
	} else {
		b = append(b, "prog\t\tvers\tproc\tnetid\tsuccess\tfailure\n"...)
	}
	for _, r := range st.RmtInfo {
		b = p.statProg(b, r.Prog)
		b = strconv.AppendInt(b, int64(int32(r.Vers)), 10)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(int32(r.Proc)), 10)
		b = append(b, '\t')
		b = append(b, cstr(r.Netid)...)
		b = append(b, '\t')
		if v4 {
			b = strconv.AppendInt(b, int64(r.Indirect), 10)
			b = append(b, "\t "...)
		}
		b = strconv.AppendInt(b, int64(r.Success), 10)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(r.Failure), 10)
		b = append(b, '\n')
	}
	return b
}

// addrStat is rpcinfo's print_getaddrstat: the program as in rmtCallStat,
// then "%d\t%s\t  %-12d\t%d".
func (p *Printer) addrStat(b []byte, st *portmap.Stat) []byte {
	b = append(b, "prog\t\tvers\tnetid\t  success\tfailure\n"...)
	for _, a := range st.AddrInfo {
		b = p.statProg(b, a.Prog)
		b = strconv.AppendInt(b, int64(int32(a.Vers)), 10)
		b = append(b, '\t')
		b = append(b, cstr(a.Netid)...)
		b = append(b, "\t  "...)
		b = padIntRight(b, a.Success, 12)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(a.Failure), 10)
		b = append(b, '\n')
	}
	return b
}

// statProg prints a program of the statistics lists: its name in "%-16s", or
// its number as a C int in "%-16d".
func (p *Printer) statProg(b []byte, prog uint32) []byte {
	if name, ok := p.name(prog); ok {
		return padRight(b, cstr(name), 16)
	}
	return padIntRight(b, int32(prog), 16)
}
