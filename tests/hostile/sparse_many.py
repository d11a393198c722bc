# Grow 50 files to a terabyte each by writing one byte far past their end (seek + write, and
# os.pwrite): one byte written each, but files are charged by their length.
import os

from _common import attempt, done

TIB = 1 << 40


def seek_write(i):
    with open(f"seek{i}.bin", "wb") as f:
        f.seek(TIB)
        f.write(b"x")
    return os.path.getsize(f"seek{i}.bin")


def pwrite(i):
    fd = os.open(f"pwrite{i}.bin", os.O_WRONLY | os.O_CREAT)
    try:
        os.pwrite(fd, b"x", TIB)
    finally:
        os.close(fd)
    return os.path.getsize(f"pwrite{i}.bin")


for i in range(25):
    attempt(f"seek+write {i}", lambda: seek_write(i))
for i in range(25):
    attempt(f"pwrite {i}", lambda: pwrite(i))
done()
