/* Hostile input to vgpu-run (issue "Hostile input", the findings of
 * shared/qa/2026-12-01/faults.md that are not the diagnosis's cost): files
 * a tracee names, odd paths, options and environment that make bad
 * messages, limits on vgpu-run itself, standard fds left closed, and
 * policy regexes whose matching cost had no bound.  Every test fails on
 * the behaviour the report describes. */
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

/* faults.md #5: a tracee opening a FIFO named like a library (without a
 * writer, non-blocking: it returns at once) made vgpu-run block forever
 * opening it for ELF facts; files the tracee names are opened
 * non-blocking and only read when regular. */
START_TEST(test_fifo_named_like_a_library_does_not_block)
{
	char dir[] = "/tmp/vgpu-fifo-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("mkfifo '%s/libggml-cuda.so' '%s/p.so'", dir, dir);
	sh("timeout -k 2 30 '%s' -q -- '%s' open-nonblock '%s/p.so'", env_path("VGPU_RUN"), env_path("TRACEE"), dir);
	sh("timeout -k 2 30 '%s' -q -- '%s' open-nonblock '%s/libggml-cuda.so'", env_path("VGPU_RUN"), env_path("TRACEE"),
	   dir);
	sh("rm -rf '%s'", dir);
}
END_TEST

/* faults.md #34: -p FIFO without a writer and -t FIFO without a reader
 * held vgpu-run forever before the command started; a clear exit 125. */
START_TEST(test_fifo_policy_and_trace_do_not_block)
{
	char dir[] = "/tmp/vgpu-fifo2-XXXXXX", p[300], t[300], want[700];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/p.fifo", dir);
	snprintf(t, sizeof(t), "%s/t.fifo", dir);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(mkfifo(t, 0600), 0);
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-p", p, "--", "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	snprintf(want, sizeof(want), "vgpu-run: %s: empty: no policy in it\n", p);
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-t", t, "--", "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	snprintf(want, sizeof(want),
		 "vgpu-run: cannot open trace file '%s': a FIFO that no process opened for reading within 10 s\n", t);
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);
	/* with a writer, a policy through a FIFO (<(...)) is read as any file */
	sh("cat '%s/policies/ollama.policy' > '%s' & '%s' -q -p '%s' -- true", env_path("SOURCE_ROOT"), p,
	   env_path("VGPU_RUN"), p);
	sh("rm -rf '%s'", dir);
}
END_TEST

/* faults.md #19, #28: a script without #! (or an empty executable) runs
 * through /bin/sh, as execvp(3), env, nohup and timeout run it; a missing
 * #! interpreter is named, exit 126 as a shell gives. */
START_TEST(test_scripts_run_as_execvp_runs_them)
{
	char dir[] = "/tmp/vgpu-scripts-XXXXXX", want[600], path[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("cd '%s' && printf 'echo hi from $0 $1\\n' > plain && : > empty && "
	   "printf '#!/nonexistent-vgpu/sh -e\\necho x\\n' > badint && chmod +x plain empty badint", dir);
	RunResult r;
	snprintf(path, sizeof(path), "%s/plain", dir);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--", path, "one"), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	snprintf(want, sizeof(want), "hi from %s one\n", path);
	ck_assert_str_eq(r.out, want);
	run_result_free(&r);
	snprintf(path, sizeof(path), "%s/empty", dir);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--", path), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	run_result_free(&r);
	/* an ELF file for another machine is an exec format error, not a
	 * script for /bin/sh */
	snprintf(path, sizeof(path), "%s/arm", dir);
	sh("cp '%s' '%s' && printf '\\050' | dd of='%s' bs=1 seek=18 conv=notrunc status=none", env_path("TRACEE"),
	   path, path);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--", path), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 126);
	snprintf(want, sizeof(want), "vgpu-run: cannot execute '%s': Exec format error\n", path);
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);
	snprintf(path, sizeof(path), "%s/badint", dir);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--", path), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 126);
	snprintf(want, sizeof(want),
		 "vgpu-run: cannot execute '%s': its interpreter '/nonexistent-vgpu/sh' (the #! line) does not exist\n",
		 path);
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);
	sh("rm -rf '%s'", dir);
}
END_TEST

/* faults.md #35: -v lines of vgpu-run's own observations print the
 * traced program's paths escaped, as every other -v line does. */
START_TEST(test_verbose_paths_escaped)
{
	char dir[] = "/tmp/vgpu-esc-XXXXXX", lib[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(lib, sizeof(lib), "%s/a\033[2Jb.so", dir);
	sh("cp '%s' '%s'", env_path("TRACEE"), lib);
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-v", "--", env_path("TRACEE"), "open", lib), &r);
	ck_assert_ptr_null(strchr(r.err, '\033'));
	ck_assert_ptr_nonnull(strstr(r.err, "observe elf "));
	ck_assert_ptr_nonnull(strstr(r.err, "/a\\x1b[2Jb.so: "));
	run_result_free(&r);
	sh("rm -rf '%s'", dir);
}
END_TEST

/* faults.md #38: with --no-inject nothing is injected, so an unusable
 * VGPU_SHIM (a unit's environment) stops nothing; without it, it does. */
START_TEST(test_no_inject_ignores_unusable_vgpu_shim)
{
	RunResult r;
	setenv("VGPU_SHIM", "garbage", 1);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--no-inject", "--", "true"), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	run_result_free(&r);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--", "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_str_eq(r.err, "vgpu-run: shim 'garbage' (from VGPU_SHIM): not an absolute path\n");
	run_result_free(&r);
	unsetenv("VGPU_SHIM");
}
END_TEST

/* faults.md #30: with stdout closed, the scratch file took fd 1 and -t -
 * wrote the trace into it ("no report: (live trace):1: not a JSON
 * object").  Closed standard fds stay closed for the command, as they
 * would untraced, and nothing of ours lands on them. */
START_TEST(test_closed_std_fds)
{
	RunResult r;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' -q -t - -- true >&-", env_path("VGPU_RUN"));
	run_plain(ARGV("/bin/sh", "-c", cmd), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_str_eq(r.err, "vgpu-run: cannot write the trace to standard output: it is closed\n");
	run_result_free(&r);
	snprintf(cmd, sizeof(cmd), "'%s' -q -o - -- true >&-", env_path("VGPU_RUN"));
	run_plain(ARGV("/bin/sh", "-c", cmd), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_str_eq(r.err, "vgpu-run: cannot write the report to standard output: it is closed\n");
	run_result_free(&r);
	/* the command finds 0, 1 and 2 as its caller left them */
	snprintf(cmd, sizeof(cmd),
		 "'%s' -q -- /bin/sh -c '[ -e /proc/self/fd/0 ] && exit 5; [ -e /proc/self/fd/1 ] && exit 6; exit 7' "
		 "<&- >&-",
		 env_path("VGPU_RUN"));
	run_plain(ARGV("/bin/sh", "-c", cmd), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 7, "status %#x: %s", r.status, r.err);
	run_result_free(&r);
	/* with stderr closed, a report to a file is written whole */
	char dir[] = "/tmp/vgpu-closed-XXXXXX", report[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(report, sizeof(report), "%s/r.json", dir);
	snprintf(cmd, sizeof(cmd), "'%s' -q -o '%s' -t - -- '%s' exit 3 2>&- | wc -l", env_path("VGPU_RUN"), report,
		 env_path("TRACEE"));
	run_plain(ARGV("/bin/sh", "-c", cmd), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	ck_assert_int_gt(atoi(r.out), 3);
	run_result_free(&r);
	sh("'%s' show '%s' > /dev/null && rm -r '%s'", env_path("VGPU_REPORT"), report, dir);
}
END_TEST

/* faults.md #25: a limit on files or processes is not a ptrace failure:
 * the message names what ran out, and does not send to --self-test. */
START_TEST(test_resource_limits_named)
{
	RunResult r;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "ulimit -n 5; exec '%s' -q -- /bin/true", env_path("VGPU_RUN"));
	run_plain(ARGV("/bin/sh", "-c", cmd), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_str_eq(r.err, "vgpu-run: cannot trace '/bin/true': cannot create a pipe: Too many open files\n");
	run_result_free(&r);
	snprintf(cmd, sizeof(cmd), "ulimit -n 5; exec '%s' --self-test", env_path("VGPU_RUN"));
	run_plain(ARGV("/bin/sh", "-c", cmd), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_ptr_nonnull(strstr(r.out, "ptrace: not tested: cannot create a pipe: Too many open files\n"
					    "seccomp: not tested: the probe could not be started\n"));
	run_result_free(&r);
	/* one process for the user, vgpu-run itself: the fork fails (not in
	 * the sanitizer build, where LeakSanitizer's own task at exit fails
	 * first and exits 1) */
	if (geteuid() == 0 && !SANITIZED) {
		snprintf(cmd, sizeof(cmd), "exec setpriv --reuid=65534 --regid=65534 --clear-groups prlimit --nproc=1 '%s' -q -- /bin/true",
			 env_path("VGPU_RUN"));
		run_plain(ARGV("/bin/sh", "-c", cmd), &r);
		ck_assert_int_eq(WEXITSTATUS(r.status), 125);
		ck_assert_str_eq(r.err,
				 "vgpu-run: cannot trace '/bin/true': cannot fork: Resource temporarily unavailable\n");
		run_result_free(&r);
	}
}
END_TEST

/* faults.md #38: control bytes from the environment or the command line
 * reached the terminal raw in messages; every message is one line. */
START_TEST(test_messages_escape_control_bytes)
{
	RunResult r;
	setenv("VGPU_SHIM", "\001\033[2J\n", 1);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--", "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_str_eq(r.err, "vgpu-run: shim '\\x01\\x1b[2J\\n' (from VGPU_SHIM): not an absolute path\n");
	run_result_free(&r);
	unsetenv("VGPU_SHIM");
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--", "/nonexistent-vgpu/a\tb\033"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 127);
	ck_assert_str_eq(r.err, "vgpu-run: cannot run '/nonexistent-vgpu/a\\x09b\\x1b': command not found\n");
	run_result_free(&r);
	run_plain(ARGV(env_path("VGPU_REPORT"), "show", "/nonexistent-vgpu/\033]0;x\007"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 2);
	ck_assert_str_eq(r.err, "vgpu-report: /nonexistent-vgpu/\\x1b]0;x\\x07: No such file or directory\n");
	run_result_free(&r);
}
END_TEST

/* faults.md #33: --trace-max=4096, the documented least, could not hold
 * the header (the ollama policy's text is in it): the file passed the cap.
 * Refused before the command starts, naming the least that fits; the
 * ggml policy's shorter header fits in 4096 bytes. */
START_TEST(test_trace_max_holds_the_header)
{
	char dir[] = "/tmp/vgpu-tmax-XXXXXX", trace[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/t.jsonl", dir);
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-t", trace, "--trace-max=4096", "--", "/bin/sh", "-c", "exit 4"),
		  &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	ck_assert_ptr_nonnull(strstr(r.err, "vgpu-run: --trace-max=4096 cannot hold the trace's header and the line "
					    "that marks a cut ("));
	ck_assert_ptr_nonnull(strstr(r.err, " bytes: the header carries the policy's text and the command line): "
					    "give at least 8K\n"));
	ck_assert_int_eq(access(trace, F_OK), -1);	/* nothing was created */
	run_result_free(&r);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-p", "ggml", "-t", trace, "--trace-max=4096", "--",
		       env_path("TRACEE"), "opens", "100"),
		  &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	struct stat st;
	ck_assert_int_eq(stat(trace, &st), 0);
	ck_assert_int_le(st.st_size, 4096);
	run_result_free(&r);
	sh("rm -rf '%s'", dir);
}
END_TEST

/* faults.md #36: a removed working directory gave paths with the
 * kernel's " (deleted)" baked in, and bytes that are not UTF-8 all became
 * U+FFFD, so two files differing in them were one path in the trace. */
START_TEST(test_odd_paths_stay_distinct)
{
	char dir[] = "/tmp/vgpu-odd-XXXXXX", cmd[1024];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && mkdir g && cd g && rmdir ../g && { cat x.so 2>/dev/null; true; } && cd '%s' && "
		 "touch \"$(printf 'bad\\377.so')\" \"$(printf 'bad\\376.so')\" && cat bad*.so",
		 dir, dir);
	RunResult r;
	run_traced(ARGV("/bin/sh", "-c", cmd), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	json_object *ev = trace_find(&r.trace, "syscall", "raw", "x.so");
	ck_assert_ptr_nonnull(ev);
	ck_assert_ptr_null(ev_str(ev, "path"));
	ck_assert_str_eq(ev_str(ev, "path_error"), "ENOENT");
	for (size_t i = 0; i < r.trace.n; i++)
		ck_assert_ptr_null(strstr(json_object_to_json_string(r.trace.ev[i]), "(deleted)"));
	char ff[300], fe[300];
	snprintf(ff, sizeof(ff), "%s/bad\xee\xbf\xbf.so", dir);	/* U+EFFF: byte 0xff */
	snprintf(fe, sizeof(fe), "%s/bad\xee\xbf\xbe.so", dir);	/* U+EFFE: byte 0xfe */
	ck_assert_uint_eq(trace_count(&r.trace, "syscall", "path", ff), 2);	/* touch, cat */
	ck_assert_uint_eq(trace_count(&r.trace, "syscall", "path", fe), 2);
	run_result_free(&r);
	sh("rm -rf '%s'", dir);
}
END_TEST

/* faults.md #6 and bounded matching: whatever a policy's regexes say,
 * one line of output costs bounded time.  Back-references are refused
 * when the policy is read; the others see a line's first 4 KiB, so the
 * patterns that cost glibc the square of the length (15 s on 64 KiB each)
 * cost milliseconds.  Eight 64 KiB lines against three such patterns took
 * minutes before; this test's case times out at 60 s. */
START_TEST(test_policy_regexes_cost_bounded_time)
{
	char policy[] = "/tmp/vgpu-worst-XXXXXX";
	temp_file(policy);
	sh("printf 'name = x\\nbackend-file = libggml-*.so\\nscanner = any\\ncapture-fd = 2\\n"
	   "version-regex = ([a-z]+)+x([0-9.]+)\\noutcome = (.*a){8}x\\ndiscovered = (.*.*a){20}y\\n' > '%s'",
	   policy);
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-p", policy, "--", env_path("TRACEE"), "long-lines", "8"), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x", r.status);
	run_result_free(&r);

	/* a back-reference: refused when the policy is read, naming why */
	sh("printf 'name = x\\nbackend-file = libggml-*.so\\nscanner = any\\nversion-regex = (.*)\\\\1y\\n' > '%s'",
	   policy);
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-p", policy, "--", "true"), &r);
	ck_assert_int_eq(WEXITSTATUS(r.status), 125);
	char want[512];
	snprintf(want, sizeof(want),
		 "vgpu-run: %s:4: version-regex: back-references (\\1 to \\9) are not allowed: their matching "
		 "cost has no bound\n", policy);
	ck_assert_str_eq(r.err, want);
	run_result_free(&r);
	unlink(policy);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("hostile");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_fifo_named_like_a_library_does_not_block);
	tcase_add_test(tc, test_fifo_policy_and_trace_do_not_block);
	tcase_add_test(tc, test_scripts_run_as_execvp_runs_them);
	tcase_add_test(tc, test_verbose_paths_escaped);
	tcase_add_test(tc, test_no_inject_ignores_unusable_vgpu_shim);
	tcase_add_test(tc, test_closed_std_fds);
	tcase_add_test(tc, test_resource_limits_named);
	tcase_add_test(tc, test_messages_escape_control_bytes);
	tcase_add_test(tc, test_trace_max_holds_the_header);
	tcase_add_test(tc, test_odd_paths_stay_distinct);
	suite_add_tcase(s, tc);
	/* eight 64 KiB lines against the worst patterns took minutes */
	TCase *match = tcase_create("matching");
	tcase_set_timeout(match, 60);
	tcase_add_test(match, test_policy_regexes_cost_bounded_time);
	suite_add_tcase(s, match);
	return check_run(s);
}
