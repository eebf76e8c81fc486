package render

import (
	"encoding/json"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Schema names the JSON schema this package writes, recorded in every
// document's "schema" field. Adding a field keeps the name; renaming or
// removing one, or changing its meaning, makes a new version.
const Schema = "pmap.rpcinfo/v1"

// Kinds of JSON document, the value of their "kind" field.
const (
	KindMappings      = "mappings"      // rpcinfo -p
	KindRegistrations = "registrations" // rpcinfo [host]
	KindSummary       = "summary"       // rpcinfo -s
	KindAddresses     = "addresses"     // rpcinfo -l
	KindStatistics    = "statistics"    // rpcinfo -m
	KindPing          = "ping"          // rpcinfo -t, -u, -T, -a
	KindBroadcast     = "broadcast"     // rpcinfo -b
	KindVerification  = "verification"  // rpcinfo --verify
	KindNFS           = "nfs"           // rpcinfo --nfs
	KindAudit         = "audit"         // rpcinfo --audit
	KindDiscovery     = "discovery"     // rpcinfo --discover
	KindError         = "error"         // a host of many that could not be asked
)

// Header is the part every JSON document starts with.
type Header struct {
	Schema string `json:"schema"` // always Schema
	Kind   string `json:"kind"`   // one of the Kind constants
	Host   string `json:"host"`   // the host asked; "" for the local mapper or none
}

// MappingsDocument is rpcinfo -p's answer: a portmap v2 DUMP.
type MappingsDocument struct {
	Header
	Mappings []MappingJSON `json:"mappings"`
}

// MappingJSON is one portmap v2 mapping (RFC 1833 §3.1).
type MappingJSON struct {
	Program  uint32 `json:"program"`
	Version  uint32 `json:"version"`
	Prot     uint32 `json:"prot"`     // IP protocol number: 6 tcp, 17 udp
	Protocol string `json:"protocol"` // "tcp", "udp", or the number in decimal
	Port     uint32 `json:"port"`
	Service  string `json:"service,omitempty"` // name from /etc/rpc, absent if unknown
}

// RegistrationsDocument is rpcinfo's default answer: an rpcbind DUMP.
type RegistrationsDocument struct {
	Header
	Registrations []RegistrationJSON `json:"registrations"`
}

// RegistrationJSON is one rpcbind registration (RFC 1833 §2.1, rpcb).
type RegistrationJSON struct {
	Program uint32 `json:"program"`
	Version uint32 `json:"version"`
	Netid   string `json:"netid"`
	Address string `json:"address"` // universal address (RFC 5665)
	Service string `json:"service,omitempty"`
	Owner   string `json:"owner"`
}

// SummaryDocument is rpcinfo -s's answer: the DUMP grouped by program.
type SummaryDocument struct {
	Header
	Programs []ProgramJSON `json:"programs"`
}

// ProgramJSON is one program of rpcinfo -s, its versions and netids in
// rpcinfo's order (most recently first seen first) and without repeats.
type ProgramJSON struct {
	Program  uint32   `json:"program"`
	Versions []uint32 `json:"versions"`
	Netids   []string `json:"netids"`
	Service  string   `json:"service,omitempty"`
	Owner    string   `json:"owner"`
}

// AddressesDocument is rpcinfo -l's answer: an rpcbind v4 GETADDRLIST.
type AddressesDocument struct {
	Header
	Program uint32      `json:"program"`
	Version uint32      `json:"version"`
	Service string      `json:"service,omitempty"`
	Entries []EntryJSON `json:"entries"`
}

// EntryJSON is one rpcb_entry (RFC 1833 §2.1).
type EntryJSON struct {
	Address   string `json:"address"` // merged universal address
	Netid     string `json:"netid"`
	Family    string `json:"family"`    // protocol family: inet, inet6, loopback
	Protocol  string `json:"protocol"`  // udp, tcp, "-"
	Semantics string `json:"semantics"` // clts, cots, cots_ord, raw, unknown
}

// StatisticsDocument is rpcinfo -m's answer: an rpcbind v4 GETSTAT.
type StatisticsDocument struct {
	Header
	Versions []VersionStatsJSON `json:"versions"` // versions 2, 3 and 4, in that order
}

// VersionStatsJSON is the rpcb_stat of one port mapper version (RFC 1833 §2.1).
type VersionStatsJSON struct {
	Version        uint32            `json:"version"`
	Procedures     []ProcStatJSON    `json:"procedures"`
	AddressLookups []AddrStatJSON    `json:"address_lookups"`
	RemoteCalls    []RmtCallStatJSON `json:"remote_calls"`
}

// ProcStatJSON counts the calls of one procedure. Success is present for
// SET, UNSET, GETPORT/GETADDR and CALLIT/BCAST: the successful SETs and
// UNSETs, and the sums of the successes of the address-lookup and remote-call
// lists. Calls is the procedure's own count: unlike rpcinfo -m, the GETADDR
// count of version 4 does not include GETADDRLIST's.
type ProcStatJSON struct {
	Procedure uint32 `json:"procedure"`
	Name      string `json:"name"`
	Calls     int32  `json:"calls"`
	Success   *int32 `json:"success,omitempty"`
}

// AddrStatJSON is one entry of the address-lookup statistics (rpcbs_addrlist).
type AddrStatJSON struct {
	Program uint32 `json:"program"`
	Service string `json:"service,omitempty"`
	Version uint32 `json:"version"`
	Netid   string `json:"netid"`
	Success int32  `json:"success"`
	Failure int32  `json:"failure"`
}

// RmtCallStatJSON is one entry of the remote-call statistics
// (rpcbs_rmtcalllist).
type RmtCallStatJSON struct {
	Program   uint32 `json:"program"`
	Service   string `json:"service,omitempty"`
	Version   uint32 `json:"version"`
	Procedure uint32 `json:"procedure"`
	Netid     string `json:"netid"`
	Success   int32  `json:"success"`
	Failure   int32  `json:"failure"`
	Indirect  int32  `json:"indirect"`
}

// PingDocument is the answer of rpcinfo -t, -u, -T and -a.
type PingDocument struct {
	Header
	Results []PingJSON `json:"results"`
}

// PingJSON is one ping: whether the program answered, and libtirpc's text of
// the failure when it did not.
type PingJSON struct {
	Program uint64 `json:"program"`
	Version uint64 `json:"version"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// BroadcastDocument is rpcinfo -b's answer: every reply, in arrival order.
type BroadcastDocument struct {
	Header
	Replies []ReplyJSON `json:"replies"`
}

// ReplyJSON is one broadcast reply.
type ReplyJSON struct {
	Address string `json:"address"`
	Host    string `json:"host"`
}

func (p *Printer) header(kind string) Header {
	return Header{Schema: Schema, Kind: kind, Host: p.opts.Host}
}

// encode writes v as indented JSON and a newline, or on one line under
// Options.Lines.
func (p *Printer) encode(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetEscapeHTML(false)
	if !p.opts.Lines {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

func (p *Printer) jsonMappings(list []portmap.Mapping) error {
	doc := MappingsDocument{Header: p.header(KindMappings), Mappings: make([]MappingJSON, 0, len(list))}
	for _, m := range list {
		name, _ := p.name(m.Prog)
		doc.Mappings = append(doc.Mappings, MappingJSON{
			Program: m.Prog, Version: m.Vers, Prot: m.Prot, Protocol: portmap.ProtName(m.Prot),
			Port: m.Port, Service: name,
		})
	}
	return p.encode(doc)
}

func (p *Printer) jsonRegistrations(list []portmap.RPCB) error {
	doc := RegistrationsDocument{Header: p.header(KindRegistrations), Registrations: make([]RegistrationJSON, 0, len(list))}
	for _, r := range list {
		name, _ := p.name(r.Prog)
		doc.Registrations = append(doc.Registrations, RegistrationJSON{
			Program: r.Prog, Version: r.Vers, Netid: r.Netid, Address: r.Addr, Service: name, Owner: r.Owner,
		})
	}
	return p.encode(doc)
}

func (p *Printer) jsonSummary(list []portmap.RPCB) error {
	sum := Summarize(list)
	doc := SummaryDocument{Header: p.header(KindSummary), Programs: make([]ProgramJSON, 0, len(sum))}
	for _, s := range sum {
		name, _ := p.name(s.Prog)
		doc.Programs = append(doc.Programs, ProgramJSON{
			Program: s.Prog, Versions: s.Versions, Netids: s.Netids, Service: name, Owner: s.Owner,
		})
	}
	return p.encode(doc)
}

func (p *Printer) jsonAddresses(prog, vers uint32, list []portmap.Entry) error {
	name, _ := p.name(prog)
	doc := AddressesDocument{Header: p.header(KindAddresses), Program: prog, Version: vers, Service: name,
		Entries: make([]EntryJSON, 0, len(list))}
	for _, e := range list {
		doc.Entries = append(doc.Entries, EntryJSON{
			Address: e.Maddr, Netid: e.Netid, Family: e.Protofmly, Protocol: e.Proto,
			Semantics: portmap.SemanticsName(e.Semantics),
		})
	}
	return p.encode(doc)
}

func (p *Printer) jsonStats(st *portmap.StatByVers) error {
	doc := StatisticsDocument{Header: p.header(KindStatistics)}
	for i := range st {
		doc.Versions = append(doc.Versions, p.versionStats(uint32(portmap.V2+i), &st[i]))
	}
	return p.encode(doc)
}

// versionStats turns one rpcb_stat into its JSON form.
func (p *Printer) versionStats(vers uint32, st *portmap.Stat) VersionStatsJSON {
	names, n := rpcbProcNames, procsV3
	switch vers {
	case portmap.V2:
		names, n = pmapProcNames, procsV2
	case portmap.V4:
		n = procsV4
	}
	v := VersionStatsJSON{
		Version:        vers,
		Procedures:     make([]ProcStatJSON, 0, n),
		AddressLookups: make([]AddrStatJSON, 0, len(st.AddrInfo)),
		RemoteCalls:    make([]RmtCallStatJSON, 0, len(st.RmtInfo)),
	}
	for i := 0; i < n; i++ {
		ps := ProcStatJSON{Procedure: uint32(i), Name: names[i], Calls: st.Info[i]}
		var ok int32
		switch i {
		case portmap.PmapSet:
			ok = st.SetInfo
		case portmap.PmapUnset:
			ok = st.UnsetInfo
		case portmap.PmapGetport:
			ok = addrSuccess(st)
		case portmap.PmapCallit:
			ok = rmtSuccess(st)
		}
		switch i {
		case portmap.PmapSet, portmap.PmapUnset, portmap.PmapGetport, portmap.PmapCallit:
			ps.Success = &ok
		}
		v.Procedures = append(v.Procedures, ps)
	}
	for _, a := range st.AddrInfo {
		name, _ := p.name(a.Prog)
		v.AddressLookups = append(v.AddressLookups, AddrStatJSON{
			Program: a.Prog, Service: name, Version: a.Vers, Netid: a.Netid, Success: a.Success, Failure: a.Failure,
		})
	}
	for _, r := range st.RmtInfo {
		name, _ := p.name(r.Prog)
		v.RemoteCalls = append(v.RemoteCalls, RmtCallStatJSON{
			Program: r.Prog, Service: name, Version: r.Vers, Procedure: r.Proc, Netid: r.Netid,
			Success: r.Success, Failure: r.Failure, Indirect: r.Indirect,
		})
	}
	return v
}

func (p *Printer) jsonPings(list []Ping) error {
	doc := PingDocument{Header: p.header(KindPing), Results: make([]PingJSON, 0, len(list))}
	for _, r := range list {
		doc.Results = append(doc.Results, PingJSON{Program: r.Prog, Version: r.Vers, OK: r.OK(), Error: r.Err})
	}
	return p.encode(doc)
}

func (p *Printer) jsonReplies(list []Reply) error {
	doc := BroadcastDocument{Header: p.header(KindBroadcast), Replies: make([]ReplyJSON, 0, len(list))}
	for _, r := range list {
		doc.Replies = append(doc.Replies, ReplyJSON{Address: r.Addr, Host: r.Host})
	}
	return p.encode(doc)
}
