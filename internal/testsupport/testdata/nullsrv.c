/* nullsrv PROG VERS: a libtirpc UDP service that registers itself with the
 * local rpcbind (replacing any earlier registration) and answers NULL. */
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>

static void dispatch(struct svc_req *rq, SVCXPRT *xprt)
{
	if (rq->rq_proc == NULLPROC) {
		svc_sendreply(xprt, (xdrproc_t)xdr_void, NULL);
		return;
	}
	svcerr_noproc(xprt);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: nullsrv PROG VERS\n");
		return 2;
	}
	rpcprog_t prog = strtoul(argv[1], NULL, 0);
	rpcvers_t vers = strtoul(argv[2], NULL, 0);
	rpcb_unset(prog, vers, NULL);
	if (!svc_create(dispatch, prog, vers, "udp")) {
		fprintf(stderr, "nullsrv: svc_create failed\n");
		return 1;
	}
	svc_run();
	return 1;
}
