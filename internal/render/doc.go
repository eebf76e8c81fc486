// Package render prints the port mapper's answers the way rpcinfo(8) does, or
// as a table or a JSON document.
//
// Three forms are offered, chosen by [Format]:
//
//   - [Classic] reproduces Debian's rpcinfo (rpcbind 1.2.6) byte for byte: its
//     headers, its printf column widths (a value wider than its column is
//     printed whole and pushes the rest of the line along), its unsigned and
//     signed conversions at the ends of the 32-bit range, the reverse
//     first-appearance order of rpcinfo -s, the tab-laid statistics of
//     rpcinfo -m, and "No remote programs registered." for an empty answer.
//     Strings are printed as C prints them: up to their first NUL byte.
//   - [Table] draws the same data with tablewriter, colored with fatih/color
//     when [Options.Color] is set.
//   - [JSON] writes one document per answer, following the versioned schema
//     named by [Schema] and documented in docs/json.md.
//
// A [Printer] writes to one io.Writer. Listings ([Printer.Mappings],
// [Printer.Registrations], [Printer.Summary], [Printer.Addresses],
// [Printer.Stats]) write their whole answer at once. Pings and broadcast
// replies arrive one at a time: the classic form prints each line as it comes,
// the table and JSON forms collect them until [Printer.FlushPings] or
// [Printer.FlushReplies].
//
// The reflection audit and program discovery ([Printer.Audit],
// [Printer.Discovery]) print the results of pkg/audit as they come, one
// host or target at a time; their JSON documents carry those results' own
// fields, documented in docs/security.md.
//
// The package does no network I/O; it knows nothing of hosts, transports or
// errors beyond the texts and results it is handed.
package render
