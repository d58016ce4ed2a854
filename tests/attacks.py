"""The harness of the attack tests (tests/test_attacks_*.py): run the CLI on bad files the tests generate and
check what the user meets: exit 2, one line on stderr naming the problem, no traceback, nothing of the run
written, and (for the attacks on memory and time) a peak memory within a bound set by the operating system.

- `cli(argv)`: the CLI in this process (fast: most attacks need no fresh paddle import).
- `cli_bounded(argv)`: the CLI as the user types it, `python -m paddle_cnn ...`, in a subprocess under an
  address-space limit (RLIMIT_AS) and a wall-clock timeout; its peak resident memory is read from the kernel
  (wait4's rusage), so an attack that would allocate gigabytes either is refused early or fails the bound.
- `refused(outcome, *words)`: the one-line refusal, every word in it.
- `snapshot(folder)`: every file under a folder with its size and mtime, to compare before and after.
"""
from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMORY_LIMIT_MB = 3072  # address space of a bounded run: paddle itself maps ~1.5 GB of it
PEAK_BOUND_MB = 1200    # resident memory a refused attack may reach (paddle + our code: ~500 MB here)


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    peak_mb: float = 0.0
    seconds: float = 0.0


def cli(*argv: str) -> Outcome:
    """paddle_cnn.cli.main in this process, its stdout and stderr captured."""
    from paddle_cnn.cli import main
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return Outcome(code, out.getvalue(), err.getvalue(), seconds=time.perf_counter() - t0)


def cli_bounded(*argv: str, env: dict | None = None, timeout: float = 120,
                memory_mb: int = MEMORY_LIMIT_MB) -> Outcome:
    """`python -m paddle_cnn ARGV` in a subprocess limited to `memory_mb` of address space; killed after
    `timeout` seconds (the outcome then has code -9 and says so in err)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    full_env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    t0 = time.perf_counter()
    proc = _Popen([sys.executable, "-m", "paddle_cnn", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full_env, cwd=ROOT, preexec_fn=limit)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += f"\n(killed after {timeout} s)".encode()
    return Outcome(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                   getattr(proc, "peak_mb", 0.0), time.perf_counter() - t0)


class _Popen(subprocess.Popen):
    """Popen whose wait records the child's own peak resident memory (wait4's rusage), not the cumulative
    maximum of every child this process ever had."""

    def _try_wait(self, wait_flags):
        try:
            pid, sts, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid == self.pid:
            self.peak_mb = usage.ru_maxrss / 1024
        return pid, sts


def refused(o: Outcome, *words: str) -> str:
    """Assert the refusal the user must see: exit 2, one line `paddle-cnn: error: ...` with every word (case
    as given), no traceback, nothing on stdout but what came before. Returns the line."""
    lines = [ln for ln in o.err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in o.err, o.err[-3000:]
    assert o.code == 2, f"exit {o.code}: {o.err[-2000:]}"
    errors = [ln for ln in lines if ln.startswith("paddle-cnn: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], o.err[-2000:]
    for w in words:
        assert w in errors[0], f"{w!r} not in: {errors[0]}"
    return errors[0]


def snapshot(folder) -> dict:
    """path -> (size, mtime_ns) of every file and folder under `folder` (empty when it does not exist)."""
    seen = {}
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(base, name)
            st = os.lstat(p)
            seen[os.path.relpath(p, folder)] = (st.st_size if name in files else 0, st.st_mtime_ns)
    return seen
