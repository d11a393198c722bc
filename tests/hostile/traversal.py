# Climb out of the work dir with `..` in every form.
import os
from _common import attempt, done

for rel in ["../etc/passwd", "../../../../../../etc/passwd", "/../../etc/passwd", "/tmp/../../etc/passwd",
            "/.codeswarm-site-packages/../../etc/passwd", "/dev/../../../etc/passwd", "./../../proc/self/environ"]:
    attempt(rel, lambda p=rel: open(p, "rb").read())


def escaped_listing(path):
    names = set(os.listdir(path))
    host_only = names & {"etc", "proc", "bin", "home", "root", "var", "sbin", "boot"}
    if host_only:
        return sorted(host_only)
    raise PermissionError(f"listing of {path} shows only sandbox entries")


for d in ["..", "../..", "/..", "/tmp/..", "/tmp/../.."]:
    attempt("list " + d, lambda d=d: escaped_listing(d))
attempt("dir_fd walk", lambda: os.open("../../etc/passwd", os.O_RDONLY, dir_fd=os.open(".", os.O_RDONLY)))
done()
