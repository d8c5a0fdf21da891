/* Traces built by hand (see trace-build.h). */
#include "trace-build.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose.h"

char *read_policy(const char *name)
{
	char path[1024];
	const char *src = getenv("SOURCE_ROOT") ? getenv("SOURCE_ROOT") : ".";
	snprintf(path, sizeof(path), "%s/policies/%s.policy", src, name);
	FILE *f = fopen(path, "re");
	ck_assert_msg(f, "cannot read %s", path);
	char *buf = NULL;
	size_t cap = 0;
	ck_assert_int_ge(getdelim(&buf, &cap, '\0', f), 0);
	fclose(f);
	return buf;
}

void put(Trace *t, json_object *ev)
{
	json_object_object_add(ev, "seq", json_object_new_int64(++t->seq));
	json_object_object_add(ev, "t_ns", json_object_new_int64((int64_t)t->seq * 1000000));
	fprintf(t->f, "%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	json_object_put(ev);
}

json_object *event(const char *kind, int pid)
{
	json_object *ev = json_object_new_object();
	json_object_object_add(ev, "event", json_object_new_string(kind));
	if (pid) {
		json_object_object_add(ev, "pid", json_object_new_int(pid));
		json_object_object_add(ev, "tid", json_object_new_int(pid));
	}
	return ev;
}

void begin(Trace *t, const char *policy)
{
	begin_on(t, policy, NULL);
}

/* The header of a trace made on a host of ARCH (uname -m; NULL: none). */
void begin_on(Trace *t, const char *policy, const char *arch)
{
	memset(t, 0, sizeof(*t));
	t->f = open_memstream(&t->text, &t->len);
	json_object *h = event("header", 0), *p = json_object_new_object();
	char *text = read_policy(policy);
	json_object_object_add(h, "schema", json_object_new_string("vgpu-run/trace/1"));
	json_object_object_add(p, "name", json_object_new_string(policy));
	json_object_object_add(p, "path", json_object_new_string("policies/x.policy"));
	json_object_object_add(p, "text", json_object_new_string(text));
	json_object_object_add(h, "policy", p);
	if (arch) {
		json_object *host = json_object_new_object();
		json_object_object_add(host, "arch", json_object_new_string(arch));
		json_object_object_add(h, "host", host);
	}
	free(text);
	put(t, h);
}

/* exec of PID: ARGV (NULL-terminated), then NAME=VALUE env entries. */
void exec_(Trace *t, int pid, int ppid, const char *exe, const char *const *argv,
		  const char *const *env)
{
	json_object *ev = event("exec", pid), *a = json_object_new_array(), *e = json_object_new_object();
	json_object_object_add(ev, "ppid", json_object_new_int(ppid));
	json_object_object_add(ev, "exe", json_object_new_string(exe));
	for (size_t i = 0; argv[i]; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	for (size_t i = 0; env && env[i]; i += 2)
		json_object_object_add(e, env[i], json_object_new_string(env[i + 1]));
	json_object_object_add(ev, "argv", a);
	json_object_object_add(ev, "env", e);
	put(t, ev);
}

void open_(Trace *t, int pid, const char *path, int result)
{
	json_object *ev = event("syscall", pid);
	json_object_object_add(ev, "syscall", json_object_new_string("openat"));
	json_object_object_add(ev, "path", json_object_new_string(path));
	json_object_object_add(ev, "result", result >= 0 ? json_object_new_int(result)
							 : json_object_new_string("ENOENT"));
	put(t, ev);
}

void output(Trace *t, int pid, const char *text)
{
	json_object *ev = event("output", pid);
	json_object_object_add(ev, "fd", json_object_new_int(2));
	json_object_object_add(ev, "text", json_object_new_string(text));
	put(t, ev);
}

void killed(Trace *t, int pid, int by)
{
	json_object *k = event("syscall", by);
	json_object_object_add(k, "syscall", json_object_new_string("kill"));
	json_object_object_add(k, "target", json_object_new_int(pid));
	json_object_object_add(k, "signal", json_object_new_string("SIGKILL"));
	json_object_object_add(k, "result", json_object_new_int(0));
	put(t, k);
	json_object *ev = event("exit", pid);
	json_object_object_add(ev, "signal", json_object_new_string("SIGKILL"));
	put(t, ev);
}

/* A listing of ROOT: NAME, then its files ("" ends one entry). */
void listing(Trace *t, const char *const *spec)
{
	json_object *ev = event("observe", 100), *entries = json_object_new_array();
	json_object_object_add(ev, "what", json_object_new_string("listing"));
	json_object_object_add(ev, "path", json_object_new_string(ROOT));
	for (size_t i = 0; spec[i];) {
		json_object *e = json_object_new_object(), *files = json_object_new_array();
		json_object_object_add(e, "name", json_object_new_string(spec[i++]));
		json_object_object_add(e, "type", json_object_new_string("dir"));
		while (spec[i] && *spec[i])
			json_object_array_add(files, json_object_new_string(spec[i++]));
		if (spec[i])
			i++;
		json_object_object_add(e, "files", files);
		json_object_array_add(entries, e);
	}
	json_object_object_add(ev, "entries", entries);
	put(t, ev);
}

/* An Ollama runner PID for DIR that loads its libggml-cuda.so. */
void runner_loads(Trace *t, int pid, const char *dir)
{
	char lp[256], lib[256], line[512];
	snprintf(lp, sizeof(lp), ROOT ":" ROOT "/%s", dir);
	snprintf(lib, sizeof(lib), ROOT "/%s/libggml-cuda.so", dir);
	snprintf(line, sizeof(line), "load_backend: loaded CUDA backend from %s\n", lib);
	exec_(t, pid, 100, "/opt/o/bin/ollama",
	      (const char *const[]){ "/opt/o/bin/ollama", "runner", "--ollama-engine", NULL },
	      (const char *const[]){ "OLLAMA_LIBRARY_PATH", lp, NULL });
	open_(t, pid, lib, 7);
	output(t, pid, line);
	killed(t, pid, 100);
}

/* A whole run: its trace ends with the stats line. */
Report diagnose(Trace *t)
{
	fputs("{\"seq\":999999,\"t_ns\":999999,\"event\":\"stats\",\"stops\":0}\n", t->f);
	fclose(t->f);
	FILE *f = fmemopen(t->text, t->len, "r");
	Report r;
	char err[512] = "";
	ck_assert_msg(diagnose_trace_stream(f, "test", NULL, &r, err, sizeof(err)) == 0, "%s", err);
	fclose(f);
	free(t->text);
	return r;
}

const ReportDirectory *dir(const Report *r, const char *name)
{
	for (size_t i = 0; i < r->n_directories; i++)
		if (!strcmp(r->directories[i].name, name))
			return &r->directories[i];
	ck_abort_msg("no directory %s", name);
	return NULL;
}

void server(Trace *t, const char *version)
{
	char line[128];
	exec_(t, 100, 1, "/opt/o/bin/ollama", (const char *const[]){ "ollama", "serve", NULL }, NULL);
	snprintf(line, sizeof(line), "msg=\"Listening on 127.0.0.1:11434 (version %s)\"\n", version);
	output(t, 100, line);
}

void expect_dir(const Report *r, const char *name, const char *verdict_reason)
{
	const ReportDirectory *d = dir(r, name);
	char got[128];
	snprintf(got, sizeof(got), "%s:%s", d->verdict, d->reason);
	ck_assert_str_eq(got, verdict_reason);
}

void expect_next(const Report *r, const char *name, const char *next)
{
	const ReportDirectory *d = dir(r, name);
	if (!next)
		ck_assert_msg(!d->next, "%s: next step %s", name, d->next);
	else
		ck_assert_str_eq(d->next ? d->next : "(none)", next);
}

