/* One traced run (see run.h).  Events are numbered here, in one place, so
 * the trace file, -v and any observer agree on seq. */
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "command.h"
#include "json.h"
#include "diagnose.h"
#include "inject.h"
#include "observe.h"
#include "report-out.h"
#include "signals.h"
#include "trace-json.h"
#include "verbose.h"

/* Environment variables every exec event records: the loader's inputs.
 * The policy adds its own (record-env). */
static const char *const loader_env[] = {
	"LD_LIBRARY_PATH", "LD_PRELOAD", "LD_AUDIT", "LD_BIND_NOW",
};
static const int default_capture_fds[] = { 2 };

#define ENV_KEEP_MAX (ELEMENTSOF(loader_env) + POLICY_LIST_MAX + 1)

typedef struct Sink {
	const RunConfig *cfg;
	Tracer *tracer;		/* for backtraces during a callback */
	Observer *observer;
	FILE *trace;		/* the user's -t file */
	/* The diagnosis reads the trace, as vgpu-report would, from this
	 * scratch copy once the command has ended: the traced program never
	 * waits for it, and live equals offline by construction. */
	FILE *scratch;
	JsonWriter json;
	uint64_t seq;
	int trace_error;
	uint64_t trace_bytes;	/* written to the -t file, for --trace-max */
	bool trace_cut;
	int scratch_error;
	regex_t discovered;	/* --discover-only: the policy's end of discovery */
	bool watch_discovery, discovery_seen;
	bool timed_out;		/* --discover-timeout passed first */
	int report_error;	/* the last rewrite's failure, said once */
	pid_t root;		/* the command's process: its first exec */
	char *root_exe;
	Injector *injector;	/* NULL: nothing to inject */
} Sink;

/* Rewrite the report from what the trace holds so far (a long-running
 * server's report is current once discovery is over, weeks before it
 * exits).  The scratch trace is read through a second open file, so the
 * writer's position stays where it is. */
static void refresh_report(Sink *s)
{
	char path[64], err[512];
	if (!s->cfg->report_path || !strcmp(s->cfg->report_path, "-") || !s->scratch ||
	    s->scratch_error || fflush(s->scratch) != 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fileno(s->scratch));
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	Report r;
	if (!f || diagnose_trace_stream(f, "(live trace)", NULL, &r, err, sizeof(err)) < 0)
		return;
	int rc = report_write_file(&r, (ReportFormat)s->cfg->report_format, s->cfg->report_path);
	if (rc < 0 && rc != s->report_error)
		fprintf(stderr, "vgpu-run: cannot write the report '%s': %s\n", s->cfg->report_path,
			strerror(-rc));
	s->report_error = rc;
	report_done(&r);
}

static void on_request(void *userdata)
{
	refresh_report(userdata);
}

static void on_kill_after(void *userdata)
{
	Sink *s = userdata;
	tracer_kill_all(s->tracer, SIGKILL);
}

/* --discover-only: stop the command as a service manager would (SIGTERM
 * to its main process), and everything left of it after --kill-after. */
static void stop_command(Sink *s)
{
	if (s->root > 0)
		kill(s->root, SIGTERM);
	else
		tracer_kill_all(s->tracer, SIGTERM);	/* not exec'd yet */
	if (s->cfg->kill_after_ns)
		tracer_set_deadline(s->tracer, (int64_t)s->cfg->kill_after_ns, on_kill_after);
}

static void on_discover_timeout(void *userdata)
{
	Sink *s = userdata;
	s->timed_out = true;
	stop_command(s);
}

/* Is EV's process a scanner by the policy (the server's executable with
 * the policy's argv[1])?  Its end is when the report may change. */
static bool scanner_exec(const Sink *s, const TracerEvent *ev)
{
	return policy_scanner_exec(s->cfg->policy, s->root_exe, ev->pid == s->root, ev->exec.exe,
				   ev->exec.argv, ev->exec.argc);
}

/* The longest "truncated" line (four 20-digit numbers): reserved below
 * --trace-max so that the marker, too, fits under the cap. */
#define TRUNCATED_LINE_MAX 160

/* The record in s->json is complete: one line to each trace. */
static void emit(Sink *s)
{
	if (s->json.failed) {
		s->trace_error = s->trace_error ? s->trace_error : -ENOMEM;
		s->scratch_error = -ENOMEM;
		return;
	}
	json_raw(&s->json, "\n");
	/* Buffered: read back only at the end. */
	if (s->scratch && !s->scratch_error &&
	    fwrite(s->json.buf, 1, s->json.len, s->scratch) != s->json.len)
		s->scratch_error = -errno;
	if (!s->trace || s->trace_error || s->trace_cut)
		return;
	/* --trace-max: the line that would pass the cap is replaced by a
	 * marker with its seq (the header always goes in). */
	const char *line = s->json.buf;
	size_t len = s->json.len;
	JsonWriter marker;
	json_init(&marker);
	if (s->cfg->trace_max && s->trace_bytes > 0 &&
	    s->trace_bytes + len + TRUNCATED_LINE_MAX > s->cfg->trace_max) {
		trace_json_truncated(&marker, s->seq, s->tracer ? tracer_now_ns(s->tracer) : 0,
				     s->trace_bytes, s->cfg->trace_max);
		json_raw(&marker, "\n");
		line = marker.buf;
		len = marker.len;
		s->trace_cut = true;
	}
	/* One line per event, flushed at once: the trace is complete up to
	 * the last event even if vgpu-run is killed. */
	if (!marker.failed &&
	    (fwrite(line, 1, len, s->trace) != len || fflush(s->trace) != 0))
		s->trace_error = -errno;
	s->trace_bytes += len;
	json_done(&marker);
}

static bool encoding(const Sink *s)
{
	return s->trace || s->scratch;
}

/* An anonymous file in the temporary directory, never inherited. */
static int open_scratch(FILE **ret)
{
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/vgpu-run-XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0)
			return neg_errno();
		unlink(path);
	}
	FILE *f = fdopen(fd, "w+");
	if (!f) {
		int r = neg_errno();
		close(fd);
		return r;
	}
	*ret = f;
	return 0;
}

static int diagnose_scratch(Sink *s, Report *ret)
{
	char err[512];
	if (s->scratch_error)
		return s->scratch_error;
	if (fflush(s->scratch) != 0 || fseek(s->scratch, 0, SEEK_SET) != 0)
		return neg_errno();
	int r = diagnose_trace_stream(s->scratch, "(live trace)", NULL, ret, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "vgpu-run: no report: %s\n", err);
	return r;
}

static void on_event(const TracerEvent *ev, void *userdata)
{
	Sink *s = userdata;
	uint64_t seq = ++s->seq;
	if (encoding(s)) {
		trace_json_event(&s->json, seq, ev);
		emit(s);
	}
	if (s->cfg->verbose)
		verbose_print(stderr, seq, ev);
	if (ev->kind == TRACER_EVENT_EXEC && (!s->root || ev->pid == s->root)) {
		s->root = ev->pid;
		free(s->root_exe);
		s->root_exe = strdup(ev->exec.exe);
	}
	/* The new program has not run yet: its inject events follow its exec. */
	if (ev->kind == TRACER_EVENT_EXEC)
		injector_on_exec(s->injector, s->tracer, ev, s->root_exe, ev->pid == s->root);
	else if (ev->kind == TRACER_EVENT_EXIT)
		injector_on_exit(s->injector, ev->pid);
	if (s->cfg->report_path && s->observer) {
		char key[32];
		snprintf(key, sizeof(key), "scanner:%d", (int)ev->pid);
		if (ev->kind == TRACER_EVENT_EXEC && scanner_exec(s, ev))
			(void)observer_first(s->observer, key);
		else if (ev->kind == TRACER_EVENT_EXIT && ev->pid != s->root &&
			 observer_seen(s->observer, key))
			refresh_report(s);	/* a scanner ended: discovery moved on */
	}
	/* --discover-only: the server said discovery is over; stop it as a
	 * service manager would, and let the run end normally. */
	if (s->watch_discovery && !s->discovery_seen && !s->timed_out &&
	    ev->kind == TRACER_EVENT_OUTPUT && ev->pid == s->root) {
		_cleanup_free_ char *text = strndup(ev->out.data, ev->out.len);
		if (text && !regexec(&s->discovered, text, 0, NULL, 0)) {
			s->discovery_seen = true;
			stop_command(s);
		}
	}
	if (s->cfg->observer)
		s->cfg->observer(seq, ev, s->cfg->userdata);

	/* What vgpu-run learns from this event itself follows it at once. */
	const char *why;
	if (s->cfg->stacks && s->tracer && s->observer && observe_wants_stack(s->observer, ev, &why)) {
		TracerFrame frames[TRACER_FRAMES_MAX];
		int n = tracer_backtrace(s->tracer, ev->tid, frames, TRACER_FRAMES_MAX);
		if (n > 0 && encoding(s)) {
			trace_json_stack(&s->json, ++s->seq, ev, seq, why, frames, (size_t)n);
			emit(s);
		}
	}
	if (s->observer && encoding(s) && observer_listing(s->observer, ev, s->seq + 1, &s->json) > 0) {
		++s->seq;
		emit(s);
	}
	ElfFacts facts;
	int error;
	if (s->observer && observer_on_event(s->observer, ev, &facts, &error) > 0) {
		seq = ++s->seq;
		if (encoding(s)) {
			trace_json_elf(&s->json, seq, ev, &facts, error, observer_ldcache(s->observer));
			emit(s);
		}
		if (s->cfg->verbose)
			fprintf(stderr, "vgpu-run: #%llu [pid %d] observe elf %s: %s\n",
				(unsigned long long)seq, (int)ev->pid, ev->sys.path,
				error < 0 ? "no ELF facts" : facts.soname ? facts.soname : "(no soname)");
		if (error >= 0)
			elf_facts_done(&facts);
	}
}

/* The injector did something: an inject event, numbered like the rest. */
static void on_inject(const InjectAction *a, void *userdata)
{
	Sink *s = userdata;
	uint64_t seq = ++s->seq;
	if (encoding(s)) {
		trace_json_inject(&s->json, seq, s->tracer ? tracer_now_ns(s->tracer) : 0, a);
		emit(s);
	}
	if (s->cfg->verbose)
		fprintf(stderr, "vgpu-run: #%llu [pid %d] inject %s %s %s: %s\n", (unsigned long long)seq,
			(int)a->pid, a->method, a->library, a->status, a->why);
}

/* A path syscall about to run: the injector's one chance to redirect it. */
static void on_path(const TracerEvent *ev, void *userdata)
{
	Sink *s = userdata;
	injector_on_path(s->injector, s->tracer, ev);
}

static void write_header(Sink *s, const int *fds, size_t n_fds, const char *const *env_keep)
{
	const Policy *p = s->cfg->policy;
	TraceHeader h = {
		.command = s->cfg->command,
		.capture_fds = fds,
		.n_capture_fds = n_fds,
		.env_keep = env_keep,
		.policy_name = p ? p->name : NULL,
		.policy_path = p ? p->path : NULL,
		.policy_text = p ? p->text : NULL,
		.shims = s->cfg->shims,
	};
	trace_json_header(&s->json, &h);
	s->seq = 1;
	emit(s);
}

static int open_trace(const char *path, FILE **ret)
{
	if (strcmp(path, "-") == 0) {
		*ret = stdout;
		return 0;
	}
	/* 0600: traces hold command lines, environment values and output. */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return neg_errno();
	/* An existing file keeps its mode through O_CREAT: narrow it. Only a
	 * regular file: --trace=/dev/null or a FIFO must keep its mode. */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return neg_errno();
	if (S_ISREG(st.st_mode) && fchmod(fd, 0600) < 0 && errno != EPERM)
		return neg_errno();
	FILE *f = fdopen(fd, "w");
	if (!f)
		return neg_errno();
	TAKE_FD(fd);
	*ret = f;
	return 0;
}

int run_command(const RunConfig *cfg, RunOutcome *ret, char *err, size_t err_size)
{
	char path[PATH_MAX];
	int r = command_resolve(cfg->command[0], getenv("PATH"), path, sizeof(path));
	if (r < 0) {
		snprintf(err, err_size, "cannot run '%s': %s", cfg->command[0],
			 r == -ENOENT ? "command not found" : strerror(-r));
		/* as a shell: not found 127, found but not runnable 126 */
		return r == -ENOENT ? -ENOENT : -EACCES;
	}

	/* What the policy asks to record, on top of the loader's inputs. */
	const Policy *pol = cfg->policy;
	const char *env_keep[ENV_KEEP_MAX];
	size_t n_env = 0;
	for (size_t i = 0; i < ELEMENTSOF(loader_env); i++)
		env_keep[n_env++] = loader_env[i];
	for (size_t i = 0; pol && i < pol->n_record_env; i++) {
		bool dup = false;
		for (size_t k = 0; k < n_env && !dup; k++)
			dup = !strcmp(env_keep[k], pol->record_env[i]);
		if (!dup)
			env_keep[n_env++] = pol->record_env[i];
	}
	env_keep[n_env] = NULL;
	const int *fds = pol && pol->n_capture_fds ? pol->capture_fds : default_capture_fds;
	size_t n_fds = pol && pol->n_capture_fds ? pol->n_capture_fds : ELEMENTSOF(default_capture_fds);

	Sink sink = { .cfg = cfg };
	json_init(&sink.json);
	if (cfg->discover_only) {
		if (!pol || !pol->discovered_regex ||
		    regcomp(&sink.discovered, pol->discovered_regex, REG_EXTENDED | REG_NOSUB) != 0) {
			snprintf(err, err_size, "--discover-only: policy %s has no 'discovered' condition",
				 pol ? pol->name : "(none)");
			json_done(&sink.json);
			return -EINVAL;
		}
		sink.watch_discovery = true;
	}
	r = observer_new(pol, &sink.observer);
	if (r < 0)
		snprintf(err, err_size, "out of memory");
	if (r >= 0 && cfg->diagnose) {
		r = open_scratch(&sink.scratch);
		if (r < 0)
			snprintf(err, err_size, "cannot create a temporary file for the trace: %s",
				 strerror(-r));
	}
	if (r >= 0 && cfg->trace_path) {
		r = open_trace(cfg->trace_path, &sink.trace);
		if (r < 0)
			snprintf(err, err_size, "cannot open trace file '%s': %s", cfg->trace_path,
				 strerror(-r));
	}

	if (r >= 0) {
		r = injector_new(cfg->shims, pol, observer_ldcache(sink.observer), on_inject, &sink,
				 &sink.injector);
		if (r < 0)
			snprintf(err, err_size, "out of memory");
	}

	sigset_t forward;
	signals_forward_set(&forward, cfg->report_path);
	TracerConfig tc = {
		.output_fds = fds,
		.n_output_fds = n_fds,
		.env_keep = env_keep,
		.forward_signals = &forward,
		.request_signal = cfg->report_path ? SIGUSR1 : 0,
		.on_request = on_request,
		.on_event = on_event,
		.on_path = injector_wants_paths(sink.injector) ? on_path : NULL,
		.userdata = &sink,
	};
	Tracer *t = NULL;
	if (r >= 0) {
		r = tracer_new(&tc, &t);
		if (r < 0)
			snprintf(err, err_size, "cannot set up the tracer: %s", strerror(-r));
		sink.tracer = t;
	}
	if (r >= 0) {
		extern char **environ;
		r = tracer_spawn(t, path, cfg->command, environ);
		if (r < 0)
			snprintf(err, err_size, "cannot trace '%s': ptrace: %s (see vgpu-run --self-test)",
				 cfg->command[0], strerror(-r));
	}
	if (r >= 0) {
		/* Events are dispatched only in tracer_run(): the header,
		 * written now, is still the first record. */
		if (encoding(&sink))
			write_header(&sink, fds, n_fds, env_keep);
		if (sink.watch_discovery && cfg->discover_timeout_ns)
			tracer_set_deadline(t, (int64_t)cfg->discover_timeout_ns, on_discover_timeout);
		r = tracer_run(t, &ret->result);
		/* A reader of the trace, the report or -v output that goes
		 * away must not kill us.  While tracing, the tracer's handler
		 * takes the SIGPIPE of our own writes (and forwards only one
		 * another process sent); from here on, nothing takes it. */
		signal(SIGPIPE, SIG_IGN);
		if (r < 0)
			snprintf(err, err_size, "tracing failed: %s", strerror(-r));
	}
	if (r >= 0) {
		tracer_get_stats(t, &ret->stats);
		if (encoding(&sink)) {
			trace_json_stats(&sink.json, ++sink.seq, tracer_now_ns(t), &ret->stats);
			emit(&sink);
		}
		ret->events = sink.seq;
		ret->discovered = sink.discovery_seen;
		ret->timed_out = sink.timed_out;
		ret->trace_error = sink.trace_error;
		ret->trace_cut = sink.trace_cut;
		if (sink.scratch && diagnose_scratch(&sink, &ret->report) >= 0)
			ret->have_report = true;
	}
	tracer_free(t);
	injector_free(sink.injector);	/* before the observer: it uses its cache */
	observer_free(sink.observer);
	if (sink.scratch)
		fclose(sink.scratch);
	if (sink.trace && sink.trace != stdout && fclose(sink.trace) != 0 && !ret->trace_error)
		ret->trace_error = -errno;
	json_done(&sink.json);
	free(sink.root_exe);
	if (sink.watch_discovery)
		regfree(&sink.discovered);
	if (r == -ENOMEM || (r < 0 && !t))
		return -EINVAL;
	return r < 0 ? -EIO : 0;
}
