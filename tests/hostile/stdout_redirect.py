# Move a file onto fd 1 (dup2 = fd_renumber) so that "stdout" writes bypass the disk quota.
import os
import sys

fd = os.open("sink.bin", os.O_WRONLY | os.O_CREAT)
try:
    os.dup2(fd, 1)
    print("dup2 ok", file=sys.stderr)
except (AttributeError, OSError) as e:
    print(f"blocked dup2: {type(e).__name__}", file=sys.stderr)
    raise SystemExit(0)
chunk = b"y" * (1 << 20)
for _ in range(256):
    os.write(1, chunk)
print("ESCAPED wrote 256 MiB through fd 1", file=sys.stderr)
