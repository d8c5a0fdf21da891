/* vgpu-report: render, compare and check the reports of vgpu-run runs.
 *
 *   vgpu-report show  [--format=text|json] INPUT [PIECE...]
 *   vgpu-report diff  [--format=text|json] BEFORE AFTER
 *   vgpu-report check [--expect=DIR=VERDICT[:REASON]]... [--expect-gpus=N]
 *                     [--expect-device=REGEX] INPUT
 *
 * INPUT is a JSON report or a JSON Lines trace; a trace is diagnosed
 * again, offline, by the same code the live run used.  A rotated trace's
 * pieces, oldest first, are read as one trace.  Exit status as in
 * vgpu-report(1): show 0 / 2; diff 0 same, 1 changed; check 0 all hold,
 * 1 some do not; 2 unusable input, unknown schema or bad usage. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/line.h"
#include "base/output.h"
#include "config.h"
#include "diagnose/diagnose.h"
#include "policy/policy.h"
#include "report/report-compare.h"
#include "report/report-json.h"
#include "report/report-out.h"
#include "vgpu-report/options.h"

#define EXIT_UNUSABLE 2

static const char usage[] =
	"Usage: vgpu-report show  [--format=text|json] INPUT [PIECE...]\n"
	"       vgpu-report diff  [--format=text|json] BEFORE AFTER\n"
	"       vgpu-report check [--expect=DIR=VERDICT[:REASON]]... [--expect-gpus=N]\n"
	"                         [--expect-device=REGEX] INPUT [PIECE...]\n"
	"Render, compare or check vgpu-run reports.  INPUT, BEFORE and AFTER are JSON\n"
	"reports (vgpu-run -o FILE.json) or JSON Lines traces (vgpu-run -t FILE), which\n"
	"are diagnosed again offline; the pieces of a rotated trace (--trace-pieces),\n"
	"oldest first (FILE.2 FILE.1 FILE), are read as one trace.  Each is read once,\n"
	"streaming: '-' (standard input), a pipe or a FIFO will do.\n"
	"\n"
	"      --format=text|json  output format (default text)\n"
	"      --color[=WHEN]  (show) colour the verdicts: auto (on a terminal, unless\n"
	"                     NO_COLOR is set), always, never\n"
	"  -p, --policy=NAME|FILE  judge traces with this policy instead of the one\n"
	"                     they were recorded with (see vgpu-run.policy(5));\n"
	"                     a report is shown as written, with a warning\n"
	"      --expect=DIR=VERDICT[:REASON]  (check) DIR is a directory's name or path\n"
	"      --expect-gpus=N  (check) the server said it uses exactly N GPUs (0: CPU only)\n"
	"      --expect-device=REGEX  (check) one of them has a name or description\n"
	"                     matching REGEX (POSIX extended)\n"
	"  -h, --help         show this help and exit\n"
	"  -V, --version      show the version and exit\n"
	"\n"
	"Exit status: show 0; diff 0 no change, 1 changes; check 0 all hold, 1 some\n"
	"do not; 2 unusable input, unknown schema or bad usage.  See vgpu-report(1).\n";

/* Is PATH a trace (its first line a header event)?  Reports are one JSON
 * document whose first byte is '{' too, so parse the first line. */
/* The header event that starts trace PATH, or NULL (not a trace). */
static json_object *read_header(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	if (!f || getline(&line, &cap, f) <= 0)
		return NULL;
	json_object *o = json_tokener_parse(line), *ev;
	if (o && json_object_object_get_ex(o, "event", &ev) && json_object_is_type(ev, json_type_string) &&
	    !strcmp(json_object_get_string(ev), "header"))
		return o;
	json_object_put(o);
	return NULL;
}

static void header_put(json_object **o)
{
	json_object_put(*o);
}


static const char *member(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static const ReportDirectory *dir_named(const Report *r, const char *name)
{
	for (size_t i = 0; i < r->n_directories; i++)
		if (r->directories[i].name && !strcmp(r->directories[i].name, name))
			return &r->directories[i];
	return NULL;
}

static bool same_verdict(const ReportDirectory *a, const ReportDirectory *b)
{
	return a && b && a->verdict && b->verdict && a->reason && b->reason && !strcmp(a->verdict, b->verdict) &&
	       !strcmp(a->reason, b->reason);
}

/* "loaded", "failed:missing-dependency", "(none)". */
static const char *side(const ReportDirectory *d, char *buf, size_t size)
{
	if (!d || !d->verdict)
		return "(none)";
	if (!d->reason || !strcmp(d->reason, d->verdict))
		return d->verdict;
	snprintf(buf, size, "%s:%s", d->verdict, d->reason);
	return buf;
}

/* A trace judged by the policy recorded in it: would today's policy of the
 * same name (another text) judge it differently?  Then a note in R naming
 * the directories, so that an old trace does not mislead in silence. */
static void note_policy_drift(char *const *paths, size_t n, Report *r)
{
	_cleanup_(header_put) json_object *h = read_header(paths[0]);
	json_object *pol = NULL;
	if (!h || !json_object_object_get_ex(h, "policy", &pol))
		return;
	const char *name = member(pol, "name"), *text = member(pol, "text");
	char exe[PATH_MAX] = "", today[PATH_MAX], err[512];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	if (!name || !text || strchr(name, '/') ||
	    policy_find(name, exe, VGPU_DATADIR, today, sizeof(today), err, sizeof(err)) < 0)
		return;
	Policy p;
	if (policy_load_file(today, &p, err, sizeof(err)) < 0)
		return;
	bool same = p.text && !strcmp(p.text, text);
	policy_done(&p);
	Report t = { 0 };
	if (same || diagnose_trace_files(paths, n, today, &t, err, sizeof(err)) < 0)
		return;
	char dirs[2048] = "";
	size_t k = 0;
	for (size_t i = 0; i < r->n_directories + t.n_directories; i++) {
		const ReportDirectory *mine = i < r->n_directories ? &r->directories[i] : NULL;
		const ReportDirectory *theirs = mine ? dir_named(&t, mine->name ? mine->name : "")
						     : &t.directories[i - r->n_directories];
		if (!mine && theirs->name && dir_named(r, theirs->name))
			continue;	/* compared from R's side */
		if (same_verdict(mine, theirs) || k >= sizeof(dirs))
			continue;
		const ReportDirectory *d = mine ? mine : theirs;
		char was[128], now[128];
		k += (size_t)snprintf(dirs + k, sizeof(dirs) - k, "%s%s %s, today %s", k ? "; " : "",
				      d->name ? d->name : "?", side(mine, was, sizeof(was)), side(theirs, now, sizeof(now)));
	}
	if (*dirs)
		(void)report_add_note(r,
				      "the policy recorded in this trace and today's %s policy (%s) judge it "
				      "differently: %s; -p %s judges it by today's",
				      name, today, dirs, name);
	report_done(&t);
}

/* -p: a built-in name or a file, as vgpu-run resolves it. */
static int find_policy(const char *name, char *out, size_t size)
{
	char exe[PATH_MAX] = "", err[512] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	int r = policy_find(name, exe, VGPU_DATADIR, out, size, err, sizeof(err));
	if (r < 0)
		eprintf("vgpu-report: %s\n", err);
	return r;
}

/* An input read once, streaming, whatever it is (a file, "-", a pipe, a
 * FIFO, <(...)): its first line is read ahead to tell a trace (a header
 * event) from a report, then served again in front of the rest. */
typedef struct Peeked {
	char *head;
	size_t len, off;
	FILE *rest;
} Peeked;

static ssize_t peeked_read(void *cookie, char *buf, size_t size)
{
	Peeked *p = cookie;
	if (p->off < p->len) {
		size_t n = p->len - p->off < size ? p->len - p->off : size;
		memcpy(buf, p->head + p->off, n);
		p->off += n;
		return (ssize_t)n;
	}
	size_t n = fread(buf, 1, size, p->rest);
	return n == 0 && ferror(p->rest) ? -1 : (ssize_t)n;
}

static int peeked_close(void *cookie)
{
	Peeked *p = cookie;
	int r = p->rest == stdin ? 0 : fclose(p->rest);
	free(p->head);
	free(p);
	return r;
}

typedef struct Input {
	const char *name;
	FILE *f;
	bool trace;
} Input;

static void input_close(Input *in)
{
	if (in->f)
		fclose(in->f);
	in->f = NULL;
}

/* Open PATH ("-": standard input); one line on stderr and -1 on failure. */
static int input_open(const char *path, Input *in)
{
	*in = (Input){ .name = strcmp(path, "-") ? path : "(standard input)" };
	FILE *raw = strcmp(path, "-") ? fopen(path, "re") : stdin;
	if (!raw) {
		eprintf("vgpu-report: %s: %s\n", path, strerror(errno));
		return -1;
	}
	Peeked *p = calloc(1, sizeof(*p));
	size_t cap = 0;
	bool ended;
	ssize_t len = p ? line_read(raw, &p->head, &cap, TRACE_LINE_MAX, &ended) : -ENOMEM;
	const char *why = len == -E2BIG ? "a first line longer than 64 MiB: neither a trace nor a report"
			  : len < 0	 ? strerror((int)-len)
			  : len >= 3 && !memcmp(p->head, "\xef\xbb\xbf", 3)
				  ? "starts with a UTF-8 byte order mark (U+FEFF); save it without one"
				  : NULL;
	if (why) {
		eprintf("vgpu-report: %s: %s\n", in->name, why);
		if (p)
			free(p->head);
		free(p);
		if (raw != stdin)
			fclose(raw);
		return -1;
	}
	p->len = (size_t)len;
	p->rest = raw;
	json_object *o = len > 0 && !memchr(p->head, '\0', (size_t)len) ? json_tokener_parse(p->head) : NULL, *ev;
	bool event = o && json_object_object_get_ex(o, "event", &ev) && json_object_is_type(ev, json_type_string) &&
		     json_object_object_get_ex(o, "seq", NULL);
	in->trace = event && !strcmp(json_object_get_string(ev), "header");
	if (event && !in->trace) {
		eprintf("vgpu-report: %s: a trace without its header (its first line is a '%s' event)\n",
			in->name, json_object_get_string(ev));
		json_object_put(o);
		peeked_close(p);
		return -1;
	}
	json_object_put(o);
	in->f = fopencookie(p, "r", (cookie_io_functions_t){ .read = peeked_read, .close = peeked_close });
	if (!in->f) {
		peeked_close(p);
		eprintf("vgpu-report: %s: out of memory\n", in->name);
		return -1;
	}
	return 0;
}

/* Can PATH be read again (the policy-drift note reads a trace twice)? */
static bool rereadable(const char *path)
{
	struct stat st;
	return strcmp(path, "-") && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

#define PIECES_MAX 128

/* A report, a trace, or the N pieces of a rotated trace (N > 1), each read
 * once; DRIFT: note where today's policy would judge a trace otherwise. */
static int load(char *const *paths, size_t n, const char *policy, bool drift, Report *ret)
{
	char err[1024] = "";
	Input in[PIECES_MAX] = { 0 };
	size_t opened = 0;
	int r = 0;
	if (n == 0 || n > PIECES_MAX) {
		eprintf("vgpu-report: more than %d pieces\n", PIECES_MAX);
		return -1;
	}
	for (; opened < n; opened++)
		if (input_open(paths[opened], &in[opened]) < 0) {
			r = -1;
			break;
		}
	for (size_t i = 0; r >= 0 && n > 1 && i < n; i++)
		if (!in[i].trace) {
			eprintf("vgpu-report: %s is not a trace: only the pieces of one rotated trace "
				"are read together\n", in[i].name);
			r = -1;
		}
	bool trace = r >= 0 && in[0].trace;
	/* a report's verdicts are made: a policy cannot judge it again */
	if (r >= 0 && policy && !trace)
		eprintf("vgpu-report: warning: -p applies to traces; %s is a report, shown as written\n",
			in[0].name);
	if (r >= 0) {
		FILE *files[PIECES_MAX];
		char *names[PIECES_MAX];
		for (size_t i = 0; i < n; i++) {
			files[i] = in[i].f;
			names[i] = (char *)in[i].name;
		}
		r = trace ? diagnose_trace_streams(files, names, n, policy, ret, err, sizeof(err))
			  : report_json_read_stream(in[0].f, in[0].name, ret, err, sizeof(err));
		if (r < 0)
			eprintf("vgpu-report: %s\n", *err ? err : strerror(-r));
	}
	for (size_t i = 0; i < opened; i++)
		input_close(&in[i]);
	if (r < 0)
		return -1;
	bool again = true;
	for (size_t i = 0; i < n; i++)
		again = again && rereadable(paths[i]);
	if (trace && !policy && drift && again)
		note_policy_drift(paths, n, ret);
	return 0;
}

int main(int argc, char **argv)
{
	/* room for any message about any argument, so none is cut */
	size_t err_size = 512;
	for (int i = 0; i < argc; i++)
		if (strlen(argv[i]) + 512 > err_size)
			err_size = strlen(argv[i]) + 512;
	_cleanup_free_ char *err = calloc(1, err_size);
	_cleanup_(report_options_done) ReportOptions o = { 0 };
	if (!err)
		return EXIT_UNUSABLE;
	if (report_options_parse(argc, argv, &o, err, err_size) < 0) {
		if (*err)
			eprintf("vgpu-report: %s\n", err);
		return EXIT_UNUSABLE;
	}
	if (o.command == REPORT_CMD_HELP) {
		fputs(usage, stdout);
		return stdout_flushed("vgpu-report") ? 0 : EXIT_UNUSABLE;
	}
	if (o.command == REPORT_CMD_VERSION) {
		printf("vgpu-report %s\n", VGPU_VERSION);
		return stdout_flushed("vgpu-report") ? 0 : EXIT_UNUSABLE;
	}

	Report a = { 0 }, b = { 0 };
	int rc = EXIT_UNUSABLE;
	char policy[PATH_MAX];
	if (o.policy && find_policy(o.policy, policy, sizeof(policy)) < 0)
		return EXIT_UNUSABLE;
	const char *pol = o.policy ? policy : NULL;
	bool diff = o.command == REPORT_CMD_DIFF;
	if (load(o.inputs, diff ? 1 : o.n_inputs, pol, o.command == REPORT_CMD_SHOW, &a) < 0)
		goto out;
	if (o.command == REPORT_CMD_SHOW) {
		rc = report_render(&a, o.json ? REPORT_FORMAT_JSON : REPORT_FORMAT_TEXT, stdout,
				   !o.json && report_color_use(o.color, STDOUT_FILENO)) < 0 ? EXIT_UNUSABLE : 0;
	} else if (diff) {
		if (load(o.inputs + 1, 1, pol, false, &b) < 0)
			goto out;
		rc = report_diff(&a, &b, o.json, stdout);
	} else {
		char msg[512] = "";
		rc = report_check_all(&a, o.expects, o.n_expects, &o.oe, stdout, msg, sizeof(msg));
		if (rc == 2 && *msg)
			eprintf("vgpu-report: %s\n", msg);
	}
	if (rc < 0) {
		eprintf("vgpu-report: %s\n", strerror(-rc));
		rc = EXIT_UNUSABLE;
	}
out:
	report_done(&a);
	report_done(&b);
	if (!stdout_flushed("vgpu-report"))
		rc = EXIT_UNUSABLE;
	return rc;
}
