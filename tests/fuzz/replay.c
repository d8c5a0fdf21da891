/* Replays a fuzz target's corpus without libFuzzer: every file under the
 * directories (or the files) given as arguments, in name order, is handed
 * to LLVMFuzzerTestOneInput() once, after LLVMFuzzerInitialize() when the
 * target defines one.  The normal build links each tests/fuzz target with
 * this file, so the test suite (under ASan and UBSan too) runs what the
 * fuzzer found; a target that aborts or crashes fails the test.  Each
 * file is named on stderr before it runs: the last one named is the one
 * that failed.
 *   replay-TARGET DIR|FILE...   prints "replay-TARGET: N inputs" */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static const char *prog;

/* Run the file PATH; 0, or -1 with a message when it cannot be read. */
static int run_file(const char *path, size_t *count)
{
	FILE *f = fopen(path, "rbe");
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	size_t size = 0, cap = 4096;
	uint8_t *data = malloc(cap);
	size_t n;
	while (data && (n = fread(data + size, 1, cap - size, f)) > 0) {
		size += n;
		if (size == cap) {
			uint8_t *grown = realloc(data, cap * 2);
			if (!grown)
				free(data);
			data = grown;
			cap *= 2;
		}
	}
	int failed = !data || ferror(f);
	fclose(f);
	if (failed) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, data ? "read error" : "out of memory");
		free(data);
		return -1;
	}
	/* a copy of exactly SIZE bytes, so that ASan sees a read past them */
	uint8_t *exact = malloc(size ? size : 1);
	if (!exact) {
		free(data);
		return -1;
	}
	memcpy(exact, data, size);
	free(data);
	fprintf(stderr, "%s\n", path);
	LLVMFuzzerTestOneInput(exact, size);
	free(exact);
	(*count)++;
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* PATH: a file, or a directory walked in name order (dot files skipped). */
static int run_path(const char *path, size_t *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path, count);
	struct dirent **names;
	int n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	int r = 0;
	for (int i = 0; i < n; i++) {
		char *sub;
		if (names[i]->d_name[0] != '.' && r == 0) {
			if (asprintf(&sub, "%s/%s", path, names[i]->d_name) < 0) {
				r = -1;
			} else {
				r = run_path(sub, count);
				free(sub);
			}
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	prog = slash ? slash + 1 : argv[0];
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", prog);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	size_t count = 0;
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			return 1;
	printf("%s: %zu inputs\n", prog, count);
	if (count == 0) {
		fprintf(stderr, "%s: no input to replay\n", prog);
		return 1;
	}
	return 0;
}
