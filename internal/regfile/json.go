package regfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Schema names the JSON schema pmapdump writes, recorded in every document's
// "schema" field. Adding a field keeps the name; renaming or removing one, or
// changing its meaning, makes a new version. Readers ignore fields they do not
// know.
const Schema = "pmap.pmapdump/v1"

// RpcinfoSchema is the schema of rpcinfo's JSON output, whose "mappings" (-p)
// and "registrations" (default listing) documents have the same shape as
// pmapdump's; Parse accepts them too.
const RpcinfoSchema = "pmap.rpcinfo/v1"

// Kinds of JSON document, the value of their "kind" field.
const (
	KindMappings      = "mappings"      // portmap v2 mappings, from a v2 DUMP
	KindRegistrations = "registrations" // rpcbind registrations, from a v3/v4 DUMP
)

// MappingsDocument is a list of portmap v2 mappings.
type MappingsDocument struct {
	Schema   string        `json:"schema"` // Schema
	Kind     string        `json:"kind"`   // KindMappings
	Host     string        `json:"host"`   // the host asked; "" for the local mapper
	Mappings []MappingJSON `json:"mappings"`
}

// MappingJSON is one portmap v2 mapping (RFC 1833 §3.1, struct mapping).
type MappingJSON struct {
	Program  uint32 `json:"program"`
	Version  uint32 `json:"version"`
	Prot     uint32 `json:"prot"`     // IP protocol number: 6 tcp, 17 udp
	Protocol string `json:"protocol"` // "tcp", "udp", or the number in decimal
	Port     uint32 `json:"port"`
	Service  string `json:"service,omitempty"` // name from /etc/rpc, absent if unknown
}

// RegistrationsDocument is a list of rpcbind registrations.
type RegistrationsDocument struct {
	Schema        string             `json:"schema"` // Schema
	Kind          string             `json:"kind"`   // KindRegistrations
	Host          string             `json:"host"`   // the host asked; "" for the local mapper
	Registrations []RegistrationJSON `json:"registrations"`
}

// RegistrationJSON is one rpcbind registration (RFC 1833 §2.1, struct rpcb).
type RegistrationJSON struct {
	Program uint32 `json:"program"`
	Version uint32 `json:"version"`
	Netid   string `json:"netid"`
	Address string `json:"address"` // universal address (RFC 5665)
	Service string `json:"service,omitempty"`
	Owner   string `json:"owner"`
}

// WriteJSON writes entries as one JSON document of the given kind
// (KindMappings, whose entries must all be mappings, or KindRegistrations,
// whose entries must all be rpcbind registrations) for host ("" for the local
// mapper), indented, ending in a newline. JSON strings hold UTF-8 text: a
// byte that is not UTF-8 is written as U+FFFD, so the text forms are the ones
// to use for registries holding such bytes.
func WriteJSON(w io.Writer, kind, host string, entries []Entry) error {
	var doc any
	switch kind {
	case KindMappings:
		l := make([]MappingJSON, 0, len(entries))
		for _, e := range entries {
			if !e.IsMapping() {
				return fmt.Errorf("regfile: a %s document cannot hold the rpcbind entry %q", kind, e.String())
			}
			l = append(l, MappingJSON{e.Prog, e.Vers, e.Prot, portmap.ProtName(e.Prot), e.Port, e.Name})
		}
		doc = MappingsDocument{Schema, kind, host, l}
	case KindRegistrations:
		l := make([]RegistrationJSON, 0, len(entries))
		for _, e := range entries {
			if e.IsMapping() {
				return fmt.Errorf("regfile: a %s document cannot hold the mapping %q", kind, e.String())
			}
			l = append(l, RegistrationJSON{e.Prog, e.Vers, e.Netid, e.Addr, e.Name, e.Owner})
		}
		doc = RegistrationsDocument{Schema, kind, host, l}
	default:
		return fmt.Errorf("regfile: unknown JSON document kind %q", kind)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// mappingIn and registrationIn are entries as read, with pointers to tell a
// missing field from a zero.
type mappingIn struct {
	Program  *uint32 `json:"program"`
	Version  *uint32 `json:"version"`
	Prot     *uint32 `json:"prot"`
	Protocol *string `json:"protocol"`
	Port     *uint32 `json:"port"`
	Service  string  `json:"service"`
}

type registrationIn struct {
	Program *uint32 `json:"program"`
	Version *uint32 `json:"version"`
	Netid   *string `json:"netid"`
	Address *string `json:"address"`
	Service string  `json:"service"`
	Owner   string  `json:"owner"`
}

// jsonParser reads one JSON document held in data.
type jsonParser struct {
	data []byte
	dec  *json.Decoder
	c    collector
}

// errStop ends parsing once the collector has had enough.
var errStop = errors.New("regfile: stop")

// parseJSON reads a JSON document of at most MaxInputSize bytes.
func parseJSON(br *bufio.Reader) ([]Entry, error) {
	data, err := io.ReadAll(io.LimitReader(br, MaxInputSize+1))
	if err != nil {
		return nil, fmt.Errorf("regfile: reading the JSON document: %w", err)
	}
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	if len(data) > MaxInputSize {
		p.c.perr.Stopped = fmt.Sprintf("JSON document longer than %d bytes", MaxInputSize)
		return p.c.result()
	}
	_ = p.document() // every failure is recorded in p.c
	return p.c.result()
}

// lineAt returns the 1-based line of offset off, after skipping white space
// and commas (or of the last byte that is not, at the end of the data), and
// the text of that line.
func (p *jsonParser) lineAt(off int64) (int, []byte) {
	d := p.data
	for off < int64(len(d)) && (isSpace(rune(d[off])) || d[off] == ',') {
		off++
	}
	if off >= int64(len(d)) { // at the end: show the last line with text
		off = int64(len(bytes.TrimRight(d, " \t\r\n,")))
		if off > 0 {
			off--
		}
	}
	n := 1 + bytes.Count(d[:off], []byte{'\n'})
	start := bytes.LastIndexByte(d[:off], '\n') + 1
	end := bytes.IndexByte(d[start:], '\n')
	if end < 0 {
		end = len(d) - start
	}
	return n, bytes.TrimRight(d[start:start+end], "\r")
}

// failAt records a malformed entry at offset off; it returns errStop when
// parsing must end.
func (p *jsonParser) failAt(off int64, reason string) error {
	n, text := p.lineAt(off)
	if !p.c.fail(n, text, reason) {
		return errStop
	}
	return nil
}

// fatal records err, after which the document cannot be read further, at the
// offset where it happened, and returns errStop.
func (p *jsonParser) fatal(err error) error {
	off := p.dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	p.failAt(off, jsonReason(err))
	return errStop
}

// fatalReason records reason at the decoder's offset and returns errStop.
func (p *jsonParser) fatalReason(reason string) error {
	p.failAt(p.dec.InputOffset(), reason)
	return errStop
}

// jsonReason turns a decoding error into a reason for a SyntaxError.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "bad JSON: " + se.Error()
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("bad JSON value for %q: %s cannot be a %s", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("bad JSON value: %s cannot be a %s", te.Value, te.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "JSON document ends early"
	}
	return "bad JSON: " + err.Error()
}

// document reads the top-level object.
func (p *jsonParser) document() error {
	if err := p.delim('{'); err != nil {
		return err
	}
	var schema, kind string
	var schemaOff int64
	var list string // the key of the list read, if any
	var listOff int64
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return p.fatal(err)
		}
		key, _ := tok.(string)
		off := p.dec.InputOffset()
		switch key {
		case "schema", "kind":
			var s string
			if err := p.dec.Decode(&s); err != nil {
				return p.fatal(err)
			}
			if key == "schema" {
				schema, schemaOff = s, off
			} else {
				kind = s
			}
		case KindMappings, KindRegistrations:
			if list != "" {
				return p.fatalReason(fmt.Sprintf("a document holds one list; %q follows %q", key, list))
			}
			list, listOff = key, off
			if err := p.list(key); err != nil {
				return err
			}
		default:
			var skip json.RawMessage
			if err := p.dec.Decode(&skip); err != nil {
				return p.fatal(err)
			}
		}
	}
	if err := p.delim('}'); err != nil {
		return err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return p.fatalReason("data after the JSON document")
	}
	switch {
	case schema == "":
		return p.failAt(0, fmt.Sprintf("no \"schema\" field (want %q)", Schema))
	case schema != Schema && schema != RpcinfoSchema:
		return p.failAt(schemaOff, fmt.Sprintf("unknown schema %q (want %q)", schema, Schema))
	case list == "":
		return p.failAt(0, `no "mappings" or "registrations" list`)
	case kind != list:
		return p.failAt(listOff, fmt.Sprintf("kind %q holds no %q list", kind, list))
	}
	return nil
}

// delim reads the delimiter want.
func (p *jsonParser) delim(want json.Delim) error {
	tok, err := p.dec.Token()
	if err != nil {
		return p.fatal(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return p.fatalReason(fmt.Sprintf("bad JSON: want %q, found %v", want, tok))
	}
	return nil
}

// list reads the array of entries of kind key.
func (p *jsonParser) list(key string) error {
	if err := p.delim('['); err != nil {
		return err
	}
	for p.dec.More() {
		off := p.dec.InputOffset()
		var e Entry
		var reason string
		if key == KindMappings {
			var m mappingIn
			if err := p.dec.Decode(&m); err != nil {
				if !isTypeError(err) {
					return p.fatal(err)
				}
				reason = jsonReason(err)
			} else {
				e, reason = m.entry()
			}
		} else {
			var r registrationIn
			if err := p.dec.Decode(&r); err != nil {
				if !isTypeError(err) {
					return p.fatal(err)
				}
				reason = jsonReason(err)
			} else {
				e, reason = r.entry()
			}
		}
		if reason == "" {
			e.Line, _ = p.lineAt(off)
			reason = p.c.add(e)
		}
		if reason != "" {
			if err := p.failAt(off, reason); err != nil {
				return err
			}
		}
	}
	return p.delim(']')
}

// isTypeError reports whether err is a value of the wrong type, after which
// the decoder can go on with the next entry.
func isTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// entry checks a mapping as read and returns it, or the reason it is wrong.
func (m mappingIn) entry() (Entry, string) {
	switch {
	case m.Program == nil:
		return Entry{}, `no "program"`
	case m.Version == nil:
		return Entry{}, `no "version"`
	case m.Port == nil:
		return Entry{}, `no "port"`
	case m.Prot == nil && m.Protocol == nil:
		return Entry{}, `no "prot" or "protocol"`
	case *m.Port > 0xffff:
		return Entry{}, fmt.Sprintf("bad port %d (want 0 to 65535)", *m.Port)
	}
	e := Entry{Prog: *m.Program, Vers: *m.Version, Port: *m.Port, Name: cutName(m.Service)}
	if m.Protocol != nil {
		prot, ok := portmap.ParseProt(*m.Protocol)
		if !ok {
			return Entry{}, "unknown protocol " + strconv.Quote(*m.Protocol) + " (want tcp, udp or a number)"
		}
		if m.Prot != nil && *m.Prot != prot {
			return Entry{}, fmt.Sprintf("\"prot\" %d and \"protocol\" %q disagree", *m.Prot, *m.Protocol)
		}
		e.Prot = prot
	} else {
		e.Prot = *m.Prot
	}
	return e, ""
}

// entry checks a registration as read and returns it, or the reason it is
// wrong.
func (r registrationIn) entry() (Entry, string) {
	switch {
	case r.Program == nil:
		return Entry{}, `no "program"`
	case r.Version == nil:
		return Entry{}, `no "version"`
	case r.Netid == nil:
		return Entry{}, `no "netid"`
	case r.Address == nil:
		return Entry{}, `no "address"`
	}
	e := Entry{Prog: *r.Program, Vers: *r.Version, Netid: *r.Netid, Addr: *r.Address, Owner: r.Owner, Name: cutName(r.Service)}
	if reason := checkRPCB(e); reason != "" {
		return Entry{}, reason
	}
	return e, ""
}
