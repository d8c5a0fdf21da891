/* The platform file a scanner reads (see observe.h, observer_platform). */
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "observe/files.h"
#include "observe/observe.h"
#include "tracer/names.h"

#define PLATFORM_LINE_MAX 256	/* bytes of the line kept: the release line is ~150 */

/* The line of TEXT that holds offset AT, without its newline, at most
 * PLATFORM_LINE_MAX bytes. */
static void line_at(const char *text, size_t at, char *out)
{
	size_t from = at;
	while (from > 0 && text[from - 1] != '\n')
		from--;
	size_t n = strcspn(text + from, "\n");
	snprintf(out, PLATFORM_LINE_MAX + 1, "%.*s", (int)(n < PLATFORM_LINE_MAX ? n : PLATFORM_LINE_MAX),
		 text + from);
}

int observer_platform(Observer *o, const TracerEvent *ev, uint64_t seq, JsonWriter *w)
{
	const Policy *p = observer_policy(o);
	const PolicyPlatform *pl = p ? &p->platform : NULL;
	const TracerSyscallEvent *s = &ev->sys;
	if (!pl || !pl->file || ev->kind != TRACER_EVENT_SYSCALL || s->args != TRACER_ARGS_PATH || !s->path ||
	    !s->has_result || strncmp(s->name, "open", 4) != 0 || strcmp(s->path, pl->file) != 0)
		return 0;
	/* the file the process opened: through its root, so in its own
	 * mount namespace (a container, a bind mount over /etc); one it
	 * failed to open is recorded with the process's own error */
	char at[PATH_MAX], text[FILES_HEAD_MAX + 1], line[PLATFORM_LINE_MAX + 1] = "", b[32];
	size_t len = 0;
	snprintf(at, sizeof(at), "/proc/%d/root%s", (int)ev->pid, pl->file);
	int r = s->is_error ? -(int)s->result : files_head(observer_worker(o), at, text, FILES_HEAD_MAX, &len);
	text[len] = '\0';
	/* once per content: a server that reads it at every discovery
	 * records it once, and again only when it changed */
	char key[64];
	uint64_t h = hash_fnv1a(HASH_FNV1A_INIT ^ (uint64_t)(unsigned)(r < 0 ? r : 0), text, len);
	snprintf(key, sizeof(key), "platform:%016llx", (unsigned long long)h);
	if (observer_first(o, key) <= 0)
		return 0;
	observe_event_begin(w, seq, ev, "platform");
	json_kv_string(w, "path", pl->file);
	if (r < 0) {
		json_kv_string(w, "error", names_errno(-r, b, sizeof(b)));
		json_object_end(w);
		return 1;
	}
	regex_t rx;
	regmatch_t m[2];
	bool compiled = regcomp(&rx, pl->file_regex, REG_EXTENDED) == 0;
	if (compiled && policy_regexec(&rx, text, 2, m) == 0 && m[1].rm_so >= 0) {
		line_at(text, (size_t)m[0].rm_so, line);
		json_kv_string(w, "line", line);
		char value[64];
		int n = (int)(m[1].rm_eo - m[1].rm_so);
		snprintf(value, sizeof(value), "%.*s", n, text + m[1].rm_so);
		json_kv_string(w, "value", value);
	} else {
		line_at(text, 0, line);	/* what the file says instead */
		json_kv_string(w, "line", line);
	}
	if (compiled)
		regfree(&rx);
	json_object_end(w);
	return 1;
}
