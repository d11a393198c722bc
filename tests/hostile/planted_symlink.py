# Follow symlinks the host side planted: in a read-only mount (links to the sentinel and /etc)
# and in the source dir (those are not copied at all).
import os
from _common import attempt, done

attempt("mount link to sentinel file", lambda: open("/planted/secret_link").read())
attempt("mount link to /etc", lambda: os.listdir("/planted/etc_link"))
attempt("mount link to /etc/passwd", lambda: open("/planted/etc_link/passwd").read())
attempt("mount relative link", lambda: open("/planted/up_link/etc/passwd").read())
attempt("source-dir link", lambda: open("src_link").read())
done()
