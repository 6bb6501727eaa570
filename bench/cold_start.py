#!/usr/bin/env python3
"""cold_start.py: time from zero replicas to the first response, with its phases.

    bench/cold_start.py [BIN_DIR] [--runs N] [--sandbox bwrap|none]

For each function below, deployed in a `funcd serve` of its own making (127.0.0.1, a fresh
state directory):

  compiled         fast_upstream (a compiled HTTP server) behind fwatchdog, mode=http
  compiled-direct  the same server with com.funcd.watchdog=none (no fwatchdog)
  python           a Python standard-library HTTP server (http.server) behind fwatchdog
  compiled-standby "compiled" with com.funcd.standby=frozen: at zero its replica is frozen
                   (cgroup freezer), and the call thaws it instead of starting one

it scales the function to 0, waits for its replica to go, and times one call (a new
connection, as a client would), N times (default 20). The phases come from funcd's
gateway_replica_start_seconds histogram (each cold start adds one observation per phase, so
the change of its _sum is that start's value): spawn (the runtime started the replica's
process), ready (the replica serves; fwatchdog tells the runtime on a pipe) and
first_response, all from the moment the runtime began the start.

The function's own start-up is measured without funcd: the same command started directly,
connecting every 0.5 ms until it accepts, then one request. Platform overhead = cold call -
own start-up (goal < 20 ms; total < 50 ms for the compiled function). Warm calls: the median
of N calls through the gateway and directly (new connection each, like the cold call).

Prints numbers; asserts nothing. Stops only the processes it started, by PID.
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PYTHON_SERVER = r'''
import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass

port = int(os.environ.get("http_port") or os.environ.get("port") or 8080)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


def log(message):
    print(message, file=sys.stderr, flush=True)


class Funcd:
    def __init__(self, bin_dir, work_dir, sandbox):
        self.state = os.path.join(work_dir, "state")
        self.log_path = os.path.join(work_dir, "funcd.log")
        self.log_file = open(self.log_path, "w")
        env = {"PATH": os.environ["PATH"]}
        self.process = subprocess.Popen(
            [os.path.join(bin_dir, "funcd"), "serve", "--listen", "127.0.0.1:0", "--state-dir",
             self.state, "--sandbox", sandbox],
            stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        self.port = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.port is None:
            with open(self.log_path) as f:
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", f.read(), re.I)
            if m:
                self.port = int(m.group(1))
            elif self.process.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            sys.exit("cold_start: funcd serve did not start:\n" + open(self.log_path).read())
        with open(os.path.join(self.state, "secrets", "basic-auth-password")) as f:
            password = f.read().strip()
        token = base64.b64encode(f"admin:{password}".encode()).decode()
        self.auth = {"Authorization": "Basic " + token}

    def request(self, method, path, body=None, auth=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = dict(self.auth) if auth else {}
        if body is not None:
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data

    def api(self, method, path, body=None):
        status, data = self.request(method, path, body)
        if status >= 300:
            sys.exit(f"cold_start: {method} {path} answered {status}: {data.decode()}")
        return data

    def available(self, name):
        return json.loads(self.api("GET", f"/system/function/{name}")).get("availableReplicas", 0)

    def wait_available(self, name, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.available(name) == count:
                return
            time.sleep(0.02)
        sys.exit(f"cold_start: {name} did not reach {count} replicas; see {self.log_path}")

    def phase_sums(self, name):
        """Sum of each start-up phase's observations for the function, from /metrics."""
        _, data = self.request("GET", "/metrics")
        sums = {}
        pattern = re.compile(r'^gateway_replica_start_seconds_sum\{function_name="([^"]+)",'
                             r'phase="([^"]+)"\} (\S+)$')
        for line in data.decode().splitlines():
            m = pattern.match(line)
            if m and m.group(1) == f"{name}.openfaas-fn":
                sums[m.group(2)] = float(m.group(3))
        return sums

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def timed_get(port, path="/"):
    """Seconds for one GET on a new connection; the status must be 200."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        sys.exit(f"cold_start: GET {path} answered {response.status}")
    return elapsed


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_startup(command, env_extra, cwd):
    """Seconds from exec of the function's server to its first response, without funcd."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "port": str(port), "http_port": str(port)}
    env.update(env_extra)
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    sys.exit(f"cold_start: {command} exited")
                time.sleep(0.0005)
        timed_get(port)
        return time.perf_counter() - start
    finally:
        process.terminate()
        process.wait()


def ms(seconds):
    return f"{seconds * 1000:8.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bin_dir", nargs="?", default="build/release/bin")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sandbox", choices=["bwrap", "none"], default="bwrap")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    for binary in ("funcd", "fwatchdog", "fast_upstream"):
        if not os.access(os.path.join(bin_dir, binary), os.X_OK):
            sys.exit(f"cold_start: {bin_dir}/{binary} not found; build the release preset first")

    work_dir = tempfile.mkdtemp(prefix="cold_start.")
    os.chmod(work_dir, 0o755)  # sandboxed replicas run as an unprivileged uid
    app = os.path.join(work_dir, "app")
    os.mkdir(app)
    os.chmod(app, 0o755)
    shutil.copy(os.path.join(bin_dir, "fast_upstream"), app)
    with open(os.path.join(app, "server.py"), "w") as f:
        f.write(PYTHON_SERVER)
    os.chmod(os.path.join(app, "server.py"), 0o644)

    functions = [
        ("compiled", {"fprocess": "./fast_upstream", "mode": "http"}, {},
         ["./fast_upstream"]),
        ("compiled-direct", {"fprocess": "./fast_upstream"}, {"com.funcd.watchdog": "none"},
         ["./fast_upstream"]),
        ("python", {"fprocess": "python3 server.py", "mode": "http"}, {},
         ["python3", "server.py"]),
        ("compiled-standby", {"fprocess": "./fast_upstream", "mode": "http"},
         {"com.funcd.standby": "frozen"}, ["./fast_upstream"]),
    ]
    funcd = Funcd(bin_dir, work_dir, args.sandbox)
    results = []
    finished = False
    try:
        for name, env, annotations, _ in functions:
            funcd.api("POST", "/system/functions", {
                "service": name, "image": f"dir://{app}", "envVars": env,
                "annotations": annotations,
                "labels": {"com.openfaas.scale.min": "1", "com.openfaas.scale.max": "1"}})
        for name, env, annotations, command in functions:
            funcd.wait_available(name, 1)
            for _ in range(3):
                timed_get(funcd.port, f"/function/{name}")
            warm = statistics.median(
                timed_get(funcd.port, f"/function/{name}") for _ in range(args.runs))
            cold, phases = [], {"spawn": [], "ready": [], "first_response": []}
            log(f"{name}: {args.runs} cold starts")
            for _ in range(args.runs):
                funcd.api("POST", f"/system/scale-function/{name}",
                          {"serviceName": name, "replicas": 0})
                funcd.wait_available(name, 0)
                time.sleep(0.2)  # let the old replica's exit settle
                before = funcd.phase_sums(name)
                cold.append(timed_get(funcd.port, f"/function/{name}"))
                after = funcd.phase_sums(name)
                for phase in phases:
                    phases[phase].append(after.get(phase, 0) - before.get(phase, 0))
            own = statistics.median(own_startup(command, {"mode": ""}, app)
                                    for _ in range(args.runs))
            direct_port = free_port()
            direct = subprocess.Popen(command, cwd=app, env={
                "PATH": os.environ["PATH"], "port": str(direct_port),
                "http_port": str(direct_port)},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    try:
                        socket.create_connection(("127.0.0.1", direct_port), timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.01)
                warm_direct = statistics.median(
                    timed_get(direct_port) for _ in range(args.runs))
            finally:
                direct.terminate()
                direct.wait()
            results.append((name, statistics.median(cold),
                            {p: statistics.median(v) for p, v in phases.items()}, own, warm,
                            warm_direct))
        finished = True
    finally:
        funcd.stop()
        if finished:
            shutil.rmtree(work_dir, ignore_errors=True)
        else:
            log(f"cold_start: kept {work_dir} (funcd.log) for a look")

    load = open("/proc/loadavg").read().split()[:3]
    print(f"funcd cold start ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, load {' '.join(load)}, sandbox {args.sandbox}, "
          f"median of {args.runs})")
    print(f"{'function':16} {'cold ms':>8} {'spawn':>8} {'ready':>8} {'1st resp':>8} "
          f"{'own ms':>8} {'overhead':>8} {'warm ms':>8} {'direct':>8}  goal")
    for name, cold, phases, own, warm, warm_direct in results:
        overhead = cold - own
        goal = f"overhead < 20 ms {'met' if overhead < 0.020 else 'MISSED'}"
        if name.startswith("compiled"):
            goal += f", total < 50 ms {'met' if cold < 0.050 else 'MISSED'}"
        print(f"{name:16} {ms(cold)} {ms(phases['spawn'])} {ms(phases['ready'])} "
              f"{ms(phases['first_response'])} {ms(own)} {ms(overhead)} {ms(warm)} "
              f"{ms(warm_direct)}  {goal}")


if __name__ == "__main__":
    main()
