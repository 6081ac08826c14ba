/*
 * k8s-pause.c: a stand-in for Kubernetes' pause container, for bench/run.py.
 *
 * Written for this benchmark from the behaviour of Kubernetes'
 * build/pause/linux/pause.c (it is not that file): the real image's program is
 * glibc-free and static, and so is this one when built with `musl-gcc -Os -static`.
 *
 *   - any argument equal to "-v" (case-insensitive): print a version line, exit 0;
 *   - not PID 1: warn on stderr, carry on (pause is also used outside pods);
 *   - SIGINT, SIGTERM: report the signal on stderr, exit 0;
 *   - SIGCHLD (not for stopped children): reap every exited child, never block;
 *   - otherwise sleep in pause() forever.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef K8S_PAUSE_VERSION
#define K8S_PAUSE_VERSION "bench"
#endif

static void on_shutdown(int sig)
{
	psignal(sig, "Shutting down, got signal");
	exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	for (;;) {
		if (waitpid(-1, NULL, WNOHANG) <= 0)
			break;
	}
}

static int handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa = {0};

	sa.sa_handler = fn;
	sa.sa_flags = flags;
	return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcasecmp(argv[i], "-v") == 0) {
			printf("k8s-pause.c %s\n", K8S_PAUSE_VERSION);
			return 0;
		}
	}

	if (getpid() != 1)
		fputs("Warning: pause should be the first process\n", stderr);

	/* Same failure codes as the original: 1, 2, 3 for the three handlers. */
	if (handle(SIGINT, on_shutdown, 0) != 0)
		return 1;
	if (handle(SIGTERM, on_shutdown, 0) != 0)
		return 2;
	if (handle(SIGCHLD, on_child, SA_NOCLDSTOP) != 0)
		return 3;

	for (;;)
		pause();
}
