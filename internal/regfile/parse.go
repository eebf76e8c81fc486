package regfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Limits of Parse. Each keeps the memory a hostile or broken input can make
// Parse hold bounded, far above what any real registry needs.
const (
	// MaxLineLen bounds a line of the text forms. The longest extended line
	// a mapper's limits allow, every byte of a 4096-byte address and a
	// 255-byte netid and owner escaped as \xHH, is about 18,500 bytes;
	// pmap_set read 8 KiB at a time. The rest of a longer line is read and
	// dropped, never stored.
	MaxLineLen = 32 << 10

	// MaxInputSize bounds the whole input: MaxEntries classic lines are
	// about 13 MiB and extended ones about 20 MiB, so 64 MiB leaves room for
	// comments and long names while a file of garbage stops early.
	MaxInputSize = 64 << 20

	// MaxEntries bounds the entries of one input: the most a port mapper's
	// DUMP can list (portmap.MaxListEntries), so every file pmapdump writes
	// reads back.
	MaxEntries = portmap.MaxListEntries

	// MaxErrors is how many malformed lines Parse reports before it stops
	// reading: enough to fix a hand-written file in one go, few enough that
	// a binary file does not flood the terminal.
	MaxErrors = 10

	// MaxNameLen bounds the service name kept for an entry; a longer one is
	// cut. Names in /etc/rpc are a few characters; the readers ignore them.
	MaxNameLen = 255

	// maxShown bounds how much of a malformed line an error quotes.
	maxShown = 80
)

// SyntaxError reports one malformed line of a registration file.
type SyntaxError struct {
	Line   int    // 1-based line number
	Text   string // the line as read, at most maxShown bytes of it
	Cut    bool   // Text is only the start of the line
	Reason string // what is wrong with it
}

// Error returns "line N: reason: "text"", the text quoted so that control
// bytes and binary data show as escapes.
func (e *SyntaxError) Error() string {
	q := strconv.QuoteToASCII(e.Text)
	if e.Cut {
		q += "..."
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Reason, q)
}

// ParseError is what Parse returns for an input with malformed lines: each of
// them, in input order, up to MaxErrors. Nothing of such an input should be
// acted upon.
type ParseError struct {
	Errs []*SyntaxError
	// Stopped says why Parse stopped reading before the end of the input
	// (too many errors, too large an input); "" if it read everything.
	Stopped string
}

// Error lists the malformed lines, one per line of text.
func (e *ParseError) Error() string {
	var sb strings.Builder
	for i, se := range e.Errs {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString("regfile: ")
		sb.WriteString(se.Error())
	}
	if e.Stopped != "" {
		if len(e.Errs) > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString("regfile: ")
		sb.WriteString(e.Stopped)
	}
	return sb.String()
}

// Parse reads a whole registration file: the classic or extended text form
// (mixed freely, with blank and '#' comment lines) or, when its first byte
// that is not white space is '{', a JSON document. It returns the entries in
// input order. An input with any malformed line gives a *ParseError and no
// entries; a failure of r gives an error wrapping r's.
//
// Two entries for the same slot (Entry.Key) with different addresses are an
// error too: a port mapper would refuse the second.
func Parse(r io.Reader) ([]Entry, error) {
	br := bufio.NewReaderSize(&stickyReader{r: r}, MaxLineLen+1)
	head, _ := br.Peek(MaxLineLen) // an error shows again on the next read
	if i := bytes.IndexFunc(head, func(r rune) bool { return !isSpace(r) }); i >= 0 && head[i] == '{' {
		return parseJSON(br)
	}
	return parseText(br)
}

// stickyReader repeats the first error of r on every later read, so that an
// error bufio's Peek consumes is not lost.
type stickyReader struct {
	r   io.Reader
	err error
}

// Read reads from the underlying reader until its first error, then
// returns that error.
func (s *stickyReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.err = err
	return n, err
}

// isSpace reports whether r is white space between tokens or lines.
func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// collector gathers the entries and errors of one input.
type collector struct {
	entries []Entry
	perr    ParseError
	slots   map[Key]int // index in entries of the first entry of each slot
}

// fail records a malformed line and reports whether parsing may go on.
func (c *collector) fail(line int, text []byte, reason string) bool {
	se := &SyntaxError{Line: line, Reason: reason}
	if len(text) > maxShown {
		text, se.Cut = text[:maxShown], true
	}
	se.Text = string(text)
	c.perr.Errs = append(c.perr.Errs, se)
	if len(c.perr.Errs) >= MaxErrors {
		c.perr.Stopped = fmt.Sprintf("stopped at line %d after %d errors", line, len(c.perr.Errs))
		return false
	}
	return true
}

// add records a well-formed entry, checking it against the entries before it.
// It returns a reason when the entry conflicts with one of them or is one
// too many.
func (c *collector) add(e Entry) string {
	if len(c.entries) >= MaxEntries {
		return fmt.Sprintf("more than %d entries", MaxEntries)
	}
	if c.slots == nil {
		c.slots = make(map[Key]int)
	}
	k := e.Key()
	if i, ok := c.slots[k]; ok {
		prev := c.entries[i]
		if prev.RPCB().Addr != e.RPCB().Addr {
			return fmt.Sprintf("program %d version %d %s already given another address at line %d", e.Prog, e.Vers, slotName(k), prev.Line)
		}
	} else {
		c.slots[k] = len(c.entries)
	}
	c.entries = append(c.entries, e)
	return ""
}

// slotName names a slot's transport in an error.
func slotName(k Key) string {
	if p, ok := strings.CutPrefix(k.Netid, "prot:"); ok {
		return "protocol " + p
	}
	return "netid " + strconv.Quote(k.Netid)
}

// result returns what Parse returns once the input has been read.
func (c *collector) result() ([]Entry, error) {
	if len(c.perr.Errs) > 0 || c.perr.Stopped != "" {
		perr := c.perr
		return nil, &perr
	}
	if c.entries == nil {
		return []Entry{}, nil
	}
	return c.entries, nil
}

// parseText reads the text forms line by line, holding at most one line of
// MaxLineLen bytes at a time.
func parseText(br *bufio.Reader) ([]Entry, error) {
	var c collector
	var total int64
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		total += int64(len(line))
		if errors.Is(err, bufio.ErrBufferFull) {
			// Keep what the error will show; read and drop the rest.
			shown := append([]byte(nil), line[:maxShown+1]...) // fail cuts it
			for errors.Is(err, bufio.ErrBufferFull) && total <= MaxInputSize {
				line, err = br.ReadSlice('\n')
				total += int64(len(line))
			}
			if !c.fail(n, shown, fmt.Sprintf("line longer than %d bytes", MaxLineLen)) {
				return c.result()
			}
		} else if len(line) > 0 && total <= MaxInputSize {
			if !c.parseLine(n, line) {
				return c.result()
			}
		}
		switch {
		case total > MaxInputSize:
			c.perr.Stopped = fmt.Sprintf("input longer than %d bytes: stopped reading at line %d", MaxInputSize, n)
			return c.result()
		case err == io.EOF:
			return c.result()
		case err != nil:
			return nil, fmt.Errorf("regfile: reading line %d: %w", n, err)
		}
	}
}

// parseLine parses line n (with its line end, if any) and reports whether
// parsing may go on.
func (c *collector) parseLine(n int, raw []byte) bool {
	line := raw
	if len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	}
	if reason := checkText(line); reason != "" {
		return c.fail(n, line, reason)
	}
	s := string(line)
	t := strings.TrimLeft(s, " \t")
	if t == "" || t[0] == '#' {
		return true
	}
	e, reason := parseEntry(t)
	if reason == "" {
		e.Line = n
		reason = c.add(e)
	}
	if reason != "" {
		return c.fail(n, line, reason)
	}
	return true
}

// checkText returns why line is not text, or "": it must be UTF-8 without
// control characters other than tab.
func checkText(line []byte) string {
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return fmt.Sprintf("binary data (byte 0x%02x at column %d)", c, i+1)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Sprintf("binary data (byte 0x%02x at column %d is not UTF-8)", c, i+1)
		}
		i += size
	}
	return ""
}

// fieldsHelp says what a line holds, for errors about missing fields.
const fieldsHelp = "want program, version, protocol and port, or program, version, netid, address and owner"

// parseEntry parses one data line, leading blanks removed. It returns the
// entry or the reason the line is malformed.
func parseEntry(s string) (Entry, string) {
	var f [5]string
	var quoted [5]bool
	rest := s
	nf := 0
	for ; nf < len(f); nf++ {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			break
		}
		var err string
		f[nf], quoted[nf], rest, err = nextField(rest)
		if err != "" {
			return Entry{}, err
		}
		if nf == 3 && !quoted[3] && isDigits(f[3]) {
			nf++ // a classic line: four fields and a name
			break
		}
	}
	var e Entry
	var ok bool
	if e.Prog, ok = parseUint32(f[0], quoted[0]); !ok && nf > 0 {
		return Entry{}, "bad program number " + strconv.Quote(f[0])
	}
	if e.Vers, ok = parseUint32(f[1], quoted[1]); !ok && nf > 1 {
		return Entry{}, "bad version number " + strconv.Quote(f[1])
	}
	if nf < 4 {
		return Entry{}, "too few fields (" + fieldsHelp + ")"
	}
	if nf == 4 && !quoted[3] && isDigits(f[3]) {
		// Classic: program version protocol port [name].
		if quoted[2] {
			return Entry{}, "unknown protocol " + strconv.Quote(f[2]) + " (want tcp, udp or a number)"
		}
		if e.Prot, ok = portmap.ParseProt(f[2]); !ok {
			return Entry{}, "unknown protocol " + strconv.Quote(f[2]) + " (want tcp, udp or a number)"
		}
		if e.Port, ok = parseUint32(f[3], false); !ok || e.Port > 0xffff {
			return Entry{}, "bad port " + strconv.Quote(f[3]) + " (want 0 to 65535)"
		}
		e.Name = cutName(rest)
		return e, ""
	}
	if nf < 5 {
		if isDigits(f[3]) || f[3] == "" {
			return Entry{}, "too few fields (" + fieldsHelp + ")"
		}
		return Entry{}, "too few fields: no owner (" + fieldsHelp + ")"
	}
	e.Netid, e.Addr, e.Owner = f[2], f[3], f[4]
	if reason := checkRPCB(e); reason != "" {
		return Entry{}, reason
	}
	e.Name = cutName(rest)
	return e, ""
}

// checkRPCB returns what is wrong with the rpcbind fields of e, or "".
func checkRPCB(e Entry) string {
	switch {
	case e.Netid == "":
		return "empty netid"
	case len(e.Netid) > portmap.MaxNetidLen:
		return fmt.Sprintf("netid longer than %d bytes", portmap.MaxNetidLen)
	case len(e.Owner) > portmap.MaxOwnerLen:
		return fmt.Sprintf("owner longer than %d bytes", portmap.MaxOwnerLen)
	case e.Addr == "":
		return "empty address"
	case len(e.Addr) > portmap.MaxUaddrLen:
		return fmt.Sprintf("address longer than %d bytes", portmap.MaxUaddrLen)
	}
	if _, known := portmap.LookupNetid(e.Netid); known {
		if err := portmap.CheckUaddr(e.Netid, e.Addr); err != nil {
			var ue *portmap.UaddrError
			if errors.As(err, &ue) {
				return fmt.Sprintf("bad %s address %q: %s", e.Netid, e.Addr, ue.Reason)
			}
			return fmt.Sprintf("bad %s address %q", e.Netid, e.Addr)
		}
	}
	return ""
}

// nextField reads one field from s, which starts with it: a bare run of
// non-blank bytes, or a quoted string. It returns the field's value, whether
// it was quoted, what follows it, or the reason it is malformed.
func nextField(s string) (val string, quoted bool, rest string, reason string) {
	if s[0] != '"' {
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			i = len(s)
		}
		tok := s[:i]
		if strings.ContainsAny(tok, `"\`) {
			return "", false, "", "quote or backslash inside the unquoted field " + strconv.Quote(tok)
		}
		return tok, false, s[i:], ""
	}
	var b []byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if i+1 < len(s) && !isBlank(s[i+1]) {
				return "", false, "", "no blank after the quoted field " + strconv.Quote(s[:i+1])
			}
			return string(b), true, s[i+1:], ""
		case c == '\\':
			if i+1 >= len(s) {
				return "", false, "", "unterminated quoted field"
			}
			i++
			switch s[i] {
			case '\\', '"':
				b = append(b, s[i])
			case 't':
				b = append(b, '\t')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 'x':
				if i+2 >= len(s) {
					return "", false, "", `bad escape \x in a quoted field`
				}
				v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return "", false, "", fmt.Sprintf(`bad escape \x%s in a quoted field`, s[i+1:i+3])
				}
				b = append(b, byte(v))
				i += 2
			default:
				return "", false, "", fmt.Sprintf(`bad escape \%c in a quoted field`, s[i])
			}
		case c < 0x20 || c >= 0x7f:
			return "", false, "", "byte outside printable ASCII in a quoted field (escape it)"
		default:
			b = append(b, c)
		}
	}
	return "", false, "", "unterminated quoted field"
}

// parseUint32 reads an unquoted decimal number from 0 to 4294967295.
func parseUint32(s string, quoted bool) (uint32, bool) {
	if quoted || !isDigits(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err == nil
}

// cutName returns the rest of a line as a service name: trimmed, and cut to
// MaxNameLen bytes on a character boundary.
func cutName(rest string) string {
	name := strings.Trim(rest, " \t")
	if len(name) > MaxNameLen {
		i := MaxNameLen
		for i > 0 && !utf8.RuneStart(name[i]) {
			i--
		}
		name = strings.TrimRight(name[:i], " \t")
	}
	return name
}
