/* The findings of the fault-injection report (shared/qa/2026-12-01,
 * faults.md) that the streaming diagnosis fixed, one test each; every
 * test fails on the behaviour the report describes:
 *   #3  a full TMPDIR silently dropped the report (the scratch trace)
 *   #8  memory quadratic in directories x processes
 *   #9  every observe/elf event kept (still open: see its test)
 *   #13 a trace cut mid-run judged as if complete
 *   #15 with -o, each scanner end re-read the whole scratch trace
 *   #17 --discover-only exited 0 without a report
 * Also covered elsewhere: #13 live (kill -9) in test-longrun-live.c,
 * #17 with a missing directory in test-signals-live.c.
 *
 * Cost findings are asserted as memory (the child's peak RSS, from
 * wait4) and exact counts, never as time.  The traces given to
 * vgpu-report are generated with the shapes vgpu-run writes (a header
 * with the ggml policy, seq 1, 2, 3, ..., a stats line at the end). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "../check-run.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define MIB 1024L		/* ru_maxrss is in KiB */


static bool get_bool(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static long long count_of(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_array_length(v) : -1;
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s'", key);
	return v;
}

static bool has_note(json_object *rep, const char *text)
{
	json_object *notes = member(rep, "notes");
	for (size_t i = 0; i < json_object_array_length(notes); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(notes, i)), text))
			return true;
	return false;
}

static void assert_verdict(json_object *rep, const char *dir, const char *verdict, const char *reason)
{
	json_object *d = report_dir(rep, dir);
	ck_assert_msg(d, "no directory %s", dir);
	ck_assert_msg(!strcmp(ev_str(d, "verdict"), verdict) && !strcmp(ev_str(d, "reason"), reason),
		      "%s is %s:%s, want %s:%s", dir, ev_str(d, "verdict"), ev_str(d, "reason"), verdict, reason);
}

/* The names in DIR other than . and .., comma-separated, into OUT. */
static void list_dir(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	ck_assert_msg(d, "opendir %s: %s", dir, strerror(errno));
	size_t len = 0;
	out[0] = '\0';
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			len += (size_t)snprintf(out + len, size - len, "%s%s", len ? "," : "", de->d_name);
	closedir(d);
}

/* ---- A TMPDIR vgpu-run cannot use ---------------------------------- */

/* As root: a tmpfs of SIZE in this test's own mount namespace (check
 * forks each test), so that nothing outside sees it; a FULL one holds a
 * file "fill" that leaves no free block.  Otherwise (or where no
 * namespace can be made) a directory of mode 0555, where an unprivileged
 * vgpu-run can write nothing.  Returns whether it is a tmpfs. */
static bool private_tmpdir(char *dir, const char *size, bool full)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) {
		char opts[64];
		snprintf(opts, sizeof(opts), "size=%s,mode=1777", size);
		ck_assert_msg(mount("tmpfs", dir, "tmpfs", 0, opts) == 0, "mount tmpfs: %s", strerror(errno));
		if (full)
			fs_fill(dir, 0644);
		return true;
	}
	ck_assert_msg(geteuid() != 0, "root, but no private mount namespace: %s", strerror(errno));
	ck_assert_int_eq(chmod(dir, 0555), 0);
	return false;
}

static void private_tmpdir_done(const char *dir, bool tmpfs)
{
	if (tmpfs)
		ck_assert_int_eq(umount2(dir, MNT_DETACH), 0);
	else
		chmod(dir, 0700);
	sh("rm -rf '%s'", dir);
}

/* faults.md #3: TMPDIR full, the report was dropped with exit 0 and no
 * message: the diagnosis read a scratch copy of the trace in TMPDIR,
 * whose writes failed.  The diagnosis is a fold in memory now: the report
 * is written, the exit is the command's, and TMPDIR is left as it was. */
START_TEST(test_full_tmpdir_report_still_written)
{
	char tmpdir[] = "/tmp/vgpu-full-XXXXXX", report[600], names[256];
	bool tmpfs = private_tmpdir(tmpdir, "4k", true);
	setenv("TMPDIR", tmpdir, 1);
	snprintf(report, sizeof(report), "%s/full-tmpdir.json", env_path("TEST_WORKDIR"));
	unlink(report);

	/* -o: 2000 failed opens are some 300 KB of trace, far past 4 KiB */
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "-o", report, "--", "/bin/sh", "-c", "\"$0\" opens 2000; exit 3",
		       env_path("TRACEE")),
		  &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3, "status %#x: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	run_result_free(&r);
	json_object *rep = json_object_from_file(report);
	ck_assert_msg(rep, "no report at %s", report);
	ck_assert(get_bool(rep, "complete"));
	ck_assert_int_eq(ev_int(member(rep, "exit"), "code", -1), 3);
	ck_assert_int_eq(count_of(rep, "directories"), 0);
	json_object_put(rep);

	/* no -o: the report goes to stderr, and is there */
	run_plain(ARGV(env_path("VGPU_RUN"), "--", env_path("TRACEE"), "exit", "3"), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3, "status %#x: %s", r.status, r.err);
	char first[1024];
	snprintf(first, sizeof(first),
		 "Outcome: not stated by the server (no exec matched the policy's server rule)\n"
		 "%s exit 3 (policy ollama, scanner version unknown): exited with code 3\n",
		 env_path("TRACEE"));
	ck_assert_msg(!strncmp(r.err, first, strlen(first)), "stderr:\n%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "\nDirectories: none found\n"));
	run_result_free(&r);

	/* nothing was written under TMPDIR */
	list_dir(tmpdir, names, sizeof(names));
	ck_assert_str_eq(names, tmpfs ? "fill" : "");
	if (tmpfs) {
		struct stat st;
		char fill[600];
		snprintf(fill, sizeof(fill), "%s/fill", tmpdir);
		ck_assert_int_eq(stat(fill, &st), 0);
		ck_assert_int_eq(st.st_size, 4096);
	}
	unsetenv("TMPDIR");
	unlink(report);
	private_tmpdir_done(tmpdir, tmpfs);
}
END_TEST

/* ---- Generated traces for vgpu-report ------------------------------ */

typedef struct Gen {
	FILE *f;
	unsigned long long seq;
} Gen;

#define SERVER 1000	/* the traced command's pid in generated traces */

/* One event: seq and t_ns (1 µs apart), then BODY's fields. */
__attribute__((format(printf, 2, 3))) static void gen_event(Gen *g, const char *body, ...)
{
	va_list ap;
	++g->seq;
	fprintf(g->f, "{\"seq\":%llu,\"t_ns\":%llu,", g->seq, g->seq * 1000);
	va_start(ap, body);
	vfprintf(g->f, body, ap);
	va_end(ap);
	fputs("}\n", g->f);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t cap = 0;
	ck_assert_int_ge(getdelim(&buf, &cap, '\0', f), 1);
	fclose(f);
	return buf;
}

/* The header of a run of /srv/host under the ggml policy (scanner any:
 * whoever opens a backend is the scanner), and the server's exec. */
static void gen_start(Gen *g, const char *path)
{
	char policy[600];
	snprintf(policy, sizeof(policy), "%s/policies/ggml.policy", env_path("SOURCE_ROOT"));
	char *text = read_text(policy);
	json_object *h = json_object_new_object(), *pol = json_object_new_object(), *tool = json_object_new_object(),
		    *host = json_object_new_object(), *cmd = json_object_new_array(),
		    *fds = json_object_new_array(), *keep = json_object_new_array();
	json_object_object_add(h, "seq", json_object_new_int(1));
	json_object_object_add(h, "t_ns", json_object_new_int(0));
	json_object_object_add(h, "event", json_object_new_string("header"));
	json_object_object_add(h, "schema", json_object_new_string("vgpu-run/trace/1"));
	json_object_object_add(tool, "name", json_object_new_string("vgpu-run"));
	json_object_object_add(tool, "version", json_object_new_string("0.1.0"));
	json_object_object_add(h, "tool", tool);
	json_object_array_add(cmd, json_object_new_string("/srv/host"));
	json_object_object_add(h, "command", cmd);
	json_object_object_add(pol, "name", json_object_new_string("ggml"));
	json_object_object_add(pol, "path", json_object_new_string(policy));
	json_object_object_add(pol, "text", json_object_new_string(text));
	json_object_object_add(h, "policy", pol);
	json_object_object_add(host, "arch", json_object_new_string("x86_64"));
	json_object_object_add(host, "kernel", json_object_new_string("6.1.0"));
	json_object_object_add(h, "host", host);
	json_object_array_add(fds, json_object_new_int(2));
	json_object_array_add(fds, json_object_new_int(1));
	json_object_object_add(h, "capture_fds", fds);
	json_object_array_add(keep, json_object_new_string("LD_LIBRARY_PATH"));
	json_object_object_add(h, "env_keep", keep);

	g->f = fopen(path, "we");
	ck_assert_msg(g->f, "%s: %s", path, strerror(errno));
	fprintf(g->f, "%s\n",
		json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	g->seq = 1;
	json_object_put(h);
	free(text);
	gen_event(g,
		  "\"event\":\"exec\",\"pid\":%d,\"tid\":%d,\"ppid\":999,\"exe\":\"/srv/host\",\"cwd\":\"/srv\","
		  "\"argv\":[\"/srv/host\"],\"env\":{}",
		  SERVER, SERVER);
}

/* The server's exit 0 and the stats line: a complete trace. */
static void gen_end(Gen *g, unsigned long tasks)
{
	gen_event(g, "\"event\":\"exit\",\"pid\":%d,\"tid\":%d,\"code\":0", SERVER, SERVER);
	gen_event(g,
		  "\"event\":\"stats\",\"stops\":%llu,\"seccomp_stops\":0,\"exit_stops\":0,\"signal_stops\":0,"
		  "\"sigurg_stops\":0,\"event_stops\":0,\"tasks\":%lu,\"max_live_tasks\":%d",
		  g->seq, tasks, tasks > 1 ? 2 : 1);
	ck_assert_int_eq(fclose(g->f), 0);
}

/* vgpu-report show --format=json TRACE with 1 GiB of address space (so
 * that a regression fails here, not on the machine): its report, and its
 * peak RSS in KiB. */
static json_object *report_of(const char *trace, long *maxrss)
{
	struct rlimit old, lim;
	ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
	lim = (struct rlimit){ 1024L * 1024 * 1024, old.rlim_max };	/* the soft one: it is restored */
	if (!SANITIZED)
		ck_assert_int_eq(setrlimit(RLIMIT_AS, &lim), 0);
	RunResult r;
	struct rusage ru;
	run_plain_usage(ARGV(env_path("VGPU_REPORT"), "show", "--format=json", trace), &r, &ru);
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &old), 0);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	json_object *rep = json_tokener_parse(r.out);
	ck_assert_msg(rep, "not JSON: %.200s", r.out);
	run_result_free(&r);
	*maxrss = ru.ru_maxrss;
	return rep;
}

/* Did the child stay under LIMIT_MIB of RSS (always, in a sanitizer
 * build)? */
static bool rss_within(long maxrss, long limit_mib)
{
	return SANITIZED || maxrss < limit_mib * MIB;
}

/* faults.md #8: with scanner any, each process that opens a backend is a
 * run on its directory; every directory's judgement allocated a slot per
 * process (dirs x procs x 24 B: 60,000 lines took 2.76 GB).  Runs are
 * folded into their directory when their process ends now, so memory
 * grows with directories only.  The report's own shape: 20,000 processes,
 * each opening libggml-x.so in a directory of its own (about 4.7 KiB of
 * state per directory listed); and 20,000 processes over 4,000
 * directories, where only the product was large. */
static const struct {
	unsigned dirs, runs_per_dir;
	long limit_mib;
} dir_shapes[] = {
	{ 20000, 1, 160 },
	{ 4000, 5, 64 },
};

START_TEST(test_dirs_times_processes_memory_linear)
{
	unsigned dirs = dir_shapes[_i].dirs, per = dir_shapes[_i].runs_per_dir;
	char trace[600];
	snprintf(trace, sizeof(trace), "%s/faults-dirs-%u.jsonl", env_path("TEST_WORKDIR"), dirs);
	Gen g;
	gen_start(&g, trace);
	for (unsigned long k = 0; k < (unsigned long)dirs * per; k++) {
		unsigned long child = 100000 + k;
		gen_event(&g,
			  "\"event\":\"fork\",\"pid\":%d,\"tid\":%d,\"ppid\":999,\"kind\":\"fork\","
			  "\"child_pid\":%lu,\"child_tid\":%lu",
			  SERVER, SERVER, child, child);
		gen_event(&g,
			  "\"event\":\"syscall\",\"pid\":%lu,\"tid\":%lu,\"syscall\":\"openat\","
			  "\"path\":\"/srv/d/%lu/libggml-x.so\",\"flags\":\"O_RDONLY|O_CLOEXEC\",\"result\":3",
			  child, child, k % dirs);
		gen_event(&g, "\"event\":\"exit\",\"pid\":%lu,\"tid\":%lu,\"code\":0", child, child);
	}
	gen_end(&g, (unsigned long)dirs * per + 1);
	ck_assert_int_eq(g.seq, 3ULL * dirs * per + 4);	/* 60,004 lines */

	long maxrss;
	json_object *rep = report_of(trace, &maxrss);
	ck_assert_msg(rss_within(maxrss, dir_shapes[_i].limit_mib), "vgpu-report peaked at %ld KiB for %u directories",
		      maxrss, dirs);
	ck_assert(get_bool(rep, "complete"));
	json_object *ds = member(rep, "directories");
	ck_assert_int_eq(json_object_array_length(ds), dirs);
	/* each opened its backend, which was not mapped at the end */
	for (size_t i = 0; i < dirs; i++) {
		json_object *d = json_object_array_get_idx(ds, i);
		ck_assert_str_eq(ev_str(d, "verdict"), "failed");
		ck_assert_str_eq(ev_str(d, "reason"), "load-error");
		ck_assert_int_eq(count_of(d, "runs"), per);
	}
	char name[64];
	snprintf(name, sizeof(name), "/srv/d/%u", dirs - 1);
	assert_verdict(rep, name, "failed", "load-error");
	json_object_put(rep);
	unlink(trace);
}
END_TEST

/* faults.md #9: every distinct observe/elf event was kept whole (2M of
 * them: 6.45 GB).  50,000 libraries, none a backend: the report is
 * "no directories", and the ELF facts kept for it are bounded (the
 * facts the diagnosis reads, of the first ELF_KEEP_MAX files). */
#define ELF_LIBS 50000

START_TEST(test_elf_events_memory_bounded)
{
	char trace[600];
	snprintf(trace, sizeof(trace), "%s/faults-elf.jsonl", env_path("TEST_WORKDIR"));
	Gen g;
	gen_start(&g, trace);
	for (unsigned i = 0; i < ELF_LIBS; i++) {
		gen_event(&g,
			  "\"event\":\"syscall\",\"pid\":%d,\"tid\":%d,\"syscall\":\"openat\","
			  "\"path\":\"/srv/lib/%u/libfoo%u.so\",\"flags\":\"O_RDONLY|O_CLOEXEC\",\"result\":3",
			  SERVER, SERVER, i, i);
		/* the facts of a small library: a soname, one NEEDED, 40
		 * undefined symbols of its own */
		fprintf(g.f,
			"{\"seq\":%llu,\"t_ns\":%llu,\"event\":\"observe\",\"pid\":%d,\"tid\":%d,\"what\":\"elf\","
			"\"path\":\"/srv/lib/%u/libfoo%u.so\",\"class\":64,\"byte_order\":\"little\","
			"\"machine\":\"x86-64\",\"type\":3,\"soname\":\"libfoo%u.so\",\"needed\":[\"libc.so.6\"],"
			"\"undefined\":[",
			g.seq + 1, (g.seq + 1) * 1000, SERVER, SERVER, i, i, i);
		for (int s = 0; s < 40; s++)
			fprintf(g.f, "%s\"foo%u_sym%d\"", s ? "," : "", i, s);
		fputs("]}\n", g.f);
		g.seq++;
	}
	gen_end(&g, 1);
	ck_assert_int_eq(g.seq, 2ULL * ELF_LIBS + 4);

	long maxrss;
	json_object *rep = report_of(trace, &maxrss);
	ck_assert_msg(rss_within(maxrss, 64), "vgpu-report peaked at %ld KiB for %d ELF events", maxrss, ELF_LIBS);
	ck_assert(get_bool(rep, "complete"));
	ck_assert_int_eq(count_of(rep, "directories"), 0);
	ck_assert_int_eq(count_of(rep, "processes"), 1);
	/* what was not kept is said */
	json_object *notes = NULL;
	ck_assert(json_object_object_get_ex(rep, "notes", &notes));
	bool said = false;
	for (size_t i = 0; i < json_object_array_length(notes); i++)
		said |= !strcmp(json_object_get_string(json_object_array_get_idx(notes, i)),
				"the ELF facts of 45904 more libraries were not kept (the diagnosis keeps those "
				"of the first 4096): a verdict about them lacks their RUNPATH and NEEDED");
	ck_assert_msg(said, "no note on the ELF facts not kept: %s", json_object_get_string(notes));
	json_object_put(rep);
	unlink(trace);
}
END_TEST

/* faults.md #13: a trace cut mid-run (the first 400 lines of a real one,
 * as kill -9 of vgpu-run leaves it) was read as complete: cuda_v13,
 * whose scanner had not started, was "skipped:never-scanned", with no
 * word of the cut.  Now: complete false, a note where it ends, cuda_v13
 * not reached; the whole trace still gives its verdicts. */
#define CUT_AT 400

/* The JSON report of the first N lines of the recorded trace FULL. */
static json_object *cut_report(const char *full, int n)
{
	char cut[600];
	snprintf(cut, sizeof(cut), "%s/faults-cut.jsonl", env_path("TEST_WORKDIR"));
	FILE *in = fopen(full, "re"), *out = fopen(cut, "we");
	ck_assert(in && out);
	char *line = NULL;
	size_t cap = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_int_gt(getline(&line, &cap, in), 0);
		fputs(line, out);
	}
	free(line);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
	/* the recorded policy predates 'kept': replay with the current one
	 * (tests/data/traces/README.md) */
	RunResult r;
	run_plain(ARGV(env_path("VGPU_REPORT"), "-p", "ollama", "show", "--format=json", cut), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	json_object *rep = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(rep);
	run_result_free(&r);
	unlink(cut);
	return rep;
}

START_TEST(test_cut_trace_is_incomplete)
{
	char full[600];
	snprintf(full, sizeof(full), "%s/tests/data/traces/gpu-default.trace.jsonl", env_path("SOURCE_ROOT"));
	json_object *rep = cut_report(full, CUT_AT);
	ck_assert(!get_bool(rep, "complete"));
	ck_assert(json_object_is_type(member(rep, "exit"), json_type_null));
	ck_assert(has_note(rep, "the trace ends at event 400 without its stats line (the run was still going, "
				"or vgpu-run was killed): verdicts see only what came before"));
	assert_verdict(rep, "cuda_v13", "skipped", "not-reached");
	ck_assert_str_eq(ev_str(report_dir(rep, "cuda_v13"), "detail"),
			 "the trace ends at event 400, before any scanner was pointed at /tmp/oi/lib/ollama/cuda_v13");
	/* runner 4973 was still probing cuda_v12 (it ends at #872): not
	 * "the load was rolled back" */
	assert_verdict(rep, "cuda_v12", "skipped", "not-reached");
	ck_assert_str_eq(ev_str(report_dir(rep, "cuda_v12"), "detail"),
			 "scanner 4973 was still running on /tmp/oi/lib/ollama/cuda_v12 where the trace ends "
			 "(event 400): no verdict yet");
	assert_verdict(rep, "rocm", "absent", "no-such-directory");
	json_object_put(rep);

	/* runner 4998 (exec #541) still going at 600: cuda_v13 not reached,
	 * and the root keeps the "loaded" of the runs that ended */
	rep = cut_report(full, 600);
	assert_verdict(rep, ".", "loaded", "loaded");
	assert_verdict(rep, "cuda_v13", "skipped", "not-reached");
	ck_assert_str_eq(ev_str(report_dir(rep, "cuda_v13"), "detail"),
			 "scanner 4998 was still running on /tmp/oi/lib/ollama/cuda_v13 where the trace ends "
			 "(event 600): no verdict yet");
	json_object_put(rep);

	RunResult r;
	run_plain(ARGV(env_path("VGPU_REPORT"), "-p", "ollama", "show", "--format=json", full), &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	rep = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(rep);
	run_result_free(&r);
	ck_assert(get_bool(rep, "complete"));
	assert_verdict(rep, "cuda_v13", "loaded", "loaded");
	assert_verdict(rep, "cuda_v12", "skipped", "dropped");
	json_object_put(rep);
}
END_TEST

/* ---- Live: -o with many scanner ends ------------------------------- */

/* An install of bench/longrun-server as ROOT/bin/ollama (see
 * test-longrun-live.c): each "ollama runner" is a scanner pointed at
 * cuda_v13, whose backend is an ELF that registers nothing. */
static void longrun_install(const char *root)
{
	sh("rm -rf '%1$s' && mkdir -p '%1$s/bin' '%1$s/lib/ollama/cuda_v13'", root);
	sh("cp '%s' '%s/bin/ollama'", env_path("LONGRUN_SERVER"), root);
	sh("cp \"$(ldd '%s' | awk '/libjson-c/ {print $3}')\" '%s/lib/ollama/cuda_v13/libggml-cuda.so'",
	   env_path("VGPU_RUN"), root);
	sh("cp '%s/lib/ollama/cuda_v13/libggml-cuda.so' '%s/lib/ollama/libggml-cpu-x64.so'", root, root);
}

#define SCANNERS 400

/* faults.md #15: with -o, each scanner's end re-read the whole scratch
 * trace in TMPDIR, in the tracing loop (400 scanners: +10.5 s).  Now the
 * report is rendered from the diagnosis's state: the trace's stats line
 * counts exactly one rewrite per scanner end (no SIGUSR1 here), and
 * nothing at all is written under TMPDIR: a tmpfs of its own, watched for
 * used blocks and inodes while the run goes on (or, unprivileged, a
 * directory vgpu-run cannot write, which the old scratch file needed). */
START_TEST(test_scanner_ends_rewrite_from_state)
{
	char root[512], report[600], trace[600], exe[600], runs[16], tmpdir[] = "/tmp/vgpu-scratch-XXXXXX",
									names[256];
	snprintf(root, sizeof(root), "%s/faults-install", env_path("TEST_WORKDIR"));
	longrun_install(root);
	snprintf(report, sizeof(report), "%s/report.json", root);
	snprintf(trace, sizeof(trace), "%s/trace.jsonl", root);
	snprintf(exe, sizeof(exe), "%s/bin/ollama", root);
	snprintf(runs, sizeof(runs), "%d", SCANNERS);
	bool tmpfs = private_tmpdir(tmpdir, "64m", false);
	struct statvfs sv;
	ck_assert_int_eq(statvfs(tmpdir, &sv), 0);
	unsigned long inodes0 = sv.f_files - sv.f_ffree, blocks0 = sv.f_blocks - sv.f_bfree;

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);	/* the server's own lines */
		setenv("TMPDIR", tmpdir, 1);
		execl(env_path("VGPU_RUN"), "vgpu-run", "-q", "-o", report, "-t", trace, "--", exe, "serve", runs,
		      "10", (char *)NULL);
		_exit(127);
	}
	/* the most TMPDIR held at any moment of the run */
	unsigned long inodes = inodes0, blocks = blocks0;
	int status;
	struct rusage ru;
	pid_t got;
	const struct timespec tick = { 0, 1000 * 1000 };
	while ((got = wait4(pid, &status, WNOHANG, &ru)) == 0) {
		ck_assert_int_eq(statvfs(tmpdir, &sv), 0);
		if (sv.f_files - sv.f_ffree > inodes)
			inodes = sv.f_files - sv.f_ffree;
		if (sv.f_blocks - sv.f_bfree > blocks)
			blocks = sv.f_blocks - sv.f_bfree;
		nanosleep(&tick, NULL);
	}
	ck_assert_int_eq(got, pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	ck_assert_msg(rss_within(ru.ru_maxrss, 32), "vgpu-run peaked at %ld KiB", ru.ru_maxrss);
	if (tmpfs) {	/* else the directory is on a filesystem others use */
		ck_assert_uint_eq(inodes, inodes0);
		ck_assert_uint_eq(blocks, blocks0);
	}
	list_dir(tmpdir, names, sizeof(names));
	ck_assert_str_eq(names, "");
	private_tmpdir_done(tmpdir, tmpfs);

	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	ck_assert_int_eq(trace_stat(&t, "rewrites"), SCANNERS);
	ck_assert_int_eq(trace_count(&t, "exec", NULL, NULL), SCANNERS + 1);
	trace_free(&t);

	json_object *rep = json_object_from_file(report);
	ck_assert_ptr_nonnull(rep);
	ck_assert(get_bool(rep, "complete"));
	ck_assert_int_eq(ev_int(member(rep, "costs"), "rewrites", -1), SCANNERS);
	assert_verdict(rep, "cuda_v13", "failed", "load-error");
	ck_assert_int_eq(count_of(report_dir(rep, "cuda_v13"), "runs"), 32);
	ck_assert_int_eq(ev_int(report_dir(rep, "cuda_v13"), "runs_omitted", -1), SCANNERS - 32);
	json_object_put(rep);
	sh("rm -rf '%s'", root);
}
END_TEST

/* ---- --discover-only ------------------------------------------------ */

/* The ollama policy without its server rule: the fake server (the
 * tracee) is the server (as in test-signals-live.c). */
static void policy_any_server(char *path)
{
	temp_file(path);
	sh("sed '/^server = /d' '%s/policies/ollama.policy' > '%s'", env_path("SOURCE_ROOT"), path);
}

/* faults.md #17: --discover-only exited 0 once discovery was seen,
 * whatever became of the report ("the same with -o /dev/full").  A report
 * that cannot be written is vgpu-run's own failure: 125 and one line.
 * (A missing directory: test-signals-live.c.) */
START_TEST(test_discover_only_report_to_dev_full_exits_125)
{
	char policy[] = "/tmp/vgpu-policy-XXXXXX";
	policy_any_server(policy);
	RunResult r;
	run_plain(ARGV(env_path("VGPU_RUN"), "-q", "--discover-only", "-p", policy, "-o", "/dev/full", "--",
		       env_path("TRACEE"), "fake-server", "discovered"),
		  &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 125, "status %#x: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "vgpu-run: cannot write the report '/dev/full': No space left on device\n");
	run_result_free(&r);
	unlink(policy);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("faults");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_full_tmpdir_report_still_written);
	tcase_add_loop_test(tc, test_dirs_times_processes_memory_linear, 0, sizeof(dir_shapes) / sizeof(*dir_shapes));
	tcase_add_test(tc, test_cut_trace_is_incomplete);
	tcase_add_test(tc, test_scanner_ends_rewrite_from_state);
	tcase_add_test(tc, test_discover_only_report_to_dev_full_exits_125);
	tcase_add_test(tc, test_elf_events_memory_bounded);
	suite_add_tcase(s, tc);
	return check_run(s);
}
