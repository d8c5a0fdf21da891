/* Live tests: the real vgpu-run on real programs, real kernel, real ptrace.
 * Each test names the behaviour it pins down and asserts exact values. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/hostarch.h"
#include "harness.h"
#include "../check-run.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *tracee(void)
{
	return env_path("TRACEE");
}

/* The syscall event for PATH, which must exist. */
static json_object *syscall_on(const Trace *t, const char *path)
{
	json_object *ev = trace_find(t, "syscall", "path", path);
	ck_assert_msg(ev, "no syscall event for %s", path);
	return ev;
}

START_TEST(test_live_exit_code_passed_through)
{
	RunResult r;
	run_traced(ARGV(tracee(), "exit", "42"), &r);
	ck_assert(WIFEXITED(r.status));
	ck_assert_int_eq(WEXITSTATUS(r.status), 42);
	json_object *ex = trace_find(&r.trace, "exit", NULL, NULL);
	ck_assert_int_eq(ev_int(ex, "code", -1), 42);
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_mappings_observed_at_exit)
{
	RunResult r;
	run_traced(ARGV(tracee(), "exit", "0"), &r);
	long long pid = ev_int(trace_find(&r.trace, "exec", NULL, NULL), "pid", -1);
	char exe[4096];
	ck_assert_ptr_nonnull(realpath(tracee(), exe));
	json_object *obs = trace_find(&r.trace, "observe", "what", "mappings");
	ck_assert_ptr_nonnull(obs);
	ck_assert_int_eq(ev_int(obs, "pid", 0), pid);
	ck_assert(trace_mapped(&r.trace, pid, exe));
	char libc[256];	/* the multiarch directory: Debian's /usr/lib/x86_64-linux-gnu */
	snprintf(libc, sizeof(libc), "%s/libc.so.6", hostarch_native()->default_dirs[1]);
	ck_assert_msg(trace_mapped(&r.trace, pid, libc), "%s not mapped", libc);
	/* observed before the process is gone: it precedes the exit event */
	size_t iobs = 0, iexit = 0;
	for (size_t i = 0; i < r.trace.n; i++) {
		if (r.trace.ev[i] == obs)
			iobs = i;
		if (ev_is(r.trace.ev[i], "exit"))
			iexit = i;
	}
	ck_assert_uint_lt(iobs, iexit);
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_fatal_signal_reraised_without_core)
{
	RunResult r;
	run_traced(ARGV(tracee(), "raise", "11"), &r);
	ck_assert(WIFSIGNALED(r.status));
	ck_assert_int_eq(WTERMSIG(r.status), SIGSEGV);
	ck_assert(!WCOREDUMP(r.status));
	json_object *ex = trace_find(&r.trace, "exit", NULL, NULL);
	ck_assert_str_eq(ev_str(ex, "signal"), "SIGSEGV");
	run_result_free(&r);

	run_traced(ARGV(tracee(), "raise", "15"), &r);
	ck_assert(WIFSIGNALED(r.status));
	ck_assert_int_eq(WTERMSIG(r.status), SIGTERM);
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_launch_failures_have_documented_codes)
{
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "no-such-command-vgpu"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 127);
	ck_assert_str_eq(r.err, "vgpu-run: cannot run 'no-such-command-vgpu': command not found\n");
	run_result_free(&r);

	char noexec[] = "/tmp/vgpu-noexec-XXXXXX", want[128];
	temp_file(noexec);	/* mode 0600: no execute bit */
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", noexec), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 126);
	snprintf(want, sizeof(want), "vgpu-run: cannot execute '%s': Permission denied\n", noexec);
	ck_assert_str_eq(r.err, want);
	unlink(noexec);
	run_result_free(&r);

	run_plain(ARGV(env_path("VGPU_RUN"), "--no-such-option", "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_str_eq(r.err, "vgpu-run: unknown option '--no-such-option'\n");
	run_result_free(&r);

	run_plain(ARGV(env_path("VGPU_RUN"), "-p", "/nonexistent-vgpu/x.policy", "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_str_eq(r.err, "vgpu-run: policy file '/nonexistent-vgpu/x.policy': No such file or directory\n");
	run_result_free(&r);

	char bad[] = "/tmp/vgpu-policy-XXXXXX";
	int pfd = mkstemp(bad);
	ck_assert_int_ge(pfd, 0);
	ck_assert_int_eq(write(pfd, "name = x\nscaner = any\n", 22), 22);
	close(pfd);
	run_plain(ARGV(env_path("VGPU_RUN"), "-p", bad, "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	snprintf(want, sizeof(want), "vgpu-run: %s:2: unknown key 'scaner'\n", bad);
	ck_assert_str_eq(r.err, want);
	unlink(bad);
	run_result_free(&r);

	run_plain(ARGV(env_path("VGPU_RUN"), "-t", "/nonexistent-vgpu/dir/trace", "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_str_eq(r.err, "vgpu-run: cannot open trace file '/nonexistent-vgpu/dir/trace': "
				"No such file or directory\n");
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_unrunnable_path_is_126)
{
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "/etc/hostname/x"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 126);
	ck_assert_str_eq(r.err, "vgpu-run: cannot run '/etc/hostname/x': Not a directory\n");
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_restarted_syscall_recorded_once)
{
	char dir[] = "/tmp/vgpu-fifo-XXXXXX", fifo[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	RunResult r;
	run_traced(ARGV(tracee(), "fifo-restart", dir), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	long long reader = ev_int(trace_find(&r.trace, "exec", NULL, NULL), "pid", -1);
	size_t opens = 0;
	for (size_t i = 0; i < r.trace.n; i++) {
		json_object *ev = r.trace.ev[i];
		const char *p = ev_str(ev, "path");
		if (!ev_is(ev, "syscall") || !p || strcmp(p, fifo) || ev_int(ev, "pid", 0) != reader)
			continue;
		opens++;
		ck_assert_int_ge(ev_int(ev, "result", -1), 3);	/* an fd, not E512 */
	}
	ck_assert_uint_eq(opens, 1);
	ck_assert_ptr_nonnull(trace_find(&r.trace, "signal", "signal", "SIGUSR1"));
	rmdir(dir);
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_closed_trace_reader_does_not_kill_command)
{
	int p[2], e[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(e), 0);
	close(p[0]);	/* nobody will read the trace */
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(e[1], 2);
		execl(env_path("VGPU_RUN"), "vgpu-run", "-q", "-t", "-", "--", tracee(), "exit", "3",
		      (char *)NULL);
		_exit(99);
	}
	close(p[1]);
	close(e[1]);
	char err[256] = "";
	ssize_t n = read(e[0], err, sizeof(err) - 1);
	ck_assert_int_gt(n, 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));	/* not SIGPIPE */
	ck_assert_int_eq(WEXITSTATUS(st), 3);
	ck_assert_str_eq(err, "vgpu-run: writing the trace '-' failed: Broken pipe\n");
	close(e[0]);
}
END_TEST

START_TEST(test_live_shell_pipeline_traced_and_unchanged)
{
	RunResult r;
	run_traced(ARGV("/bin/sh", "-c", "printf 'a\\nb\\nc\\n' | /usr/bin/wc -l; exit 4"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 4);
	ck_assert_str_eq(r.out, "3\n");
	json_object *wc = trace_find(&r.trace, "exec", "exe", "/usr/bin/wc");
	ck_assert_msg(wc, "no exec of wc");
	/* wc's parent is the shell, the traced command */
	json_object *sh = trace_find(&r.trace, "exec", NULL, NULL);
	ck_assert_int_eq(ev_int(wc, "ppid", 0), ev_int(sh, "pid", -1));
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_fork_vfork_thread_followed)
{
	RunResult r;
	run_traced(ARGV(tracee(), "fork-tree"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	long long root = ev_int(trace_find(&r.trace, "exec", NULL, NULL), "pid", -1);

	json_object *f = syscall_on(&r.trace, "/nonexistent-vgpu/fork-child");
	json_object *fe = trace_find(&r.trace, "fork", "kind", "fork");
	ck_assert_int_eq(ev_int(fe, "child_pid", 0), ev_int(f, "pid", -1));
	ck_assert_int_eq(ev_int(fe, "pid", 0), root);
	ck_assert_str_eq(ev_str(f, "result"), "ENOENT");

	json_object *v = syscall_on(&r.trace, "/nonexistent-vgpu/vfork-child");
	json_object *ve = trace_find(&r.trace, "fork", "kind", "vfork");
	ck_assert_int_eq(ev_int(ve, "child_pid", 0), ev_int(v, "pid", -1));

	json_object *t = syscall_on(&r.trace, "/nonexistent-vgpu/thread");
	json_object *te = trace_find(&r.trace, "fork", "kind", "thread");
	ck_assert_int_eq(ev_int(t, "pid", 0), root);
	ck_assert_int_ne(ev_int(t, "tid", 0), root);
	ck_assert_int_eq(ev_int(te, "child_tid", 0), ev_int(t, "tid", -1));
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_exec_by_thread_changes_tid)
{
	RunResult r;
	run_traced(ARGV(tracee(), "thread-exec"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	long long root = ev_int(trace_find(&r.trace, "exec", NULL, NULL), "pid", -1);
	ck_assert_uint_eq(trace_count(&r.trace, "exec", NULL, NULL), 2);
	json_object *second = NULL;
	for (size_t i = 0; i < r.trace.n; i++)
		if (ev_is(r.trace.ev[i], "exec"))
			second = r.trace.ev[i];
	ck_assert_int_eq(ev_int(second, "pid", 0), root);
	ck_assert_int_eq(ev_int(second, "tid", 0), root);
	long long former = ev_int(second, "former_tid", 0);
	ck_assert_int_ne(former, 0);
	ck_assert_int_ne(former, root);
	json_object *after = syscall_on(&r.trace, "/nonexistent-vgpu/after-thread-exec");
	ck_assert_int_eq(ev_int(after, "pid", 0), root);
	ck_assert_int_eq(ev_int(after, "tid", 0), root);
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_group_stop_seen_by_parent)
{
	RunResult r;
	run_traced(ARGV(tracee(), "selfstop"), &r);
	ck_assert_str_eq(r.out, "stopped continued exited=5\n");
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	json_object *sig = trace_find(&r.trace, "signal", "signal", "SIGSTOP");
	ck_assert_msg(sig, "no SIGSTOP signal event");
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_bad_pointer_recorded_as_efault)
{
	RunResult r;
	run_traced(ARGV(tracee(), "badptr"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);	/* the program saw EFAULT */
	size_t n = 0;
	for (size_t i = 0; i < r.trace.n; i++) {
		json_object *ev = r.trace.ev[i];
		const char *pe = ev_str(ev, "path_error");
		if (!ev_is(ev, "syscall") || !pe)
			continue;
		ck_assert_str_eq(pe, "EFAULT");
		ck_assert_str_eq(ev_str(ev, "result"), "EFAULT");
		json_object *p;
		ck_assert(json_object_object_get_ex(ev, "path", &p) && p == NULL);
		n++;
	}
	ck_assert_uint_eq(n, 2);
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_relative_and_dirfd_paths_resolved)
{
	char dir[] = "/tmp/vgpu-rel-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	RunResult r;
	run_traced(ARGV(tracee(), "relpath", dir), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);

	char want[256];
	snprintf(want, sizeof(want), "%s/rel-file", dir);
	json_object *rel = syscall_on(&r.trace, want);
	ck_assert_str_eq(ev_str(rel, "raw"), "sub/../rel-file");
	ck_assert_str_eq(ev_str(rel, "result"), "ENOENT");

	json_object *host = syscall_on(&r.trace, "/etc/hostname");
	ck_assert_str_eq(ev_str(host, "raw"), "./hostname");
	ck_assert_int_ge(ev_int(host, "dirfd", -1), 3);
	json_object *pw = syscall_on(&r.trace, "/etc/passwd");
	ck_assert_str_eq(ev_str(pw, "raw"), "..//etc/./passwd");
	ck_assert_int_ge(ev_int(pw, "result", -1), 3);
	rmdir(dir);
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_fstat_does_not_stop)
{
	RunResult none, many;
	run_traced(ARGV(tracee(), "fstat", "0"), &none);
	run_traced(ARGV(tracee(), "fstat", "100000"), &many);
	ck_assert_int_eq(WEXITSTATUS(many.status), 0);
	/* 100000 fstat() calls add not one stop */
	ck_assert_int_eq(trace_stat(&many.trace, "stops"), trace_stat(&none.trace, "stops"));
	ck_assert_int_gt(trace_stat(&none.trace, "stops"), 0);
	run_result_free(&none);
	run_result_free(&many);
}
END_TEST

START_TEST(test_live_stderr_output_captured)
{
	RunResult r;
	run_traced(ARGV(tracee(), "stderr", "hello \"world\"\n"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	ck_assert_str_eq(r.err, "hello \"world\"\nab\n");	/* unchanged */
	json_object *w = trace_find(&r.trace, "output", "text", "hello \"world\"\n");
	ck_assert_msg(w, "write() to fd 2 not captured");
	ck_assert_int_eq(ev_int(w, "fd", -1), 2);
	ck_assert_msg(trace_find(&r.trace, "output", "text", "ab\n"), "writev() not captured");
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_kill_recorded_with_target_and_signal)
{
	RunResult r;
	run_traced(ARGV(tracee(), "kill-child"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	int child = 0;
	ck_assert_int_eq(sscanf(r.out, "child=%d", &child), 1);
	json_object *k = trace_find(&r.trace, "syscall", "syscall", "kill");
	ck_assert_int_eq(ev_int(k, "target", 0), child);
	ck_assert_str_eq(ev_str(k, "signal"), "SIGTERM");
	ck_assert_int_eq(ev_int(k, "result", -1), 0);
	bool child_exit = false;
	for (size_t i = 0; i < r.trace.n; i++)
		if (ev_is(r.trace.ev[i], "exit") && ev_int(r.trace.ev[i], "pid", 0) == child)
			child_exit = !strcmp(ev_str(r.trace.ev[i], "signal"), "SIGTERM");
	ck_assert(child_exit);
	run_result_free(&r);
}
END_TEST

/* A kill recorded before the death it caused, also when the death
 * reaches vgpu-run before the killer's return does (a Go server's kill
 * of a runner under a loaded tracer: the diagnosis, which judges a
 * process at its end, then missed the killer and the scanner time-out).
 * The one order the kernel always gives: a process that sends itself
 * SIGKILL dies without returning, and its kill is recorded at its death,
 * without a result (before, not at all). */
START_TEST(test_live_kill_recorded_before_the_death)
{
	RunResult r;
	run_traced(ARGV(tracee(), "sigkill-self"), &r);
	ck_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
	int pid = 0;
	ck_assert_int_eq(sscanf(r.out, "pid=%d", &pid), 1);
	size_t kill_at = 0, exit_at = 0;
	for (size_t i = 0; i < r.trace.n; i++) {
		json_object *ev = r.trace.ev[i];
		if (ev_is(ev, "syscall") && ev_int(ev, "target", 0) == pid && ev_str(ev, "signal") &&
		    !strcmp(ev_str(ev, "signal"), "SIGKILL")) {
			ck_assert_uint_eq(kill_at, 0);	/* recorded once */
			kill_at = i;
			ck_assert(!json_object_object_get_ex(ev, "result", NULL));
		}
		if (ev_is(ev, "exit") && ev_int(ev, "pid", 0) == pid)
			exit_at = i;
	}
	ck_assert_uint_gt(kill_at, 0);
	ck_assert_uint_gt(exit_at, kill_at);
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_clone3_pidfd_send_signal_resolved)
{
	RunResult r;
	run_traced(ARGV(env_path("CLONE3_PIDFD")), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	int child = 0, sig = 0;
	ck_assert_int_eq(sscanf(r.out, "child=%d signal=%d", &child, &sig), 2);
	ck_assert_int_eq(sig, SIGTERM);
	json_object *k = trace_find(&r.trace, "syscall", "syscall", "pidfd_send_signal");
	ck_assert_int_eq(ev_int(k, "target", 0), child);
	ck_assert_str_eq(ev_str(k, "signal"), "SIGTERM");
	json_object *f = trace_find(&r.trace, "fork", NULL, NULL);
	ck_assert_int_eq(ev_int(f, "child_pid", 0), child);
	run_result_free(&r);
}
END_TEST

/* Start vgpu-run on "tracee catch-term CODE" and wait for "ready". */
static pid_t start_catcher(const char *code, int *ret_out, pid_t *ret_tracee)
{
	int o[2];
	ck_assert_int_eq(pipe(o), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		close(o[0]);
		execl(env_path("VGPU_RUN"), "vgpu-run", "-q", "--", tracee(), "catch-term", code,
		      (char *)NULL);
		_exit(99);
	}
	close(o[1]);
	char buf[64] = "";
	ssize_t n = read(o[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(sscanf(buf, "ready %d", ret_tracee), 1);
	*ret_out = o[0];
	return pid;
}

START_TEST(test_live_sigterm_forwarded_to_command)
{
	int out;
	pid_t tr;
	pid_t pid = start_catcher("7", &out, &tr);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 7);	/* the command's handler ran */
	close(out);
}
END_TEST

START_TEST(test_live_sigterm_forwarded_to_survivors_after_root_exit)
{
	/* The shell exits at once, leaving a background catcher behind;
	 * vgpu-run waits for it, and passes SIGTERM on to it. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	int o[2];
	ck_assert_int_eq(pipe(o), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		close(o[0]);
		char script[512];
		snprintf(script, sizeof(script), "'%s' catch-term 9 & exit 4", tracee());
		execl(env_path("VGPU_RUN"), "vgpu-run", "-q", "--", "/bin/sh", "-c", script,
		      (char *)NULL);
		_exit(99);
	}
	close(o[1]);
	char buf[64] = "";
	ck_assert_int_gt(read(o[0], buf, sizeof(buf) - 1), 0);
	int catcher = 0;
	ck_assert_int_eq(sscanf(buf, "ready %d", &catcher), 1);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 4);	/* the command's own status */
	ck_assert_int_eq(waitpid(catcher, &st, 0), catcher);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 9);	/* its SIGTERM handler ran */
	close(o[0]);
}
END_TEST

START_TEST(test_live_tracees_die_with_vgpu_run)
{
	/* Become the orphans' reaper, so we see exactly how the tracee ends
	 * once vgpu-run is gone. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	int out;
	pid_t tr;
	pid_t pid = start_catcher("7", &out, &tr);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);
	ck_assert_int_eq(waitpid(tr, &st, 0), tr);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);	/* PTRACE_O_EXITKILL */
	close(out);
}
END_TEST

/* Root loads the filter without no_new_privs (setuid keeps working in the
 * traced tree); an unprivileged user must set it, and can still trace. */
START_TEST(test_live_no_new_privs_only_when_unprivileged)
{
	RunResult r;
	run_traced(ARGV(tracee(), "nnp"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	ck_assert_str_eq(r.out, geteuid() == 0 ? "nnp=0\n" : "nnp=1\n");
	run_result_free(&r);

	if (geteuid() != 0)
		return;
	/* uid 65534 may not reach the build directory (a checkout in /root,
	 * mode 0700): run copies from a directory anyone can read. */
	char dir[] = "/tmp/vgpu-nnp-XXXXXX", vr[64], tr[64], cmd[1024];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(vr, sizeof(vr), "%s/vgpu-run", dir);
	snprintf(tr, sizeof(tr), "%s/tracee", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && cp '%s' '%s' && cp '%s/policies/ollama.policy' '%s'",
		 env_path("VGPU_RUN"), vr, tracee(), tr, env_path("SOURCE_ROOT"), dir);
	ck_assert_int_eq(system(cmd), 0);
	int o[2];
	ck_assert_int_eq(pipe(o), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		if (chdir(dir) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(98);
		execl(vr, "vgpu-run", "-q", "-p", "./ollama.policy", "--", tr, "nnp", (char *)NULL);
		_exit(99);
	}
	close(o[1]);
	char buf[32] = "";
	ssize_t n = read(o[0], buf, sizeof(buf) - 1);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(n > 0, "no output as uid 65534 (exit status %d)", WEXITSTATUS(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_str_eq(buf, "nnp=1\n");
	close(o[0]);
}
END_TEST

/* -k: a backtrace at a decision event (here a failed library lookup),
 * innermost first, through a known call chain. */
START_TEST(test_live_stack_at_failed_lookup)
{
	char trace[] = "/tmp/vgpu-stack-XXXXXX";
	temp_file(trace);
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-k", "-t", trace, "--", env_path("STACK_FCALL")), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	json_object *open_ev = trace_find(&t, "syscall", "path", "/nonexistent-vgpu/libvgpu-stack-probe.so.1");
	ck_assert_ptr_nonnull(open_ev);
	json_object *st = NULL, *frames;
	for (size_t i = 0; i < t.n && !st; i++)
		if (ev_is(t.ev[i], "stack") && ev_int(t.ev[i], "for_seq", 0) == ev_int(open_ev, "seq", -1))
			st = t.ev[i];
	ck_assert_msg(st, "no stack event for the failed lookup");
	ck_assert_str_eq(ev_str(st, "why"), "lookup");
	ck_assert(json_object_object_get_ex(st, "frames", &frames));
	char chain[256] = "";
	for (size_t i = 0; i < json_object_array_length(frames); i++) {
		const char *sym = ev_str(json_object_array_get_idx(frames, i), "symbol");
		if (sym && (sym[0] == 'f' || !strcmp(sym, "main")))
			snprintf(chain + strlen(chain), sizeof(chain) - strlen(chain), "%s ", sym);
	}
	ck_assert_str_eq(chain, "f3 f2 f1 f0 main ");
	/* every backtrace taken is in the trace, and counted */
	ck_assert_int_eq(trace_stat(&t, "backtraces"), (long long)trace_count(&t, "stack", NULL, NULL));
	trace_free(&t);
	unlink(trace);
	run_result_free(&r);
}
END_TEST

/* A long run: 1M traced calls (library lookups, the diagnosis's worst
 * case) keep vgpu-run under 32 MiB, and the report still comes. */
START_TEST(test_live_memory_bounded_over_1m_traced_calls)
{
	char report[] = "/tmp/vgpu-mem-XXXXXX";
	temp_file(report);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execl(env_path("VGPU_RUN"), "vgpu-run", "-q", "--format=json", "-o", report, "--", tracee(),
		      "opens", "1000000", (char *)NULL);
		_exit(99);
	}
	int st;
	struct rusage ru;
	ck_assert_int_eq(wait4(pid, &st, 0, &ru), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_msg(SANITIZED || ru.ru_maxrss < 32 * 1024, "vgpu-run peaked at %ld KiB", ru.ru_maxrss);
	json_object *rep = json_object_from_file(report);
	ck_assert_ptr_nonnull(rep);
	json_object *notes;
	ck_assert(json_object_object_get_ex(rep, "notes", &notes));
	bool capped = false;
	for (size_t i = 0; i < json_object_array_length(notes); i++)
		capped |= strstr(json_object_get_string(json_object_array_get_idx(notes, i)),
				 "opened more than 16384 libraries") != NULL;
	ck_assert(capped);
	json_object_put(rep);
	unlink(report);
}
END_TEST

START_TEST(test_live_trace_is_well_formed)
{
	RunResult r;
	run_traced(ARGV(tracee(), "fork-tree"), &r);
	ck_assert_uint_ge(r.trace.n, 3);
	ck_assert_str_eq(ev_str(r.trace.ev[0], "schema"), "vgpu-run/trace/1");
	ck_assert(ev_is(r.trace.ev[0], "header"));
	for (size_t i = 0; i < r.trace.n; i++) {
		ck_assert_int_eq(ev_int(r.trace.ev[i], "seq", -1), (long long)i + 1);
		ck_assert_ptr_nonnull(ev_str(r.trace.ev[i], "event"));
		if (i > 0)
			ck_assert_int_ge(ev_int(r.trace.ev[i], "t_ns", -1),
					 ev_int(r.trace.ev[i - 1], "t_ns", -1));
	}
	run_result_free(&r);
}
END_TEST

START_TEST(test_live_trace_file_mode_0600)
{
	char path[] = "/tmp/vgpu-mode-XXXXXX";
	temp_file(path);
	ck_assert_int_eq(chmod(path, 0644), 0);	/* an existing file is narrowed */
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-t", path, "/bin/true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	unlink(path);
	run_result_free(&r);
}
END_TEST

/* -t and -o onto something that is not a regular file (a FIFO here,
 * /dev/null in practice) write in place: the node stays a FIFO with its
 * mode, the reader gets the whole trace and report. */
START_TEST(test_live_trace_and_report_into_fifos)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "d=$(mktemp -d) && mkfifo -m 0644 $d/t $d/r && { cat $d/t > $d/t.out & cat $d/r > $d/r.out & "
		 "'%s' -q -t $d/t -o $d/r --format=json /bin/true && wait && test -p $d/t && test -p $d/r && "
		 "[ \"$(stat -c %%a $d/t)\" = 644 ] && grep -q '^{\"schema\":\"vgpu-run/report/1\"' $d/r.out && "
		 "grep -q '\"event\":\"stats\"' $d/t.out; }; rc=$?; rm -rf $d; exit $rc",
		 env_path("VGPU_RUN"));
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* --trace-max: the file stays under the cap and ends with a truncated
 * line carrying the next seq; the live report is whole, and a report made
 * from the cut file says it was cut. */
START_TEST(test_live_trace_max_cuts_file_not_report)
{
	char trace[] = "/tmp/vgpu-cut-XXXXXX", report[] = "/tmp/vgpu-cutr-XXXXXX";
	temp_file(trace);
	temp_file(report);
	char t_arg[64], o_arg[64];
	snprintf(t_arg, sizeof(t_arg), "--trace=%s", trace);
	snprintf(o_arg, sizeof(o_arg), "--report=%s", report);
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", t_arg, "--trace-max=8K", o_arg, "--format=text", "--",
		       tracee(), "opens", "300"),
		  &r);
	ck_assert(WIFEXITED(r.status));
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	char want[160];
	snprintf(want, sizeof(want), "vgpu-run: the trace '%s' was cut at --trace-max=8192 bytes\n", trace);
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);

	struct stat st;
	ck_assert_int_eq(stat(trace, &st), 0);
	ck_assert_int_le(st.st_size, 8192);
	ck_assert_int_gt(st.st_size, 8192 - 1024);
	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	json_object *last = t.ev[t.n - 1];
	ck_assert_str_eq(ev_str(last, "event"), "truncated");
	ck_assert_int_eq(ev_int(last, "seq", -1), (long long)t.n);
	ck_assert_int_eq(ev_int(last, "limit", -1), 8192);
	ck_assert_int_eq(ev_int(last, "bytes", -1) + (long long)strlen(json_object_to_json_string_ext(last, JSON_C_TO_STRING_PLAIN)) + 1, st.st_size);
	ck_assert_uint_eq(trace_count(&t, "stats", NULL, NULL), 0);

	/* the live report saw all 300 lookups: no cut note */
	FILE *f = fopen(report, "r");
	ck_assert_ptr_nonnull(f);
	char text[65536];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	ck_assert_ptr_null(strstr(text, "trace was cut"));

	run_plain(ARGV(env_path("VGPU_REPORT"), "show", trace), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	snprintf(want, sizeof(want),
		 "the trace was cut at 8192 bytes (--trace-max) before event %zu: verdicts see only what came before",
		 t.n);
	ck_assert_msg(strstr(r.out, want), "%s", r.out);
	run_result_free(&r);
	trace_free(&t);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "'%s/scripts/validate-schemas' '%s' >/dev/null", env_path("SOURCE_ROOT"), trace);
	ck_assert_int_eq(system(cmd), 0);
	unlink(trace);
	unlink(report);
}
END_TEST

START_TEST(test_live_self_test_passes_here)
{
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "--self-test"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 0);
	ck_assert_msg(!strncmp(r.out, "ptrace: ok", 10), "%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\nseccomp: ok"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nkernel: "));
	ck_assert_ptr_nonnull(strstr(r.out, "\nyama: "));
	run_result_free(&r);
}
END_TEST

static Suite *live_suite(void)
{
	Suite *s = suite_create("live");
	TCase *tc = tcase_create("tracer");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_live_exit_code_passed_through);
	tcase_add_test(tc, test_live_mappings_observed_at_exit);
	tcase_add_test(tc, test_live_fatal_signal_reraised_without_core);
	tcase_add_test(tc, test_live_launch_failures_have_documented_codes);
	tcase_add_test(tc, test_live_unrunnable_path_is_126);
	tcase_add_test(tc, test_live_restarted_syscall_recorded_once);
	tcase_add_test(tc, test_live_closed_trace_reader_does_not_kill_command);
	tcase_add_test(tc, test_live_shell_pipeline_traced_and_unchanged);
	tcase_add_test(tc, test_live_fork_vfork_thread_followed);
	tcase_add_test(tc, test_live_exec_by_thread_changes_tid);
	tcase_add_test(tc, test_live_group_stop_seen_by_parent);
	tcase_add_test(tc, test_live_bad_pointer_recorded_as_efault);
	tcase_add_test(tc, test_live_relative_and_dirfd_paths_resolved);
	tcase_add_test(tc, test_live_fstat_does_not_stop);
	tcase_add_test(tc, test_live_stderr_output_captured);
	tcase_add_test(tc, test_live_kill_recorded_with_target_and_signal);
	tcase_add_test(tc, test_live_kill_recorded_before_the_death);
	tcase_add_test(tc, test_live_clone3_pidfd_send_signal_resolved);
	tcase_add_test(tc, test_live_sigterm_forwarded_to_command);
	tcase_add_test(tc, test_live_sigterm_forwarded_to_survivors_after_root_exit);
	tcase_add_test(tc, test_live_tracees_die_with_vgpu_run);
	tcase_add_test(tc, test_live_no_new_privs_only_when_unprivileged);
	tcase_add_test(tc, test_live_stack_at_failed_lookup);
	tcase_add_test(tc, test_live_trace_is_well_formed);
	tcase_add_test(tc, test_live_trace_file_mode_0600);
	tcase_add_test(tc, test_live_trace_and_report_into_fifos);
	tcase_add_test(tc, test_live_trace_max_cuts_file_not_report);
	tcase_add_test(tc, test_live_self_test_passes_here);
	suite_add_tcase(s, tc);

	/* Two stops per library lookup at ~50 us each here: 1M calls take
	 * about 100 s on a 2-core machine, so this test has its own budget. */
	TCase *longrun = tcase_create("long-run");
	tcase_set_timeout(longrun, 480);
	tcase_add_test(longrun, test_live_memory_bounded_over_1m_traced_calls);
	suite_add_tcase(s, longrun);
	return s;
}

int main(void)
{
	/* A tracee killed by SIGSEGV must not leave core files around. */
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	return check_run(live_suite());
}
