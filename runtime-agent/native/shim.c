/*
 * tug-shim SPECFILE: the native helper of Tug's container runtime.
 *
 * Node cannot call clone, setns, mount, pivot_root, sethostname, capset, prctl or mknod, so this
 * program does, and nothing more: TypeScript (runtime-agent/src/runtime/spec.ts) decides every
 * namespace, mount, device, capability and id, and this program performs the calls in order,
 * execs the container's process, and stays behind as its monitor (like conmon or
 * containerd-shim): it relays the container's output into a Docker json-file log, forwards
 * signals, and records the exit status in a file, so containers outlive the engine and their
 * exit codes are never lost.
 *
 * The spec file (written by spec.ts, which documents it too):
 *
 *   tug-spec 1                    first line: the format and its version
 *   KEY FIELD FIELD...            one entry per line, fields separated by exactly one space
 *
 * In a field every byte outside 0x21-0x7e, and '%', is written %XX (two hex digits), so fields
 * never hold spaces or newlines and an empty field is nothing between two separators; %00 is
 * refused. Numbers are decimal, a device mode octal, the capability mask 16 hex digits. Keys
 * (* = may repeat, in order):
 *   namespace* NAME (mount|pid|uts|ipc|cgroup|network)   join-network PATH   hostname NAME
 *   loopback-up (no field: bring lo up in the new network namespace)
 *   root PATH   overlay-lower* PATH (top first)   overlay-upper PATH   overlay-work PATH
 *   readonly-root   mount* SOURCE TARGET TYPE FLAGS DATA   device* PATH c|b MAJOR MINOR MODE UID GID
 *   symlink* TARGET PATH   masked* PATH   readonly* PATH   capabilities HEX   no-new-privileges
 *   rlimit* RESOURCE SOFT HARD (RESOURCE as Docker's --ulimit names it: nofile, nproc, core…)
 *   seccomp HEX (a classic BPF program, struct sock_filter[] in this machine's byte order, made
 *   by seccomp.ts; installed with the other calls done, just before execve; without
 *   no-new-privileges it goes in before the ids change, while CAP_SYS_ADMIN allows it, as runc does)
 *   device-filter DIR HEX (cgroup v2: an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program, struct
 *   bpf_insn[] in this machine's byte order, made by devices.ts; attached to the cgroup DIR before
 *   the container runs, it decides which device nodes its processes may open or make)
 *   user UID GID   group* GID   cwd PATH   env* NAME=VALUE   arg* ARG   cgroup-procs* FILE
 *   staged (no field: the cgroups of cgroup-procs hold the standby's waiting process already)
 *   cgroup-into DIR (cgroup v2: clone the process straight into it, CLONE_INTO_CGROUP, instead of
 *   writing cgroup-procs; where the kernel cannot, cgroup-procs are written as usual)
 *   tty RESIZE-FIFO ROWS COLS (a terminal of that size, 0 0 for the kernel's: see below)
 *   log PATH   stdin PATH   pid-file PATH   exit-file PATH
 *   stdin-open (no field: the container's stdin stays open when a writer of the FIFO goes, for
 *   the next one, as Docker's StdinOnce=false; without it, the first writer's end is its EOF)
 *   enter PID (exec: the process joins the namespaces of that running process (a container's
 *   init) instead of making its own: no namespace, root, mount or hostname key goes with it)
 *
 * What the monitor writes:
 *   - stdout: "staged", one line, when a standby has its process in the cgroups (see below);
 *     "<its own pid> <the container's host pid>", one line, once the container's process has
 *     been exec'd; "exit <code> <signal or 0> <finished at, unix ns>", one line, when it has
 *     ended and its output is logged (before the exit file is on disk). Nothing more is printed
 *     when the container fails to start.
 *   - pid-file: the container's host pid (temp file, fsync, rename) once it is running (and
 *     its pid printed).
 *   - log: one JSON object per line, {"log":"...","stream":"stdout"|"stderr","time":"..."},
 *     split as Docker's json-file driver splits (at newlines and every 16 KiB).
 *   - exit-file: "<exit code> <signal or 0> <finished at, unix ns>\n" (temp file, fsync, rename);
 *     the exit code is 128+signal for a process killed by a signal.
 *   - <exit-file>.error: when the container failed before exec, the one-line reason (as runc
 *     words it for a missing command: exec: "x": executable file not found in $PATH), written
 *     before the exit file; the reason is also logged as a stderr entry.
 * With `tty`, the container's process opens a pseudo-terminal in its own /dev/pts (as runc does,
 * so that it is /dev/pts/0 in there), makes it its controlling terminal and its stdin, stdout and
 * stderr, and hands the master to the monitor over a socket. The monitor logs what the terminal
 * says as stdout, feeds it the stdin FIFO, and sets its size from "ROWS COLS" lines written to
 * RESIZE-FIFO (which it creates).
 * `tug-shim --standby [NAMESPACE,... CGROUP_PROCS_FILE...]` waits for the spec's path on stdin
 * (one line), so that the engine can fork it before it is needed. Given namespaces (as the spec
 * names them, comma-separated) and cgroup.procs files, it first clones the container's process
 * into those namespaces and moves it into those cgroups, where it waits: on cgroup v1 each move waits for an RCU grace period, 10-20 ms,
 * which is then paid before the container is asked for. The engine renames those cgroups to the
 * container's and says `staged` in the spec; a spec that wants other namespaces or no `staged`
 * gets a fresh process, and the waiting one is killed.
 *
 * Exit status of the monitor: 0 after the container ran, 1 when it failed to start (the files
 * above say why), 2 when the spec is unusable (stderr says why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* ---------------------------------------------------------------- the spec */

struct strv {
	char **v;
	size_t n, cap;
};

struct mount_entry {
	char *source, *target, *type, *data;
	unsigned long flags;
};

struct device_entry {
	char *path;
	mode_t type;
	unsigned major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct link_entry {
	char *target, *path;
};

struct rlimit_entry {
	int resource;
	struct rlimit limit;
};

struct spec {
	int clone_flags;           /* CLONE_NEW* to clone() with (all but the cgroup namespace) */
	int cgroup_ns;             /* unshare()d after the cgroups are joined, so they become its root */
	char *join_network, *hostname, *root;
	struct strv overlay_lower;
	char *overlay_upper, *overlay_work;
	int readonly_root;
	int loopback_up;             /* bring `lo` up in the new network namespace */
	struct mount_entry *mounts;
	size_t nmounts, mounts_cap;
	struct device_entry *devices;
	size_t ndevices, devices_cap;
	struct link_entry *links;
	size_t nlinks, links_cap;
	struct strv masked, readonly;
	uint64_t caps;
	int have_caps, no_new_privs, have_user;
	struct rlimit_entry *rlimits;
	size_t nrlimits, rlimits_cap;
	struct sock_fprog seccomp;   /* len 0: none */
	char *device_cgroup;         /* where device_prog goes (cgroup v2) */
	struct bpf_insn *device_prog;
	size_t device_len;           /* 0: none */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups, groups_cap;
	char *cwd;
	struct strv env, args, cgroup_procs;
	int staged;                  /* cgroup_procs hold the standby's process already */
	char *cgroup_into;           /* a cgroup v2 directory to clone into */
	char *tty;                   /* a terminal, sized through this FIFO */
	unsigned short tty_rows, tty_cols;
	char *log, *stdin_path, *pid_file, *exit_file;
	int stdin_open;              /* writers of the FIFO come and go; the container never reads EOF */
	char *enter;                 /* /proc/PID of the process whose namespaces an exec joins */
};

static void out_of_memory(void)
{
	static const char msg[] = "tug-shim: out of memory\n";
	ssize_t ignored = write(2, msg, sizeof msg - 1);
	(void)ignored;
	_exit(2);
}

/* The array with room for one more item (n items in use, cap allocated). */
static void *reserve(void *items, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return items;
	size_t next = *cap ? *cap * 2 : 8;
	void *p = realloc(items, next * size);
	if (!p)
		out_of_memory();
	*cap = next;
	return p;
}

/* Appends a zeroed item to ARRAY (with its count N and capacity CAP) and yields a pointer to it. */
#define PUSH(array, n, cap) \
	((array) = reserve((array), (n), &(cap), sizeof *(array)), \
	 memset(&(array)[(n)], 0, sizeof *(array)), &(array)[(n)++])

static void strv_push(struct strv *s, char *value)
{
	*PUSH(s->v, s->n, s->cap) = value;
}

/* A NULL-terminated copy for execve. */
static char **strv_terminated(const struct strv *s)
{
	char **v = calloc(s->n + 1, sizeof(char *));
	if (!v)
		out_of_memory();
	memcpy(v, s->v, s->n * sizeof(char *));
	return v;
}

static const char *spec_path;
static unsigned spec_line;

static void spec_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "tug-shim: %s:%u: ", spec_path, spec_line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one %XX-escaped field in place. */
static char *decode(char *field)
{
	char *in = field, *out = field;
	while (*in) {
		unsigned char c = (unsigned char)*in;
		if (c == '%') {
			int hi = hex_digit(in[1]), lo = hi < 0 ? -1 : hex_digit(in[2]);
			if (hi < 0 || lo < 0)
				spec_error("bad escape in \"%s\"", field);
			if (hi == 0 && lo == 0)
				spec_error("a field holds a NUL byte");
			*out++ = (char)(hi * 16 + lo);
			in += 3;
		} else if (c <= 0x20 || c >= 0x7f) {
			spec_error("byte 0x%02x must be escaped", c);
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
	return field;
}

static uint64_t number(const char *s, int base, uint64_t max)
{
	char *end;
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		spec_error("\"%s\" is not a number", s);
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		spec_error("\"%s\" is not a number up to %llu", s, (unsigned long long)max);
	return v;
}

static void set_once(char **slot, char *value, const char *key)
{
	if (*slot)
		spec_error("%s given twice", key);
	*slot = value;
}

/* RLIMIT_* by the name Docker's --ulimit gives it. */
static int rlimit_resource(const char *name)
{
	static const struct { const char *name; int resource; } names[] = {
		{ "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU }, { "data", RLIMIT_DATA },
		{ "fsize", RLIMIT_FSIZE }, { "locks", RLIMIT_LOCKS }, { "memlock", RLIMIT_MEMLOCK },
		{ "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE }, { "nofile", RLIMIT_NOFILE },
		{ "nproc", RLIMIT_NPROC }, { "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
		{ "rttime", RLIMIT_RTTIME }, { "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(name, names[i].name))
			return names[i].resource;
	spec_error("unknown rlimit \"%s\"", name);
	return -1;
}

/* A program from its hex digits: whole instructions of `unit` bytes, 1 to `max` of them. */
static void *program_bytes(const char *key, const char *hex, size_t unit, size_t max, size_t *count)
{
	size_t len = strlen(hex);
	size_t size = len / 2;
	if (len % 2 || size == 0 || size % unit || size / unit > max)
		spec_error("%s: not a whole program of 1 to %zu instructions", key, max);
	unsigned char *bytes = malloc(size);
	if (!bytes)
		out_of_memory();
	for (size_t i = 0; i < size; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			spec_error("%s: not hex digits", key);
		bytes[i] = (unsigned char)(hi * 16 + lo);
	}
	*count = size / unit;
	return bytes;
}

/* The clone flag of a namespace the process is cloned into (the cgroup one is unshared later); 0
 * for any other name. */
static int clone_flag(const char *name)
{
	static const struct { const char *name; int flag; } flags[] = {
		{ "mount", CLONE_NEWNS }, { "pid", CLONE_NEWPID }, { "uts", CLONE_NEWUTS }, { "ipc", CLONE_NEWIPC }, { "network", CLONE_NEWNET },
	};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (!strcmp(name, flags[i].name))
			return flags[i].flag;
	return 0;
}

static void parse_spec(const char *path, struct spec *s)
{
	spec_path = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		spec_error("open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		spec_error("fstat: %s", strerror(errno));
	if (st.st_size > 64 << 20)
		spec_error("the spec is larger than 64 MiB");
	size_t size = (size_t)st.st_size;
	char *text = malloc(size + 1);
	if (!text)
		out_of_memory();
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, text + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			spec_error("read: %s", strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	if (memchr(text, '\0', got))
		spec_error("the spec holds a NUL byte");

	char *next = text;
	while (*next) {
		char *line = next;
		char *nl = strchr(line, '\n');
		spec_line++;
		if (!nl)
			spec_error("the last line has no newline (a truncated spec?)");
		*nl = '\0';
		next = nl + 1;

		char *f[8];
		int nf = 0;
		for (char *p = line;; p++) {
			if (nf == 8)
				spec_error("too many fields");
			f[nf++] = p;
			p = strchr(p, ' ');
			if (!p)
				break;
			*p = '\0';
		}
		const char *key = f[0];
		for (int i = 1; i < nf; i++)
			decode(f[i]);
		int args = nf - 1;
#define NEED(k) \
	if (args != (k)) \
		spec_error("\"%s\" takes %d field(s), not %d", key, (k), args)

		if (spec_line == 1) {
			if (strcmp(key, "tug-spec") || args != 1 || strcmp(f[1], "1"))
				spec_error("not a tug-spec 1 file");
		} else if (!strcmp(key, "namespace")) {
			NEED(1);
			if (!strcmp(f[1], "cgroup"))
				s->cgroup_ns = 1;
			else if (clone_flag(f[1]))
				s->clone_flags |= clone_flag(f[1]);
			else
				spec_error("unknown namespace \"%s\"", f[1]);
		} else if (!strcmp(key, "join-network")) {
			NEED(1);
			set_once(&s->join_network, f[1], key);
		} else if (!strcmp(key, "hostname")) {
			NEED(1);
			set_once(&s->hostname, f[1], key);
		} else if (!strcmp(key, "loopback-up")) {
			NEED(0);
			s->loopback_up = 1;
		} else if (!strcmp(key, "root")) {
			NEED(1);
			set_once(&s->root, f[1], key);
		} else if (!strcmp(key, "overlay-lower")) {
			NEED(1);
			strv_push(&s->overlay_lower, f[1]);
		} else if (!strcmp(key, "overlay-upper")) {
			NEED(1);
			set_once(&s->overlay_upper, f[1], key);
		} else if (!strcmp(key, "overlay-work")) {
			NEED(1);
			set_once(&s->overlay_work, f[1], key);
		} else if (!strcmp(key, "readonly-root")) {
			NEED(0);
			s->readonly_root = 1;
		} else if (!strcmp(key, "mount")) {
			NEED(5);
			struct mount_entry *m = PUSH(s->mounts, s->nmounts, s->mounts_cap);
			m->source = f[1];
			m->target = f[2];
			m->type = f[3];
			m->flags = (unsigned long)number(f[4], 10, 0xffffffffu);
			m->data = *f[5] ? f[5] : NULL;
			if (m->target[0] != '/')
				spec_error("mount target \"%s\" is not absolute", m->target);
		} else if (!strcmp(key, "device")) {
			NEED(7);
			struct device_entry *d = PUSH(s->devices, s->ndevices, s->devices_cap);
			d->path = f[1];
			if (!strcmp(f[2], "c"))
				d->type = S_IFCHR;
			else if (!strcmp(f[2], "b"))
				d->type = S_IFBLK;
			else
				spec_error("device type \"%s\" is not c or b", f[2]);
			d->major = (unsigned)number(f[3], 10, 0xfff);
			d->minor = (unsigned)number(f[4], 10, 0xfffff);
			d->mode = (mode_t)number(f[5], 8, 07777);
			d->uid = (uid_t)number(f[6], 10, 0xfffffffeu);
			d->gid = (gid_t)number(f[7], 10, 0xfffffffeu);
			if (d->path[0] != '/')
				spec_error("device path \"%s\" is not absolute", d->path);
		} else if (!strcmp(key, "symlink")) {
			NEED(2);
			struct link_entry *l = PUSH(s->links, s->nlinks, s->links_cap);
			l->target = f[1];
			l->path = f[2];
			if (l->path[0] != '/')
				spec_error("symlink path \"%s\" is not absolute", l->path);
		} else if (!strcmp(key, "masked")) {
			NEED(1);
			strv_push(&s->masked, f[1]);
		} else if (!strcmp(key, "readonly")) {
			NEED(1);
			strv_push(&s->readonly, f[1]);
		} else if (!strcmp(key, "capabilities")) {
			NEED(1);
			s->caps = number(f[1], 16, UINT64_MAX);
			s->have_caps = 1;
		} else if (!strcmp(key, "no-new-privileges")) {
			NEED(0);
			s->no_new_privs = 1;
		} else if (!strcmp(key, "rlimit")) {
			NEED(3);
			struct rlimit_entry *r = PUSH(s->rlimits, s->nrlimits, s->rlimits_cap);
			r->resource = rlimit_resource(f[1]);
			r->limit.rlim_cur = (rlim_t)number(f[2], 10, UINT64_MAX);
			r->limit.rlim_max = (rlim_t)number(f[3], 10, UINT64_MAX);
			if (r->limit.rlim_cur > r->limit.rlim_max)
				spec_error("rlimit %s: the soft limit is above the hard one", f[1]);
		} else if (!strcmp(key, "seccomp")) {
			NEED(1);
			if (s->seccomp.len)
				spec_error("\"seccomp\" given twice");
			size_t n;
			s->seccomp.filter = program_bytes(key, f[1], sizeof(struct sock_filter), BPF_MAXINSNS, &n);
			s->seccomp.len = (unsigned short)n;
		} else if (!strcmp(key, "device-filter")) {
			NEED(2);
			if (s->device_len)
				spec_error("\"device-filter\" given twice");
			s->device_cgroup = f[1];
			s->device_prog = program_bytes(key, f[2], sizeof(struct bpf_insn), 4096, &s->device_len);
		} else if (!strcmp(key, "user")) {
			NEED(2);
			s->uid = (uid_t)number(f[1], 10, 0xfffffffeu);
			s->gid = (gid_t)number(f[2], 10, 0xfffffffeu);
			s->have_user = 1;
		} else if (!strcmp(key, "group")) {
			NEED(1);
			*PUSH(s->groups, s->ngroups, s->groups_cap) = (gid_t)number(f[1], 10, 0xfffffffeu);
		} else if (!strcmp(key, "cwd")) {
			NEED(1);
			set_once(&s->cwd, f[1], key);
		} else if (!strcmp(key, "env")) {
			NEED(1);
			strv_push(&s->env, f[1]);
		} else if (!strcmp(key, "arg")) {
			NEED(1);
			strv_push(&s->args, f[1]);
		} else if (!strcmp(key, "cgroup-procs")) {
			NEED(1);
			strv_push(&s->cgroup_procs, f[1]);
		} else if (!strcmp(key, "tty")) {
			NEED(3);
			set_once(&s->tty, f[1], key);
			s->tty_rows = (unsigned short)number(f[2], 10, 0xffff);
			s->tty_cols = (unsigned short)number(f[3], 10, 0xffff);
		} else if (!strcmp(key, "cgroup-into")) {
			NEED(1);
			set_once(&s->cgroup_into, f[1], key);
		} else if (!strcmp(key, "staged")) {
			NEED(0);
			s->staged = 1;
		} else if (!strcmp(key, "log")) {
			NEED(1);
			set_once(&s->log, f[1], key);
		} else if (!strcmp(key, "stdin")) {
			NEED(1);
			set_once(&s->stdin_path, f[1], key);
		} else if (!strcmp(key, "stdin-open")) {
			NEED(0);
			s->stdin_open = 1;
		} else if (!strcmp(key, "pid-file")) {
			NEED(1);
			set_once(&s->pid_file, f[1], key);
		} else if (!strcmp(key, "enter")) {
			NEED(1);
			static char proc[64];
			snprintf(proc, sizeof proc, "/proc/%llu", (unsigned long long)number(f[1], 10, INT_MAX));
			set_once(&s->enter, proc, key);
		} else if (!strcmp(key, "exit-file")) {
			NEED(1);
			set_once(&s->exit_file, f[1], key);
		} else {
			spec_error("unknown key \"%s\"", key);
		}
#undef NEED
	}
	if (spec_line == 0)
		spec_error("empty spec");
	/* What must be there, and what would act on the host instead of the container. */
	if (s->enter && (s->clone_flags || s->cgroup_ns || s->root || s->hostname || s->loopback_up || s->join_network || s->nmounts || s->overlay_lower.n))
		spec_error("enter joins a process's namespaces: no namespace, root, mount or hostname of its own");
	if (!s->root && !s->enter)
		spec_error("no root");
	if (!s->args.n || !s->args.v[0][0])
		spec_error("no command");
	if (!s->cwd || s->cwd[0] != '/')
		spec_error("no absolute cwd");
	if (!s->log || !s->pid_file || !s->exit_file)
		spec_error("log, pid-file and exit-file are required");
	if (!s->have_caps || !s->have_user)
		spec_error("capabilities and user are required");
	if (!(s->clone_flags & CLONE_NEWNS) && !s->enter)
		spec_error("a container needs the mount namespace");
	if (s->hostname && !(s->clone_flags & CLONE_NEWUTS))
		spec_error("a hostname needs the uts namespace");
	if (s->loopback_up && !(s->clone_flags & CLONE_NEWNET))
		spec_error("loopback-up needs a new network namespace");
	if (s->join_network && (s->clone_flags & CLONE_NEWNET))
		spec_error("join-network and a new network namespace exclude each other");
	if (s->overlay_lower.n && (!s->overlay_upper || !s->overlay_work))
		spec_error("an overlay needs overlay-upper and overlay-work");
}

/* ---------------------------------------------------------------- small helpers */

/* strerror in Go's words ("no such file or directory"), which is how runc's messages read. */
static const char *why(int err)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static void warn(const char *fmt, ...)
{
	va_list ap;
	fputs("tug-shim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes a small file so that readers see all of it or none: temp name, fsync, rename, fsync dir. */
static int write_atomic(const char *path, const char *content)
{
	char temp[PATH_MAX];
	if (snprintf(temp, sizeof temp, "%s.tmp", path) >= (int)sizeof temp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_all(fd, content, strlen(content)) < 0 || fsync(fd) < 0) {
		int err = errno;
		close(fd);
		unlink(temp);
		errno = err;
		return -1;
	}
	if (close(fd) < 0 || rename(temp, path) < 0) {
		int err = errno;
		unlink(temp);
		errno = err;
		return -1;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* best effort: the file itself is already complete */
		close(dfd);
	}
	return 0;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---------------------------------------------------------------- the container's process */

/* The child's side of the error pipe: one line, then exit. */
static int child_errfd = -1;

static void child_fail(int code, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	for (int i = 0; i < n; i++)
		if (msg[i] == '\n' || msg[i] == '\r')
			msg[i] = ' ';
	if (write_all(child_errfd, msg, (size_t)n) < 0) {
		/* Nobody to tell: the exit code still says it failed. */
	}
	_exit(code);
}

/* Resolves a path as if rootfd were "/": neither ".." nor a symlink in the container's files can
 * lead outside it (a mount target in a hostile image must not land on the host). */
static int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_IN_ROOT;
	long fd;
	do
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	while (fd < 0 && errno == EAGAIN);
	return (int)fd;
}

enum kind { KIND_DIR, KIND_FILE };

/* Creates the missing directories of `path` under the root, and `path` itself as a directory or
 * an empty file; returns an O_PATH descriptor of it. Each component is resolved inside the root
 * and created in the directory its prefix resolved to. */
static int make_in_root(int rootfd, const char *path, enum kind kind)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		child_fail(127, "path too long: %s", path);
	int dir = open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
	if (dir < 0)
		child_fail(127, "open the container's root: %s", why(errno));
	size_t len = strlen(buf), start = 0;
	while (start < len) {
		while (buf[start] == '/')
			start++;
		size_t end = start;
		while (end < len && buf[end] != '/')
			end++;
		if (end == start)
			break; /* trailing slashes */
		int last = end >= len || buf[end + strspn(buf + end, "/")] == '\0';
		int flags = O_PATH | (last && kind == KIND_FILE ? 0 : O_DIRECTORY);
		char saved = buf[end];
		buf[end] = '\0';
		int fd = open_in_root(rootfd, buf, flags);
		if (fd < 0 && errno == ENOENT) {
			const char *name = buf + start;
			int r = last && kind == KIND_FILE ? mknodat(dir, name, S_IFREG | 0644, 0) : mkdirat(dir, name, 0755);
			if (r < 0 && errno != EEXIST)
				child_fail(127, "create %s in the container: %s", buf, why(errno));
			fd = open_in_root(rootfd, buf, flags);
		}
		if (fd < 0)
			child_fail(127, "open %s in the container: %s", buf, why(errno));
		buf[end] = saved;
		close(dir);
		dir = fd;
		start = end;
	}
	return dir;
}

/* The directory that holds `path` (created if missing) and the last component's name. */
static int parent_in_root(int rootfd, const char *path, char *name, size_t name_size)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
		child_fail(127, "path too long: %s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || !slash[1] || snprintf(name, name_size, "%s", slash + 1) >= (int)name_size)
		child_fail(127, "bad path: %s", path);
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return make_in_root(rootfd, dir, KIND_DIR);
}

/* The magic link through which mount(2) reaches what a descriptor names. */
static const char *fd_path(int fd)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
	return buf;
}

#define PROPAGATION (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)

static void do_mount(int rootfd, const struct mount_entry *m)
{
	unsigned long propagation = m->flags & PROPAGATION;
	unsigned long flags = m->flags & ~(unsigned long)PROPAGATION;
	int bind = (flags & MS_BIND) || !strcmp(m->type, "bind");
	enum kind kind = KIND_DIR;
	if (bind) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			child_fail(127, "mount %s on %s: stat %s: %s", m->source, m->target, m->source, why(errno));
		if (!S_ISDIR(st.st_mode))
			kind = KIND_FILE;
	}
	int fd = make_in_root(rootfd, m->target, kind);
	if (bind) {
		if (mount(m->source, fd_path(fd), NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			child_fail(127, "bind mount %s on %s: %s", m->source, m->target, why(errno));
	} else if (mount(m->source, fd_path(fd), m->type, flags, m->data) < 0) {
		child_fail(127, "mount %s (%s) on %s: %s", m->source, m->type, m->target, why(errno));
	}
	close(fd);
	/* A bind mount takes its other flags only from a remount, and propagation is a call of its
	 * own; both act on the new mount, which the target's path now leads to. */
	unsigned long rest = flags & ~(unsigned long)(MS_BIND | MS_REC);
	if (bind && rest) {
		fd = open_in_root(rootfd, m->target, O_PATH);
		if (fd < 0 || mount(NULL, fd_path(fd), NULL, rest | MS_BIND | MS_REMOUNT, NULL) < 0)
			child_fail(127, "remount %s with flags 0x%lx: %s", m->target, rest, why(errno));
		close(fd);
	}
	if (propagation) {
		fd = open_in_root(rootfd, m->target, O_PATH);
		if (fd < 0 || mount(NULL, fd_path(fd), NULL, propagation | (flags & MS_REC), NULL) < 0)
			child_fail(127, "set propagation of %s: %s", m->target, why(errno));
		close(fd);
	}
}

static void mount_overlay(const struct spec *s)
{
	char opts[4096];
	size_t len = 0;
	int over = 0;
#define APPEND(...) \
	do { \
		int n = snprintf(opts + len, sizeof opts - len, __VA_ARGS__); \
		if (n < 0 || (size_t)n >= sizeof opts - len) \
			over = 1; \
		else \
			len += (size_t)n; \
	} while (0)
	APPEND("lowerdir=");
	for (size_t i = 0; i < s->overlay_lower.n; i++)
		APPEND("%s%s", i ? ":" : "", s->overlay_lower.v[i]);
	APPEND(",upperdir=%s,workdir=%s", s->overlay_upper, s->overlay_work);
#undef APPEND
	if (over)
		child_fail(127, "overlay: the mount options are longer than the kernel accepts (%zu bytes)", sizeof opts - 1);
	if (mount("overlay", s->root, "overlay", 0, opts) < 0)
		child_fail(127, "mount overlay on %s: %s", s->root, why(errno));
}

/* The per-mount flags a bind remount must repeat so that it changes nothing but what it adds. */
static unsigned long kept_flags(const char *path)
{
	struct statvfs st;
	if (statvfs(path, &st) < 0)
		child_fail(127, "statvfs %s: %s", path, why(errno));
	unsigned long flags = 0;
	if (st.f_flag & ST_NOSUID)
		flags |= MS_NOSUID;
	if (st.f_flag & ST_NODEV)
		flags |= MS_NODEV;
	if (st.f_flag & ST_NOEXEC)
		flags |= MS_NOEXEC;
	return flags;
}

static void mask_paths(const struct spec *s)
{
	for (size_t i = 0; i < s->masked.n; i++) {
		const char *p = s->masked.v[i];
		struct stat st;
		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			child_fail(127, "mask %s: stat: %s", p, why(errno));
		}
		if (S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0)
				child_fail(127, "mask %s with a tmpfs: %s", p, why(errno));
		} else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
			child_fail(127, "mask %s with /dev/null: %s", p, why(errno));
		}
	}
	for (size_t i = 0; i < s->readonly.n; i++) {
		const char *p = s->readonly.v[i];
		struct stat st;
		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			child_fail(127, "make %s read-only: stat: %s", p, why(errno));
		}
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
			child_fail(127, "make %s read-only: bind: %s", p, why(errno));
		if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(p), NULL) < 0)
			child_fail(127, "make %s read-only: remount: %s", p, why(errno));
	}
}

static void set_root(const struct spec *s)
{
	/* Nothing done in this mount namespace may reach the host's. */
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		child_fail(127, "make / private: %s", why(errno));
	if (s->overlay_lower.n)
		mount_overlay(s);
	/* pivot_root needs the new root to be a mount point. */
	if (mount(s->root, s->root, NULL, MS_BIND | MS_REC, NULL) < 0)
		child_fail(127, "bind mount %s on itself: %s", s->root, why(errno));
	int rootfd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		child_fail(127, "open root %s: %s", s->root, why(errno));

	for (size_t i = 0; i < s->nmounts; i++)
		do_mount(rootfd, &s->mounts[i]);
	for (size_t i = 0; i < s->ndevices; i++) {
		const struct device_entry *d = &s->devices[i];
		char name[256];
		int dir = parent_in_root(rootfd, d->path, name, sizeof name);
		if (mknodat(dir, name, d->type | d->mode, makedev(d->major, d->minor)) < 0) {
			if (errno != EEXIST)
				child_fail(127, "mknod %s: %s", d->path, why(errno));
		} else if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) {
			child_fail(127, "chown %s: %s", d->path, why(errno));
		}
		close(dir);
	}
	for (size_t i = 0; i < s->nlinks; i++) {
		const struct link_entry *l = &s->links[i];
		char name[256];
		int dir = parent_in_root(rootfd, l->path, name, sizeof name);
		/* One that the image already has is left as it is, as runc does. */
		if (symlinkat(l->target, dir, name) < 0 && errno != EEXIST)
			child_fail(127, "symlink %s -> %s: %s", l->path, l->target, why(errno));
		close(dir);
	}
	close(rootfd);

	/* pivot_root(".", ".") stacks the old root on the new one, where it is detached at once:
	 * no directory is created in (or left behind in) the container's root for it. */
	if (chdir(s->root) < 0)
		child_fail(127, "chdir %s: %s", s->root, why(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_fail(127, "pivot_root %s: %s", s->root, why(errno));
	if (umount2(".", MNT_DETACH) < 0)
		child_fail(127, "detach the old root: %s", why(errno));
	if (chdir("/") < 0)
		child_fail(127, "chdir /: %s", why(errno));

	mask_paths(s);
	if (s->readonly_root && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags("/"), NULL) < 0)
		child_fail(127, "remount / read-only: %s", why(errno));
}

static void set_identity(const struct spec *s)
{
	/* The bounding set first, while CAP_SETPCAP is still there; EINVAL marks the end of the
	 * capabilities this kernel knows. */
	for (int cap = 0; cap < 64; cap++) {
		if (s->caps & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;
			child_fail(127, "prctl(PR_CAPBSET_DROP, %d): %s", cap, why(errno));
		}
	}
	/* Keep the permitted set across setuid so that capset below can choose the final sets. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		child_fail(127, "prctl(PR_SET_KEEPCAPS): %s", why(errno));
	if (setgroups(s->ngroups, s->groups) < 0)
		child_fail(127, "setgroups: %s", why(errno));
	if (setresgid(s->gid, s->gid, s->gid) < 0)
		child_fail(127, "setgid %u: %s", (unsigned)s->gid, why(errno));
	if (setresuid(s->uid, s->uid, s->uid) < 0)
		child_fail(127, "setuid %u: %s", (unsigned)s->uid, why(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		child_fail(127, "prctl(PR_SET_KEEPCAPS): %s", why(errno));
	/* Effective and permitted = the mask, inheritable and ambient empty. After execve, root keeps
	 * the mask and any other user keeps nothing (no file capabilities), as with runc. */
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	data[0].effective = data[0].permitted = (uint32_t)s->caps;
	data[1].effective = data[1].permitted = (uint32_t)(s->caps >> 32);
	if (syscall(SYS_capset, &header, data) < 0)
		child_fail(127, "capset 0x%016llx: %s", (unsigned long long)s->caps, why(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		child_fail(127, "prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", why(errno));
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(127, "prctl(PR_SET_NO_NEW_PRIVS): %s", why(errno));
}

/* The filter applies to every thread's later calls: whatever runs after this needs the profile's
 * leave (runc's order: before the ids change, or just before execve with no-new-privileges). */
static void install_seccomp(const struct spec *s)
{
	if (!s->seccomp.len)
		return;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &s->seccomp) < 0)
		child_fail(127, "install the seccomp filter: %s", why(errno));
}

/* What Go's exec.LookPath accepts: not a directory, executable for this process. */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS);
}

/* args[0] found in the container's PATH, with runc's messages and exit codes when it is not. */
static const char *look_path(const struct spec *s, char *buf, size_t size)
{
	const char *file = s->args.v[0];
	if (strchr(file, '/')) {
		if (executable(file) == 0)
			return file;
		if (errno == ENOENT || errno == ENOTDIR)
			child_fail(127, "exec: \"%s\": stat %s: %s", file, file, why(errno));
		child_fail(126, "exec: \"%s\": %s", file, why(errno));
	}
	/* runc sets the environment in order, so the last PATH= wins; an empty PATH finds nothing. */
	const char *path = "";
	for (size_t i = 0; i < s->env.n; i++)
		if (!strncmp(s->env.v[i], "PATH=", 5))
			path = s->env.v[i] + 5;
	const char *end = *path ? path - 1 : NULL;
	while (end) {
		const char *dir = end + 1; /* an empty entry is the current directory, as in Go */
		end = strchr(dir, ':');
		size_t len = end ? (size_t)(end - dir) : strlen(dir);
		int n = len ? snprintf(buf, size, "%.*s/%s", (int)len, dir, file) : snprintf(buf, size, "./%s", file);
		if (n > 0 && (size_t)n < size && executable(buf) == 0)
			return buf;
	}
	child_fail(127, "exec: \"%s\": executable file not found in $PATH", file);
	return NULL;
}

struct child_ctx {
	const struct spec *spec; /* NULL for a staged process: the go message is the spec's path */
	int sync_fd;         /* read: the go message (until EOF) once the cgroups hold the pid */
	int sync_w;          /* the monitor's end, closed here so that its EOF means the monitor died */
	int err_fd;          /* write: the reason, if this never gets to exec */
	int console_fd;      /* a socket to hand a terminal's master to the monitor */
	int stdin_fd, stdout_fd, stderr_fd;
	const sigset_t *mask; /* the signal mask to give the container */
};

/* A new network namespace has its loopback device down; containers expect it up. */
static void loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		child_fail(127, "socket for the loopback device: %s", why(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		child_fail(127, "read the flags of lo: %s", why(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		child_fail(127, "bring lo up: %s", why(errno));
	close(fd);
}

/* Opens a pseudo-terminal in the container's /dev/pts, sends its master to the monitor, and makes
 * it this process's controlling terminal, owned by the container's user. Returns the slave. */
static int open_terminal(const struct spec *s, int console_fd)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		child_fail(127, "open /dev/ptmx: %s", why(errno));
	char name[64];
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
		child_fail(127, "unlock the terminal: %s", why(errno));
	int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		child_fail(127, "open %s: %s", name, why(errno));
	if (s->have_user && fchown(slave, s->uid, s->gid) < 0)
		child_fail(127, "chown %s: %s", name, why(errno));
	/* The client's window size, there before the command looks (Docker's ConsoleSize). */
	struct winsize ws = { .ws_row = s->tty_rows, .ws_col = s->tty_cols };
	if ((ws.ws_row || ws.ws_col) && ioctl(slave, TIOCSWINSZ, &ws) < 0)
		child_fail(127, "size %s: %s", name, why(errno));
	char control[CMSG_SPACE(sizeof(int))];
	memset(control, 0, sizeof control);
	char byte = 't';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(console_fd, &msg, 0) < 0)
		child_fail(127, "send the terminal to the monitor: %s", why(errno));
	close(master);
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		child_fail(127, "make %s the controlling terminal: %s", name, why(errno));
	return slave;
}

/* An exec's process joins a running container's namespaces (its PID namespace was joined by the
 * monitor before the clone: setns to it applies to children). Every one is opened before any is
 * joined, since /proc reads differently once the mount namespace is the container's; the mount
 * namespace comes last and also sets the root and cwd to the container's root. */
static void enter_namespaces(const char *proc)
{
	static const struct { const char *name; int type; } kinds[] = {
		{ "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP }, { "mnt", CLONE_NEWNS },
	};
	int fds[sizeof kinds / sizeof kinds[0]];
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		char path[96];
		snprintf(path, sizeof path, "%s/ns/%s", proc, kinds[i].name);
		if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			child_fail(127, "open %s: %s", path, why(errno));
	}
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (setns(fds[i], kinds[i].type) < 0)
			child_fail(127, "join the container's %s namespace: %s", kinds[i].name, why(errno));
		close(fds[i]);
	}
}

static int child_main(void *arg)
{
	struct child_ctx *c = arg;
	const struct spec *s = c->spec;
	child_errfd = c->err_fd;
	/* The monitor's signal handling is not the container's. */
	if (signal(SIGPIPE, SIG_DFL) == SIG_ERR || sigprocmask(SIG_SETMASK, c->mask, NULL) < 0)
		child_fail(127, "reset the signal mask: %s", why(errno));

	close(c->sync_w);
	static char go[PATH_MAX];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(c->sync_fd, go + got, sizeof go - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == sizeof go - 1)
			break;
	}
	if (got == 0)
		_exit(127); /* the monitor gave up (it says why) */
	close(c->sync_fd);
	if (!s) {
		/* The monitor parsed this spec already: it parses the same way here. */
		static struct spec own;
		go[got] = '\0';
		parse_spec(go, &own);
		s = &own;
	}
	int stdin_fd = s->stdin_path ? c->stdin_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (stdin_fd < 0)
		child_fail(127, "open /dev/null: %s", why(errno));

	umask(0);
	if (s->enter) {
		enter_namespaces(s->enter);
		goto entered;
	}
	if (s->join_network) {
		int fd = open(s->join_network, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			child_fail(127, "open network namespace %s: %s", s->join_network, why(errno));
		if (setns(fd, CLONE_NEWNET) < 0)
			child_fail(127, "setns %s: %s", s->join_network, why(errno));
		close(fd);
	}
	if (s->loopback_up)
		loopback_up();
	/* Now that the cgroups hold this process, a new cgroup namespace has them as its root. */
	if (s->cgroup_ns && unshare(CLONE_NEWCGROUP) < 0)
		child_fail(127, "unshare the cgroup namespace: %s", why(errno));
	set_root(s);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		child_fail(127, "sethostname %s: %s", s->hostname, why(errno));
entered:
	if (chdir(s->cwd) < 0)
		child_fail(127, "chdir to cwd (\"%s\") set in config.json failed: %s", s->cwd, why(errno));
	int terminal = s->tty ? open_terminal(s, c->console_fd) : -1;
	/* Before the ids change: raising a hard limit needs CAP_SYS_RESOURCE. */
	for (size_t i = 0; i < s->nrlimits; i++)
		if (setrlimit(s->rlimits[i].resource, &s->rlimits[i].limit) < 0)
			child_fail(127, "setrlimit %d %llu %llu: %s", s->rlimits[i].resource, (unsigned long long)s->rlimits[i].limit.rlim_cur,
				   (unsigned long long)s->rlimits[i].limit.rlim_max, why(errno));
	if (!s->no_new_privs)
		install_seccomp(s);
	set_identity(s);

	char found[PATH_MAX];
	const char *path = look_path(s, found, sizeof found);
	if (terminal >= 0 ? dup2(terminal, 0) < 0 || dup2(terminal, 1) < 0 || dup2(terminal, 2) < 0
			  : dup2(stdin_fd, 0) < 0 || dup2(c->stdout_fd, 1) < 0 || dup2(c->stderr_fd, 2) < 0)
		child_fail(127, "dup2: %s", why(errno));
	umask(022);
	if (s->no_new_privs)
		install_seccomp(s);
	execve(path, strv_terminated(&s->args), strv_terminated(&s->env));
	int err = errno;
	child_fail(err == EACCES || err == ENOEXEC || err == EISDIR || err == EPERM ? 126 : 127, "exec %s: %s", path, why(err));
	return 127;
}

/* ---------------------------------------------------------------- cgroups */

struct cgroup_write {
	const char *file;
	char line[32];
	int err;
	int threaded;
	pthread_t thread;
};

static void *write_procs(void *arg)
{
	struct cgroup_write *w = arg;
	int fd = open(w->file, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_all(fd, w->line, strlen(w->line)) < 0)
		w->err = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Puts the container's pid in every cgroup. One thread per hierarchy: on cgroup v1, a move waits
 * for an RCU grace period (10-20 ms here), and moves made together share one. Returns a message
 * when one failed, else NULL. */
static const char *join_cgroups(const struct strv *files, pid_t pid)
{
	static char message[PATH_MAX + 128];
	struct cgroup_write *writes = calloc(files->n ? files->n : 1, sizeof *writes);
	if (!writes)
		out_of_memory();
	for (size_t i = 0; i < files->n; i++) {
		writes[i].file = files->v[i];
		snprintf(writes[i].line, sizeof writes[i].line, "%d\n", pid);
		writes[i].threaded = pthread_create(&writes[i].thread, NULL, write_procs, &writes[i]) == 0;
		if (!writes[i].threaded)
			write_procs(&writes[i]); /* no thread: do it here */
	}
	const char *result = NULL;
	for (size_t i = 0; i < files->n; i++) {
		if (writes[i].threaded)
			pthread_join(writes[i].thread, NULL);
		if (writes[i].err && !result) {
			snprintf(message, sizeof message, "write pid %d to %s: %s", pid, writes[i].file, why(writes[i].err));
			result = message;
		}
	}
	free(writes);
	return result;
}

/* ---------------------------------------------------------------- the log */

/* Docker's json-file driver takes lines of at most 16 KiB; a longer one is split into partial
 * entries (no trailing newline) that share the first part's time. */
#define LINE_MAX_BYTES (16 * 1024)

struct stream {
	int fd;
	const char *name;
	int prompt;  /* a terminal: what it says without a newline (a prompt) is logged at once */
	char buf[LINE_MAX_BYTES];
	size_t len;
	int in_partial;
	long long partial_ns;
};

static int log_fd = -1;
static int log_failed;

static size_t format_time(char *out, long long ns)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	long frac = (long)(ns % 1000000000LL);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	/* RFC 3339 with nanoseconds as Go prints it: trailing zeros, and a bare dot, dropped. */
	if (frac) {
		char digits[16];
		snprintf(digits, sizeof digits, "%09ld", frac);
		int end = 9;
		while (digits[end - 1] == '0')
			end--;
		n += (size_t)snprintf(out + n, 16, ".%.*s", end, digits);
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
}

/* The length of the valid UTF-8 sequence at s (Go's rules: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* One entry, escaped exactly as Docker's json-file driver escapes: \" \\ \n \r, other control
 * bytes and < > & as \u00XX, invalid UTF-8 as \ufffd, U+2028/U+2029 escaped. */
static void log_entry(const char *stream, const char *data, size_t len, int newline, long long ns)
{
	static char out[LINE_MAX_BYTES * 6 + 128];
	static const char hex[] = "0123456789abcdef";
	size_t o = (size_t)snprintf(out, sizeof out, "{\"log\":\"");
	const unsigned char *s = (const unsigned char *)data;
	for (size_t i = 0; i < len + (newline ? 1 : 0);) {
		unsigned char b = i < len ? s[i] : '\n';
		if (b < 0x80) {
			if (b == '"' || b == '\\') {
				out[o++] = '\\';
				out[o++] = (char)b;
			} else if (b == '\n') {
				out[o++] = '\\';
				out[o++] = 'n';
			} else if (b == '\r') {
				out[o++] = '\\';
				out[o++] = 'r';
			} else if (b < 0x20 || b == '<' || b == '>' || b == '&') {
				o += (size_t)snprintf(out + o, 7, "\\u00%c%c", hex[b >> 4], hex[b & 15]);
			} else {
				out[o++] = (char)b;
			}
			i++;
			continue;
		}
		size_t n = utf8_sequence(s + i, len - i);
		if (n == 0) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			i++;
		} else if (n == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			o += (size_t)snprintf(out + o, 7, "\\u202%c", s[i + 2] == 0xa8 ? '8' : '9');
			i += 3;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	o += (size_t)snprintf(out + o, sizeof out - o, "\",\"stream\":\"%s\",\"time\":\"", stream);
	o += format_time(out + o, ns);
	memcpy(out + o, "\"}\n", 3);
	o += 3;
	/* One write per entry: O_APPEND keeps each line whole for readers following the file. */
	if (write_all(log_fd, out, o) < 0 && !log_failed) {
		log_failed = 1;
		warn("write %s: %s", "the log", strerror(errno));
	}
}

static void stream_partial(struct stream *st)
{
	if (!st->in_partial) {
		st->in_partial = 1;
		st->partial_ns = now_ns();
	}
	log_entry(st->name, st->buf, st->len, 0, st->partial_ns);
	st->len = 0;
}

/* Logs every complete line buffered, and the buffer itself when it is full without one. */
static void stream_lines(struct stream *st)
{
	size_t start = 0;
	char *nl;
	while ((nl = memchr(st->buf + start, '\n', st->len - start))) {
		size_t end = (size_t)(nl - st->buf);
		long long ns = st->in_partial ? st->partial_ns : now_ns();
		st->in_partial = 0;
		log_entry(st->name, st->buf + start, end - start, 1, ns);
		start = end + 1;
	}
	if (start) {
		memmove(st->buf, st->buf + start, st->len - start);
		st->len -= start;
	}
	if (st->len == sizeof st->buf)
		stream_partial(st);
}

/* Reads what is there; returns 0 at EOF (after logging a last partial line), 1 otherwise. */
static int stream_read(struct stream *st)
{
	ssize_t n = read(st->fd, st->buf + st->len, sizeof st->buf - st->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		/* EIO: a terminal whose last user has gone, which is its end of file. */
		if (n < 0 && errno != EIO)
			warn("read the container's %s: %s", st->name, strerror(errno));
		if (st->len)
			stream_partial(st);
		close(st->fd);
		st->fd = -1;
		return 0;
	}
	st->len += (size_t)n;
	stream_lines(st);
	if (st->prompt && st->len)
		stream_partial(st);
	return 1;
}

/* ---------------------------------------------------------------- the monitor */

static const struct spec *monitor_spec;
/* The container's process until it is reaped: a start that fails takes it along. */
static pid_t child_pid;

static char *error_path(void)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s.error", monitor_spec->exit_file);
	return path;
}

static void write_exit(int code, int sig, long long finished)
{
	char line[96];
	snprintf(line, sizeof line, "%d %d %lld\n", code, sig, finished);
	if (write_atomic(monitor_spec->exit_file, line) < 0)
		warn("write %s: %s", monitor_spec->exit_file, strerror(errno));
}

/* The container did not start: say why where the manager and `docker logs` look, then exit. */
static void start_failed(const char *message, int code, int sig)
{
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
	long long finished = now_ns();
	if (log_fd >= 0) {
		char line[4200];
		int n = snprintf(line, sizeof line, "%s", message);
		log_entry("stderr", line, n < 0 ? 0 : (size_t)n >= sizeof line ? sizeof line - 1 : (size_t)n, 1, finished);
	}
	char text[4200];
	snprintf(text, sizeof text, "%s\n", message);
	if (write_atomic(error_path(), text) < 0)
		warn("write %s: %s", error_path(), strerror(errno));
	write_exit(code, sig, finished);
	warn("%s", message);
	exit(1);
}

/* "<what>: <strerror>" for a call of the monitor that failed before the container started. */
static void start_failed_errno(const char *fmt, ...)
{
	int err = errno;
	char what[PATH_MAX + 128], message[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(message, sizeof message, "%s: %s", what, why(err));
	start_failed(message, 127, 0);
}

/* cgroup v2 has no devices.allow: the container's device rules are an eBPF program attached to
 * its cgroup (as runc attaches one), in place before the container runs anything. */
static void attach_device_filter(const struct spec *s)
{
	if (!s->device_len)
		return;
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)s->device_prog;
	a.insn_cnt = (uint32_t)s->device_len;
	a.license = (uint64_t)(uintptr_t)"Apache";
	int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
	if (prog < 0) {
		/* Refused again, with the verifier's log to say why (the error alone when it has none). */
		int err = errno;
		static char log[8192];
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = sizeof log;
		a.log_level = 1;
		syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
		if (!log[0])
			snprintf(log, sizeof log, "%s", strerror(err));
		for (char *c = log; *c; c++)
			if (*c == '\n')
				*c = ' ';
		char message[sizeof log + 64];
		snprintf(message, sizeof message, "load the device filter: %s", log);
		start_failed(message, 127, 0);
	}
	int cgroup = open(s->device_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup < 0)
		start_failed_errno("open the cgroup %s", s->device_cgroup);
	memset(&a, 0, sizeof a);
	a.target_fd = (uint32_t)cgroup;
	a.attach_bpf_fd = (uint32_t)prog;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof a) < 0)
		start_failed_errno("attach the device filter to %s", s->device_cgroup);
	close(cgroup);
	close(prog);
}

static int exit_code(int status, int *sig)
{
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return *sig ? 128 + *sig : WEXITSTATUS(status);
}

/* Waits for the container's process to end: its exit code (128+signal if killed) and signal. */
static void reap(pid_t pid, int *code, int *sig)
{
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			warn("waitpid %d: %s", pid, strerror(errno));
			*code = 255;
			*sig = 0;
			return;
		}
	}
	*code = exit_code(status, sig);
	if (pid == child_pid)
		child_pid = 0;
}

static void set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		warn("fcntl(O_NONBLOCK): %s", strerror(errno));
		exit(2);
	}
}

/* The terminal's master, as the container's process sends it before it execs. */
static int receive_terminal(int console)
{
	char control[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
	ssize_t n;
	do
		n = recvmsg(console, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
		errno = n < 0 ? errno : EPROTO;
		start_failed_errno("receive the container's terminal");
	}
	int fd;
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

/* The FIFO that brings "ROWS COLS" lines; opened for writing too, so that it never reads EOF. */
static int open_resize_fifo(const char *path)
{
	if (mkfifo(path, 0600) < 0 && errno != EEXIST)
		start_failed_errno("mkfifo %s", path);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || open(path, O_WRONLY | O_CLOEXEC) < 0)
		start_failed_errno("open %s", path);
	return fd;
}

/* Sets the terminal's size from the last complete line waiting in the FIFO. */
static void apply_resize(int fifo, int master)
{
	char buf[256];
	ssize_t n = read(fifo, buf, sizeof buf - 1);
	if (n <= 0 || master < 0)
		return;
	buf[n] = '\0';
	unsigned rows = 0, cols = 0;
	for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		unsigned r, c;
		if (sscanf(line, "%u %u", &r, &c) == 2 && r <= 0xffff && c <= 0xffff) {
			rows = r;
			cols = c;
		}
	}
	if (!rows && !cols)
		return;
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		warn("resize the terminal: %s", strerror(errno));
}

/* `tug-shim --standby`: started ahead of need (the engine's fork is the slow part of a start),
 * it waits for the spec's path on stdin, one line, then goes on as `tug-shim SPECFILE`. */
static char *standby_path(void)
{
	static char path[PATH_MAX];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(0, path + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exit(0); /* the engine let its standby go */
		if (path[len] == '\n')
			break;
		if (++len == sizeof path - 1) {
			fprintf(stderr, "tug-shim: the spec path is too long\n");
			exit(2);
		}
	}
	path[len] = '\0';
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0) {
		fprintf(stderr, "tug-shim: /dev/null as stdin: %s\n", strerror(errno));
		exit(2);
	}
	close(null);
	return path;
}


/* The monitor's ends of the pipes to the container's process. */
struct child_pipes {
	int out, err, errp; /* its stdout and stderr, and the reason it failed before exec */
	int console;        /* where a terminal's master arrives */
	int sync;           /* the go message */
	int in;             /* its stdin */
};

/* Clones the container's process, which waits for its go message (see child_main); into the
 * cgroup v2 directory `cgroup_fd` when it is not -1 (clone3 with CLONE_INTO_CGROUP: no move into
 * the cgroup, so none of the wait a move costs). Returns -1 with errno, and nothing left open, when
 * it could not. */
static pid_t clone_child(int flags, const struct spec *s, const sigset_t *mask, struct child_pipes *p, int cgroup_fd)
{
	int out[2], err[2], errp[2], sync[2], in[2], console[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(sync, O_CLOEXEC) < 0 ||
	    pipe2(in, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, console) < 0)
		return -1;
	struct child_ctx ctx = {
		.spec = s, .sync_fd = sync[0], .sync_w = sync[1], .err_fd = errp[1], .console_fd = console[1],
		.stdin_fd = in[0], .stdout_fd = out[1], .stderr_fd = err[1], .mask = mask,
	};
	pid_t pid;
	if (cgroup_fd >= 0) {
		struct clone_args args = { .flags = (uint64_t)flags | CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cgroup_fd };
		/* Like fork: the child goes on from here, on a copy of this stack. */
		pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
		if (pid == 0)
			_exit(child_main(&ctx));
	} else {
		const size_t stack_size = 1 << 20;
		char *stack = malloc(stack_size);
		if (!stack)
			out_of_memory();
		pid = clone(child_main, stack + stack_size, flags | SIGCHLD, &ctx);
		free(stack);
	}
	int saved = errno;
	close(out[1]);
	close(err[1]);
	close(errp[1]);
	close(sync[0]);
	close(in[0]);
	close(console[1]);
	*p = (struct child_pipes){ .out = out[0], .err = err[0], .errp = errp[0], .console = console[0], .sync = sync[1], .in = in[1] };
	if (pid < 0) {
		int fds[] = { p->out, p->err, p->errp, p->console, p->sync, p->in };
		for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
			close(fds[i]);
	}
	errno = saved;
	return pid;
}

/* Kills a cloned process that will not be the container, with its pipes. */
static void drop_child(pid_t pid, struct child_pipes *p)
{
	kill(pid, SIGKILL);
	int fds[] = { p->out, p->err, p->errp, p->console, p->sync, p->in };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		close(fds[i]);
	int code, sig;
	reap(pid, &code, &sig);
}

int main(int argc, char **argv)
{
	int standby = argc >= 2 && !strcmp(argv[1], "--standby");
	if (argc < 2 || (!standby && argc != 2) || argc == 3) {
		fprintf(stderr, "usage: tug-shim SPECFILE | tug-shim --standby [NAMESPACE,... CGROUP_PROCS_FILE...]\n");
		return 2;
	}
	/* A standby's namespaces, as the engine names them for the containers it expects. */
	int staged_flags = 0;
	if (standby && argc > 3) {
		char *list = argv[2];
		for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
			if (!strcmp(name, "cgroup"))
				continue; /* unshared once the spec says so, after the cgroups are joined */
			if (!clone_flag(name)) {
				fprintf(stderr, "tug-shim: unknown namespace \"%s\"\n", name);
				return 2;
			}
			staged_flags |= clone_flag(name);
		}
	}

	/* Nothing the engine happened to leave open reaches the container. */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		/* Kernels before 5.11: one by one; EBADF just means that one is not open. */
		for (int fd = 3; fd < 1024; fd++)
			if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
				warn("fcntl(%d, FD_CLOEXEC): %s", fd, strerror(errno));
	}
	/* Survive the engine: a session of our own (EPERM: spawned detached, we lead one already). */
	if (setsid() < 0 && errno != EPERM) {
		warn("setsid: %s", strerror(errno));
		return 2;
	}
	if (chdir("/") < 0) {
		warn("chdir /: %s", strerror(errno));
		return 2;
	}

	/* Signals arrive through a descriptor, so that the loop below handles them in order. */
	sigset_t handled, container_mask;
	sigemptyset(&handled);
	sigemptyset(&container_mask);
	int forwarded[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGHUP };
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&handled, forwarded[i]);
	sigaddset(&handled, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &handled, NULL) < 0) {
		warn("sigprocmask: %s", strerror(errno));
		return 2;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		warn("ignore SIGPIPE: %s", strerror(errno));
		return 2;
	}
	int sig_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		warn("signalfd: %s", strerror(errno));
		return 2;
	}

	/* A standby given cgroups: the container's process, cloned and moved into them ahead of need. */
	struct child_pipes pipes;
	pid_t pid = -1;
	if (standby && argc > 3) {
		struct strv files = { .v = argv + 3, .n = (size_t)(argc - 3) };
		pid = clone_child(staged_flags, NULL, &container_mask, &pipes, -1);
		if (pid < 0) {
			warn("clone: %s", strerror(errno));
			return 2;
		}
		const char *failed = join_cgroups(&files, pid);
		if (failed) {
			drop_child(pid, &pipes);
			warn("%s", failed);
			return 2;
		}
		if (write_all(1, "staged\n", 7) < 0)
			warn("write staged: %s", strerror(errno));
	}

	const char *spec_file = standby ? standby_path() : argv[1];
	static struct spec spec;
	parse_spec(spec_file, &spec);
	monitor_spec = &spec;

	log_fd = open(spec.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (log_fd < 0) {
		if (pid > 0)
			drop_child(pid, &pipes);
		start_failed_errno("open log %s", spec.log);
	}

	if (spec.enter) {
		char path[96];
		snprintf(path, sizeof path, "%s/ns/pid", spec.enter);
		int ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0 || setns(ns, CLONE_NEWPID) < 0) {
			if (pid > 0)
				drop_child(pid, &pipes);
			start_failed_errno("join the PID namespace of %s", spec.enter);
		}
		close(ns);
	}
	int staged = pid > 0 && spec.staged && spec.clone_flags == staged_flags;
	if (pid > 0 && !staged)
		drop_child(pid, &pipes);
	int joined = staged;
	if (!staged && spec.cgroup_into) {
		int into = open(spec.cgroup_into, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (into < 0)
			start_failed_errno("open cgroup %s", spec.cgroup_into);
		pid = clone_child(spec.clone_flags, &spec, &container_mask, &pipes, into);
		/* A kernel before 5.7 (no clone3, or no CLONE_INTO_CGROUP): clone, then join. */
		if (pid < 0 && errno != ENOSYS && errno != E2BIG && errno != EINVAL)
			start_failed_errno("clone into cgroup %s", spec.cgroup_into);
		joined = pid > 0;
		close(into);
	}
	if (!staged && !joined) {
		pid = clone_child(spec.clone_flags, &spec, &container_mask, &pipes, -1);
		if (pid < 0)
			start_failed_errno("clone");
	}
	child_pid = pid;

	int fifo = -1, in_w = pipes.in;
	if (spec.stdin_path) {
		/* The monitor relays the FIFO into a pipe: the container blocks until a writer comes,
		 * and sees EOF once that writer has gone (a FIFO without writers would read as EOF
		 * at once). */
		if (mkfifo(spec.stdin_path, 0600) < 0 && errno != EEXIST)
			start_failed_errno("mkfifo %s", spec.stdin_path);
		fifo = open(spec.stdin_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fifo < 0)
			start_failed_errno("open %s", spec.stdin_path);
		struct stat st;
		if (fstat(fifo, &st) < 0)
			start_failed_errno("fstat %s", spec.stdin_path);
		if (!S_ISFIFO(st.st_mode)) {
			errno = EEXIST;
			start_failed_errno("stdin %s exists and is not a FIFO", spec.stdin_path);
		}
		/* A writer of its own (never written, never closed): the FIFO never reads as EOF. */
		if (spec.stdin_open && open(spec.stdin_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC) < 0)
			start_failed_errno("open %s for writing", spec.stdin_path);
		set_nonblocking(in_w);
	} else {
		/* The container reads /dev/null. */
		close(in_w);
		in_w = -1;
	}

	/* Limits apply before the container runs anything: its pid goes into every cgroup first. */
	if (!joined) {
		const char *failed = join_cgroups(&spec.cgroup_procs, pid);
		if (failed)
			start_failed(failed, 127, 0);
	}
	attach_device_filter(&spec);
	/* Go: a staged process is told where its spec is, since it was cloned before there was one. */
	const char *go = staged ? spec_file : "go";
	if (write_all(pipes.sync, go, strlen(go)) < 0)
		start_failed_errno("write the sync pipe");
	close(pipes.sync);
	int errp0 = pipes.errp;

	/* The error pipe closes at execve (close-on-exec); a message before that means failure. */
	char message[4096];
	size_t mlen = 0;
	for (;;) {
		ssize_t n = read(errp0, message + mlen, sizeof message - 1 - mlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		mlen += (size_t)n;
		if (mlen == sizeof message - 1)
			break;
	}
	close(errp0);
	message[mlen] = '\0';
	if (mlen) {
		int code, sig;
		reap(pid, &code, &sig);
		start_failed(message, code, sig);
	}

	/* The engine hears first; the pid file is for whoever looks later. */
	char line[96];
	snprintf(line, sizeof line, "%d %d\n", getpid(), pid);
	if (write_all(1, line, strlen(line)) < 0 && errno != EPIPE)
		warn("write the pids: %s", strerror(errno));
	snprintf(line, sizeof line, "%d\n", pid);
	if (write_atomic(spec.pid_file, line) < 0)
		warn("write %s: %s", spec.pid_file, strerror(errno));

	static struct stream streams[2];
	streams[0].fd = pipes.out;
	streams[0].name = "stdout";
	streams[1].fd = pipes.err;
	streams[1].name = "stderr";
	int resize = -1;
	if (spec.tty) {
		/* The terminal says it all (as stdout, as Docker logs it) and takes the stdin. */
		int master = receive_terminal(pipes.console);
		close(pipes.out);
		close(pipes.err);
		streams[0].fd = master;
		streams[0].prompt = 1;
		streams[1].fd = -1;
		set_nonblocking(master);
		if (in_w >= 0) {
			close(in_w);
			in_w = dup(master);
		}
		resize = open_resize_fifo(spec.tty);
	}
	close(pipes.console);
	static char inbuf[64 * 1024];
	size_t in_len = 0, in_off = 0;
	int reaped = 0, status = 0;
	long long finished = 0;

	while (!reaped) {
		struct pollfd p[6];
		int np = 0, ip_sig, ip_out = -1, ip_err = -1, ip_fifo = -1, ip_in = -1, ip_resize = -1;
		p[ip_sig = np++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		if (resize >= 0)
			p[ip_resize = np++] = (struct pollfd){ .fd = resize, .events = POLLIN };
		if (streams[0].fd >= 0)
			p[ip_out = np++] = (struct pollfd){ .fd = streams[0].fd, .events = POLLIN };
		if (streams[1].fd >= 0)
			p[ip_err = np++] = (struct pollfd){ .fd = streams[1].fd, .events = POLLIN };
		if (fifo >= 0 && in_len == 0)
			p[ip_fifo = np++] = (struct pollfd){ .fd = fifo, .events = POLLIN };
		if (in_w >= 0 && in_len > 0)
			p[ip_in = np++] = (struct pollfd){ .fd = in_w, .events = POLLOUT };
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll: %s", strerror(errno));
			break;
		}
		if (ip_resize >= 0 && p[ip_resize].revents)
			apply_resize(resize, streams[0].fd);
		if (ip_out >= 0 && p[ip_out].revents)
			stream_read(&streams[0]);
		if (ip_err >= 0 && p[ip_err].revents)
			stream_read(&streams[1]);
		if (ip_fifo >= 0 && p[ip_fifo].revents) {
			ssize_t n = read(fifo, inbuf, sizeof inbuf);
			if (n > 0) {
				in_len = (size_t)n;
				in_off = 0;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* Its writer has gone: the container reads EOF. */
				close(fifo);
				fifo = -1;
			}
		}
		if (in_w >= 0 && in_len > 0) {
			ssize_t n = write(in_w, inbuf + in_off, in_len);
			if (n > 0) {
				in_off += (size_t)n;
				in_len -= (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* The container closed its stdin: nothing more to give it. */
				in_len = 0;
				close(in_w);
				in_w = -1;
				if (fifo >= 0) {
					close(fifo);
					fifo = -1;
				}
			}
		}
		if (in_w >= 0 && fifo < 0 && in_len == 0) {
			close(in_w);
			in_w = -1;
		}
		if (p[ip_sig].revents) {
			struct signalfd_siginfo si;
			while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo != SIGCHLD) {
					if (kill(pid, (int)si.ssi_signo) < 0 && errno != ESRCH)
						warn("forward signal %u: %s", si.ssi_signo, strerror(errno));
					continue;
				}
				pid_t r = waitpid(pid, &status, WNOHANG);
				if (r == pid) {
					reaped = 1;
					finished = now_ns();
				}
			}
		}
	}

	/* Whatever the container wrote before it ended is in the pipes: log it. With a pid
	 * namespace every writer is gone by now; without one, a process left behind could hold
	 * the pipes open, so read what is there without waiting for EOF. */
	for (int i = 0; i < 2; i++) {
		if (streams[i].fd < 0)
			continue;
		set_nonblocking(streams[i].fd);
		for (;;) {
			ssize_t n = read(streams[i].fd, streams[i].buf + streams[i].len, sizeof streams[i].buf - streams[i].len);
			if (n > 0) {
				streams[i].len += (size_t)n;
				stream_lines(&streams[i]);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		if (streams[i].len)
			stream_partial(&streams[i]);
		close(streams[i].fd);
	}
	close(log_fd);
	int sig;
	int code = exit_code(status, &sig);
	/* The engine (if it still listens) hears the end at once, the exit file once it is on disk. */
	snprintf(line, sizeof line, "exit %d %d %lld\n", code, sig, finished);
	if (write_all(1, line, strlen(line)) < 0 && errno != EPIPE)
		warn("write the exit status: %s", strerror(errno));
	write_exit(code, sig, finished);
	return 0;
}
