/* The files a traced program names, looked at with a time limit (see
 * files.h).  Each call copies what it needs into a job of its own: when
 * the limit passes, the stuck thread keeps the job and frees it. */
#include "observe/files.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"

typedef enum FileOp { OP_FACTS, OP_SYMBOLS, OP_STAT, OP_REALPATH, OP_HEAD } FileOp;

typedef struct Job {
	FileOp op;
	char *path;
	ElfFacts facts;
	ElfSymbols syms;
	struct stat st;
	char real[PATH_MAX];
	char head[FILES_HEAD_MAX];
	size_t head_len;
} Job;

/* The first bytes of a regular file: opened without blocking (a FIFO
 * never waits for a writer), its type checked before any read. */
static int read_head(Job *j)
{
	_cleanup_close_ int fd = open_regular(j->path, NULL);
	if (fd < 0)
		return fd;
	ssize_t n = read_full(fd, j->head, sizeof(j->head));
	if (n < 0)
		return (int)n;
	j->head_len = (size_t)n;
	return 0;
}

static int run_job(void *arg)
{
	Job *j = arg;
	char real[PATH_MAX];
	int r;
	switch (j->op) {
	case OP_FACTS:
		r = elf_parse_file(j->path, &j->facts);
		/* through symlinks: NVIDIA's stub linked in as libcuda.so.1 is
		 * still the stub, and the report says so */
		if (r >= 0 && realpath(j->path, real) && strcmp(real, j->path))
			j->facts.realpath = strdup(real);
		return r;
	case OP_SYMBOLS:
		return elf_symbols_file(j->path, &j->syms);
	case OP_STAT:
		return stat(j->path, &j->st) < 0 ? -errno : 0;
	case OP_REALPATH:
		return realpath(j->path, j->real) ? 0 : -errno;
	case OP_HEAD:
		return read_head(j);
	default:
		return -EINVAL;
	}
}

static void job_free(void *arg)
{
	Job *j = arg;
	elf_facts_done(&j->facts);
	elf_symbols_done(&j->syms);
	free(j->path);
	free(j);
}

/* Run OP on PATH: its result.  Unless the worker did not run it to its
 * end, *RET_JOB is the job, for the caller to take the result from and
 * free.  A call refused because too many threads are stuck counts as
 * timed out too (they are stuck on a stalled file system); no thread to
 * run it is its own error (EAGAIN: a limit on processes). */
static int call(Worker *w, FileOp op, const char *path, Job **ret_job)
{
	*ret_job = NULL;
	Job *j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return -ENOMEM;
	}
	j->op = op;
	int result, r = worker_call(w, run_job, j, job_free, FILES_TIMEOUT_NS, &result);
	if (r == -ETIMEDOUT)
		return r;	/* the job is the stuck thread's now */
	if (r < 0) {
		job_free(j);
		return r == -EBUSY ? -ETIMEDOUT : r;
	}
	*ret_job = j;
	return result;
}

int files_elf_facts(Worker *w, const char *path, ElfFacts *ret)
{
	Job *j;
	int r = call(w, OP_FACTS, path, &j);
	if (j) {
		*ret = j->facts;
		memset(&j->facts, 0, sizeof(j->facts));
		job_free(j);
	}
	return r;
}

int files_elf_symbols(Worker *w, const char *path, ElfSymbols *ret)
{
	Job *j;
	int r = call(w, OP_SYMBOLS, path, &j);
	if (j) {
		*ret = j->syms;
		memset(&j->syms, 0, sizeof(j->syms));
		job_free(j);
	}
	return r;
}

int files_stat(Worker *w, const char *path, struct stat *ret)
{
	Job *j;
	int r = call(w, OP_STAT, path, &j);
	if (j) {
		*ret = j->st;
		job_free(j);
	}
	return r;
}

int files_realpath(Worker *w, const char *path, char *out, size_t size)
{
	Job *j;
	int r = call(w, OP_REALPATH, path, &j);
	if (j) {
		if (r >= 0 && (size_t)snprintf(out, size, "%s", j->real) >= size)
			r = -ENAMETOOLONG;
		job_free(j);
	}
	return r;
}

int files_head(Worker *w, const char *path, char *out, size_t size, size_t *ret_len)
{
	Job *j;
	int r = call(w, OP_HEAD, path, &j);
	if (j) {
		*ret_len = j->head_len < size ? j->head_len : size;
		memcpy(out, j->head, *ret_len);
		job_free(j);
	}
	return r;
}
