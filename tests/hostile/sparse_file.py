# Grow a file to a terabyte with truncate instead of writes.
with open("sparse.bin", "wb") as f:
    f.truncate(1 << 40)
print("ESCAPED sparse terabyte")
