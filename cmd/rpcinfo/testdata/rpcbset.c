/* rpcbset: registers with the local rpcbind through libtirpc, as the user
 * it runs as (rpcbind records that user as the owner). Lines on stdin:
 *   2 PROG VERS tcp|udp PORT        portmap version 2 SET (pmap_set)
 *   3 PROG VERS NETID UADDR         rpcbind SET (rpcb_set)
 * A line that fails is printed on stdout, and the exit status is 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rpc/rpc.h>
#include <rpc/pmap_clnt.h>

int main(void)
{
	char kind[8], a[4096], b[4096];
	unsigned long prog, vers;
	char line[8192];
	int rc = 0;

	while (fgets(line, sizeof line, stdin)) {
		if (sscanf(line, "%7s %lu %lu %4095s %4095s", kind, &prog, &vers, a, b) != 5)
			continue;
		if (kind[0] == '2') {
			int prot = strcmp(a, "tcp") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
			if (!pmap_set(prog, vers, prot, (unsigned short)atoi(b))) {
				printf("failed: %s", line);
				rc = 1;
			}
		} else {
			struct netconfig *nc = getnetconfigent(a);
			struct netbuf *nb = nc ? uaddr2taddr(nc, b) : NULL;
			if (!nb || !rpcb_set(prog, vers, nc, nb)) {
				printf("failed: %s", line);
				rc = 1;
			}
		}
	}
	return rc;
}
