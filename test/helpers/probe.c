/*
 * probe ACTION [ARG]: makes one system call a container should or should not be allowed, and
 * prints "ok" or the errno's name, so that tests see what the kernel (seccomp, capabilities,
 * mounts) decided rather than what a tool made of it. Built statically by the tests
 * (test/helpers/probe.ts) and bind-mounted into containers.
 *
 *   mount TARGET        mount a tmpfs on TARGET
 *   finit_module        load a module from /dev/null
 *   kexec_load          kexec_load with no segments
 *   unshare_user        unshare(CLONE_NEWUSER)
 *   clone_newuser       clone(CLONE_NEWUSER | SIGCHLD) (the child exits at once)
 *   keyctl              keyctl(KEYCTL_GET_KEYRING_ID, session keyring)
 *   add_key             add_key("user", ...)
 *   bpf                 bpf(BPF_MAP_CREATE) of a small array
 *   perf_event_open     a software clock counter on this process
 *   ptrace PID          PTRACE_ATTACH to PID (detached again at once)
 *   personality VALUE   personality(VALUE) (VALUE in hex)
 *   vsock               socket(AF_VSOCK, SOCK_STREAM)
 *   write PATH TEXT     open PATH for writing and write TEXT
 *   read PATH           read PATH: prints how many bytes it gave (up to 64 KiB) or the errno
 *   fds                 the open file descriptors, "N TARGET" per line (the listing's own left out)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static int report(long result)
{
	if (result < 0)
		printf("%s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
	else
		printf("ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *a = argv[1];
	if (!strcmp(a, "mount") && argc == 3)
		return report(mount("none", argv[2], "tmpfs", 0, NULL));
	if (!strcmp(a, "finit_module")) {
		int fd = open("/dev/null", O_RDONLY);
		return report(syscall(SYS_finit_module, fd, "", 0));
	}
	if (!strcmp(a, "kexec_load"))
		return report(syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
	if (!strcmp(a, "unshare_user"))
		return report(unshare(CLONE_NEWUSER));
	if (!strcmp(a, "clone_newuser")) {
		long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid((pid_t)pid, NULL, 0);
		return report(pid);
	}
	if (!strcmp(a, "keyctl"))
		return report(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
	if (!strcmp(a, "add_key"))
		return report(syscall(SYS_add_key, "user", "probe", "x", 1, -3));
	if (!strcmp(a, "bpf")) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof attr);
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 4;
		attr.max_entries = 1;
		return report(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
	}
	if (!strcmp(a, "perf_event_open")) {
		struct perf_event_attr attr;
		memset(&attr, 0, sizeof attr);
		attr.size = sizeof attr;
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = PERF_COUNT_SW_CPU_CLOCK;
		attr.exclude_kernel = 1;
		return report(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
	}
	if (!strcmp(a, "ptrace") && argc == 3) {
		pid_t pid = (pid_t)atoi(argv[2]);
		long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
		int err = errno;
		if (r == 0) {
			waitpid(pid, NULL, __WALL);
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
		}
		errno = err;
		return report(r);
	}
	if (!strcmp(a, "personality") && argc == 3)
		return report(personality(strtoul(argv[2], NULL, 16)));
	if (!strcmp(a, "vsock"))
		return report(socket(AF_VSOCK, SOCK_STREAM, 0));
	if (!strcmp(a, "write") && argc == 4) {
		int fd = open(argv[2], O_WRONLY);
		if (fd < 0)
			return report(-1);
		return report(write(fd, argv[3], strlen(argv[3])));
	}
	if (!strcmp(a, "read") && argc == 3) {
		int fd = open(argv[2], O_RDONLY);
		static char buf[65536];
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
		if (n < 0)
			return report(-1);
		printf("%zd\n", n);
		return 0;
	}
	if (!strcmp(a, "fds")) {
		DIR *d = opendir("/proc/self/fd");
		if (!d)
			return report(-1);
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
				continue;
			char path[300], target[4096];
			snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
			ssize_t n = readlink(path, target, sizeof target - 1);
			target[n < 0 ? 0 : n] = '\0';
			printf("%s %s\n", e->d_name, target);
		}
		return 0;
	}
	fprintf(stderr, "probe: unknown action %s\n", a);
	return 2;
}
