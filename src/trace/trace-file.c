/* The -t file (see trace-file.h). */
#include "trace/trace-file.h"

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
#include "base/path.h"
#include "trace/trace-json.h"

/* A piece's first lines (header, state) never start another piece. */
#define PIECE_HEAD_LINES 2

struct TraceFile {
	TraceFileConfig cfg;
	FILE *f;
	uint64_t bytes;		/* in the piece being written */
	uint64_t head_bytes;	/* of its first lines */
	uint64_t lines;		/* in it */
	unsigned piece;
	int error;
	bool cut;
};

/* 0600: traces hold command lines, environment values and output.  An
 * existing file keeps its mode through O_CREAT: narrowed.  Only a regular
 * file: --trace=/dev/null or a FIFO keeps its mode. */
#define FIFO_WAIT_S 10	/* for a reader of a FIFO given as -t */

static int open_piece(const char *path, bool need_regular, FILE **ret)
{
	/* O_NONBLOCK: a FIFO that no one reads fails (ENXIO) instead of
	 * holding the tracer before the command starts; a reader started
	 * beside vgpu-run gets FIFO_WAIT_S to open it.  The writes
	 * themselves block as any pipe's do. */
	_cleanup_close_ int fd = -1;
	for (unsigned tries = 0;; tries++) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0600);
		if (fd >= 0 || errno != ENXIO || tries >= FIFO_WAIT_S * 100)
			break;
		usleep(10000);
	}
	if (fd < 0)
		return neg_errno();
	struct stat st;
	if (fstat(fd, &st) < 0)
		return neg_errno();
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return neg_errno();
	if (need_regular && !S_ISREG(st.st_mode))
		return -ESPIPE;
	if (S_ISREG(st.st_mode) && fchmod(fd, 0600) < 0 && errno != EPERM)
		return neg_errno();
	FILE *f = fdopen(fd, "w");
	if (!f)
		return neg_errno();
	TAKE_FD(fd);
	*ret = f;
	return 0;
}

int trace_file_open(const TraceFileConfig *c, TraceFile **ret, char *err, size_t err_size)
{
	TraceFile *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *c;
	t->piece = 1;
	int r = 0;
	if (!strcmp(c->path, "-")) {
		if (c->pieces > 1)
			r = -ESPIPE;
		t->f = stdout;
	} else {
		r = open_piece(c->path, c->pieces > 1, &t->f);
	}
	if (r == -ESPIPE)
		snprintf(err, err_size, "--trace-pieces needs a regular file to rotate, not '%s'", c->path);
	else if (r == -ENXIO)
		snprintf(err, err_size, "cannot open trace file '%s': a FIFO that no process opened for reading "
			 "within %d s", c->path, FIFO_WAIT_S);
	else if (r < 0)
		snprintf(err, err_size, "cannot open trace file '%s': %s", c->path, strerror(-r));
	if (r < 0) {
		if (t->f && t->f != stdout)
			fclose(t->f);
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

/* FILE.N-2 -> FILE.N-1, ..., FILE -> FILE.1, and a new FILE. */
static int rotate(TraceFile *t)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16];
	if (fclose(t->f) != 0) {
		t->f = NULL;
		return neg_errno();
	}
	t->f = NULL;
	int r = path_rotate(t->cfg.path, t->cfg.pieces - 1, from, to);
	if (r < 0)
		return r;
	r = open_piece(t->cfg.path, true, &t->f);
	if (r < 0)
		return r;
	t->piece++;
	t->bytes = t->lines = t->head_bytes = 0;
	return 0;
}

static void put(TraceFile *t, const char *line, size_t len)
{
	if (fwrite(line, 1, len, t->f) != len || fflush(t->f) != 0)
		t->error = errno ? -errno : -EIO;
	t->bytes += len;
	if (++t->lines <= PIECE_HEAD_LINES)
		t->head_bytes += len;
}

int trace_file_write(TraceFile *t, const char *line, size_t len, uint64_t seq, uint64_t t_ns)
{
	if (!t || t->error || t->cut)
		return 0;
	errno = 0;
	if (t->cfg.pieces > 1) {
		put(t, line, len);
		/* a piece holds at least half its size of events, however large
		 * the state that starts it: no piece after piece of states */
		uint64_t size = t->cfg.max / t->cfg.pieces;
		if (t->error || t->bytes < size || t->lines <= PIECE_HEAD_LINES ||
		    t->bytes - t->head_bytes < size / 2)
			return 0;
		int r = rotate(t);
		if (r < 0)
			t->error = r;
		return r < 0 ? 0 : 1;
	}
	/* one piece: the line that would pass the cap is replaced by a
	 * marker with its seq (the header always goes in) */
	if (t->cfg.max && t->bytes > 0 && t->bytes + len + TRACE_FILE_MARKER_MAX > t->cfg.max) {
		JsonWriter marker;
		json_init(&marker);
		trace_json_truncated(&marker, seq, t_ns, t->bytes, t->cfg.max);
		json_raw(&marker, "\n");
		if (!marker.failed)
			put(t, marker.buf, marker.len);
		json_done(&marker);
		t->cut = true;
		return 0;
	}
	put(t, line, len);
	return 0;
}

unsigned trace_file_piece(const TraceFile *t)
{
	return t ? t->piece : 0;
}

int trace_file_error(const TraceFile *t)
{
	return t ? t->error : 0;
}

bool trace_file_cut(const TraceFile *t)
{
	return t && t->cut;
}

int trace_file_close(TraceFile *t)
{
	if (!t)
		return 0;
	int r = t->error;
	if (t->f && t->f != stdout && fclose(t->f) != 0 && !r)
		r = neg_errno();
	else if (t->f == stdout && fflush(stdout) != 0 && !r)
		r = neg_errno();
	free(t);
	return r;
}
