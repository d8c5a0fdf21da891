/* Path normalisation and resolution through /proc (see path.h). */
#include "base/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int path_normalize(const char *in, char *out, size_t size)
{
	if (!in || in[0] != '/')
		return -EINVAL;
	if (size < 2)
		return -ENAMETOOLONG;

	size_t len = 0;		/* of out, which always starts with '/' */
	out[len++] = '/';
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* empty or "." component: nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			/* drop the last component, never above "/" */
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
		} else {
			size_t need = (len > 1 ? 1 : 0) + n;
			if (len + need + 1 > size)
				return -ENAMETOOLONG;
			if (len > 1)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
		}
		p = end;
	}
	out[len] = '\0';
	return (int)len;
}

int path_join(const char *base, const char *rel, char *out, size_t size)
{
	if (rel[0] == '/')
		return path_normalize(rel, out, size);
	char joined[PATH_MAX * 2];
	int n = snprintf(joined, sizeof(joined), "%s/%s", base, rel);
	if (n < 0 || (size_t)n >= sizeof(joined))
		return -ENAMETOOLONG;
	return path_normalize(joined, out, size);
}

int path_base(pid_t tid, int dirfd, char *out, size_t size)
{
	char link[64];
	if (dirfd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)tid);
	else if (dirfd >= 0)
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)tid, dirfd);
	else
		return -EBADF;

	ssize_t n = readlink(link, out, size - 1);
	if (n < 0)
		return errno == ENOENT && dirfd != AT_FDCWD ? -EBADF : -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	if (out[0] != '/')
		return -EBADF;	/* socket:[..], anon_inode:.., pipe:[..] */
	if (path_link_removed(link, out, (size_t)n))
		return -ENOENT;
	return (int)n;
}

bool path_link_removed(const char *link, char *target, size_t len)
{
	static const char suffix[] = " (deleted)";
	size_t k = sizeof(suffix) - 1;
	struct statx stx;
	/* the kernel's mark, and not a name that ends so: nothing links to
	 * what the link points at any more (asked from the cache: a stalled
	 * network or FUSE file system must not hold the caller) */
	if (len < k || memcmp(target + len - k, suffix, k) ||
	    statx(AT_FDCWD, link, AT_STATX_DONT_SYNC, STATX_NLINK, &stx) < 0 || stx.stx_nlink != 0)
		return false;
	target[len - k] = '\0';
	return true;
}

int path_resolve(pid_t tid, int dirfd, const char *arg, char *out, size_t size)
{
	if (arg[0] == '/')
		return path_normalize(arg, out, size);
	char base[PATH_MAX];
	int r = path_base(tid, dirfd, base, sizeof(base));
	if (r < 0)
		return r;
	return path_join(base, arg, out, size);
}

const char *path_base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path;
}

bool path_is_library_name(const char *name)
{
	const char *so = strstr(name, ".so");
	if (!so)
		return false;
	/* ".so" at the end, or followed by a version: ".so.1", ".so.12.4" */
	for (so += 3; *so; so++)
		if (*so != '.' && (*so < '0' || *so > '9'))
			return false;
	return true;
}

int path_rotate(const char *path, unsigned n, char *from, char *to)
{
	for (unsigned i = n; i > 0; i--) {
		if (i == 1)
			snprintf(from, PATH_MAX + 16, "%s", path);
		else
			snprintf(from, PATH_MAX + 16, "%s.%u", path, i - 1);
		snprintf(to, PATH_MAX + 16, "%s.%u", path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}
