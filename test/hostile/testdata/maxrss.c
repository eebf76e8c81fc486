/*
 * maxrss FILE COMMAND [ARG...]: runs COMMAND, writes its peak resident memory
 * in kilobytes (ru_maxrss of wait4) to FILE, and exits as COMMAND did (128 +
 * the signal's number when a signal ended it).
 *
 * The test cannot read ru_maxrss of a tool it starts itself: Go starts
 * children with vfork, and Linux counts the parent's peak memory, which the
 * child shares until exec, into the child's ru_maxrss. This small program
 * forks for real, so its child's figure starts from this program's own
 * memory, well under a megabyte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: maxrss FILE COMMAND [ARG...]\n");
		return 125;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("maxrss: fork");
		return 125;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("maxrss: exec");
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("maxrss: wait4");
		return 125;
	}
	FILE *f = fopen(argv[1], "w");
	if (f == NULL || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0) {
		perror("maxrss: writing the figure");
		return 125;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
