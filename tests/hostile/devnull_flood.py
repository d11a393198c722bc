# Flood /dev/null: 320 MiB of writes (the quota is 16 MiB), 5,000 opens for writing (4 KiB
# each if they were charged as new files), a 1 TiB truncate. /dev/null must discard without
# charging, stay empty, and leave the whole quota for real files.
import os

chunk = b"x" * (1 << 20)
with open("/dev/null", "wb") as f:
    for _ in range(256):
        f.write(chunk)
fd = os.open("/dev/null", os.O_WRONLY)
for _ in range(64):
    assert os.write(fd, chunk) == len(chunk)
os.close(fd)
print("wrote 320 MiB to /dev/null")
for _ in range(5000):
    open("/dev/null", "w").close()
print("opened /dev/null 5000 times")
with open("/dev/null", "r+b") as f:
    f.truncate(1 << 40)
with open("/dev/null", "rb") as f:
    print(f"null size {os.path.getsize('/dev/null')} read {len(f.read())}")
with open("real.bin", "wb") as f:
    f.write(b"y" * (12 << 20))
print(f"real file {os.path.getsize('real.bin')}")
print("done")
