package rpc

import (
	"net"
	"sync"
	"time"
)

// ifaceCacheTTL bounds how stale the interface table used to answer broadcast
// and multicast calls may be: an address added to an interface is used for
// replies within this long, and the table costs two netlink dumps per period
// at most, never one per datagram.
const ifaceCacheTTL = 5 * time.Second

// ifaceCache maps an interface index to its unicast addresses and, for IPv4,
// the directed broadcast addresses of its subnets.
type ifaceCache struct {
	mu      sync.Mutex
	fetched time.Time
	byIndex map[int]ifaceAddrs
}

type ifaceAddrs struct {
	unicast   []net.IP
	broadcast []net.IP
}

func (c *ifaceCache) get(index int) ifaceAddrs {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byIndex == nil || time.Since(c.fetched) > ifaceCacheTTL {
		c.byIndex = make(map[int]ifaceAddrs)
		c.fetched = time.Now()
		ifs, _ := net.Interfaces()
		for _, ifc := range ifs {
			addrs, _ := ifc.Addrs()
			var a ifaceAddrs
			for _, addr := range addrs {
				ipn, ok := addr.(*net.IPNet)
				if !ok {
					continue
				}
				a.unicast = append(a.unicast, ipn.IP)
				ones, bits := ipn.Mask.Size()
				if ip4 := ipn.IP.To4(); ip4 != nil && bits == 32 && ones <= 30 {
					b := make(net.IP, net.IPv4len)
					for i := range b {
						b[i] = ip4[i] | ^ipn.Mask[i]
					}
					a.broadcast = append(a.broadcast, b)
				}
			}
			c.byIndex[ifc.Index] = a
		}
	}
	return c.byIndex[index]
}

// unicast returns where a reply to a datagram that reached local should come
// from. A call sent to a broadcast or multicast address (rpcinfo -b, RFC 1833
// §2.2 BCAST) cannot be answered from that address: the reply would never
// arrive. It is answered from a unicast address of the interface it came in on,
// which is also the address the handler sees as reached.
func (pc *pktConn) unicast(local *pktLocal) *pktLocal {
	if local == nil || !pc.isBroadcast(local) {
		return local
	}
	want4 := local.ip.To4() != nil
	for _, ip := range pc.ifaces.get(local.ifIndex).unicast {
		if (ip.To4() != nil) == want4 && (want4 || ip.IsLinkLocalUnicast() == local.ip.IsLinkLocalMulticast()) {
			return &pktLocal{ip: ip, ifIndex: local.ifIndex}
		}
	}
	return nil // let routing choose the source
}

func (pc *pktConn) isBroadcast(local *pktLocal) bool {
	if local.ip.IsMulticast() || local.ip.Equal(net.IPv4bcast) {
		return true
	}
	ip4 := local.ip.To4()
	if ip4 == nil {
		return false
	}
	// A directed broadcast ends in a run of one bits; test the cheap sign
	// before consulting the interface table.
	if ip4[3]&1 == 0 {
		return false
	}
	for _, b := range pc.ifaces.get(local.ifIndex).broadcast {
		if b.Equal(ip4) {
			return true
		}
	}
	return false
}
