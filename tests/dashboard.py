"""VisualDL's dashboard as the browser meets it: its own server (`visualdl --logdir`) in a subprocess, asked
through the HTTP API its page calls (/app/api/runs, /app/api/tags, /app/api/scalar/list)."""
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request


@contextlib.contextmanager
def visualdl_server(logdir):
    """Yields get(path, **query) -> the JSON `data` the server answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = os.path.join(os.path.dirname(sys.executable), "visualdl")
    proc = subprocess.Popen([exe, "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
                             "--language", "en", "--disable-telemetry"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(path, **query):
        url = f"http://127.0.0.1:{port}/app/api/{path}?{urllib.parse.urlencode(query)}"
        req = urllib.request.Request(url, headers={"Accept-Language": "en"})
        with urllib.request.urlopen(req, timeout=30) as r:
            answer = json.load(r)
        assert answer["status"] == 0, answer
        return answer["data"]

    try:
        deadline = time.time() + 60
        while True:
            try:
                get("runs")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"visualdl did not start (exit {proc.poll()})")
                time.sleep(0.3)
        yield get
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def dashboard_scalars(logdir) -> dict:
    """{run as the dashboard names it: {tag: [(step, value), ...]}}: every scalar the dashboard plots."""
    with visualdl_server(logdir) as get:
        listing = get("scalar/tags")
        return {run: {tag: [(int(step), float(value)) for _, step, value in get("scalar/list", run=run, tag=tag)]
                      for tag in tags}
                for run, tags in zip(listing["runs"], listing["tags"])}
