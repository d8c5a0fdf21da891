/* Fault tests on the real kernel: low limits on vgpu-run itself (open
 * files, address space) and a full file system under -o.  Each ends with
 * a clear exit 125 before the command starts, or a documented degradation
 * after it, and never a crash or a lost report (tests/helpers/tracee.c
 * makes the processes). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "../check-run.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *tracee(void)
{
	return env_path("TRACEE");
}

static const char *vgpu_run(void)
{
	return env_path("VGPU_RUN");
}

/* ---- Low limits on vgpu-run itself ----------------------------------- */

/* Everything of a forks run that the trace must hold whole: N fork
 * events, N + 1 exits and mappings, the launch's exec with its argv. */
static void assert_forks_whole(const Trace *t, int n)
{
	trace_assert_whole(t);
	ck_assert_uint_eq(trace_count(t, "fork", "kind", "fork"), (size_t)n);
	ck_assert_uint_eq(trace_count(t, "exit", NULL, NULL), (size_t)n + 1);
	ck_assert_uint_eq(trace_count(t, "observe", "what", "mappings"), (size_t)n + 1);
	json_object *argv;
	ck_assert(json_object_object_get_ex(trace_find(t, "exec", NULL, NULL), "argv", &argv));
	ck_assert_uint_eq(json_object_array_length(argv), 4);
}

/* "prlimit LIMIT vgpu-run -q -t TRACE -o REPORT -- tracee forks N N", or
 * untraced (TRACE NULL) "prlimit LIMIT tracee forks N N". */
static void run_forks_limited(const char *limit, const char *trace, const char *report, const char *n,
			      RunResult *r)
{
	if (trace)
		run_plain(ARGV("/usr/bin/prlimit", limit, vgpu_run(), "-q", "-t", trace, "-o", report, "--",
			       tracee(), "forks", n, n),
			  r);
	else
		run_plain(ARGV("/usr/bin/prlimit", limit, tracee(), "forks", n, n), r);
}

/* ulimit -n 32 for vgpu-run and a program that has 50 children alive at
 * once: vgpu-run needs no fd per task, so the run is whole. */
START_TEST(test_nofile_32_fifty_children)
{
	char dir[] = "/tmp/vgpu-nofile-XXXXXX", trace[300], report[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/t.jsonl", dir);
	snprintf(report, sizeof(report), "%s/r.json", dir);
	RunResult plain, r;
	run_forks_limited("--nofile=32", NULL, NULL, "50", &plain);
	ck_assert_str_eq(plain.out, "forks=50 sum=1225\n");
	run_forks_limited("--nofile=32", trace, report, "50", &r);
	ck_assert_int_eq(r.status, plain.status);
	ck_assert_str_eq(r.out, plain.out);
	ck_assert_str_eq(r.err, "");
	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	assert_forks_whole(&t, 50);
	trace_free(&t);
	json_object *rep = json_object_from_file(report);
	ck_assert_ptr_nonnull(rep);
	json_object_put(rep);
	sh("rm -r '%s'", dir);
	run_result_free(&plain);
	run_result_free(&r);
}
END_TEST

/* The least fd limit vgpu-run runs under (found here: it depends on the
 * fds it inherits): one less, it fails before the command runs, exit
 * 125 and one line naming the cause; at it, the run is whole, as its
 * fds stay the same however many tasks there are. */
START_TEST(test_nofile_least)
{
	char dir[] = "/tmp/vgpu-nofile-XXXXXX", trace[300], report[300], limit[32];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/t.jsonl", dir);
	snprintf(report, sizeof(report), "%s/r.json", dir);
	RunResult r;
	int least = 0;
	for (int n = 3; n <= 32 && !least; n++) {
		snprintf(limit, sizeof(limit), "--nofile=%d", n);
		run_forks_limited(limit, trace, report, "50", &r);
		if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
			least = n;
			ck_assert_str_eq(r.out, "forks=50 sum=1225\n");
			ck_assert_str_eq(r.err, "");
			Trace t;
			ck_assert_int_eq(trace_load(trace, &t), 0);
			assert_forks_whole(&t, 50);
			trace_free(&t);
		} else if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 127 &&
			   strstr(r.err, ": error while loading shared libraries: ")) {
			/* too few for the dynamic loader, before vgpu-run's
			 * main(): its own message and 127 */
			ck_assert_str_eq(r.out, "");
		} else {
			/* before the command ran: nothing on stdout */
			ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 125, "-n %d: status %#x: %s",
				      n, r.status, r.err);
			ck_assert_str_eq(r.out, "");
			ck_assert_msg(!strncmp(r.err, "vgpu-run: ", 10) && strchr(r.err, '\n') == r.err + strlen(r.err) - 1 &&
					      strstr(r.err, "Too many open files"),
				      "-n %d: %s", n, r.err);
		}
		run_result_free(&r);
	}
	ck_assert_msg(least > 3, "least fd limit %d", least);
	sh("rm -r '%s'", dir);
}
END_TEST

#define VM_CHILDREN "200"

/* Is every line of ERR one of vgpu-run's, naming memory? */
static bool memory_lines(const char *err)
{
	for (const char *l = err; *l;) {
		const char *end = strchr(l, '\n');
		if (!end || strncmp(l, "vgpu-run: ", 10))
			return false;
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)(end - l), l);
		if (!strstr(line, "out of memory") && !strstr(line, "Cannot allocate memory"))
			return false;
		l = end + 1;
	}
	return true;
}

/* One run of "vgpu-run -t -o -- tracee forks 200 200" under an address
 * space limit of KIB KiB, held to the rules: before the command, a
 * failure is one line and 125 (or the dynamic loader's 127, before
 * vgpu-run's main()); once the command ran, it ended exactly as
 * untraced (WANT), and either nothing was said and the trace is whole, or
 * every line says what ran out, and a count of losses in the trace's
 * stats is said in so many words.  Returns whether the command ran. */
static bool run_vm_limited(long kib, const char *dir, const char *want)
{
	char limit[64], trace[300], report[300];
	snprintf(limit, sizeof(limit), "--as=%ld", kib * 1024);
	snprintf(trace, sizeof(trace), "%s/t.jsonl", dir);
	snprintf(report, sizeof(report), "%s/r.json", dir);
	unlink(trace);
	unlink(report);
	RunResult r;
	run_forks_limited(limit, trace, report, VM_CHILDREN, &r);
	bool ran = *r.out != '\0';
	if (!ran) {
		ck_assert_msg(WIFEXITED(r.status), "-v %ld: status %#x", kib, r.status);
		if (WEXITSTATUS(r.status) == 127)
			ck_assert_msg(strstr(r.err, ": error while loading shared libraries: "), "-v %ld: %s", kib,
				      r.err);
		else
			ck_assert_msg(WEXITSTATUS(r.status) == 125 && memory_lines(r.err) &&
					      strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
				      "-v %ld: status %#x: %s", kib, r.status, r.err);
		run_result_free(&r);
		return false;
	}
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "-v %ld: status %#x: %s", kib, r.status,
		      r.err);
	ck_assert_str_eq(r.out, want);
	ck_assert_msg(memory_lines(r.err), "-v %ld: %s", kib, r.err);
	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	if (!*r.err) {
		assert_forks_whole(&t, atoi(VM_CHILDREN));
		ck_assert_int_eq(trace_stat(&t, "lost"), -1);
		json_object *rep = json_object_from_file(report);
		ck_assert_msg(rep, "-v %ld: no report", kib);
		json_object_put(rep);
	} else if (t.n && ev_is(t.ev[t.n - 1], "stats") && trace_stat(&t, "lost") > 0) {
		char line[256];
		snprintf(line, sizeof(line), "vgpu-run: out of memory or file descriptors %lld times while tracing: ",
			 trace_stat(&t, "lost"));
		ck_assert_msg(strstr(r.err, line), "-v %ld: %s", kib, r.err);
	}
	trace_free(&t);
	run_result_free(&r);
	return true;
}

/* ulimit -v on vgpu-run (and so on the command), a program with 200
 * children at once: the least limit vgpu-run runs the command under is
 * found by bisection (every probe held to the rules of run_vm_limited),
 * then the run is repeated at it and above, up to 8 MiB more, where
 * nothing may be lost.  A failure in the middle never touches the
 * command: it ends as untraced and vgpu-run says what it could not do,
 * as it does when it has no thread for a rewrite asked for. */
START_TEST(test_address_space_limits)
{
	if (SANITIZED)
		return;	/* shadow memory needs terabytes of address space */
	char dir[] = "/tmp/vgpu-vm-XXXXXX", want[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	RunResult plain;
	run_plain(ARGV(tracee(), "forks", VM_CHILDREN, VM_CHILDREN), &plain);
	ck_assert_msg(WIFEXITED(plain.status) && WEXITSTATUS(plain.status) == 0, "status %#x", plain.status);
	snprintf(want, sizeof(want), "%s", plain.out);
	run_result_free(&plain);

	long lo = 1024, hi = 64 * 1024;	/* KiB: too little for the loader; plenty */
	ck_assert(!run_vm_limited(lo, dir, want));
	ck_assert(run_vm_limited(hi, dir, want));
	while (hi - lo > 4) {
		long mid = (lo + hi) / 2 / 4 * 4;
		if (run_vm_limited(mid, dir, want))
			hi = mid;
		else
			lo = mid;
	}
	/* the command, untraced under the least limit, ends the same */
	char limit[64];
	snprintf(limit, sizeof(limit), "--as=%ld", hi * 1024);
	run_forks_limited(limit, NULL, NULL, VM_CHILDREN, &plain);
	ck_assert_str_eq(plain.out, want);
	run_result_free(&plain);
	for (long more = 4; more <= 8192; more *= 2)
		ck_assert(run_vm_limited(hi + more, dir, want));
	/* 8 MiB over the least: nothing lost */
	char trace[300], report[300];
	snprintf(trace, sizeof(trace), "%s/t.jsonl", dir);
	snprintf(report, sizeof(report), "%s/r.json", dir);
	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	assert_forks_whole(&t, atoi(VM_CHILDREN));
	trace_free(&t);

	/* A rewrite asked for (SIGUSR1) 1 MiB over the least: it is done,
	 * or vgpu-run says it could not start the thread that does it; the
	 * report is written at the end either way. */
	RunResult r;
	snprintf(limit, sizeof(limit), "--as=%ld", (hi + 1024) * 1024);
	run_plain(ARGV("/usr/bin/prlimit", limit, vgpu_run(), "-q", "-t", trace, "-o", report, "--", tracee(),
		       "signal-parent", "10"),
		  &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "sent 10\n");
	ck_assert_int_eq(trace_load(trace, &t), 0);
	if (*r.err) {
		/* pthread_create()'s error: EAGAIN, as POSIX says, with glibc */
		char head[600];
		static const char tail[] = " (it is written when the command ends)\n";
		snprintf(head, sizeof(head), "vgpu-run: cannot rewrite the report '%s' while the command runs: no thread "
			 "for it: ", report);
		size_t len = strlen(r.err);
		ck_assert_msg(!strncmp(r.err, head, strlen(head)) && len > sizeof(tail) &&
				      !strcmp(r.err + len - strlen(tail), tail) && strchr(r.err, '\n') == r.err + len - 1,
			      "%s", r.err);
		ck_assert_int_eq(trace_stat(&t, "rewrites"), -1);
	} else {
		ck_assert_int_eq(trace_stat(&t, "rewrites"), 1);
	}
	trace_free(&t);
	json_object *rep = json_object_from_file(report);
	ck_assert_msg(rep, "no report at %s", report);
	json_object_put(rep);
	run_result_free(&r);
	sh("rm -r '%s'", dir);
}
END_TEST

/* ---- A full file system under -o ------------------------------------- */

/* As root, in this test's own mount namespace (check forks each test): a
 * tmpfs at DIR.  Returns false where that cannot be had. */
static bool private_tmpfs(const char *dir, const char *size)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return false;
	char opts[64];
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	ck_assert_msg(mount("tmpfs", dir, "tmpfs", 0, opts) == 0, "mount tmpfs: %s", strerror(errno));
	return true;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char b[4096];
	for (size_t n; (n = fread(b, 1, sizeof(b), f)) > 0;)
		fwrite(b, 1, n, m);
	fclose(m);
	fclose(f);
	return buf;
}

/* The names in DIR, sorted, comma-separated. */
static void names_in(const char *dir, char *out, size_t size)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | paste -sd, -", dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	if (!fgets(out, (int)size, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

/* -o into a directory whose file system is full (the full TMPDIR is
 * test-faults-live.c's): the command's exit code is kept, vgpu-run says
 * one line, "cannot write the report '...': No space left on device",
 * even when a rewrite during the run (SIGUSR1) failed the same way
 * first, and the previous report is not destroyed: kept whole in place
 * with --report-keep=0 (the write goes to a temporary file renamed over
 * it), moved to FILE.1 otherwise; no temporary file is left behind. */
START_TEST(test_report_on_full_filesystem)
{
	char dir[] = "/tmp/vgpu-fullfs-XXXXXX", report[300], kept[300], want[400], names[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	bool tmpfs = private_tmpfs(dir, "64k");
	if (!tmpfs) {
		rmdir(dir);
		printf("full file system: skipped here (needs root for a private tmpfs; nothing else is safe to fill)\n");
		return;
	}
	snprintf(report, sizeof(report), "%s/r.json", dir);
	snprintf(kept, sizeof(kept), "%s/r.json.1", dir);
	snprintf(want, sizeof(want), "vgpu-run: cannot write the report '%s': No space left on device\n", report);

	RunResult r;
	run_plain(ARGV(vgpu_run(), "-q", "-o", report, "--", tracee(), "exit", "3"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 3);
	ck_assert_str_eq(r.err, "");
	run_result_free(&r);
	char *before = slurp(report);
	fs_fill(dir, 0600);

	run_plain(ARGV(vgpu_run(), "-q", "--report-keep=0", "-o", report, "--", tracee(), "exit", "4"), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 4, "status %#x", r.status);
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);
	char *now = slurp(report);
	ck_assert_str_eq(now, before);
	free(now);
	names_in(dir, names, sizeof(names));
	ck_assert_str_eq(names, "fill,r.json");

	/* a rewrite asked for during the run fails first: still one line */
	run_plain(ARGV(vgpu_run(), "-q", "--report-keep=0", "-o", report, "-t", "/dev/null", "--", tracee(),
		       "signal-parent", "10"),
		  &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x", r.status);
	ck_assert_str_eq(r.out, "sent 10\n");
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);
	now = slurp(report);
	ck_assert_str_eq(now, before);
	free(now);
	names_in(dir, names, sizeof(names));
	ck_assert_str_eq(names, "fill,r.json");

	/* the default keeps the previous report as r.json.1 */
	run_plain(ARGV(vgpu_run(), "-q", "-o", report, "--", tracee(), "exit", "5"), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 5, "status %#x", r.status);
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);
	now = slurp(kept);
	ck_assert_str_eq(now, before);
	free(now);
	names_in(dir, names, sizeof(names));
	ck_assert_str_eq(names, "fill,r.json.1");

	free(before);
	ck_assert_int_eq(umount2(dir, MNT_DETACH), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("limits");
	TCase *limits = tcase_create("limits");
	tcase_set_timeout(limits, 120);
	tcase_add_test(limits, test_nofile_32_fifty_children);
	tcase_add_test(limits, test_nofile_least);
	tcase_add_test(limits, test_address_space_limits);
	tcase_add_test(limits, test_report_on_full_filesystem);
	suite_add_tcase(s, limits);
	return check_run(s);
}
