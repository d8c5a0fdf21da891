/* What the server said it will use (see model.h): its outcome lines, as
 * the policy's "outcome" rule recognises them, read as they come.  One
 * statement is a run of consecutive outcome lines from the server (Ollama
 * logs one "inference compute" line per device, or one CPU line); a later
 * statement replaces an earlier one: the last word wins. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/model.h"

#define OUTCOME_GROUPS_MAX 9

/* The value of KEY in a key=value line (slog's text form: a value is
 * quoted when it holds blanks, '=' or '"', with \" and \\ escaped), into
 * OUT; false when the line has no such key. */
static bool field(const char *line, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	for (const char *p = line; (p = strstr(p, key)); p += klen) {
		if ((p != line && p[-1] != ' ') || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		size_t n = 0;
		if (*v == '"') {
			for (v++; *v && *v != '"' && *v != '\n'; v++) {
				if (*v == '\\' && v[1])
					v++;
				if (n + 1 < size)
					out[n++] = *v;
			}
		} else {
			for (; *v && *v != ' ' && *v != '\n'; v++)
				if (n + 1 < size)
					out[n++] = *v;
		}
		out[n] = '\0';
		return true;
	}
	return false;
}

static char *dup_field(const char *line, const char *key)
{
	char v[512];
	return field(line, key, v, sizeof(v)) && *v ? strdup(v) : NULL;
}

/* "ollama,cuda_v13" -> "cuda_v13": the device's own directory is the last
 * one named; the root alone is ".". */
static char *directory_of(const char *line, const char *root_base)
{
	char v[512];
	if (!field(line, "libdirs", v, sizeof(v)) || !*v)
		return NULL;
	const char *last = strrchr(v, ',');
	last = last ? last + 1 : v;
	return strdup(root_base && !strcmp(last, root_base) ? "." : last);
}

/* Does LINE carry the KEY=VALUE pair PAIR? */
static bool has_pair(const char *line, const char *pair)
{
	const char *eq = pair ? strchr(pair, '=') : NULL;
	char key[128], v[256];
	if (!eq || (size_t)(eq - pair) >= sizeof(key))
		return false;
	snprintf(key, sizeof(key), "%.*s", (int)(eq - pair), pair);
	return field(line, key, v, sizeof(v)) && !strcmp(v, eq + 1);
}

/* The policy's outcome-fields: group N of its outcome regex is field N. */
static int by_groups(const Model *d, const char *line, uint64_t seq, ReportDevice *dev)
{
	char g[OUTCOME_GROUPS_MAX][512];
	size_t n = diag_regex_groups(d, d->policy.outcome_regex, line, g, OUTCOME_GROUPS_MAX);
	*dev = (ReportDevice){ .seq = seq };
	char **v[] = REPORT_DEVICE_STRINGS(dev);
	for (size_t i = 0; i < d->policy.n_outcome_fields && i < n; i++)
		for (size_t k = 0; k < REPORT_DEVICE_N_STRINGS; k++)
			if (!strcmp(d->policy.outcome_fields[i], report_device_keys[k]) && *g[i] && !*v[k])
				*v[k] = strdup(g[i]);
	return 0;
}

static void clear(Model *d)
{
	for (size_t i = 0; i < d->n_outcome; i++)
		report_device_done(&d->outcome[i]);
	d->n_outcome = 0;
}

/* One line of the server's. */
static int outcome_line(Model *d, uint64_t seq, const char *line)
{
	if (!*line)
		return 0;
	if (!diag_regex_line(d, d->policy.outcome_regex, line, NULL, 0)) {
		d->outcome_open = false;	/* the statement, if any, is over */
		return 0;
	}
	if (!d->outcome_open) {
		clear(d);	/* a new statement: the last word wins */
		d->outcome_stated = true;
		d->outcome_open = true;
	}
	d->outcome_seq = seq;
	if (has_pair(line, d->policy.outcome_cpu))
		return 0;	/* "CPU only": no device */
	if (d->n_outcome == OUTCOME_DEVICES_MAX) {
		d->outcome_more++;
		return 0;
	}
	char root[4096];
	const char *root_base = NULL;
	if (diag_library_root(d, root, sizeof(root)))
		root_base = diag_base_name(root);
	ReportDevice *dev = &d->outcome[d->n_outcome++];
	if (d->policy.n_outcome_fields)
		return by_groups(d, line, seq, dev);
	*dev = (ReportDevice){
		.name = dup_field(line, "name"), .description = dup_field(line, "description"),
		.library = dup_field(line, "library"), .directory = directory_of(line, root_base),
		.total = dup_field(line, "total"), .available = dup_field(line, "available"),
		.compute = dup_field(line, "compute"), .driver = dup_field(line, "driver"),
		.id = dup_field(line, "id"), .type = dup_field(line, "type"), .seq = seq,
	};
	return 0;
}

int diag_outcome_text(Model *d, uint64_t seq, const char *text)
{
	if (!d->have_policy || !d->policy.outcome_regex)
		return 0;
	int r = 0;
	for (const char *p = text; r >= 0 && *p;) {
		size_t n = strcspn(p, "\n");
		char line[2048];
		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
		r = outcome_line(d, seq, line);
		p += n + (p[n] == '\n');
	}
	return r;
}

void diag_outcome_done(Model *d)
{
	clear(d);
}

/* "NVIDIA H200 (CUDA, cuda_v13, 139.8 GiB)" */
static void describe(const ReportDevice *dev, char *out, size_t size)
{
	const char *what = dev->description ? dev->description : dev->name ? dev->name : "a device";
	char facts[256] = "";
	size_t n = 0;
	const char *parts[] = { dev->library, dev->directory, dev->total };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i] && n < sizeof(facts))
			n += (size_t)snprintf(facts + n, sizeof(facts) - n, "%s%s", n ? ", " : "", parts[i]);
	snprintf(out, size, n ? "%s (%s)" : "%s", what, facts);
}

int diag_outcome_report(const Model *d, Report *r)
{
	char summary[2048];
	r->outcome_stated = d->outcome_stated;
	if (!d->outcome_stated) {
		snprintf(summary, sizeof(summary), "not stated by the server (%s)",
			 !d->have_policy		 ? "no policy, so no outcome rule"
			 : !d->policy.outcome_regex ? "the policy has no outcome rule"
			 : d->policy.server_name && !d->server ? "no exec matched the policy's server rule"
			 : !d->complete ? "not yet: the run has not got that far"
					: "it logged no line the policy's outcome rule matches");
	} else if (!d->n_outcome) {
		snprintf(summary, sizeof(summary), "CPU only");
	} else {
		size_t gpus = d->n_outcome + d->outcome_more;
		size_t n = (size_t)snprintf(summary, sizeof(summary), "%zu GPU%s: ", gpus, gpus == 1 ? "" : "s");
		for (size_t i = 0; i < d->n_outcome && n < sizeof(summary); i++) {
			char one[512];
			describe(&d->outcome[i], one, sizeof(one));
			n += (size_t)snprintf(summary + n, sizeof(summary) - n, "%s%s", i ? "; " : "", one);
		}
		if (d->outcome_more && n < sizeof(summary))
			snprintf(summary + n, sizeof(summary) - n, "; and %zu more", d->outcome_more);
	}
	if (!(r->outcome_summary = strdup(summary)))
		return -ENOMEM;
	if (!d->n_outcome)
		return 0;
	if (!(r->devices = calloc(d->n_outcome, sizeof(*r->devices))))
		return -ENOMEM;
	for (size_t i = 0; i < d->n_outcome; i++)
		report_device_copy(&d->outcome[i], &r->devices[r->n_devices++]);
	r->devices_omitted = d->outcome_more;
	return 0;
}
