# Recurse in pure Python with the recursion limit lifted: CPython 3.12 keeps these frames in
# linear memory, so this grows memory until the cap.
import sys

sys.setrecursionlimit(10**8)


def f(n):
    return f(n + 1) + 1


print("recursing", flush=True)
f(0)
print("ESCAPED returned")
