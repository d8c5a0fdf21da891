/* Command lookup (see command.h). */
#include "vgpu-run/command.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"

/* glibc's execvp default when PATH is unset. */
#define DEFAULT_PATH "/bin:/usr/bin"

static bool is_executable_file(const char *p, int *err)
{
	struct stat st;
	if (stat(p, &st) < 0) {
		*err = errno;
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = EACCES;
		return false;
	}
	if (access(p, X_OK) < 0) {
		*err = errno;
		return false;
	}
	return true;
}

int command_resolve(const char *name, const char *path_env, char *out, size_t size)
{
	if (!*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if (snprintf(out, size, "%s", name) >= (int)size)
			return -ENAMETOOLONG;
		/* only absence is decided here: exec itself reports EACCES,
		 * ENOEXEC and friends (exit 126) */
		if (access(name, F_OK) < 0)
			return -errno;
		return 0;
	}

	const char *p = path_env && *path_env ? path_env : DEFAULT_PATH;
	bool denied = false;
	while (p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		/* an empty element means the current directory */
		int len = n ? snprintf(out, size, "%.*s/%s", (int)n, p, name)
			    : snprintf(out, size, "%s", name);
		if (len >= (int)size)
			return -ENAMETOOLONG;
		int err = 0;
		if (is_executable_file(out, &err))
			return 0;
		if (err == EACCES)
			denied = true;
		p = colon ? colon + 1 : NULL;
	}
	return denied ? -EACCES : -ENOENT;
}

int command_interpreter(const char *path, char *out, size_t size)
{
	/* whatever PATH is, looking costs no wait */
	_cleanup_close_ int fd = open_regular(path, NULL);
	if (fd == -EINVAL)
		return 0;
	if (fd < 0)
		return fd;
	char line[256];
	ssize_t n = read(fd, line, sizeof(line) - 1);
	if (n < 2 || line[0] != '#' || line[1] != '!')
		return n < 0 ? neg_errno() : 0;
	line[n] = '\0';
	char *p = line + 2 + strspn(line + 2, " \t");
	size_t len = strcspn(p, " \t\n");
	if (!len)
		return 0;
	snprintf(out, size, "%.*s", (int)len, p);
	return 1;
}
