/*
 * pmapsetloop: the reference for "pmapset restoring 10,000 registrations"
 * (docs/performance.md): libtirpc's pmap_set called once per line, in file
 * order, as portmap's pmap_set did and as every libtirpc service registers.
 *
 *   pmapsetloop < FILE
 *
 * FILE holds pmap_dump lines: program, version, protocol (tcp, udp or a
 * number), port, and anything after them is ignored. Prints how many were
 * registered and how many failed; the exit status is 1 if any failed, 2 for
 * a line it cannot read.
 *
 * Built by bench/compare.sh with: cc -O2 -I/usr/include/tirpc pmapsetloop.c -ltirpc
 */
#include <rpc/rpc.h>
#include <rpc/pmap_clnt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char line[1024];
	unsigned long ok = 0, failed = 0, lineno = 0;

	while (fgets(line, sizeof line, stdin) != NULL) {
		unsigned long prog, vers, port;
		char proto[16];
		int prot;

		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, "%lu %lu %15s %lu", &prog, &vers, proto, &port) != 4 || port > 65535) {
			fprintf(stderr, "pmapsetloop: line %lu: cannot read \"%s\"\n", lineno, line);
			return 2;
		}
		if (strcmp(proto, "tcp") == 0)
			prot = IPPROTO_TCP;
		else if (strcmp(proto, "udp") == 0)
			prot = IPPROTO_UDP;
		else
			prot = atoi(proto);
		if (pmap_set(prog, vers, prot, (unsigned short)port))
			ok++;
		else
			failed++;
	}
	printf("%lu registered, %lu failed\n", ok, failed);
	return failed ? 1 : 0;
}
