"""results.json read through one schema check: whatever reads a results file (`run --resume`, reuse in the
notebooks, `paddle-cnn report`) gets a dict of the shape the runner writes, or one line naming the file, the first
field that is wrong, and the fix. Nothing downstream meets a KeyError or a list where an object should be.

Shape (runner.Results writes it): {"experiment": str, "profile": str, "runs": [run, ...], optional "title",
"seeds", "claims", "notes", "device", "started", "finished", "identities", "plans_done", "timing", "models",
"arithmetic"}; a run: {"run", "model", "params", "macs", "epochs", "history": {key: [number per epoch]}, ...}.
"""
from __future__ import annotations

import json

_INT = "whole number"
_NUM = "number"


class _Wrong(Exception):
    pass


def _kind(v) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def _check(v, want, what: str):
    """v is of kind `want`: str, _INT, _NUM (or None where allowed by the caller), dict, list."""
    ok = {str: isinstance(v, str), dict: isinstance(v, dict), list: isinstance(v, list),
          _INT: isinstance(v, int) and not isinstance(v, bool),
          _NUM: isinstance(v, (int, float)) and not isinstance(v, bool)}[want]
    if not ok:
        name = {str: "a string", dict: "an object", list: "a list", _INT: "a whole number", _NUM: "a number"}[want]
        raise _Wrong(f"{what} must be {name}, not {_kind(v)}")
    return v


def _objects(v, what: str) -> list:
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise _Wrong(f"{what} must be a list of objects")
    return v


RUN_FIELDS = {"run": str, "model": str, "params": _INT, "macs": _NUM, "epochs": _INT, "history": dict}
RUN_OPTIONAL = {"label": str, "seed": _INT, "weights": _NUM, "num_classes": _INT, "train_images": _INT,
                "test_images": _INT, "settings": dict, "fingerprint": str}
RUN_MEASURES = ("test_acc", "test_top2", "best_eval_acc", "train_seconds")  # a number, or null
TOP_OPTIONAL = {"title": str, "seeds": _INT, "device": str, "started": str, "finished": str}
PLOTTED = ("eval_acc", "eval_loss")  # history curves every report draws


def _run(r: dict, i: int) -> None:
    where = f"runs[{i}]"
    for k, want in RUN_FIELDS.items():
        if k not in r:
            raise _Wrong(f"{where} lacks {k!r}")
        _check(r[k], want, f"{where} {k}")
    for k, want in RUN_OPTIONAL.items():
        if k in r:
            _check(r[k], want, f"{where} {k}")
    for k in RUN_MEASURES:
        if r.get(k) is not None:
            _check(r[k], _NUM, f"{where} {k}")
    if r["epochs"] < 1:
        raise _Wrong(f"{where} epochs is {r['epochs']}, not at least 1")
    for k in PLOTTED:
        if k not in r["history"]:
            raise _Wrong(f"{where} history lacks {k!r}")
    for k, values in r["history"].items():
        if not isinstance(values, list) or len(values) != r["epochs"]:
            raise _Wrong(f"{where} history {k} must be a list of {r['epochs']} numbers (one per epoch)")
        for v in values:
            if v is not None:
                _check(v, _NUM, f"{where} history {k}")


def check_results(data) -> dict:
    """`data` (as json.load read it) has the shape of a results file, else _Wrong naming the first wrong field."""
    if not isinstance(data, dict):
        raise _Wrong(f"it holds {_kind(data)}, not an object")
    for k in ("experiment", "profile", "runs"):
        if k not in data:
            raise _Wrong(f"it lacks {k!r}")
    _check(data["experiment"], str, "experiment")
    from paddle_cnn.experiments.definitions import PROFILES
    if data["profile"] not in PROFILES:
        raise _Wrong(f"profile is {data['profile']!r}, not one of {', '.join(PROFILES)}")
    for i, r in enumerate(_objects(data["runs"], "runs")):
        _run(r, i)
    for k, want in TOP_OPTIONAL.items():
        if k in data:
            _check(data[k], want, k)
    for k in ("claims", "timing", "models", "arithmetic"):
        if k in data:
            _objects(data[k], k)
    for i, m in enumerate(data.get("models", [])):
        for k, want in (("model", str), ("params", _NUM), ("macs", _NUM)):
            _check(m.get(k), want, f"models[{i}] {k}")
    for i, c in enumerate(data.get("arithmetic", [])):
        for k in ("stated", "source", "claim", "ours", "verdict", "note"):
            if k not in c:
                raise _Wrong(f"arithmetic[{i}] lacks {k!r}")
    if "notes" in data and (not isinstance(data["notes"], list) or not all(isinstance(n, str) for n in data["notes"])):
        raise _Wrong("notes must be a list of strings")
    if "identities" in data and (not isinstance(data["identities"], dict)
                                 or not all(isinstance(v, dict) for v in data["identities"].values())):
        raise _Wrong("identities must be an object of objects (one per plan)")
    if "plans_done" in data and (not isinstance(data["plans_done"], dict)
                                 or not all(isinstance(v, str) for v in data["plans_done"].values())):
        raise _Wrong("plans_done must be an object of fingerprints (strings)")
    return data


def read_results(path: str, fix: str, experiment: str | None = None) -> dict:
    """results.json at `path`, checked (check_results; of `experiment` when given); ValueError in one line naming
    the file, what is wrong and `fix` ("delete it to start afresh") otherwise. A missing file is
    FileNotFoundError, as open() raises it."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except ValueError as e:  # also a UnicodeDecodeError
        raise ValueError(f"{path} is not valid JSON ({str(e).splitlines()[0]}); {fix}") from None
    try:
        check_results(data)
        if experiment is not None and data["experiment"] != experiment:
            raise _Wrong(f"it holds the results of {data['experiment']!r}, not of {experiment!r}")
        return data
    except _Wrong as e:
        raise ValueError(f"{path} is not a results file of paddle-cnn ({e}); {fix}") from None
