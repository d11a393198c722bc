# Open sockets: TCP to a host listener (port in HOST_PORT), UDP, DNS.
import os
import socket
from _common import attempt, done

port = int(os.environ["HOST_PORT"])


def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(("127.0.0.1", port))
    s.sendall(b"hello from the guest")
    return "connected"


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", ("127.0.0.1", port))
    return "sent"


def listen():
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    s.listen()
    return s.getsockname()


attempt("tcp connect", tcp)
attempt("udp send", udp)
attempt("listen", listen)
attempt("dns", lambda: socket.getaddrinfo("localhost", 80))
attempt("create_connection", lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
done()
