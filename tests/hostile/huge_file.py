# Write a 1 GB file in 1 MiB chunks.
chunk = b"\0" * (1 << 20)
with open("big.bin", "wb") as f:
    for i in range(1024):
        f.write(chunk)
print("ESCAPED wrote 1 GiB")
