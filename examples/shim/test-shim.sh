#!/bin/bash
# test-shim.sh - build and test the example vgpu-run shims.  Exits non-zero on
# any failure.  Usage: ./test-shim.sh   (no GPU needed)
#
# Optional inputs (skipped with a SKIP line when absent):
#   GGML_CUDA_LIBS  space-separated libggml-cuda.so paths (test 4)
#   CUDA_STUB       real NVIDIA stub libcuda.so (test 5)
set -u
cd "$(dirname "$(readlink -f "$0")")"
SRC=$PWD
B=${SHIM_BUILD:-$SRC/build}
FIX=$SRC/../../tests/fixtures/ggml/node_modules/@node-llama-cpp
GGML_CUDA_LIBS=${GGML_CUDA_LIBS:-"$FIX/linux-x64-cuda/bins/linux-x64-cuda/libggml-cuda.so $FIX/linux-x64-cuda-ext/bins/linux-x64-cuda/fallback/libggml-cuda.so"}
CUDA_STUB=${CUDA_STUB:-/usr/local/cuda/lib64/stubs/libcuda.so}

fail=0
pass() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
# Keep only the VGPU_* variables a case sets explicitly.
unset $(env | sed -n 's/^\(VGPU_[A-Z_]*\)=.*/\1/p')

echo "== 1. build"
rm -rf "$B" && mkdir -p "$B"
CFLAGS="-std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -fvisibility=hidden"
set -x
gcc $CFLAGS -shared -Wl,-z,defs -Wl,-soname,libcuda.so.1 -o "$B/libcuda.so.1" cuda-shim.c shim-common.c -ldl -pthread || exit 1
gcc $CFLAGS -shared -Wl,-z,defs -Wl,-soname,libnvidia-ml.so.1 -o "$B/libnvidia-ml.so.1" nvml-shim.c shim-common.c -ldl -pthread || exit 1
gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -o "$B/test-shim" test-shim.c -ldl -pthread || exit 1
{ set +x; } 2>/dev/null
pass "gcc build, -Wall -Wextra -Werror"

if command -v meson >/dev/null && command -v ninja >/dev/null; then
	M=$(mktemp -d /tmp/shim-meson.XXXXXX)
	mkdir -p "$M/shim"
	cp cuda-shim.c nvml-shim.c shim-common.c shim-common.h meson.build "$M/shim/"
	printf "project('shimtest', 'c', default_options: ['c_std=gnu11', 'warning_level=2', 'werror=true'])\nsubdir('shim')\n" >"$M/meson.build"
	if (cd "$M" && meson setup build >setup.log 2>&1 && ninja -C build >ninja.log 2>&1); then
		for l in libcuda.so.1 libnvidia-ml.so.1; do
			f="$M/build/shim/$l"
			if [ -f "$f" ] && [ ! -L "$f" ] && readelf -d "$f" | grep -q "Library soname: \[$l\]"; then
				pass "meson $(meson --version): real file shim/$l with SONAME $l"
			else
				bad "meson output $l missing or wrong SONAME"; ls -l "$M/build/shim"
			fi
		done
	else
		bad "meson build failed"; cat "$M"/*.log
	fi
	rm -rf "$M"
else
	echo "SKIP: meson/ninja not installed"
fi

echo "== 2. SONAME"
for l in libcuda.so.1 libnvidia-ml.so.1; do
	s=$(readelf -d "$B/$l" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
	[ "$s" = "$l" ] && pass "readelf -d $l: SONAME $s" || bad "$l SONAME is '$s'"
done

# run NAME CMD... : run a test-shim case, show its output, count its failures
run() {
	local name=$1; shift
	echo "-- $name"
	"$@"; local rc=$?
	[ $rc -eq 0 ] || bad "$name exited $rc"
}
# Normalise the PID field so log lines can be compared exactly.
norm() { sed -E 's/^([^ ]+) [0-9]+ /\1 PID /' "$1"; }
expect_line() { # FILE LINE
	if norm "$1" | grep -Fxq -- "$2"; then pass "log line: $2"; else bad "log line missing: $2"; fi
}
expect_count() { # FILE ERE N
	local n; n=$(norm "$1" | grep -Ec -- "$2")
	[ "$n" -eq "$3" ] && pass "log has $3 line(s) matching /$2/" || bad "log has $n line(s) matching /$2/, want $3"
}

echo "== 3. virtual mode"
L=$B/virtual.log
VGPU_SHIM_LOG=$L run cuda-default "$B/test-shim" cuda-default "$B/libcuda.so.1"
expect_line "$L" "libcuda.so.1 PID virtual config devices=1 name=\"vgpu-run virtual GPU\" cc=9.0 memory=85899345920 pci=00000000:01:00.0 uuid=GPU-76677075-2d72-756e-2d73-68696d000000"
expect_line "$L" "libcuda.so.1 PID virtual start real=(none)"
expect_line "$L" "libcuda.so.1 PID virtual cuDeviceGetCount() = 3 CUDA_ERROR_NOT_INITIALIZED"
expect_line "$L" "libcuda.so.1 PID virtual cuInit(0) = 0 CUDA_SUCCESS"
expect_line "$L" "libcuda.so.1 PID virtual cuDeviceGetCount() = 0 CUDA_SUCCESS count=1"
expect_line "$L" "libcuda.so.1 PID virtual cuDeviceGetName(256, 0) = 0 CUDA_SUCCESS name=\"vgpu-run virtual GPU\""
expect_line "$L" "libcuda.so.1 PID virtual cuDeviceTotalMem_v2(0) = 0 CUDA_SUCCESS bytes=85899345920"
expect_line "$L" "libcuda.so.1 PID virtual cuDeviceGetPCIBusId(256, 0) = 0 CUDA_SUCCESS busid=0000:01:00.0"
expect_line "$L" "libcuda.so.1 PID virtual cuDeviceGetUuid_v2(0) = 0 CUDA_SUCCESS uuid=766770752d72756e2d7368696d000000"
expect_line "$L" "libcuda.so.1 PID virtual cuGetProcAddress_v2(\"cuNoSuch\", 13000, 0) = 500 CUDA_ERROR_NOT_FOUND pfn=(nil) status=1"
expect_line "$L" "libcuda.so.1 PID virtual cuGetExportTable(6bd5fb6c5bf4e74a8987d93912fd9df9) = 801 CUDA_ERROR_NOT_SUPPORTED"
expect_line "$L" "libcuda.so.1 PID virtual cuMemCreate(2097152, 0) = 801 CUDA_ERROR_NOT_SUPPORTED"
expect_count "$L" "^libcuda\.so\.1 PID virtual cuGetProcAddress_v2\(\"cuDeviceGetCount\", 13000, 0\) = 0 CUDA_SUCCESS pfn=0x[0-9a-f]+ status=0$" 1

# custom device: two GPUs, every VGPU_SHIM_* variable set
CUSTOM=(VGPU_SHIM_MODE=virtual VGPU_SHIM_DEVICE_COUNT=2 "VGPU_SHIM_DEVICE_NAME=Test GPU X"
	VGPU_SHIM_CC=8.6 VGPU_SHIM_MEMORY=24G VGPU_SHIM_PCI_BUS_ID=0000:0a:00.0
	VGPU_SHIM_UUID=GPU-11111111-2222-3333-4444-555555555555)
L=$B/custom.log
run cuda-custom env "${CUSTOM[@]}" VGPU_SHIM_LOG="$L" "$B/test-shim" cuda-custom "$B/libcuda.so.1"
expect_line "$L" "libcuda.so.1 PID virtual cuDeviceGetCount() = 0 CUDA_SUCCESS count=2"
expect_line "$L" "libcuda.so.1 PID virtual cuDeviceGetAttribute(75, 0) = 0 CUDA_SUCCESS value=8"
run nvml-default env VGPU_SHIM_LOG="$B/nvml.log" "$B/test-shim" nvml-default "$B/libnvidia-ml.so.1"
expect_line "$B/nvml.log" "libnvidia-ml.so.1 PID virtual start real=(none)"
expect_line "$B/nvml.log" "libnvidia-ml.so.1 PID virtual nvmlDeviceGetPciInfo_v3(0) = 0 NVML_SUCCESS busId=00000000:01:00.0"
run nvml-custom env "${CUSTOM[@]}" "$B/test-shim" nvml-custom "$B/libnvidia-ml.so.1"

# Without VGPU_SHIM_LOG the shim must write nothing, stderr included.
"$B/test-shim" cuda-default "$B/libcuda.so.1" >/dev/null 2>"$B/quiet.err"
[ ! -s "$B/quiet.err" ] && pass "no VGPU_SHIM_LOG: nothing written to stderr" || bad "shim wrote to stderr: $(cat "$B/quiet.err")"
# A bad value is logged and replaced by its default.
VGPU_SHIM_LOG=$B/badcfg.log VGPU_SHIM_MEMORY=lots "$B/test-shim" cuda-default "$B/libcuda.so.1" >/dev/null
expect_line "$B/badcfg.log" "libcuda.so.1 PID virtual config VGPU_SHIM_MEMORY=lots invalid, using 85899345920"

echo "== 4. real ggml CUDA backend loaded against the virtual shim"
for G in $GGML_CUDA_LIBS; do
	[ -f "$G" ] || { echo "SKIP: $G not present"; continue; }
	missing=$(nm -D --undefined-only "$G" | awk '$2 ~ /^cu[A-Z]/ {print $2}' | while read -r s; do
		nm -D --defined-only "$B/libcuda.so.1" | awk '{print $3}' | grep -qx "$s" || echo "$s"; done)
	[ -z "$missing" ] && pass "shim exports every cu* import of $G" || bad "shim lacks: $missing"
	if ! LD_LIBRARY_PATH=$B ldd "$G" 2>/dev/null | grep -q 'libcudart.*not found'; then
		L=$B/ggml.log; rm -f "$L"
		LD_LIBRARY_PATH=$B VGPU_SHIM_LOG=$L timeout 120 "$B/test-shim" ggml "$G" 2>"$B/ggml.err"
		rc=$?
		[ $rc -eq 0 ] && pass "ggml case exit 0 (no crash, no hang)" || bad "ggml case exit $rc"
		echo "ggml stderr: $(cat "$B/ggml.err")"
		grep -Fq "ggml_cuda_init: failed to initialize CUDA: operation not supported" "$B/ggml.err" &&
			pass "ggml stderr: ggml_cuda_init: failed to initialize CUDA: operation not supported" ||
			bad "unexpected ggml stderr"
		expect_line "$L" "libcuda.so.1 PID virtual cuInit(0) = 0 CUDA_SUCCESS"
		expect_line "$L" "libcuda.so.1 PID virtual cuGetExportTable(6bd5fb6c5bf4e74a8987d93912fd9df9) = 801 CUDA_ERROR_NOT_SUPPORTED"
		echo "INFO: cudart made $(grep -c cuGetProcAddress "$L") cuGetProcAddress look-ups, $(grep -c 'cuGetProcAddress.* = 0 ' "$L") answered"
		if [ -f "$CUDA_STUB" ]; then # same backend, passthrough to the NVIDIA stub
			L=$B/ggml-stub.log; rm -f "$L"
			VGPU_REAL_LIBCUDA=$CUDA_STUB LD_LIBRARY_PATH=$B VGPU_SHIM_LOG=$L timeout 120 \
				"$B/test-shim" ggml "$G" >/dev/null 2>"$B/ggml-stub.err"
			rc=$?
			echo "ggml stderr (passthrough to stub): $(cat "$B/ggml-stub.err")"
			[ $rc -eq 0 ] && grep -Fq "ggml_cuda_init: failed to initialize CUDA: CUDA driver is a stub library" "$B/ggml-stub.err" &&
				pass "ggml via passthrough to stub: clean failure, CUDA driver is a stub library" ||
				bad "ggml via passthrough to stub: exit $rc"
			expect_line "$L" "libcuda.so.1 PID passthrough cuGetExportTable(f8cff95121468b4eb9e2fb469e7c0dd9) = 34 CUDA_ERROR_STUB_LIBRARY"
		fi
	else
		echo "SKIP: RTLD_NOW load of $G (its libcudart is not installed: $(LD_LIBRARY_PATH=$B ldd "$G" | grep 'not found' | awk '{print $1}' | tr '\n' ' '))"
	fi
done

echo "== 5. passthrough"
if [ -f "$CUDA_STUB" ]; then
	L=$B/stub.log
	run cuda-stub env VGPU_REAL_LIBCUDA="$CUDA_STUB" VGPU_SHIM_MODE=passthrough VGPU_SHIM_LOG="$L" \
		"$B/test-shim" cuda-init "$B/libcuda.so.1" 34
	expect_line "$L" "libcuda.so.1 PID passthrough start real=$CUDA_STUB"
	expect_line "$L" "libcuda.so.1 PID passthrough cuInit(0) = 34 CUDA_ERROR_STUB_LIBRARY"
	# default mode with VGPU_REAL_LIBCUDA set is passthrough
	L=$B/stub-default.log
	run cuda-stub-default env VGPU_REAL_LIBCUDA="$CUDA_STUB" VGPU_SHIM_LOG="$L" \
		"$B/test-shim" cuda-init "$B/libcuda.so.1" 34
	expect_line "$L" "libcuda.so.1 PID passthrough start real=$CUDA_STUB"
else
	echo "SKIP: $CUDA_STUB not present"
fi
ln -sf libcuda.so.1 "$B/self-link.so"
cp "$B/libcuda.so.1" "$B/copy-of-shim.so"
for T in "self:$B/libcuda.so.1:same file as this shim ($B/libcuda.so.1)" \
	 "symlink:$B/self-link.so:same file as this shim ($B/libcuda.so.1)" \
	 "relative:build/libcuda.so.1:path is not absolute" \
	 "absent:/nonexistent/libcuda.so:stat failed: No such file or directory"; do
	IFS=: read -r name path reason <<<"$T"
	L=$B/refused-$name.log
	run "refused-$name" env VGPU_REAL_LIBCUDA="$path" VGPU_SHIM_MODE=passthrough VGPU_SHIM_LOG="$L" \
		timeout 20 "$B/test-shim" cuda-init "$B/libcuda.so.1" 100
	expect_line "$L" "libcuda.so.1 PID passthrough refused real=$path reason=$reason"
	expect_line "$L" "libcuda.so.1 PID passthrough start real=(none)"
	expect_line "$L" "libcuda.so.1 PID passthrough cuInit(0) = 100 CUDA_ERROR_NO_DEVICE"
	expect_line "$L" "libcuda.so.1 PID passthrough cuDeviceGetCount() = 3 CUDA_ERROR_NOT_INITIALIZED"
done
# A copy of the shim (other inode) loads, but refuses itself: no recursion.
L=$B/refused-copy.log
run refused-copy env VGPU_REAL_LIBCUDA="$B/copy-of-shim.so" VGPU_SHIM_LOG="$L" \
	timeout 20 "$B/test-shim" cuda-init "$B/libcuda.so.1" 100
expect_line "$L" "libcuda.so.1 PID passthrough start real=$B/copy-of-shim.so"
expect_line "$L" "libcuda.so.1 PID passthrough refused real=$B/copy-of-shim.so reason=same file as this shim ($B/copy-of-shim.so)"
expect_count "$L" "cuInit\(0\) = 100 CUDA_ERROR_NO_DEVICE$" 2

# NVML passthrough against a minimal fake "real" library (no NVML stub here).
mkdir -p "$B/fake"
cat >"$B/fake/fake-nvml.c" <<'EOF'
int nvmlInit_v2(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned *n) { *n = 3; return 0; }
EOF
gcc -shared -fPIC -o "$B/fake/libnvidia-ml-fake.so" "$B/fake/fake-nvml.c"
L=$B/nvml-pt.log
run nvml-passthrough env VGPU_REAL_LIBNVIDIA_ML="$B/fake/libnvidia-ml-fake.so" VGPU_SHIM_LOG="$L" \
	"$B/test-shim" nvml-init "$B/libnvidia-ml.so.1" 0 3
expect_line "$L" "libnvidia-ml.so.1 PID passthrough start real=$B/fake/libnvidia-ml-fake.so"
expect_line "$L" "libnvidia-ml.so.1 PID passthrough nvmlDeviceGetCount_v2() = 0 NVML_SUCCESS count=3"
L=$B/nvml-refused.log
run nvml-refused env VGPU_REAL_LIBNVIDIA_ML="$B/libnvidia-ml.so.1" VGPU_SHIM_LOG="$L" \
	"$B/test-shim" nvml-init "$B/libnvidia-ml.so.1" 9
expect_line "$L" "libnvidia-ml.so.1 PID passthrough refused real=$B/libnvidia-ml.so.1 reason=same file as this shim ($B/libnvidia-ml.so.1)"
expect_line "$L" "libnvidia-ml.so.1 PID passthrough nvmlInit_v2() = 9 NVML_ERROR_DRIVER_NOT_LOADED"

echo "== 6. threads"
for i in 1 2 3 4 5; do
	L=$B/threads.log; rm -f "$L"
	run "threads#$i" env VGPU_SHIM_LOG="$L" "$B/test-shim" threads "$B/libcuda.so.1" 0 >"$B/threads.out"
	grep -c '^PASS' "$B/threads.out" | grep -qx 9 || { cat "$B/threads.out"; bad "threads#$i"; }
	expect_count "$L" "^libcuda\.so\.1 PID virtual start real=\(none\)$" 1
	expect_count "$L" "^libcuda\.so\.1 PID virtual cuInit\(0\) = 0 CUDA_SUCCESS$" 8
done

echo
if [ $fail -eq 0 ]; then echo "ALL TESTS PASSED"; else echo "SOME TESTS FAILED"; fi
exit $fail
