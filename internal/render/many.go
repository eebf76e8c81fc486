package render

// Output of a query of many hosts: each host's answer is printed by a
// Printer of its own (with Options.Lines in the JSON form) and labelled by
// the Printer of the whole output.

// BeginHost starts the answer of one host of a query of many. The classic
// and table forms print "HOST:" on a line of its own, after a blank line
// from the second host on, as ls(1) labels the listings of several
// directories; the JSON form prints nothing, since every document names its
// host.
func (p *Printer) BeginHost(host string) error {
	if p.opts.Format == JSON {
		return nil
	}
	b := make([]byte, 0, len(host)+3)
	if p.hosts > 0 {
		b = append(b, '\n')
	}
	p.hosts++
	b = append(b, cstr(host)...)
	b = append(b, ":\n"...)
	return p.write(b)
}

// ErrorDocument stands for a host of many that could not be asked, so that
// the JSON lines of a query have one line per host named.
type ErrorDocument struct {
	Header
	// Error is what rpcinfo printed on standard error for the host, in
	// rpcinfo's words.
	Error string `json:"error"`
}

// Failure records that the host set by SetHost could not be asked: the
// JSON form prints an ErrorDocument holding msg; the other forms print
// nothing (the caller prints msg on standard error).
func (p *Printer) Failure(msg string) error {
	if p.opts.Format != JSON {
		return nil
	}
	return p.encode(ErrorDocument{Header: p.header(KindError), Error: msg})
}
