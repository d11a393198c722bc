# Print 100 MB to stdout and 10 MB to stderr; the capture keeps its cap and the guest carries on.
import sys

line = "x" * 1023 + "\n"
for _ in range(100 * 1024):
    sys.stdout.write(line)
for _ in range(10 * 1024):
    sys.stderr.write(line)
sys.stdout.flush()
sys.stderr.write("flood finished\n")
