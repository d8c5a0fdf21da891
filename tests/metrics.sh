#!/bin/sh
# --metrics with the real Prometheus tools: the file vgpu-run writes for
# the demo's Ollama-shaped install passes promtool check metrics, is
# rewritten while the server runs (a scanner's end, SIGUSR1) and at the
# end, mode 0644; node_exporter's textfile collector serves its series
# with the right values over HTTP; the example alerting rules pass
# promtool check rules and their unit tests.
#
# Usage: metrics.sh SOURCE_ROOT BUILD_ROOT OLLAMA_FIXTURE
set -eu
src=$1
build=$2
fixture=$3
vr=$build/src/vgpu-run

for tool in promtool prometheus-node-exporter curl; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/bootstrap installs it)"; exit 1; }
done
work=$(mktemp -d /tmp/vgpu-metrics-XXXXXX)
ne=
vrp=
cleanup() {
	[ -z "$ne" ] || kill "$ne" 2>/dev/null || :
	[ -z "$vrp" ] || kill -9 "$vrp" 2>/dev/null || :
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
"$src/scripts/make-ollama-install" "$fixture" "$work/oi" without vulkan >/dev/null
mkdir "$work/textfile"
prom=$work/textfile/vgpu-run.prom
root=$work/oi/lib/ollama
export OLLAMA_HOST=127.0.0.1:0

# 1. A discovery run: the file at the end.
"$vr" -q --discover-only --metrics="$prom" -o "$work/r.json" -- "$work/oi/bin/ollama" serve 2>/dev/null ||
	fail "vgpu-run --discover-only exited $?"
[ "$(stat -c %a "$prom")" = 644 ] || fail "mode $(stat -c %a "$prom"), not 644"
promtool check metrics <"$prom" || fail "promtool check metrics"
for line in \
	"vgpu_run_build_info{version=\"$("$vr" --version | sed -n '1s/^vgpu-run //p')\"} 1" \
	'vgpu_run_scanner_info{policy="ollama",version="0.16.3"} 1' \
	"vgpu_run_directory_verdict{directory=\"cuda_v12\",path=\"$root/cuda_v12\",verdict=\"failed\",reason=\"missing-dependency\"} 1" \
	"vgpu_run_directory_verdict{directory=\"vulkan\",path=\"$root/vulkan\",verdict=\"absent\",reason=\"no-such-directory\"} 1" \
	"vgpu_run_directory_loaded{directory=\".\",path=\"$root\"} 1" \
	"vgpu_run_directory_loaded{directory=\"cuda_v13\",path=\"$root/cuda_v13\"} 0" \
	'vgpu_run_outcome_stated 1' 'vgpu_run_gpus 0' \
	'vgpu_run_scanner_runs_total 2' 'vgpu_run_scanner_ends_total 2' \
	'vgpu_run_report_complete 1'; do
	grep -Fxq "$line" "$prom" || { cat "$prom"; fail "no line: $line"; }
done
# one verdict series per directory of the report, nothing of argv or env
dirs=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["directories"]))' "$work/r.json")
[ "$(grep -c '^vgpu_run_directory_verdict{' "$prom")" = "$dirs" ] || fail "not one verdict series per directory ($dirs)"
! grep -q 'OLLAMA_HOST\|127\.0\.0\.1\|/bin/ollama' "$prom" || fail "argv or environment in the metrics"

# 2. Rewrites while the server runs: at a scanner's end (complete 0),
# on SIGUSR1 (a later report time), and at the end (complete 1).
live=$work/textfile/live.prom
"$vr" -q --metrics="$live" -- "$work/oi/bin/ollama" serve 2>/dev/null &
vrp=$!
i=0
until grep -qx 'vgpu_run_scanner_ends_total 2' "$live" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "no rewrite after the scanners' ends within 30 s"
	sleep 0.1
done
grep -qx 'vgpu_run_report_complete 0' "$live" || fail "a rewrite while running says complete"
before=$(sed -n 's/^vgpu_run_report_time_seconds //p' "$live")
sleep 1.2
kill -USR1 "$vrp"
i=0
while [ "$(sed -n 's/^vgpu_run_report_time_seconds //p' "$live")" = "$before" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "SIGUSR1 did not rewrite the metrics"
	sleep 0.1
done
kill -TERM "$vrp"
wait "$vrp" || :
vrp=
grep -qx 'vgpu_run_report_complete 1' "$live" || fail "the end did not write the last metrics"
promtool check metrics <"$live" || fail "promtool check metrics (live)"
rm "$live"

# 3. node_exporter's textfile collector serves them.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$work/textfile" >"$work/ne.log" 2>&1 &
ne=$!
i=0
until curl -sf "http://127.0.0.1:$port/metrics" >"$work/scrape.txt"; do
	i=$((i + 1))
	[ $i -le 100 ] || { cat "$work/ne.log"; fail "node_exporter did not answer"; }
	sleep 0.1
done
for line in 'node_textfile_scrape_error 0' \
	"vgpu_run_directory_verdict{directory=\"cuda_v12\",path=\"$root/cuda_v12\",reason=\"missing-dependency\",verdict=\"failed\"} 1" \
	'vgpu_run_gpus 0' 'vgpu_run_scanner_ends_total 2'; do
	grep -Fxq "$line" "$work/scrape.txt" || { grep vgpu_run "$work/scrape.txt"; fail "node_exporter does not serve: $line"; }
done

# 4. The example alerting rules.
cd "$src/examples/prometheus"
promtool check rules vgpu-run.rules.yml
promtool test rules vgpu-run.rules.test.yml
echo "ok: metrics checked by promtool, served by node_exporter; rules tested"
