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
#include "base/path.h"
#include "tracer-internal.h"

/* Bounds on what one exec event carries: argv and environ of a real server
 * fit easily; a hostile program cannot make us allocate without limit. */
#define PROC_ARGS_MAX (256 * 1024)
#define PROC_STATUS_MAX (16 * 1024)	/* status, fdinfo: ~1.5 KiB */
#define ARGV_MAX 4096
#define PROC_MAPS_MAX (1024 * 1024)	/* a Go server with CUDA: ~100 KiB */
#define MAPS_FILES_MAX 4096

/* Read at most MAX bytes of a /proc file; *ret_len excludes the added NUL. */
static int read_proc_file(const char *path, size_t max, char **ret, size_t *ret_len,
			  bool *ret_truncated)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	_cleanup_free_ char *buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	size_t len = 0;
	while (len < max) {
		ssize_t n = read(fd, buf + len, max - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return neg_errno();
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_truncated = len == max;
	*ret_len = len;
	*ret = TAKE_PTR(buf);
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

int proc_task_ids(pid_t tid, pid_t *ret_tgid, pid_t *ret_ppid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	_cleanup_free_ char *text = NULL;
	size_t len;
	bool trunc;
	int r = read_proc_file(path, PROC_STATUS_MAX, &text, &len, &trunc);
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

int proc_pidfd_pid(pid_t tid, int fd, pid_t *ret_pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)tid, fd);
	_cleanup_free_ char *text = NULL;
	size_t len;
	bool trunc;
	int r = read_proc_file(path, PROC_STATUS_MAX, &text, &len, &trunc);
	if (r < 0)
		return r;
	return field_pid(text, "Pid:", ret_pid);
}

/* Split a NUL-separated /proc buffer into a NULL-terminated vector of
 * pointers into BUF, keeping only entries KEEP accepts (NULL: all). */
static char **split_nul(char *buf, size_t len, size_t *ret_n, bool *ret_capped,
			bool (*keep)(const Tracer *t, const char *s), const Tracer *t)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		n++;
	*ret_capped = n > ARGV_MAX;
	if (n > ARGV_MAX)
		n = ARGV_MAX;
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < len && k < n; i += strlen(buf + i) + 1)
		if (!keep || keep(t, buf + i))
			v[k++] = buf + i;
	*ret_n = k;
	return v;
}

static bool env_wanted(const Tracer *t, const char *entry)
{
	const char *eq = strchr(entry, '=');
	if (!eq || !t->env_keep)
		return false;
	_cleanup_free_ char *name = strndup(entry, (size_t)(eq - entry));
	if (!name)
		return false;
	for (char **p = t->env_keep; *p; p++)
		if (fnmatch(*p, name, 0) == 0)
			return true;
	return false;
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

	_cleanup_free_ char *cmd = NULL, *env = NULL;
	_cleanup_free_ char **argv = NULL, **envv = NULL;
	size_t cmd_len = 0, env_len = 0, argc = 0, envc = 0;
	bool cmd_trunc = false, env_trunc = false, argv_capped = false, env_capped = false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)tr->tid);
	int r = read_proc_file(path, PROC_ARGS_MAX, &cmd, &cmd_len, &cmd_trunc);
	if (r >= 0 && !(argv = split_nul(cmd, cmd_len, &argc, &argv_capped, NULL, t)))
		r = -ENOMEM;
	if (tracer_short_of(r))
		t->stats.lost++;	/* an exec without its argv */
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)tr->tid);
	r = t->env_keep ? read_proc_file(path, PROC_ARGS_MAX, &env, &env_len, &env_trunc) : 0;
	if (r >= 0 && env && !(envv = split_nul(env, env_len, &envc, &env_capped, env_wanted, t)))
		r = -ENOMEM;
	if (tracer_short_of(r))
		t->stats.lost++;	/* nor its environment */

	static char *const empty[] = { NULL };
	TracerEvent ev = {
		.kind = TRACER_EVENT_EXEC,
		.exec = {
			.exe = exe,
			.cwd = cwd,
			.argv = argv ? argv : empty,
			.argc = argc,
			.argv_truncated = cmd_trunc || argv_capped,
			.env = envv ? envv : empty,
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
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)tr->tid);
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char **files = NULL;
	size_t len, n = 0;
	bool trunc = false;
	int r = read_proc_file(path, PROC_MAPS_MAX, &text, &len, &trunc);
	if (r >= 0 && !(files = calloc(MAPS_FILES_MAX + 1, sizeof(*files))))
		r = -ENOMEM;
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
	TracerEvent ev = {
		.kind = TRACER_EVENT_MAPS,
		.maps = { .files = files, .n = n, .truncated = trunc },
	};
	tracer_emit(t, tr, &ev);
}
