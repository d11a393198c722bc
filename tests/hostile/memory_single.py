# One allocation far beyond the limit, then touch it.
buf = bytearray(1500 * 1024 * 1024)
buf[-1] = 1
print("ESCAPED allocated", len(buf))
