# Recurse through C (a __getitem__ slot calls back into Python at every level) with the recursion
# limit lifted, to exhaust the native wasm stack.
import sys

sys.setrecursionlimit(10**8)


class Deep:
    def __getitem__(self, n):
        return self[n + 1]


print("recursing", flush=True)
Deep()[0]
print("ESCAPED returned")
