# Make HTTP requests to a host listener and to the internet.
import os
import urllib.request
from _common import attempt, done

port = int(os.environ["HOST_PORT"])
attempt("urlopen local", lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read())
attempt("urlopen remote", lambda: urllib.request.urlopen("http://example.com/", timeout=2).read())
attempt("http.client", lambda: __import__("http.client").client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/"))
done()
