/* The file a report goes to, across runs (see report-file.h). */
#include "report/report-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/path.h"

#define SYMLINK_HOPS_MAX 40	/* the kernel's own limit (MAXSYMLINKS) */

/* The directory part of PATH into OUT: "." when it has none. */
static int dir_part(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	int n = !slash ? snprintf(out, size, ".")
		: slash == path ? snprintf(out, size, "/")
				: snprintf(out, size, "%.*s", (int)(slash - path), path);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int report_target_resolve(const char *path, ReportTarget *ret)
{
	*ret = (ReportTarget){ 0 };
	if (snprintf(ret->path, sizeof(ret->path), "%s", path) >= (int)sizeof(ret->path))
		return -ENAMETOOLONG;
	for (int hops = 0; hops <= SYMLINK_HOPS_MAX; hops++) {
		struct stat st;
		if (lstat(ret->path, &st) < 0)
			return errno == ENOENT ? 0 : neg_errno();	/* created at the first write */
		/* /proc/self/fd/1 (where /dev/stdout leads) names an open file,
		 * not a path: written in place, whatever it is */
		bool magic = S_ISLNK(st.st_mode) && !strncmp(ret->path, "/proc/", 6);
		if (!S_ISLNK(st.st_mode) || magic) {
			ret->exists = true;
			ret->special = magic || !S_ISREG(st.st_mode);
			return 0;
		}
		char link[PATH_MAX], next[PATH_MAX], dir[PATH_MAX];
		ssize_t n = readlink(ret->path, link, sizeof(link) - 1);
		if (n < 0)
			return neg_errno();
		link[n] = '\0';
		int r = link[0] == '/' ? 0 : dir_part(ret->path, dir, sizeof(dir));
		if (r < 0)
			return r;
		if (snprintf(next, sizeof(next), "%s%s%s", link[0] == '/' ? "" : dir, link[0] == '/' ? "" : "/",
			     link) >= (int)sizeof(next))
			return -ENAMETOOLONG;
		memcpy(ret->path, next, sizeof(next));
	}
	return -ELOOP;
}

int report_target_prepare(const ReportTarget *t, const char *what, unsigned keep, char *err,
			  size_t err_size)
{
	if (t->special)
		return 0;	/* a FIFO may have no reader yet: opened at the write */
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", t->path) >= (int)sizeof(tmp) ||
	    dir_part(t->path, dir, sizeof(dir)) < 0) {
		snprintf(err, err_size, "the %s file name '%s' is too long", what, t->path);
		return -ENAMETOOLONG;
	}
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int r = neg_errno();
		snprintf(err, err_size, "cannot write the %s '%s': no file can be created in '%s': %s", what,
			 t->path, dir, strerror(-r));
		return r;
	}
	close(fd);
	unlink(tmp);
	if (!t->exists || !keep)
		return 0;
	/* T.KEEP-1 -> T.KEEP, ..., T -> T.1: the oldest goes */
	char from[PATH_MAX + 16], to[PATH_MAX + 16];
	int r = path_rotate(t->path, keep, from, to);
	if (r < 0)
		snprintf(err, err_size, "cannot keep the previous %s '%s' as '%s': %s", what, from, to,
			 strerror(-r));
	return r;
}

/* PATH as its resolved directory plus its name. */
static bool canonical(const char *path, char *out, size_t size)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (dir_part(path, dir, sizeof(dir)) < 0 || !realpath(dir, real))
		return false;
	int n = snprintf(out, size, "%s/%s", strcmp(real, "/") ? real : "", slash ? slash + 1 : path);
	return n >= 0 && (size_t)n < size;
}

bool report_same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)	/* /dev/null twice is fine */
		return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	char ca[PATH_MAX + NAME_MAX + 2], cb[PATH_MAX + NAME_MAX + 2];
	return canonical(a, ca, sizeof(ca)) && canonical(b, cb, sizeof(cb)) && !strcmp(ca, cb);
}
