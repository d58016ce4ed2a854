"""Run a command beside a CPU-bound load (one busy process per core less one, as `paddle-cnn bench` section 6
does) and print its wall time: how the suite behaves on a shared machine.

    .venv/bin/python tools/busy.py -- .venv/bin/python -m pytest -q notebooks --nbmake
    .venv/bin/python tools/busy.py --processes 0 -- CMD ...   # the same command idle, for the ratio
"""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message="No ccache found")
from paddle_cnn.bench import background_load  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--processes", type=int, default=None, help="busy processes (default: cores - 1, at least 1)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = p.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        p.error("give the command to run after --")
    with background_load(args.processes) if args.processes != 0 else contextlib.nullcontext(0) as n:
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        wall = time.perf_counter() - t0
    print(f"busy.py: exit {rc}, {wall:.0f} s wall beside {n or 0} busy process(es): {' '.join(cmd)}",
          file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
