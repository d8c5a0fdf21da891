#!/bin/sh
# A file that stalls every read (a hung network file system, a FUSE daemon
# held at a ptrace stop) must not stall vgpu-run, and with it every traced
# process: each look at a file a tracee names has a time limit
# (src/observe/files.h).  The traced program opens a library on a FUSE file
# system whose reads never return; vgpu-run must end with the program's
# exit status in seconds, its trace saying ETIMEDOUT for the file.
#
# Usage: stall-fs.sh VGPU_RUN TRACEE STALL_FS
set -eu
vr=$1
tracee=$2
stallfs=$3

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
	echo "SKIP: needs root and /dev/fuse"
	exit 77
fi
work=$(mktemp -d /tmp/vgpu-stall-XXXXXX)
mkdir "$work/mnt"
"$stallfs" "$work/mnt" -f &
fs=$!
vr_pid=
cleanup() {
	[ -z "$vr_pid" ] || kill -9 "$vr_pid" 2>/dev/null || :
	kill "$fs" 2>/dev/null || :
	umount -l "$work/mnt" 2>/dev/null || :
	wait "$fs" 2>/dev/null || :
	rm -rf "$work"
}
trap cleanup EXIT
i=0
until [ -e "$work/mnt/libggml-stall.so" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$fs" 2>/dev/null; then
		echo "SKIP: cannot mount a FUSE file system here"
		exit 77
	fi
	sleep 0.1
done

# The program ends at once; vgpu-run's work (the trace's last event,
# "stats") is done within a few of its 2 s limits, long before the read
# stalled for 20 s answers.  Its process ends only then: the kernel holds
# the exit of a thread whose read the server has taken, as for any process.
lib=$work/mnt/libggml-stall.so
start=$(date +%s)
"$vr" -q -t "$work/t.jsonl" -- "$tracee" open-nonblock "$lib" &
vr_pid=$!
until grep -q '"event":"stats"' "$work/t.jsonl" 2>/dev/null; do
	if [ $(($(date +%s) - start)) -gt 15 ]; then
		echo "FAIL: vgpu-run did not finish its work within 15 s"
		exit 1
	fi
	sleep 0.2
done
echo "the trace ended after $(($(date +%s) - start))s"
rc=0
wait "$vr_pid" || rc=$?
vr_pid=
echo "vgpu-run ended with $rc after $(($(date +%s) - start))s"
[ "$rc" = 0 ] || { echo "FAIL: exit status $rc, not 0"; exit 1; }
grep -q "\"what\":\"elf\",\"path\":\"$lib\",\"error\":\"ETIMEDOUT\"" "$work/t.jsonl" ||
	{ echo "FAIL: no observe/elf event with ETIMEDOUT for $lib"; grep -F "$lib" "$work/t.jsonl"; exit 1; }
echo "ok: the stalled file is recorded as ETIMEDOUT"
