#!/usr/bin/env python3
"""The DIAGNOSTICS sections of vgpu-run(1) and vgpu-report(1) against the
real programs.

Each documented message (an item of the section, with its italic words
standing for what varies) must be produced by at least one of the triggers
below, and every line a trigger prints on standard error must be a
documented message of its program; each trigger's exit status is checked
too.  A message added to a program without its man page entry, an entry
that no longer matches what the program says, or a wrong exit status fails
the test.

Usage: man-diagnostics.py SOURCE_ROOT BUILD_ROOT TRACEE
"""
import os
import re
import subprocess
import sys
import tempfile

SRC, BUILD, TRACEE = sys.argv[1:4]
VR = os.path.join(BUILD, "src", "vgpu-run")
VP = os.path.join(BUILD, "src", "vgpu-report")
TRACE = os.path.join(SRC, "tests", "data", "traces", "h200-default.trace.jsonl")
REPORT = os.path.join(SRC, "tests", "data", "reports", "contract-example.json")

# Documented messages no trigger here can produce on demand, and why.
UNTRIGGERED = {
    "vgpu-run: cannot install the seccomp filter: *reason*":
        "needs a kernel without seccomp filters (vgpu-run --self-test covers it)",
    "vgpu-run: no report: *reason*":
        "needs the diagnosis to run out of memory in the middle of a run",
}


# What a placeholder may stand for, where "anything" would let an
# undocumented message pass as documented: numbers are digits, a file or
# path one word.
PLACEHOLDER = {"line": "[0-9]+", "n": "[0-9.]+", "size": "[0-9]+K?", "file": "[^ ]+", "path": "[^ ]+",
               "step": "(ptrace|cannot create a pipe|cannot fork|cannot take the signals|"
                       "cannot start the child|out of memory)"}


def documented(page):
    """The DIAGNOSTICS items of PAGE as (text, regex): mandoc renders the
    page as Markdown, where literal text is `code` and placeholders *em*."""
    md = subprocess.run(["mandoc", "-T", "markdown", os.path.join(SRC, "man", page)],
                        check=True, capture_output=True, text=True).stdout
    section = re.search(r"^# DIAGNOSTICS\n(.*?)^# ", md, re.S | re.M).group(1)
    out = []
    for line in section.splitlines():
        if not line.startswith("`vgpu-"):
            continue
        text = re.sub(r"\\(.)", r"\1", line.replace("`", ""))
        parts = re.split(r"\*([^*]+)\*", text)
        rx = "".join(re.escape(p) if i % 2 == 0 else PLACEHOLDER.get(p, ".+") for i, p in enumerate(parts))
        out.append((text, re.compile(rx)))
    if not out:
        sys.exit(f"man-diagnostics: no DIAGNOSTICS items in {page}")
    return out


def run(argv, env=None, shell=False):
    full_env = dict(os.environ)
    full_env.pop("VGPU_SHIM", None)
    full_env.update(env or {})
    p = subprocess.run(argv, env=full_env, shell=shell, capture_output=True, text=True,
                       errors="replace", stdin=subprocess.DEVNULL, timeout=120)
    return p.returncode, p.stderr


def main():
    tmp = tempfile.mkdtemp(prefix="vgpu-diag-")
    bad_policy = os.path.join(tmp, "bad.policy")
    with open(bad_policy, "w") as f:
        f.write("name = bad\nscaner = any\n")
    any_server = os.path.join(tmp, "any.policy")
    with open(os.path.join(SRC, "policies", "ollama.policy")) as f, open(any_server, "w") as g:
        g.writelines(l for l in f if not l.startswith("server = "))
    badint = os.path.join(tmp, "badint")
    with open(badint, "w") as f:
        f.write("#!/nonexistent-vgpu/sh\necho x\n")
    os.chmod(badint, 0o755)
    same = os.path.join(tmp, "same.json")
    cut = os.path.join(tmp, "cut.jsonl")
    tiny = os.path.join(tmp, "tiny.jsonl")
    bad_report = os.path.join(tmp, "bad.json")
    kept = os.path.join(tmp, "kept.jsonl")
    open(kept, "w").close()
    os.makedirs(kept + ".1/full")       # a directory in the way of kept.jsonl.1
    with open(bad_report, "w") as f:
        f.write('{"schema":"vgpu-run/report/1","x":1,"x":2}')
    with open(TRACE) as f:
        lines = f.readlines()
    bad_line = os.path.join(tmp, "badline.jsonl")
    with open(bad_line, "w") as f:
        f.write(lines[0] + lines[1].replace('"t_ns":', '"t_ns":NaN,"x":', 1))
    reordered = os.path.join(tmp, "order.jsonl")
    with open(reordered, "w") as f:
        f.write(lines[0] + lines[2] + lines[1])
    no_header = os.path.join(tmp, "nohdr.jsonl")
    with open(no_header, "w") as f:
        f.write(lines[1])

    # (program, argv or shell line, extra environment, exit status)
    triggers = [
        ("vgpu-run", [VR, "--bogus", "--", "true"], None, 125),
        ("vgpu-run", [VR, "--t", "--", "true"], None, 125),
        ("vgpu-run", [VR, "-t"], None, 125),
        ("vgpu-run", [VR, "--trace-max=1", "--", "true"], None, 125),
        ("vgpu-run", [VR, "--discover-timeout=5", "--", "true"], None, 125),
        ("vgpu-run", [VR], None, 125),
        ("vgpu-run", [VR, "-p", "nosuch-vgpu", "--", "true"], None, 125),
        ("vgpu-run", [VR, "-p", bad_policy, "--", "true"], None, 125),
        ("vgpu-run", [VR, "--shim=/nonexistent-vgpu/libcuda.so.1", "--", "true"], None, 125),
        ("vgpu-run", [VR, "-q", "--", "true"], {"VGPU_SHIM": "libcuda.so.1"}, 125),
        ("vgpu-run", [VR, "-q", "-o", "/nonexistent-vgpu/r.json", "--", "true"], None, 125),
        ("vgpu-run", [VR, "-q", "-o", same, "-t", same, "--", "true"], None, 125),
        ("vgpu-run", [VR, "-q", "-t", "/nonexistent-vgpu/t.jsonl", "--", "true"], None, 125),
        ("vgpu-run", [VR, "-q", "-t", kept, "--", "true"], None, 125),
        ("vgpu-run", [VR, "-q", "--metrics=/nonexistent-vgpu/m.prom", "--", "true"], None, 125),
        ("vgpu-run", [VR, "-q", "--metrics", same, "-o", same, "--", "true"], None, 125),
        ("vgpu-run", [VR, "-q", "--trace-max=4K", "-t", tiny, "--", "true"], None, 125),
        ("vgpu-run", f"'{VR}' -q -t - -- true >&-", None, 125),
        ("vgpu-run", [VR, "-q", "-t", "-", "--metrics=-", "--", "true"], None, 125),
        ("vgpu-run", [VR, "-q", "--discover-only", "-p", "ggml", "--", "true"], None, 125),
        ("vgpu-run", f"ulimit -n 5; exec '{VR}' -q -- /bin/true", None, 125),
        ("vgpu-run", [VR, "-q", "--", "/nonexistent-vgpu/cmd"], None, 127),
        ("vgpu-run", [VR, "-q", "--", "/etc/passwd"], None, 126),
        ("vgpu-run", [VR, "-q", "--", badint], None, 126),
        ("vgpu-run", [VR, "-q", "-t", cut, "--trace-max=8K", "--", TRACEE, "opens", "300"], None, 0),
        ("vgpu-run", [VR, "-q", "-t", "/dev/full", "--", "sh", "-c", "exit 3"], None, 3),
        ("vgpu-run", [VR, "-q", "--discover-only", "--discover-timeout=1", "-p", any_server, "--",
                      TRACEE, "wait"], None, 124),
        ("vgpu-report", [VP, "--bogus"], None, 2),
        ("vgpu-report", [VP, "show", "-p"], None, 2),
        ("vgpu-report", [VP, "--format=x", "show", TRACE], None, 2),
        ("vgpu-report", [VP, "bogus", TRACE], None, 2),
        ("vgpu-report", [VP, "show"], None, 2),
        ("vgpu-report", [VP, "check", TRACE], None, 2),
        ("vgpu-report", [VP, "--expect-gpus=1", "show", TRACE], None, 2),
        ("vgpu-report", [VP, "check", "--expect=cuda_v13=bogus", TRACE], None, 2),
        ("vgpu-report", [VP, "check", "--expect-device=(a)\\1", TRACE], None, 2),
        ("vgpu-report", [VP, "-p", "nosuch-vgpu", "show", TRACE], None, 2),
        ("vgpu-report", [VP, "show", "/nonexistent-vgpu/r.json"], None, 2),
        ("vgpu-report", [VP, "show", bad_report], None, 2),
        ("vgpu-report", [VP, "show", bad_line], None, 2),
        ("vgpu-report", [VP, "show", reordered], None, 2),
        ("vgpu-report", [VP, "show", no_header], None, 2),
        ("vgpu-report", [VP, "show", TRACE, REPORT], None, 2),
        ("vgpu-report", f"'{VP}' show '{TRACE}' > /dev/full", None, 2),
        ("vgpu-report", [VP, "-p", "ollama", "show", REPORT], None, 0),
    ]
    pages = {"vgpu-run": documented("vgpu-run.1"), "vgpu-report": documented("vgpu-report.1")}
    used = set()
    failed = False
    for prog, argv, env, want in triggers:
        shell = isinstance(argv, str)
        rc, err = run(argv, env, shell)
        what = argv if shell else " ".join(argv[1:])
        if rc != want:
            print(f"FAIL {prog} {what}: exit status {rc}, not {want}: {err.strip()}")
            failed = True
        lines = err.splitlines()
        if len(lines) != 1:
            print(f"FAIL {prog} {what}: {len(lines)} lines on stderr, not one: {err!r}")
            failed = True
        for line in lines:
            hits = [text for text, rx in pages[prog] if rx.fullmatch(line)]
            if not hits:
                print(f"FAIL {prog} {what}: undocumented message: {line}")
                failed = True
            used.update(hits)
    for prog, items in pages.items():
        for text, _ in items:
            if text not in used and text not in UNTRIGGERED:
                print(f"FAIL {prog}(1) DIAGNOSTICS: no trigger gives: {text}")
                failed = True
    subprocess.run(["rm", "-rf", tmp])
    print(f"{len(triggers)} triggers, {sum(len(v) for v in pages.values())} documented messages, "
          f"{len(UNTRIGGERED)} without a trigger")
    return 1 if failed else 0


sys.exit(main())
