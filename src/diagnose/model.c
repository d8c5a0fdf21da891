/* The model built from trace events, one at a time (see model.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/path.h"
#include "diagnose/model.h"

#define str jstr

/* The trace's "result": a number, or an errno name. */
static char *result_text(json_object *ev, bool *ok)
{
	json_object *v;
	char buf[32];
	*ok = false;
	if (!json_object_object_get_ex(ev, "result", &v))
		return NULL;
	if (json_object_is_type(v, json_type_int)) {
		*ok = json_object_get_int64(v) >= 0;
		snprintf(buf, sizeof(buf), "%lld", (long long)json_object_get_int64(v));
		return strdup(buf);
	}
	return json_object_is_type(v, json_type_string) ? strdup(json_object_get_string(v)) : NULL;
}

int model_init(Model *m, const ModelHooks *hooks, void *hooks_data)
{
	*m = (Model){ .hooks = hooks, .hooks_data = hooks_data, .arch = hostarch_native() };
	m->by_pid = json_object_new_object();
	m->elf = json_object_new_object();
	m->symbols = json_object_new_object();
	m->rx = diag_regexes_new();
	if (!m->by_pid || !m->elf || !m->symbols || !m->rx) {
		model_done(m);
		return -ENOMEM;
	}
	return 0;
}

void model_proc_free(Proc *p)
{
	if (!p)
		return;
	free(p->exe);
	free(p->cwd);
	strv_free_all(p->argv);
	json_object_put(p->env);
	strv_free_all(p->scans);
	for (size_t i = 0; i < p->n_opens; i++) {
		free(p->opens[i].syscall);
		free(p->opens[i].path);
		free(p->opens[i].result);
	}
	free(p->opens);
	for (size_t i = 0; i < p->n_output; i++)
		free(p->output[i].text);
	free(p->output);
	free(p->fatal_signal);
	free(p->crash_stack);
	free(p->inject_why);
	free(p->kill_signal);
	free(p->exit_signal);
	strv_free_all(p->maps);
	free(p);
}

void model_done(Model *m)
{
	for (size_t i = 0; i < m->n_procs; i++)
		model_proc_free(m->procs[i]);
	free(m->procs);
	free(m->scanner_version);
	diag_outcome_done(m);
	report_exit_done(&m->command_exit);
	report_evidence_done(&m->kept_ev);
	diag_regexes_free(m->rx);
	json_object_put(m->by_pid);
	json_object_put(m->elf);
	json_object_put(m->symbols);
	json_object_put(m->listing);
	json_object_put(m->platform);
	json_object_put(m->header);
	json_object_put(m->injects);
	policy_done(&m->policy);
	free(m->policy_error);
	strv_free_all(m->command);
	*m = (Model){ 0 };
}

int model_use_policy(Model *m, const char *path, char *err, size_t err_size)
{
	policy_done(&m->policy);
	diag_regexes_reset(m->rx);
	int r = policy_load_file(path, &m->policy, err, err_size);
	m->have_policy = r >= 0;
	m->policy_overridden = r >= 0;
	return r;
}

static void set_slot(Model *d, const Proc *p);
static int model_end(Model *d, Proc *p);

/* A new process record for PID (a pid reused after an exit gets a new one). */
static Proc *new_proc(Model *d, pid_t pid, pid_t ppid, uint64_t t_ns)
{
	Proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->ppid = ppid;
	p->start_ns = t_ns;
	p->first_seq = d->last_seq;
	Proc *old = diag_proc(d, pid);
	if (old && old != d->server)
		(void)model_end(d, old);	/* a process whose end never came */
	if (model_adopt(d, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

static void set_slot(Model *d, const Proc *p)
{
	char key[16];
	snprintf(key, sizeof(key), "%d", (int)p->pid);
	json_object_object_add(d->by_pid, key, json_object_new_int64((int64_t)p->slot));
}

int model_adopt(Model *d, Proc *p)
{
	if (d->n_procs == d->cap_procs) {
		size_t cap = d->cap_procs ? d->cap_procs * 2 : 64;
		Proc **np = realloc(d->procs, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		d->procs = np;
		d->cap_procs = cap;
	}
	p->slot = d->n_procs;
	d->procs[d->n_procs++] = p;
	set_slot(d, p);
	return 0;
}

static void forget(Model *d, Proc *p)
{
	char key[16];
	snprintf(key, sizeof(key), "%d", (int)p->pid);
	if (diag_proc(d, p->pid) == p)
		json_object_object_del(d->by_pid, key);
	/* the last one fills the hole: O(1); the report orders by first_seq */
	size_t i = p->slot;
	Proc *last = d->procs[--d->n_procs];
	if (last != p) {
		bool indexed = diag_proc(d, last->pid) == last;
		d->procs[i] = last;
		last->slot = i;
		if (indexed)
			set_slot(d, last);
	}
	if (d->server == p)
		d->server = NULL;
	model_proc_free(p);
}

/* P ended (or its pid was reused without an exit): the fold takes its
 * contribution, then the model forgets it. */
static int model_end(Model *d, Proc *p)
{
	int r = d->hooks->ended(d->hooks_data, d, p);
	if (p->opens_truncated && d->n_truncated < TRUNCATED_PIDS_MAX)
		d->truncated_pids[d->n_truncated++] = p->pid;
	forget(d, p);
	return r;
}

/* The live record of PID, created when the trace never announced it. */
static Proc *proc_for(Model *d, pid_t pid, pid_t ppid, uint64_t t_ns)
{
	Proc *p = diag_proc(d, pid);
	if (p && !p->ended)
		return p;
	return new_proc(d, pid, ppid, t_ns);
}

static int on_header(Model *d, json_object *ev, char *err, size_t err_size)
{
	const char *schema = str(ev, "schema");
	/* "vgpu-run/trace/1" or "vgpu-run/trace/1.N", as reports are read */
	size_t minor = schema && !strncmp(schema, "vgpu-run/trace/1", 16) && schema[16] == '.'
			       ? strspn(schema + 17, "0123456789")
			       : 0;
	if (!schema || strncmp(schema, "vgpu-run/trace/1", 16) != 0 ||
	    (schema[16] != '\0' && (schema[16] != '.' || !minor || minor > 9 || schema[17 + minor]))) {
		/* quoted as the report reader quotes it: at most 80 bytes */
		snprintf(err, err_size, "unknown trace schema '%.80s%s'", schema ? schema : "(none)",
			 schema && strlen(schema) > 80 ? "..." : "");
		return -EPROTO;
	}
	/* A rotated trace: each piece starts with the header (piece, from 1,
	 * and its first seq) and, after the first, a state event.  Read on
	 * from the piece before, the state is known already; read alone, it
	 * comes from that event. */
	int64_t piece = jnum(ev, "piece", 0);
	const char *run_id = str(ev, "run_id");
	if (d->header) {
		const char *was = str(d->header, "run_id");
		if (piece < 2 || !run_id || !was || strcmp(run_id, was)) {
			snprintf(err, err_size, "a second header (not the next piece of the same run)");
			return -EINVAL;
		}
		if ((uint64_t)piece != d->piece + 1 || (uint64_t)jnum(ev, "first_seq", 0) != d->last_seq + 1) {
			snprintf(err, err_size, "piece %lld does not follow piece %u, which ends at event %llu",
				 (long long)piece, d->piece, (unsigned long long)d->last_seq);
			return -EINVAL;
		}
		d->piece = (unsigned)piece;
		d->piece_state = PIECE_STATE_SKIP;
		return 0;
	}
	if (piece < 0 || piece > UINT32_MAX) {
		snprintf(err, err_size, "a header with piece %lld", (long long)piece);
		return -EINVAL;
	}
	d->piece = (unsigned)piece;
	d->piece_state = piece > 1 ? PIECE_STATE_RESTORE : PIECE_STATE_NONE;
	d->header = json_object_get(ev);
	json_object *host = NULL;
	json_object_object_get_ex(ev, "host", &host);
	const HostArch *arch = hostarch_by_uname(str(host, "arch"));
	if (arch)
		d->arch = arch;
	json_object *pol;
	if (strv_push_all(&d->command, jarray(ev, "command")) < 0)
		return -ENOMEM;
	if (!json_object_object_get_ex(ev, "policy", &pol) || !json_object_is_type(pol, json_type_object))
		return 0;
	const char *text = str(pol, "text");
	const char *path = str(pol, "path");
	if (!text || d->policy_overridden)
		return 0;
	int r = policy_parse(path ? path : "(trace)", text, strlen(text), &d->policy, err, err_size);
	if (r < 0)
		return r;
	d->have_policy = true;
	return 0;
}

static bool wanted_path(const char *path)
{
	const char *base = strrchr(path, '/');
	return path_is_library_name(base ? base + 1 : path) || strstr(path, "ggml") != NULL;
}

static int on_exec(Model *d, json_object *ev)
{
	pid_t pid = jpid(ev, "pid");
	Proc *p = proc_for(d, pid, jpid(ev, "ppid"), (uint64_t)jnum(ev, "t_ns", 0));
	if (!p)
		return -ENOMEM;
	p->exec_seen = true;
	p->exec_seq = (uint64_t)jnum(ev, "seq", 0);
	p->exec_ns = (uint64_t)jnum(ev, "t_ns", 0);
	free(p->exe);
	p->exe = str(ev, "exe") ? strdup(str(ev, "exe")) : NULL;
	free(p->cwd);
	p->cwd = str(ev, "cwd") ? strdup(str(ev, "cwd")) : NULL;
	strv_free_all(p->argv);
	p->argv = NULL;
	json_object *env;
	if (strv_push_all(&p->argv, jarray(ev, "argv")) < 0)
		return -ENOMEM;
	json_object_put(p->env);
	p->env = json_object_object_get_ex(ev, "env", &env) && json_object_is_type(env, json_type_object)
			 ? json_object_get(env)
			 : NULL;

	/* Roles: the server is the exec the policy's server rule names (the
	 * traced command without one); what led to it is a wrapper; a
	 * scanner is what the policy says (the server's executable with a
	 * given argv[1]). */
	if (policy_server_exec(d->have_policy ? &d->policy : NULL, &d->who, pid, p->exe, p->argv,
			       strv_len(p->argv))) {
		d->server = p;
		p->is_wrapper = false;
		for (Proc *a = diag_proc(d, p->ppid); a && !a->is_wrapper && a != p; a = diag_proc(d, a->ppid))
			a->is_wrapper = true;
	}
	p->is_server = p == d->server;
	bool was_scanner = p->is_scanner;
	p->is_scanner = false;
	strv_free_all(p->scans);
	p->scans = NULL;
	if (d->have_policy && policy_scanner_exec(&d->policy, d->server ? d->server->exe : NULL,
						  p->is_server, p->exe, p->argv, strv_len(p->argv))) {
		p->is_scanner = true;
		d->scanner_seen = true;
		/* a scanner that execs again is still one run (and one end) */
		if (!was_scanner)
			d->scanner_runs++;
		const char *dirs = d->policy.scanner_dirs_env ? diag_env(p, d->policy.scanner_dirs_env) : NULL;
		_cleanup_free_ char *copy = dirs ? strdup(dirs) : NULL;
		char *save = NULL;
		for (char *el = copy ? strtok_r(copy, ":", &save) : NULL; el; el = strtok_r(NULL, ":", &save)) {
			if (!*el)
				continue;
			if (strv_push(&p->scans, el) < 0 || d->hooks->probed(d->hooks_data, el, p->exec_seq, true) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

static int on_syscall(Model *d, json_object *ev)
{
	const char *sc = str(ev, "syscall");
	pid_t pid = jpid(ev, "pid");
	if (!sc)
		return 0;
	if (str(ev, "signal") && json_object_object_get_ex(ev, "target", NULL)) {
		const char *sig = str(ev, "signal");
		Proc *target = diag_proc(d, jpid(ev, "target"));
		if (target && !target->ended && strcmp(sig, "0") != 0) {
			target->killer = pid;
			free(target->kill_signal);
			target->kill_signal = strdup(sig);
			target->kill_seq = (uint64_t)jnum(ev, "seq", 0);
			target->kill_ns = (uint64_t)jnum(ev, "t_ns", 0);
		}
		return 0;
	}
	const char *path = str(ev, "path");
	if (!path || strncmp(sc, "open", 4) != 0 || !wanted_path(path))
		return 0;
	Proc *p = proc_for(d, pid, 0, (uint64_t)jnum(ev, "t_ns", 0));
	if (!p)
		return -ENOMEM;
	bool ok = false;
	_cleanup_free_ char *res = result_text(ev, &ok);
	int r = d->hooks->backend_open(d->hooks_data, d, p, path, ok);
	if (r < 0)
		return r;
	if (p->n_opens >= OPENS_KEEP_MAX) {
		p->opens_truncated = true;
		return 0;
	}
	d->scanner_seen |= d->policy.scanner_any;
	if (p->n_opens == p->cap_opens) {
		size_t cap = p->cap_opens ? p->cap_opens * 2 : 32;
		Open *no = realloc(p->opens, cap * sizeof(*no));
		if (!no)
			return -ENOMEM;
		p->opens = no;
		p->cap_opens = cap;
	}
	Open *o = &p->opens[p->n_opens];
	memset(o, 0, sizeof(*o));
	o->seq = (uint64_t)jnum(ev, "seq", 0);
	o->syscall = strdup(sc);
	o->path = strdup(path);
	o->result = TAKE_PTR(res);	/* read once, above */
	o->ok = ok;
	if (!o->syscall || !o->path)
		return -ENOMEM;
	p->n_opens++;
	return 0;
}

static void server_says(Model *d, const Proc *server, uint64_t seq, const char *text)
{
	char g[1024];
	(void)diag_outcome_text(d, seq, text);
	if (!d->scanner_version && diag_regex_line(d, d->policy.version_regex, text, g, sizeof(g)))
		d->scanner_version = strdup(g);
	if (!diag_regex_line(d, d->policy.kept_regex, text, g, sizeof(g)))
		return;
	size_t len = strlen(d->kept);
	snprintf(d->kept + len, sizeof(d->kept) - len, "%s%s", len ? "," : "", g);
	report_evidence_done(&d->kept_ev);
	d->kept_ev = (ReportEvidence){
		.seq = seq, .pid = server->pid, .event = strdup("output"),
		.text = strndup(text, strcspn(text, "\n")),
	};
}

static int on_output(Model *d, json_object *ev)
{
	const char *text = str(ev, "text");
	Proc *p = proc_for(d, jpid(ev, "pid"), 0, (uint64_t)jnum(ev, "t_ns", 0));
	if (!p)
		return -ENOMEM;
	/* The server's word (its version, what it kept) is read as it comes:
	 * it may speak weeks after its first OUTPUT_KEEP_MAX bytes. */
	if (p == d->server && text)
		server_says(d, p, (uint64_t)jnum(ev, "seq", 0), text);
	if (!text || p->output_bytes >= OUTPUT_KEEP_MAX)
		return 0;
	if (p->n_output == p->cap_output) {
		size_t cap = p->cap_output ? p->cap_output * 2 : 16;
		Chunk *nc = realloc(p->output, cap * sizeof(*nc));
		if (!nc)
			return -ENOMEM;
		p->output = nc;
		p->cap_output = cap;
	}
	p->output[p->n_output].seq = (uint64_t)jnum(ev, "seq", 0);
	if (!(p->output[p->n_output].text = strdup(text)))
		return -ENOMEM;
	p->n_output++;
	p->output_bytes += strlen(text);
	return 0;
}

static bool is_crash_signal(const char *sig)
{
	static const char *const crash[] = { "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT" };
	for (size_t i = 0; sig && i < ELEMENTSOF(crash); i++)
		if (!strcmp(sig, crash[i]))
			return true;
	return false;
}

static int on_signal(Model *d, json_object *ev)
{
	const char *sig = str(ev, "signal");
	Proc *p = diag_proc(d, jpid(ev, "pid"));
	if (p && !p->fatal_signal && is_crash_signal(sig)) {
		p->fatal_signal = strdup(sig);
		p->fatal_seq = (uint64_t)jnum(ev, "seq", 0);
	}
	return 0;
}

static int on_fork(Model *d, json_object *ev)
{
	const char *kind = str(ev, "kind");
	if (kind && !strcmp(kind, "thread"))
		return 0;
	return new_proc(d, jpid(ev, "child_pid"), jpid(ev, "pid"),
			(uint64_t)jnum(ev, "t_ns", 0))
		       ? 0
		       : -ENOMEM;
}

static int on_exit_event(Model *d, json_object *ev)
{
	pid_t pid = jpid(ev, "pid");
	Proc *p = diag_proc(d, pid);
	if (!p)
		return 0;
	if (!p->ended && p->is_scanner)
		d->scanner_ends++;
	p->ended = true;
	p->exit_seq = (uint64_t)jnum(ev, "seq", 0);
	p->exit_ns = (uint64_t)jnum(ev, "t_ns", 0);
	if (str(ev, "signal")) {
		p->exit_signaled = true;
		free(p->exit_signal);
		p->exit_signal = strdup(str(ev, "signal"));
	} else {
		p->exit_code = (int)jnum(ev, "code", 0);
	}
	if (pid == d->who.command)
		diag_fill_exit(p, &d->command_exit);	/* vgpu-run's own end */
	/* Its runs are judged now, once; then it is forgotten.  The server
	 * stays: the report's environment and root are its. */
	return p == d->server ? 0 : model_end(d, p);
}

/* The facts the diagnosis reads of a library (the loader reconstruction,
 * the bad-library and RUNPATH checks), once per file, at most
 * ELF_KEEP_MAX files: a trace that names millions of libraries costs no
 * more than this. */
static const char *const elf_kept[] = {
	"class", "machine", "type", "error", "runpath", "rpath", "needed", "ldcache", "realpath",
};

static int keep_elf(Model *d, const char *path, json_object *ev)
{
	if (json_object_object_get_ex(d->elf, path, NULL))
		return 0;	/* the first facts of a file stand */
	if (json_object_object_length(d->elf) >= ELF_KEEP_MAX) {
		d->elf_dropped++;
		return 0;
	}
	json_object *facts = json_object_new_object(), *v;
	if (!facts)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(elf_kept); i++)
		if (json_object_object_get_ex(ev, elf_kept[i], &v))
			json_object_object_add(facts, elf_kept[i], json_object_get(v));
	return json_object_object_add(d->elf, path, facts) < 0 ? -ENOMEM : 0;
}

static int on_observe(Model *d, json_object *ev)
{
	const char *what = str(ev, "what");
	if (!what)
		return 0;
	if (!strcmp(what, "elf") && str(ev, "path")) {
		return keep_elf(d, str(ev, "path"), ev);
	} else if (!strcmp(what, "symbols") && str(ev, "path")) {
		/* once per backend and run; the first check stands */
		if (json_object_object_get_ex(d->symbols, str(ev, "path"), NULL) ||
		    json_object_object_length(d->symbols) >= SYMBOLS_KEEP_MAX)
			return 0;
		return json_object_object_add(d->symbols, str(ev, "path"), json_object_get(ev)) < 0 ? -ENOMEM : 0;
	} else if (!strcmp(what, "listing")) {
		/* A listing of another directory (the root of a wrapper's exe)
		 * says nothing about the server's root. */
		char root[PATH_MAX];
		const char *lp = str(ev, "path");
		if (!d->have_policy || !diag_library_root(d, root, sizeof(root)) || !lp || strcmp(lp, root))
			return 0;
		json_object_put(d->listing);
		d->listing = json_object_get(ev);
	} else if (!strcmp(what, "platform")) {
		json_object_put(d->platform);
		d->platform = json_object_get(ev);
	} else if (!strcmp(what, "mappings")) {
		Proc *p = diag_proc(d, jpid(ev, "pid"));
		if (!p)
			return 0;
		strv_free_all(p->maps);
		p->maps = NULL;
		return strv_push_all(&p->maps, jarray(ev, "files"));
	}
	return 0;
}

static int on_stats(Model *d, json_object *ev)
{
	d->complete = true;
	d->stops = (uint64_t)jnum(ev, "stops", 0);
	d->lost = (uint64_t)jnum(ev, "lost", 0);
	d->backtraces = (uint64_t)jnum(ev, "backtraces", 0);
	d->backtrace_ns = (uint64_t)jnum(ev, "backtrace_ns", 0);
	d->rewrites = (uint64_t)jnum(ev, "rewrites", 0);
	d->rewrite_p50_ns = (uint64_t)jnum(ev, "rewrite_p50_ns", 0);
	d->rewrite_p99_ns = (uint64_t)jnum(ev, "rewrite_p99_ns", 0);
	return 0;
}

static int on_truncated(Model *d, json_object *ev)
{
	d->cut_seq = (uint64_t)jnum(ev, "seq", 0);
	d->cut_limit = (uint64_t)jnum(ev, "limit", 0);
	return 0;
}

#define STACK_TEXT_FRAMES 8	/* frames named in evidence */

/* A backtrace taken at a crash is evidence for scanner-crashed. */
static int on_stack(Model *d, json_object *ev)
{
	const char *why = str(ev, "why");
	Proc *p = diag_proc(d, jpid(ev, "pid"));
	json_object *frames = jarray(ev, "frames");
	if (!p || !why || strcmp(why, "signal") || p->crash_stack || !frames)
		return 0;
	char text[1024] = "";
	size_t len = 0;
	for (size_t i = 0; i < jlen(frames) && i < STACK_TEXT_FRAMES; i++) {
		const char *sym = str(json_object_array_get_idx(frames, i), "symbol");
		len += (size_t)snprintf(text + len, len < sizeof(text) ? sizeof(text) - len : 0, "%s%s",
					i ? " < " : "", sym ? sym : "?");
	}
	p->crash_stack_seq = (uint64_t)jnum(ev, "seq", 0);
	p->crash_stack = strdup(text);
	return p->crash_stack ? 0 : -ENOMEM;
}

static int on_inject(Model *d, json_object *ev)
{
	/* a scanner's verdict cites the shim that went into it */
	Proc *p = diag_proc(d, jpid(ev, "pid"));
	const char *status = jstr(ev, "status"), *why = jstr(ev, "why");
	if (p && !p->inject_seq && status && !strcmp(status, "done") && why && jnum(ev, "seq", 0) > 0) {
		p->inject_seq = (uint64_t)jnum(ev, "seq", 0);
		if (!(p->inject_why = strdup(why)))
			return -ENOMEM;
	}
	if (!d->injects && !(d->injects = json_object_new_array()))
		return -ENOMEM;
	if (json_object_array_length(d->injects) >= INJECTS_KEEP_MAX) {
		d->injects_dropped++;
		return 0;
	}
	return json_object_array_add(d->injects, json_object_get(ev)) < 0 ? -ENOMEM : 0;
}

static const struct {
	const char *event;
	int (*fn)(Model *d, json_object *ev);
} handlers[] = {
	{ "exec", on_exec },	 { "syscall", on_syscall }, { "output", on_output },
	{ "signal", on_signal }, { "fork", on_fork },	    { "exit", on_exit_event },
	{ "observe", on_observe }, { "stats", on_stats },	    { "stack", on_stack },
	{ "truncated", on_truncated }, { "inject", on_inject },
};

int model_feed(Model *d, json_object *ev, char *err, size_t err_size)
{
	const char *event = str(ev, "event");
	if (!event)
		return 0;
	if (!strcmp(event, "header")) {
		int r = on_header(d, ev, err, err_size);
		d->last_seq = (uint64_t)jnum(ev, "seq", 0);
		return r;
	}
	d->last_seq = (uint64_t)jnum(ev, "seq", 0);
	if (d->piece_state != PIECE_STATE_NONE) {
		snprintf(err, err_size, "piece %u's header is not followed by its state event", d->piece);
		return -EINVAL;
	}
	for (size_t i = 0; i < ELEMENTSOF(handlers); i++)
		if (!strcmp(event, handlers[i].event))
			return handlers[i].fn(d, ev);
	return 0;	/* kinds we do not know: a newer trace, ignored */
}
