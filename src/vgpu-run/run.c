/* One traced run (see run.h).  Events are numbered here, in one place, so
 * the trace file, -v and any observer agree on seq. */
#include "vgpu-run/run.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/path.h"
#include "base/output.h"
#include "base/json.h"
#include "base/latency.h"
#include "base/walltime.h"
#include "diagnose/diagnose.h"
#include "inject/inject.h"
#include "observe/observe.h"
#include "observe/symbols.h"
#include "report/report-metrics.h"
#include "report/report-out.h"
#include "report/report-writer.h"
#include "trace/trace-file.h"
#include "trace/trace-json.h"
#include "vgpu-run/command.h"
#include "vgpu-run/signals.h"
#include "vgpu-run/verbose.h"

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
	SymbolWatch *symbols;	/* the check of backends not kept */
	TraceFile *trace;	/* the user's -t file */
	/* what a rotated trace's next header repeats */
	const int *capture_fds;
	size_t n_capture_fds;
	const char *const *env_keep;
	char run_id[33], started_at[WALLTIME_MAX];
	/* The diagnosis is fed each trace line as it is written, parsed back
	 * as vgpu-report would parse it: live equals offline by
	 * construction, and nothing of the trace is kept but its state. */
	Diagnosis *diag;
	json_tokener *tok;
	int diag_error;
	Latency rewrites;	/* event-loop time per report rewrite */
	ReportWriter *writer;	/* puts rewrites in place off the loop */
	ReportWriter *metrics_writer;	/* the same for --metrics */
	bool writer_said;	/* that one could not be started, once */
	JsonWriter json;
	uint64_t seq;
	int trace_error;	/* an event that could not be encoded */
	regex_t discovered;	/* --discover-only: the policy's end of discovery */
	bool watch_discovery, discovery_seen;
	bool timed_out;		/* --discover-timeout passed first */
	PolicyServer who;	/* the command's process, and the server's */
	char *server_exe;
	json_object *scanners;	/* live scanner pids: their end rewrites the report */
	Injector *injector;	/* NULL: nothing to inject */
} Sink;

/* Rewrite the report from the diagnosis's state (a long-running server's
 * report is current once discovery is over, weeks before it exits).  It
 * costs what the state holds, not what the run has lasted; the time it
 * takes the event loop is measured. */
/* A writer thread for PATH in *W, started at the first rewrite; when none
 * can be started (ulimit -u, -v), asked again at the next one and said
 * once. */
static bool writer_ready(Sink *s, ReportWriter **w, const char *path, const char *what, mode_t mode)
{
	if (*w)
		return true;
	int rw = report_writer_new(path, what, mode, w);
	if (rw < 0 && !s->writer_said) {
		eprintf("vgpu-run: cannot rewrite the %s '%s' while the command runs: no thread for it: %s "
			"(it is written when the command ends)\n", what, path, strerror(-rw));
		s->writer_said = true;
	}
	return rw >= 0;
}

static void refresh_report(Sink *s)
{
	const RunConfig *cfg = s->cfg;
	bool report = cfg->report_path && strcmp(cfg->report_path, "-");
	bool metrics = cfg->metrics_path && strcmp(cfg->metrics_path, "-");
	if ((!report && !metrics) || !s->diag || s->diag_error)
		return;
	uint64_t t0 = s->tracer ? tracer_now_ns(s->tracer) : 0;
	report = report && writer_ready(s, &s->writer, cfg->report_path, "report", 0600);
	metrics = metrics && writer_ready(s, &s->metrics_writer, cfg->metrics_path, "metrics", 0644);
	Report r;
	if ((!report && !metrics) || diagnosis_render(s->diag, &r) < 0)
		return;
	char *text;
	size_t len;
	if (report && report_render_buffer(&r, (ReportFormat)cfg->report_format, &text, &len) >= 0)
		report_writer_post(s->writer, text, len);
	if (metrics && report_metrics_render(&r, &text, &len) >= 0)
		report_writer_post(s->metrics_writer, text, len);
	report_done(&r);
	if (s->tracer)
		latency_add(&s->rewrites, tracer_now_ns(s->tracer) - t0);
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
	/* the server (through wrappers: a shell around it goes on as it
	 * would when a service manager stops the server), else the command */
	if (s->who.server > 0)
		kill(s->who.server, SIGTERM);
	else if (s->who.command > 0)
		kill(s->who.command, SIGTERM);
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
	return policy_scanner_exec(s->cfg->policy, s->server_exe, ev->pid == s->who.server, ev->exec.exe,
				   ev->exec.argv, ev->exec.argc);
}

/* The line in s->json, parsed back, to the diagnosis. */
static void feed(Sink *s)
{
	char err[512] = "";
	if (!s->diag || s->diag_error)
		return;
	json_tokener_reset(s->tok);
	json_object *ev = json_tokener_parse_ex(s->tok, s->json.buf, (int)s->json.len);
	if (!ev) {
		s->diag_error = -ENOMEM;
		eprintf("vgpu-run: no report: event %llu could not be read back: out of memory\n",
			(unsigned long long)s->seq);
		return;
	}
	int r = diagnosis_feed(s->diag, ev, err, sizeof(err));
	json_object_put(ev);
	if (r < 0) {
		s->diag_error = r;
		/* out of memory says nothing more */
		if (!*err)
			snprintf(err, sizeof(err), "event %llu: %s", (unsigned long long)s->seq, strerror(-r));
		eprintf("vgpu-run: no report: %s\n", err);
	}
}

static void start_piece(Sink *s);

/* The record in s->json is complete: to the diagnosis, and a line of the
 * trace file. */
static void emit(Sink *s)
{
	if (s->json.failed) {
		/* no memory for the line: neither the trace nor the
		 * diagnosis gets it */
		if (s->trace && !s->trace_error)
			s->trace_error = -ENOMEM;
		if (s->diag && !s->diag_error)
			eprintf("vgpu-run: no report: event %llu: %s\n", (unsigned long long)s->seq,
				strerror(ENOMEM));
		s->diag_error = -ENOMEM;
		return;
	}
	json_raw(&s->json, "\n");
	feed(s);
	if (trace_file_write(s->trace, s->json.buf, s->json.len, s->seq,
			     s->tracer ? tracer_now_ns(s->tracer) : 0) > 0)
		start_piece(s);
}

static void emit_data(void *s)
{
	emit(s);
}

static bool encoding(const Sink *s)
{
	return s->trace || s->diag;
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
	/* The server, as the diagnosis finds it: the exec the policy's
	 * server rule names (through wrappers: sh -c, env, nohup), or
	 * without a rule the command's own process. */
	bool is_server = false;
	if (ev->kind == TRACER_EVENT_EXEC) {
		if (policy_server_exec(s->cfg->policy, &s->who, ev->pid, ev->exec.exe, ev->exec.argv,
				       ev->exec.argc)) {
			free(s->server_exe);
			s->server_exe = strdup(ev->exec.exe);
		}
		is_server = ev->pid == s->who.server;
	}
	/* The new program has not run yet: its inject events follow its exec. */
	if (ev->kind == TRACER_EVENT_EXEC)
		injector_on_exec(s->injector, s->tracer, ev, s->server_exe, is_server);
	else if (ev->kind == TRACER_EVENT_EXIT)
		injector_on_exit(s->injector, ev->pid);
	if ((s->cfg->report_path || s->cfg->metrics_path) && s->scanners) {
		char key[16];
		snprintf(key, sizeof(key), "%d", (int)ev->pid);
		if (ev->kind == TRACER_EVENT_EXEC && scanner_exec(s, ev))
			json_object_object_add(s->scanners, key, NULL);
		else if (ev->kind == TRACER_EVENT_EXIT && json_object_object_get_ex(s->scanners, key, NULL)) {
			json_object_object_del(s->scanners, key);
			refresh_report(s);	/* a scanner ended: discovery moved on */
		}
	}
	/* --discover-only: the server said discovery is over; stop it as a
	 * service manager would, and let the run end normally. */
	if (s->watch_discovery && !s->discovery_seen && !s->timed_out &&
	    ev->kind == TRACER_EVENT_OUTPUT && ev->pid == s->who.server) {
		_cleanup_free_ char *text = strndup(ev->out.data, ev->out.len);
		if (text && !policy_regexec(&s->discovered, text, 0, NULL)) {
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
	if (s->observer && encoding(s) && observer_listing(s->observer, ev, is_server, s->seq + 1, &s->json) > 0) {
		++s->seq;
		emit(s);
	}
	if (s->observer && encoding(s) && observer_platform(s->observer, ev, s->seq + 1, &s->json) > 0) {
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
			verbose_observe_elf(stderr, seq, (int)ev->pid, ev->sys.path,
					    error < 0 ? "no ELF facts" : facts.soname ? facts.soname : "(no soname)");
		if (error >= 0)
			elf_facts_done(&facts);
	}
	if (s->symbols && encoding(s))
		(void)symbol_watch_on_event(s->symbols, ev, &s->seq, &s->json, emit_data, s);
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
		verbose_inject(stderr, seq, (int)a->pid, a->method, a->library, a->status, a->why);
}

/* A path syscall about to run: the injector's one chance to redirect it. */
static void on_path(const TracerEvent *ev, void *userdata)
{
	Sink *s = userdata;
	injector_on_path(s->injector, s->tracer, ev);
}

/* 128 random bits in hex: what ties the pieces of a run's trace (and
 * its report) together, whatever host and time they are read at. */
static void make_run_id(char out[33])
{
	uint8_t b[16] = { 0 };
	if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
		/* no entropy yet (early boot): time and pid are unique enough
		 * on one host, and the host name is in the header too */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, p = (uint64_t)getpid();
		memcpy(b, &a, 8);
		memcpy(b + 8, &p, 8);
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The header: the first line, and with rotation the first line of each
 * piece (numbered in its place). */
/* The header into s->json, not yet written. */
static void write_header_to(Sink *s, unsigned piece)
{
	const Policy *p = s->cfg->policy;
	TraceHeader h = {
		.command = s->cfg->command,
		.capture_fds = s->capture_fds,
		.n_capture_fds = s->n_capture_fds,
		.env_keep = s->env_keep,
		.policy_name = p ? p->name : NULL,
		.policy_path = p ? p->path : NULL,
		.policy_text = p ? p->text : NULL,
		.shims = s->cfg->shims,
		.run_id = s->run_id,
		.started_at = s->started_at,
		.piece = piece,
		.seq = piece > 1 ? ++s->seq : 1,
		.t_ns = s->tracer && piece > 1 ? tracer_now_ns(s->tracer) : 0,
	};
	trace_json_header(&s->json, &h);
	s->seq = h.seq;
}

static void write_header(Sink *s, unsigned piece)
{
	write_header_to(s, piece);
	emit(s);
}

/* --trace-max bounds the file, and the header always goes in: it must
 * fit, with room for the line that marks the cut.  The header carries
 * the policy's text and the command line, so the bound depends on them
 * (faults.md #33: 4096 bytes could not hold the ollama policy's). */
static int check_trace_room(Sink *s, char *err, size_t err_size)
{
	const RunConfig *cfg = s->cfg;
	uint64_t room = cfg->trace_max / (cfg->trace_pieces ? cfg->trace_pieces : 1);
	if (!cfg->trace_path || !room)
		return 0;
	uint64_t seq = s->seq;
	write_header_to(s, cfg->trace_pieces > 1 ? 1 : 0);
	uint64_t need = s->json.len + 1 + TRACE_FILE_MARKER_MAX;
	bool failed = s->json.failed;
	json_reset(&s->json);
	s->seq = seq;
	if (failed) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	if (need <= room)
		return 0;
	snprintf(err, err_size,
		 "--trace-max=%" PRIu64 " cannot hold the trace's header and the line that marks a cut (%" PRIu64
		 " bytes: the header carries the policy's text and the command line)%s: give at least %" PRIu64 "K",
		 cfg->trace_max, need, cfg->trace_pieces > 1 ? " in each piece" : "",
		 (need * (cfg->trace_pieces > 1 ? cfg->trace_pieces : 1) + 1023) / 1024);
	return -EFBIG;
}

/* A new piece of a rotated trace: its header, then the diagnosis's state,
 * so that it reads alone (vgpu-report show PIECE). */
static void start_piece(Sink *s)
{
	write_header(s, trace_file_piece(s->trace));
	json_object *ev = json_object_new_object();
	uint64_t seq = ++s->seq;
	json_object_object_add(ev, "seq", json_object_new_uint64(seq));
	json_object_object_add(ev, "t_ns", json_object_new_uint64(s->tracer ? tracer_now_ns(s->tracer) : 0));
	json_object_object_add(ev, "event", json_object_new_string("state"));
	json_reset(&s->json);
	if (!ev || !s->diag || diagnosis_snapshot(s->diag, ev) < 0)
		s->json.failed = true;
	else
		json_raw(&s->json, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	json_object_put(ev);
	emit(s);
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

	Sink sink = { .cfg = cfg, .scanners = json_object_new_object(), .capture_fds = fds,
		      .n_capture_fds = n_fds, .env_keep = env_keep };
	make_run_id(sink.run_id);
	walltime_now(sink.started_at);
	json_init(&sink.json);
	if (cfg->discover_only) {
		if (!pol || !pol->discovered_regex ||
		    regcomp(&sink.discovered, pol->discovered_regex, REG_EXTENDED | REG_NOSUB) != 0) {
			snprintf(err, err_size, "--discover-only: policy %s has no 'discovered' condition",
				 pol ? pol->name : "(none)");
			json_done(&sink.json);
			json_object_put(sink.scanners);
			return -EINVAL;
		}
		sink.watch_discovery = true;
	}
	r = observer_new(pol, &sink.observer);
	if (r >= 0)
		r = symbol_watch_new(pol, observer_ldcache(sink.observer), observer_worker(sink.observer), &sink.symbols);
	if (r < 0)
		snprintf(err, err_size, "out of memory");
	if (r >= 0 && cfg->diagnose) {
		r = diagnosis_new(&sink.diag);
		if (r >= 0 && !(sink.tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH)))
			r = -ENOMEM;
		if (r < 0)
			snprintf(err, err_size, "out of memory");
	}
	if (r >= 0)
		r = check_trace_room(&sink, err, err_size);
	if (r >= 0 && cfg->trace_keep) {
		char from[PATH_MAX + 16], to[PATH_MAX + 16];
		r = path_rotate(cfg->trace_path, cfg->trace_keep, from, to);
		if (r < 0)
			snprintf(err, err_size, "cannot keep the previous trace '%.200s' as '%.200s': %s", from, to,
				 strerror(-r));
	}
	if (r >= 0 && cfg->trace_path) {
		TraceFileConfig tf = { .path = cfg->trace_path, .max = cfg->trace_max,
				       .pieces = cfg->trace_pieces ? cfg->trace_pieces : 1 };
		r = trace_file_open(&tf, &sink.trace, err, err_size);
	}

	if (r >= 0) {
		r = injector_new(cfg->shims, pol, observer_ldcache(sink.observer), observer_worker(sink.observer),
				 on_inject, &sink, &sink.injector);
		if (r < 0)
			snprintf(err, err_size, "out of memory");
	}

	sigset_t forward;
	bool rewrites = cfg->report_path || cfg->metrics_path;
	signals_forward_set(&forward, rewrites);
	TracerConfig tc = {
		.output_fds = fds,
		.n_output_fds = n_fds,
		.env_keep = env_keep,
		.forward_signals = &forward,
		.request_signal = rewrites ? SIGUSR1 : 0,
		.on_request = on_request,
		.on_event = on_event,
		.on_path = injector_wants_paths(sink.injector) ? on_path : NULL,
		.userdata = &sink,
		.close_std_fds = cfg->close_std_fds,
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
		const char *step = tracer_spawn_step(t);
		bool kernel = !strcmp(step, "ptrace");
		if (r < 0)
			snprintf(err, err_size, "cannot trace '%s': %s: %s%s", cfg->command[0], step,
				 strerror(-r), kernel ? " (see vgpu-run --self-test)" : "");
	}
	if (r >= 0) {
		/* Events are dispatched only in tracer_run(): the header,
		 * written now, is still the first record. */
		if (encoding(&sink))
			write_header(&sink, cfg->trace_pieces > 1 ? 1 : 0);
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
			trace_json_stats(&sink.json, ++sink.seq, tracer_now_ns(t), &ret->stats, &sink.rewrites);
			emit(&sink);
		}
		ret->events = sink.seq;
		ret->discovered = sink.discovery_seen;
		ret->timed_out = sink.timed_out;
		ret->trace_error = sink.trace_error ? sink.trace_error : trace_file_error(sink.trace);
		ret->trace_cut = trace_file_cut(sink.trace);
		if (sink.diag && !sink.diag_error && diagnosis_render(sink.diag, &ret->report) >= 0)
			ret->have_report = true;
	}
	/* the last rewrite is in place before the final report replaces it */
	ret->report_said = report_writer_free(sink.writer);
	report_writer_free(sink.metrics_writer);
	tracer_free(t);
	injector_free(sink.injector);	/* before the observer: it uses its cache */
	observer_free(sink.observer);
	symbol_watch_free(sink.symbols);
	diagnosis_free(sink.diag);
	if (sink.tok)
		json_tokener_free(sink.tok);
	int closed = trace_file_close(sink.trace);
	if (closed < 0 && !ret->trace_error)
		ret->trace_error = closed;
	json_done(&sink.json);
	free(sink.server_exe);
	json_object_put(sink.scanners);
	if (sink.watch_discovery)
		regfree(&sink.discovered);
	if (r == -ENOMEM || (r < 0 && !t))
		return -EINVAL;
	return r < 0 ? -EIO : 0;
}
