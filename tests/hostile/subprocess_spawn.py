# Start processes every way Python offers, and signal the host.
import os
import subprocess
from _common import attempt, done

attempt("subprocess.run", lambda: subprocess.run(["/bin/sh", "-c", "touch /tmp/codeswarm-pwned"]))
attempt("os.system", lambda: os.system("touch /tmp/codeswarm-pwned") or (_ for _ in ()).throw(OSError("os.system returned 0 without a shell?")))
attempt("os.popen", lambda: os.popen("id").read())
attempt("os.fork", lambda: os.fork())
attempt("os.execv", lambda: os.execv("/bin/sh", ["sh", "-c", "id"]))
attempt("os.posix_spawn", lambda: os.posix_spawn("/bin/sh", ["sh"], {}))
attempt("os.kill", lambda: os.kill(1, 9))
attempt("multiprocessing", lambda: __import__("multiprocessing").Process(target=print).start())
done()
