/* Stand-ins for a ggml backend library, loaded by the real ggml loader in
 * the Ollama fixture to produce the failures a real backend cannot be
 * made to produce on demand (built three times, see tests/meson.build):
 *   FAKE_CRASH        ggml_backend_init dereferences NULL (SIGSEGV in cgo:
 *                     Go's runtime turns it into exit 2);
 *   FAKE_HANG         ggml_backend_init never returns (probe timeout);
 *   FAKE_UNRESOLVED   needs a symbol nobody defines: dlopen(RTLD_NOW)
 *                     fails and the load is rolled back;
 *   FAKE_EMPTY        loads, resolves, and registers nothing (its init
 *                     returns NULL): the loader rolls it back;
 *   FAKE_VERSION      needs vgpu_versioned@VGPU_2.0 of libvgpuver.so.1
 *                     (helpers/versioned.c): given the build that defines
 *                     VGPU_1.0 only, dlopen fails on the version;
 *   FAKE_CUDA         looks up libcuda.so.1 as a CUDA backend does (by
 *                     name, through the loader's search), asks it for
 *                     its devices and says so on stderr, then registers
 *                     nothing: the injection's test on any architecture
 *                     (npm has no arm64 CUDA build of ggml). */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

void *ggml_backend_init(void);

#ifdef FAKE_UNRESOLVED
extern void *vgpu_no_such_symbol(void);
#endif
#ifdef FAKE_VERSION
int vgpu_versioned(void);
#endif

void *ggml_backend_init(void)
{
#if defined(FAKE_CRASH)
	*(volatile int *)0 = 1;
	return NULL;
#elif defined(FAKE_HANG)
	for (;;)
		pause();
#elif defined(FAKE_UNRESOLVED)
	return vgpu_no_such_symbol();
#elif defined(FAKE_VERSION)
	return vgpu_versioned() == 2 ? NULL : NULL;
#elif defined(FAKE_CUDA)
	void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cuda) {
		fprintf(stderr, "fake-cuda: %s\n", dlerror());
		return NULL;
	}
	int (*init)(unsigned) = (int (*)(unsigned))dlsym(cuda, "cuInit");
	int (*count)(int *) = (int (*)(int *))dlsym(cuda, "cuDeviceGetCount");
	int n = -1, r = init && count ? init(0) : -1;
	if (r == 0)
		r = count(&n);
	fprintf(stderr, "fake-cuda: cuInit and cuDeviceGetCount gave %d, %d devices\n", r, n);
	return NULL;
#else
	return NULL;
#endif
}
