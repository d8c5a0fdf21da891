/* Live tests: the files of a run that a supervisor restarts for weeks
 * (vgpu-run(1), REPORT FILES and --trace-pieces).  A restart keeps the
 * previous report, symlinks are followed and kept, the report's path is
 * checked before the command starts, and nothing names one file twice. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* A fresh directory for one test. */
static void workdir(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/files-%s", env_path("TEST_WORKDIR"), name);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", out, out);
	ck_assert_int_eq(system(cmd), 0);
}

/* vgpu-run -q [OPTS...] -- sh -c SCRIPT in DIR; its exit code. */
static int vgpu(const char *dir, const char *const *opts, const char *script, RunResult *r)
{
	const char *argv[32] = { env_path("VGPU_RUN"), "-q" };
	size_t n = 2;
	for (size_t i = 0; opts && opts[i]; i++)
		argv[n++] = opts[i];
	argv[n++] = "--";
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n] = NULL;
	char here[1024];
	ck_assert_ptr_nonnull(getcwd(here, sizeof(here)));
	ck_assert_int_eq(chdir(dir), 0);
	run_plain(argv, r);
	ck_assert_int_eq(chdir(here), 0);
	ck_assert(WIFEXITED(r->status));
	return WEXITSTATUS(r->status);
}

/* The command line of the JSON report at DIR/NAME, its last argument. */
static char *report_script(const char *dir, const char *name)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	json_object *rep = json_object_from_file(path), *cmd;
	ck_assert_msg(rep, "no JSON report %s", path);
	ck_assert(json_object_object_get_ex(rep, "command", &cmd));
	char *s = strdup(json_object_get_string(json_object_array_get_idx(cmd, 2)));
	json_object_put(rep);
	return s;
}

static bool exists(const char *dir, const char *name)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

START_TEST(test_restart_keeps_previous_report_as_file_1)
{
	char dir[1024];
	workdir(dir, sizeof(dir), "keep");
	RunResult r;
	const char *opts[] = { "-o", "r.json", NULL };
	ck_assert_int_eq(vgpu(dir, opts, "exit 3", &r), 3);
	run_result_free(&r);
	ck_assert_int_eq(vgpu(dir, opts, "exit 4", &r), 4);
	run_result_free(&r);
	char *now = report_script(dir, "r.json"), *before = report_script(dir, "r.json.1");
	ck_assert_str_eq(now, "exit 4");
	ck_assert_str_eq(before, "exit 3");	/* the run that failed first is still there */
	free(now);
	free(before);
	ck_assert(!exists(dir, "r.json.2"));

	/* more generations on request; the oldest moves up */
	const char *keep3[] = { "-o", "r.json", "--report-keep=3", NULL };
	ck_assert_int_eq(vgpu(dir, keep3, "exit 5", &r), 5);
	run_result_free(&r);
	char *g2 = report_script(dir, "r.json.2");
	ck_assert_str_eq(g2, "exit 3");
	free(g2);
	ck_assert(!exists(dir, "r.json.3"));

	/* 0: overwritten, nothing kept */
	const char *keep0[] = { "-o", "n.json", "--report-keep=0", NULL };
	ck_assert_int_eq(vgpu(dir, keep0, "exit 0", &r), 0);
	run_result_free(&r);
	ck_assert_int_eq(vgpu(dir, keep0, "exit 1", &r), 1);
	run_result_free(&r);
	ck_assert(!exists(dir, "n.json.1"));
}
END_TEST

/* -o through a symlink writes the file it names, in its directory (the
 * rename happens there), and leaves the link a link. */
START_TEST(test_symlink_is_followed_and_kept)
{
	char dir[1024], cmd[2600];
	workdir(dir, sizeof(dir), "symlink");
	snprintf(cmd, sizeof(cmd), "mkdir '%s/logs' && ln -s logs/real.json '%s/link.json'", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	RunResult r;
	const char *opts[] = { "-o", "link.json", NULL };
	ck_assert_int_eq(vgpu(dir, opts, "exit 0", &r), 0);
	run_result_free(&r);
	ck_assert_int_eq(vgpu(dir, opts, "exit 2", &r), 2);
	run_result_free(&r);
	char path[1200];
	struct stat st;
	snprintf(path, sizeof(path), "%s/link.json", dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	char *now = report_script(dir, "logs/real.json"), *before = report_script(dir, "logs/real.json.1");
	ck_assert_str_eq(now, "exit 2");
	ck_assert_str_eq(before, "exit 0");
	free(now);
	free(before);
	/* nothing left beside the link: no temporary file, no kept link */
	snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s')\" = \"$(printf 'link.json\\nlogs')\"", dir);
	ck_assert_msg(system(cmd) == 0, "stray files in %s", dir);
}
END_TEST

/* faults.md 2026-12-01 #2: -o /dev/stdout replaced the /dev/stdout link
 * with a regular file.  It is written through, in place. */
START_TEST(test_dev_stdout_is_written_in_place)
{
	char dir[1024], cmd[2600];
	workdir(dir, sizeof(dir), "stdout");
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' -q -o /dev/stdout -- /bin/true > out.txt && test -L /dev/stdout "
		 "&& head -1 out.txt | grep -qx '/bin/true (policy ollama, scanner version unknown): exited with code 0'"
		 " && test \"$(ls -A)\" = out.txt",
		 dir, env_path("VGPU_RUN"));
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}
END_TEST

/* The report's path is checked before the command starts: it never runs. */
START_TEST(test_unwritable_report_path_fails_before_the_command)
{
	char dir[1024];
	workdir(dir, sizeof(dir), "unwritable");
	RunResult r;
	const char *opts[] = { "-o", "/nonexistent/r.json", NULL };
	ck_assert_int_eq(vgpu(dir, opts, "touch ran", &r), 125);
	ck_assert_str_eq(r.err, "vgpu-run: cannot write the report '/nonexistent/r.json': no file can be "
				"created in '/nonexistent': No such file or directory\n");
	run_result_free(&r);
	ck_assert(!exists(dir, "ran"));
}
END_TEST

/* faults.md 2026-12-01 #11: -o X -t X overwrote the trace with the report. */
START_TEST(test_report_and_trace_on_one_file_is_refused)
{
	char dir[1024], cmd[2600];
	workdir(dir, sizeof(dir), "same");
	snprintf(cmd, sizeof(cmd), "cd '%s' && echo keep > x && ln -s x y", dir);
	ck_assert_int_eq(system(cmd), 0);
	RunResult r;
	const char *same[] = { "-o", "x", "-t", "x", NULL };
	ck_assert_int_eq(vgpu(dir, same, "touch ran", &r), 125);
	ck_assert_str_eq(r.err, "vgpu-run: the report and the trace are the same file 'x'\n");
	run_result_free(&r);
	const char *linked[] = { "-o", "y", "-t", "./x", NULL };
	ck_assert_int_eq(vgpu(dir, linked, "touch ran", &r), 125);
	ck_assert_str_eq(r.err, "vgpu-run: the report and the trace are the same file './x'\n");
	run_result_free(&r);
	const char *fresh[] = { "-o", "new", "-t", "./new", NULL };
	ck_assert_int_eq(vgpu(dir, fresh, "touch ran", &r), 125);
	run_result_free(&r);
	ck_assert(!exists(dir, "ran"));
	ck_assert(!exists(dir, "new"));
	snprintf(cmd, sizeof(cmd), "test \"$(cat '%s/x')\" = keep", dir);
	ck_assert_int_eq(system(cmd), 0);
	/* /dev/null twice is no conflict */
	const char *null2[] = { "-o", "/dev/null", "-t", "/dev/null", NULL };
	ck_assert_int_eq(vgpu(dir, null2, "exit 0", &r), 0);
	run_result_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("files-live");
	TCase *tc = tcase_create("report files");
	tcase_add_test(tc, test_restart_keeps_previous_report_as_file_1);
	tcase_add_test(tc, test_symlink_is_followed_and_kept);
	tcase_add_test(tc, test_dev_stdout_is_written_in_place);
	tcase_add_test(tc, test_unwritable_report_path_fails_before_the_command);
	tcase_add_test(tc, test_report_and_trace_on_one_file_is_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
