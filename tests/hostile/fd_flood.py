# Open descriptors without end: every one is a host descriptor, and the host process's limit is
# shared by all its threads (other sandbox runs, the model, the batch's files).
import errno
import os

open("target.txt", "w").close()
fds = []
try:
    while len(fds) < 20_000:
        fds.append(os.open("target.txt", os.O_RDONLY))
    print(f"ESCAPED opened {len(fds)} descriptors")
except OSError as e:
    print(f"blocked open after {len(fds)}: {errno.errorcode.get(e.errno)}")
for fd in fds:
    os.close(fd)
# Closing gives them back.
again = [os.open("target.txt", os.O_RDONLY) for _ in range(500)]
print(f"reopened {len(again)}")
print("done")
