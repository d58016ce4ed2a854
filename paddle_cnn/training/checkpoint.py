"""Checkpoints that survive a crash and never unpickle.

Layout: CKPT_DIR/epoch-0003/{model.safetensors, optimizer.safetensors, state.json} and CKPT_DIR/latest.json
naming the newest complete epoch. An epoch folder is written under a temporary name and renamed into place,
then latest.json is replaced atomically: a run killed at any moment leaves the previous epoch intact.
Optimizer tensors are stored under the model's structured parameter names (paddle's own names depend on how
many layers the process created before), so a checkpoint loads into a fresh process or a second model alike.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import paddle

FORMAT = "paddle-cnn-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, of another format or of another model; one line."""


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, rename over it: readers see the old file or the new."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would have made it (mkstemp makes 0600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _as_the_user_would_make_them(folder: str) -> None:
    """Modes as open() and mkdir() would give under the user's umask (mkdtemp makes 0700, safetensors 0600)."""
    mask = _umask()
    os.chmod(folder, 0o777 & ~mask)
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o666 & ~mask)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _unwrap(model):
    return getattr(model, "_layers", model)  # paddle.DataParallel


def _to_numpy(t) -> np.ndarray:
    return np.ascontiguousarray(t.numpy())


def _param_names(model) -> dict[str, str]:
    """paddle's unique parameter name -> structured name (features.0.weight)."""
    return {p.name: k for k, p in _unwrap(model).named_parameters()}


def _optimizer_arrays(model, optimizer) -> tuple[dict, dict]:
    names = sorted(_param_names(model).items(), key=lambda kv: -len(kv[0]))
    arrays, other = {}, {}
    for key, value in optimizer.state_dict().items():
        if isinstance(value, paddle.Tensor):
            for pname, struct in names:
                if key.startswith(pname + "_"):
                    arrays[f"{struct}::{key[len(pname) + 1:]}"] = _to_numpy(value)
                    break
            else:
                arrays[f"::{key}"] = _to_numpy(value)
        else:
            other[key] = value
    return arrays, other


def save(ckpt_dir: str, model, optimizer, state: dict, keep: int = 2) -> str:
    """Write epoch-<state['epoch']> atomically and point latest.json at it; keep the newest `keep` epochs."""
    from safetensors.numpy import save_file
    os.makedirs(ckpt_dir, exist_ok=True)
    epoch = int(state["epoch"])
    step = (state.get("partial") or {}).get("step")  # interrupted inside epoch + 1 after this many steps
    final = os.path.join(ckpt_dir, f"epoch-{epoch:04d}" + (f"-step-{int(step):06d}" if step is not None else ""))
    tmp = tempfile.mkdtemp(dir=ckpt_dir, prefix=f".tmp-epoch-{epoch:04d}-")
    try:
        weights = {k: _to_numpy(v) for k, v in _unwrap(model).state_dict().items()}
        meta = {"format": FORMAT, "model": str(state.get("model", ""))}
        save_file(weights, os.path.join(tmp, "model.safetensors"), metadata=meta)
        opt_arrays, opt_other = _optimizer_arrays(model, optimizer)
        save_file(opt_arrays, os.path.join(tmp, "optimizer.safetensors"), metadata=meta)
        with open(os.path.join(tmp, "state.json"), "w", encoding="utf-8") as f:
            json.dump({"format": FORMAT, **state, "optimizer_other": _jsonable(opt_other)}, f)
            f.flush()
            os.fsync(f.fileno())
        _as_the_user_would_make_them(tmp)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
    except Exception as e:  # disk full, file too large, ...: the previous checkpoint stays as it was
        shutil.rmtree(tmp, ignore_errors=True)
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).strip().splitlines()[0]
        raise CheckpointError(f"could not write the checkpoint {final} ({why}); the previous one is kept: free "
                              "space (or choose another --logdir) and resume") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(os.path.join(ckpt_dir, "latest.json"),
                      json.dumps({"format": FORMAT, "epoch": epoch, "path": os.path.basename(final)}))
    old = sorted(d for d in os.listdir(ckpt_dir) if d.startswith("epoch-") and d != os.path.basename(final))
    if step is None:  # a finished epoch supersedes the interrupted states before it
        for d in [d for d in old if "-step-" in d]:
            shutil.rmtree(os.path.join(ckpt_dir, d), ignore_errors=True)
        old = [d for d in old if "-step-" not in d]
    for d in old[:max(0, len(old) - (keep - 1))]:
        shutil.rmtree(os.path.join(ckpt_dir, d), ignore_errors=True)
    return final


def check_space(ckpt_dir: str, model, opt_slots: int = 2, epochs: int | None = None, keep: int = 2) -> None:
    """Before training: refuse with one line when the disk cannot hold this run's checkpoints: the weights and
    `opt_slots` optimizer arrays per weight, as many copies as will exist at once (keep + 1 while a new one is
    written, fewer for a run of fewer epochs; the copies already on disk are counted as free)."""
    per_copy = sum(int(np.prod(v.shape)) * 4 for v in _unwrap(model).state_dict().values()) * (1 + opt_slots)
    copies = min(keep + 1, epochs) if epochs else keep + 1
    held = len([d for d in os.listdir(ckpt_dir) if d.startswith("epoch-")]) if os.path.isdir(ckpt_dir) else 0
    need = per_copy * max(copies - held, 1) + (16 << 20)  # + logs and results
    folder = os.path.abspath(ckpt_dir)
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise CheckpointError(f"only {free / 2**20:.0f} MB free on the disk of {ckpt_dir}; this run's checkpoints "
                              f"need about {need / 2**20:.0f} MB: free space or choose another --logdir")


def _jsonable(obj):
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return {}


def clear(ckpt_dir: str) -> None:
    """Start afresh: remove the checkpoints (epoch folders and latest.json) of an earlier run in ckpt_dir."""
    if not os.path.isdir(ckpt_dir):
        return
    for name in os.listdir(ckpt_dir):
        if name.startswith(("epoch-", ".tmp-epoch-")):
            shutil.rmtree(os.path.join(ckpt_dir, name), ignore_errors=True)
    if os.path.exists(os.path.join(ckpt_dir, "latest.json")):
        os.remove(os.path.join(ckpt_dir, "latest.json"))


def latest(ckpt_dir: str) -> str | None:
    """The newest complete epoch folder, or None when the directory holds no checkpoint."""
    pointer = os.path.join(ckpt_dir, "latest.json")
    if not os.path.exists(pointer):
        return None
    try:
        with open(pointer, encoding="utf-8") as f:
            info = json.load(f)
        path = os.path.join(ckpt_dir, info["path"])
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{pointer} is corrupt; delete {ckpt_dir} to start afresh") from None
    if not os.path.isdir(path):
        raise CheckpointError(f"{pointer} names {info['path']}, which is missing; delete {ckpt_dir} to start afresh")
    return path


def read_weights(path: str) -> tuple[dict, dict]:
    """safetensors file -> (arrays, metadata). Refuses anything else (pickles included) without executing it."""
    from safetensors import safe_open
    try:
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete") from None
    except Exception as e:
        raise CheckpointError(f"{path} is not a paddle-cnn checkpoint (not a safetensors file: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}); it was not loaded") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a paddle-cnn checkpoint "
                              f"(format {meta.get('format')!r})")
    return arrays, meta


def check_shapes(model, weights: dict, source: str) -> None:
    """The arrays fit the model: same parameter names and shapes; a mismatch names the parameter."""
    target = _unwrap(model).state_dict()

    def weights_first(keys):  # name a layer's weight rather than its bias
        return sorted(keys, key=lambda k: (not k.endswith("weight"), k))
    missing = weights_first(k for k in target if k not in weights)
    extra = weights_first(k for k in weights if k not in target)
    for k, v in target.items():
        if k in weights and tuple(weights[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{source}: parameter {k} has shape {list(weights[k].shape)} in the checkpoint "
                                  f"but {list(v.shape)} in the model; it was saved from another model")
    if missing or extra:
        parts = ([f"lacks the model's {missing[0]} {list(target[missing[0]].shape)}"] if missing else []) + \
                ([f"has {extra[0]} {list(weights[extra[0]].shape)}, which the model does not"] if extra else [])
        raise CheckpointError(f"{source}: the checkpoint {' and '.join(parts)}; it was saved from another model")


def load_into(model, weights: dict, source: str) -> None:
    """Copy arrays into the model after checking names and shapes (check_shapes)."""
    check_shapes(model, weights, source)
    _unwrap(model).set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})


def _resolve(ckpt_dir_or_epoch: str) -> str:
    path = ckpt_dir_or_epoch
    if not os.path.exists(os.path.join(path, "state.json")):
        found = latest(path)
        if found is None:
            raise CheckpointError(f"no checkpoint in {path}")
        path = found
    return path


def read_state(path: str) -> dict:
    """state.json of an epoch folder (epoch, history, identity, ...), checked to be ours."""
    try:
        with open(os.path.join(path, "state.json"), encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}/state.json is unreadable ({e}); delete {path} to fall back") from None
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a paddle-cnn checkpoint (format {state.get('format')!r})")
    return state


def _load_optimizer(path: str, model, optimizer, state: dict) -> None:
    arrays, _ = read_weights(os.path.join(path, "optimizer.safetensors"))
    by_struct = {v: k for k, v in _param_names(model).items()}
    restored = {}
    for key, arr in arrays.items():
        struct, suffix = key.split("::", 1)
        if struct and struct not in by_struct:
            raise CheckpointError(f"{path}: optimizer state for {struct}, which the model does not have")
        restored[f"{by_struct[struct]}_{suffix}" if struct else suffix] = paddle.to_tensor(arr)
    restored.update(state.get("optimizer_other") or {})
    optimizer.set_state_dict(restored)


def load(ckpt_dir_or_epoch: str, model, optimizer=None) -> dict:
    """Load the latest checkpoint of a directory (or an epoch folder) into model (and optimizer); returns the
    state dict saved with it (epoch, history, ...)."""
    path = _resolve(ckpt_dir_or_epoch)
    state = read_state(path)
    weights, _ = read_weights(os.path.join(path, "model.safetensors"))
    load_into(model, weights, os.path.join(path, "model.safetensors"))
    if optimizer is not None:
        _load_optimizer(path, model, optimizer, state)
    return state


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
    a, b = _flat(saved), _flat(wanted)
    keys = sorted(set(a) | set(b), key=lambda k: (k.count("."), k.startswith("config."), k))  # run, data, config
    return [f"{k.removeprefix('config.')} {a.get(k, '(none)')!r} there, {b.get(k, '(none)')!r} here"
            for k in keys if a.get(k, "(none)") != b.get(k, "(none)")]


def verify(ckpt_dir: str, model, identity: dict) -> tuple[str, dict, dict]:
    """Before resuming, without loading anything: the newest checkpoint of `ckpt_dir` is ours (never unpickled),
    its weights fit `model` (a mismatch names the parameter), and it was written by a run of the same identity
    (a mismatch names every setting that differs). Returns (epoch folder, saved state, weights)."""
    path = _resolve(ckpt_dir)
    state = read_state(path)
    weights, _ = read_weights(os.path.join(path, "model.safetensors"))
    try:
        check_shapes(model, weights, os.path.join(path, "model.safetensors"))
        shapes = ""
    except CheckpointError as e:
        shapes = f": {e}"
    if shapes or state.get("fingerprint") != fingerprint(identity):
        what = (describe_differences(state["identity"], identity) if "identity" in state else
                "written before checkpoints carried their run's identity")
        raise CheckpointError(f"{ckpt_dir} holds a checkpoint of another run ({what or 'the same settings'})"
                              f"{shapes}; nothing was loaded or changed: run without --resume (resume=False) to "
                              "start afresh, replacing it, or choose another --logdir")
    return path, state, weights


def restore(ckpt_dir: str, model, optimizer, identity: dict) -> dict:
    """Resume: `verify`, then load the newest checkpoint into model and optimizer; returns the saved state
    (epoch, history, partial, pending_log)."""
    path, state, weights = verify(ckpt_dir, model, identity)
    load_into(model, weights, os.path.join(path, "model.safetensors"))
    _load_optimizer(path, model, optimizer, state)
    return state
