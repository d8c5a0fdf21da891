/* Live tests: the files of a run that a supervisor restarts for weeks
 * (vgpu-run(1), REPORT FILES and --trace-pieces).  A restart keeps the
 * previous report, symlinks are followed and kept, the report's path is
 * checked before the command starts, and nothing names one file twice;
 * a rotated trace keeps its recent pieces, each readable alone. */
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
#include "../check-run.h"

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

/* The first line of DIR/NAME: the trace's header, with its run_id. */
static char *run_id_of(const char *dir, const char *name)
{
	char path[1200], line[65536];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "no %s", path);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	json_object *h = json_tokener_parse(line), *id;
	ck_assert(h && json_object_object_get_ex(h, "run_id", &id));
	char *s = strdup(json_object_get_string(id));
	json_object_put(h);
	return s;
}

/* -t follows the report's rules: a restart keeps the previous run's trace
 * as FILE.1 (through a symlink, the file it names), and with
 * --trace-pieces the pieces move up one. */
START_TEST(test_restart_keeps_previous_trace)
{
	char dir[1024];
	workdir(dir, sizeof(dir), "keep-trace");
	RunResult r;
	const char *opts[] = { "-t", "t.jsonl", NULL };
	ck_assert_int_eq(vgpu(dir, opts, "exit 3", &r), 3);
	run_result_free(&r);
	char *first = run_id_of(dir, "t.jsonl");
	ck_assert_int_eq(vgpu(dir, opts, "exit 4", &r), 4);
	run_result_free(&r);
	char *kept = run_id_of(dir, "t.jsonl.1"), *now = run_id_of(dir, "t.jsonl");
	ck_assert_str_eq(kept, first);
	ck_assert_str_ne(now, first);
	ck_assert(!exists(dir, "t.jsonl.2"));
	free(kept);
	free(now);
	free(first);

	/* through a symlink: the target is kept beside itself, the link stays */
	char cmd[2600];
	snprintf(cmd, sizeof(cmd), "cd '%s' && mkdir real && ln -s real/l.jsonl link.jsonl", dir);
	ck_assert_int_eq(system(cmd), 0);
	const char *link[] = { "-t", "link.jsonl", NULL };
	ck_assert_int_eq(vgpu(dir, link, "exit 0", &r), 0);
	run_result_free(&r);
	ck_assert_int_eq(vgpu(dir, link, "exit 0", &r), 0);
	run_result_free(&r);
	ck_assert(exists(dir, "real/l.jsonl.1"));
	struct stat st;
	snprintf(cmd, sizeof(cmd), "%s/link.jsonl", dir);
	ck_assert_int_eq(lstat(cmd, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));

	/* pieces: the last run's pieces move up one, its newest is .1 */
	const char *pieces[] = { "-t", "p.jsonl", "--trace-max=4M", "--trace-pieces=3", NULL };
	ck_assert_int_eq(vgpu(dir, pieces, "exit 0", &r), 0);
	run_result_free(&r);
	char *p1 = run_id_of(dir, "p.jsonl");
	ck_assert_int_eq(vgpu(dir, pieces, "exit 0", &r), 0);
	run_result_free(&r);
	char *p2 = run_id_of(dir, "p.jsonl.1");
	ck_assert_str_eq(p2, p1);
	ck_assert(!exists(dir, "p.jsonl.2"));
	free(p1);
	free(p2);
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
		 "&& sed -n 2p out.txt | grep -qx '/bin/true (policy ollama, scanner version unknown): exited with code 0'"
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

/* The first line of FILE, parsed. */
static json_object *first_line(const char *file)
{
	FILE *f = fopen(file, "re");
	ck_assert_msg(f, "cannot open %s", file);
	char *line = NULL;
	size_t cap = 0;
	ck_assert_int_gt(getline(&line, &cap, f), 0);
	fclose(f);
	json_object *o = json_tokener_parse(line);
	free(line);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* vgpu-report show --format=json FILES... in DIR: its stdout, with the
 * one field that differs between any two renderings taken out. */
static char *show(const char *dir, const char *const *files, int *rc, char **err)
{
	const char *argv[16] = { env_path("VGPU_REPORT"), "show", "--format=json" };
	size_t n = 3;
	for (size_t i = 0; files[i]; i++)
		argv[n++] = files[i];
	argv[n] = NULL;
	char here[1024];
	ck_assert_ptr_nonnull(getcwd(here, sizeof(here)));
	ck_assert_int_eq(chdir(dir), 0);
	RunResult r;
	run_plain(argv, &r);
	ck_assert_int_eq(chdir(here), 0);
	*rc = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
	char *out = r.out;
	r.out = NULL;
	if (err) {
		*err = r.err;
		r.err = NULL;
	}
	run_result_free(&r);
	strip_written_at(out);
	return out;
}

/* A server traced with --trace-max=4M --trace-pieces=4 writes far more
 * than 4 MiB of events: four files stay, each about 1 MiB, the newest
 * events; each reads alone, and all of them together give the live
 * report to the byte. */
START_TEST(test_rotated_trace_keeps_recent_pieces_each_readable)
{
	char dir[1024], path[1200];
	workdir(dir, sizeof(dir), "rotate");
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && mkdir -p root/bin root/lib/ollama/cuda_v13 && cp '%s' root/bin/ollama && "
		 "cp \"$(ldd '%s' | awk '/libjson-c/ {print $3}')\" root/lib/ollama/cuda_v13/libggml-cuda.so",
		 dir, env_path("LONGRUN_SERVER"), env_path("VGPU_RUN"));
	ck_assert_int_eq(system(cmd), 0);
	RunResult r;
	const char *argv[] = { env_path("VGPU_RUN"), "-q", "-o", "r.json", "-t", "t.jsonl", "--trace-max=4M",
			       "--trace-pieces=4", "--", "root/bin/ollama", "serve", "300", NULL };
	char here[1024];
	ck_assert_ptr_nonnull(getcwd(here, sizeof(here)));
	ck_assert_int_eq(chdir(dir), 0);
	run_plain(argv, &r);
	ck_assert_int_eq(chdir(here), 0);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	run_result_free(&r);

	/* four pieces, newest last in this list, consecutive, one run */
	static const char *const pieces[] = { "t.jsonl.3", "t.jsonl.2", "t.jsonl.1", "t.jsonl" };
	ck_assert(!exists(dir, "t.jsonl.4"));
	char run_id[64] = "";
	long long first_piece = 0;
	for (int i = 0; i < 4; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, pieces[i]);
		ck_assert_int_eq(stat(path, &st), 0);
		/* SIZE/N, and at most one event line more */
		ck_assert_msg(st.st_size <= 1024 * 1024 + 4096, "%s: %lld bytes", pieces[i], (long long)st.st_size);
		ck_assert_int_eq(st.st_mode & 0777, 0600);
		json_object *h = first_line(path);
		ck_assert_str_eq(ev_str(h, "event"), "header");
		if (!i) {
			snprintf(run_id, sizeof(run_id), "%s", ev_str(h, "run_id"));
			first_piece = ev_int(h, "piece", 0);
			ck_assert_int_ge(first_piece, 3);	/* 300 runs make more than 4 MiB */
		}
		ck_assert_str_eq(ev_str(h, "run_id"), run_id);
		ck_assert_int_eq(ev_int(h, "piece", 0), first_piece + i);
		ck_assert_int_eq(ev_int(h, "seq", 0), ev_int(h, "first_seq", -1));
		json_object_put(h);
	}
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s/scripts/validate-schemas' t.jsonl.3 t.jsonl.2 t.jsonl.1 t.jsonl >/dev/null",
		 dir, env_path("SOURCE_ROOT"));
	ck_assert_msg(system(cmd) == 0, "the pieces are not valid against schemas/");

	/* the live report, as written at the end */
	snprintf(path, sizeof(path), "%s/r.json", dir);
	FILE *f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	char *live = NULL;
	size_t cap = 0;
	ck_assert_int_gt(getdelim(&live, &cap, '\0', f), 0);
	fclose(f);
	strip_written_at(live);

	int rc;
	char *all = show(dir, (const char *const[]){ "t.jsonl.3", "t.jsonl.2", "t.jsonl.1", "t.jsonl", NULL },
			 &rc, NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(all, live);
	free(all);
	/* each alone: the whole run's verdicts up to its end */
	for (int i = 0; i < 4; i++) {
		char *one = show(dir, (const char *const[]){ pieces[i], NULL }, &rc, NULL);
		ck_assert_int_eq(rc, 0);
		json_object *rep = json_tokener_parse(one);
		ck_assert_ptr_nonnull(rep);
		json_object *c, *dirs;
		ck_assert(json_object_object_get_ex(rep, "complete", &c));
		ck_assert_int_eq(json_object_get_boolean(c), i == 3);
		ck_assert(json_object_object_get_ex(rep, "directories", &dirs));
		ck_assert_str_eq(ev_str(report_dir(rep, "cuda_v13"), "verdict"), "failed");
		if (i == 3)
			ck_assert_str_eq(one, live);	/* the newest piece alone is the whole report */
		json_object_put(rep);
		free(one);
	}
	/* out of order, or another file among them: refused, one line */
	char *err = NULL;
	free(show(dir, (const char *const[]){ "t.jsonl.1", "t.jsonl.2", NULL }, &rc, &err));
	ck_assert_int_eq(rc, 2);
	char want[256];
	snprintf(want, sizeof(want), "vgpu-report: t.jsonl.2:1: piece %lld does not follow piece %lld, ",
		 first_piece + 1, first_piece + 2);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "%s", err);
	free(err);
	free(show(dir, (const char *const[]){ "t.jsonl.1", "r.json", NULL }, &rc, &err));
	ck_assert_int_eq(rc, 2);
	ck_assert_str_eq(err, "vgpu-report: r.json is not a trace: only the pieces of one rotated trace are read "
			      "together\n");
	free(err);
	free(live);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("files-live");
	TCase *tc = tcase_create("report files");
	tcase_add_test(tc, test_restart_keeps_previous_report_as_file_1);
	tcase_add_test(tc, test_restart_keeps_previous_trace);
	tcase_add_test(tc, test_symlink_is_followed_and_kept);
	tcase_add_test(tc, test_dev_stdout_is_written_in_place);
	tcase_add_test(tc, test_unwritable_report_path_fails_before_the_command);
	tcase_add_test(tc, test_report_and_trace_on_one_file_is_refused);
	tcase_add_test(tc, test_rotated_trace_keeps_recent_pieces_each_readable);
	suite_add_tcase(s, tc);
	return check_run(s);
}
