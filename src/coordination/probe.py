# codeswarm behaviour probe: run each input (a Python snippet whose last line is an
# expression; a call sequence records every expression's result) against solution.py and print one JSON line per input, as it goes, so a hang
# keeps what came before. Written by codeswarm, run inside the sandbox.
import ast
import json
import math
import os
import re
import sys

_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")


def canon(v, depth=0):
    if depth > 20:
        return "..."
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (math.inf, -math.inf):
            return repr(v)
        r = round(v, 6)
        return repr(0.0 if r == 0 else r)
    if isinstance(v, (int, str, bytes)):
        return repr(v)
    if isinstance(v, complex):
        return "complex(%s,%s)" % (canon(v.real), canon(v.imag))
    if isinstance(v, list):
        return "[" + ", ".join(canon(x, depth + 1) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(canon(x, depth + 1) for x in v) + ",)"
    if isinstance(v, dict):
        items = sorted(canon(k, depth + 1) + ": " + canon(x, depth + 1) for k, x in v.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(v, (set, frozenset)):
        return "set{" + ", ".join(sorted(canon(x, depth + 1) for x in v)) + "}"
    if hasattr(v, "__next__") and hasattr(v, "__iter__"):
        out = []
        for i, x in enumerate(v):
            if i >= 1000:
                out.append("...")
                break
            out.append(canon(x, depth + 1))
        return "iter[" + ", ".join(out) + "]"
    try:
        text = repr(v)
    except Exception as e:  # a broken __repr__ is behaviour too
        text = "<repr raised %s>" % type(e).__name__
    return _ADDR.sub("", text)[:2000]


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
        except TypeError:
            return False
    if isinstance(a, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b) and type(a) is type(b) or (
            isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and a == b
        )
    except Exception:
        return False


NONCE = ""

# Standard-library modules, for Pythons without sys.stdlib_module_names (before 3.10).
_STDLIB = {
    "array", "bisect", "calendar", "cmath", "collections", "copy", "datetime", "decimal",
    "enum", "fractions", "functools", "heapq", "itertools", "json", "math", "operator",
    "random", "re", "statistics", "string", "textwrap", "time", "typing", "unicodedata",
    "zoneinfo",
}


def stdlib(name):
    names = getattr(sys, "stdlib_module_names", None)
    return name in (names if names is not None else _STDLIB)


def context(imports):
    """The names the task's own import lines bind (`from datetime import date`), standard
    library only: an input may use what the task writes."""
    ns = {}
    for line in imports:
        try:
            tree = ast.parse(line)
        except SyntaxError:
            continue
        ok = all(
            isinstance(n, (ast.Import, ast.ImportFrom))
            and all(
                stdlib(m.split(".")[0])
                for m in ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""])
            )
            for n in tree.body
        )
        if not ok:
            continue
        try:
            exec(compile(tree, "<task imports>", "exec"), ns)
        except BaseException:
            pass
    ns.pop("__builtins__", None)
    return ns


def with_modules(tree, ns):
    """Import the standard-library modules an input names but nothing defines
    (`datetime.date(2024, 3, 1)`), so the input fails only for its own fault."""
    import builtins
    import importlib

    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            name = node.id
            if name in ns or hasattr(builtins, name) or not stdlib(name):
                continue
            try:
                ns[name] = importlib.import_module(name)
            except BaseException:
                pass


def emit(obj):
    # Each result line starts with the host's per-run nonce, so what the code under test
    # prints (debug output, or an attempt to forge a result) is not read as a result.
    sys.stdout.write(NONCE + json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    global NONCE
    with open("probe_inputs.json") as f:
        data = json.load(f)
    # The code under test must not read the nonce or the inputs' expected values.
    os.remove("probe_inputs.json")
    NONCE = data["nonce"]
    inputs = data["inputs"]
    imports = data.get("imports") or []
    del data
    try:
        import solution
    except BaseException as e:
        emit({"import_error": "%s: %s" % (type(e).__name__, str(e)[:300])})
        return
    base = dict(vars(solution))
    for name, value in context(imports).items():
        base.setdefault(name, value)
    for item in inputs:
        ns = dict(base)
        out = {"id": item["id"]}
        try:
            tree = ast.parse(item["code"])
            with_modules(tree, ns)
            # A call sequence (`s = Stack(); s.push(1); s.pop()`): every expression's result
            # is a step of the behaviour, compared per step; a stated value is the last one's.
            steps = []
            value = None
            for idx, stmt in enumerate(tree.body):
                if isinstance(stmt, ast.Expr):
                    v = eval(compile(ast.Expression(stmt.value), "<input>", "eval"), ns)
                    if idx == len(tree.body) - 1:
                        value = v
                    else:
                        steps.append(canon(v))
                else:
                    exec(compile(ast.Module([stmt], type_ignores=[]), "<input>", "exec"), ns)
            out["value"] = " ; ".join(steps + [canon(value)]) if steps else canon(value)
            if item.get("expected") is not None:
                try:
                    out["matches"] = same(value, eval(item["expected"], {}))
                except BaseException:
                    out["matches"] = False
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            out["error"] = type(e).__name__
            out["message"] = str(e)[:200]
            if item.get("expected") is not None:
                exp = item["expected"]
                # A stated exception type matches it and its subclasses (as pytest.raises).
                out["matches"] = exp.startswith("!") and any(
                    c.__name__ == exp[1:] for c in type(e).__mro__
                )
        emit(out)


main()
