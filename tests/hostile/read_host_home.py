# Read the host user's home directory (its real path is given in HOST_HOME) and the sentinel.
import os
from _common import attempt, done

home = os.environ["HOST_HOME"]
sentinel = os.environ["SENTINEL"]
attempt("list home", lambda: os.listdir(home))
attempt("ssh dir", lambda: os.listdir(os.path.join(home, ".ssh")))
attempt("bashrc", lambda: open(os.path.join(home, ".bashrc")).read())
attempt("sentinel secret", lambda: open(os.path.join(sentinel, "secret.txt")).read())
attempt("list sentinel", lambda: os.listdir(sentinel))
attempt("expanduser", lambda: open(os.path.expanduser("~/.bashrc")).read())
done()
