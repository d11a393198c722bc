#!/usr/bin/env python3
"""Side by side on the prose set: several codeswarm builds, each task run through each build's
`codeswarm run` in turn (same machine, same moment, one model), every answer judged by the
task's hidden test in the sandbox. The pipeline of each build sees only the task's text.

Prints per task: hidden outcome and the build's own verdict; then per build: solved, and the
verdict's confusion table (passed/failed/uncertain against the hidden test). With --json,
writes every row.

    python3 scripts/prose-compare.py --bin old=/path/to/old/codeswarm --bin new=target/release/codeswarm \
        [--only ID,ID] [--limit N] [--model NAME] [--json out.json] [--keep DIR] [-- extra run flags]

The hidden tests run in the sandbox of the first --bin (`codeswarm sandbox`). Never run two of
these at once (llama.cpp threads on 2 cores slow each other by 10x).
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("checkset", ROOT / "scripts" / "check-prose-set.py")
checkset = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checkset)


def run_build(binary: str, text: str, model: str | None, extra: list[str], keep: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="prose-run-") as tmp:
        task = Path(tmp) / "task.txt"
        task.write_text(text, encoding="utf-8")
        out = keep if keep else Path(tmp) / "out"
        cmd = [binary, "run", "--task-file", str(task), "--out", str(out)]
        if model:
            cmd += ["--model", model]
        started = time.monotonic()
        proc = subprocess.run(cmd + extra, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        seconds = time.monotonic() - started
        report = out / "report.json"
        solution = out / "solution.py"
        status = "error"
        tokens = 0
        if report.exists():
            r = json.loads(report.read_text())
            status = r.get("status", "error")
            t = r.get("totals", {})
            tokens = t.get("evaluated_tokens", 0) + t.get("generated_tokens", 0)
        code = solution.read_text() if solution.exists() else ""
        return {"status": status, "code": code, "seconds": seconds, "tokens": tokens,
                "exit": proc.returncode, "stderr": proc.stderr[-400:] if not code else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--only", default="")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--model")
    ap.add_argument("--json")
    ap.add_argument("--keep", help="keep each run's output folder under KEEP/BUILD/ID")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    builds = []
    for b in a.bin:
        name, _, path = b.partition("=")
        if not path or not Path(path).is_file():
            sys.exit(f"prose-compare: --bin {b!r}: give NAME=PATH to a codeswarm binary")
        builds.append((name, str(Path(path).resolve())))
    tasks = checkset.load(ROOT / "evals/prose/tasks.toml", "task")
    hidden = {h["id"]: h for h in checkset.load(ROOT / "evals/prose/hidden.toml", "hidden")}
    if a.only:
        want = set(a.only.split(","))
        tasks = [t for t in tasks if t["id"] in want]
    if a.limit:
        tasks = tasks[: a.limit]
    sandbox = [builds[0][1], "sandbox", "--dir", "{dir}", "--timeout", "30", "--"]
    rows = []
    for t in tasks:
        for name, path in builds:
            keep = Path(a.keep) / name / t["id"] if a.keep else None
            r = run_build(path, t["text"].strip(), a.model, a.extra, keep)
            if r["code"]:
                prog = checkset.check_program(r["code"], hidden[t["id"]]["test"], t["entry_point"])
                rc, _, last = checkset.run_program(sandbox, prog)
                r["solved"] = rc == 0
                r["check"] = last
            else:
                r["solved"] = False
                r["check"] = "no code"
            r.update({"id": t["id"], "build": name})
            rows.append(r)
            print(f"{t['id']:<22} {name:<8} {'solved' if r['solved'] else 'not solved':<10} "
                  f"verdict {r['status']:<10} {r['seconds']:6.1f} s {r['tokens']:>7} tok",
                  flush=True)
    print()
    for name, _ in builds:
        mine = [r for r in rows if r["build"] == name]
        solved = sum(r["solved"] for r in mine)
        cell = lambda st, ok: sum(1 for r in mine if r["status"] == st and r["solved"] == ok)
        failed_like = lambda ok: sum(1 for r in mine
                                     if r["status"] not in ("passed", "uncertain") and r["solved"] == ok)
        secs = sum(r["seconds"] for r in mine) / max(len(mine), 1)
        print(f"{name}: solved {solved}/{len(mine)}, {secs:.1f} s/task; verdict vs hidden test: "
              f"passed {cell('passed', True)} true + {cell('passed', False)} FALSE, "
              f"failed/no code {failed_like(False)} true + {failed_like(True)} false, "
              f"uncertain {cell('uncertain', True)} (hidden pass) + {cell('uncertain', False)} (hidden fail)")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
