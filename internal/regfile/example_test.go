package regfile_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

func ExampleParse() {
	in := "    100003    3   tcp   2049  nfs\n" +
		"    100003    4  tcp6 ::.8.1                  superuser  nfs\n"
	entries, err := regfile.Parse(strings.NewReader(in))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range entries {
		if e.IsMapping() {
			fmt.Printf("line %d: v2 SET %+v\n", e.Line, e.Mapping())
		} else {
			fmt.Printf("line %d: rpcbind SET %+v\n", e.Line, e.RPCB())
		}
	}
	// Output:
	// line 1: v2 SET {Prog:100003 Vers:3 Prot:6 Port:2049}
	// line 2: rpcbind SET {Prog:100003 Vers:4 Netid:tcp6 Addr:::.8.1 Owner:superuser}
}

func ExampleParse_malformed() {
	_, err := regfile.Parse(strings.NewReader("100003 3 tcp 2049\n100003 3 sctp 2049\n"))
	fmt.Println(err)
	// Output:
	// regfile: line 2: unknown protocol "sctp" (want tcp, udp or a number): "100003 3 sctp 2049"
}

func ExampleAppendClassic() {
	os.Stdout.Write(regfile.AppendClassic(nil, portmap.Mapping{Prog: 100005, Vers: 3, Prot: portmap.IPProtoUDP, Port: 644}, "mountd"))
	// Output:
	//     100005    3   udp    644  mountd
}

func ExampleAppendExtended() {
	os.Stdout.WriteString(regfile.ExtendedHeader)
	os.Stdout.Write(regfile.AppendExtended(nil, portmap.RPCB{Prog: 100000, Vers: 4, Netid: "local", Addr: "/run/rpcbind.sock", Owner: "superuser"}, "portmapper"))
	// Output:
	// #  program vers netid address                 owner      service
	//     100000    4 local /run/rpcbind.sock       superuser  portmapper
}
