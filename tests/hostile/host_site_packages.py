# Import packages from the host: a module planted in a host dir (HOST_SITE) and the host's pip.
import os
import sys
from _common import attempt, done

host_site = os.environ["HOST_SITE"]
sys.path.insert(0, host_site)
attempt("planted host module", lambda: __import__("host_only_module").SECRET)
attempt("host pip", lambda: __import__("pip").__file__)
attempt("host numpy", lambda: __import__("numpy").__file__)
done()
