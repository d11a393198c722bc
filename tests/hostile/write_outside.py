# Write outside the work dir: the host sentinel, the read-only runtime dirs (to poison later
# runs), absolute host paths.
import os
from _common import attempt, done

sentinel = os.environ["SENTINEL"]


def write(path, data=b"pwned"):
    with open(path, "wb") as f:
        f.write(data)
    return path


attempt("sentinel overwrite", lambda: write(os.path.join(sentinel, "secret.txt")))
attempt("sentinel new file", lambda: write(os.path.join(sentinel, "new.txt")))
attempt("site-packages module", lambda: write("/.codeswarm-site-packages/pytest/__init__.py", b"raise SystemExit"))
attempt("site-packages new", lambda: write("/.codeswarm-site-packages/evil.py"))
attempt("site-packages pyc", lambda: write("/.codeswarm-site-packages/_pytest/__pycache__/python.cpython-312.pyc"))
attempt("stdlib pyc", lambda: write("/.codeswarm-stdlib/json/__init__.pyc"))
attempt("stdlib remove", lambda: os.remove("/.codeswarm-stdlib/json/decoder.pyc"))
attempt("stdlib rename", lambda: os.rename("/.codeswarm-stdlib/json", "/.codeswarm-stdlib/json2"))
attempt("embedded zip", lambda: write("/usr/local/lib/python312.zip"))
attempt("host tmp", lambda: write("/tmp/../../tmp/codeswarm-escape"))


def chmod_effect(path):
    before = os.stat(path).st_mode
    os.chmod(path, 0o777)
    after = os.stat(path).st_mode
    if after == before:
        raise PermissionError("chmod had no effect")
    return oct(after)


attempt("chmod site", lambda: chmod_effect("/.codeswarm-site-packages/pytest/__init__.py"))
# Writing inside the work dir is allowed.
write("inside.txt")
print("inside ok" if open("inside.txt", "rb").read() == b"pwned" else "inside broken")
done()
