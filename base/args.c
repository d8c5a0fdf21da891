/* Option error messages (see args.h). */
#include "base/args.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void args_error(const struct option *opts, const char *arg, int opt, char *err, size_t size)
{
	/* the refused option is a short one, in a cluster ("-Zv") or alone,
	 * unless ARG is a long option given with '=' or a prefix of one (ARG
	 * may then be the argument before the cluster) */
	const char *eq0 = strchr(arg, '=');
	bool exact = false;
	for (const struct option *o = opts; o->name && !strncmp(arg, "--", 2); o++)
		exact = exact || !strcmp(o->name, arg + 2);
	if (strncmp(arg, "--", 2) != 0 || (exact && !eq0)) {
		if (opt > 0 && opt < 128 && isprint(opt))
			snprintf(err, size, "unknown option '-%c'", opt);
		else
			snprintf(err, size, "unknown option '%s'", arg);
		return;
	}
	const char *name = arg + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	char list[256] = "";
	size_t n = 0, matches = 0;
	for (const struct option *o = opts; o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (strlen(o->name) == len) {	/* exact: refused for its argument */
			snprintf(err, size, "option '--%s' %s", o->name,
				 o->has_arg == no_argument ? "takes no argument" : "needs an argument");
			return;
		}
		matches++;
		if (n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s--%s", n ? ", " : "", o->name);
	}
	if (matches > 1)
		snprintf(err, size, "option '--%.*s' is ambiguous (%s)", (int)len, name, list);
	else if (matches == 1 && eq)
		snprintf(err, size, "option '--%.*s' (%s) takes no argument", (int)len, name, list);
	else
		snprintf(err, size, "unknown option '--%.*s'", (int)len, name);
}
