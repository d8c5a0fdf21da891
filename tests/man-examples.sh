#!/bin/sh
# Run every EXAMPLES line of the man pages, verbatim, against a demo
# Ollama-shaped install (the Go fixture on the real ggml libraries), and
# check what each one must give.  A man page example this script does not
# know fails the test: a new example lands with its check.
#
# Usage: man-examples.sh SOURCE_ROOT BUILD_ROOT OLLAMA_FIXTURE
set -eu
src=$1
build=$2
fixture=$3

work=$(mktemp -d /tmp/vgpu-man-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/run"
ln -s "$build/src/vgpu-run" "$build/src/vgpu-report" "$work/bin/"
"$src/scripts/make-ollama-install" "$fixture" "$work/oi" without cuda_v12 vulkan
ln -s "$work/oi/bin/ollama" "$work/bin/ollama"
PATH=$work/bin:$PATH
OLLAMA_HOST=127.0.0.1:0
export PATH OLLAMA_HOST
cd "$work/run"

fail() {
	echo "man-examples: $*" >&2
	exit 1
}

# The EXAMPLES lines (.Dl), with roff's \e back to a backslash.
examples() {
	for page in "$src"/man/*.[15]; do
		awk '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh/ { on = 0 } on && /^\.Dl / { sub(/^\.Dl /, ""); print }' "$page"
	done | sed 's/\\e/\\/g'
}

# A server example: start it in its own session, wait until the demo
# server has finished discovery (its report says so, or 20 s), then stop
# vgpu-run with SIGTERM as systemd would; leave its status in $rc.
serve() {
	setsid sh -c "$1" >out 2>err &
	pid=$!
	i=0
	while [ $i -lt 200 ]; do
		grep -q 'msg="inference compute"' err out 2>/dev/null && break
		[ -s report.json ] && grep -q '"cuda_v13"' report.json && break
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.5
	pkill -TERM -s "$pid" -x vgpu-run || true
	rc=0
	wait "$pid" || rc=$?
}

# Run LINE if MODE is "run"; with "know", only say whether it is covered.
example() {
	mode=$1
	line=$2
	rm -f out err
	case $line in
	'vgpu-run -o report.json -- ollama serve')
		[ "$mode" = run ] || return 0
		rm -f report.json
		serve "$line"
		[ "$rc" = 0 ] || fail "'$line' exited $rc"
		grep -q '"verdict":"loaded"' report.json || fail "'$line': no loaded directory in report.json"
		cp report.json before.json
		;;
	"vgpu-run -q -t trace.jsonl -- sh -c 'ls /etc | wc -l'")
		[ "$mode" = run ] || return 0
		sh -c "$line" >out 2>err || fail "'$line' exited $?"
		[ "$(cat out)" = "$(ls /etc | wc -l)" ] || fail "'$line' printed '$(cat out)'"
		[ ! -s err ] || fail "'$line' wrote to stderr: $(cat err)"
		head -1 trace.jsonl | grep -q '"event":"header"' || fail "'$line': trace.jsonl has no header"
		tail -1 trace.jsonl | grep -q '"event":"stats"' || fail "'$line': trace.jsonl does not end with stats"
		;;
	'vgpu-run --self-test')
		[ "$mode" = run ] || return 0
		sh -c "$line" >out 2>err || fail "'$line' exited $?"
		case $(head -1 out) in 'ptrace: ok'*) ;; *) false ;; esac || fail "'$line' said: $(head -1 out)"
		;;
	"vgpu-run -v -- ollama serve 2>&1 | grep -e '\\.so'")
		[ "$mode" = run ] || return 0
		serve "$line"
		[ "$rc" = 0 ] || fail "'$line' exited $rc"
		grep -q '/lib/ollama/libggml-base\.so' out || fail "'$line' showed no libggml-base.so line"
		if grep -v '\.so' out | grep -q .; then fail "'$line' let through a line without .so"; fi
		;;
	'vgpu-report show trace.jsonl')
		[ "$mode" = run ] || return 0
		sh -c "$line" >out 2>err || fail "'$line' exited $?"
		grep -q "no exec matched the policy's server rule (server = ollama serve)" out || fail "'$line' gave: $(head -3 out)"
		;;
	'vgpu-report diff before.json after.json')
		[ "$mode" = run ] || return 0
		cp before.json after.json
		sh -c "$line" >out 2>err || fail "'$line' on equal reports exited $?"
		;;
	'vgpu-report check --expect=cuda_v13=loaded report.json')
		[ "$mode" = run ] || return 0
		# No GPU and no CUDA 13 runtime here: the check fails as
		# documented, exit 1 and one line naming the directory.
		cp before.json report.json
		rc=0
		sh -c "$line" >out 2>err || rc=$?
		[ "$rc" = 1 ] || fail "'$line' exited $rc, expected 1: $(cat out err)"
		[ "$(cat out err)" = 'cuda_v13: expected loaded, got failed:missing-dependency' ] ||
			fail "'$line' said: $(cat out err)"
		;;
	'vgpu-run --shim=./libcuda.so.1 -o shim.json -- ollama serve')
		[ "$mode" = run ] || return 0
		cp "$build/examples/shim/libcuda.so.1" .
		# serve() takes an existing report.json with cuda_v13 for the
		# end of discovery: the first example's would stop this server
		# half a second after its start, in the middle of its probes
		rm -f report.json
		serve "$line"
		[ "$rc" = 0 ] || fail "'$line' exited $rc: $(cat err)"
		# the runner of cuda_v13 gets as far as libcuda.so.1 only with
		# the CUDA 13 runtime; then the shim is in, and CUDA refuses its
		# virtual device
		if ldconfig -p | grep -q 'libcudart.so.13 '; then
			grep -q '"status":"done"' shim.json || fail "'$line': no injection in shim.json"
			grep -q '"name":"cuda_v13",[^}]*"verdict":"failed","reason":"init-failed"' shim.json ||
				fail "'$line': cuda_v13 is not init-failed"
		else
			grep -q 'was injected nowhere' shim.json || fail "'$line': no note on the shim"
		fi
		;;
	'vgpu-run -p /etc/vgpu-run/infer.policy -- /opt/infer/bin/infer serve')
		# Needs a product in /opt; the policy it names is the page's
		# own literal block, which must load: run it on /bin/true.
		[ "$mode" = run ] || return 0
		awk '/^\.Sh EXAMPLES/ { on = 1 } on && /^\.Ed/ { exit } on && lit { print } on && /^\.Bd -literal/ { lit = 1 }' \
			"$src/man/vgpu-run.policy.5" >infer.policy
		grep -qx 'name = infer' infer.policy || fail "no policy block in vgpu-run.policy(5) EXAMPLES"
		vgpu-run -q -p ./infer.policy -- /bin/true >out 2>err || fail "the infer.policy example does not load: $(cat err)"
		[ ! -s err ] || fail "the infer.policy example: $(cat err)"
		;;
	*)
		return 1
		;;
	esac
}

examples >"$work/list"
while IFS= read -r line; do
	example know "$line" || fail "an example no test covers: $line"
done <"$work/list"
[ "$(wc -l <"$work/list")" = 9 ] || fail "found $(wc -l <"$work/list") examples, expected 9: update this script"

# In an order where each example finds the files the earlier ones made.
for line in 'vgpu-run -o report.json -- ollama serve' \
	"vgpu-run -q -t trace.jsonl -- sh -c 'ls /etc | wc -l'" \
	'vgpu-run --self-test' \
	"vgpu-run -v -- ollama serve 2>&1 | grep -e '\\.so'" \
	'vgpu-report show trace.jsonl' \
	'vgpu-report diff before.json after.json' \
	'vgpu-report check --expect=cuda_v13=loaded report.json' \
	'vgpu-run --shim=./libcuda.so.1 -o shim.json -- ollama serve' \
	'vgpu-run -p /etc/vgpu-run/infer.policy -- /opt/infer/bin/infer serve'; do
	grep -qxF "$line" "$work/list" || fail "not in the man pages any more: $line"
	example run "$line"
done
echo "man-examples: 9 examples ran as documented (the /opt/infer one: its policy, on /bin/true)"
