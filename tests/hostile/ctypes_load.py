# Reach native code: ctypes, loading libc, mmap of host files.
from _common import attempt, done

attempt("import ctypes", lambda: __import__("ctypes"))
attempt("cdll libc", lambda: __import__("ctypes").CDLL("libc.so.6"))
attempt("mmap", lambda: __import__("mmap").mmap(-1, 4096))
attempt("_posixsubprocess", lambda: __import__("_posixsubprocess"))
done()
