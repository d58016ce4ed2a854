"""Checkpoints that survive a crash and never unpickle.

Layout: CKPT_DIR/epoch-0003/{model.safetensors, optimizer.safetensors, state.json} and CKPT_DIR/latest.json
naming the newest complete epoch. An epoch folder is written under a temporary name and renamed into place,
then latest.json is replaced atomically: a run killed at any moment leaves the previous epoch intact.
Optimizer tensors are stored under the model's structured parameter names (paddle's own names depend on how
many layers the process created before), so a checkpoint loads into a fresh process or a second model alike.
A resume reads a checkpoint as untrusted data (verify): latest.json may name only an epoch folder of its own
directory, state.json is checked field by field against the resuming run (validate_state), every tensor's dtype
and shape against the model and the optimizer's slots, all before anything is loaded. What a crash leaves of a
write (`.tmp-*` files and folders, see leftovers) is removed at the next start and counts as free space until then.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

import numpy as np
import paddle

from paddle_cnn import jsoncheck as jc
from paddle_cnn.files import TEMP_PREFIX, as_the_user_would_make_them, atomic_write_text, disk_bytes, leftovers
from paddle_cnn.training.identity import describe_differences, fingerprint
from paddle_cnn.training.config import HISTORY_KEYS, expand_identity

FORMAT = "paddle-cnn-checkpoint/1"
EPOCH_FOLDER = re.compile(r"epoch-\d{4,}(-step-\d{6,})?")  # what save names its folders (and latest.json)
NOT_RESUMED = ("nothing was loaded or changed: run without --resume (resume=False) to start this run afresh, "
               "replacing its checkpoints")


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, of another format or of another model; one line."""


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
    tmp = tempfile.mkdtemp(dir=ckpt_dir, prefix=f"{TEMP_PREFIX}epoch-{epoch:04d}-")
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
        as_the_user_would_make_them(tmp)
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
    written, fewer for a run of fewer epochs; the copies already on disk are counted as free, and so are the
    crash leftovers of earlier runs in ckpt_dir, which the run's start removes: see `leftovers`)."""
    per_copy = sum(int(np.prod(v.shape)) * 4 for v in _unwrap(model).state_dict().values()) * (1 + opt_slots)
    copies = min(keep + 1, epochs) if epochs else keep + 1
    held = len([d for d in os.listdir(ckpt_dir) if d.startswith("epoch-")]) if os.path.isdir(ckpt_dir) else 0
    need = per_copy * max(copies - held, 1) + (16 << 20)  # + logs and results
    folder = os.path.abspath(ckpt_dir)
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    free = shutil.disk_usage(folder).free + sum(disk_bytes(p) for p in leftovers(ckpt_dir))
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
        info = jc.load_file(pointer)
    except (OSError, ValueError, jc.Invalid) as e:
        raise CheckpointError(f"{pointer} is corrupt ({e}); {NOT_RESUMED}, or delete {ckpt_dir}") from None
    name = info.get("path") if isinstance(info, dict) else None
    if not isinstance(name, str) or not EPOCH_FOLDER.fullmatch(name):  # never a path out of its own folder
        raise CheckpointError(f"{pointer} names {name!r}, not an epoch-NNNN folder inside {ckpt_dir} (a checkpoint "
                              f"is read only from its own folder); {NOT_RESUMED}, or delete {ckpt_dir}")
    path = os.path.join(ckpt_dir, name)
    if os.path.islink(path):
        raise CheckpointError(f"{pointer} names {name}, a link, not a folder inside {ckpt_dir}; {NOT_RESUMED}, "
                              f"or delete {ckpt_dir}")
    if not os.path.isdir(path):
        raise CheckpointError(f"{pointer} names {name}, which is missing; delete {ckpt_dir} to start afresh")
    return path


def read_weights(path: str) -> tuple[dict, dict]:
    """safetensors file -> (arrays, metadata). Refuses anything else (pickles included) without executing it."""
    from safetensors import safe_open
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO would hang the read
        raise CheckpointError(f"{path} is not a regular file (a FIFO, device or folder); {NOT_RESUMED}")
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


def _dtype(t) -> str:
    """A paddle tensor's dtype as numpy names it (float32)."""
    name = str(t.dtype).rsplit(".", 1)[-1].lower()
    return {"fp32": "float32", "fp16": "float16", "fp64": "float64", "bf16": "bfloat16"}.get(name, name)


def check_dtypes(model, weights: dict, source: str) -> None:
    """Every array has the dtype of the model's tensor of that name (a float64 or int8 array is refused)."""
    for k, v in _unwrap(model).state_dict().items():
        if k in weights and weights[k].dtype.name != _dtype(v):
            raise CheckpointError(f"{source}: {k} is {weights[k].dtype.name} in the checkpoint but {_dtype(v)} in "
                                  f"the model (a checkpoint of paddle-cnn holds the model's own dtypes); {NOT_RESUMED}")


def load_into(model, weights: dict, source: str) -> None:
    """Copy arrays into the model after checking names, shapes and dtypes (check_shapes, check_dtypes)."""
    check_shapes(model, weights, source)
    check_dtypes(model, weights, source)
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
        state = jc.load_file(os.path.join(path, "state.json"))
    except (OSError, ValueError, jc.Invalid) as e:
        raise CheckpointError(f"{path}/state.json is unreadable ({e}); {NOT_RESUMED}, or delete "
                              f"{os.path.dirname(path)}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}/state.json is not a paddle-cnn checkpoint state (not a JSON object); "
                              f"{NOT_RESUMED}")
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a paddle-cnn checkpoint (format {state.get('format')!r})")
    return state


_SLOT_COUNTER = re.compile(r"_\d+$")  # paddle numbers a parameter's accumulators: moment1_0, moment1_1, ...


def _slots(optimizer) -> dict | None:
    """The state arrays the optimizer keeps per parameter, found by one step of its class on a 2x3 probe
    parameter: slot (moment1, beta1_pow_acc, ...) -> (shape, None meaning the parameter's, dtype). None when the
    class cannot be probed (a custom optimizer): then only the parameters' shapes and dtypes are checked."""
    cls = type(optimizer)
    if cls not in _SLOTS_SEEN:
        try:
            p = paddle.create_parameter([2, 3], "float32", default_initializer=paddle.nn.initializer.Constant(0.0))
            probe = cls(learning_rate=1e-3, parameters=[p])
            with paddle.set_grad_enabled(True):
                (p * 0).sum().backward()
            probe.step()
            slots = {}
            for key, v in probe.state_dict().items():
                if isinstance(v, paddle.Tensor) and key.startswith(p.name + "_"):
                    shape = None if list(v.shape) == [2, 3] else [int(n) for n in v.shape]
                    slots[_SLOT_COUNTER.sub("", key[len(p.name) + 1:])] = (shape, _dtype(v))
            _SLOTS_SEEN[cls] = slots
        except Exception:  # noqa: BLE001  (a class that does not take these arguments: shapes are still checked)
            _SLOTS_SEEN[cls] = None
    return _SLOTS_SEEN[cls]


_SLOTS_SEEN: dict = {}


def check_optimizer(model, optimizer, arrays: dict, source: str, trained: bool = True) -> None:
    """optimizer.safetensors fits the optimizer of `model`: every array is a slot of this optimizer (`_slots`)
    for one of the model's parameters, with that slot's shape (the parameter's, or the slot's own such as [1])
    and dtype; a parameter with optimizer state has all of its slots (frozen ones have none)."""
    params = dict(_unwrap(model).named_parameters())
    slots = _slots(optimizer)
    kind = type(optimizer).__name__

    def bad(why):
        raise CheckpointError(f"{source}: {why}; {NOT_RESUMED}")
    have: dict = {}
    for key in sorted(arrays):
        arr = arrays[key]
        struct, sep, suffix = key.partition("::")
        if sep and not struct and slots is None and arr.dtype.kind == "f":  # an unknown optimizer's own state
            continue
        if not sep or not struct:
            bad(f"{key} is not the state of one of the model's parameters")
        if struct not in params:
            bad(f"optimizer state for {struct}, which the model does not have")
        slot = _SLOT_COUNTER.sub("", suffix)
        if slots is not None and slot not in slots:
            bad(f"{key}: {slot} is not a state of the {kind} optimizer (it keeps {', '.join(sorted(slots)) or 'none'})")
        if slot in have.setdefault(struct, set()):
            bad(f"{key}: {struct} has its {slot} twice")
        have[struct].add(slot)
        pshape = [int(n) for n in params[struct].shape]
        shape, dtype = slots[slot] if slots is not None else (None, _dtype(params[struct]))
        shapes = [shape or pshape] if slots is not None else [pshape, [1]]
        if list(arr.shape) not in shapes:
            bad(f"{key} has shape {list(arr.shape)}, but the {kind} optimizer keeps {shapes[0]} for {struct}")
        if arr.dtype.name != dtype:
            bad(f"{key} is {arr.dtype.name}, but the {kind} optimizer keeps {dtype}")
    for struct, got in have.items():
        if slots is not None and got != set(slots):
            bad(f"the checkpoint lacks {struct}::{sorted(set(slots) - got)[0]} of the {kind} optimizer")
    if trained and slots and not arrays and any(not p.stop_gradient for p in params.values()):
        bad(f"it holds no state of the {kind} optimizer, though the run has trained")


def _set_optimizer(model, optimizer, arrays: dict, state: dict) -> None:
    by_struct = {v: k for k, v in _param_names(model).items()}
    restored = {}
    for key, arr in arrays.items():
        struct, suffix = key.split("::", 1)
        restored[f"{by_struct[struct]}_{suffix}" if struct else suffix] = paddle.to_tensor(arr)
    restored.update(state.get("optimizer_other") or {})
    optimizer.set_state_dict(restored)


def _load_optimizer(path: str, model, optimizer, state: dict) -> None:
    source = os.path.join(path, "optimizer.safetensors")
    arrays, _ = read_weights(source)
    check_optimizer(model, optimizer, arrays, source, trained=False)
    _set_optimizer(model, optimizer, arrays, state)


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


# --------------------------------------------------------------------- a checkpoint's state.json, checked as data

def _points(v, what: str) -> None:
    """The batch-loss curve: [[global step, loss], ...]."""
    for i, pt in enumerate(jc.array(v, what)):
        jc.array(pt, f"{what}[{i}]", 2)
        jc.whole(pt[0], f"{what}[{i}] step", 0)
        jc.number(pt[1], f"{what}[{i}] loss")


def _partial(p: dict, epoch: int, epochs: int | None, steps: int | None, batch_size: int | None) -> None:
    """The steps of an interrupted epoch (training.loop.EpochTotals.to_json)."""
    jc.obj(p, "partial")
    if epochs is not None and epoch >= epochs:
        raise jc.Invalid(f"partial continues epoch {epoch + 1}, but the run has {epochs} epochs")
    if jc.whole(jc.key(p, "epoch", "partial"), "partial epoch", 0) != epoch:
        raise jc.Invalid(f"partial epoch is {p['epoch']}, not the checkpoint's epoch {epoch}")
    step = jc.whole(jc.key(p, "step", "partial"), "partial step", 0, steps)
    seen = jc.whole(jc.key(p, "seen", "partial"), "partial seen", 0, step * batch_size if batch_size else None)
    jc.whole(jc.key(p, "correct", "partial"), "partial correct", 0, seen)
    jc.number(jc.key(p, "loss_total", "partial"), "partial loss_total", lo=0)
    jc.number(jc.key(p, "elapsed", "partial"), "partial elapsed", lo=0)
    _points(jc.key(p, "batch_points", "partial"), "partial batch_points")
    rng = jc.array(jc.key(p, "rng", "partial"), "partial rng", 5)  # numpy's MT19937 state: name, keys, pos, gauss
    if rng[0] != "MT19937":
        raise jc.Invalid(f"partial rng is {jc.shown(rng[0])}, not numpy's 'MT19937'")
    for i, k in enumerate(jc.array(rng[1], "partial rng keys", 624)):
        jc.whole(k, f"partial rng key {i}", 0, 2**32 - 1)
    jc.whole(rng[2], "partial rng position", 0, 624)
    jc.whole(rng[3], "partial rng has_gauss", 0, 1)
    jc.number(rng[4], "partial rng gauss")


def validate_state(state: dict, source: str, epochs: int | None = None, steps_per_epoch: int | None = None,
                   batch_size: int | None = None) -> None:
    """A checkpoint's state.json checked as data (paddle_cnn.jsoncheck) before anything of it is used: types,
    ranges and lengths of every field a resume reads (epoch within the run's `epochs`, a history of that many
    epochs, an interrupted epoch's step within `steps_per_epoch` and its random state, the pending VisualDL points,
    ...). The first problem is one CheckpointError naming `source` and the fix; nothing is loaded."""
    try:
        epoch = jc.whole(jc.key(state, "epoch", "it"), "epoch", 0, epochs)
        history = jc.obj(jc.key(state, "history", "it"), "history")
        for k in HISTORY_KEYS:
            for i, v in enumerate(jc.array(jc.key(history, k, "history"), f"history {k}", epoch)):
                jc.number(v, f"history {k}[{i}]", finite=False)  # eval_* are NaN without an eval set
        if state.get("partial") is not None:
            _partial(state["partial"], epoch, epochs, steps_per_epoch, batch_size)
        if state.get("pending_log") is not None:
            pending = jc.obj(state["pending_log"], "pending_log")
            row = jc.obj(jc.key(pending, "row", "pending_log"), "pending_log row")
            for k in HISTORY_KEYS:
                jc.number(jc.key(row, k, "pending_log row"), f"pending_log row {k}", finite=False)
            _points(jc.key(pending, "batch", "pending_log"), "pending_log batch")
        for k in ("identity", "scaler", "optimizer_other"):
            if state.get(k) is not None:
                jc.obj(state[k], k)
        scale = (state.get("scaler") or {}).get("scale")
        if scale is not None:
            for v in (scale if isinstance(scale, list) else [scale]):
                jc.number(v, "scaler scale", lo=0)
        for k in ("fingerprint", "run", "model"):
            if k in state:
                jc.text(state[k], k)
    except jc.Invalid as e:
        raise CheckpointError(f"{source} is not a valid checkpoint state of paddle-cnn ({e}); {NOT_RESUMED}") from None


def verify(ckpt_dir: str, model, identity: dict, optimizer=None, steps_per_epoch: int | None = None
           ) -> tuple[str, dict, dict]:
    """Before resuming, without loading anything: the newest checkpoint of `ckpt_dir` is ours (never unpickled),
    its weights fit `model` (a mismatch names the parameter), it was written by a run of the same identity
    (a mismatch names every setting that differs), its state.json is valid data for this run (validate_state:
    the epochs of identity's config, `steps_per_epoch`), its arrays have the model's dtypes and, given the
    optimizer, optimizer.safetensors fits its slots (check_optimizer). Returns (epoch folder, saved state,
    weights)."""
    return _verified(ckpt_dir, model, identity, optimizer, steps_per_epoch)[:3]


def _verified(ckpt_dir, model, identity, optimizer, steps_per_epoch) -> tuple[str, dict, dict, dict]:
    path = _resolve(ckpt_dir)
    state = read_state(path)
    weights, _ = read_weights(os.path.join(path, "model.safetensors"))
    try:
        check_shapes(model, weights, os.path.join(path, "model.safetensors"))
        shapes = ""
    except CheckpointError as e:
        shapes = f": {e}"
    if shapes or state.get("fingerprint") != fingerprint(identity):
        what = (describe_differences(state["identity"], identity) if isinstance(state.get("identity"), dict) else
                "written before checkpoints carried their run's identity")
        raise CheckpointError(f"{ckpt_dir} holds a checkpoint of another run ({what or 'the same settings'})"
                              f"{shapes}; nothing was loaded or changed: run without --resume (resume=False) to "
                              "start afresh, replacing it, or choose another --logdir")
    config = expand_identity(identity["config"]) if isinstance(identity.get("config"), dict) else {}
    validate_state(state, os.path.join(path, "state.json"), config.get("epochs"), steps_per_epoch,
                   config.get("batch_size"))
    check_dtypes(model, weights, os.path.join(path, "model.safetensors"))
    opt_arrays = {}
    if optimizer is not None:
        source = os.path.join(path, "optimizer.safetensors")
        opt_arrays, _ = read_weights(source)
        p = state.get("partial") or {}
        check_optimizer(model, optimizer, opt_arrays, source, trained=bool(state["epoch"] or p.get("step")))
    return path, state, weights, opt_arrays


def restore(ckpt_dir: str, model, optimizer, identity: dict, steps_per_epoch: int | None = None) -> dict:
    """Resume: `verify` (with the optimizer), then load the newest checkpoint into model and optimizer; returns
    the saved state (epoch, history, partial, pending_log)."""
    path, state, weights, opt_arrays = _verified(ckpt_dir, model, identity, optimizer, steps_per_epoch)
    load_into(model, weights, os.path.join(path, "model.safetensors"))
    _set_optimizer(model, optimizer, opt_arrays, state)
    return state
