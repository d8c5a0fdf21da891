/*
 * test-shim.c - assertions for the example shims; driven by test-shim.sh.
 *
 *   test-shim CASE LIBRARY
 *
 * dlopen()s LIBRARY by absolute path (so the test never depends on the
 * library search path), runs the checks of CASE and prints one
 * "PASS: ..." / "FAIL: ..." line per assertion.  Exit status: number of
 * failed assertions (capped at 100), 2 for usage errors.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static void *lib;

#define CHECK_INT(what, got, want) do {                                         \
	long long g_ = (long long)(got), w_ = (long long)(want);                \
	if (g_ == w_) printf("PASS: %s == %lld\n", what, w_);                   \
	else printf("FAIL: %s: got %lld, want %lld\n", what, g_, w_), failures++; \
} while (0)

#define CHECK_STR(what, got, want) do {                                         \
	const char *g_ = (got), *w_ = (want);                                   \
	if (g_ && strcmp(g_, w_) == 0) printf("PASS: %s == \"%s\"\n", what, w_); \
	else printf("FAIL: %s: got \"%s\", want \"%s\"\n", what, g_ ? g_ : "(null)", w_), failures++; \
} while (0)

#define CHECK_TRUE(what, cond) do {                                             \
	if (cond) printf("PASS: %s\n", what);                                   \
	else printf("FAIL: %s\n", what), failures++;                            \
} while (0)

static void *sym(const char *name)
{
	void *p = dlsym(lib, name);
	if (!p) {
		printf("FAIL: dlsym(%s) failed: %s\n", name, dlerror());
		exit(100);
	}
	return p;
}
/* F(name, ret, args...) declares a local pointer `name` of the right type. */
#define F(name, ret, ...) ret (*name)(__VA_ARGS__) = (ret (*)(__VA_ARGS__))sym(#name)

typedef struct { unsigned char b[16]; } uuid16;

static void hex16(const uuid16 *u, char out[33])
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", u->b[i]);
}

/* ---------------- libcuda.so.1, virtual mode ---------------- */
/* Expected values: argv of test_cuda_virtual, see main(). */
struct cuda_expect {
	int count; const char *name; int major, minor; unsigned long long mem;
	const char *busid0, *busid1; const char *uuid0, *uuid1;
	int busnum0;
};

static void test_cuda_virtual(const struct cuda_expect *e)
{
	F(cuInit, int, unsigned);
	F(cuDriverGetVersion, int, int *);
	F(cuDeviceGetCount, int, int *);
	F(cuDeviceGet, int, int *, int);
	F(cuDeviceGetName, int, char *, int, int);
	F(cuDeviceGetAttribute, int, int *, int, int);
	F(cuDeviceTotalMem_v2, int, size_t *, int);
	F(cuDeviceGetUuid, int, uuid16 *, int);
	F(cuDeviceGetUuid_v2, int, uuid16 *, int);
	F(cuDeviceGetPCIBusId, int, char *, int, int);
	F(cuGetErrorString, int, int, const char **);
	F(cuGetErrorName, int, int, const char **);
	F(cuGetProcAddress_v2, int, const char *, void **, int, unsigned long long, int *);
	F(cuGetProcAddress, int, const char *, void **, int, unsigned long long);
	F(cuGetExportTable, int, const void **, const uuid16 *);
	F(cuMemCreate, int, unsigned long long *, size_t, const void *, unsigned long long);
	F(cuMemGetAllocationGranularity, int, size_t *, const void *, int);

	int n = -1, d = -1, v = -1, st = -1;
	char buf[256], hex[33];
	size_t mem = 0;
	uuid16 u;
	const char *s = NULL;
	void *p = NULL;

	CHECK_INT("cuDeviceGetCount before cuInit", cuDeviceGetCount(&n), 3);
	CHECK_INT("cuDriverGetVersion before cuInit", cuDriverGetVersion(&v), 0);
	CHECK_INT("driver version", v, 13000);
	CHECK_INT("cuInit(0)", cuInit(0), 0);
	CHECK_INT("cuDeviceGetCount", cuDeviceGetCount(&n), 0);
	CHECK_INT("device count", n, e->count);
	CHECK_INT("cuDeviceGet(0)", cuDeviceGet(&d, 0), 0);
	CHECK_INT("device handle 0", d, 0);
	CHECK_INT("cuDeviceGet(count) -> INVALID_DEVICE", cuDeviceGet(&d, e->count), 101);
	CHECK_INT("cuDeviceGetName", cuDeviceGetName(buf, sizeof buf, 0), 0);
	CHECK_STR("device name", buf, e->name);
	CHECK_INT("cuDeviceGetAttribute(75)", cuDeviceGetAttribute(&v, 75, 0), 0);
	CHECK_INT("cc major", v, e->major);
	cuDeviceGetAttribute(&v, 76, 0);
	CHECK_INT("cc minor (76)", v, e->minor);
	cuDeviceGetAttribute(&v, 16, 0);
	CHECK_INT("multiprocessor count (16)", v, 132);
	cuDeviceGetAttribute(&v, 10, 0);
	CHECK_INT("warp size (10)", v, 32);
	cuDeviceGetAttribute(&v, 1, 0);
	CHECK_INT("max threads per block (1)", v, 1024);
	cuDeviceGetAttribute(&v, 33, 0);
	CHECK_INT("PCI bus id (33)", v, e->busnum0);
	cuDeviceGetAttribute(&v, 41, 0);
	CHECK_INT("unified addressing (41)", v, 1);
	cuDeviceGetAttribute(&v, 18, 0);
	CHECK_INT("integrated (18)", v, 0);
	v = -1;
	cuDeviceGetAttribute(&v, 102, 0);
	CHECK_INT("VMM supported (102)", v, 0);
	v = -1;
	CHECK_INT("unknown attribute 9999 -> SUCCESS", cuDeviceGetAttribute(&v, 9999, 0), 0);
	CHECK_INT("unknown attribute value", v, 0);
	CHECK_INT("cuDeviceTotalMem_v2", cuDeviceTotalMem_v2(&mem, 0), 0);
	CHECK_INT("total memory", mem, e->mem);
	CHECK_INT("cuDeviceGetUuid_v2", cuDeviceGetUuid_v2(&u, 0), 0);
	hex16(&u, hex);
	CHECK_STR("uuid device 0", hex, e->uuid0);
	CHECK_INT("cuDeviceGetUuid", cuDeviceGetUuid(&u, 0), 0);
	hex16(&u, hex);
	CHECK_STR("uuid device 0 (v1)", hex, e->uuid0);
	CHECK_INT("cuDeviceGetPCIBusId", cuDeviceGetPCIBusId(buf, sizeof buf, 0), 0);
	CHECK_STR("PCI bus id string device 0", buf, e->busid0);
	if (e->count > 1) {
		CHECK_INT("cuDeviceGetPCIBusId(1)", cuDeviceGetPCIBusId(buf, sizeof buf, 1), 0);
		CHECK_STR("PCI bus id string device 1", buf, e->busid1);
		cuDeviceGetUuid_v2(&u, 1);
		hex16(&u, hex);
		CHECK_STR("uuid device 1", hex, e->uuid1);
	}

	CHECK_INT("cuGetErrorString(100)", cuGetErrorString(100, &s), 0);
	CHECK_STR("error string 100", s, "no CUDA-capable device is detected");
	CHECK_INT("cuGetErrorName(801)", cuGetErrorName(801, &s), 0);
	CHECK_STR("error name 801", s, "CUDA_ERROR_NOT_SUPPORTED");
	CHECK_INT("cuGetErrorName(123456) -> INVALID_VALUE", cuGetErrorName(123456, &s), 1);

	CHECK_INT("cuGetProcAddress_v2(cuDeviceGetCount)",
		  cuGetProcAddress_v2("cuDeviceGetCount", &p, 13000, 0, &st), 0);
	CHECK_TRUE("cuGetProcAddress_v2(cuDeviceGetCount) == dlsym(cuDeviceGetCount)",
		   p == (void *)cuDeviceGetCount);
	CHECK_INT("symbol status", st, 0);
	CHECK_INT("cuGetProcAddress_v2(cuDeviceTotalMem, 12000)",
		  cuGetProcAddress_v2("cuDeviceTotalMem", &p, 12000, 0, &st), 0);
	CHECK_TRUE("cuDeviceTotalMem at 12000 resolves to cuDeviceTotalMem_v2",
		   p == (void *)cuDeviceTotalMem_v2);
	p = (void *)1;
	CHECK_INT("cuGetProcAddress_v2(cuNoSuch) -> NOT_FOUND",
		  cuGetProcAddress_v2("cuNoSuch", &p, 13000, 0, &st), 500);
	CHECK_TRUE("cuNoSuch pfn == NULL", p == NULL);
	CHECK_INT("cuNoSuch status SYMBOL_NOT_FOUND", st, 1);
	CHECK_INT("cuGetProcAddress(v1, cuInit)", cuGetProcAddress("cuInit", &p, 12000, 0), 0);
	CHECK_TRUE("cuGetProcAddress(cuInit) == dlsym(cuInit)", p == (void *)cuInit);
	CHECK_INT("cuGetProcAddress(v1, cuNoSuch)", cuGetProcAddress("cuNoSuch", &p, 12000, 0), 500);

	const void *tbl = (void *)1;
	uuid16 id = {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87,
		      0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9}};
	CHECK_INT("cuGetExportTable -> NOT_SUPPORTED", cuGetExportTable(&tbl, &id), 801);
	CHECK_TRUE("export table pointer NULL", tbl == NULL);
	unsigned long long h;
	CHECK_INT("cuMemCreate -> NOT_SUPPORTED", cuMemCreate(&h, 1 << 21, NULL, 0), 801);
	CHECK_INT("cuMemGetAllocationGranularity -> NOT_SUPPORTED",
		  cuMemGetAllocationGranularity(&mem, NULL, 0), 801);
}

/* ---------------- libnvidia-ml.so.1, virtual mode ---------------- */
typedef struct {
	char busIdLegacy[16];
	unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
	char busId[32];
} pci_info;

static void test_nvml_virtual(int count, const char *name, unsigned long long mem,
			      const char *busid, const char *uuid)
{
	F(nvmlInit_v2, int, void);
	F(nvmlShutdown, int, void);
	F(nvmlDeviceGetCount_v2, int, unsigned *);
	F(nvmlDeviceGetHandleByIndex_v2, int, unsigned, void **);
	F(nvmlDeviceGetName, int, void *, char *, unsigned);
	F(nvmlDeviceGetUUID, int, void *, char *, unsigned);
	F(nvmlDeviceGetMemoryInfo, int, void *, unsigned long long *);
	F(nvmlDeviceGetPciInfo_v3, int, void *, pci_info *);
	F(nvmlSystemGetCudaDriverVersion_v2, int, int *);
	F(nvmlSystemGetDriverVersion, int, char *, unsigned);
	F(nvmlErrorString, const char *, int);

	unsigned n = 0;
	void *dev = NULL;
	char buf[96];
	unsigned long long m[3] = {0, 0, 0};
	pci_info pci;
	int v = 0;

	CHECK_INT("nvmlDeviceGetCount_v2 before init -> UNINITIALIZED", nvmlDeviceGetCount_v2(&n), 1);
	CHECK_INT("nvmlInit_v2", nvmlInit_v2(), 0);
	CHECK_INT("nvmlDeviceGetCount_v2", nvmlDeviceGetCount_v2(&n), 0);
	CHECK_INT("nvml device count", n, count);
	CHECK_INT("nvmlDeviceGetHandleByIndex_v2(0)", nvmlDeviceGetHandleByIndex_v2(0, &dev), 0);
	CHECK_INT("nvmlDeviceGetHandleByIndex_v2(count) -> INVALID_ARGUMENT",
		  nvmlDeviceGetHandleByIndex_v2((unsigned)count, &dev), 2);
	nvmlDeviceGetHandleByIndex_v2(0, &dev);
	CHECK_INT("nvmlDeviceGetName", nvmlDeviceGetName(dev, buf, sizeof buf), 0);
	CHECK_STR("nvml name", buf, name);
	CHECK_INT("nvmlDeviceGetName, 4-byte buffer -> INSUFFICIENT_SIZE",
		  nvmlDeviceGetName(dev, buf, 4), 7);
	CHECK_INT("nvmlDeviceGetUUID", nvmlDeviceGetUUID(dev, buf, sizeof buf), 0);
	CHECK_STR("nvml uuid", buf, uuid);
	CHECK_INT("nvmlDeviceGetMemoryInfo", nvmlDeviceGetMemoryInfo(dev, m), 0);
	CHECK_INT("nvml memory total", m[0], mem);
	CHECK_INT("nvml memory free", m[1], mem);
	CHECK_INT("nvml memory used", m[2], 0);
	CHECK_INT("nvmlDeviceGetPciInfo_v3", nvmlDeviceGetPciInfo_v3(dev, &pci), 0);
	CHECK_STR("nvml busId", pci.busId, busid);
	CHECK_STR("nvml busIdLegacy", pci.busIdLegacy, busid + 4);
	CHECK_INT("nvml pciDeviceId vendor", pci.pciDeviceId & 0xffff, 0x10de);
	CHECK_INT("nvmlSystemGetCudaDriverVersion_v2", nvmlSystemGetCudaDriverVersion_v2(&v), 0);
	CHECK_INT("nvml cuda driver version", v, 13000);
	CHECK_INT("nvmlSystemGetDriverVersion", nvmlSystemGetDriverVersion(buf, sizeof buf), 0);
	CHECK_STR("nvml driver version", buf, "580.00.00");
	CHECK_STR("nvmlErrorString(9)", nvmlErrorString(9), "Driver Not Loaded");
	CHECK_INT("nvmlShutdown", nvmlShutdown(), 0);
	CHECK_INT("nvmlDeviceGetCount_v2 after shutdown -> UNINITIALIZED", nvmlDeviceGetCount_v2(&n), 1);
}

/* ---------------- threads ---------------- */
static pthread_barrier_t barrier;
static int (*th_cuInit)(unsigned);

static void *th_main(void *arg)
{
	pthread_barrier_wait(&barrier); /* maximise the race on first use */
	*(int *)arg = th_cuInit(0);
	return NULL;
}

static void test_threads(int want)
{
	enum { N = 8 };
	pthread_t t[N];
	int rc[N];
	th_cuInit = (int (*)(unsigned))sym("cuInit");
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, th_main, &rc[i]);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++) {
		char what[64];
		snprintf(what, sizeof what, "thread %d cuInit(0)", i);
		CHECK_INT(what, rc[i], want);
	}
}

/* ---------------- ggml CUDA backend ---------------- */
static void test_ggml(void)
{
	/* lib was opened RTLD_NOW|RTLD_LOCAL by main(): every cu* import resolved. */
	void *(*init)(void) = (void *(*)(void))sym("ggml_backend_init");
	const char *(*reg_name)(void *) = (const char *(*)(void *))dlsym(lib, "ggml_backend_reg_name");
	size_t (*dev_count)(void *) = (size_t (*)(void *))dlsym(lib, "ggml_backend_reg_dev_count");
	fflush(stdout);
	void *reg = init();
	CHECK_TRUE("ggml_backend_init() returned a registry", reg != NULL);
	if (reg && reg_name)
		printf("INFO: backend registry name \"%s\"\n", reg_name(reg));
	if (reg && dev_count)
		printf("INFO: ggml_backend_reg_dev_count = %zu\n", dev_count(reg));
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CASE LIBRARY [args]\n", argv[0]);
		return 2;
	}
	const char *c = argv[1];
	lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		printf("FAIL: dlopen(%s, RTLD_NOW|RTLD_LOCAL): %s\n", argv[2], dlerror());
		return 1;
	}
	printf("PASS: dlopen(%s, RTLD_NOW|RTLD_LOCAL)\n", argv[2]);

	if (strcmp(c, "cuda-default") == 0) {
		struct cuda_expect e = {1, "vgpu-run virtual GPU", 9, 0, 85899345920ULL,
					"0000:01:00.0", NULL, "766770752d72756e2d7368696d000000",
					NULL, 1};
		test_cuda_virtual(&e);
	} else if (strcmp(c, "cuda-custom") == 0) {
		/* matches the environment test-shim.sh sets for this case */
		struct cuda_expect e = {2, "Test GPU X", 8, 6, 24ULL << 30,
					"0000:0a:00.0", "0000:0b:00.0",
					"11111111222233334444555555555555",
					"11111111222233334444555555555556", 10};
		test_cuda_virtual(&e);
	} else if (strcmp(c, "nvml-default") == 0) {
		test_nvml_virtual(1, "vgpu-run virtual GPU", 85899345920ULL, "00000000:01:00.0",
				  "GPU-76677075-2d72-756e-2d73-68696d000000");
	} else if (strcmp(c, "nvml-custom") == 0) {
		test_nvml_virtual(2, "Test GPU X", 24ULL << 30, "00000000:0a:00.0",
				  "GPU-11111111-2222-3333-4444-555555555555");
	} else if (strcmp(c, "cuda-init") == 0 && argc > 3) {
		/* passthrough / refused: only the cuInit result and one follow-up */
		F(cuInit, int, unsigned);
		F(cuDeviceGetCount, int, int *);
		int n;
		CHECK_INT("cuInit(0)", cuInit(0), atoi(argv[3]));
		int got = cuDeviceGetCount(&n);
		CHECK_TRUE("cuDeviceGetCount fails", got != 0);
		printf("INFO: cuDeviceGetCount returned %d\n", got);
	} else if (strcmp(c, "nvml-init") == 0 && argc > 3) {
		F(nvmlInit_v2, int, void);
		F(nvmlDeviceGetCount_v2, int, unsigned *);
		unsigned n = 0;
		CHECK_INT("nvmlInit_v2()", nvmlInit_v2(), atoi(argv[3]));
		if (argc > 4) {
			CHECK_INT("nvmlDeviceGetCount_v2", nvmlDeviceGetCount_v2(&n), 0);
			CHECK_INT("nvml device count", n, atoi(argv[4]));
		}
	} else if (strcmp(c, "threads") == 0 && argc > 3) {
		test_threads(atoi(argv[3]));
	} else if (strcmp(c, "ggml") == 0) {
		test_ggml();
	} else {
		fprintf(stderr, "unknown case %s\n", c);
		return 2;
	}
	printf("%s: %d failure(s)\n", c, failures);
	return failures > 100 ? 100 : failures;
}
