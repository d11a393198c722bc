# Nest directories as deep as the disk quota allows (4 KiB per directory), walking down with
# directory descriptors so that no path gets long, so that removing the work dir afterwards is
# a deep recursion on the host.
import os

depth = 0
fd = os.open(".", os.O_RDONLY)
try:
    while True:
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
        depth += 1
finally:
    print("depth", depth, flush=True)
