// Package regfile reads and writes the registration files of pmapdump and
// pmapset: lists of port mapper registrations that survive a port mapper
// restart, travel to another host, or are written by hand.
//
// Three forms are defined; docs/pmapdump.md gives their full grammar.
//
//   - The classic form is portmap's pmap_dump output, one portmap v2 mapping
//     (RFC 1833 §3.1) per line, printed as "%10u %4u %5s %6u  %s": program,
//     version, protocol ("tcp", "udp" or a number), port and service name
//     (empty when unknown). [AppendClassic] reproduces it byte for byte;
//     pmap_set's reader took the first four fields and ignored the rest, and
//     so does [Parse].
//   - The extended form carries rpcbind's v3/v4 registrations (RFC 1833 §2.1,
//     struct rpcb): program, version, netid, universal address (RFC 5665) and
//     owner, then the service name. A field holding a space, a control byte, a
//     quote, a backslash or nothing at all is written as a quoted string with
//     backslash escapes, so every registration a mapper can hold comes back
//     unchanged. Classic and extended lines may be mixed in one file, and '#'
//     starts a comment line.
//   - The JSON form is one document with a versioned "schema" field, in the
//     style of rpcinfo's JSON output ([Schema]); [Parse] also accepts
//     rpcinfo's own "mappings" and "registrations" documents.
//
// [Parse] tells the forms apart by the first byte that is not white space
// ('{' starts a JSON document), reads the whole input before returning, and
// never holds more than bounded memory: a line is at most [MaxLineLen] bytes
// (the rest of a longer one is skipped, not stored), the input at most
// [MaxInputSize] bytes and [MaxEntries] entries. Every malformed line is
// reported with its number and content in a [*ParseError], up to [MaxErrors]
// of them.
//
// The package does no network I/O.
package regfile
