// Package xdr encodes and decodes the External Data Representation of RFC 4506,
// the wire format of ONC RPC and of the port mapper.
//
// Encoding appends to a caller's []byte (AppendUint32, AppendString, ...), so a
// message is built in one buffer with no intermediate allocation. Decoding reads
// a []byte from an offset through a [Decoder] whose error is sticky: a caller
// performs a run of typed reads and checks [Decoder.Err] once at the end.
//
// Every variable-length item (opaque, string, array, optional-data list) is
// checked against the bytes that remain and against a maximum given by the
// caller before anything is allocated or any loop runs, so a length of 4 GiB in
// a 40-byte input is an [Error] wrapping [ErrTooLong] or [ErrShort], never an
// allocation. Reads of fixed-size values allocate nothing.
//
// There is no reflection: each protocol type writes its own Append and Decode
// methods from these primitives.
package xdr
