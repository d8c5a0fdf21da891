/* Reconstructing the dynamic linker's search for one library from the
 * opens of the process that loaded it (see loader.c). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hostarch.h"
#include "diagnose/model.h"

typedef struct LoaderInput {
	const char *library;		/* the backend library path */
	uint64_t after_seq;		/* its open: the search comes after */
	const Open *opens;		/* the process's opens, in order */
	size_t n_opens;
	json_object *elf;		/* path -> observe/elf event */
	const char *ld_library_path;	/* the process's, or NULL */
	const char *runpath;		/* the library's DT_RUNPATH/RPATH */
	bool runpath_is_rpath;
	const char *origin;		/* $ORIGIN: the library's directory */
	const char *cwd;		/* the process's, for empty elements */
	const HostArch *arch;		/* the traced host's: default dirs */
} LoaderInput;

typedef struct LoaderResult {
	bool have_facts;		/* the library's ELF facts were recorded */
	char **missing;			/* sonames looked up and found nowhere */
	char **searched;		/* every path tried for them, in order */
	char **bad;			/* dependencies found but not loadable */
	uint64_t first_missing_seq, last_missing_seq;
} LoaderResult;

int loader_reconstruct(const LoaderInput *in, LoaderResult *ret);
/* "libggml-cuda.so needs libcuda.so.1, found nowhere: 1. LD_LIBRARY_PATH
 * /a, /b; 2. RUNPATH /b; 3. ld.so.cache: no entry; 4. default ..." */
void loader_describe(const LoaderInput *in, const LoaderResult *res, char *out, size_t size);
void loader_result_done(LoaderResult *r);
