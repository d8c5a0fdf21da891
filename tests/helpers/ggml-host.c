/* Test helper: a ggml host in the way of node-llama-cpp, for the ggml
 * policy.  Loads the ggml backend registry from the first DIR, routes
 * ggml's log to stdout (fd 1, as node-llama-cpp does), then loads every
 * backend of each DIR through the real ggml_backend_load_all_from_path
 * and prints the number of devices.
 *   ggml-host DIR [DIR...]        exit 0, or 2 when the registry is missing */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void (*log_cb)(int level, const char *text, void *user);

static void to_stdout(int level, const char *text, void *user)
{
	(void)level;
	(void)user;
	fputs(text, stdout);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ggml-host DIR [DIR...]\n");
		return 2;
	}
	char reg[4096];
	snprintf(reg, sizeof(reg), "%s/libggml.v0.5.0.so", argv[1]);
	void *h = dlopen(reg, RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		fprintf(stderr, "ggml-host: %s\n", dlerror());
		return 2;
	}
	void (*log_set)(log_cb, void *) = (void (*)(log_cb, void *))dlsym(RTLD_DEFAULT, "ggml_log_set");
	void (*load_all)(const char *) = (void (*)(const char *))dlsym(h, "ggml_backend_load_all_from_path");
	size_t (*dev_count)(void) = (size_t (*)(void))dlsym(h, "ggml_backend_dev_count");
	if (!load_all || !dev_count) {
		fprintf(stderr, "ggml-host: %s lacks the registry functions\n", reg);
		return 2;
	}
	if (log_set)
		log_set(to_stdout, NULL);
	for (int i = 1; i < argc; i++)
		load_all(argv[i]);
	printf("devices=%zu\n", dev_count());
	return 0;
}
