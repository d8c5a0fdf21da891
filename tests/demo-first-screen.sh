#!/bin/sh
# The first screen of the demo (README's first set-up command): its first
# ten lines must say what the server ended up using, every directory's
# verdict with its cause, and what to do about cuda_v12 and cuda_v13.
# Compared with tests/data/reports/demo-first-screen.txt (or, on a machine
# without the CUDA 13 runtime, where cuda_v13 stops at libcudart.so.13,
# demo-first-screen-no-cudart13.txt), with the build directory, the shim's
# temporary directory and the machine-dependent count of paths tried
# normalised.
#   demo-first-screen.sh SOURCE_ROOT BUILD_DIR
set -eu
# as README's command runs it, in a plain shell: meson's test environment
# puts the shims' build directory on LD_LIBRARY_PATH (the test depends on
# them) and perturbs malloc
unset LD_LIBRARY_PATH MALLOC_PERTURB_
src=$1
build=$2
cd "$src"
out=$(scripts/demo "$build" 2>&1) || { echo "$out" >&2; echo "demo-first-screen: the demo failed" >&2; exit 1; }
head -n 10 "$build/demo-report.txt" |
	sed -E -e "s#$(cd "$build" && pwd)#BUILD#g" -e 's#/tmp/tmp\.[A-Za-z0-9]+#SHIMDIR#g' \
		-e 's/[0-9]+ paths tried/N paths tried/' >"$build/demo-first-screen.txt"
cudart13=$(ldconfig -p 2>/dev/null | sed -n 's/^[[:space:]]*libcudart\.so\.13 (.*) => //p' | head -n 1)
golden=demo-first-screen.txt
[ -n "$cudart13" ] && [ -e "$cudart13" ] || golden=demo-first-screen-no-cudart13.txt
diff -u "$src/tests/data/reports/$golden" "$build/demo-first-screen.txt"
