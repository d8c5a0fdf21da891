/* Remote unwinding with libunwind-ptrace (see backtrace.h and tracer.h).
 *
 * One address space for the whole run with a global cache, as strace
 * does; a fresh _UPT handle per walk (it holds the tid).  The file of
 * each frame comes from /proc/TID/maps, read once per walk: mappings
 * change between decision events, and walks are rare. */
#include <errno.h>
#include <inttypes.h>
#include <libunwind-ptrace.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "tracer-internal.h"

static unw_addr_space_t address_space(void)
{
	static unw_addr_space_t as;
	if (!as) {
		as = unw_create_addr_space(&_UPT_accessors, 0);
		if (as)
			unw_set_caching_policy(as, UNW_CACHE_GLOBAL);
	}
	return as;
}

/* The file mapped at IP in TID, from /proc/TID/maps. */
static void file_of(FILE *maps, uint64_t ip, char *out, size_t size)
{
	char line[512];
	*out = '\0';
	if (!maps)
		return;
	rewind(maps);
	while (fgets(line, sizeof(line), maps)) {
		uint64_t lo, hi;
		int path_at = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %*s %*s %*s %n", &lo, &hi, &path_at) < 2)
			continue;
		if (ip < lo || ip >= hi)
			continue;
		if (path_at > 0 && line[path_at] == '/') {
			snprintf(out, size, "%s", line + path_at);
			out[strcspn(out, "\n")] = '\0';
		}
		return;
	}
}

int tracer_backtrace(Tracer *t, pid_t tid, TracerFrame *frames, size_t max)
{
	unw_addr_space_t as = address_space();
	if (!as)
		return -ENOMEM;
	uint64_t t0 = tracer_now_ns(t);
	void *upt = _UPT_create(tid);
	if (!upt)
		return -ENOMEM;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)tid);
	_cleanup_fclose_ FILE *maps = fopen(path, "re");

	unw_cursor_t cursor;
	size_t n = 0;
	int r = unw_init_remote(&cursor, as, upt);
	while (r >= 0 && n < max) {
		TracerFrame *f = &frames[n];
		unw_word_t ip = 0, off = 0;
		if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || !ip)
			break;
		memset(f, 0, sizeof(*f));
		f->ip = ip;
		if (unw_get_proc_name(&cursor, f->symbol, sizeof(f->symbol), &off) == 0)
			f->offset = off;
		else
			f->symbol[0] = '\0';
		file_of(maps, ip, f->file, sizeof(f->file));
		n++;
		if (unw_step(&cursor) <= 0)
			break;
	}
	_UPT_destroy(upt);
	t->stats.backtraces++;
	t->stats.backtrace_ns += tracer_now_ns(t) - t0;
	return r < 0 && n == 0 ? -EIO : (int)n;
}
