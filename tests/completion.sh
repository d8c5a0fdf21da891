#!/bin/bash
# The bash completion of vgpu-run and vgpu-report, exercised as bash would
# (COMP_WORDS/COMP_CWORD), outside an interactive shell.
#   completion.sh COMPLETIONS_FILE
set -u
compopt() { :; }				# needs a real completion context
_command_offset() { COMPREPLY=("COMMAND@$1"); }	# from bash-completion
# shellcheck disable=SC1090
source "$1"
fails=0
expect() {	# expect FUNCTION "WANTED" WORD...
	local fn=$1 want=$2
	shift 2
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	"$fn"
	if [ "${COMPREPLY[*]}" != "$want" ]; then
		echo "FAIL: $* -> '${COMPREPLY[*]}', wanted '$want'"
		fails=$((fails + 1))
	fi
}
expect _vgpu_run "--policy=" vgpu-run --po
expect _vgpu_run "--shim= --stack --self-test" vgpu-run --s
expect _vgpu_run "preload" vgpu-run --inject-method=p
expect _vgpu_run "COMMAND@3" vgpu-run -s /x/libcuda.so.1 olla
expect _vgpu_run "json" vgpu-run --format=j
expect _vgpu_run "auto always" vgpu-run --color=a
expect _vgpu_report "never" vgpu-report show --color=n
expect _vgpu_run "--discover-only --discover-timeout=" vgpu-run --disc
expect _vgpu_run "--kill-after=" vgpu-run --ki
expect _vgpu_run "5m" vgpu-run --discover-only --kill-after=5
expect _vgpu_run "COMMAND@3" vgpu-run -p ollama olla
expect _vgpu_run "COMMAND@2" vgpu-run -- olla
expect _vgpu_run "COMMAND@1" vgpu-run ollama ser
expect _vgpu_report "show" vgpu-report s
expect _vgpu_report "--expect=" vgpu-report check --ex
expect _vgpu_report "text json" vgpu-report diff --format=
[ $fails -eq 0 ] && echo "completion: 14 passed, 0 failed" && exit 0
exit 1
