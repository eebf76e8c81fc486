package portmap

import "github.com/portmap-toolkit/pmap/pkg/xdr"

// The port mapper's lists (pmaplist, rpcblist, rpcb_entry_list, RFC 1833 §2.1
// and §3.1) are linked lists on the wire: optional data (RFC 4506 §4.19), a
// TRUE before each element and a FALSE after the last. The functions here
// encode a slice that way and decode such a list by appending to a caller's
// slice, so a caller that keeps its slice between calls reuses its storage.
//
// A decoder reads at most max entries and fails with an [xdr.Error] wrapping
// [xdr.ErrTooLong] at the first entry beyond it; pass [MaxListEntries] unless
// the caller knows better. On error the entries read so far are returned, and
// d.Err reports the failure.

// AppendMappingList appends l as a pmaplist (RFC 1833 §3.1), the result of
// portmap v2 DUMP.
func AppendMappingList(b []byte, l []Mapping) []byte {
	for _, m := range l {
		b = m.Append(xdr.AppendBool(b, true))
	}
	return xdr.AppendBool(b, false)
}

// DecodeMappingList reads a pmaplist (RFC 1833 §3.1) of at most max entries from
// d and appends its entries to dst. It allocates nothing but dst's growth.
func DecodeMappingList(d *xdr.Decoder, dst []Mapping, max int) []Mapping {
	for n := 0; d.ListNext(n, max); n++ {
		var m Mapping
		m.Decode(d)
		if d.Err() != nil {
			break
		}
		dst = append(dst, m)
	}
	return dst
}

// AppendRPCBList appends l as an rpcblist (RFC 1833 §2.1, rp__list), the
// result of rpcbind v3/v4 DUMP.
func AppendRPCBList(b []byte, l []RPCB) []byte {
	for _, r := range l {
		b = r.Append(xdr.AppendBool(b, true))
	}
	return xdr.AppendBool(b, false)
}

// DecodeRPCBList reads an rpcblist (RFC 1833 §2.1) of at most max entries from
// d and appends its entries to dst.
func DecodeRPCBList(d *xdr.Decoder, dst []RPCB, max int) []RPCB {
	for n := 0; d.ListNext(n, max); n++ {
		var r RPCB
		r.Decode(d)
		if d.Err() != nil {
			break
		}
		dst = append(dst, r)
	}
	return dst
}

// AppendEntryList appends l as an rpcb_entry_list (RFC 1833 §2.1), the result
// of rpcbind v4 GETADDRLIST.
func AppendEntryList(b []byte, l []Entry) []byte {
	for _, e := range l {
		b = e.Append(xdr.AppendBool(b, true))
	}
	return xdr.AppendBool(b, false)
}

// DecodeEntryList reads an rpcb_entry_list (RFC 1833 §2.1) of at most max
// entries from d and appends its entries to dst.
func DecodeEntryList(d *xdr.Decoder, dst []Entry, max int) []Entry {
	for n := 0; d.ListNext(n, max); n++ {
		var e Entry
		e.Decode(d)
		if d.Err() != nil {
			break
		}
		dst = append(dst, e)
	}
	return dst
}
