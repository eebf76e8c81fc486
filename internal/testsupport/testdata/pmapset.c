/* pmapset PROG VERS tcp|udp PORT: registers a mapping with libtirpc's
 * pmap_set, which talks to rpcbind over its local socket, so the registration
 * is owned by the caller's uid. Exit 0 if rpcbind said yes. */
#include <rpc/rpc.h>
#include <rpc/pmap_clnt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: pmapset PROG VERS tcp|udp PORT\n");
		return 2;
	}
	unsigned long prog = strtoul(argv[1], NULL, 0);
	unsigned long vers = strtoul(argv[2], NULL, 0);
	int proto = strcmp(argv[3], "tcp") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	unsigned short port = (unsigned short)strtoul(argv[4], NULL, 0);
	if (!pmap_set(prog, vers, proto, port)) {
		fprintf(stderr, "pmapset: pmap_set refused\n");
		return 1;
	}
	return 0;
}
