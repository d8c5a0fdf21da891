/* The -t file: one JSON line per event, each written whole and flushed
 * (the trace is complete up to its last line whatever kills vgpu-run),
 * and bounded by --trace-max in one of two ways.  One piece: the line
 * that would pass the cap is replaced by a "truncated" line, and nothing
 * more is written.  N pieces: the file is rotated when it reaches
 * SIZE/N bytes (FILE -> FILE.1 -> ... -> FILE.N-1, the oldest dropped),
 * so the disk holds the most recent events; the writer then asks for the
 * new piece's first lines (its header and a state event), which make it
 * readable alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest "truncated" line (four 20-digit numbers): reserved below
 * the cap so that the marker, too, fits under it. */
#define TRACE_FILE_MARKER_MAX 160

typedef struct TraceFile TraceFile;

typedef struct TraceFileConfig {
	const char *path;	/* "-": standard output */
	uint64_t max;		/* bytes of all pieces together; 0: no cap */
	unsigned pieces;	/* 1: cut at MAX; more: rotate */
} TraceFileConfig;

/* Open (truncate) the file, mode 0600.  -errno; -EINVAL with ERR set when
 * pieces are asked of something that is no regular file. */
int trace_file_open(const TraceFileConfig *c, TraceFile **ret, char *err, size_t err_size);

/* Write LINE (LEN bytes, newline included) of event SEQ at T_NS.  Returns
 * 1 when the line filled its piece and a new one was started: the caller
 * writes that piece's header and state next; 0 otherwise (a write error
 * is kept for trace_file_error and ends the writing, never the run). */
int trace_file_write(TraceFile *t, const char *line, size_t len, uint64_t seq, uint64_t t_ns);

/* The piece being written (1 for the first). */
unsigned trace_file_piece(const TraceFile *t);
/* The first -errno a write met, or 0. */
int trace_file_error(const TraceFile *t);
/* Was the single piece cut at its cap? */
bool trace_file_cut(const TraceFile *t);
/* Close; returns trace_file_error() or close's -errno.  NULL is fine. */
int trace_file_close(TraceFile *t);
