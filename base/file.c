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
