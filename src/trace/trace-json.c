/* Encoding events as trace lines (see trace-json.h and vgpu-run(1),
 * TRACE FORMAT).  One small function per event kind, picked from a table. */
#include "trace/trace-json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "base/cleanup.h"
#include "config.h"
#include "tracer/names.h"

static void kv_signal(JsonWriter *w, const char *key, int sig)
{
	char b[32];
	json_kv_string(w, key, names_signal(sig, b, sizeof(b)));
}

static void kv_errno(JsonWriter *w, const char *key, int err)
{
	char b[32];
	json_kv_string(w, key, names_errno(err, b, sizeof(b)));
}

static void kv_flags(JsonWriter *w, const char *key, TracerFlagKind kind, uint64_t flags)
{
	char b[256];
	if (kind != TRACER_FLAGS_NONE)
		json_kv_string(w, key, names_flags(kind, flags, b, sizeof(b)));
}

static void enc_syscall(JsonWriter *w, const TracerEvent *ev)
{
	const TracerSyscallEvent *s = &ev->sys;
	json_kv_string(w, "syscall", s->name);
	if (s->args == TRACER_ARGS_SIGNAL) {
		json_kv_int(w, "target", s->target);
		if (s->target_tid)
			json_kv_int(w, "target_tid", s->target_tid);
		kv_signal(w, "signal", s->signo);
	} else {
		json_kv_string(w, "path", s->path);
		if (s->path_error)
			kv_errno(w, "path_error", -s->path_error);
		if (s->raw)
			json_kv_string(w, "raw", s->raw);
		if (s->redirected)
			json_kv_string(w, "redirected", s->redirected);
		if (s->dirfd != AT_FDCWD)
			json_kv_int(w, "dirfd", s->dirfd);
		kv_flags(w, "flags", s->flag_kind, s->flags);
		kv_flags(w, "at_flags", s->flag2_kind, s->flags2);
	}
	if (!s->has_result)
		return;
	if (s->is_error)
		kv_errno(w, "result", (int)s->result);
	else
		json_kv_int(w, "result", s->result);
}

static void enc_exec(JsonWriter *w, const TracerEvent *ev)
{
	const TracerExecEvent *x = &ev->exec;
	json_kv_string(w, "exe", x->exe);
	if (x->cwd && *x->cwd)
		json_kv_string(w, "cwd", x->cwd);
	json_key(w, "argv");
	json_array_begin(w);
	for (size_t i = 0; i < x->argc; i++)
		json_string(w, x->argv[i]);
	json_array_end(w);
	if (x->argv_truncated)
		json_kv_bool(w, "argv_truncated", true);
	if (x->secure)
		json_kv_bool(w, "secure", true);
	json_key(w, "env");
	json_object_begin(w);
	for (size_t i = 0; i < x->envc; i++) {
		const char *eq = strchr(x->env[i], '=');
		if (!eq)
			continue;
		_cleanup_free_ char *name = strndup(x->env[i], (size_t)(eq - x->env[i]));
		if (name)
			json_kv_string(w, name, eq + 1);
	}
	json_object_end(w);
	if (x->former_tid)
		json_kv_int(w, "former_tid", x->former_tid);
}

static void enc_fork(JsonWriter *w, const TracerEvent *ev)
{
	json_kv_string(w, "kind", names_fork(ev->fork.kind));
	json_kv_int(w, "child_pid", ev->fork.child_pid);
	json_kv_int(w, "child_tid", ev->fork.child_tid);
}

static void enc_exit(JsonWriter *w, const TracerEvent *ev)
{
	if (ev->exit.signaled) {
		kv_signal(w, "signal", ev->exit.code);
		if (ev->exit.core_dumped)
			json_kv_bool(w, "core_dumped", true);
	} else {
		json_kv_int(w, "code", ev->exit.code);
	}
}

static void enc_signal(JsonWriter *w, const TracerEvent *ev)
{
	kv_signal(w, "signal", ev->sig.signo);
	json_kv_int(w, "code", ev->sig.code);
	if (ev->sig.has_sender)
		json_kv_int(w, "sender", ev->sig.sender);
}

static void enc_output(JsonWriter *w, const TracerEvent *ev)
{
	const TracerOutputEvent *o = &ev->out;
	json_kv_int(w, "fd", o->fd);
	json_key(w, "text");
	json_string_len(w, o->data, o->len);
	if (o->truncated)
		json_kv_bool(w, "truncated", true);
	if (o->error)
		kv_errno(w, "error", -o->error);
}

static void enc_maps(JsonWriter *w, const TracerEvent *ev)
{
	json_kv_string(w, "what", "mappings");
	json_key(w, "files");
	json_array_begin(w);
	for (size_t i = 0; i < ev->maps.n; i++)
		json_string(w, ev->maps.files[i]);
	json_array_end(w);
	if (ev->maps.truncated)
		json_kv_bool(w, "truncated", true);
}

typedef void (*Encoder)(JsonWriter *w, const TracerEvent *ev);

static const Encoder encoders[_TRACER_EVENT_MAX] = {
	[TRACER_EVENT_FORK] = enc_fork,	    [TRACER_EVENT_EXEC] = enc_exec,
	[TRACER_EVENT_EXIT] = enc_exit,	    [TRACER_EVENT_SIGNAL] = enc_signal,
	[TRACER_EVENT_SYSCALL] = enc_syscall, [TRACER_EVENT_OUTPUT] = enc_output,
	[TRACER_EVENT_MAPS] = enc_maps,
};

static void common(JsonWriter *w, uint64_t seq, uint64_t t_ns, const char *event)
{
	json_reset(w);
	json_object_begin(w);
	json_kv_uint(w, "seq", seq);
	json_kv_uint(w, "t_ns", t_ns);
	json_kv_string(w, "event", event);
}

int trace_json_event(JsonWriter *w, uint64_t seq, const TracerEvent *ev)
{
	if ((unsigned)ev->kind >= _TRACER_EVENT_MAX)
		return -EINVAL;
	common(w, seq, ev->t_ns, names_event(ev->kind));
	json_kv_int(w, "pid", ev->pid);
	json_kv_int(w, "tid", ev->tid);
	if (ev->kind == TRACER_EVENT_EXEC || ev->kind == TRACER_EVENT_FORK)
		json_kv_int(w, "ppid", ev->ppid);
	encoders[ev->kind](w, ev);
	json_object_end(w);
	return w->failed ? -ENOMEM : 0;
}

int trace_json_inject(JsonWriter *w, uint64_t seq, uint64_t t_ns, const InjectAction *a)
{
	common(w, seq, t_ns, "inject");
	json_kv_int(w, "pid", a->pid);
	json_kv_int(w, "tid", a->tid);
	json_kv_string(w, "method", a->method);
	json_kv_string(w, "library", a->library);
	json_kv_string(w, "shim", a->shim);
	json_kv_string(w, "status", a->status);
	json_kv_string(w, "why", a->why);
	if (a->path)
		json_kv_string(w, "path", a->path);
	if (a->real)
		json_kv_string(w, "real", a->real);
	json_object_end(w);
	return w->failed ? -ENOMEM : 0;
}

/* The shims the run was configured with: the diagnosis says why nothing
 * was injected from this. */
static void put_inject_config(JsonWriter *w, const ShimSet *s)
{
	json_key(w, "inject");
	json_object_begin(w);
	json_kv_string(w, "method", s->method);
	json_kv_string(w, "source", s->source);
	json_kv_bool(w, "disabled", s->disabled);
	json_key(w, "shims");
	json_array_begin(w);
	for (size_t i = 0; i < s->n; i++) {
		json_object_begin(w);
		json_kv_string(w, "library", s->shims[i].soname);
		json_kv_string(w, "shim", s->shims[i].path);
		json_object_end(w);
	}
	json_array_end(w);
	json_object_end(w);
}

int trace_json_header(JsonWriter *w, const TraceHeader *h)
{
	struct utsname u;
	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	common(w, h->piece > 1 ? h->seq : 1, h->piece > 1 ? h->t_ns : 0, "header");
	json_kv_string(w, "schema", TRACE_SCHEMA);
	if (h->run_id)
		json_kv_string(w, "run_id", h->run_id);
	if (h->piece) {
		json_kv_uint(w, "piece", h->piece);
		json_kv_uint(w, "first_seq", h->piece > 1 ? h->seq : 1);
	}
	if (h->started_at)
		json_kv_string(w, "started_at", h->started_at);
	json_key(w, "tool");
	json_object_begin(w);
	json_kv_string(w, "name", "vgpu-run");
	json_kv_string(w, "version", VGPU_VERSION);
	json_object_end(w);
	json_key(w, "command");
	json_array_begin(w);
	for (char *const *a = h->command; a && *a; a++)
		json_string(w, *a);
	json_array_end(w);
	json_key(w, "policy");
	if (h->policy_name) {
		json_object_begin(w);
		json_kv_string(w, "name", h->policy_name);
		json_kv_string(w, "path", h->policy_path);
		json_kv_string(w, "text", h->policy_text);
		json_object_end(w);
	} else {
		json_null(w);
	}
	json_key(w, "host");
	json_object_begin(w);
	json_kv_string(w, "hostname", u.nodename);
	json_kv_string(w, "arch", u.machine);
	json_kv_string(w, "kernel", u.release);
	json_object_end(w);
	json_key(w, "capture_fds");
	json_array_begin(w);
	for (size_t i = 0; i < h->n_capture_fds; i++)
		json_int(w, h->capture_fds[i]);
	json_array_end(w);
	json_key(w, "env_keep");
	json_array_begin(w);
	for (const char *const *e = h->env_keep; e && *e; e++)
		json_string(w, *e);
	json_array_end(w);
	if (h->shims && (h->shims->n || h->shims->disabled))
		put_inject_config(w, h->shims);
	json_object_end(w);
	return w->failed ? -ENOMEM : 0;
}

int trace_json_stats(JsonWriter *w, uint64_t seq, uint64_t t_ns, const TracerStats *st,
		     const Latency *rewrites)
{
	common(w, seq, t_ns, "stats");
	json_kv_uint(w, "stops", st->stops);
	json_kv_uint(w, "seccomp_stops", st->seccomp_stops);
	json_kv_uint(w, "exit_stops", st->exit_stops);
	json_kv_uint(w, "signal_stops", st->signal_stops);
	json_kv_uint(w, "sigurg_stops", st->sigurg_stops);
	json_kv_uint(w, "event_stops", st->event_stops);
	json_kv_uint(w, "backtraces", st->backtraces);
	json_kv_uint(w, "backtrace_ns", st->backtrace_ns);
	json_kv_uint(w, "tasks", st->tasks);
	json_kv_uint(w, "max_live_tasks", st->max_live_tasks);
	if (st->lost)
		json_kv_uint(w, "lost", st->lost);
	if (rewrites && rewrites->n) {
		json_kv_uint(w, "rewrites", rewrites->n);
		json_kv_uint(w, "rewrite_p50_ns", latency_percentile(rewrites, 50));
		json_kv_uint(w, "rewrite_p99_ns", latency_percentile(rewrites, 99));
	}
	json_object_end(w);
	return w->failed ? -ENOMEM : 0;
}

int trace_json_truncated(JsonWriter *w, uint64_t seq, uint64_t t_ns, uint64_t bytes, uint64_t limit)
{
	common(w, seq, t_ns, "truncated");
	json_kv_uint(w, "bytes", bytes);
	json_kv_uint(w, "limit", limit);
	json_object_end(w);
	return w->failed ? -ENOMEM : 0;
}

static void kv_strv(JsonWriter *w, const char *key, char *const *v, size_t n)
{
	json_key(w, key);
	json_array_begin(w);
	for (size_t i = 0; i < n; i++)
		json_string(w, v[i]);
	json_array_end(w);
}

int trace_json_elf(JsonWriter *w, uint64_t seq, const TracerEvent *ev, const ElfFacts *f,
		   int error, const LdCache *cache)
{
	char b[32];
	common(w, seq, ev->t_ns, "observe");
	json_kv_int(w, "pid", ev->pid);
	json_kv_int(w, "tid", ev->tid);
	json_kv_string(w, "what", "elf");
	json_kv_string(w, "path", ev->sys.path);
	if (ev->sys.redirected)
		json_kv_string(w, "redirected", ev->sys.redirected);
	if (error == -ENOEXEC)
		json_kv_string(w, "error", "not-elf");
	else if (error == -EINVAL)
		json_kv_string(w, "error", "malformed");
	else if (error < 0)
		kv_errno(w, "error", -error);
	if (error < 0) {
		json_object_end(w);
		return w->failed ? -ENOMEM : 0;
	}
	json_kv_int(w, "class", f->elf_class);
	json_kv_string(w, "byte_order", f->little_endian ? "little" : "big");
	json_kv_string(w, "machine", elf_machine_name(f->machine, b, sizeof(b)));
	json_kv_int(w, "type", f->type);
	if (f->soname)
		json_kv_string(w, "soname", f->soname);
	kv_strv(w, "needed", f->needed, f->n_needed);
	if (cache) {
		json_key(w, "ldcache");
		json_object_begin(w);
		for (size_t i = 0; i < f->n_needed; i++) {
			json_key(w, f->needed[i]);
			json_string(w, ldcache_lookup(cache, f->needed[i]));	/* null: no entry */
		}
		json_object_end(w);
	}
	if (f->realpath)
		json_kv_string(w, "realpath", f->realpath);
	if (f->runpath)
		json_kv_string(w, "runpath", f->runpath);
	if (f->rpath)
		json_kv_string(w, "rpath", f->rpath);
	kv_strv(w, "undefined", f->undefined, f->n_undefined);
	if (f->truncated)
		json_kv_bool(w, "truncated", true);
	json_object_end(w);
	return w->failed ? -ENOMEM : 0;
}

int trace_json_stack(JsonWriter *w, uint64_t seq, const TracerEvent *ev, uint64_t for_seq,
		     const char *why, const TracerFrame *frames, size_t n)
{
	char ip[32];
	common(w, seq, ev->t_ns, "stack");
	json_kv_int(w, "pid", ev->pid);
	json_kv_int(w, "tid", ev->tid);
	json_kv_uint(w, "for_seq", for_seq);
	json_kv_string(w, "why", why);
	json_key(w, "frames");
	json_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		json_object_begin(w);
		snprintf(ip, sizeof(ip), "0x%llx", (unsigned long long)frames[i].ip);
		json_kv_string(w, "ip", ip);
		if (frames[i].symbol[0]) {
			json_kv_string(w, "symbol", frames[i].symbol);
			json_kv_uint(w, "offset", frames[i].offset);
		}
		if (frames[i].file[0])
			json_kv_string(w, "file", frames[i].file);
		json_object_end(w);
	}
	json_array_end(w);
	json_object_end(w);
	return w->failed ? -ENOMEM : 0;
}
