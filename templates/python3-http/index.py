#!/usr/bin/env python3
"""The server of the python3-http template (standard library only).

fwatchdog (mode=http) starts this once per replica and proxies each request to it on
$http_port. Every request becomes an Event for function.handler.handle(event, context), as in
OpenFaaS's python3-http template; the dict it returns becomes the response.
"""

import json
import os
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python-packages"))

from function import handler  # noqa: E402


class Event:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


class Context:
    def __init__(self):
        self.hostname = os.getenv("HOSTNAME", "localhost")


def format_response(result):
    """(status, headers, body bytes) from what the handler returned."""
    if result is None:
        return 200, {}, b""
    if isinstance(result, (str, bytes)):
        result = {"body": result}
    if not isinstance(result, dict):
        raise TypeError("handle() must return a dict with statusCode, body and headers")
    status = int(result.get("statusCode", 200))
    headers = dict(result.get("headers") or {})
    body = result.get("body", "")
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = str(body).encode()
    return status, headers, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def serve(self):
        body = self.read_body()
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        event = Event(self.command, url.path, query, self.headers, body)
        try:
            status, headers, payload = format_response(handler.handle(event, Context()))
        except Exception:  # the handler's failure is the caller's 500, and the log's traceback
            traceback.print_exc()
            status, headers, payload = 500, {"Content-Type": "text/plain"}, b"handler failed\n"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = serve

    def log_message(self, format, *args):  # no access log: fwatchdog has metrics
        pass


def main():
    port = int(os.getenv("http_port", "5000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
