/* One traced run (see run.h).  Events are numbered here, in one place, so
 * the trace file, -v and any observer agree on seq. */
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "command.h"
#include "json.h"
#include "diagnose.h"
#include "observe.h"
#include "trace-json.h"
#include "verbose.h"

/* Environment variables every exec event records: the loader's inputs.
 * The policy adds its own (record-env). */
static const char *const loader_env[] = {
	"LD_LIBRARY_PATH", "LD_PRELOAD", "LD_AUDIT", "LD_BIND_NOW",
};
static const int default_capture_fds[] = { 2 };
/* What a service manager or a user sends to stop the command. */
static const int forward_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

#define ENV_KEEP_MAX (ELEMENTSOF(loader_env) + POLICY_LIST_MAX + 1)

typedef struct Sink {
	const RunConfig *cfg;
	Observer *observer;
	Diagnosis *diagnosis;	/* fed every record, as vgpu-report would be */
	FILE *trace;
	JsonWriter json;
	uint64_t seq;
	int trace_error;
	int diagnosis_error;
} Sink;

/* The record in s->json is complete: give it to the diagnosis (parsed
 * back from its JSON, so that live and offline read the same thing) and
 * to the trace file. */
static void emit(Sink *s)
{
	if (s->json.failed) {
		s->trace_error = s->trace_error ? s->trace_error : -ENOMEM;
		return;
	}
	if (s->diagnosis && !s->diagnosis_error) {
		json_object *o = json_tokener_parse(s->json.buf);
		char err[256];
		int r = o ? diagnosis_feed(s->diagnosis, o, err, sizeof(err)) : -EINVAL;
		if (r < 0)
			s->diagnosis_error = r;
		json_object_put(o);
	}
	if (!s->trace || s->trace_error)
		return;
	/* One line per event, flushed at once: the trace is complete up to
	 * the last event even if vgpu-run is killed. */
	json_raw(&s->json, "\n");
	if (fwrite(s->json.buf, 1, s->json.len, s->trace) != s->json.len || fflush(s->trace) != 0)
		s->trace_error = -errno;
}

static bool encoding(const Sink *s)
{
	return s->trace || s->diagnosis;
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
	if (s->cfg->observer)
		s->cfg->observer(seq, ev, s->cfg->userdata);

	/* What vgpu-run learns from this event itself follows it at once. */
	if (s->observer && encoding(s) && observer_listing(s->observer, ev, s->seq + 1, &s->json) > 0) {
		++s->seq;
		emit(s);
	}
	ElfFacts facts;
	int error;
	if (s->observer && observer_on_event(s->observer, ev, &facts, &error) > 0) {
		seq = ++s->seq;
		if (encoding(s)) {
			trace_json_elf(&s->json, seq, ev, &facts, error);
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
	/* An existing file keeps its mode through O_CREAT: narrow it. */
	if (fchmod(fd, 0600) < 0 && errno != EPERM)
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
	for (size_t i = 0; pol && i < pol->n_record_env; i++)
		env_keep[n_env++] = pol->record_env[i];
	env_keep[n_env] = NULL;
	const int *fds = pol && pol->n_capture_fds ? pol->capture_fds : default_capture_fds;
	size_t n_fds = pol && pol->n_capture_fds ? pol->n_capture_fds : ELEMENTSOF(default_capture_fds);

	Sink sink = { .cfg = cfg };
	json_init(&sink.json);
	r = observer_new(pol, &sink.observer);
	if (r >= 0 && cfg->diagnose)
		r = diagnosis_new(&sink.diagnosis);
	if (r < 0)
		snprintf(err, err_size, "out of memory");
	if (r >= 0 && cfg->trace_path) {
		r = open_trace(cfg->trace_path, &sink.trace);
		if (r < 0)
			snprintf(err, err_size, "cannot open trace file '%s': %s", cfg->trace_path,
				 strerror(-r));
	}

	TracerConfig tc = {
		.output_fds = fds,
		.n_output_fds = n_fds,
		.env_keep = env_keep,
		.forward_signals = forward_signals,
		.n_forward_signals = ELEMENTSOF(forward_signals),
		.on_event = on_event,
		.userdata = &sink,
	};
	Tracer *t = NULL;
	if (r >= 0) {
		r = tracer_new(&tc, &t);
		if (r < 0)
			snprintf(err, err_size, "cannot set up the tracer: %s", strerror(-r));
	}
	if (r >= 0) {
		extern char **environ;
		r = tracer_spawn(t, path, cfg->command, environ);
		if (r < 0)
			snprintf(err, err_size, "cannot trace '%s': ptrace: %s (see vgpu-run --self-test)",
				 cfg->command[0], strerror(-r));
	}
	if (r >= 0) {
		/* A reader of the trace or of -v output that goes away must
		 * not kill us: EXITKILL would take the command with us.  The
		 * command keeps its own SIGPIPE disposition (already forked). */
		signal(SIGPIPE, SIG_IGN);
		/* Events are dispatched only in tracer_run(): the header,
		 * written now, is still the first record. */
		if (encoding(&sink))
			write_header(&sink, fds, n_fds, env_keep);
		r = tracer_run(t, &ret->result);
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
		ret->trace_error = sink.trace_error;
		if (sink.diagnosis && !sink.diagnosis_error &&
		    diagnosis_finish(sink.diagnosis, &ret->report) >= 0)
			ret->have_report = true;
	}
	tracer_free(t);
	observer_free(sink.observer);
	diagnosis_free(sink.diagnosis);
	if (sink.trace && sink.trace != stdout && fclose(sink.trace) != 0 && !ret->trace_error)
		ret->trace_error = -errno;
	json_done(&sink.json);
	if (r == -ENOMEM || (r < 0 && !t))
		return -EINVAL;
	return r < 0 ? -EIO : 0;
}
