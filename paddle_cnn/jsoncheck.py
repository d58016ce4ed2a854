"""JSON read from disk (a checkpoint's state.json, results.json) checked as data: each helper returns the value when
it has the expected kind and range, else raises Invalid with one phrase naming the field, the value and what was
expected ("partial step is 9, outside 0 to 4", "runs[1] params is 'many', not a whole number"); the caller turns
it into one line naming the file and the fix. Fields are named by path: "history lr[0]", "runs[0] history"."""
from __future__ import annotations

import json
import math


class Invalid(Exception):
    """The first thing wrong with a JSON document; its message is one phrase."""


def shown(v) -> str:
    """A value as a message shows it: objects and lists by kind, anything else as written (long text cut)."""
    if isinstance(v, (dict, list)):
        return "an object" if isinstance(v, dict) else "a list"
    s = json.dumps(v) if v is None or isinstance(v, bool) else repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _want(ok: bool, v, what: str, expected: str):
    if not ok:
        raise Invalid(f"{what} is {shown(v)}, not {expected}")
    return v


def _within(v, what: str, lo, hi):
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise Invalid(f"{what} is {v}, " + (f"outside {lo} to {hi}" if lo is not None and hi is not None else
                                            f"below {lo}" if lo is not None else f"above {hi}"))
    return v


def whole(v, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """An int (not true/false) within lo..hi (either may be None)."""
    return _within(_want(isinstance(v, int) and not isinstance(v, bool), v, what, "a whole number"), what, lo, hi)


def number(v, what: str, finite: bool = True, lo: float | None = None) -> float:
    """An int or float (not true/false), finite unless `finite` is False, at least `lo`."""
    _want(isinstance(v, (int, float)) and not isinstance(v, bool), v, what, "a number")
    return _within(_want(not finite or math.isfinite(v), v, what, "a finite number"), what, lo, None)


def text(v, what: str) -> str:
    return _want(isinstance(v, str), v, what, "a string")


def obj(v, what: str) -> dict:
    return _want(isinstance(v, dict), v, what, "an object")


def array(v, what: str, length: int | None = None) -> list:
    """A list, of `length` entries when given."""
    _want(isinstance(v, list), v, what, "a list")
    if length is not None and len(v) != length:
        raise Invalid(f"{what} has {len(v)} entries, not {length}")
    return v


def objects(v, what: str) -> list:
    """A list of objects."""
    for i, x in enumerate(_want(isinstance(v, list), v, what, "a list of objects")):
        obj(x, f"{what}[{i}]")
    return v


def key(d: dict, k: str, what: str):
    """d[k] of the object `what` ("it" for the document itself)."""
    if k not in d:
        raise Invalid(f"{what} lacks {k!r}")
    return d[k]


MAX_JSON_BYTES = 64 << 20  # bytes of a state.json, latest.json or results.json (ours are a few hundred kB at most)


def load_file(path: str, max_bytes: int = MAX_JSON_BYTES):
    """json.load of `path` when it is a regular file of at most max_bytes: a FIFO put in its place would hang the
    read and a huge file fill the memory. Invalid (one phrase) otherwise; FileNotFoundError when it is absent;
    ValueError for text that is not JSON."""
    import os
    import stat
    with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NONBLOCK)) as f:  # a FIFO: no wait
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Invalid("it is not a regular file (a FIFO, device or folder)")
        if st.st_size > max_bytes:
            raise Invalid(f"it has {st.st_size:,} bytes, more than the {max_bytes:,} such a file may have")
        return json.loads(f.read(max_bytes + 1).decode("utf-8"))
