#!/usr/bin/env python3
"""Per-instance figures of a `codeswarm batch` run of the repository fixer, for the results
docs: seconds, tokens, proposals, distinct candidates, status, resolved (from an `evaluate
--report`), localization accuracy against the gold patch (gold file among the chosen files,
gold function among the chosen definitions) and the reproduction checks kept.

The gold functions are the innermost definitions of the base file that enclose the lines the
gold patch changes (read with Python's `ast` from the repository mirror; nothing is executed).

    scripts/fix-figures.py --instances lite-test.jsonl --run-dir preds.run \
        --eval-report eval.json --mirror-template '/mirrors/{owner}+{name}/repo'
"""

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path


def load_instances(paths):
    out = {}
    for p in paths:
        text = Path(p).read_text()
        rows = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(l) for l in text.splitlines() if l.strip()
        ]
        for r in rows:
            out[r["instance_id"]] = r
    return out


def gold_changes(patch):
    """{path: [old-side line numbers the patch touches]}"""
    files, path, old = {}, None, 0
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            m = re.match(r"diff --git a/(\S+) b/", line)
            path = m.group(1) if m else None
        elif line.startswith("@@"):
            m = re.match(r"@@ -(\d+)", line)
            old = int(m.group(1)) if m else 0
        elif path and line.startswith("-") and not line.startswith("---"):
            files.setdefault(path, []).append(old)
            old += 1
        elif path and line.startswith("+") and not line.startswith("+++"):
            files.setdefault(path, []).append(max(old - 1, 1))
        elif path and line.startswith(" "):
            old += 1
    return files


def enclosing(source, lines):
    """Qualnames of the innermost definitions enclosing `lines`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    spans = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                q = f"{prefix}.{child.name}" if prefix else child.name
                start = min([d.lineno for d in child.decorator_list] + [child.lineno])
                spans.append((start, child.end_lineno, q))
                walk(child, q)

    walk(tree, "")
    out = set()
    for ln in lines:
        inside = [s for s in spans if s[0] <= ln <= s[1]]
        if inside:
            out.add(max(inside, key=lambda s: s[0])[2])
    return out


def base_file(mirror, commit, path):
    r = subprocess.run(
        ["git", "--git-dir", mirror, "show", f"{commit}:{path}"],
        capture_output=True,
        text=True,
    )
    return r.stdout if r.returncode == 0 else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="+", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--eval-report")
    ap.add_argument("--mirror-template", required=True)
    a = ap.parse_args()
    instances = load_instances(a.instances)
    resolved = {}
    if a.eval_report:
        rep = json.loads(Path(a.eval_report).read_text())
        for i in rep.get("instances", []):
            resolved[i["instance_id"]] = i.get("status") == "resolved"
    rows = []
    for d in sorted((Path(a.run_dir) / "instances").iterdir()):
        iid = d.name
        inst = instances.get(iid)
        if inst is None:
            continue
        res = json.loads((d / "result.json").read_text()) if (d / "result.json").exists() else {}
        traj = {}
        if (d / "trajectory.json").exists():
            traj = json.loads((d / "trajectory.json").read_text()) or {}
        owner, name = inst["repo"].split("/")
        mirror = a.mirror_template.format(owner=owner, name=name, repo=inst["repo"])
        gold = gold_changes(inst["patch"])
        gold_funcs = set()
        for path, lines in gold.items():
            gold_funcs |= enclosing(base_file(mirror, inst["base_commit"], path), lines)
        loc = traj.get("localization") or {}
        files = loc.get("files") or []
        symbols = [q for _, q in (loc.get("symbols") or [])]
        file_hit = any(f in gold for f in files)
        func_hit = any(
            s == g or g.startswith(s + ".") or s.startswith(g + ".")
            for s in symbols
            for g in gold_funcs
        )
        repro = traj.get("reproduction") or {}
        rows.append(
            {
                "id": iid,
                "repo": inst["repo"],
                "seconds": res.get("seconds", 0.0),
                "tokens": res.get("tokens", 0),
                "proposals": len(traj.get("proposals") or []),
                "candidates": len(traj.get("candidates") or []),
                "status": traj.get("status") or res.get("status"),
                "end": res.get("status"),
                "resolved": resolved.get(iid),
                "file_hit": file_hit,
                "func_hit": func_hit,
                "loc_from": loc.get("symbols_from", ""),
                "checks": len(repro.get("checks") or []),
                "symptom": bool((repro.get("issue_code") or {}).get("shows_symptom")),
            }
        )
    for repo in sorted({r["repo"] for r in rows}):
        rs = [r for r in rows if r["repo"] == repo]
        print(f"\n### {repo}\n")
        print("| instance | s | tokens | proposals | candidates | status | resolved | gold file | gold function | located by | checks |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rs:
            yn = lambda b: "yes" if b else "no"
            print(
                f"| {r['id']} | {r['seconds']:.0f} | {r['tokens']} | {r['proposals']} | {r['candidates']} "
                f"| {r['status']} | {'?' if r['resolved'] is None else yn(r['resolved'])} | {yn(r['file_hit'])} "
                f"| {yn(r['func_hit'])} | {r['loc_from']} | {r['checks']}{' (symptom)' if r['symptom'] else ''} |"
            )
        n = len(rs)
        print(
            f"\n{repo}: {n} instances, resolved {sum(1 for r in rs if r['resolved'])}, "
            f"gold file located {sum(r['file_hit'] for r in rs)}/{n}, gold function {sum(r['func_hit'] for r in rs)}/{n}, "
            f"a reproduction kept {sum(1 for r in rs if r['checks'])}/{n}, "
            f"{sum(r['seconds'] for r in rs):.0f} s, {sum(r['tokens'] for r in rs)} tokens"
        )
    by_status = {}
    for r in rows:
        s = by_status.setdefault(r["status"], [0, 0])
        s[0] += 1
        s[1] += 1 if r["resolved"] else 0
    print("\n| status | instances | resolved |\n|---|---|---|")
    for s, (n, k) in sorted(by_status.items()):
        print(f"| {s} | {n} | {k} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
