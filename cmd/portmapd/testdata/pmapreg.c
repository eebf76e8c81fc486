/*
 * pmapreg: registers and unregisters with the local port mapper through
 * libtirpc's own calls, as RPC services do, for portmapd's interop tests.
 *
 *   pmapreg pmap_set PROG VERS tcp|udp PORT
 *   pmapreg pmap_unset PROG VERS
 *   pmapreg rpcb_set PROG VERS NETID UADDR
 *   pmapreg rpcb_unset PROG VERS NETID
 *
 * Commands follow one another on the command line. Each prints "ok" or
 * "failed"; the exit status is 1 if any failed.
 */
#include <rpc/rpc.h>
#include <netconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long num(const char *s)
{
	return strtoul(s, NULL, 10);
}

int main(int argc, char **argv)
{
	int status = 0;
	int i = 1;

	while (i < argc) {
		const char *op = argv[i];
		bool_t ok;

		if (strcmp(op, "pmap_set") == 0 && i + 4 < argc) {
			int prot = strcmp(argv[i + 3], "tcp") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
			ok = pmap_set(num(argv[i + 1]), num(argv[i + 2]), prot, (unsigned short)num(argv[i + 4]));
			i += 5;
		} else if (strcmp(op, "pmap_unset") == 0 && i + 2 < argc) {
			ok = pmap_unset(num(argv[i + 1]), num(argv[i + 2]));
			i += 3;
		} else if (strcmp(op, "rpcb_set") == 0 && i + 4 < argc) {
			struct netconfig *nconf = getnetconfigent(argv[i + 3]);
			struct netbuf *nb = nconf ? uaddr2taddr(nconf, argv[i + 4]) : NULL;
			ok = nb != NULL && rpcb_set(num(argv[i + 1]), num(argv[i + 2]), nconf, nb);
			i += 5;
		} else if (strcmp(op, "rpcb_unset") == 0 && i + 3 < argc) {
			struct netconfig *nconf = getnetconfigent(argv[i + 3]);
			ok = nconf != NULL && rpcb_unset(num(argv[i + 1]), num(argv[i + 2]), nconf);
			i += 4;
		} else {
			fprintf(stderr, "pmapreg: bad command at \"%s\"\n", op);
			return 2;
		}
		printf("%s %s\n", op, ok ? "ok" : "failed");
		if (!ok)
			status = 1;
	}
	return status;
}
