/* Policy files: a bounded "key = value" line parser that validates every
 * value as it is read, and the -p NAME|FILE lookup.  The format and the
 * meaning of each key are in policy.h and vgpu-run.policy(5). */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/hostarch.h"
#include "base/path.h"
#include "policy/policy.h"

/* A longer line is far more likely a corrupt or wrong file than a policy;
 * the bound also keeps each line in a stack buffer. */
#define POLICY_LINE_MAX 4096
#define CAPTURE_FD_LIMIT 1024
#define VERSION_DIGITS_MAX 6
#define BLANKS " \t\r\v\f"
#define DIGITS "0123456789"
#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define VAR_CHARS "_ABCDEFGHIJKLMNOPQRSTUVWXYZ" LOWER DIGITS

typedef struct KeyDef KeyDef;

typedef struct Parser {
	Policy *p;
	const char *path;
	size_t line;
	char *err;
	size_t err_size;
} Parser;

typedef int (*KeyParse)(Parser *ps, const KeyDef *k, char *value);

struct KeyDef {
	const char *key;
	KeyParse parse;
	size_t field;		/* offsetof the char * or char *[] it fills */
	size_t count;		/* offsetof the size_t count, list keys only */
	bool repeat;		/* may appear on several lines */
	bool required;
	const char *group;	/* regexes: what group 1 must capture, or NULL */
};

/* "PATH:LINE: message"; line 0 stands for the file as a whole. */
__attribute__((format(printf, 2, 3))) static int fail(const Parser *ps, const char *fmt, ...)
{
	if (!ps->err || ps->err_size == 0)
		return -EINVAL;
	int n = snprintf(ps->err, ps->err_size, "%s:%zu: ", ps->path, ps->line);
	if (n >= 0 && (size_t)n < ps->err_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->err_size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int oom(const Parser *ps)
{
	if (ps->err && ps->err_size > 0)
		snprintf(ps->err, ps->err_size, "%s: out of memory", ps->path);
	return -ENOMEM;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* S is non-empty and made of CHARS only. */
static bool only(const char *s, const char *chars)
{
	return *s && s[strspn(s, chars)] == '\0';
}

/* Environment variable names as a shell accepts them. */
static bool is_var_name(const char *s)
{
	return only(s, VAR_CHARS) && !is_digit(*s);
}

/* record-env: a name, or a prefix and '*'. */
static bool is_env_pattern(const char *s)
{
	size_t n = strspn(s, VAR_CHARS);
	return n > 0 && !is_digit(*s) && (s[n] == '\0' || (s[n] == '*' && s[n + 1] == '\0'));
}

/* Policy names become file names (NAME.policy) and report fields. */
bool policy_name_valid(const char *s)
{
	return only(s, LOWER DIGITS "_-");
}

static char **field_str(const Parser *ps, const KeyDef *k)
{
	return (char **)((char *)ps->p + k->field);
}

static int set_string(Parser *ps, const KeyDef *k, char *value)
{
	char **slot = field_str(ps, k);
	*slot = strdup(value);
	return *slot ? 0 : oom(ps);
}

static int list_add(Parser *ps, const KeyDef *k, const char *value)
{
	char **list = field_str(ps, k);
	size_t *n = (size_t *)((char *)ps->p + k->count);
	if (*n >= POLICY_LIST_MAX)
		return fail(ps, "%s: more than %d values", k->key, POLICY_LIST_MAX);
	list[*n] = strdup(value);
	if (!list[*n])
		return oom(ps);
	(*n)++;
	return 0;
}

/* Splits VALUE in place on blanks; returns the number of words, at most
 * MAX (one more when there were more, so callers can tell). */
static size_t split_words(char *value, char **words, size_t max)
{
	size_t n = 0;
	char *save = NULL;
	for (char *w = strtok_r(value, BLANKS, &save); w; w = strtok_r(NULL, BLANKS, &save)) {
		if (n == max)
			return max + 1;
		words[n++] = w;
	}
	return n;
}

static int parse_name(Parser *ps, const KeyDef *k, char *value)
{
	if (!policy_name_valid(value))
		return fail(ps, "%s: '%s' must match [a-z0-9_-]+", k->key, value);
	return set_string(ps, k, value);
}

/* The diagnosis compiles the regexes itself; compiling here only makes a
 * bad one an error at load time instead of a silent non-match later.
 * A list key (init-failed) takes one whole regex per line, blanks included. */
static int check_regex(Parser *ps, const char *key, const char *value, const char *group)
{
	const char *refused = policy_regex_refused(value);
	if (refused)
		return fail(ps, "%s: %s", key, refused);
	regex_t re;
	int r = regcomp(&re, value, REG_EXTENDED);
	if (r != 0) {
		char msg[256];
		regerror(r, &re, msg, sizeof(msg));
		return fail(ps, "%s: %s", key, msg);
	}
	size_t groups = re.re_nsub;
	regfree(&re);
	if (group && groups < 1)
		return fail(ps, "%s: needs a group ( ) that captures %s", key, group);
	return 0;
}

static int parse_regex(Parser *ps, const KeyDef *k, char *value)
{
	int r = check_regex(ps, k->key, value, k->group);
	if (r < 0)
		return r;
	return k->count ? list_add(ps, k, value) : set_string(ps, k, value);
}

/* Globs are matched against one directory entry's name at a time. */
static int parse_glob(Parser *ps, const KeyDef *k, char *value)
{
	if (strchr(value, '/'))
		return fail(ps, "%s: '%s' must not contain '/' (it matches names in one directory)",
			    k->key, value);
	return set_string(ps, k, value);
}

/* "MAJOR.MINOR" with bounded digits, so the comparison cannot overflow. */
static bool parse_version(const char *s, unsigned long *major, unsigned long *minor)
{
	size_t a = strspn(s, DIGITS), b = strspn(s + a + (s[a] == '.'), DIGITS);
	if (a == 0 || a > VERSION_DIGITS_MAX || s[a] != '.' || b == 0 ||
	    b > VERSION_DIGITS_MAX || s[a + 1 + b] != '\0')
		return false;
	const char *dot = s + a;
	*major = strtoul(s, NULL, 10);
	*minor = strtoul(dot + 1, NULL, 10);
	return true;
}

static int parse_versions(Parser *ps, const KeyDef *k, char *value)
{
	char *w[2];
	unsigned long a[2], b[2];
	if (split_words(value, w, 2) != 2)
		return fail(ps, "%s: needs two versions, MIN MAX", k->key);
	for (size_t i = 0; i < 2; i++)
		if (!parse_version(w[i], &a[i], &b[i]))
			return fail(ps, "%s: '%s' is not a version (use MAJOR.MINOR, e.g. 0.13)",
				    k->key, w[i]);
	if (a[0] > a[1] || (a[0] == a[1] && b[0] > b[1]))
		return fail(ps, "%s: %s is above %s (MIN MAX)", k->key, w[0], w[1]);
	ps->p->version_min = strdup(w[0]);
	ps->p->version_max = strdup(w[1]);
	return ps->p->version_min && ps->p->version_max ? 0 : oom(ps);
}

static int parse_library_root(Parser *ps, const KeyDef *k, char *value)
{
	bool ok = value[0] == '/' ||
		  (strncmp(value, "exe:", 4) == 0 && value[4] && value[4] != '/');
	if (!ok)
		return fail(ps, "%s: '%s' is neither exe:RELATIVE-PATH nor an absolute path",
			    k->key, value);
	return set_string(ps, k, value);
}

static int parse_scanner(Parser *ps, const KeyDef *k, char *value)
{
	const char *argv1 = value + strlen("server-exe");
	if (strcmp(value, "any") == 0) {
		ps->p->scanner_any = true;
		return 0;
	}
	if (strncmp(value, "server-exe", strlen("server-exe")) == 0 && strchr(BLANKS, *argv1) &&
	    *argv1) {
		argv1 += strspn(argv1, BLANKS);
		if (argv1[strcspn(argv1, BLANKS)] == '\0') {
			ps->p->scanner_argv1 = strdup(argv1);
			return ps->p->scanner_argv1 ? 0 : oom(ps);
		}
	}
	return fail(ps, "%s: '%s' is neither 'server-exe ARGV1' nor 'any'", k->key, value);
}

/* server = NAME [ARGV1]: the exec that is the server, by the basename of
 * its executable (or of its argv[0]) and its argv[1]. */
static int parse_server(Parser *ps, const KeyDef *k, char *value)
{
	char *save = NULL, *name = strtok_r(value, BLANKS, &save);
	char *argv1 = strtok_r(NULL, BLANKS, &save);
	if (!name || strchr(name, '/') || strtok_r(NULL, BLANKS, &save))
		return fail(ps, "%s: '%s' is not 'NAME [ARGV1]' (an executable's file name, then "
			    "its first argument)", k->key, value);
	ps->p->server_name = strdup(name);
	ps->p->server_argv1 = argv1 ? strdup(argv1) : NULL;
	return ps->p->server_name && (!argv1 || ps->p->server_argv1) ? 0 : oom(ps);
}

/* shim = /abs/path/libcuda.so.1: used when neither --shim nor VGPU_SHIM
 * names one.  SONAME=PATH as for --shim.  Absolute: a policy is read
 * from wherever vgpu-run runs. */
static int parse_shim(Parser *ps, const KeyDef *k, char *value)
{
	const char *eq = strchr(value, '=');
	const char *path = eq && eq != value && !memchr(value, '/', (size_t)(eq - value)) ? eq + 1 : value;
	if (path[0] != '/')
		return fail(ps, "%s: '%s' is not an absolute path", k->key, path);
	return set_string(ps, k, value);
}

static int parse_var(Parser *ps, const KeyDef *k, char *value)
{
	if (!is_var_name(value))
		return fail(ps, "%s: '%s' is not a variable name", k->key, value);
	return set_string(ps, k, value);
}

static int add_filter(Parser *ps, const KeyDef *k, PolicyFilterKind kind, const char *var,
		      const char *glob)
{
	Policy *p = ps->p;
	if (p->n_filters >= POLICY_LIST_MAX)
		return fail(ps, "%s: more than %d filters", k->key, POLICY_LIST_MAX);
	PolicyFilter *f = &p->filters[p->n_filters];
	f->kind = kind;
	f->var = var ? strdup(var) : NULL;
	f->glob = glob ? strdup(glob) : NULL;
	/* counted even when half-built, so policy_done frees what was made */
	p->n_filters++;
	return (!var || f->var) && (!glob || f->glob) ? 0 : oom(ps);
}

static int parse_filter_select(Parser *ps, const KeyDef *k, char *value)
{
	if (!is_var_name(value))
		return fail(ps, "%s: '%s' is not a variable name", k->key, value);
	return add_filter(ps, k, POLICY_FILTER_SELECT, value, NULL);
}

static int parse_filter_enable(Parser *ps, const KeyDef *k, char *value)
{
	char *w[2];
	if (split_words(value, w, 2) != 2)
		return fail(ps, "%s: needs a variable and a glob, VAR GLOB", k->key);
	if (!is_var_name(w[0]))
		return fail(ps, "%s: '%s' is not a variable name", k->key, w[0]);
	if (strchr(w[1], '/'))
		return fail(ps, "%s: '%s' must not contain '/' (it matches a directory's name)",
			    k->key, w[1]);
	return add_filter(ps, k, POLICY_FILTER_ENABLE, w[0], w[1]);
}

static int parse_filter_platform(Parser *ps, const KeyDef *k, char *value)
{
	char *w[2];
	if (split_words(value, w, 2) != 2)
		return fail(ps, "%s: needs an architecture and a glob, ARCH GLOB", k->key);
	if (!hostarch_by_uname(w[0]))
		return fail(ps, "%s: '%s' is not an architecture vgpu-run knows (x86_64, aarch64)", k->key, w[0]);
	if (strchr(w[1], '/'))
		return fail(ps, "%s: '%s' must not contain '/' (it matches a directory's name)", k->key, w[1]);
	if (!(ps->p->platform.arch = strdup(w[0])))
		return oom(ps);
	return add_filter(ps, k, POLICY_FILTER_PLATFORM, NULL, w[1]);
}

/* A directory name with one "%s" in it, and no other '%'. */
static bool is_dir_template(const char *s)
{
	const char *pc = strchr(s, '%');
	return !strchr(s, '/') && pc && pc[1] == 's' && !strchr(pc + 2, '%');
}

static int parse_platform_env(Parser *ps, const KeyDef *k, char *value)
{
	char *w[2];
	if (split_words(value, w, 2) != 2)
		return fail(ps, "%s: needs a variable and a directory, VAR TEMPLATE", k->key);
	if (!is_var_name(w[0]))
		return fail(ps, "%s: '%s' is not a variable name", k->key, w[0]);
	if (!is_dir_template(w[1]))
		return fail(ps, "%s: '%s' is not a directory name with one %%s (cuda_jetpack%%s)", k->key, w[1]);
	PolicyPlatform *pl = &ps->p->platform;
	pl->env_var = strdup(w[0]);
	pl->env_dir = strdup(w[1]);
	return pl->env_var && pl->env_dir ? 0 : oom(ps);
}

static int parse_platform_file(Parser *ps, const KeyDef *k, char *value)
{
	char *w[2 + POLICY_PLATFORM_MAP_MAX];
	size_t n = split_words(value, w, ELEMENTSOF(w));
	if (n < 3)
		return fail(ps, "%s: needs a file, a regex and one VALUE=DIR at least", k->key);
	if (n > ELEMENTSOF(w))
		return fail(ps, "%s: more than %d VALUE=DIR", k->key, POLICY_PLATFORM_MAP_MAX);
	if (w[0][0] != '/')
		return fail(ps, "%s: '%s' is not an absolute path", k->key, w[0]);
	PolicyPlatform *pl = &ps->p->platform;
	int r = check_regex(ps, k->key, w[1], "the value");
	if (r < 0)
		return r;
	pl->file_regex = strdup(w[1]);
	pl->file = strdup(w[0]);
	if (!pl->file || !pl->file_regex)
		return oom(ps);
	for (size_t i = 2; i < n; i++) {
		const char *eq = strchr(w[i], '=');
		if (!eq || eq == w[i] || !eq[1] || strchr(eq + 1, '/') || strchr(eq + 1, '='))
			return fail(ps, "%s: '%s' is not VALUE=DIR", k->key, w[i]);
		if (!(pl->file_map[pl->n_file_map] = strdup(w[i])))
			return oom(ps);
		pl->n_file_map++;
	}
	return 0;
}

/* Lists of plain words; CHECK says what a word may be. */
static int add_words(Parser *ps, const KeyDef *k, char *value, bool (*check)(const char *),
		     const char *what)
{
	char *save = NULL;
	for (char *w = strtok_r(value, BLANKS, &save); w; w = strtok_r(NULL, BLANKS, &save)) {
		if (!check(w))
			return fail(ps, "%s: '%s' is not %s", k->key, w, what);
		int r = list_add(ps, k, w);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Directory basenames and sonames: one path component. */
static bool is_component(const char *s)
{
	return !strchr(s, '/') && strcmp(s, "..") != 0;
}

static bool is_absolute(const char *s)
{
	return s[0] == '/';
}

static int parse_installs(Parser *ps, const KeyDef *k, char *value)
{
	return add_words(ps, k, value, is_absolute, "an absolute path");
}

static int parse_record_env(Parser *ps, const KeyDef *k, char *value)
{
	return add_words(ps, k, value, is_env_pattern, "a variable name or PREFIX*");
}

static int parse_components(Parser *ps, const KeyDef *k, char *value)
{
	return add_words(ps, k, value, is_component, "a name without '/'");
}

/* What an outcome line can say of a device (the report's devices[]). */
static bool is_device_field(const char *s)
{
	static const char *const fields[] = {
		"name", "description", "library", "directory", "total", "available", "compute", "driver", "id", "type",
	};
	for (size_t i = 0; i < ELEMENTSOF(fields); i++)
		if (!strcmp(s, fields[i]))
			return true;
	return false;
}

static int parse_outcome_fields(Parser *ps, const KeyDef *k, char *value)
{
	return add_words(ps, k, value, is_device_field,
			 "a device field (name description library directory total available compute driver "
			 "id type)");
}

/* DIR SONAME...: one line per directory, kept whole. */
static int parse_ships(Parser *ps, const KeyDef *k, char *value)
{
	char copy[POLICY_LINE_MAX], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", value);
	size_t n = 0;
	for (char *w = strtok_r(copy, BLANKS, &save); w; w = strtok_r(NULL, BLANKS, &save), n++)
		if (!is_component(w))
			return fail(ps, "%s: '%s' is not a name without '/'", k->key, w);
	if (n < 2)
		return fail(ps, "%s: '%s' is not DIR SONAME...", k->key, value);
	return list_add(ps, k, value);
}

bool policy_is_backend(const Policy *p, const char *name)
{
	if (!p || !name || !p->backend_glob || fnmatch(p->backend_glob, name, 0))
		return false;
	for (size_t i = 0; i < p->n_not_backend; i++)
		if (!fnmatch(p->not_backend[i], name, 0))
			return false;
	return true;
}

bool policy_ships(const Policy *p, const char *dir, const char *soname)
{
	size_t dn = strlen(dir);
	for (size_t i = 0; i < p->n_ships; i++) {
		const char *l = p->ships[i];
		if (strncmp(l, dir, dn) || !strchr(BLANKS, l[dn]))
			continue;
		char copy[POLICY_LINE_MAX], *save = NULL;
		snprintf(copy, sizeof(copy), "%s", l + dn);
		for (char *w = strtok_r(copy, BLANKS, &save); w; w = strtok_r(NULL, BLANKS, &save))
			if (!strcmp(w, soname))
				return true;
	}
	return false;
}

static int parse_capture_fd(Parser *ps, const KeyDef *k, char *value)
{
	Policy *p = ps->p;
	char *save = NULL;
	for (char *w = strtok_r(value, BLANKS, &save); w; w = strtok_r(NULL, BLANKS, &save)) {
		long fd = only(w, DIGITS) && strlen(w) <= 4 ? strtol(w, NULL, 10) : -1;
		if (fd < 0 || fd >= CAPTURE_FD_LIMIT)
			return fail(ps, "%s: '%s' is not a file descriptor", k->key, w);
		for (size_t i = 0; i < p->n_capture_fds; i++)
			if (p->capture_fds[i] == fd)
				return fail(ps, "%s: %ld given twice", k->key, fd);
		if (p->n_capture_fds >= ELEMENTSOF(p->capture_fds))
			return fail(ps, "%s: more than %zu descriptors", k->key,
				    ELEMENTSOF(p->capture_fds));
		p->capture_fds[p->n_capture_fds++] = (int)fd;
	}
	return 0;
}

/* Durations as Go writes them in the sources the policy encodes (30s). */
static int parse_duration(Parser *ps, const KeyDef *k, char *value)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{ "ms", UINT64_C(1000000) }, { "s", UINT64_C(1000000000) },
		{ "m", UINT64_C(60000000000) }, { "h", UINT64_C(3600000000000) },
	};
	uint64_t n = 0;
	const char *c = value;
	for (; is_digit(*c); c++) {
		if (n > (UINT64_MAX - 9) / 10)
			return fail(ps, "%s: '%s' is too long", k->key, value);
		n = n * 10 + (uint64_t)(*c - '0');
	}
	for (size_t i = 0; c != value && i < ELEMENTSOF(units); i++) {
		if (strcmp(c, units[i].unit) != 0)
			continue;
		if (n > UINT64_MAX / units[i].ns)
			return fail(ps, "%s: '%s' is too long", k->key, value);
		ps->p->probe_timeout_ns = n * units[i].ns;
		return 0;
	}
	return fail(ps, "%s: '%s' is not a duration (use 30s, 500ms, 2m)", k->key, value);
}

/* KEY=VALUE, one field of a key=value line ("library=cpu"). */
static int parse_pair(Parser *ps, const KeyDef *k, char *value)
{
	const char *eq = strchr(value, '=');
	if (!eq || eq == value || strpbrk(value, " \t\""))
		return fail(ps, "%s: '%s' is not KEY=VALUE (one field, no blanks or quotes)", k->key, value);
	return set_string(ps, k, value);
}

static int parse_inject_method(Parser *ps, const KeyDef *k, char *value)
{
	if (strcmp(value, "redirect") != 0 && strcmp(value, "preload") != 0)
		return fail(ps, "%s: '%s' is neither 'redirect' nor 'preload'", k->key, value);
	return set_string(ps, k, value);
}

#define F(field) offsetof(Policy, field)

/* Sorted by key. */
static const KeyDef keys[] = {
	{ "backend-file", parse_glob, F(backend_glob), 0, false, true, NULL },
	{ "candidate", parse_glob, F(candidate_glob), 0, false, false, NULL },
	{ "capture-fd", parse_capture_fd, 0, 0, true, false, NULL },
	{ "cpu-backend", parse_glob, F(cpu_glob), 0, false, false, NULL },
	{ "description", set_string, F(description), 0, false, false, NULL },
	{ "expected", parse_components, F(expected), F(n_expected), true, false, NULL },
	{ "filter-enable", parse_filter_enable, 0, 0, true, false, NULL },
	{ "filter-platform", parse_filter_platform, 0, 0, false, false, NULL },
	{ "filter-select", parse_filter_select, 0, 0, true, false, NULL },
	{ "init-failed", parse_regex, F(init_failed), F(n_init_failed), true, false, NULL },
	{ "inject-method", parse_inject_method, F(inject_method), 0, false, false, NULL },
	{ "inject-sonames", parse_components, F(inject_sonames), F(n_inject_sonames), true, false,
	  NULL },
	{ "installs", parse_installs, F(installs), F(n_installs), true, false, NULL },
	{ "library-root", parse_library_root, F(library_root), 0, false, false, NULL },
	{ "loaded", parse_regex, F(loaded_regex), 0, false, false, "the library's path" },
	{ "kept", parse_regex, F(kept_regex), 0, false, false, "the kept directories" },
	{ "discovered", parse_regex, F(discovered_regex), 0, false, false, NULL },
	{ "not-backend", parse_components, F(not_backend), F(n_not_backend), true, false, NULL },
	{ "outcome", parse_regex, F(outcome_regex), 0, false, false, NULL },
	{ "outcome-cpu", parse_pair, F(outcome_cpu), 0, false, false, NULL },
	{ "outcome-fields", parse_outcome_fields, F(outcome_fields), F(n_outcome_fields), true, false, NULL },
	{ "platform-env", parse_platform_env, 0, 0, false, false, NULL },
	{ "platform-file", parse_platform_file, 0, 0, false, false, NULL },
	{ "name", parse_name, F(name), 0, false, true, NULL },
	{ "probe-timeout", parse_duration, 0, 0, false, false, NULL },
	{ "record-env", parse_record_env, F(record_env), F(n_record_env), true, false, NULL },
	{ "shim", parse_shim, F(shim), 0, false, false, NULL },
	{ "ships", parse_ships, F(ships), F(n_ships), true, false, NULL },
	{ "scanner", parse_scanner, 0, 0, false, true, NULL },
	{ "server", parse_server, 0, 0, false, false, NULL },
	{ "scanner-dirs-env", parse_var, F(scanner_dirs_env), 0, false, false, NULL },
	{ "version-regex", parse_regex, F(version_regex), 0, false, false, "the version" },
	{ "versions", parse_versions, 0, 0, false, false, NULL },
};

#undef F

/* A '#' at the start of a line or after a blank starts a comment, so
 * "key = value  # why" works; a value that needs " #" writes "[#]". */
static void strip_comment(char *s)
{
	for (char *c = s; *c; c++)
		if (*c == '#' && (c == s || strchr(BLANKS, c[-1]))) {
			*c = '\0';
			return;
		}
}

static char *trim(char *s)
{
	s += strspn(s, BLANKS);
	size_t n = strlen(s);
	while (n > 0 && strchr(BLANKS, s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int parse_line(Parser *ps, char *line, size_t *seen)
{
	strip_comment(line);
	char *s = trim(line);
	if (!*s)
		return 0;
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(ps, "missing '='");
	*eq = '\0';
	char *key = trim(s), *value = trim(eq + 1);
	if (!*key)
		return fail(ps, "missing key before '='");
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (strcmp(keys[i].key, key) != 0)
			continue;
		if (seen[i] && !keys[i].repeat)
			return fail(ps, "duplicate key '%s'", key);
		if (!*value)
			return fail(ps, "%s: empty value", key);
		seen[i] = ps->line;
		return keys[i].parse(ps, &keys[i], value);
	}
	return fail(ps, "unknown key '%s'", key);
}

static int parse_all(Parser *ps, const char *text, size_t len)
{
	Policy *p = ps->p;
	size_t seen[ELEMENTSOF(keys)] = { 0 };
	char buf[POLICY_LINE_MAX + 1];

	if (len > POLICY_FILE_MAX)
		return fail(ps, "larger than %d bytes", POLICY_FILE_MAX);
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		ps->line++;
		if (n > POLICY_LINE_MAX)
			return fail(ps, "line longer than %d bytes", POLICY_LINE_MAX);
		if (memchr(text + pos, '\0', n))
			return fail(ps, "contains a NUL byte");
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		int r = parse_line(ps, buf, seen);
		if (r < 0)
			return r;
		pos += n + 1;
	}

	/* Line 0: a missing key has no line of its own. */
	ps->line = 0;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (keys[i].required && !seen[i])
			return fail(ps, "missing required key '%s'", keys[i].key);

	const PolicyPlatform *pl = &p->platform;
	if (pl->arch && !pl->env_var && !pl->file)
		return fail(ps, "filter-platform needs platform-env or platform-file: how the platform is detected");
	if (!pl->arch && (pl->env_var || pl->file))
		return fail(ps, "%s needs filter-platform: the directories it selects", pl->env_var ? "platform-env" : "platform-file");
	if (p->n_capture_fds == 0) {
		/* ggml logs through stderr unless a program redirects it */
		p->capture_fds[0] = 2;
		p->n_capture_fds = 1;
	}
	if (!p->inject_method && !(p->inject_method = strdup("redirect")))
		return oom(ps);
	p->path = strdup(ps->path);
	p->text = strndup(text, len);
	return p->path && p->text ? 0 : oom(ps);
}

int policy_parse(const char *path, const char *text, size_t len, Policy *ret, char *err,
		 size_t err_size)
{
	Parser ps = {
		.p = ret,
		.path = path ? path : "(policy)",
		.err = err,
		.err_size = err_size,
	};
	/* Zeroed first and again on failure, so policy_done() is always safe. */
	*ret = (Policy){ 0 };
	if (text && len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		ps.line = 1;
		return fail(&ps, "starts with a UTF-8 byte order mark (U+FEFF); save it without one");
	}
	int r = parse_all(&ps, text ? text : "", text ? len : 0);
	if (r < 0)
		policy_done(ret);
	return r;
}


bool policy_scanner_exec(const Policy *p, const char *server_exe, bool is_server, const char *exe,
			 char *const *argv, size_t argc)
{
	return p && !p->scanner_any && p->scanner_argv1 && !is_server && server_exe && exe &&
	       !strcmp(exe, server_exe) && argc > 1 && !strcmp(argv[1], p->scanner_argv1);
}

bool policy_server_exec(const Policy *p, PolicyServer *s, pid_t pid, const char *exe, char *const *argv,
			size_t argc)
{
	if (!s->command)
		s->command = pid;
	bool rule = p && p->server_name;
	if (s->server && (rule || s->server != pid))
		return false;
	bool match = !rule ? pid == s->command
			   : ((exe && !strcmp(path_base_name(exe), p->server_name)) ||
			      (argc > 0 && argv[0] && !strcmp(path_base_name(argv[0]), p->server_name))) &&
				     (!p->server_argv1 || (argc > 1 && !strcmp(argv[1], p->server_argv1)));
	if (match)
		s->server = pid;
	return match;
}

void policy_done(Policy *p)
{
	if (!p)
		return;
	char **strings[] = {
		&p->name, &p->path, &p->text, &p->description, &p->version_min, &p->version_max,
		&p->version_regex, &p->library_root, &p->candidate_glob, &p->backend_glob,
		&p->cpu_glob, &p->scanner_argv1, &p->scanner_dirs_env, &p->loaded_regex,
		&p->kept_regex, &p->discovered_regex, &p->inject_method, &p->shim,
		&p->server_name, &p->server_argv1, &p->outcome_regex, &p->outcome_cpu,
	};
	for (size_t i = 0; i < ELEMENTSOF(strings); i++)
		free(*strings[i]);
	struct {
		char **list;
		size_t n;
	} lists[] = {
		{ p->expected, p->n_expected },
		{ p->not_backend, p->n_not_backend },
		{ p->record_env, p->n_record_env },
		{ p->init_failed, p->n_init_failed },
		{ p->inject_sonames, p->n_inject_sonames },
		{ p->outcome_fields, p->n_outcome_fields },
		{ p->ships, p->n_ships },
		{ p->installs, p->n_installs },
	};
	for (size_t i = 0; i < ELEMENTSOF(lists); i++)
		for (size_t j = 0; j < lists[i].n && j < POLICY_LIST_MAX; j++)
			free(lists[i].list[j]);
	for (size_t i = 0; i < p->n_filters && i < POLICY_LIST_MAX; i++) {
		free(p->filters[i].var);
		free(p->filters[i].glob);
	}
	PolicyPlatform *pl = &p->platform;
	free(pl->arch);
	free(pl->env_var);
	free(pl->env_dir);
	free(pl->file);
	free(pl->file_regex);
	for (size_t i = 0; i < pl->n_file_map && i < POLICY_PLATFORM_MAP_MAX; i++)
		free(pl->file_map[i]);
	*p = (Policy){ 0 };
}
