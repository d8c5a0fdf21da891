/* Report output (see report-out.h). */
#include "report/report-out.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "report/report-json.h"
#include "report/report-text.h"

ReportFormat report_format_for(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	return n > 5 && !strcmp(path + n - 5, ".json") ? REPORT_FORMAT_JSON : REPORT_FORMAT_TEXT;
}

int report_color_parse(const char *when, ReportColor *ret)
{
	static const struct {
		const char *word;
		ReportColor color;
	} words[] = {
		{ "auto", REPORT_COLOR_AUTO }, { "always", REPORT_COLOR_ALWAYS }, { "never", REPORT_COLOR_NEVER },
	};
	if (!when) {
		*ret = REPORT_COLOR_ALWAYS;
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(words); i++)
		if (!strcmp(when, words[i].word)) {
			*ret = words[i].color;
			return 0;
		}
	return -EINVAL;
}

bool report_color_use(ReportColor when, int fd)
{
	if (when != REPORT_COLOR_AUTO)
		return when == REPORT_COLOR_ALWAYS;
	/* https://no-color.org: set and not empty turns colour off */
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
	return isatty(fd) && !(no && *no) && !(term && !strcmp(term, "dumb"));
}

int report_render(const Report *r, ReportFormat format, FILE *f, bool color)
{
	if (format == REPORT_FORMAT_TEXT)
		return report_text_write(r, f, color);
	JsonWriter w;
	json_init(&w);
	int rc = report_json_write(r, &w);
	if (rc >= 0 && (fwrite(w.buf, 1, w.len, f) != w.len || fputc('\n', f) == EOF))
		rc = -EIO;
	json_done(&w);
	return rc;
}

/* Write LEN bytes of BUF into FD, which this takes over (closed in every
 * case); with SYNC, on disk before returning. */
static int write_to_fd(const char *buf, size_t len, int fd, bool sync)
{
	int rc = 0;
	for (size_t off = 0; off < len && rc >= 0;) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0 && errno != EINTR)
			rc = neg_errno();
		else if (n > 0)
			off += (size_t)n;
	}
	if (rc >= 0 && sync && fsync(fd) != 0)
		rc = neg_errno();
	if (close(fd) != 0 && rc >= 0)
		rc = neg_errno();
	return rc;
}

/* A FIFO with no reader fails (ENXIO) rather than blocking the tracer. */
static int write_special(const char *buf, size_t len, const char *path)
{
	/* O_TRUNC: a regular file behind /dev/stdout gets this report alone,
	 * as a shell's "> /dev/stdout" would; FIFOs and devices ignore it */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return neg_errno();
	return write_to_fd(buf, len, TAKE_FD(fd), false);
}

int report_write_buffer(const char *buf, size_t len, const char *path, bool sync, mode_t mode)
{
	if (!strcmp(path, "-"))
		return fwrite(buf, 1, len, stdout) != len || fflush(stdout) ? -EIO : 0;
	/* -o /dev/null, a FIFO, a terminal: write in place. Renaming over
	 * them would replace a device node with a regular file.  A path that
	 * is still a symlink here is one report_target_resolve() stopped at:
	 * a /proc link to an open file (/dev/stdout), written in place too;
	 * renaming over it would replace the link. */
	struct stat st;
	if ((lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) || (stat(path, &st) == 0 && !S_ISREG(st.st_mode)))
		return write_special(buf, len, path);

	/* Readers (systemd units, CI) never see half a report: write a
	 * temporary file beside the target, then rename it over. */
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0)
		return neg_errno();
	int rc = mode == 0600 || fchmod(fd, mode) == 0 ? 0 : neg_errno();
	if (rc < 0)
		close(fd);
	else
		rc = write_to_fd(buf, len, fd, sync);
	if (rc >= 0 && rename(tmp, path) < 0)
		rc = neg_errno();
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int report_render_buffer(const Report *r, ReportFormat format, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	int rc = report_render(r, format, f, false);
	if (fclose(f) != 0 && rc >= 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int report_write_file(const Report *r, ReportFormat format, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int rc = report_render_buffer(r, format, &buf, &len);
	return rc < 0 ? rc : report_write_buffer(buf, len, path, true, 0600);
}
