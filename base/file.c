/* Regular files only (see file.h). */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "base/cleanup.h"

int open_regular(const char *path, struct stat *ret_st)
{
	_cleanup_close_ int pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return neg_errno();
	struct stat st;
	if (fstat(pfd, &st) < 0)
		return neg_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	int fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return neg_errno();
	if (ret_st)
		*ret_st = st;
	return fd;
}

ssize_t read_full(int fd, void *buf, size_t size)
{
	size_t len = 0;
	while (len < size) {
		ssize_t n = read(fd, (char *)buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return neg_errno();
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}
