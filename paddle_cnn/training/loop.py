"""The training loop: `fit` runs a train epoch / evaluate pair per epoch; everything else is a callback.

    fit(model, train, eval=None, config=TrainConfig(...), callbacks=[Checkpointer(...), VisualDLLogger(...)])

A step is forward, loss, backward, optimizer (`train_step`); an epoch is the steps over one seeded order of the
device-resident data (`train_epoch`); `evaluate` reads a whole split in eval mode. Always on: the NaN/Inf check,
the progress bar (or one line per epoch when not interactive) and Ctrl-C handling (stop at the next step
boundary); callbacks add checkpoints and VisualDL logs (training/callbacks.py). The run context picks the CPU
threads and swaps in the CPU speed kernels on a CPU, and turns on cuDNN determinism and AMP only on a GPU.
Batch order and augmentation are re-seeded per epoch and dropout per step, so a resumed run ends exactly as an
uninterrupted one.
"""
from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_cnn.data.adapt import training_data
from paddle_cnn.data.common import DataError
from paddle_cnn.data.loader import Batches, epoch_order
from paddle_cnn.device import (GPU_PATHS_SWITCH, cpu_threads, cudnn_deterministic, gpu_paths, is_gpu,
                               threads_for_step)
from paddle_cnn.training.callbacks import (Callback, CallbackList, Interrupted, NaNCheck, NonFiniteLoss, Progress,
                                           StopOnInterrupt)
from paddle_cnn.training.config import HISTORY_KEYS, TrainConfig, lr_at, make_optimizer
from paddle_cnn.training.cpu_kernels import cpu_kernels

NO_EVAL = {"loss": float("nan"), "acc": float("nan"), "top2": float("nan")}


def _check_config(config) -> TrainConfig:
    """fit's settings are one TrainConfig: anything else (a paddle optimizer, a dict) is one line saying so."""
    if config is None:
        return TrainConfig()
    if isinstance(config, TrainConfig):
        return config
    import paddle
    if isinstance(config, paddle.optimizer.Optimizer):
        raise TypeError(f"fit takes a TrainConfig, not a paddle optimizer ({type(config).__name__}): it builds the "
                        "optimizer from TrainConfig(optimizer='adam' | 'sgd' | 'momentum', lr=..., momentum=..., "
                        "weight_decay=..., lr_schedule=...) and checkpoints it with the model")
    raise TypeError(f"fit's config is a TrainConfig, not {type(config).__name__}: e.g. TrainConfig(epochs=5, "
                    "lr=0.01)" + (" or TrainConfig(**your_dict)" if isinstance(config, dict) else ""))


def fit(model, train, eval=None, config: TrainConfig | None = None, callbacks=(), *, name: str = "",
        progress: bool | None = None, log=print) -> dict:
    """Train `model` on `train`, evaluating on `eval` after every epoch; returns the per-epoch history (lists
    under HISTORY_KEYS; eval_* are NaN without an eval set).

    train / eval: any map-style paddle.io.Dataset yielding (image, label) (paddle.vision.datasets.MNIST, Cifar10
    with their transforms, your own), `(images, labels)` arrays, or an ImageSet (load_dataset). A data set that
    fits in a quarter of the device's memory is read onto it once; a larger one streams through
    paddle.io.DataLoader (data/adapt.py; `TrainConfig(in_memory=..., workers=...)`). Images are normalised per
    channel with the training set's mean and std.
    `name` labels messages; progress: a bar per run (default when interactive and `log` is print), else one line
    per epoch through `log`."""
    config = _check_config(config)
    rank, world = _distributed()
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the {world} data-parallel ranks")
    train_data = training_data(train, config, augment=config.augment, log=log, progress=progress)
    eval_data = training_data(eval, config, like=train_data, log=log, progress=progress)
    if eval_data is not None and tuple(eval_data.sample_shape) != tuple(train_data.sample_shape):
        shown = ["x".join(map(str, d.sample_shape)) for d in (eval_data, train_data)]
        raise DataError(f"the eval images are {shown[0]} and the training images {shown[1]}: the model takes one "
                        "size; resize both alike (TrainConfig(input_size=..., in_channels=...)) or fix the eval set")
    outputs = model_outputs(model, train_data)
    for data in (train_data, eval_data):
        if data is not None:
            data.check_labels(outputs)
    net = paddle.DataParallel(model) if world > 1 and not isinstance(model, paddle.DataParallel) else model
    state = TrainState(model, make_optimizer(config, model.parameters()), config, name, rank, world,
                       len(train_data))
    cbs = CallbackList([NaNCheck(), Progress(progress, log), *sorted(callbacks, key=lambda cb: cb.order),
                        StopOnInterrupt(enabled=world == 1)])
    with _run_context(model, train_data, state, log):
        try:
            cbs.call("on_fit_start", state)
            for _ in range(state.epoch, config.epochs):
                train_epoch(net, train_data, state, cbs)
                ev = NO_EVAL if eval_data is None else evaluate(net, eval_data, config.eval_batch_size, rank, world)
                state.end_epoch(ev)
                cbs.call("on_epoch_end", state)
        except (Interrupted, NonFiniteLoss) as stop:
            stop = _last_sync(state, cbs, stop)
            raise type(stop)(stop.message(state.name, [n for n in cbs.call("on_stop", state, stop) if n])) from None
        finally:
            cbs.call("on_fit_end", state)
    return state.history


def train_epoch(net, data: Batches, state: "TrainState", cbs: CallbackList) -> None:
    """The steps of one epoch, from where a resumed epoch stopped; losses are read from the device once per
    `sync_every` steps (callbacks' on_sync: NaN check, progress, batch-loss curve)."""
    c = state.config
    batches = state.begin_epoch(len(data))
    ep = state.ep
    net.train()
    todo = data.iterate(batches[ep.step:], state.rng, train=True)  # a batch is drawn (and augmented) only
    for step in range(ep.step, len(batches)):                        # after on_step_begin, where Ctrl-C stops
        cbs.call("on_step_begin", state)
        state.lr = lr_at(c, state.epoch + step / state.steps_per_epoch)
        state.optimizer.set_lr(state.lr)
        paddle.seed(((c.seed * 100_003 + state.epoch) * 1_000_003 + step) % 2**62)  # this step's dropout
        x, y = next(todo)
        loss, out = train_step(net, state.optimizer, x, y, state.scaler, c.amp_dtype if state.amp else None)
        ep.add(loss, out, y, len(batches[step]))
        if ep.step % c.sync_every == 0 or ep.step == len(batches):
            cbs.call("on_sync", state, ep.drain(state.epoch, state.steps_per_epoch))
        cbs.call("on_step_end", state)


def train_step(net, optimizer, x, y, scaler=None, amp_dtype: str | None = None):
    """One step: forward, cross-entropy, backward, update. Returns (loss, logits), both still on the device.
    amp_dtype: autocast to float16/bfloat16 (GPU); scaler: paddle.amp.GradScaler for float16."""
    with paddle.amp.auto_cast(enable=amp_dtype is not None, dtype=amp_dtype or "float16"):
        out = first_output(net(x))
        loss = F.cross_entropy(out.astype("float32"), y)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    optimizer.clear_grad()
    return loss, out


def evaluate(model, data, batch_size: int = 500, rank: int = 0, world: int = 1) -> dict:
    """Loss, top-1 and top-2 accuracy over a whole split in eval mode, per-sample averages. data: as fit's."""
    data = training_data(data, TrainConfig(), log=lambda *a: None)
    model.eval()
    loss_sum, n = paddle.zeros([1], "float32"), paddle.zeros([1], "int64")
    top1, top2 = paddle.zeros([1], "int64"), paddle.zeros([1], "int64")
    with paddle.no_grad():
        batches = [idx for idx in epoch_order(len(data), batch_size, None, rank, world) if len(idx)]
        for idx, (x, y) in zip(batches, data.iterate(batches)):
            out = first_output(model(x)).astype("float32")
            loss_sum += F.cross_entropy(out, y, reduction="sum").reshape([1])
            _, pred = paddle.topk(out, min(2, out.shape[1]), axis=1)
            hit = (pred == y.unsqueeze(1)).astype("int64")
            top1 += hit[:, 0].sum().reshape([1])
            top2 += hit.sum().reshape([1])
            n += len(idx)
    if world > 1:
        for t in (loss_sum, top1, top2, n):
            paddle.distributed.all_reduce(t)
    total = max(int(n.item()), 1)
    return {"loss": float(loss_sum.item()) / total, "acc": int(top1.item()) / total, "top2": int(top2.item()) / total}


class TrainState:
    """What fit knows while it runs. Callbacks read it; a Checkpointer restores it on resume (epoch, history,
    `partial`: the steps of an interrupted epoch, `pending_log`: the last epoch's points for VisualDL)."""

    def __init__(self, model, optimizer, config, name, rank, world, train_images):
        self.model, self.optimizer, self.config, self.name = model, optimizer, config, name
        self.rank, self.world, self.train_images = rank, world, train_images
        self.steps_per_epoch = config.steps_per_epoch(train_images)
        self.history = {k: [] for k in HISTORY_KEYS}
        self.epoch = 0  # epochs finished
        self.ep: EpochTotals | None = None  # the epoch in progress
        self.rng, self.lr, self.partial, self.pending_log, self.row = None, config.lr, None, None, None
        self.scaler, self.amp = None, False

    def begin_epoch(self, n: int) -> list:
        """This epoch's batches of indices into n images; its totals start empty, or where an interrupted run of
        this epoch stopped (with the random state it had reached)."""
        c = self.config
        self.rng = np.random.RandomState((c.seed * 100_003 + self.epoch) % 2**32)  # order, crops, flips
        batches = epoch_order(n, c.batch_size, self.rng, self.rank, self.world, c.max_batches)
        resumed = self.partial if self.partial and self.partial["epoch"] == self.epoch else None
        self.ep, self.partial = EpochTotals.from_json(resumed, self.rng) if resumed else EpochTotals(), None
        return batches

    def end_epoch(self, ev: dict) -> None:
        ep = self.ep
        loss_total, seen, correct = ep.loss_total, ep.seen, int(ep.correct.item())
        if self.world > 1:
            totals = paddle.to_tensor([loss_total, float(seen), float(correct)], dtype="float64")
            paddle.distributed.all_reduce(totals)
            loss_total, seen, correct = float(totals[0].item()), int(totals[1].item()), int(totals[2].item())
        seconds = time.perf_counter() - ep.t0
        self.row = {"train_loss": loss_total / max(seen, 1), "train_acc": correct / max(seen, 1),
                    "eval_loss": ev["loss"], "eval_acc": ev["acc"], "eval_top2": ev["top2"], "lr": self.lr,
                    "images_per_s": seen / seconds, "seconds": seconds}
        for k in HISTORY_KEYS:
            self.history[k].append(self.row[k])
        self.pending_log = {"row": self.row, "batch": ep.batch_points}
        self.epoch += 1
        self.ep = None

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs


class EpochTotals:
    """Running totals of one epoch. Losses stay on the device in a window read in one transfer per sync and are
    summed one by one in step order, so an epoch resumed after an interrupt adds up exactly as an uninterrupted
    one."""

    def __init__(self):
        self.step, self.loss_total, self.seen = 0, 0.0, 0  # steps done, sum of per-sample losses, images
        self.correct = paddle.zeros([1], "int64")
        self.window, self.sizes = [], []  # losses (on the device) and batch sizes since the last read
        self.batch_points = []  # (global step, loss) at each read: the batch-loss curve
        self.t0 = time.perf_counter()

    def add(self, loss, out, y, n: int) -> None:
        self.window.append(loss.detach().reshape([1]))
        self.sizes.append(n)
        self.correct += (out.argmax(axis=1) == y).astype("int64").sum().reshape([1])
        self.seen += n
        self.step += 1

    def drain(self, epoch: int = 0, steps_per_epoch: int = 0, point: bool = True) -> tuple[int, np.ndarray]:
        """Read the window (one transfer), add it to the total; returns (index of its first step, losses)."""
        if not self.window:
            return self.step, np.zeros(0)
        vals = paddle.concat(self.window).numpy().astype(np.float64)
        for v, n in zip(vals, self.sizes):
            self.loss_total += float(v) * n
        self.window.clear()
        self.sizes.clear()
        if point:
            self.batch_points.append((epoch * steps_per_epoch + self.step, float(vals[-1])))
        return self.step - len(vals), vals

    def to_json(self, epoch: int, rng: np.random.RandomState) -> dict:
        name, keys, pos, has_gauss, gauss = rng.get_state()
        return {"epoch": epoch, "step": self.step, "loss_total": self.loss_total, "seen": self.seen,
                "correct": int(self.correct.item()), "batch_points": self.batch_points,
                "elapsed": time.perf_counter() - self.t0,
                "rng": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]}

    @classmethod
    def from_json(cls, d: dict, rng: np.random.RandomState) -> "EpochTotals":
        ep = cls()
        ep.step, ep.loss_total, ep.seen = int(d["step"]), float(d["loss_total"]), int(d["seen"])
        ep.correct = paddle.to_tensor([int(d["correct"])], dtype="int64")
        ep.batch_points = [(int(s), float(v)) for s, v in d["batch_points"]]
        ep.t0 = time.perf_counter() - float(d["elapsed"])
        name, keys, pos, has_gauss, gauss = d["rng"]
        rng.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
        return ep


@contextlib.contextmanager
def _run_context(model, data: Batches, state: TrainState, log):
    """Hardware settings for fit: on a CPU the threads for the step's size and the CPU kernels, both for fit's
    length only; on a GPU cuDNN determinism (left on) and, if asked, AMP (float16 with a GradScaler)."""
    c = state.config
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")
        if gpu_paths():  # a GPU (or the CPU under the test switch, see device.gpu_paths)
            if not is_gpu():
                log(f"note: {GPU_PATHS_SWITCH}=1: the GPU-only branches run on the CPU (a test switch: AMP and "
                    "the cuDNN flag have no effect here; unset it to train normally)")
            cudnn_deterministic()
            state.amp = c.amp
            if c.amp and c.amp_dtype == "float16":
                state.scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15)
        else:
            if c.amp:
                log("note: AMP is GPU-only; training in float32 on the CPU")
            stack.enter_context(cpu_threads(c.threads or step_threads(model, data.sample_shape,
                                                                      c.batch_size // state.world)))
            stack.enter_context(cpu_kernels(model, c.cpu_kernels, c.blas_conv))
        yield


def _last_sync(state: TrainState, cbs: CallbackList, stop):
    """Ctrl-C mid-epoch: read the losses not yet read (they are checked like any others: a NaN among them is
    the reason to stop, and nothing of that epoch is saved)."""
    if isinstance(stop, Interrupted) and state.ep is not None and state.ep.window:
        try:
            cbs.call("on_sync", state, state.ep.drain(point=False))
        except NonFiniteLoss as nan:
            return nan
    return stop


def step_threads(model, sample_shape, batch_size: int) -> int:
    """CPU threads for `model` at this batch: device.threads_for_step of the step's forward multiply-accumulates
    (all cores when the model cannot be tabulated)."""
    from paddle_cnn.arithmetic.tables import layer_table
    try:
        macs = float(layer_table(model, sample_shape).totals["macs"]) * batch_size
    except Exception:  # any model layer_table cannot run: keep the default threads
        macs = None
    return threads_for_step(macs)


def _distributed():
    """(rank, world size); initialises the parallel environment when launched with several ranks."""
    world = paddle.distributed.get_world_size()
    if world > 1:
        is_init = getattr(paddle.distributed, "is_initialized", None)
        if is_init is None or not is_init():
            paddle.distributed.init_parallel_env()
    return paddle.distributed.get_rank(), world


def model_outputs(model, data: Batches) -> int:
    """The number of classes the model predicts: its logits for the first training image (eval mode, no
    gradient; nothing of the model or the random state changes)."""
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            x, _ = next(data.iterate([np.array([0])]))
            try:
                out = model(x)
            except (ValueError, RuntimeError, OSError, IndexError, TypeError) as e:  # paddle's C++ shape errors
                why = next((ln.strip() for ln in str(e).splitlines() if "Error" in ln or "error" in ln),
                           str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
                why = why.split(" But received")[0][:200]
                raise DataError(f"{type(model).__name__} cannot take the training images "
                                f"({'x'.join(map(str, data.sample_shape))}: {why}); build the model for them "
                                "(create_model(..., in_channels=..., input_size=...)) or convert the images "
                                "(TrainConfig(in_channels=..., input_size=...))") from None
            return int(first_output(out).shape[-1])
    finally:
        if was_training:
            model.train()


def first_output(out):
    """The logits of a model that returns several outputs (GoogLeNet-style auxiliary heads) or one."""
    return out[0] if isinstance(out, (tuple, list)) else out


__all__ = ["fit", "evaluate", "train_epoch", "train_step", "TrainState", "Callback", "HISTORY_KEYS"]
