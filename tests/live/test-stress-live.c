/* Stress and fault tests on the real kernel: vgpu-run never harms the
 * program it traces and never falls over itself.
 *
 * Each test runs the same program untraced and traced and asks for the
 * same exit status and the same output, then counts, exactly, what the
 * trace says happened.  Nothing here depends on timing: the programs
 * (tests/helpers/tracee.c) make their processes and threads meet on
 * pipes and barriers, and every count is of something that must happen.
 * Low limits on vgpu-run itself and a full file system under -o are
 * test-limits-live.c's. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* ARGV untraced into *PLAIN, and under "vgpu-run -q -t" into *TRACED:
 * the same status, the same stdout and stderr (vgpu-run -q adds nothing). */
static void run_both(const char *const *argv, RunResult *plain, RunResult *traced)
{
	run_plain(argv, plain);
	run_traced(argv, traced);
	ck_assert_msg(plain->status == traced->status, "status untraced %#x, traced %#x; stderr: %s", plain->status,
		      traced->status, traced->err);
	ck_assert_str_eq(traced->out, plain->out);
	ck_assert_str_eq(traced->err, plain->err);
}

static long long root_pid(const Trace *t)
{
	json_object *ex = trace_find(t, "exec", NULL, NULL);
	ck_assert_ptr_nonnull(ex);
	return ev_int(ex, "pid", -1);
}

/* The exit code of process PID in the trace (-1: no exit event). */
static long long exit_code(const Trace *t, long long pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (ev_is(t->ev[i], "exit") && ev_int(t->ev[i], "pid", 0) == pid)
			return ev_int(t->ev[i], "code", -1);
	return -1;
}

static size_t count_where(const Trace *t, const char *event, const char *key, long long value)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		n += ev_is(t->ev[i], event) && ev_int(t->ev[i], key, -1) == value;
	return n;
}

/* ---- Many processes, threads and programs ----------------------------- */

#define FORKS 2000

/* 2000 processes (at most 64 alive at once), child I exiting I % 256 and
 * reaped by its parent, which prints the sum of the codes: the output is
 * the same traced, and the trace accounts for every process: 2000 fork
 * events in fork order, each child's exit event with the code of its
 * place in that order, every process's mappings at its end, 2001 tasks. */
START_TEST(test_2000_forks_each_accounted)
{
	RunResult plain, r;
	run_both(ARGV(tracee(), "forks", "2000", "64"), &plain, &r);
	long sum = 0;
	for (int i = 0; i < FORKS; i++)
		sum += i % 256;
	char want[64];
	snprintf(want, sizeof(want), "forks=%d sum=%ld\n", FORKS, sum);
	ck_assert_str_eq(r.out, want);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x", r.status);

	trace_assert_whole(&r.trace);
	long long root = root_pid(&r.trace);
	static long long child[FORKS];
	static bool exited[FORKS];
	size_t n = 0;
	for (size_t i = 0; i < r.trace.n; i++) {
		json_object *ev = r.trace.ev[i];
		if (!ev_is(ev, "fork"))
			continue;
		ck_assert_str_eq(ev_str(ev, "kind"), "fork");
		ck_assert_int_eq(ev_int(ev, "pid", 0), root);
		ck_assert_uint_lt(n, FORKS);
		child[n++] = ev_int(ev, "child_pid", -1);
	}
	ck_assert_uint_eq(n, FORKS);
	size_t exits = 0;
	long long code_sum = 0;
	for (size_t i = 0; i < r.trace.n; i++) {
		json_object *ev = r.trace.ev[i];
		if (!ev_is(ev, "exit") || ev_int(ev, "pid", 0) == root)
			continue;
		size_t k = 0;
		while (k < FORKS && child[k] != ev_int(ev, "pid", 0))
			k++;
		ck_assert_msg(k < FORKS, "exit of %lld, never forked", ev_int(ev, "pid", 0));
		ck_assert_msg(!exited[k], "two exits of %lld", child[k]);
		exited[k] = true;
		ck_assert_int_eq(ev_int(ev, "code", -1), (long long)(k % 256));
		code_sum += ev_int(ev, "code", 0);
		exits++;
	}
	ck_assert_uint_eq(exits, FORKS);
	ck_assert_int_eq(code_sum, sum);
	ck_assert_int_eq(exit_code(&r.trace, root), 0);
	ck_assert_uint_eq(trace_count(&r.trace, "observe", "what", "mappings"), FORKS + 1);
	ck_assert_int_eq(trace_stat(&r.trace, "tasks"), FORKS + 1);
	run_result_free(&plain);
	run_result_free(&r);
}
END_TEST

#define THREADS 500

/* 500 threads alive at once (each waits on a barrier that opens only when
 * all are there), then joined: the trace has 500 thread events of the one
 * process, 500 distinct tids, and the stats saw all 501 tasks live at
 * once; a thread's end is not a process's (one exit event). */
START_TEST(test_500_threads_alive_at_once)
{
	RunResult plain, r;
	run_both(ARGV(tracee(), "threads", "500"), &plain, &r);
	ck_assert_str_eq(r.out, "threads=500\n");
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x", r.status);

	trace_assert_whole(&r.trace);
	long long root = root_pid(&r.trace);
	ck_assert_uint_eq(trace_count(&r.trace, "fork", "kind", "thread"), THREADS);
	ck_assert_uint_eq(trace_count(&r.trace, "fork", NULL, NULL), THREADS);
	ck_assert_uint_eq(count_where(&r.trace, "fork", "child_pid", root), THREADS);
	static long long tids[THREADS];
	size_t n = 0;
	for (size_t i = 0; i < r.trace.n; i++) {
		if (!ev_is(r.trace.ev[i], "fork"))
			continue;
		long long tid = ev_int(r.trace.ev[i], "child_tid", -1);
		for (size_t k = 0; k < n; k++)
			ck_assert_int_ne(tids[k], tid);
		ck_assert_int_ne(tid, root);
		tids[n++] = tid;
	}
	ck_assert_int_eq(trace_stat(&r.trace, "max_live_tasks"), THREADS + 1);
	ck_assert_int_eq(trace_stat(&r.trace, "tasks"), THREADS + 1);
	ck_assert_uint_eq(trace_count(&r.trace, "exit", NULL, NULL), 1);
	ck_assert_int_eq(exit_code(&r.trace, root), 0);
	run_result_free(&plain);
	run_result_free(&r);
}
END_TEST

#define EXECS 2000

/* One process re-execs itself 2000 times with a counter, then exits 33:
 * the trace has the launch and the 2000 execs (2001 exec events and 2001
 * execve calls that returned 0), each of the same pid with the counter
 * one lower, and the exit code 33. */
START_TEST(test_2000_execs_in_a_chain)
{
	RunResult plain, r;
	run_both(ARGV(tracee(), "exec-chain", "2000"), &plain, &r);
	ck_assert_str_eq(r.out, "chain end\n");
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 33, "status %#x", r.status);

	trace_assert_whole(&r.trace);
	long long root = root_pid(&r.trace);
	long want = EXECS;
	size_t execve_ok = 0;
	for (size_t i = 0; i < r.trace.n; i++) {
		json_object *ev = r.trace.ev[i], *argv;
		const char *sc = ev_str(ev, "syscall");
		if (ev_is(ev, "syscall") && sc && !strcmp(sc, "execve"))
			execve_ok += ev_int(ev, "result", -1) == 0;
		if (!ev_is(ev, "exec"))
			continue;
		ck_assert_int_eq(ev_int(ev, "pid", 0), root);
		ck_assert_int_eq(ev_int(ev, "tid", 0), root);
		ck_assert(json_object_object_get_ex(ev, "argv", &argv));
		ck_assert_uint_eq(json_object_array_length(argv), 3);
		char n[32];
		snprintf(n, sizeof(n), "%ld", want--);
		ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(argv, 2)), n);
	}
	ck_assert_int_eq(want, -1);	/* 2001 exec events, down to 0 */
	ck_assert_uint_eq(execve_ok, EXECS + 1);
	ck_assert_uint_eq(trace_count(&r.trace, "exit", NULL, NULL), 1);
	ck_assert_int_eq(exit_code(&r.trace, root), 33);
	ck_assert_int_eq(trace_stat(&r.trace, "tasks"), 1);
	run_result_free(&plain);
	run_result_free(&r);
}
END_TEST

#define PROCS 64
#define OPENS 1000

/* Read the trace at PATH line by line (64000 events are too many to keep
 * as objects): seq must be 1, 2, 3, ... with no gap or repeat; FN sees
 * each event.  Returns the number of lines. */
static size_t scan_trace(const char *path, void (*fn)(json_object *ev, void *ud), void *ud)
{
	FILE *f = fopen(path, "re");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0, n = 0;
	json_object *last = NULL;
	while (getline(&line, &cap, f) > 0) {
		json_object *ev = json_tokener_parse(line);
		ck_assert_msg(ev, "line %zu is not JSON", n + 1);
		ck_assert_int_eq(ev_int(ev, "seq", -1), (long long)++n);
		fn(ev, ud);
		json_object_put(last);
		last = ev;
	}
	ck_assert_msg(ev_is(last, "stats"), "the trace does not end with its stats line");
	json_object_put(last);
	free(line);
	fclose(f);
	return n;
}

typedef struct Opens {
	long count[PROCS];
	long long pid[PROCS];
	long other;		/* a libstress path that is none of them */
} Opens;

static void count_open(json_object *ev, void *ud)
{
	Opens *o = ud;
	const char *path = ev_str(ev, "path");
	int i, end = 0;
	if (!ev_is(ev, "syscall") || !path || strncmp(path, "/nonexistent-vgpu/libstress-", 28))
		return;
	if (sscanf(path, "/nonexistent-vgpu/libstress-%d.so%n", &i, &end) != 1 || path[end] || i < 0 ||
	    i >= PROCS) {
		o->other++;
		return;
	}
	ck_assert_str_eq(ev_str(ev, "syscall"), "openat");
	ck_assert_str_eq(ev_str(ev, "result"), "ENOENT");
	if (!o->count[i]++)
		o->pid[i] = ev_int(ev, "pid", -1);
	ck_assert_int_eq(ev_int(ev, "pid", -1), o->pid[i]);
}

/* 64 processes at once (none starts before all exist), each opening its
 * own missing library 1000 times: all 64000 calls are in the trace, 1000
 * for each path, each from one process of its own, and the trace's seq
 * runs 1, 2, 3, ... to its last line: nothing lost, nothing twice. */
START_TEST(test_64_procs_1000_opens_each_none_lost)
{
	RunResult plain, r;
	run_plain(ARGV(tracee(), "procs-opens", "64", "1000"), &plain);
	ck_assert_str_eq(plain.out, "procs=64 opens=64000\n");
	char trace[] = "/tmp/vgpu-stress-XXXXXX";
	temp_file(trace);
	run_plain(ARGV(vgpu_run(), "-q", "-t", trace, "--", tracee(), "procs-opens", "64", "1000"), &r);
	ck_assert_int_eq(r.status, plain.status);
	ck_assert_str_eq(r.out, plain.out);
	ck_assert_str_eq(r.err, "");

	Opens o = { 0 };
	size_t lines = scan_trace(trace, count_open, &o);
	ck_assert_int_eq(o.other, 0);
	for (int i = 0; i < PROCS; i++) {
		ck_assert_msg(o.count[i] == OPENS, "libstress-%d.so: %ld opens in the trace", i, o.count[i]);
		for (int k = 0; k < i; k++)
			ck_assert_int_ne(o.pid[k], o.pid[i]);
	}
	ck_assert_uint_gt(lines, PROCS * OPENS);
	unlink(trace);
	run_result_free(&plain);
	run_result_free(&r);
}
END_TEST

/* ---- A program that uses ptrace, or closes every fd -------------------- */

/* Yama (when there) may forbid PTRACE_ATTACH to one's own child (scope
 * 3), or allow it only with CAP_SYS_PTRACE (scope 2). */
static bool may_attach_own_child(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int scope = 0;
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = 3;
		fclose(f);
	}
	return scope <= 1 || (scope == 2 && geteuid() == 0);
}

/* A traced program that uses ptrace itself: a task has one tracer, and
 * under vgpu-run every task already has it, so PTRACE_ATTACH and
 * PTRACE_SEIZE on the program's own child and PTRACE_TRACEME all fail
 * with EPERM (kernel/ptrace.c: ptrace_attach() and ptrace_traceme() refuse
 * a task that is already ptraced); untraced, all three work.  The child
 * is not lost: its parent reaps it (exit 7), and the trace has its fork
 * and its exit. */
START_TEST(test_program_using_ptrace)
{
	RunResult plain, r;
	run_traced(ARGV(tracee(), "ptrace"), &r);
	ck_assert_str_eq(r.out, "attach=EPERM seize=EPERM child=exited:7 traceme=EPERM\n");
	ck_assert_str_eq(r.err, "");
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x", r.status);
	trace_assert_whole(&r.trace);
	long long root = root_pid(&r.trace);
	json_object *fork = trace_find(&r.trace, "fork", "kind", "fork");
	ck_assert_ptr_nonnull(fork);
	ck_assert_uint_eq(trace_count(&r.trace, "fork", NULL, NULL), 1);
	ck_assert_int_eq(exit_code(&r.trace, ev_int(fork, "child_pid", -1)), 7);
	ck_assert_int_eq(exit_code(&r.trace, root), 0);
	ck_assert_uint_eq(trace_count(&r.trace, "exit", NULL, NULL), 2);
	run_result_free(&r);

	/* Untraced, the kernel lets a parent trace its child, and
	 * PTRACE_TRACEME makes the program's parent (this test) its tracer:
	 * harmless, it ends without another signal. */
	if (may_attach_own_child()) {
		run_plain(ARGV(tracee(), "ptrace"), &plain);
		ck_assert_str_eq(plain.out, "attach=0 seize=0 child=exited:7 traceme=0\n");
		ck_assert_msg(WIFEXITED(plain.status) && WEXITSTATUS(plain.status) == 0, "status %#x",
			      plain.status);
		run_result_free(&plain);
	}
}
END_TEST

/* A traced program that attaches to vgpu-run itself, as a root program
 * may (its parent here is vgpu-run): PTRACE_ATTACH, PTRACE_SEIZE with the
 * pid's high bits set, and PTRACE_ATTACH on each of vgpu-run's threads
 * all get EPERM, as for a task that may not be traced, and both go on.
 * Without the guard the attach worked and stopped vgpu-run (the helper
 * lets go at once, so the test fails instead of hanging). */
START_TEST(test_program_attaching_vgpu_run)
{
	RunResult r;
	run_traced(ARGV(tracee(), "ptrace-parent"), &r);
	ck_assert_str_eq(r.out, "parent=EPERM parent-seize=EPERM threads-attached=0\n");
	ck_assert_str_eq(r.err, "");
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x", r.status);
	trace_assert_whole(&r.trace);
	run_result_free(&r);
}
END_TEST

#define CLOSED_CHILDREN 20

/* The program closes every fd it has (close_range(0, ~0U, 0): 0, 1 and 2
 * too), checks that none is left, points 0, 1 and 2 at a file and forks
 * 20 children in turn that write to fd 2 and open a missing library.
 * vgpu-run's own fds are in its own process: the file gets the same text
 * traced and untraced, the exit code (42) is kept, each child's write to
 * fd 2 is captured, each open and exit recorded, and the trace and the
 * report vgpu-run writes meanwhile are whole. */
START_TEST(test_program_closing_every_fd)
{
	char dir[] = "/tmp/vgpu-closefds-XXXXXX", out_plain[300], out_traced[300], trace[300], report[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(out_plain, sizeof(out_plain), "%s/plain.out", dir);
	snprintf(out_traced, sizeof(out_traced), "%s/traced.out", dir);
	snprintf(trace, sizeof(trace), "%s/trace.jsonl", dir);
	snprintf(report, sizeof(report), "%s/report.json", dir);
	sh("touch '%s' '%s'", out_plain, out_traced);

	RunResult plain, r;
	run_plain(ARGV(tracee(), "closefds", out_plain, "20"), &plain);
	run_plain(ARGV(vgpu_run(), "-q", "-t", trace, "-o", report, "--", tracee(), "closefds", out_traced, "20"),
		  &r);
	ck_assert_msg(WIFEXITED(plain.status) && WEXITSTATUS(plain.status) == 42, "status %#x", plain.status);
	ck_assert_int_eq(r.status, plain.status);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "");

	char want[1024];
	size_t len = (size_t)snprintf(want, sizeof(want), "open fds after close_range: 0\n");
	long sum = 0;
	for (int i = 0; i < CLOSED_CHILDREN; i++) {
		len += (size_t)snprintf(want + len, sizeof(want) - len, "child %d\n", i);
		sum += i + 1;
	}
	snprintf(want + len, sizeof(want) - len, "sum=%ld\n", sum);
	sh("cmp -s '%s' '%s'", out_plain, out_traced);
	FILE *f = fopen(out_traced, "re");
	char got[1024];
	size_t n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	ck_assert_str_eq(got, want);

	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	trace_assert_whole(&t);
	long long root = root_pid(&t);
	ck_assert_int_eq(exit_code(&t, root), 42);
	size_t k = 0;
	for (size_t i = 0; i < t.n; i++) {
		json_object *ev = t.ev[i];
		if (!ev_is(ev, "output"))
			continue;
		char line[32];
		snprintf(line, sizeof(line), "child %zu\n", k++);
		ck_assert_int_eq(ev_int(ev, "fd", -1), 2);
		ck_assert_str_eq(ev_str(ev, "text"), line);
		ck_assert_int_ne(ev_int(ev, "pid", 0), root);
		ck_assert_int_eq(exit_code(&t, ev_int(ev, "pid", 0)), (long long)k);
	}
	ck_assert_uint_eq(k, CLOSED_CHILDREN);
	for (int i = 0; i < CLOSED_CHILDREN; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/nonexistent-vgpu/libclosed-%d.so", i);
		json_object *ev = trace_find(&t, "syscall", "path", path);
		ck_assert_msg(ev, "no open of %s", path);
		ck_assert_str_eq(ev_str(ev, "result"), "ENOENT");
	}
	ck_assert_uint_eq(trace_count(&t, "exit", NULL, NULL), CLOSED_CHILDREN + 1);
	trace_free(&t);
	json_object *rep = json_object_from_file(report);
	ck_assert_msg(rep, "no report at %s", report);
	json_object *ended;
	ck_assert(json_object_object_get_ex(rep, "exit", &ended));
	ck_assert_int_eq(ev_int(ended, "code", -1), 42);
	json_object_put(rep);
	sh("rm -r '%s'", dir);
	run_result_free(&plain);
	run_result_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stress");
	TCase *many = tcase_create("many");
	tcase_set_timeout(many, 120);
	tcase_add_test(many, test_2000_forks_each_accounted);
	tcase_add_test(many, test_500_threads_alive_at_once);
	tcase_add_test(many, test_2000_execs_in_a_chain);
	tcase_add_test(many, test_64_procs_1000_opens_each_none_lost);
	suite_add_tcase(s, many);
	TCase *programs = tcase_create("programs");
	tcase_set_timeout(programs, 60);
	tcase_add_test(programs, test_program_using_ptrace);
	tcase_add_test(programs, test_program_attaching_vgpu_run);
	tcase_add_test(programs, test_program_closing_every_fd);
	suite_add_tcase(s, programs);
	return check_run(s);
}
