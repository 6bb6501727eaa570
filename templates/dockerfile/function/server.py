#!/usr/bin/env python3
"""An HTTP server run as a function: it listens on $port, answers GET /_/health, and greets
whoever is named in the request body. Any program that does the same can replace it."""

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GREETING = os.getenv("greeting", "Hello from exec!")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body):
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        if self.path == "/_/health":
            self.answer(200, "OK")
        else:
            self.answer(200, f"{GREETING} You said: world")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        name = self.rfile.read(length).decode() if length > 0 else ""
        print(f"handling POST {self.path} ({length} bytes)", flush=True)
        self.answer(200, f"{GREETING} You said: {name or 'world'}")

    def log_message(self, format, *args):
        pass


def serve(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


if __name__ == "__main__":
    serve(int(os.getenv("port", "8080"))).serve_forever()
