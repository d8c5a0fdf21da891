/* Live-test harness (see harness.h). */
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *env_path(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "%s is not set (run the tests through meson)", name);
	return v;
}

/* Read both pipes until EOF without deadlocking on either. */
static void drain(int out_fd, int err_fd, char **ret_out, char **ret_err)
{
	size_t cap[2] = { 4096, 4096 }, len[2] = { 0, 0 };
	char *buf[2] = { malloc(cap[0]), malloc(cap[1]) };
	struct pollfd p[2] = { { .fd = out_fd, .events = POLLIN }, { .fd = err_fd, .events = POLLIN } };
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (len[i] + 1024 > cap[i])
				buf[i] = realloc(buf[i], cap[i] *= 2);
			ssize_t n = read(p[i].fd, buf[i] + len[i], cap[i] - len[i] - 1);
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
			} else {
				len[i] += (size_t)n;
			}
		}
	}
	buf[0][len[0]] = '\0';
	buf[1][len[1]] = '\0';
	*ret_out = buf[0];
	*ret_err = buf[1];
}

void run_plain(const char *const *argv, RunResult *ret)
{
	run_plain_usage(argv, ret, NULL);
}

void run_plain_usage(const char *const *argv, RunResult *ret, struct rusage *usage)
{
	int o[2], e[2];
	memset(ret, 0, sizeof(*ret));
	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(e, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(99);
	}
	close(o[1]);
	close(e[1]);
	drain(o[0], e[0], &ret->out, &ret->err);
	struct rusage ru;
	ck_assert_int_eq(wait4(pid, &ret->status, 0, &ru), pid);
	if (usage)
		*usage = ru;
}

void temp_file(char *tmpl)
{
	int fd = mkstemp(tmpl);
	ck_assert_msg(fd >= 0, "mkstemp %s: %s", tmpl, strerror(errno));
	close(fd);
}

void run_traced(const char *const *argv, RunResult *ret)
{
	char tpath[] = "/tmp/vgpu-live-XXXXXX";
	temp_file(tpath);

	const char *full[64] = { env_path("VGPU_RUN"), "-q", "-t", tpath, "--" };
	size_t n = 5;
	for (size_t i = 0; argv[i]; i++) {
		ck_assert_uint_lt(n, 63);
		full[n++] = argv[i];
	}
	full[n] = NULL;
	run_plain(full, ret);
	int r = trace_load(tpath, &ret->trace);
	ck_assert_msg(r == 0, "cannot load trace %s: %s", tpath, strerror(-r));
	unlink(tpath);
}

void run_result_free(RunResult *r)
{
	free(r->out);
	free(r->err);
	trace_free(&r->trace);
}

int trace_load(const char *path, Trace *ret)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	Trace t = { 0 };
	size_t cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	int r = 0;
	while ((len = getline(&line, &lcap, f)) > 0) {
		json_object *o = json_tokener_parse(line);
		if (!o) {
			r = -EBADMSG;	/* every line must be one JSON object */
			break;
		}
		if (t.n == cap)
			t.ev = realloc(t.ev, (cap = cap ? cap * 2 : 256) * sizeof(*t.ev));
		t.ev[t.n++] = o;
	}
	free(line);
	fclose(f);
	if (r < 0) {
		trace_free(&t);
		return r;
	}
	*ret = t;
	return 0;
}

void trace_free(Trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		json_object_put(t->ev[i]);
	free(t->ev);
	memset(t, 0, sizeof(*t));
}

const char *ev_str(json_object *ev, const char *key)
{
	json_object *v;
	if (!ev || !json_object_object_get_ex(ev, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

long long ev_int(json_object *ev, const char *key, long long dflt)
{
	json_object *v;
	if (!ev || !json_object_object_get_ex(ev, key, &v) || !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}

bool ev_is(json_object *ev, const char *event)
{
	const char *e = ev_str(ev, "event");
	return e && strcmp(e, event) == 0;
}

static bool matches(json_object *ev, const char *event, const char *key, const char *value)
{
	if (!ev_is(ev, event))
		return false;
	if (!key)
		return true;
	const char *v = ev_str(ev, key);
	return v && strcmp(v, value) == 0;
}

json_object *trace_find(const Trace *t, const char *event, const char *key, const char *value)
{
	for (size_t i = 0; i < t->n; i++)
		if (matches(t->ev[i], event, key, value))
			return t->ev[i];
	return NULL;
}

void trace_assert_whole(const Trace *t)
{
	ck_assert_uint_ge(t->n, 2);
	ck_assert(ev_is(t->ev[0], "header"));
	for (size_t i = 0; i < t->n; i++)
		ck_assert_int_eq(ev_int(t->ev[i], "seq", -1), (long long)i + 1);
	ck_assert(ev_is(t->ev[t->n - 1], "stats"));
}

size_t trace_count(const Trace *t, const char *event, const char *key, const char *value)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		n += matches(t->ev[i], event, key, value);
	return n;
}

json_object *report_dir(json_object *report, const char *name)
{
	json_object *dirs;
	if (!json_object_object_get_ex(report, "directories", &dirs))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(dirs); i++) {
		json_object *d = json_object_array_get_idx(dirs, i);
		if (!strcmp(ev_str(d, "name"), name))
			return d;
	}
	return NULL;
}

bool trace_mapped(const Trace *t, long long pid, const char *file)
{
	for (size_t i = 0; i < t->n; i++) {
		json_object *files;
		if (!ev_is(t->ev[i], "observe") || ev_int(t->ev[i], "pid", 0) != pid ||
		    !json_object_object_get_ex(t->ev[i], "files", &files))
			continue;
		for (size_t j = 0; j < json_object_array_length(files); j++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(files, j)), file))
				return true;
	}
	return false;
}

long long trace_stat(const Trace *t, const char *field)
{
	json_object *st = t->n ? t->ev[t->n - 1] : NULL;
	ck_assert_msg(ev_is(st, "stats"), "the trace does not end with a stats record");
	return ev_int(st, field, -1);
}

void run_served(const char *const *argv, const char *const *env, const char *ready,
		RunResult *ret)
{
	int e[2];
	ck_assert_int_eq(pipe(e), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(e[1], 2);
		close(e[0]);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(99);
	}
	close(e[1]);

	size_t cap = 1 << 16, len = 0;
	char *err = calloc(1, cap);
	time_t deadline = time(NULL) + 120;
	bool up = false;
	while (!up && time(NULL) < deadline) {
		struct pollfd p = { .fd = e[0], .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (len + 4096 > cap)
			err = realloc(err, cap *= 2);
		ssize_t n = read(e[0], err + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		err[len] = '\0';
		up = strstr(err, ready) != NULL;
	}
	ck_assert_msg(up, "'%s' never came; stderr:\n%s", ready, err);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	for (ssize_t n; (n = read(e[0], err + len, cap - len - 1)) > 0;) {
		len += (size_t)n;
		if (len + 4096 > cap)
			err = realloc(err, cap *= 2);
	}
	err[len] = '\0';
	close(e[0]);
	memset(ret, 0, sizeof(*ret));
	ck_assert_int_eq(waitpid(pid, &ret->status, 0), pid);
	ret->err = err;
	ret->out = strdup("");
}

void strip_written_at(char *s)
{
	static const char key[] = "\"written_at\":\"";
	char *at = s ? strstr(s, key) : NULL;
	if (!at)
		return;
	char *end = strchr(at + sizeof(key) - 1, '"');
	if (!end)
		return;
	end++;
	if (*end == ',')
		end++;
	else if (at > s && at[-1] == ',')
		at--;
	memmove(at, end, strlen(end) + 1);
}

void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

void fs_fill(const char *dir, mode_t mode)
{
	char fill[1200];
	snprintf(fill, sizeof(fill), "%s/fill", dir);
	int fd = open(fill, O_WRONLY | O_CREAT | O_CLOEXEC, mode);
	ck_assert_int_ge(fd, 0);
	static const char block[4096];
	while (write(fd, block, sizeof(block)) > 0)
		;
	ck_assert_int_eq(errno, ENOSPC);
	close(fd);
	struct statvfs sv;
	ck_assert_int_eq(statvfs(dir, &sv), 0);
	ck_assert_int_eq(sv.f_bavail, 0);
}
