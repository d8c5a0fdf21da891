/* Facts about a task read from /proc: ids, the pid behind a pidfd, and the
 * argv / exe / recorded environment of a fresh exec. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/path.h"
#include "tracer-internal.h"

/* Bounds on what one exec event carries: argv and environ of a real server
 * fit easily; a hostile program cannot make us allocate without limit. */
#define PROC_ARGS_MAX (256 * 1024)
#define PROC_STATUS_MAX (16 * 1024)	/* status, fdinfo: ~1.5 KiB */
#define ARGV_MAX 4096
#define PROC_MAPS_MAX (1024 * 1024)	/* a Go server with CUDA: ~100 KiB */
#define MAPS_FILES_MAX 4096

/* What one event reads from /proc, in buffers made once with the tracer:
 * the loop's largest reads (argv and environment at each exec, the
 * mappings at each process's end) then need no memory when they happen,
 * so a tracer short of memory still records them, and a server that
 * starts thousands of processes costs no 1 MiB allocation for each.
 * Pages never touched (an environment never read) cost nothing. */
struct ProcBuffers {
	char status[PROC_STATUS_MAX + 1];
	char args[PROC_ARGS_MAX + 1];
	char env[PROC_ARGS_MAX + 1];
	char maps[PROC_MAPS_MAX + 1];
	char *argv[ARGV_MAX + 1];
	char *envv[ARGV_MAX + 1];
	char *files[MAPS_FILES_MAX + 1];
};

int proc_buffers_new(ProcBuffers **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void proc_buffers_free(ProcBuffers *b)
{
	free(b);
}

/* Read at most SIZE - 1 bytes of a /proc file into BUF; *ret_len
 * excludes the added NUL. */
static int read_proc_file(const char *path, char *buf, size_t size, size_t *ret_len, bool *ret_truncated)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	size_t max = size - 1;
	ssize_t n = read_full(fd, buf, max);
	if (n < 0)
		return (int)n;
	size_t len = (size_t)n;
	buf[len] = '\0';
	*ret_truncated = len == max;
	*ret_len = len;
	return 0;
}

/* The value of "Key:\t<number>" in a /proc status-like text. */
static int field_pid(const char *text, const char *key, pid_t *ret)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, key, klen) == 0) {
			char *end;
			long v = strtol(line + klen, &end, 10);
			if (end == line + klen || v < 0 || v > INT_MAX)
				return -EINVAL;
			*ret = (pid_t)v;
			return 0;
		}
	}
	return -ENOENT;
}

int proc_task_ids(Tracer *t, pid_t tid, pid_t *ret_tgid, pid_t *ret_ppid)
{
	char path[64], *text = t->proc->status;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	size_t len;
	bool trunc;
	int r = read_proc_file(path, text, sizeof(t->proc->status), &len, &trunc);
	if (r < 0)
		return r;
	pid_t tgid, ppid;
	r = field_pid(text, "Tgid:", &tgid);
	if (r >= 0)
		r = field_pid(text, "PPid:", &ppid);
	if (r < 0)
		return r;
	*ret_tgid = tgid;
	*ret_ppid = ppid;
	return 0;
}

int proc_pidfd_pid(Tracer *t, pid_t tid, int fd, pid_t *ret_pid)
{
	char path[64], *text = t->proc->status;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)tid, fd);
	size_t len;
	bool trunc;
	int r = read_proc_file(path, text, sizeof(t->proc->status), &len, &trunc);
	if (r < 0)
		return r;
	return field_pid(text, "Pid:", ret_pid);
}

/* Split a NUL-separated /proc buffer into V (ARGV_MAX + 1 entries), a
 * NULL-terminated vector of pointers into BUF, keeping only entries KEEP
 * accepts (NULL: all). */
static void split_nul(char *buf, size_t len, char **v, size_t *ret_n, bool *ret_capped,
		      bool (*keep)(const Tracer *t, char *s), const Tracer *t)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		n++;
	*ret_capped = n > ARGV_MAX;
	if (n > ARGV_MAX)
		n = ARGV_MAX;
	size_t k = 0;
	for (size_t i = 0; i < len && k < n; i += strlen(buf + i) + 1)
		if (!keep || keep(t, buf + i))
			v[k++] = buf + i;
	v[k] = NULL;
	*ret_n = k;
}

/* ENTRY ("NAME=VALUE", in our own buffer) is cut at its '=' while its
 * name is matched: no copy, no memory needed. */
static bool env_wanted(const Tracer *t, char *entry)
{
	char *eq = strchr(entry, '=');
	if (!eq || !t->env_keep)
		return false;
	*eq = '\0';
	bool wanted = false;
	for (char **p = t->env_keep; *p && !wanted; p++)
		wanted = fnmatch(*p, entry, 0) == 0;
	*eq = '=';
	return wanted;
}

void proc_emit_exec(Tracer *t, Tracee *tr, pid_t former_tid)
{
	char path[64], exe[PATH_MAX] = "", cwd[PATH_MAX] = "";
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)tr->tid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (n > 0)
		path_link_removed(path, exe, (size_t)n);
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)tr->tid);
	n = readlink(path, cwd, sizeof(cwd) - 1);
	cwd[n > 0 ? n : 0] = '\0';
	/* a removed working directory: none (relative names resolve to
	 * nothing), not a name with " (deleted)" in it */
	if (n > 0 && path_link_removed(path, cwd, (size_t)n))
		cwd[0] = '\0';

	ProcBuffers *b = t->proc;
	size_t cmd_len = 0, env_len = 0, argc = 0, envc = 0;
	bool cmd_trunc = false, env_trunc = false, argv_capped = false, env_capped = false;
	b->argv[0] = b->envv[0] = NULL;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)tr->tid);
	int r = read_proc_file(path, b->args, sizeof(b->args), &cmd_len, &cmd_trunc);
	if (r >= 0)
		split_nul(b->args, cmd_len, b->argv, &argc, &argv_capped, NULL, t);
	else if (tracer_short_of(r))
		t->stats.lost++;	/* an exec without its argv */
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)tr->tid);
	r = t->env_keep ? read_proc_file(path, b->env, sizeof(b->env), &env_len, &env_trunc) : -ENOENT;
	if (r >= 0)
		split_nul(b->env, env_len, b->envv, &envc, &env_capped, env_wanted, t);
	else if (tracer_short_of(r))
		t->stats.lost++;	/* nor its environment */

	TracerEvent ev = {
		.kind = TRACER_EVENT_EXEC,
		.exec = {
			.exe = exe,
			.cwd = cwd,
			.argv = b->argv,
			.argc = argc,
			.argv_truncated = cmd_trunc || argv_capped,
			.env = b->envv,
			.envc = envc,
			.former_tid = former_tid,
			.secure = inject_exec_secure(tr->tid),
		},
	};
	tracer_emit(t, tr, &ev);
}

/* The path of a /proc/PID/maps line (its sixth field), or NULL when the
 * mapping is anonymous, a [special] one, or not a plain path. */
static char *maps_line_path(char *line)
{
	/* address perms offset dev inode path: skip five fields */
	char *p = line;
	for (int field = 0; field < 5; field++) {
		p = strchr(p, ' ');
		if (!p)
			return NULL;
		while (*p == ' ')
			p++;
	}
	return *p == '/' ? p : NULL;
}

void proc_emit_maps(Tracer *t, Tracee *tr)
{
	char path[64], *text = t->proc->maps, **files = t->proc->files;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)tr->tid);
	size_t len, n = 0;
	bool trunc = false;
	int r = read_proc_file(path, text, sizeof(t->proc->maps), &len, &trunc);
	if (r < 0) {
		if (tracer_short_of(r))
			t->stats.lost++;	/* an end without its mappings */
		return;
	}
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *file = maps_line_path(line);
		if (!file)
			continue;
		/* a library is mapped in several segments, one after another */
		if (n > 0 && strcmp(files[n - 1], file) == 0)
			continue;
		bool seen = false;
		for (size_t i = 0; i < n && !seen; i++)
			seen = strcmp(files[i], file) == 0;
		if (seen)
			continue;
		if (n == MAPS_FILES_MAX) {
			trunc = true;
			break;
		}
		files[n++] = file;
	}
	files[n] = NULL;
	TracerEvent ev = {
		.kind = TRACER_EVENT_MAPS,
		.maps = { .files = files, .n = n, .truncated = trunc },
	};
	tracer_emit(t, tr, &ev);
}
