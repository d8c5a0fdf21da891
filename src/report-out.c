/* Report output (see report-out.h). */
#include "report-out.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "json.h"
#include "report-json.h"
#include "report-text.h"

ReportFormat report_format_for(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	return n > 5 && !strcmp(path + n - 5, ".json") ? REPORT_FORMAT_JSON : REPORT_FORMAT_TEXT;
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

/* Render into FD, which this takes over (closed in every case); with
 * SYNC, on disk before returning. */
static int render_to_fd(const Report *r, ReportFormat format, int fd, bool sync)
{
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int rc = neg_errno();
		close(fd);
		return rc;
	}
	int rc = report_render(r, format, f, false);
	if (fflush(f) != 0 || (sync && fsync(fd) != 0))
		rc = rc < 0 ? rc : neg_errno();
	if (fclose(f) != 0)
		rc = rc < 0 ? rc : neg_errno();
	return rc;
}

/* A FIFO with no reader fails (ENXIO) rather than blocking the tracer. */
static int report_write_special(const Report *r, ReportFormat format, const char *path)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return neg_errno();
	return render_to_fd(r, format, TAKE_FD(fd), false);
}

int report_write_file(const Report *r, ReportFormat format, const char *path)
{
	if (!strcmp(path, "-")) {
		int rc = report_render(r, format, stdout, false);
		return rc < 0 ? rc : fflush(stdout) ? neg_errno() : 0;
	}
	/* -o /dev/null, a FIFO, a terminal: write in place. Renaming over
	 * them would replace a device node with a regular file. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return report_write_special(r, format, path);

	/* Readers (systemd units, CI) never see half a report: write a
	 * temporary file beside the target, then rename it over. */
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0)
		return neg_errno();
	int rc = render_to_fd(r, format, fd, true);
	if (rc >= 0 && rename(tmp, path) < 0)
		rc = neg_errno();
	if (rc < 0)
		unlink(tmp);
	return rc;
}
