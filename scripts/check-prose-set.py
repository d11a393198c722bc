#!/usr/bin/env python3
"""Validate the prose evaluation set (evals/prose/tasks.toml and evals/prose/hidden.toml).

Checks, for every task:
  * both files parse, hold the same ids in the same order, ids are unique snake_case;
  * the task has kind "function" or "class", an entry_point named in its text, and no
    unknown keys; the hidden entry has a test, a reference and a wrong solution;
  * the hidden test defines `check(candidate)` and holds 5 to 15 assertions (`assert`
    statements and `raise AssertionError`);
  * the reference and the wrong solution define the entry point at module level, as a
    function or a class as the task's kind says;
  * `<reference>\\n\\n<test>\\n\\ncheck(<entry_point>)\\n`, run the way the codeswarm runner
    builds its check program, exits 0 (in a subprocess, in an empty temporary directory,
    with a timeout);
  * the wrong solution loads cleanly together with the test (so the failure below is the
    test's doing, not a syntax or import error), and the same program with the wrong
    solution exits non-zero: the hidden test catches the typical mistake.

Standard library only; needs Python 3.11+ (tomllib). Prints one line per task and a summary;
exits 1 on any problem.

    python3 scripts/check-prose-set.py [--only ID] [--python /path/to/python3.12]
    python3 scripts/check-prose-set.py --sandbox target/release/codeswarm   # the real sandbox
"""

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    sys.exit("check-prose-set: needs Python 3.11 or newer (tomllib); run it with python3.11+")

ROOT = Path(__file__).resolve().parent.parent
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
TASK_KEYS = {"id", "kind", "entry_point", "text"}
HIDDEN_KEYS = {"id", "test", "reference", "wrong"}
MIN_ASSERTS, MAX_ASSERTS = 5, 15
TIMEOUT_S = 10.0
SLOW_S = 1.0


def load(path: Path, table: str) -> list[dict]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        sys.exit(f"check-prose-set: {path} does not exist")
    except tomllib.TOMLDecodeError as e:
        sys.exit(f"check-prose-set: {path} is not valid TOML: {e}")
    entries = data.get(table)
    if not isinstance(entries, list) or not entries:
        sys.exit(f"check-prose-set: {path} has no [[{table}]] entries")
    return entries


def check_program(code: str, test: str, entry_point: str, call: bool = True) -> str:
    """The program the runner builds: candidate code, the hidden test, the call."""
    program = f"{code}\n\n{test}\n"
    if call:
        program += f"\ncheck({entry_point})\n"
    return program


def run_program(runner: list[str], program: str) -> tuple[int | None, float, str]:
    """Run in a fresh temporary directory; (exit code or None on timeout, seconds, last line).

    `runner` is the command before the script's name; "{dir}" in it stands for the directory."""
    with tempfile.TemporaryDirectory(prefix="prose-check-") as tmp:
        script = Path(tmp) / "check_program.py"
        script.write_text(program, encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONIOENCODING": "utf-8"}
        for name in ("HOME", "CODESWARM_HOME"):  # the sandbox finds its runtime through these
            if name in os.environ:
                env[name] = os.environ[name]
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [arg.replace("{dir}", tmp) for arg in runner] + [script.name],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - started, f"timed out after {TIMEOUT_S:.0f} s"
        seconds = time.monotonic() - started
        lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines()]
        lines = [line for line in lines if line and not set(line) <= set("^~ ")]
        last = lines[-1] if lines else ""
        if last == "AssertionError" and len(lines) > 1:
            last = f"AssertionError at {lines[-2]}"  # a bare assert: name the failing line
        return proc.returncode, seconds, last


def count_assertions(tree: ast.AST) -> int:
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            count += 1
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "AssertionError":
                count += 1
    return count


def static_problems(task: dict, hidden: dict) -> list[str]:
    problems = []
    extra = set(task) - TASK_KEYS
    if extra:
        problems.append(f"tasks.toml: unknown keys {sorted(extra)}")
    extra = set(hidden) - HIDDEN_KEYS
    if extra:
        problems.append(f"hidden.toml: unknown keys {sorted(extra)}")
    for key in sorted(TASK_KEYS):
        if not isinstance(task.get(key), str) or not task[key].strip():
            problems.append(f"tasks.toml: missing or empty {key!r}")
    for key in sorted(HIDDEN_KEYS):
        if not isinstance(hidden.get(key), str) or not hidden[key].strip():
            problems.append(f"hidden.toml: missing or empty {key!r}")
    if problems:
        return problems

    kind, entry = task["kind"], task["entry_point"]
    if kind not in ("function", "class"):
        problems.append(f"kind must be 'function' or 'class', not {kind!r}")
    if not entry.isidentifier():
        problems.append(f"entry_point {entry!r} is not a Python identifier")
    if entry not in task["text"]:
        problems.append(f"entry_point {entry!r} does not appear in the task text")
    if "def check" in task["text"]:
        problems.append("the task text holds test code (def check)")

    try:
        test_tree = ast.parse(hidden["test"])
    except SyntaxError as e:
        return problems + [f"test does not parse: {e}"]
    if not any(
        isinstance(node, ast.FunctionDef) and node.name == "check" for node in test_tree.body
    ):
        problems.append("test does not define check(candidate) at module level")
    asserts = count_assertions(test_tree)
    if not MIN_ASSERTS <= asserts <= MAX_ASSERTS:
        problems.append(f"test has {asserts} assertions; want {MIN_ASSERTS} to {MAX_ASSERTS}")

    want = ast.ClassDef if kind == "class" else ast.FunctionDef
    for key in ("reference", "wrong"):
        try:
            tree = ast.parse(hidden[key])
        except SyntaxError as e:
            problems.append(f"{key} does not parse: {e}")
            continue
        if not any(isinstance(node, want) and node.name == entry for node in tree.body):
            problems.append(f"{key} does not define the {kind} {entry!r} at module level")
    if hidden["reference"].strip() == hidden["wrong"].strip():
        problems.append("wrong is the same code as reference")
    return problems


def run_problems(runner: list[str], task: dict, hidden: dict) -> tuple[list[str], str]:
    entry, test = task["entry_point"], hidden["test"]
    problems = []
    code, secs, last = run_program(runner, check_program(hidden["reference"], test, entry))
    if code is None:
        problems.append(f"reference: {last}")
    elif code != 0:
        problems.append(f"reference fails the test (exit {code}): {last}")
    elif secs > SLOW_S:
        problems.append(f"reference takes {secs:.2f} s; the test must run in under {SLOW_S} s")
    ref_secs = secs

    code, _, last = run_program(runner, check_program(hidden["wrong"], test, entry, call=False))
    if code != 0:
        problems.append(f"wrong does not even load with the test (exit {code}): {last}")
    code, _, wrong_last = run_program(runner, check_program(hidden["wrong"], test, entry))
    if code is None:
        problems.append(f"wrong: {wrong_last} (a caught mistake must fail fast)")
    elif code == 0:
        problems.append("wrong passes the test: the test does not catch the mistake")
    detail = f"reference passes ({ref_secs:.2f} s); wrong fails: {wrong_last[:90]}"
    return problems, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, default=ROOT / "evals/prose/tasks.toml")
    parser.add_argument("--hidden", type=Path, default=ROOT / "evals/prose/hidden.toml")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs the check programs (default: this one)")
    parser.add_argument("--sandbox", metavar="CODESWARM",
                        help="run the check programs in codeswarm's WASI sandbox (CPython 3.12) "
                        "with this codeswarm binary, e.g. target/release/codeswarm")
    parser.add_argument("--only", metavar="ID", help="check only the task with this id")
    args = parser.parse_args()

    if args.sandbox:
        binary = shutil.which(args.sandbox) or args.sandbox
        if not os.access(binary, os.X_OK):
            sys.exit(f"check-prose-set: --sandbox {args.sandbox!r} is not an executable; "
                     "build codeswarm (cargo build --release) or give its path")
        binary = str(Path(binary).resolve())
        runner = [binary, "sandbox", "--dir", "{dir}", "--timeout", f"{TIMEOUT_S:.0f}", "--"]
    else:
        python = shutil.which(args.python) or args.python
        if not os.access(python, os.X_OK):
            sys.exit(f"check-prose-set: --python {args.python!r} is not an executable interpreter")
        runner = [python, "-I"]

    tasks = load(args.tasks, "task")
    hidden = load(args.hidden, "hidden")
    problems_total = 0

    task_ids = [t.get("id") for t in tasks]
    hidden_ids = [h.get("id") for h in hidden]
    if task_ids != hidden_ids:
        print("PROBLEM ids differ between tasks.toml and hidden.toml (same ids, same order):")
        for i in range(max(len(task_ids), len(hidden_ids))):
            a = task_ids[i] if i < len(task_ids) else None
            b = hidden_ids[i] if i < len(hidden_ids) else None
            if a != b:
                print(f"  #{i + 1}: tasks {a!r} vs hidden {b!r}")
        problems_total += 1
    seen = set()
    for tid in task_ids:
        if not isinstance(tid, str) or not ID_RE.match(tid):
            print(f"PROBLEM id {tid!r} is not snake_case")
            problems_total += 1
        elif tid in seen:
            print(f"PROBLEM id {tid!r} is used twice")
            problems_total += 1
        seen.add(tid)

    hidden_by_id = {h.get("id"): h for h in hidden}
    kinds = {"function": 0, "class": 0}
    ok = bad = 0
    width = max(len(str(t)) for t in task_ids)
    print(f"running the check programs with: {' '.join(runner)} check_program.py")
    for task in tasks:
        tid = task.get("id")
        if args.only and tid != args.only:
            continue
        kinds[task.get("kind")] = kinds.get(task.get("kind"), 0) + 1
        entry = hidden_by_id.get(tid)
        if entry is None:
            problems = ["no hidden entry with this id"]
            detail = ""
        else:
            problems = static_problems(task, entry)
            detail = ""
            if not problems:
                problems, detail = run_problems(runner, task, entry)
        label = f"{str(tid):<{width}}  {str(task.get('kind')):<8}"
        if problems:
            bad += 1
            print(f"FAIL  {label}  " + "; ".join(problems))
        else:
            ok += 1
            print(f"ok    {label}  {detail}")

    total = ok + bad
    print(
        f"{total} tasks ({kinds.get('function', 0)} functions, {kinds.get('class', 0)} classes): "
        f"{ok} ok, {bad} with problems"
        + (f", {problems_total} problems across the files" if problems_total else "")
    )
    if args.only and total == 0:
        print(f"no task with id {args.only!r}")
        return 1
    return 1 if bad or problems_total else 0


if __name__ == "__main__":
    sys.exit(main())
