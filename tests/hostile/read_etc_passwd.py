# Read well-known host files by absolute path.
from _common import attempt, done

for path in ["/etc/passwd", "/etc/shadow", "/etc/hostname", "/proc/self/environ", "/proc/1/cmdline", "/sys/kernel/hostname"]:
    attempt(path, lambda p=path: open(p, "rb").read())
done()
