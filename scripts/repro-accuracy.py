#!/usr/bin/env python3
"""Reproduction accuracy of a `codeswarm batch` run: for every instance whose fixer kept
reproduction checks (they failed at the base, which the fixer saw), run those checks with the
instance's gold patch through `codeswarm check` in the sandbox, and count the instances whose
checks pass there (a reproduction that fails at the base and passes with the gold fix is a
correct one).

    scripts/repro-accuracy.py --codeswarm target/release/codeswarm --instances lite-test.jsonl \
        --run-dir preds.run --mirror-template '/mirrors/{owner}+{name}/repo'
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def new_file_diff(path, text):
    lines = text.splitlines()
    body = "".join(f"+{l}\n" for l in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
        f"@@ -0,0 +1,{len(lines)} @@\n{body}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codeswarm", required=True)
    ap.add_argument("--instances", nargs="+", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--mirror-template", required=True)
    a = ap.parse_args()
    instances = {}
    for p in a.instances:
        for l in Path(p).read_text().splitlines():
            if l.strip():
                r = json.loads(l)
                instances[r["instance_id"]] = r
    total = kept = gold_ok = gold_any = 0
    print("| instance | checks kept | pass with the gold patch |\n|---|---|---|")
    for d in sorted((Path(a.run_dir) / "instances").iterdir()):
        inst = instances.get(d.name)
        tj = d / "trajectory.json"
        if inst is None or not tj.exists():
            continue
        total += 1
        traj = json.loads(tj.read_text()) or {}
        repro = traj.get("reproduction") or {}
        checks = repro.get("checks") or []
        if not checks:
            print(f"| {d.name} | 0 | - |")
            continue
        kept += 1
        patch = inst["patch"]
        if not patch.endswith("\n"):
            patch += "\n"
        for path, text in repro.get("files") or []:
            patch += new_file_diff(path, text)
        owner, name = inst["repo"].split("/")
        mirror = a.mirror_template.format(owner=owner, name=name, repo=inst["repo"])
        with tempfile.NamedTemporaryFile("w", suffix=".diff", delete=False) as f:
            f.write(patch)
        ids = [c["id"] for c in checks]
        env = f"{inst['repo']}@{inst['version']}" if inst.get("version") else inst["repo"]
        base_args = [a.codeswarm, "check", "--repo", mirror, "--base", inst["base_commit"],
                     "--patch", f.name, "--tests", ",".join(ids), "--allow-not-runnable", "--json"]
        r = subprocess.run(base_args + ["--env", env], capture_output=True, text=True)
        if not r.stdout.strip():
            # A repository without a spec (the fixtures) runs under the default environment.
            r = subprocess.run(base_args, capture_output=True, text=True)
        try:
            rep = json.loads(r.stdout)
        except json.JSONDecodeError:
            print(f"| {d.name} | {len(checks)} | check failed to run: {r.stderr.strip()[-200:]} |")
            continue
        cases = (rep.get("tests") or {}).get("cases") or []
        def passed(cid):
            if "::" in cid:
                return any(c["id"] == cid and c["outcome"] == "passed" for c in cases)
            mine = [c for c in cases if c["id"].startswith(cid + "::")]
            return bool(mine) and all(c["outcome"] == "passed" for c in mine)
        ok = [passed(c) for c in ids]
        gold_ok += all(ok)
        gold_any += any(ok)
        print(f"| {d.name} | {len(checks)} | {sum(ok)}/{len(ok)} |")
    print(
        f"\n{total} instances; a reproduction kept (fails at the base) in {kept}; "
        f"all its checks pass with the gold patch in {gold_ok}, at least one in {gold_any}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
