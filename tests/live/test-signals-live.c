/* Live tests: vgpu-run passes on every catchable signal another process
 * sends it, keeps the few it uses itself, and never dies of one by
 * accident (vgpu-run(1), SIGNALS). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "../check-run.h"

/* The contract, written out here rather than taken from vgpu-run: every
 * catchable signal but these is forwarded (SIGUSR1 only without -o). */
static const int kept[] = {
	SIGKILL, SIGSTOP, SIGCHLD, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS,
};
static int forwarded[64];
static int n_forwarded;

static void list_forwarded(void)
{
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		bool keep = sig > 31 && sig < SIGRTMIN;	/* glibc's own */
		for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
			keep |= kept[i] == sig;
		if (!keep)
			forwarded[n_forwarded++] = sig;
	}
}

typedef struct Run {
	pid_t pid;		/* vgpu-run */
	pid_t command;		/* the helper, from its "ready" line */
	int out;		/* read end of the helper's (and -t -'s) stdout */
} Run;

/* Start "vgpu-run OPTS... -- tracee MODE" and wait for the helper's
 * "ready <pid>": from then on both have their signal handlers. */
static void start(const char *const *opts, const char *mode, Run *ret)
{
	int o[2];
	ck_assert_int_eq(pipe(o), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(o[1], 1);
		close(o[0]);
		close(o[1]);
		/* A signal ignored when vgpu-run starts is not forwarded (the
		 * command inherits it ignored): the suite may run as a
		 * background job, whose SIGINT and SIGQUIT the shell ignores. */
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		const char *argv[16] = { env_path("VGPU_RUN") };
		size_t n = 1;
		for (size_t i = 0; opts[i]; i++)
			argv[n++] = opts[i];
		argv[n++] = "--";
		argv[n++] = env_path("TRACEE");
		argv[n++] = mode;
		argv[n] = NULL;
		execv(argv[0], (char *const *)argv);
		_exit(99);
	}
	close(o[1]);
	/* -t - writes the trace header first: skip lines until "ready" */
	FILE *f = fdopen(dup(o[0]), "r");
	char line[4096];
	int command = 0;
	while (fgets(line, sizeof(line), f) && sscanf(line, "ready %d", &command) != 1)
		;
	fclose(f);
	ck_assert_msg(command > 0, "the helper never said ready");
	ret->pid = pid;
	ret->command = command;
	ret->out = o[0];
}

/* What the helper said after "ready", and how vgpu-run ended. */
static int finish(Run *r, char *said, size_t size)
{
	size_t len = 0;
	ssize_t n;
	while (len + 1 < size && (n = read(r->out, said + len, size - len - 1)) > 0)
		len += (size_t)n;
	said[len] = '\0';
	close(r->out);
	int st;
	ck_assert_int_eq(waitpid(r->pid, &st, 0), r->pid);
	return st;
}

#define OPTS(...) ((const char *const[]){ __VA_ARGS__, NULL })

START_TEST(test_every_catchable_signal_is_forwarded_to_the_command)
{
	int sig = forwarded[_i];
	Run r;
	start(OPTS("-q"), "catch-all", &r);
	ck_assert_int_eq(kill(r.pid, sig), 0);
	char said[256], want[32];
	int st = finish(&r, said, sizeof(said));
	snprintf(want, sizeof(want), "got %d\n", sig);
	ck_assert_msg(!strcmp(said, want), "signal %d (%s): the command said '%s' (vgpu-run status %#x)", sig,
		      strsignal(sig), said, st);
	/* vgpu-run survived it and ended as the command did */
	ck_assert_msg(WIFEXITED(st), "signal %d (%s): vgpu-run status %#x", sig, strsignal(sig), st);
	ck_assert_int_eq(WEXITSTATUS(st), 100 + sig);
}
END_TEST

START_TEST(test_sigusr1_with_report_file_rewrites_it_and_is_not_forwarded)
{
	char dir[] = "/tmp/vgpu-sig-XXXXXX", report[600];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(report, sizeof(report), "%s/r.json", dir);
	Run r;
	start(OPTS("-q", "-o", report), "catch-all", &r);
	struct stat sb;
	ck_assert_int_eq(stat(report, &sb), -1);
	ck_assert_int_eq(kill(r.pid, SIGUSR1), 0);
	for (int i = 0; i < 200 && stat(report, &sb) < 0; i++)
		usleep(50000);
	ck_assert_msg(stat(report, &sb) == 0, "SIGUSR1 did not write %s", report);
	ck_assert_int_eq(kill(r.pid, SIGTERM), 0);
	char said[256];
	int st = finish(&r, said, sizeof(said));
	ck_assert_str_eq(said, "got 15\n");	/* SIGUSR1 never reached it */
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 115);
	unlink(report);
	rmdir(dir);
}
END_TEST

START_TEST(test_sigusr1_without_report_file_is_forwarded)
{
	Run r;
	start(OPTS("-q"), "catch-all", &r);
	ck_assert_int_eq(kill(r.pid, SIGUSR1), 0);
	char said[256];
	int st = finish(&r, said, sizeof(said));
	ck_assert_str_eq(said, "got 10\n");
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 110);
}
END_TEST

START_TEST(test_unhandled_sigusr2_kills_command_and_vgpu_run_reraises_it)
{
	Run r;
	start(OPTS("-q"), "wait", &r);
	ck_assert_int_eq(kill(r.pid, SIGUSR2), 0);
	char said[256];
	int st = finish(&r, said, sizeof(said));
	ck_assert_str_eq(said, "");
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR2, "vgpu-run status %#x", st);
	ck_assert(!WCOREDUMP(st));
}
END_TEST

/* vgpu-run writes its trace to a pipe nobody reads any more: the SIGPIPE
 * of its own writes neither ends it nor goes on to the command (which
 * would say "got 13"); SIGTERM from the test still does. */
START_TEST(test_own_sigpipe_neither_kills_nor_is_forwarded)
{
	Run r;
	start(OPTS("-q", "-t", "-"), "catch-all", &r);
	close(r.out);	/* the helper now writes nothing until a signal */
	usleep(500000);	/* ten ticks: ten trace events into the closed pipe */
	ck_assert_int_eq(kill(r.pid, SIGTERM), 0);
	int st;
	ck_assert_int_eq(waitpid(r.pid, &st, 0), r.pid);
	ck_assert_msg(WIFEXITED(st), "vgpu-run status %#x", st);
	ck_assert_int_eq(WEXITSTATUS(st), 115);	/* SIGTERM's, not SIGPIPE's 113 */
}
END_TEST

/* Several different signals in a row: none is lost on the way (the last
 * one, SIGTERM, ends the command; without it the helper would run 30 s). */
START_TEST(test_signals_sent_together_none_lost)
{
	Run r;
	start(OPTS("-q"), "wait", &r);
	/* SIGWINCH and SIGCONT are ignored by default, SIGTERM ends it */
	ck_assert_int_eq(kill(r.pid, SIGWINCH), 0);
	ck_assert_int_eq(kill(r.pid, SIGCONT), 0);
	ck_assert_int_eq(kill(r.pid, SIGTERM), 0);
	char said[256];
	int st = finish(&r, said, sizeof(said));
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "vgpu-run status %#x", st);
}
END_TEST

/* --discover-only with a fake server (tracee fake-server): it says the
 * policy's "discovered" line on fd 2, captured at the write though fd 2 is
 * /dev/null, so that vgpu-run's stderr holds only vgpu-run's lines. */

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The ollama policy without its server rule: the fake server (the tracee)
 * is then the server, as the traced command. */
static const char *policy_any_server(void)
{
	static char path[] = "/tmp/vgpu-policy-XXXXXX";
	static bool made;
	if (!made) {
		char cmd[1024];
		int fd = mkstemp(path);
		ck_assert_int_ge(fd, 0);
		close(fd);
		snprintf(cmd, sizeof(cmd), "sed '/^server = /d' '%s/policies/ollama.policy' > '%s'",
			 env_path("SOURCE_ROOT"), path);
		ck_assert_int_eq(system(cmd), 0);
		made = true;
	}
	return path;
}

/* Report path in a fresh directory. */
static void report_in_tmp(char *dir, char *report, size_t size)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(report, size, "%s/r.json", dir);
}

START_TEST(test_discover_only_kills_server_that_ignores_sigterm_after_kill_after)
{
	char dir[] = "/tmp/vgpu-disc-XXXXXX", report[600];
	report_in_tmp(dir, report, sizeof(report));
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	RunResult r;
	run_plain(OPTS(env_path("VGPU_RUN"), "-q", "--discover-only", "--kill-after=1s", "-p", policy_any_server(),
		       "-o", report, "--",
		       env_path("TRACEE"), "fake-server", "deaf"),
		  &r);
	double took = seconds_since(&t0);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	ck_assert_msg(took >= 1.0 && took < 10.0, "took %.2f s", took);
	json_object *rep = json_object_from_file(report);
	ck_assert_ptr_nonnull(rep);
	json_object_put(rep);
	run_result_free(&r);
	unlink(report);
	rmdir(dir);
}
END_TEST

START_TEST(test_discover_only_without_discovery_exits_124_at_its_time_limit)
{
	char dir[] = "/tmp/vgpu-disc-XXXXXX", report[600];
	report_in_tmp(dir, report, sizeof(report));
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	RunResult r;
	run_plain(OPTS(env_path("VGPU_RUN"), "-q", "--discover-only", "--discover-timeout=1s", "-p",
		       policy_any_server(), "-o", report,
		       "--", env_path("TRACEE"), "fake-server", "silent"),
		  &r);
	double took = seconds_since(&t0);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 124, "status %#x: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "vgpu-run: discovery did not end within 1 s (--discover-timeout)\n");
	ck_assert_msg(took >= 1.0 && took < 10.0, "took %.2f s", took);
	json_object *rep = json_object_from_file(report);	/* still written */
	ck_assert_ptr_nonnull(rep);
	json_object_put(rep);
	run_result_free(&r);
	unlink(report);
	rmdir(dir);
}
END_TEST

/* faults.md 2026-12-01 #17: --discover-only exited 0 when the report could
 * not be written; -o /dev/full is test-faults-live.c's
 * test_discover_only_report_to_dev_full_exits_125. */
START_TEST(test_discover_only_with_unwritable_report_exits_125_with_one_line)
{
	RunResult r;
	run_plain(OPTS(env_path("VGPU_RUN"), "-q", "--discover-only", "-p", policy_any_server(),
		       "-o", "/nonexistent-vgpu/dir/r.json", "--",
		       env_path("TRACEE"), "fake-server", "discovered"),
		  &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 125, "status %#x: %s", r.status, r.err);
	/* checked before the server starts */
	ck_assert_str_eq(r.err, "vgpu-run: cannot write the report '/nonexistent-vgpu/dir/r.json': "
				"no file can be created in '/nonexistent-vgpu/dir': No such file or directory\n");
	run_result_free(&r);

	/* writable at the start, gone by the end: 125 too, after discovery */
	char dir[600], report[700], script[1600];
	snprintf(dir, sizeof(dir), "%s/signals-gone", env_path("TEST_WORKDIR"));
	snprintf(report, sizeof(report), "%s/r.json", dir);
	snprintf(script, sizeof(script), "rm -rf '%s'; exec '%s' fake-server discovered", dir, env_path("TRACEE"));
	mkdir(dir, 0700);
	run_plain(OPTS(env_path("VGPU_RUN"), "-q", "--discover-only", "-p", policy_any_server(), "-o", report,
		       "--", "/bin/sh", "-c", script),
		  &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 125, "status %#x: %s", r.status, r.err);
	ck_assert_msg(strstr(r.err, "vgpu-run: cannot write the report '") && strstr(r.err, "': No such file or directory\n"),
		      "%s", r.err);
	run_result_free(&r);
}
END_TEST

int main(void)
{
	list_forwarded();
	Suite *s = suite_create("signals");
	TCase *tc = tcase_create("signals");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_every_catchable_signal_is_forwarded_to_the_command, 0,
			    n_forwarded);
	tcase_add_test(tc, test_sigusr1_with_report_file_rewrites_it_and_is_not_forwarded);
	tcase_add_test(tc, test_sigusr1_without_report_file_is_forwarded);
	tcase_add_test(tc, test_unhandled_sigusr2_kills_command_and_vgpu_run_reraises_it);
	tcase_add_test(tc, test_own_sigpipe_neither_kills_nor_is_forwarded);
	tcase_add_test(tc, test_signals_sent_together_none_lost);
	suite_add_tcase(s, tc);

	TCase *disc = tcase_create("discover-only");
	tcase_set_timeout(disc, 60);
	tcase_add_test(disc, test_discover_only_kills_server_that_ignores_sigterm_after_kill_after);
	tcase_add_test(disc, test_discover_only_without_discovery_exits_124_at_its_time_limit);
	tcase_add_test(disc, test_discover_only_with_unwritable_report_exits_125_with_one_line);
	suite_add_tcase(s, disc);
	return check_run(s);
}
