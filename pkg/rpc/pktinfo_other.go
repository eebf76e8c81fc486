//go:build !linux

package rpc

import "net"

// fastPktinfo is false outside Linux: golang.org/x/net's packet connections
// read and write the control messages (see pktinfo_linux.go).
const fastPktinfo = false

var pktinfoSpace = 0

func parsePktinfo([]byte) (net.IP, int, bool) { return nil, 0, false }

func appendPktinfo(oob []byte, _ net.IP, _ int) []byte { return oob }

type pktinfoBuf [8]uint64

func (b *pktinfoBuf) bytes() []byte { return nil }
