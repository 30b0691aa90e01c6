#!/usr/bin/env python3
"""A loopback stand-in for raw.githubusercontent.com, used only inside the
benchmark's private network namespace (bench/peers/run.sh).

ms-exchange-version.nse downloads its build dictionaries from
https://raw.githubusercontent.com/righel/ms-exchange-version-nse/main/<file>
for every host it scans and has no script argument to read local copies. In
the namespace that host name resolves to 127.0.0.1 (a private /etc/hosts), and
this server answers for it from local copies of the files, so the script runs
unmodified and no packet leaves the machine.

    mirror.py DIR CERT KEY LOG      serve DIR's *.json on 127.0.0.1:443

GET /righel/ms-exchange-version-nse/main/NAME returns DIR/NAME if it exists,
404 otherwise (the CVE dictionary is left out on purpose: the script only uses
it with showcves/showcpe, which also send ProxyNotShell SSRF probes). Every
request is appended to LOG (path and status), so the report can say what the
script fetched.
"""
import http.server
import os
import ssl
import sys
import threading

PREFIX = "/righel/ms-exchange-version-nse/main/"


def main():
    root, cert, key, log = sys.argv[1:5]
    lock = threading.Lock()
    logf = open(log, "a", buffering=1)
    files = {}
    for name in os.listdir(root):
        if name.endswith(".json"):
            with open(os.path.join(root, name), "rb") as f:
                files[name] = f.read()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = None
            if self.path.startswith(PREFIX):
                body = files.get(self.path[len(PREFIX):])
            status = 200 if body is not None else 404
            if body is None:
                body = b"404: Not Found"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            with lock:
                logf.write("%d %s\n" % (status, self.path))

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 443), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
