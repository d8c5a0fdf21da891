/* Checking standard output (see output.h). */
#include "base/output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool stdout_flushed(const char *prog)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return true;
	fprintf(stderr, "%s: standard output: %s\n", prog, strerror(errno ? errno : EIO));
	return false;
}

unsigned std_fds_reserve(void)
{
	unsigned closed = 0;
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* open() takes the lowest free number: this one */
		int n = open("/dev/null", O_RDWR);
		if (n >= 0 && n != fd)
			close(n);
		closed |= 1u << fd;
	}
	return closed;
}

void eprintf(const char *fmt, ...)
{
	char msg[4096], out[4 * sizeof(msg)];
	if (!fmt)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = strlen(msg), o = 0;
	/* one line, also when the message was cut at the buffer's end */
	size_t flen = strlen(fmt);
	bool newline = flen && fmt[flen - 1] == '\n';
	if (len && msg[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)msg[i];
		if (c == '\n')
			o += (size_t)sprintf(out + o, "\\n");
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)sprintf(out + o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (newline)
		out[o++] = '\n';
	fwrite(out, 1, o, stderr);
}
