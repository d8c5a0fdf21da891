/* Rendering a Report as text (see report-text.h).  Layout: a header line,
 * the verdict of every directory in one aligned table, then why each
 * directory that was not loaded was not (detail, libraries with their
 * numbered search order, evidence), then injections, processes, notes and
 * costs. */
#include "report/report-text.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/cleanup.h"

#define ANSI_RESET "\033[0m"

static const struct {
	const char *verdict, *color;
} verdict_colors[] = {
	{ "loaded", "\033[32m" },
	{ "failed", "\033[31m" },
	{ "skipped", "\033[33m" },
};

/* Who sent a fatal signal, as the "by" field says it. */
static const struct {
	const char *by, *text;
} senders[] = {
	{ "parent", "sent by its parent" },
	{ "self", "sent by itself" },
	{ "other", "sent by another process" },
	{ "unknown", "sender unknown" },
};

static const char *or_unknown(const char *s)
{
	return s ? s : "unknown";
}

/* The LEN bytes at S with control characters escaped: program output and
 * file names may hold newlines or terminal escape sequences. */
static void put_escaped_len(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static void put_escaped(FILE *f, const char *s)
{
	if (s)
		put_escaped_len(f, s, strlen(s));
}

/* A word of a command line, quoted as a shell would need it: bare when
 * plain, in "..." when it holds a ' but nothing "..." expands, else '...'. */
static void put_word(FILE *f, const char *s)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789_-./:=@%+,";
	if (*s && strspn(s, plain) == strlen(s)) {
		fputs(s, f);
		return;
	}
	if (strchr(s, '\'') && !strpbrk(s, "\"\\$`!")) {
		fputc('"', f);
		put_escaped(f, s);
		fputc('"', f);
		return;
	}
	fputc('\'', f);
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			fputs("'\\''", f);
		else
			put_escaped_len(f, p, 1);
	}
	fputc('\'', f);
}

static void put_argv(FILE *f, char *const *argv)
{
	if (!argv || !*argv) {
		fputs("(no command line)", f);
		return;
	}
	for (char *const *a = argv; *a; a++) {
		if (a != argv)
			fputc(' ', f);
		put_word(f, *a);
	}
}

static void put_list(FILE *f, char *const *v)
{
	for (char *const *p = v; p && *p; p++) {
		if (p != v)
			fputs(", ", f);
		put_escaped(f, *p);
	}
}

/* "failed:missing-dependency", or "loaded" when the reason only repeats
 * the verdict; returns the width it took, for alignment. */
static size_t put_verdict(FILE *f, const char *verdict, const char *reason, bool color)
{
	const char *v = or_unknown(verdict), *c = NULL;
	for (size_t i = 0; color && i < ELEMENTSOF(verdict_colors); i++)
		if (strcmp(v, verdict_colors[i].verdict) == 0)
			c = verdict_colors[i].color;
	fputs(c ? c : "", f);
	put_escaped(f, v);
	fputs(c ? ANSI_RESET : "", f);
	if (!reason || strcmp(reason, v) == 0)
		return strlen(v);
	fputc(':', f);
	put_escaped(f, reason);
	return strlen(v) + 1 + strlen(reason);
}

/* "exited with code 2 after SIGSEGV (sent by itself)", "killed by SIGKILL
 * (sent by its parent)". */
static void put_exit(FILE *f, const ReportExit *e)
{
	if (!e->known) {
		fputs("end not recorded", f);
		return;
	}
	if (e->signaled) {
		fputs("killed by ", f);
		put_escaped(f, or_unknown(e->signal));
	} else
		fprintf(f, "exited with code %d", e->code);
	if (!e->signaled && e->fatal_signal) {
		fputs(" after ", f);
		put_escaped(f, e->fatal_signal);
	}
	if (!e->by)
		return;
	for (size_t i = 0; i < ELEMENTSOF(senders); i++)
		if (strcmp(e->by, senders[i].by) == 0) {
			fprintf(f, " (%s)", senders[i].text);
			return;
		}
	fputs(" (sent by: ", f);
	put_escaped(f, e->by);
	fputc(')', f);
}

static void put_header(const Report *r, FILE *f)
{
	/* the answer first: what the server ended up using */
	if (r->outcome_summary) {
		fputs("Outcome: ", f);
		put_escaped(f, r->outcome_summary);
		fputc('\n', f);
	}
	put_argv(f, r->command);
	fputs(" (policy ", f);
	put_escaped(f, r->policy_name ? r->policy_name : or_unknown(r->policy_path));
	fputs(", scanner ", f);
	put_escaped(f, r->scanner_version ? r->scanner_version : "version unknown");
	fputs("): ", f);
	put_exit(f, &r->exit);
	fputc('\n', f);
}

/* Which install was scanned and why: the library root is the policy's
 * rule applied to the server's executable after symlinks, the one thing
 * that decides it; another install elsewhere is a classic trap. */
static void put_root(const Report *r, FILE *f)
{
	if (!r->root_path)
		return;
	fputs("Library root: ", f);
	put_escaped(f, r->root_path);
	if (r->root_rule && r->root_exe) {
		fputs(" (", f);
		put_escaped(f, r->root_rule);
		fputs(" from the server's executable ", f);
		put_escaped(f, r->root_exe);
		fputs(", symlinks resolved)", f);
	}
	fputc('\n', f);
	for (size_t i = 0; i < r->n_installs; i++) {
		fputs("Another install, not scanned: ", f);
		put_escaped(f, or_unknown(r->installs[i].path));
		if (r->installs[i].directories && *r->installs[i].directories) {
			fputs(" (", f);
			put_list(f, r->installs[i].directories);
			fputc(')', f);
		}
		fputc('\n', f);
	}
}

/* Where and when, for a report read far from the machine and days later
 * (reports from before these fields have none of them): context, after
 * the first screen. */
static void put_run(const Report *r, FILE *f)
{
	if (!r->hostname && !r->started_at && !r->root_path)
		return;
	fputc('\n', f);
	if (!r->hostname && !r->started_at) {
		put_root(r, f);
		return;
	}
	fputs("Run: on ", f);
	put_escaped(f, or_unknown(r->hostname));
	if (r->arch || r->kernel) {
		fputs(" (", f);
		put_escaped(f, or_unknown(r->arch));
		fputs(", Linux ", f);
		put_escaped(f, or_unknown(r->kernel));
		fputc(')', f);
	}
	fputs(", started ", f);
	put_escaped(f, or_unknown(r->started_at));
	fputs(", report written ", f);
	put_escaped(f, or_unknown(r->written_at));
	fputc('\n', f);
	put_root(r, f);
}

static void put_table(const Report *r, FILE *f, bool color)
{
	size_t width = 0;
	if (r->n_directories == 0) {
		fputs("Directories: none found\n", f);
		return;
	}
	size_t vwidth = 0;
	for (size_t i = 0; i < r->n_directories; i++) {
		const ReportDirectory *d = &r->directories[i];
		if (strlen(or_unknown(d->name)) > width)
			width = strlen(or_unknown(d->name));
		size_t v = strlen(or_unknown(d->verdict)) + 1 + strlen(or_unknown(d->reason));
		if (d->cause && v > vwidth)
			vwidth = v;
	}
	/* no heading: the first screen (outcome, table, next steps) must fit
	 * in ten lines for a typical install */
	for (size_t i = 0; i < r->n_directories; i++) {
		const ReportDirectory *d = &r->directories[i];
		fputs("  ", f);
		put_escaped(f, or_unknown(d->name));
		fprintf(f, "%*s", (int)(width + 2 - strlen(or_unknown(d->name))), "");
		put_verdict(f, d->verdict, d->reason, color);
		/* the cause on the directory's own line: the first screen says why */
		if (d->cause) {
			size_t v = strlen(or_unknown(d->verdict)) + 1 + strlen(or_unknown(d->reason));
			fprintf(f, "%*s", (int)(vwidth + 2 - v), "");
			put_escaped(f, d->cause);
		}
		fputc('\n', f);
	}
}

/* "#1812 [pid 4242] openat("/usr/lib/x/libcuda.so.1") = ENOENT", strace's
 * look, or "#1900 [pid 4242] output: failed to initialize CUDA". */
static void put_evidence(FILE *f, const ReportEvidence *ev)
{
	fprintf(f, "    #%" PRIu64 " [pid %d] ", ev->seq, (int)ev->pid);
	if (ev->syscall) {
		put_escaped(f, ev->syscall);
		fputs("(\"", f);
		put_escaped(f, ev->path);
		fputs("\")", f);
		if (ev->result) {
			fputs(" = ", f);
			put_escaped(f, ev->result);
		}
	} else {
		put_escaped(f, or_unknown(ev->event));
		if (ev->path) {
			fputc(' ', f);
			put_escaped(f, ev->path);
		}
		if (ev->text) {
			/* an output line's own newline says nothing */
			size_t len = strlen(ev->text);
			while (len > 0 && ev->text[len - 1] == '\n')
				len--;
			fputs(": ", f);
			put_escaped_len(f, ev->text, len);
		}
	}
	fputc('\n', f);
}

static void put_library(FILE *f, const ReportLibrary *l)
{
	fputs("  ", f);
	put_escaped(f, l->path);
	if (l->backend) {
		fputs(" (", f);
		put_escaped(f, l->backend);
		fputc(')', f);
	}
	fputs(": ", f);
	put_escaped(f, or_unknown(l->outcome));
	if (l->missing && *l->missing) {
		fputs(", missing ", f);
		put_list(f, l->missing);
	}
	fputc('\n', f);
	/* The loader tries dozens of hwcaps and legacy subdirectories: the
	 * detail above groups them in search order; every path is in the
	 * JSON report. */
	if (!l->outcome || strcmp(l->outcome, "failed") != 0 || !l->searched || !*l->searched)
		return;
	size_t n = 0;
	while (l->searched[n])
		n++;
	fprintf(f, "    %zu paths tried (each one: vgpu-report show --format=json)\n", n);
}

/* A detail with a numbered search order ("...: 1. A; 2. B") prints one
 * step per line, as libtree does; any other detail on one line. */
static void put_detail_line(FILE *f, const char *detail);

/* A detail's lines ("\n"): the first may hold numbered search steps; each
 * further one is a sentence of its own. */
static void put_detail(FILE *f, const char *detail)
{
	const char *nl = strchr(detail, '\n');
	if (!nl) {
		put_detail_line(f, detail);
		return;
	}
	_cleanup_free_ char *first = strndup(detail, (size_t)(nl - detail));
	put_detail_line(f, first ? first : "");
	for (const char *p = nl + 1; *p;) {
		p += strspn(p, " ");
		size_t len = strcspn(p, "\n");
		fputs("  ", f);
		put_escaped_len(f, p, len);
		fputc('\n', f);
		p += len;
		p += *p == '\n';
	}
}

static void put_detail_line(FILE *f, const char *detail)
{
	const char *steps = strstr(detail, ": 1. ");
	if (!steps) {
		fputs("  ", f);
		put_escaped(f, detail);
		fputc('\n', f);
		return;
	}
	_cleanup_free_ char *head = strndup(detail, (size_t)(steps - detail) + 1);
	fputs("  ", f);
	put_escaped(f, head ? head : "");
	fputc('\n', f);
	const char *p = steps + 2;
	while (*p) {
		/* the next step starts "; N. " */
		const char *next = strstr(p, "; ");
		while (next && !(next[2] >= '1' && next[2] <= '9'))
			next = strstr(next + 2, "; ");
		_cleanup_free_ char *step = next ? strndup(p, (size_t)(next - p)) : strdup(p);
		fputs("    ", f);
		put_escaped(f, step ? step : "");
		fputc('\n', f);
		if (!next)
			break;
		p = next + 2;
	}
}

static void put_why(const ReportDirectory *d, FILE *f, bool color)
{
	fputc('\n', f);
	put_escaped(f, or_unknown(d->name));
	if (d->path && (!d->name || strcmp(d->name, d->path) != 0)) {
		fputs(" (", f);
		put_escaped(f, d->path);
		fputc(')', f);
	}
	if (d->realpath) {
		fputs(" -> ", f);
		put_escaped(f, d->realpath);
	}
	fputs(": ", f);
	put_verdict(f, d->verdict, d->reason, color);
	fputc('\n', f);
	if (d->detail)
		put_detail(f, d->detail);
	for (size_t i = 0; i < d->n_libraries; i++)
		put_library(f, &d->libraries[i]);
	/* one run says no more than the verdict; several tell a story */
	if (d->n_runs > 1) {
		fputs("  runs:", f);
		for (size_t i = 0; i < d->n_runs; i++) {
			fprintf(f, "%s pid %d ", i ? "," : "", (int)d->runs[i].pid);
			put_verdict(f, d->runs[i].verdict, d->runs[i].reason, color);
		}
		fputc('\n', f);
	}
	if (d->n_evidence > 0)
		fputs("  evidence:\n", f);
	for (size_t i = 0; i < d->n_evidence; i++)
		put_evidence(f, &d->evidence[i]);
}

static void put_injections(const Report *r, FILE *f)
{
	if (r->n_injections == 0) {
		fputs("\nInjections: none\n", f);
		return;
	}
	fputs("\nInjections:\n", f);
	for (size_t i = 0; i < r->n_injections; i++) {
		const ReportInjection *in = &r->injections[i];
		fprintf(f, "  #%" PRIu64 " [pid %d] ", in->seq, (int)in->pid);
		put_escaped(f, or_unknown(in->method));
		fputc(' ', f);
		put_escaped(f, or_unknown(in->library));
		fputs(" -> ", f);
		put_escaped(f, or_unknown(in->shim));
		fputs(": ", f);
		put_escaped(f, or_unknown(in->status));
		if (in->why) {
			fputs(", ", f);
			put_escaped(f, in->why);
		}
		fputc('\n', f);
	}
}

static void put_processes(const Report *r, FILE *f)
{
	if (r->n_processes == 0)
		return;
	fputs("\nProcesses:\n", f);
	for (size_t i = 0; i < r->n_processes; i++) {
		const ReportProcess *p = &r->processes[i];
		fprintf(f, "  %d ", (int)p->pid);
		put_escaped(f, or_unknown(p->role));
		if (p->wrapper)
			fputs(" (wrapper)", f);
		if (p->ppid > 0)
			fprintf(f, ", child of %d", (int)p->ppid);
		fputs(": ", f);
		put_argv(f, p->argv);
		fputs("\n    ", f);
		put_exit(f, &p->exit);
		fputc('\n', f);
		if (p->scans && *p->scans) {
			fputs("    scanned ", f);
			put_list(f, p->scans);
			fputc('\n', f);
		}
		for (size_t k = 0; k < p->n_environment; k++) {
			fputs(k ? ", " : "    environment, beside the server's: ", f);
			put_escaped(f, or_unknown(p->environment[k].name));
			fputc('=', f);
			put_escaped(f, p->environment[k].value ? p->environment[k].value : "");
			if (k + 1 == p->n_environment)
				fputc('\n', f);
		}
		for (size_t k = 0; k < p->n_drivers; k++) {
			const ReportDriver *d = &p->drivers[k];
			fputs("    mapped ", f);
			put_escaped(f, or_unknown(d->library));
			fputs(" from ", f);
			put_escaped(f, or_unknown(d->path));
			if (d->kind && !strcmp(d->kind, "shim"))
				fputs(" (the shim vgpu-run injected)", f);
			else if (d->kind && !strcmp(d->kind, "stub"))
				fputs(" (NVIDIA's stub library: it fails every call)", f);
			fputc('\n', f);
		}
	}
}

/* What to do, right after the table: the first screen ends with it. */
static void put_next(const Report *r, FILE *f)
{
	bool any = false;
	for (size_t i = 0; i < r->n_directories; i++) {
		const ReportDirectory *d = &r->directories[i];
		if (!d->next)
			continue;
		fputs(any ? "" : "Next steps:\n", f);
		any = true;
		fputs("  ", f);
		put_escaped(f, or_unknown(d->name));
		fputs(": ", f);
		put_escaped(f, d->next);
		fputc('\n', f);
	}
}

/* The server's recorded environment (the variables the policy records):
 * often the answer itself (LD_LIBRARY_PATH pointing at a stub driver,
 * OLLAMA_LLM_LIBRARY=cuda). */
static void put_environment(const Report *r, FILE *f)
{
	if (!r->n_environment)
		return;
	fputs("\nServer environment (as recorded):\n", f);
	for (size_t i = 0; i < r->n_environment; i++) {
		fputs("  ", f);
		put_escaped(f, or_unknown(r->environment[i].name));
		fputc('=', f);
		put_escaped(f, r->environment[i].value ? r->environment[i].value : "");
		if (r->environment[i].value && !*r->environment[i].value)
			fputs("  (set, empty)", f);
		fputc('\n', f);
	}
}

int report_text_write(const Report *r, FILE *f, bool color)
{
	put_header(r, f);
	put_table(r, f, color);
	put_next(r, f);
	for (size_t i = 0; i < r->n_directories; i++) {
		const ReportDirectory *d = &r->directories[i];
		if (!d->verdict || strcmp(d->verdict, "loaded") != 0)
			put_why(d, f, color);
	}
	put_run(r, f);
	put_environment(r, f);
	put_injections(r, f);
	put_processes(r, f);
	if (r->notes && *r->notes) {
		fputs("\nNotes:\n", f);
		for (char **n = r->notes; *n; n++) {
			fputs("  ", f);
			put_escaped(f, *n);
			fputc('\n', f);
		}
	}
	fprintf(f, "\nCosts: %" PRIu64 " ptrace stops, %" PRIu64 " backtraces (%" PRIu64 " ms)\n",
		r->stops, r->backtraces, r->backtrace_ms);
	return ferror(f) ? -EIO : 0;
}
