"""A run's identity compared: its fingerprint (a short hash of what the run computes: plan, settings that differ
from their defaults, data digest; carried by its checkpoints and results) and the differences between two
identities, named setting by setting ('lr 0.001 there, 0.01 here'; 'the data changed')."""
from __future__ import annotations

import hashlib
import json

from paddle_cnn.training.config import expand_identity


def fingerprint(identity: dict) -> str:
    """A short hash of what a run trains (its plan and settings), carried by its checkpoints and results."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def describe_differences(saved: dict, wanted: dict, most: int = 4) -> str:
    """The first `most` differences, '; '-separated, with '; ...' when there are more."""
    diffs = differences(saved, wanted)
    return "; ".join(diffs[:most]) + ("; ..." if len(diffs) > most else "")


def differences(saved: dict, wanted: dict) -> list[str]:
    """'profile smoke, here quick'-style lines for every setting that differs between two identities."""
    a, b = ({**d, "config": {"schema": d["config"].get("schema", 1), **expand_identity(d["config"])}}
            if isinstance(d.get("config"), dict) else d for d in (saved, wanted))
    a, b = _flat(a), _flat(b)
    keys = sorted(set(a) | set(b), key=lambda k: (k.count("."), k.startswith("config."), k))  # run, data, config
    return [_difference(k, a.get(k, "(none)"), b.get(k, "(none)")) for k in keys
            if a.get(k, "(none)") != b.get(k, "(none)")]


def _difference(key: str, there, here) -> str:
    if key == "config.schema":  # identities of schema 1 hashed every setting: they never match today's
        return f"written by an older paddle-cnn (identity schema {there} there, {here} here)"
    if key == "data.digest":
        return ("written before runs carried their data's digest" if there == "(none)" else
                f"the data changed (digest {there} there, {here} here)")
    return f"{key.removeprefix('config.')} {there!r} there, {here!r} here"
