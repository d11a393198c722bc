# Create symlinks from inside the guest that point outside, then read through them.
import os
from _common import attempt, done

sentinel = os.environ["SENTINEL"]
targets = {
    "abs_passwd": "/etc/passwd",
    "rel_passwd": "../../../../../etc/passwd",
    "sentinel": os.path.join(sentinel, "secret.txt"),
    "root_up": "..",
}
for name, target in targets.items():
    try:
        os.symlink(target, name)
    except OSError as e:
        print(f"blocked create {name}: {type(e).__name__}")
        continue
    attempt("read via " + name, lambda n=name: open(n, "rb").read())
attempt("list via root_up", lambda: [x for x in os.listdir("root_up") if x in ("etc", "proc", "home")] or (_ for _ in ()).throw(PermissionError()))
done()
