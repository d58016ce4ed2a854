"""`fit`: the one training engine of the suite.

What it does, in order of what a user would notice:
- data resident on the device (data.DeviceData), batches by index, losses kept on the device and read in one
  transfer every `sync_every` steps (progress, NaN check naming the exact step, VisualDL batch loss);
- per epoch: train loss/accuracy, eval loss/accuracy/top-2, learning rate, images/s, seconds; logged to VisualDL
  (one folder per run, hparams at the end) and shown as a tqdm bar, or one line per epoch when not interactive;
- a checkpoint per epoch (paddle_cnn.checkpoint: atomic, safetensors + JSON); resume=True continues from the
  last complete epoch and ends with the history of an uninterrupted run (batch order and augmentation are
  re-seeded per epoch, dropout per step);
- Ctrl-C (SIGINT, Jupyter's interrupt) stops at the next step boundary, checkpoints the steps done and raises
  Interrupted; resume=True continues from that step; a second Ctrl-C stops at once;
- CPU threads chosen for the step's size (device.threads_for_step: one thread for LeNet-sized steps);
- a disk too full for the run's checkpoints is refused before anything is written;
- a NaN/Inf loss stops the run with one line naming epoch and step; the last good checkpoint stays;
- GPU only: automatic mixed precision (float16/bfloat16 autocast + GradScaler) and cuDNN determinism; on the
  CPU they switch off and say so once;
- data parallel under `python -m paddle.distributed.launch` or paddle.distributed.spawn: DataParallel, each
  rank its share of every global batch, metrics all-reduced, logs and checkpoints on rank 0 only.
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_cnn import checkpoint as ckpt
from paddle_cnn.data.loader import DeviceData, epoch_order
from paddle_cnn.device import cpu_threads, is_gpu, threads_for_step

OPTIMIZERS = ("adam", "sgd", "momentum")
OPTIMIZER_SLOTS = {"adam": 2, "sgd": 0, "momentum": 1}  # state arrays per parameter
_FAULT = os.environ.get("PADDLE_CNN_FAULT", "")  # see _inject_fault
SCHEDULES = ("constant", "piecewise", "exponential", "cosine")
HISTORY_KEYS = ("train_loss", "train_acc", "eval_loss", "eval_acc", "eval_top2", "lr", "images_per_s", "seconds")


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or Inf; the message names the epoch and step and the checkpoint kept."""


def lr_at(schedule: str, base: float, epoch_float: float, epochs: int, milestones=(), gamma: float = 0.1,
          decay_epochs: float | None = None) -> float:
    """Learning rate at a (fractional) epoch.

    constant; piecewise: times gamma at each milestone epoch; exponential: paddle.v2's 'discexp' of article 004,
    base * gamma ** floor(epoch / decay_epochs); cosine: half-cosine from base to 0 over the run.
    """
    if schedule == "constant":
        return base
    if schedule == "piecewise":
        return base * gamma ** sum(epoch_float >= m for m in milestones)
    if schedule == "exponential":
        return base * gamma ** math.floor(epoch_float / (decay_epochs or max(1, epochs)))
    if schedule == "cosine":
        return 0.5 * base * (1 + math.cos(math.pi * min(epoch_float, epochs) / max(epochs, 1)))
    raise ValueError(f"unknown lr_schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
    wd = weight_decay or None
    if name == "adam":
        return paddle.optimizer.Adam(learning_rate=lr, parameters=params, weight_decay=wd)
    if name == "sgd":
        return paddle.optimizer.SGD(learning_rate=lr, parameters=params, weight_decay=wd)
    if name == "momentum":
        return paddle.optimizer.Momentum(learning_rate=lr, momentum=momentum, parameters=params, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def _interactive() -> bool:
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def _dist():
    """(rank, world size); initialises the parallel environment when launched with several ranks."""
    world = paddle.distributed.get_world_size()
    if world > 1:
        is_init = getattr(paddle.distributed, "is_initialized", None)
        if is_init is None or not is_init():
            paddle.distributed.init_parallel_env()
    return paddle.distributed.get_rank(), world


def _allreduce(t):
    paddle.distributed.all_reduce(t)
    return t


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def evaluate(model, data: DeviceData, batch_size: int = 500, rank: int = 0, world: int = 1) -> dict:
    """Loss, top-1 and top-2 accuracy over a whole split, accumulated on the device."""
    model.eval()
    loss_sum = paddle.zeros([1], "float32")
    top1 = paddle.zeros([1], "int64")
    top2 = paddle.zeros([1], "int64")
    n = paddle.zeros([1], "int64")
    with paddle.no_grad():
        for idx in epoch_order(len(data), batch_size, None, rank, world):
            if len(idx) == 0:
                continue
            x, y = data.batch(idx)
            out = _first(model(x)).astype("float32")
            loss_sum += F.cross_entropy(out, y, reduction="sum").reshape([1])
            k = min(2, out.shape[1])
            _, pred = paddle.topk(out, k, axis=1)
            hit = (pred == y.unsqueeze(1)).astype("int64")
            top1 += hit[:, 0].sum().reshape([1])
            top2 += hit.sum().reshape([1])
            n += len(idx)
    if world > 1:
        for t in (loss_sum, top1, top2, n):
            _allreduce(t)
    total = max(int(n.item()), 1)
    return {"loss": float(loss_sum.item()) / total, "acc": int(top1.item()) / total, "top2": int(top2.item()) / total}


def fit(model, train_set, eval_set=None, *, epochs: int, batch_size: int = 64, optimizer: str = "adam",
        lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 0.0, lr_schedule: str = "constant",
        milestones=(), gamma: float = 0.1, decay_epochs: float | None = None, seed: int = 0,
        logdir: str | None = None, run_name: str | None = None, checkpoint_dir: str | None = None,
        resume: bool = False, augment=(), input_size=None, in_channels: int | None = None,
        amp: bool = False, amp_dtype: str = "float16", eval_batch_size: int = 500, max_batches: int | None = None,
        sync_every: int = 20, progress: bool | None = None, hparams: dict | None = None,
        model_name: str = "", log=print, on_epoch_end=None, threads: int | None = None) -> dict:
    """Train `model` on `train_set` (ImageSet or DeviceData) and evaluate on `eval_set` after every epoch.

    Returns the per-epoch history: lists under HISTORY_KEYS (eval_* are NaN without an eval set).
    input_size / in_channels resize and adapt the images on the device (e.g. MNIST to 3x224x224 for AlexNet).
    max_batches limits the batches per epoch (smoke runs). on_epoch_end(epoch, row) is called after each epoch's
    checkpoint and logs (1-based epoch). threads: CPU threads for this run (default: device.threads_for_step,
    one thread for small steps such as LeNet's; restored afterwards). Everything else: see the module docstring.
    """
    _validate(epochs, batch_size, optimizer, lr_schedule, lr)
    rank, world = _dist()
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the {world} data-parallel ranks")
    train = train_set if isinstance(train_set, DeviceData) else DeviceData(
        train_set, size=input_size, channels=in_channels, augment=augment)
    evald = None if eval_set is None else (eval_set if isinstance(eval_set, DeviceData) else DeviceData(
        eval_set, size=input_size, channels=in_channels))
    use_amp = bool(amp) and is_gpu()
    if amp and not use_amp:
        log("note: AMP is GPU-only; training in float32 on the CPU")
    if is_gpu():
        paddle.set_flags({"FLAGS_cudnn_deterministic": True})
    net = paddle.DataParallel(model) if world > 1 and not isinstance(model, paddle.DataParallel) else model
    opt = make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15) if use_amp and amp_dtype == "float16" else None

    history = {k: [] for k in HISTORY_KEYS}
    start, pending, partial = 0, None, None
    if resume and checkpoint_dir and ckpt.latest(checkpoint_dir):
        state = ckpt.load(checkpoint_dir, model, opt)
        if state.get("model") and model_name and state["model"] != model_name:
            raise ckpt.CheckpointError(f"{checkpoint_dir} holds a checkpoint of {state['model']}, not {model_name}")
        history = {k: list(state["history"].get(k, [])) for k in HISTORY_KEYS}
        start = int(state["epoch"])
        pending = state.get("pending_log")
        partial = state.get("partial")
        if rank == 0:
            where = f"in epoch {start + 1} after step {partial['step']}" if partial else f"after epoch {start}"
            log(f"resuming {run_name or model_name or 'run'} {where} from {checkpoint_dir}")
    if rank == 0 and checkpoint_dir:  # a full disk is refused before anything of this run is written
        ckpt.check_space(checkpoint_dir, model, OPTIMIZER_SLOTS[optimizer], epochs - start)
    writer = _writer(logdir, run_name) if rank == 0 and logdir else None
    if writer is not None and pending and _last_logged_epoch(writer) < start:
        _flush(writer, start, pending["row"], pending["batch"])  # killed between checkpoint and log: log it once
    steps_per_epoch = min(math.ceil(len(train) / batch_size), max_batches or math.inf)
    show_bar = (_interactive() if progress is None else progress) and rank == 0

    def save(epoch_done: int, extra: dict):
        if rank == 0 and checkpoint_dir:
            ckpt.save(checkpoint_dir, model, opt, {"epoch": epoch_done, "model": model_name, "seed": seed,
                                                    "history": history, "run": run_name, **extra})

    def interrupted(where: str) -> Interrupted:
        saved = f"; saved in {checkpoint_dir}" if checkpoint_dir and rank == 0 else ""
        return Interrupted(f"{run_name or 'training'} interrupted {where}{saved}")

    with contextlib.ExitStack() as cleanup:  # on any exit: SIGINT handler, then CPU threads, then the writer
        if writer is not None:
            cleanup.callback(writer.close)
        if not is_gpu():
            cleanup.enter_context(cpu_threads(threads or step_threads(model, train.sample_shape, batch_size // world)))
        stop = cleanup.enter_context(_StopOnInterrupt(enabled=world == 1))
        for epoch in range(start, epochs):
            rng = np.random.RandomState((seed * 100_003 + epoch) % 2**32)  # order, crops, flips of this epoch
            batches = epoch_order(len(train), batch_size, rng, rank, world, max_batches)
            net.train()
            ep = _EpochState()
            if partial and partial["epoch"] == epoch:  # interrupted inside this epoch: continue after its step
                ep = _EpochState.from_json(partial, rng)
            partial = None
            bar = _bar(show_bar, steps_per_epoch, f"epoch {epoch + 1}/{epochs}", initial=ep.step)
            lr_now = lr
            for step, idx in enumerate(batches):
                if step < ep.step:
                    continue
                fault = _inject_fault(run_name, epoch, step) if _FAULT else None
                if stop.requested:  # Ctrl-C: checkpoint the steps done so far, then stop
                    ep.drain(epoch, steps_per_epoch, checkpoint_dir, point=False)
                    save(epoch, {"pending_log": pending, "partial": ep.to_json(epoch, rng)})
                    raise interrupted(f"in epoch {epoch + 1} after step {step}")
                lr_now = lr_at(lr_schedule, lr, epoch + step / steps_per_epoch, epochs, milestones, gamma,
                               decay_epochs)
                opt.set_lr(lr_now)
                paddle.seed(((seed * 100_003 + epoch) * 1_000_003 + step) % 2**62)  # dropout of this step
                x, y = train.batch(idx, rng, train=True)
                with paddle.amp.auto_cast(enable=use_amp, dtype=amp_dtype):
                    out = _first(net(x))
                    loss = F.cross_entropy(out.astype("float32"), y)
                if fault == "nan":
                    loss = loss * float("nan")
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                opt.clear_grad()
                ep.add(loss, out, y, len(idx))
                if (step + 1) % sync_every == 0 or step + 1 == len(batches):  # one host sync per window
                    value = ep.drain(epoch, steps_per_epoch, checkpoint_dir)
                    if bar is not None:
                        bar.set_postfix(loss=f"{value:.4f}", refresh=False)
                if bar is not None:
                    bar.update(1)
            loss_total, seen, correct = ep.loss_total, ep.seen, ep.correct
            if world > 1:
                totals = _allreduce(paddle.to_tensor([loss_total, float(seen)], dtype="float64"))
                _allreduce(correct)
                loss_total, seen = float(totals[0].item()), int(totals[1].item())
            train_loss, train_acc = loss_total / max(seen, 1), int(correct.item()) / max(seen, 1)
            ev = evaluate(net, evald, eval_batch_size, rank, world) if evald is not None else \
                {"loss": float("nan"), "acc": float("nan"), "top2": float("nan")}
            seconds = time.perf_counter() - ep.t0
            row = {"train_loss": train_loss, "train_acc": train_acc, "eval_loss": ev["loss"], "eval_acc": ev["acc"],
                   "eval_top2": ev["top2"], "lr": lr_now, "images_per_s": seen / seconds, "seconds": seconds}
            for k in HISTORY_KEYS:
                history[k].append(row[k])
            if bar is not None:
                bar.set_postfix(loss=f"{train_loss:.4f}", acc=f"{train_acc:.3f}", eval_acc=f"{ev['acc']:.3f}")
                bar.close()
            pending = {"row": row, "batch": ep.batch_points}
            save(epoch + 1, {"pending_log": pending})
            if rank == 0:
                if writer is not None:
                    _flush(writer, epoch + 1, row, ep.batch_points)
                if not show_bar:
                    log(_epoch_line(epoch, epochs, row))
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, row)
            if stop.requested and epoch + 1 < epochs:  # Ctrl-C during evaluation: the epoch is saved, stop here
                raise interrupted(f"after epoch {epoch + 1}")
        if writer is not None:
            _log_hparams(writer, hparams, history, dict(model=model_name, optimizer=optimizer, lr=lr,
                                                          batch_size=batch_size, epochs=epochs, seed=seed,
                                                          lr_schedule=lr_schedule, weight_decay=weight_decay))
    return history


def step_threads(model, sample_shape, batch_size: int) -> int:
    """CPU threads fit uses for `model` at this batch: device.threads_for_step of the step's forward
    multiply-accumulates (all cores when the model cannot be tabulated)."""
    from paddle_cnn.analysis import layer_table
    try:
        macs = float(layer_table(model, sample_shape).totals["macs"]) * batch_size
    except Exception:  # any model layer_table cannot run: keep the default threads
        macs = None
    return threads_for_step(macs)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT, also Jupyter's interrupt) stopped fit at a step boundary after checkpointing; the message
    says where. fit(..., resume=True) continues exactly where it stopped."""


class _StopOnInterrupt:
    """While fit runs (main thread, one process): the first SIGINT only asks fit to stop at the next step
    boundary, where it checkpoints; a second one interrupts at once, as Python normally does."""

    def __init__(self, enabled: bool = True):
        import threading
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False
        self._before = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if self.enabled:
            self._before = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            signal.signal(signal.SIGINT, self._before if self._before is not None else signal.default_int_handler)
            self.enabled = False


class _EpochState:
    """Running totals of one epoch. Losses stay on the device in a window read in one transfer per sync and
    summed one by one in step order, so an epoch resumed after an interrupt adds up exactly as an uninterrupted
    one."""

    def __init__(self):
        self.step = 0  # steps done
        self.loss_total, self.seen = 0.0, 0
        self.correct = paddle.zeros([1], "int64")
        self.window, self.sizes = [], []  # losses (on the device) and batch sizes since the last host sync
        self.batch_points = []  # (global step, loss) at each sync: logged with the epoch, after its checkpoint
        self.t0 = time.perf_counter()

    def add(self, loss, out, y, n: int) -> None:
        self.window.append(loss.detach().reshape([1]))
        self.sizes.append(n)
        self.correct += (out.argmax(axis=1) == y).astype("int64").sum().reshape([1])
        self.seen += n
        self.step += 1

    def drain(self, epoch: int, steps_per_epoch: int, checkpoint_dir, point: bool = True) -> float:
        """Read the window: NaN/Inf check naming the step, add to the total; returns the last loss."""
        if not self.window:
            return float("nan")
        vals = paddle.concat(self.window).numpy().astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            raise NonFiniteLoss(_nan_message(epoch, self.step - len(vals) + int(bad[0]), checkpoint_dir))
        for v, n in zip(vals, self.sizes):
            self.loss_total += float(v) * n
        self.window.clear()
        self.sizes.clear()
        if point:
            self.batch_points.append((epoch * steps_per_epoch + self.step, float(vals[-1])))
        return float(vals[-1])

    def to_json(self, epoch: int, rng: np.random.RandomState) -> dict:
        name, keys, pos, has_gauss, gauss = rng.get_state()
        return {"epoch": epoch, "step": self.step, "loss_total": self.loss_total, "seen": self.seen,
                "correct": int(self.correct.item()), "batch_points": self.batch_points,
                "elapsed": time.perf_counter() - self.t0,
                "rng": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]}

    @classmethod
    def from_json(cls, d: dict, rng: np.random.RandomState) -> "_EpochState":
        ep = cls()
        ep.step, ep.loss_total, ep.seen = int(d["step"]), float(d["loss_total"]), int(d["seen"])
        ep.correct = paddle.to_tensor([int(d["correct"])], dtype="int64")
        ep.batch_points = [(int(s), float(v)) for s, v in d["batch_points"]]
        ep.t0 = time.perf_counter() - float(d["elapsed"])
        name, keys, pos, has_gauss, gauss = d["rng"]
        rng.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
        return ep


def _inject_fault(run_name, epoch: int, step: int) -> str | None:
    """Fault injection for the crash tests: PADDLE_CNN_FAULT=RUN:EPOCH:STEP:WHAT (1-based epoch and step) does
    WHAT at that step: a signal number (sent to this process), 'fsize' (from now on no file may grow past
    100 kB, as on a full disk) or 'nan' (returned: the caller makes the step's loss NaN)."""
    where, what = _FAULT.rsplit(":", 1)
    if where != f"{run_name}:{epoch + 1}:{step + 1}":
        return None
    if what.isdigit():
        os.kill(os.getpid(), int(what))
    elif what == "fsize":
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write raises OSError instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    return what


def _validate(epochs, batch_size, optimizer, lr_schedule, lr):
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if lr_schedule not in SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")


def _nan_message(epoch, step, checkpoint_dir) -> str:
    kept = (f"the last good checkpoint is kept in {checkpoint_dir}" if checkpoint_dir and ckpt.latest(checkpoint_dir)
            else "no checkpoint was written before it")
    return (f"loss became NaN/Inf in epoch {epoch + 1} at step {step + 1}; stopped, {kept}; "
            "lower the learning rate or check the inputs")


def _bar(show: bool, total: int, desc: str, initial: int = 0):
    if not show:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True, initial=initial)


def _epoch_line(epoch, epochs, r) -> str:
    ev = "" if math.isnan(r["eval_acc"]) else (f"  eval loss {r['eval_loss']:.4f} acc {r['eval_acc']:.4f} "
                                              f"top2 {r['eval_top2']:.4f}")
    return (f"epoch {epoch + 1}/{epochs}  train loss {r['train_loss']:.4f} acc {r['train_acc']:.4f}{ev}  "
            f"lr {r['lr']:.3g}  {r['images_per_s']:.0f} img/s  {r['seconds']:.1f}s")


def _writer(logdir, run_name):
    from visualdl import LogWriter
    path = os.path.join(logdir, run_name or "run")
    os.makedirs(path, exist_ok=True)
    return LogWriter(logdir=path)


def _flush(writer, epoch, row, batch_points):
    """An epoch's scalars, written after its checkpoint: a run killed mid-epoch logged nothing of that epoch,
    and one killed between the checkpoint and this write logs it on resume (from the checkpoint), so every point
    is in the VisualDL log exactly once."""
    for step, value in batch_points:
        writer.add_scalar("train/batch_loss", value, step)
    _log_epoch(writer, epoch, row)
    writer.flush()


def _last_logged_epoch(writer) -> int:
    """Highest epoch with 'train/loss' in the run folder's VisualDL files (0 when none)."""
    import glob

    from visualdl import LogReader
    last = 0
    for f in glob.glob(os.path.join(writer.logdir, "vdlrecords.*")):
        try:
            reader = LogReader(file_path=f)
            if "train/loss" in reader.get_tags().get("scalar", []):
                last = max([last] + [int(r.id) for r in reader.get_data("scalar", "train/loss")])
        except Exception:  # a file cut by a kill: what it holds before the cut is still read by VisualDL
            continue
    return last


def _log_epoch(writer, step, r):
    for tag, key in (("train/loss", "train_loss"), ("train/acc", "train_acc"), ("eval/loss", "eval_loss"),
                     ("eval/acc", "eval_acc"), ("eval/top2", "eval_top2"), ("lr", "lr"),
                     ("throughput/images_per_s", "images_per_s")):
        if not math.isnan(r[key]):
            writer.add_scalar(tag, float(r[key]), step)


def _log_hparams(writer, hparams, history, defaults):
    hp = {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in {**defaults, **(hparams or {})}.items()}
    metrics = [t for t, k in (("eval/acc", "eval_acc"), ("eval/loss", "eval_loss"), ("train/loss", "train_loss"))
               if history[k] and not math.isnan(history[k][-1])]
    try:
        writer.add_hparams(hparams_dict=hp, metrics_list=metrics)
    except Exception:  # hparams are a convenience; never lose a finished run over them
        pass
