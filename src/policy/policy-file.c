/* Finding and reading a policy file (see policy.h): bounded, and never
 * held by a FIFO without a writer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "policy/policy.h"

int policy_load_file(const char *path, Policy *ret, char *err, size_t err_size)
{
	*ret = (Policy){ 0 };
	/* O_NONBLOCK for the open only: a FIFO without a writer opens at once
	 * (and reads as empty) instead of holding vgpu-run forever */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int r = neg_errno();
		snprintf(err, err_size, "%s: %s", path, strerror(-r));
		return r;
	}
	/* One byte more than allowed tells "too large" from "exactly full". */
	_cleanup_free_ char *buf = malloc(POLICY_FILE_MAX + 1);
	if (!buf) {
		snprintf(err, err_size, "%s: out of memory", path);
		return -ENOMEM;
	}
	ssize_t n = read_full(fd, buf, POLICY_FILE_MAX + 1);
	if (n < 0) {
		snprintf(err, err_size, "%s: %s", path, strerror((int)-n));
		return (int)n;
	}
	size_t len = (size_t)n;
	if (len > POLICY_FILE_MAX) {
		snprintf(err, err_size, "%s: larger than %d bytes", path, POLICY_FILE_MAX);
		return -EFBIG;
	}
	if (len == 0) {	/* also a FIFO that no process writes */
		snprintf(err, err_size, "%s: empty: no policy in it", path);
		return -EINVAL;
	}
	return policy_parse(path, buf, len, ret, err, err_size);
}

int policy_find(const char *name_or_file, const char *self_exe, const char *datadir, char *out,
		size_t size, char *err, size_t err_size)
{
	if (strchr(name_or_file, '/')) {
		if (access(name_or_file, R_OK) < 0) {
			int r = neg_errno();
			snprintf(err, err_size, "policy file '%s': %s", name_or_file, strerror(-r));
			return r;
		}
		if ((size_t)snprintf(out, size, "%s", name_or_file) >= size) {
			snprintf(err, err_size, "policy file name too long");
			return -ENAMETOOLONG;
		}
		return 0;
	}
	if (!policy_name_valid(name_or_file)) {
		snprintf(err, err_size,
			 "'%s' is not a policy name ([a-z0-9_-]+; a file name needs a '/', as in ./%s)",
			 name_or_file, name_or_file);
		return -EINVAL;
	}

	/* ROOT is the parent of the executable's directory: the prefix of an
	 * installed bin/vgpu-run, or the build tree.  SELF_EXE is resolved
	 * (/proc/self/exe), so cutting two components is exact. */
	char dirs[3][4096], tried[3 * 4096 + 8] = "", path[4096 + 256];
	size_t n = 0;
	if (self_exe && self_exe[0] == '/' && strlen(self_exe) < 4000) {
		char root[4000];
		strcpy(root, self_exe);
		for (int cut = 0; cut < 2; cut++) {
			char *slash = strrchr(root, '/');
			if (slash)
				*slash = '\0';
		}
		snprintf(dirs[n++], sizeof(dirs[0]), "%s/policies", root);
		snprintf(dirs[n++], sizeof(dirs[0]), "%s/share/vgpu-run/policies", root);
	}
	if (datadir && *datadir && strlen(datadir) < 4000)
		snprintf(dirs[n++], sizeof(dirs[0]), "%.4000s/policies", datadir);

	for (size_t i = 0; i < n; i++) {
		/* each directory once: DATADIR is often the installed one */
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup = dup || strcmp(dirs[j], dirs[i]) == 0;
		if (dup || (size_t)snprintf(path, sizeof(path), "%s/%s.policy", dirs[i],
					    name_or_file) >= sizeof(path))
			continue;
		if (access(path, R_OK) == 0) {
			if ((size_t)snprintf(out, size, "%s", path) < size)
				return 0;
			snprintf(err, err_size, "%s: name too long", path);
			return -ENAMETOOLONG;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			int r = neg_errno();
			snprintf(err, err_size, "%s: %s", path, strerror(-r));
			return r;
		}
		strcat(strcat(tried, *tried ? ", " : ""), dirs[i]);
	}
	snprintf(err, err_size, "no policy '%s' in %s", name_or_file, *tried ? tried : "(no directory)");
	return -ENOENT;
}
