# Run by the host as `python -i -c <this>` to take a pytest snapshot (see snapshot/mod.rs).
# Imports pytest and exactly the plugins `python -m pytest` with the job's `-p` options imports
# before any job code runs, leaves the import system as a fresh start would, prints the names
# of the imported top-level modules, and arranges for the interpreter to stop right after this
# command returns: with `-i`, CPython then calls `sys.__interactivehook__` from C, with no Python
# frame on the stack, and `os.abort` traps there. The host copies the guest's memory at that
# trap: a live interpreter with nothing running.
import sys, os


def _codeswarm_snapshot(p_args):
    import gc, importlib, json
    import pytest  # noqa: F401  (what `-m pytest` imports first)
    from _pytest.config import get_config

    get_config(p_args)  # imports the default plugins the `-p no:` options leave
    gc.collect()
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # `-c` put the cwd first; the resumed run puts its own there
    names = sorted({m.partition(".")[0] for m in sys.modules})
    sys.stdout.write("codeswarm-snapshot " + json.dumps(names) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    sys.__interactivehook__ = os.abort


_codeswarm_snapshot(P_ARGS)
del _codeswarm_snapshot, sys, os
