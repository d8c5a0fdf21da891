/*
 * cuda-shim.c - example vgpu-run shim standing in for libcuda.so.1.
 *
 * An example and test instrument, NOT a driver: in "virtual" mode it reports
 * configured devices and refuses all real work; in "passthrough" mode it
 * forwards to the real driver named by VGPU_REAL_LIBCUDA and logs each call.
 * See README.md.  The CUDA types are declared here on purpose (no cuda.h):
 * the shim has to build on machines without a CUDA toolkit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shim-common.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- CUDA driver API types and constants (ABI-compatible subset) ---- */
typedef int CUresult;
typedef int CUdevice;
typedef int CUdevice_attribute;
typedef struct { char bytes[16]; } CUuuid;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef unsigned long long CUmemGenericAllocationHandle;
typedef unsigned long long cuuint64_t;
typedef int CUdriverProcAddressQueryResult;
typedef struct CUmemAllocationProp_st CUmemAllocationProp; /* opaque here */
typedef struct CUmemAccessDesc_st CUmemAccessDesc;         /* opaque here */
typedef int CUmemAllocationGranularity_flags;

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_NOT_INITIALIZED = 3,
	CUDA_ERROR_NO_DEVICE = 100,
	CUDA_ERROR_INVALID_DEVICE = 101,
	CUDA_ERROR_NOT_FOUND = 500,
	CUDA_ERROR_NOT_SUPPORTED = 801,
};
enum { /* CUdriverProcAddressQueryResult */
	CU_GET_PROC_ADDRESS_SUCCESS = 0,
	CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND = 1,
	CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT = 2,
};

/* Common codes, for cuGetErrorName/cuGetErrorString and for the log. */
static const struct { CUresult code; const char *name, *desc; } errs[] = {
	{0, "CUDA_SUCCESS", "no error"},
	{1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
	{2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
	{3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
	{4, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
	{34, "CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library"},
	{36, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", "call requires a newer driver"},
	{46, "CUDA_ERROR_DEVICE_UNAVAILABLE", "CUDA-capable device(s) is/are busy or unavailable"},
	{100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
	{101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
	{200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
	{201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
	{209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
	{400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
	{500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
	{600, "CUDA_ERROR_NOT_READY", "device not ready"},
	{700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
	{719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
	{800, "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
	{801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
	{802, "CUDA_ERROR_SYSTEM_NOT_READY", "system not yet initialized"},
	{803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination"},
	{804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "forward compatibility was attempted on non supported HW"},
	{999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static const char *err_name(CUresult r)
{
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == r)
			return errs[i].name;
	return "CUDA_ERROR_?";
}

/* ---- state ---- */
static struct shim_state S;
static pthread_once_t S_once = PTHREAD_ONCE_INIT;
static atomic_int v_initialized; /* virtual mode: cuInit succeeded */

SHIM_EXPORT CUresult cuInit(unsigned int flags);

static void init_once(void)
{
	shim_init(&S, "libcuda.so.1", "VGPU_REAL_LIBCUDA", "cuInit", (const void *)cuInit);
}

/* Lazy init; true when calls go to the real driver. */
static int passthrough(void)
{
	pthread_once(&S_once, init_once);
	return S.real != NULL;
}

/*
 * Gate for non-passthrough calls.  A refused passthrough behaves like a
 * machine without a GPU (cuInit = NO_DEVICE, later calls NOT_INITIALIZED);
 * virtual mode, like the real driver, wants cuInit first.
 */
static CUresult ready(void)
{
	if (S.mode == SHIM_MODE_PASSTHROUGH || !atomic_load(&v_initialized))
		return CUDA_ERROR_NOT_INITIALIZED;
	return CUDA_SUCCESS;
}

static CUresult ready_dev(CUdevice dev)
{
	CUresult r = ready();
	if (r == CUDA_SUCCESS && (dev < 0 || dev >= S.dev.count))
		r = CUDA_ERROR_INVALID_DEVICE;
	return r;
}

/* Call the real driver's `name` with the same prototype. */
#define FORWARD(r, name, proto, args) do {                                     \
	CUresult (*fn_) proto = (CUresult (*) proto)shim_real_sym(&S, #name);   \
	if (fn_) {                                                              \
		(r) = fn_ args;                                                 \
	} else {                                                                \
		shim_log(&S, "%s missing in real driver", #name);               \
		(r) = CUDA_ERROR_NOT_FOUND;                                     \
	}                                                                       \
} while (0)

/* One log line: "<call> = <code> <NAME><out>"; out is "" or " key=value". */
#define LOGR(r, out, fmt, ...) \
	shim_log(&S, fmt " = %d %s%s", ##__VA_ARGS__, (r), err_name(r), (out))

/* ---- implemented calls ---- */

SHIM_EXPORT CUresult cuInit(unsigned int flags)
{
	CUresult r;
	if (passthrough())
		FORWARD(r, cuInit, (unsigned int), (flags));
	else if (S.mode == SHIM_MODE_PASSTHROUGH)
		r = CUDA_ERROR_NO_DEVICE; /* refused real driver: "no GPU here" */
	else if (flags != 0)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (S.dev.count == 0)
		r = CUDA_ERROR_NO_DEVICE; /* what a driver without GPUs says */
	else
		atomic_store(&v_initialized, 1), r = CUDA_SUCCESS;
	LOGR(r, "", "cuInit(%u)", flags);
	return r;
}

SHIM_EXPORT CUresult cuDriverGetVersion(int *version)
{
	CUresult r;
	char out[32] = "";
	if (passthrough())
		FORWARD(r, cuDriverGetVersion, (int *), (version));
	else if (S.mode == SHIM_MODE_PASSTHROUGH)
		r = CUDA_ERROR_NOT_INITIALIZED;
	else if (!version)
		r = CUDA_ERROR_INVALID_VALUE;
	else /* like the real driver, works before cuInit */
		*version = S.dev.driver_version_cuda, r = CUDA_SUCCESS;
	if (r == CUDA_SUCCESS)
		snprintf(out, sizeof out, " version=%d", *version);
	LOGR(r, out, "cuDriverGetVersion()");
	return r;
}

SHIM_EXPORT CUresult cuDeviceGetCount(int *count)
{
	CUresult r;
	char out[32] = "";
	if (passthrough())
		FORWARD(r, cuDeviceGetCount, (int *), (count));
	else if ((r = ready()) == CUDA_SUCCESS) {
		if (count)
			*count = S.dev.count;
		else
			r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS)
		snprintf(out, sizeof out, " count=%d", *count);
	LOGR(r, out, "cuDeviceGetCount()");
	return r;
}

SHIM_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	CUresult r;
	char out[32] = "";
	if (passthrough())
		FORWARD(r, cuDeviceGet, (CUdevice *, int), (device, ordinal));
	else if ((r = ready_dev(ordinal)) == CUDA_SUCCESS) {
		if (device)
			*device = ordinal; /* device handle == ordinal */
		else
			r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS)
		snprintf(out, sizeof out, " device=%d", *device);
	LOGR(r, out, "cuDeviceGet(%d)", ordinal);
	return r;
}

SHIM_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	CUresult r;
	char out[128] = "";
	if (passthrough())
		FORWARD(r, cuDeviceGetName, (char *, int, CUdevice), (name, len, dev));
	else if ((r = ready_dev(dev)) == CUDA_SUCCESS) {
		if (name && len > 0)
			snprintf(name, (size_t)len, "%s", S.dev.name);
		else
			r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS)
		snprintf(out, sizeof out, " name=\"%.*s\"", len, name);
	LOGR(r, out, "cuDeviceGetName(%d, %d)", len, dev);
	return r;
}

/*
 * Attribute values of the virtual device.  Numbers are CUdevice_attribute
 * values from cuda.h; the values are plausible for a Hopper-class part.
 * Anything not listed reads as 0 with CUDA_SUCCESS, as newer drivers do for
 * attributes that do not apply.
 */
static int attr_value(int attr, CUdevice dev)
{
	switch (attr) {
	case 1: return 1024;        /* MAX_THREADS_PER_BLOCK */
	case 2: case 3: return 1024; /* MAX_BLOCK_DIM_X/Y */
	case 4: return 64;          /* MAX_BLOCK_DIM_Z */
	case 5: return 2147483647;  /* MAX_GRID_DIM_X */
	case 6: case 7: return 65535; /* MAX_GRID_DIM_Y/Z */
	case 8: return 49152;       /* MAX_SHARED_MEMORY_PER_BLOCK */
	case 9: return 65536;       /* TOTAL_CONSTANT_MEMORY */
	case 10: return 32;         /* WARP_SIZE */
	case 12: return 65536;      /* MAX_REGISTERS_PER_BLOCK */
	case 13: return 1980000;    /* CLOCK_RATE (kHz) */
	case 16: return 132;        /* MULTIPROCESSOR_COUNT */
	case 18: return 0;          /* INTEGRATED */
	case 19: return 1;          /* CAN_MAP_HOST_MEMORY */
	case 31: return 1;          /* CONCURRENT_KERNELS */
	case 33: return (int)shim_dev_bus(&S.dev, dev); /* PCI_BUS_ID */
	case 34: return (int)S.dev.device;              /* PCI_DEVICE_ID */
	case 50: return (int)S.dev.domain;              /* PCI_DOMAIN_ID */
	case 39: return 2048;       /* MAX_THREADS_PER_MULTIPROCESSOR */
	case 41: return 1;          /* UNIFIED_ADDRESSING */
	case 75: return S.dev.cc_major; /* COMPUTE_CAPABILITY_MAJOR */
	case 76: return S.dev.cc_minor; /* COMPUTE_CAPABILITY_MINOR */
	case 83: return 1;          /* MANAGED_MEMORY */
	case 97: return 232448;     /* MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
	/* VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: 0, so callers (ggml) do not try
	 * the cuMem* VMM path, which virtual mode cannot serve. */
	case 102: return 0;
	default: return 0;
	}
}

SHIM_EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	CUresult r;
	char out[32] = "";
	if (passthrough())
		FORWARD(r, cuDeviceGetAttribute, (int *, CUdevice_attribute, CUdevice), (pi, attrib, dev));
	else if ((r = ready_dev(dev)) == CUDA_SUCCESS) {
		if (pi)
			*pi = attr_value(attrib, dev);
		else
			r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS)
		snprintf(out, sizeof out, " value=%d", *pi);
	LOGR(r, out, "cuDeviceGetAttribute(%d, %d)", attrib, dev);
	return r;
}

SHIM_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	CUresult r;
	char out[40] = "";
	if (passthrough())
		FORWARD(r, cuDeviceTotalMem_v2, (size_t *, CUdevice), (bytes, dev));
	else if ((r = ready_dev(dev)) == CUDA_SUCCESS) {
		if (bytes)
			*bytes = (size_t)S.dev.memory;
		else
			r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS)
		snprintf(out, sizeof out, " bytes=%zu", *bytes);
	LOGR(r, out, "cuDeviceTotalMem_v2(%d)", dev);
	return r;
}

/* The unsuffixed export is the CUDA 3.1-era ABI with a 32-bit result. */
SHIM_EXPORT CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
	CUresult r;
	char out[40] = "";
	if (passthrough())
		FORWARD(r, cuDeviceTotalMem, (unsigned int *, CUdevice), (bytes, dev));
	else if ((r = ready_dev(dev)) == CUDA_SUCCESS) {
		if (bytes) /* clamp: 80G does not fit the legacy 32-bit field */
			*bytes = S.dev.memory > UINT_MAX ? UINT_MAX : (unsigned)S.dev.memory;
		else
			r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS)
		snprintf(out, sizeof out, " bytes=%u", *bytes);
	LOGR(r, out, "cuDeviceTotalMem(%d)", dev);
	return r;
}

static CUresult v_uuid(CUuuid *uuid, CUdevice dev)
{
	CUresult r = ready_dev(dev);
	if (r == CUDA_SUCCESS && !uuid)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		shim_dev_uuid(&S.dev, dev, (unsigned char *)uuid->bytes);
	return r;
}

static void uuid_out(char *out, size_t len, CUresult r, const CUuuid *u)
{
	const unsigned char *b = (const unsigned char *)u->bytes;
	if (r != CUDA_SUCCESS)
		return;
	int n = snprintf(out, len, " uuid=");
	for (int i = 0; i < 16 && n > 0 && (size_t)n < len; i++)
		n += snprintf(out + n, len - (size_t)n, "%02x", b[i]);
}

SHIM_EXPORT CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	CUresult r;
	char out[48] = "";
	if (passthrough())
		FORWARD(r, cuDeviceGetUuid, (CUuuid *, CUdevice), (uuid, dev));
	else
		r = v_uuid(uuid, dev);
	uuid_out(out, sizeof out, r, uuid);
	LOGR(r, out, "cuDeviceGetUuid(%d)", dev);
	return r;
}

SHIM_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
	CUresult r;
	char out[48] = "";
	if (passthrough())
		FORWARD(r, cuDeviceGetUuid_v2, (CUuuid *, CUdevice), (uuid, dev));
	else
		r = v_uuid(uuid, dev);
	uuid_out(out, sizeof out, r, uuid);
	LOGR(r, out, "cuDeviceGetUuid_v2(%d)", dev);
	return r;
}

SHIM_EXPORT CUresult cuDeviceGetPCIBusId(char *busid, int len, CUdevice dev)
{
	CUresult r;
	char out[64] = "";
	if (passthrough())
		FORWARD(r, cuDeviceGetPCIBusId, (char *, int, CUdevice), (busid, len, dev));
	else if ((r = ready_dev(dev)) == CUDA_SUCCESS) {
		/* The driver API uses the short "%04x:..." form (NVML has %08x). */
		if (busid && len > 0)
			snprintf(busid, (size_t)len, "%04x:%02x:%02x.%x", S.dev.domain,
				 shim_dev_bus(&S.dev, dev), S.dev.device, S.dev.function);
		else
			r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS)
		snprintf(out, sizeof out, " busid=%.*s", len, busid);
	LOGR(r, out, "cuDeviceGetPCIBusId(%d, %d)", len, dev);
	return r;
}

static CUresult v_err(CUresult error, const char **pstr, int want_name)
{
	if (!pstr)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == error) {
			*pstr = want_name ? errs[i].name : errs[i].desc;
			return CUDA_SUCCESS;
		}
	*pstr = NULL; /* as the real driver does for unknown codes */
	return CUDA_ERROR_INVALID_VALUE;
}

/* Pure table look-ups: these work before cuInit and with a refused driver. */
SHIM_EXPORT CUresult cuGetErrorString(CUresult error, const char **pstr)
{
	CUresult r;
	if (passthrough())
		FORWARD(r, cuGetErrorString, (CUresult, const char **), (error, pstr));
	else
		r = v_err(error, pstr, 0);
	LOGR(r, "", "cuGetErrorString(%d)", error);
	return r;
}

SHIM_EXPORT CUresult cuGetErrorName(CUresult error, const char **pstr)
{
	CUresult r;
	if (passthrough())
		FORWARD(r, cuGetErrorName, (CUresult, const char **), (error, pstr));
	else
		r = v_err(error, pstr, 1);
	LOGR(r, "", "cuGetErrorName(%d)", error);
	return r;
}

/*
 * libcudart fetches private function tables through this undocumented call.
 * Virtual mode has nothing to give, so it says NOT_SUPPORTED; the table id
 * is logged so that one can see what a runtime asked for.
 */
SHIM_EXPORT CUresult cuGetExportTable(const void **table, const CUuuid *id)
{
	CUresult r;
	char ids[40] = "(null)";
	if (id)
		uuid_out(ids, sizeof ids, CUDA_SUCCESS, id);
	if (passthrough())
		FORWARD(r, cuGetExportTable, (const void **, const CUuuid *), (table, id));
	else {
		if (table)
			*table = NULL;
		r = CUDA_ERROR_NOT_SUPPORTED;
	}
	LOGR(r, "", "cuGetExportTable(%s)", ids[0] == ' ' ? ids + 6 : ids);
	return r;
}

/* ---- everything else virtual mode exports: logged NOT_SUPPORTED ---- */
/*
 * Each stub keeps the exact driver prototype so passthrough can forward it.
 * The set covers every cu* symbol that libggml-cuda.so imports (CUDA 12 and
 * 13 builds) plus common context/memory entry points.
 */
#define UNSUPPORTED(name, proto, args, fmt, ...)                               \
	SHIM_EXPORT CUresult name proto                                         \
	{                                                                       \
		CUresult r;                                                     \
		if (passthrough())                                              \
			FORWARD(r, name, proto, args);                          \
		else if ((r = ready()) == CUDA_SUCCESS)                         \
			r = CUDA_ERROR_NOT_SUPPORTED;                           \
		LOGR(r, "", #name "(" fmt ")", ##__VA_ARGS__);                  \
		return r;                                                       \
	}

UNSUPPORTED(cuMemAddressReserve, (CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr, unsigned long long flags),
	    (ptr, size, align, addr, flags), "%zu, %zu, %#llx, %#llx", size, align, addr, flags)
UNSUPPORTED(cuMemAddressFree, (CUdeviceptr ptr, size_t size), (ptr, size), "%#llx, %zu", ptr, size)
UNSUPPORTED(cuMemCreate, (CUmemGenericAllocationHandle *h, size_t size, const CUmemAllocationProp *prop, unsigned long long flags),
	    (h, size, prop, flags), "%zu, %#llx", size, flags)
UNSUPPORTED(cuMemRelease, (CUmemGenericAllocationHandle h), (h), "%#llx", h)
UNSUPPORTED(cuMemMap, (CUdeviceptr ptr, size_t size, size_t off, CUmemGenericAllocationHandle h, unsigned long long flags),
	    (ptr, size, off, h, flags), "%#llx, %zu, %zu, %#llx, %#llx", ptr, size, off, h, flags)
UNSUPPORTED(cuMemUnmap, (CUdeviceptr ptr, size_t size), (ptr, size), "%#llx, %zu", ptr, size)
UNSUPPORTED(cuMemSetAccess, (CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count),
	    (ptr, size, desc, count), "%#llx, %zu, %zu", ptr, size, count)
UNSUPPORTED(cuMemGetAllocationGranularity, (size_t *gran, const CUmemAllocationProp *prop, CUmemAllocationGranularity_flags opt),
	    (gran, prop, opt), "%d", opt)
UNSUPPORTED(cuMemAlloc_v2, (CUdeviceptr *dptr, size_t size), (dptr, size), "%zu", size)
UNSUPPORTED(cuMemFree_v2, (CUdeviceptr dptr), (dptr), "%#llx", dptr)
UNSUPPORTED(cuMemGetInfo_v2, (size_t *free_b, size_t *total_b), (free_b, total_b), "")
UNSUPPORTED(cuCtxGetCurrent, (CUcontext *pctx), (pctx), "")
UNSUPPORTED(cuCtxSetCurrent, (CUcontext ctx), (ctx), "%p", (void *)ctx)
UNSUPPORTED(cuCtxGetDevice, (CUdevice *dev), (dev), "")
UNSUPPORTED(cuCtxSynchronize, (void), (), "")
UNSUPPORTED(cuDevicePrimaryCtxRetain, (CUcontext *pctx, CUdevice dev), (pctx, dev), "%d", dev)
UNSUPPORTED(cuDevicePrimaryCtxRelease_v2, (CUdevice dev), (dev), "%d", dev)
UNSUPPORTED(cuDevicePrimaryCtxGetState, (CUdevice dev, unsigned int *flags, int *active), (dev, flags, active), "%d", dev)

/* ---- cuGetProcAddress ---- */
SHIM_EXPORT CUresult cuGetProcAddress(const char *, void **, int, cuuint64_t);
SHIM_EXPORT CUresult cuGetProcAddress_v2(const char *, void **, int, cuuint64_t,
					 CUdriverProcAddressQueryResult *);

/*
 * (base name, CUDA version that introduced this ABI, implementation).  The
 * real driver resolves a base name to the newest ABI not newer than the
 * caller's cudaVersion; e.g. "cuDeviceTotalMem" at 12000 is the _v2.
 */
static const struct { const char *name; int since; void *fn; } procs[] = {
#define P(n, v, f) { n, v, (void *)f }
	P("cuInit", 2000, cuInit),
	P("cuDriverGetVersion", 2020, cuDriverGetVersion),
	P("cuDeviceGet", 2000, cuDeviceGet),
	P("cuDeviceGetCount", 2000, cuDeviceGetCount),
	P("cuDeviceGetName", 2000, cuDeviceGetName),
	P("cuDeviceGetAttribute", 2000, cuDeviceGetAttribute),
	P("cuDeviceTotalMem", 2000, cuDeviceTotalMem),
	P("cuDeviceTotalMem", 3020, cuDeviceTotalMem_v2),
	P("cuDeviceGetUuid", 9020, cuDeviceGetUuid),
	P("cuDeviceGetUuid", 11040, cuDeviceGetUuid_v2),
	P("cuDeviceGetPCIBusId", 4010, cuDeviceGetPCIBusId),
	P("cuGetErrorString", 6000, cuGetErrorString),
	P("cuGetErrorName", 6000, cuGetErrorName),
	P("cuGetExportTable", 3000, cuGetExportTable),
	P("cuGetProcAddress", 11030, cuGetProcAddress),
	P("cuGetProcAddress", 12000, cuGetProcAddress_v2),
	P("cuMemAddressReserve", 10020, cuMemAddressReserve),
	P("cuMemAddressFree", 10020, cuMemAddressFree),
	P("cuMemCreate", 10020, cuMemCreate),
	P("cuMemRelease", 10020, cuMemRelease),
	P("cuMemMap", 10020, cuMemMap),
	P("cuMemUnmap", 10020, cuMemUnmap),
	P("cuMemSetAccess", 10020, cuMemSetAccess),
	P("cuMemGetAllocationGranularity", 10020, cuMemGetAllocationGranularity),
	P("cuMemAlloc", 3020, cuMemAlloc_v2),
	P("cuMemFree", 3020, cuMemFree_v2),
	P("cuMemGetInfo", 3020, cuMemGetInfo_v2),
	P("cuCtxGetCurrent", 4000, cuCtxGetCurrent),
	P("cuCtxSetCurrent", 4000, cuCtxSetCurrent),
	P("cuCtxGetDevice", 2000, cuCtxGetDevice),
	P("cuCtxSynchronize", 2000, cuCtxSynchronize),
	P("cuDevicePrimaryCtxRetain", 7000, cuDevicePrimaryCtxRetain),
	/* v1 (7000) and v2 (11000) share a prototype; one stub serves both */
	P("cuDevicePrimaryCtxRelease", 7000, cuDevicePrimaryCtxRelease_v2),
	P("cuDevicePrimaryCtxGetState", 7000, cuDevicePrimaryCtxGetState),
#undef P
};

static CUresult v_proc(const char *sym, void **pfn, int ver,
		       CUdriverProcAddressQueryResult *status)
{
	int seen = 0, best = -1;
	if (!sym || !pfn)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++) {
		if (strcmp(procs[i].name, sym) != 0)
			continue;
		seen = 1;
		if (procs[i].since <= ver && (best < 0 || procs[i].since > procs[best].since))
			best = (int)i;
	}
	*pfn = best >= 0 ? procs[best].fn : NULL;
	if (status)
		*status = best >= 0 ? CU_GET_PROC_ADDRESS_SUCCESS
			: seen ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
			       : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	return best >= 0 ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

/*
 * Passthrough forwards and logs only the look-up: the pointers handed out
 * are the real driver's, so calls made through them bypass the shim.
 */
SHIM_EXPORT CUresult cuGetProcAddress_v2(const char *sym, void **pfn, int ver,
					 cuuint64_t flags,
					 CUdriverProcAddressQueryResult *status)
{
	CUresult r;
	char out[64] = "";
	if (passthrough())
		FORWARD(r, cuGetProcAddress_v2,
			(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *),
			(sym, pfn, ver, flags, status));
	else
		r = v_proc(sym, pfn, ver, status);
	if (pfn)
		snprintf(out, sizeof out, " pfn=%p status=%d", *pfn, status ? *status : -1);
	LOGR(r, out, "cuGetProcAddress_v2(\"%s\", %d, %llu)", sym ? sym : "(null)", ver, flags);
	return r;
}

SHIM_EXPORT CUresult cuGetProcAddress(const char *sym, void **pfn, int ver, cuuint64_t flags)
{
	CUresult r;
	char out[48] = "";
	if (passthrough())
		FORWARD(r, cuGetProcAddress, (const char *, void **, int, cuuint64_t),
			(sym, pfn, ver, flags));
	else
		r = v_proc(sym, pfn, ver, NULL);
	if (pfn)
		snprintf(out, sizeof out, " pfn=%p", *pfn);
	LOGR(r, out, "cuGetProcAddress(\"%s\", %d, %llu)", sym ? sym : "(null)", ver, flags);
	return r;
}
