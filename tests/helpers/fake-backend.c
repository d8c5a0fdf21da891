/* Stand-ins for a ggml backend library, loaded by the real ggml loader in
 * the Ollama fixture to produce the failures a real backend cannot be
 * made to produce on demand (built three times, see tests/meson.build):
 *   FAKE_CRASH        ggml_backend_init dereferences NULL (SIGSEGV in cgo:
 *                     Go's runtime turns it into exit 2);
 *   FAKE_HANG         ggml_backend_init never returns (probe timeout);
 *   FAKE_UNRESOLVED   needs a symbol nobody defines: dlopen(RTLD_NOW)
 *                     fails and the load is rolled back. */
#include <unistd.h>

void *ggml_backend_init(void);

#ifdef FAKE_UNRESOLVED
extern void *vgpu_no_such_symbol(void);
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
#else
	return NULL;
#endif
}
