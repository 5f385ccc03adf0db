/*
 * tug-init COMMAND [ARG...]: the minimal init `--init` puts in a container as PID 1 (bind-mounted
 * at /sbin/docker-init, as Docker mounts its own). It runs COMMAND as its one child, passes it
 * every signal it gets, reaps every process that ends (orphans are reparented to PID 1 and would
 * stay zombies under a command that never waits), and exits as the child did: its exit code, or
 * 128 + the signal that ended it.
 *
 * Built statically: a container's root need not have a C library.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int first = 1;
	if (argc > 1 && !strcmp(argv[1], "--"))
		first = 2;
	if (first >= argc) {
		fprintf(stderr, "usage: tug-init [--] COMMAND [ARG...]\n");
		return 2;
	}
	/* Not PID 1 (a pid namespace shared with another process): orphans still come here. */
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

	sigset_t all, old;
	sigfillset(&all);
	/* Faults stay deliverable: they are this process's own. */
	for (int sig = 0, faults[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS }; sig < 7; sig++)
		sigdelset(&all, faults[sig]);
	sigprocmask(SIG_SETMASK, &all, &old);

	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "tug-init: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* Its own process group, in the terminal's foreground if there is one, as a shell's job. */
		setpgid(0, 0);
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(STDIN_FILENO, getpgrp());
		signal(SIGTTOU, SIG_DFL);
		execvp(argv[first], argv + first);
		int err = errno;
		fprintf(stderr, "tug-init: exec %s: %s\n", argv[first], strerror(err));
		_exit(err == ENOENT ? 127 : 126);
	}

	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&all, &info);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			/* The rest of the container goes when PID 1 does; nothing is left to wait for. */
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
	}
}
