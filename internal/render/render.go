package render

import (
	"fmt"
	"io"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Format is one of the output forms.
type Format int

// The output forms.
const (
	Classic Format = iota // rpcinfo's own output, byte for byte
	Table                 // a drawn table, optionally colored
	JSON                  // a document of the schema named by Schema
)

var formatNames = [...]string{Classic: "classic", Table: "table", JSON: "json"}

// String returns the name ParseFormat accepts: "classic", "table" or "json".
func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// ParseFormat reads a format name: "classic", "table" or "json".
func ParseFormat(s string) (Format, error) {
	for f, n := range formatNames {
		if s == n {
			return Format(f), nil
		}
	}
	return 0, fmt.Errorf("render: unknown format %q (want classic, table or json)", s)
}

// Formats returns the names of every format, in the order of their values.
func Formats() []string { return append([]string(nil), formatNames[:]...) }

// Options configures a Printer.
type Options struct {
	// Format is the output form; the zero value is Classic.
	Format Format
	// Color turns on ANSI colors in the table form; the other forms ignore
	// it. The caller decides (a terminal, NO_COLOR, --color).
	Color bool
	// Names gives program names, as getrpcbynumber(3) does; nil knows none,
	// and the classic form then prints "-" or the number where rpcinfo does.
	Names *portmap.Names
	// Host is the host that was asked, recorded in JSON documents; "" for the
	// local mapper or where no host applies.
	Host string
	// Lines writes each JSON document on one line (JSON lines), as rpcinfo
	// does when it asks many hosts; the default indents them.
	Lines bool
}

// Ping is the outcome of one NULL call made by rpcinfo's -t, -u, -T or -a.
type Ping struct {
	// Prog and Vers are the numbers as rpcinfo reports them. They are the
	// values sent on the wire except where Debian's rpcinfo widens them: -t
	// and -u print a version given on the command line as a sign-extended
	// C long (4294967295 reads 18446744073709551615) and a program number as
	// given (99999999999 stays 99999999999 though 1215752191 is sent).
	Prog, Vers uint64
	// Err is libtirpc's text of the failure, such as "RPC: Program/version
	// mismatch; low version = 2, high version = 4"; "" when the program
	// answered.
	Err string
}

// OK reports whether the program answered.
func (p Ping) OK() bool { return p.Err == "" }

// Reply is one answer to rpcinfo -b's broadcast.
type Reply struct {
	Addr string // the responder's universal address, or "unknown"
	Host string // its host name, or its address when it has no name
}

// Printer writes answers in one format to one writer. It is not safe for
// concurrent use.
type Printer struct {
	w       io.Writer
	opts    Options
	pings   []Ping
	replies []Reply
	hosts   int // hosts begun by BeginHost
}

// New returns a Printer writing to w.
func New(w io.Writer, opts Options) *Printer {
	return &Printer{w: w, opts: opts}
}

// SetHost records the host that was asked, for the JSON documents printed
// from now on; "" for the local mapper or none.
func (p *Printer) SetHost(host string) { p.opts.Host = host }

// name returns the program's name from the options' table.
func (p *Printer) name(prog uint32) (string, bool) {
	return p.opts.Names.Name(prog)
}

// Mappings prints a portmap v2 DUMP, as rpcinfo -p does.
func (p *Printer) Mappings(list []portmap.Mapping) error {
	switch p.opts.Format {
	case Table:
		return p.tableMappings(list)
	case JSON:
		return p.jsonMappings(list)
	}
	return p.write(p.classicMappings(nil, list))
}

// Registrations prints an rpcbind DUMP, as rpcinfo with no option does.
func (p *Printer) Registrations(list []portmap.RPCB) error {
	switch p.opts.Format {
	case Table:
		return p.tableRegistrations(list)
	case JSON:
		return p.jsonRegistrations(list)
	}
	return p.write(p.classicRegistrations(nil, list))
}

// Summary prints an rpcbind DUMP grouped by program, as rpcinfo -s does.
func (p *Printer) Summary(list []portmap.RPCB) error {
	switch p.opts.Format {
	case Table:
		return p.tableSummary(list)
	case JSON:
		return p.jsonSummary(list)
	}
	return p.write(p.classicSummary(nil, list))
}

// Addresses prints an rpcbind v4 GETADDRLIST answer for (prog, vers), as
// rpcinfo -l does.
func (p *Printer) Addresses(prog, vers uint32, list []portmap.Entry) error {
	switch p.opts.Format {
	case Table:
		return p.tableAddresses(prog, vers, list)
	case JSON:
		return p.jsonAddresses(prog, vers, list)
	}
	return p.write(p.classicAddresses(nil, prog, vers, list))
}

// Stats prints an rpcbind v4 GETSTAT answer, as rpcinfo -m does.
func (p *Printer) Stats(st *portmap.StatByVers) error {
	switch p.opts.Format {
	case Table:
		return p.tableStats(st)
	case JSON:
		return p.jsonStats(st)
	}
	return p.write(p.classicStats(nil, st))
}

// Ping records one ping's outcome. The classic form prints its line at once
// (the cause of a failure is the caller's to print on standard error); the
// other forms print every ping at Flush.
func (p *Printer) Ping(r Ping) error {
	if p.opts.Format == Classic {
		return p.write(classicPing(nil, r))
	}
	p.pings = append(p.pings, r)
	return nil
}

// Reply records one broadcast reply. The classic form prints its line at
// once; the other forms print every reply at Flush.
func (p *Printer) Reply(r Reply) error {
	if p.opts.Format == Classic {
		return p.write(classicReply(nil, r))
	}
	p.replies = append(p.replies, r)
	return nil
}

// FlushPings prints the pings collected by Ping as one table or JSON
// document. The classic form has printed them already and prints nothing.
func (p *Printer) FlushPings() error {
	switch p.opts.Format {
	case Table:
		return p.tablePings(p.pings)
	case JSON:
		return p.jsonPings(p.pings)
	}
	return nil
}

// FlushReplies prints the broadcast replies collected by Reply as one table
// or JSON document, which may hold no reply. The classic form has printed
// them already and prints nothing.
func (p *Printer) FlushReplies() error {
	switch p.opts.Format {
	case Table:
		return p.tableReplies(p.replies)
	case JSON:
		return p.jsonReplies(p.replies)
	}
	return nil
}

// write writes b whole.
func (p *Printer) write(b []byte) error {
	_, err := p.w.Write(b)
	return err
}
