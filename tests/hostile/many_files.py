# Create a flood of empty files and directories.
import os

for i in range(200_000):
    if i % 2:
        open(f"f{i}", "w").close()
    else:
        os.mkdir(f"d{i}")
print("ESCAPED created all")
