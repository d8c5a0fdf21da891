# Volatile fields of a text report, for the golden files: pids, ports,
# seqs, timings and counts that depend on the machine (CPU level, CUDA
# runtime present or not).  The test adds s#ROOT# and s#CWD#.
s/#[0-9]+/#SEQ/g
s/\[pid [0-9]+\]/[pid PID]/g
s/pid [0-9]+/pid PID/g
s/^  [0-9]+ (server|scanner|other), child of [0-9]+/  PID \1, child of PID/
s/--port [0-9]+/--port PORT/g
s/scanner [0-9]+([^0-9.]|$)/scanner PID\1/g
s/[0-9]+ paths tried/N paths tried/
s/libcuda\.so\.1|libcudart\.so\.13/FIRST-MISSING/g
s/Costs: [0-9]+ ptrace stops, [0-9]+ backtraces \([0-9]+ ms\)/Costs: N ptrace stops, N backtraces (N ms)/
s/time=[^ ]* //
s/Listening on [0-9.:]+/Listening on ADDR/
s/\) = [0-9]+$/) = FD/
# where and when; an install of the machine's own (ollama.policy's
# installs) beside the test's
/^Run: on .*, started .*, report written /d
/^Another install, not scanned: \/usr\/(local\/)?lib\/ollama/d
# the test harness's own variables, recorded because the policy records
# GGML_* and OLLAMA_*: paths into the build directory
/^  (GGML_HOST|GGML_NPM|OLLAMA_FIXTURE)=/d
# the cuda_v13 hint depends on the CUDA 13 runtime: installed, the loader
# stops at libcuda.so.1 (the shim hint), else at libcudart.so.13 (the
# incomplete-install hint); diagnose-live asserts them on their own
/^  cuda_v13: .*(is on none of the paths|missing from cuda_v13)/d
# and so do the names the loader never got to (the CUDA 13 runtime's
# libraries, found or not)
s/^(  cuda_v13 +failed:missing-dependency +).* not found/\1FIRST-MISSING not found/
s/(\/cuda_v13\/libggml-cuda\.so \(cuda\): failed, missing ).*/\1FIRST-MISSING/
/^  also missing \(the loader stops at the first/d
