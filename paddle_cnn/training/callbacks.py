"""Callbacks around the training loop: what happens besides training, each in one class.

Hooks, called in list order with the loop's TrainState:
    on_fit_start(state)         before the first epoch (a Checkpointer resumes here)
    on_step_begin(state)        before each step (Ctrl-C stops here)
    on_sync(state, (first, losses))  after each read of the step losses from the device (NaN check, progress)
    on_step_end(state)
    on_epoch_end(state)         state.row holds the epoch's figures (checkpoint, VisualDL, epoch line)
    on_stop(state, stop)        fit stops early (Interrupted, NonFiniteLoss); may return a note for the message
    on_fit_end(state)           always, also after an error

Always on in fit: NaNCheck, Progress, StopOnInterrupt. Given by the caller: Checkpointer, VisualDLLogger.
"""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time

from paddle_cnn.files import remove_leftovers
from paddle_cnn.training.identity import fingerprint
from paddle_cnn.training import checkpoint as ckpt
from paddle_cnn.training import vdl_records
from paddle_cnn.training.config import OPTIMIZER_SLOTS


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT, also Jupyter's interrupt) stopped fit at a step boundary; the message says where and
    where it was saved. fit(..., callbacks=[Checkpointer(dir, resume=True)]) continues exactly there."""

    def message(self, name: str, notes: list) -> str:
        return f"{name or 'training'} interrupted {self.args[0]}" + "".join(f"; {n}" for n in notes)


class NonFiniteLoss(RuntimeError):
    """The loss (or the weights: `what`) became NaN or Inf; the message names the epoch and step and the checkpoint
    kept."""

    def __init__(self, where: str, what: str = "loss"):
        super().__init__(where)
        self.what = what

    def message(self, name: str, notes: list) -> str:
        kept = notes[0] if notes else "no checkpoint was written before it"
        return (f"{self.what} became NaN/Inf {self.args[0]}; stopped, {kept}; lower the learning rate or check the "
                "inputs")


class Callback:
    order = 10  # fit calls callbacks in this order (stable): checkpoints (0) before loggers (10)

    def on_fit_start(self, state): pass
    def on_step_begin(self, state): pass
    def on_sync(self, state, losses): pass
    def on_step_end(self, state): pass
    def on_epoch_end(self, state): pass
    def on_stop(self, state, stop): pass
    def on_fit_end(self, state): pass


class CallbackList:
    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def call(self, hook: str, *args) -> list:
        """Every callback's hook in order; on_fit_end reaches all of them even when one fails."""
        if hook != "on_fit_end":
            return [getattr(cb, hook)(*args) for cb in self.callbacks]
        errors = []
        for cb in self.callbacks:
            try:
                cb.on_fit_end(*args)
            except Exception as e:  # noqa: PERF203  (the first error is raised after all have run)
                errors.append(e)
        if errors:
            raise errors[0]
        return []


class NaNCheck(Callback):
    """Stops fit at the first non-finite loss read, or when the weights hold a NaN/Inf after the steps since the
    last read (a ReLU turns NaN activations into 0, so bad weights can leave the loss at a finite ln(classes)).
    Runs before an epoch's checkpoint: non-finite weights are never saved."""

    def on_sync(self, state, losses):
        first, values = losses
        bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            raise NonFiniteLoss(f"in epoch {state.epoch + 1} at step {first + bad[0] + 1}")
        if len(values) and not weights_finite(state.model):
            raise NonFiniteLoss(f"in epoch {state.epoch + 1} by step {first + len(values)}", what="the weights")


def weights_finite(model) -> bool:
    """Whether every parameter is finite: one device reduction per parameter, one read."""
    import paddle
    params = [p for p in model.parameters() if p.size]
    if not params:
        return True
    return bool(paddle.stack([paddle.isfinite(p).all() for p in params]).all())


def _in_kernel() -> bool:
    """Running in a Jupyter kernel (not merely with ipykernel imported, as papermill's caller has it)."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython
    return getattr(get_ipython(), "kernel", None) is not None


class KernelBar:
    """A progress line in a Jupyter kernel, redrawn in place through a display handle: the notebook keeps only its
    last state (one line per run, readable in any preview), with no widget state to save."""

    def __init__(self, desc: str, total: int, initial: int = 0):
        from IPython.display import display
        self.desc, self.total, self.n, self.postfix, self.drawn = desc, total, initial, "", 0.0
        self.t0, self.first = time.monotonic(), initial
        self.handle = display(self._data(), raw=True, display_id=True)

    def _data(self) -> dict:
        frac = self.n / max(self.total, 1)
        full = int(frac * 24)
        from paddle_cnn.text import duration
        secs = time.monotonic() - self.t0
        done = self.n - self.first  # steps of this session (a resumed run's earlier steps took no time here)
        left = f", {duration(secs / done * (self.total - self.n))} left" if 0 < done and self.n < self.total else ""
        return {"text/plain": f"{self.desc}  {'█' * full}{'░' * (24 - full)} {frac:4.0%}  {self.n}/{self.total} "
                              f"steps  {duration(secs)}{left}  {self.postfix}".rstrip()}

    def update(self, n: int = 1):
        self.n += n
        if time.monotonic() - self.drawn > 0.5:
            self.refresh()

    def set_postfix_str(self, text: str, refresh: bool = True):
        self.postfix = text
        if refresh:
            self.refresh()

    def refresh(self):
        self.drawn = time.monotonic()
        self.handle.update(self._data(), raw=True)

    close = refresh


class Progress(Callback):
    """Progress of rank 0: in a Jupyter kernel one line per run redrawn in place (KernelBar); in a terminal one
    tqdm bar per run, at most 100 columns, with the last epoch's figures; elsewhere (logs, CI) one line per epoch,
    at most 100 columns (the top-2 accuracy and every batch's loss are in VisualDL)."""

    def __init__(self, show: bool | None = None, log=print):
        self.kernel = _in_kernel()
        # None: a bar when interactive, unless the caller silenced or redirected the messages (log is not print)
        self.show = (self.kernel or sys.stderr.isatty()) and log is print if show is None else show
        self.log, self.bar = log, None

    def on_step_begin(self, state):
        if self.show and self.bar is None and state.rank == 0:
            total, done = state.config.epochs * state.steps_per_epoch, state.epoch * state.steps_per_epoch
            if self.kernel:
                self.bar = KernelBar(state.name or "fit", total, done + state.ep.step)
                return
            import shutil

            from tqdm.auto import tqdm

            from paddle_cnn.text import WIDTH
            size = shutil.get_terminal_size((WIDTH, 24))  # 0 x 0 on a terminal that reports no size
            self.bar = tqdm(total=total, desc=state.name or "fit", initial=done + state.ep.step, leave=True,
                            ncols=min(size.columns, WIDTH) if size.columns >= 40 else WIDTH, unit="step",
                            nrows=size.lines if size.lines >= 2 else 24,  # tqdm draws nothing beyond nrows
                            bar_format="{desc} {bar:20} {percentage:3.0f}% [{elapsed}<{remaining}]{postfix}")
            self.bar.set_postfix_str(f"epoch {state.epoch + 1}/{state.config.epochs}", refresh=False)

    def on_sync(self, state, losses):
        if self.bar is not None and len(losses[1]) and not self.kernel:
            self.bar.set_postfix_str(f"epoch {state.epoch + 1}/{state.config.epochs} loss {losses[1][-1]:.4f}",
                                     refresh=False)

    def on_step_end(self, state):
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, state):
        r = state.row
        ev = "" if math.isnan(r["eval_acc"]) else f", eval acc {r['eval_acc']:.4f}"
        if self.bar is not None:
            self.bar.set_postfix_str(f"epoch {state.epoch}/{state.config.epochs}: loss {r['train_loss']:.4f}{ev}")
            if not self.kernel:
                self.bar.refresh()
        elif state.rank == 0:
            ev = "" if math.isnan(r["eval_acc"]) else f"  eval loss {r['eval_loss']:.4f} acc {r['eval_acc']:.4f}"
            self.log(f"epoch {state.epoch}/{state.config.epochs}  train loss {r['train_loss']:.4f} "
                     f"acc {r['train_acc']:.4f}{ev}  lr {r['lr']:.3g}  {r['images_per_s']:.0f} img/s  "
                     f"{r['seconds']:.1f}s")

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_fit_end(self, state):
        self.close()


class StopOnInterrupt(Callback):
    """While fit runs (main thread, one process): the first SIGINT asks fit to stop at the next step boundary
    (or after the evaluation in progress); a second one interrupts at once, as Python normally does."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested, self._before, self.installed = False, None, False

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def on_fit_start(self, state):
        if self.enabled:
            self._before = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self.installed = True

    def on_step_begin(self, state):
        if self.requested:
            raise Interrupted(f"in epoch {state.epoch + 1} after step {state.ep.step}")

    def on_epoch_end(self, state):
        if self.requested and not state.finished:
            raise Interrupted(f"after epoch {state.epoch}")

    def on_fit_end(self, state):
        if self.installed:  # only a handler this callback replaced is given back
            signal.signal(signal.SIGINT, self._before if self._before is not None else signal.default_int_handler)
            self.installed = False


class Checkpointer(Callback):
    """A checkpoint per epoch (training/checkpoint.py: atomic, safetensors + JSON, the newest `keep`), and the
    steps done when Ctrl-C stops fit. resume=True continues the newest checkpoint in `directory`, but only one
    written by the same run: the same `identity` (what the run trains: the runner passes its plan) and the same
    training settings; anything else is refused in one line naming what differs, and so is a checkpoint whose
    files are not valid data (checkpoint.verify). Before training, what a crash left of an earlier checkpoint
    write is removed and a disk too full for the run's checkpoints is refused. Without resume, a checkpoint
    already in `directory` is replaced (start afresh). Rank 0 writes. Without an identity from the caller, the
    model's class and the number of training images join the settings as the run's identity."""

    order = 0

    def __init__(self, directory: str, identity: dict | None = None, resume: bool = False, keep: int = 2,
                 log=print):
        self.dir, self.identity, self.resume, self.keep, self.log = directory, dict(identity or {}), resume, keep, log

    def _identity(self, state) -> dict:
        given = self.identity or {"model_class": type(state.model).__name__, "train_images": state.train_images}
        return {**given, "config": state.config.identity()}

    def on_fit_start(self, state):
        identity = self._identity(state)
        if not self.resume and state.rank == 0:
            ckpt.clear(self.dir)
        if self.resume and ckpt.latest(self.dir):  # checked as data (types, ranges, dtypes) before it is loaded
            saved = ckpt.restore(self.dir, state.model, state.optimizer, identity, state.steps_per_epoch)
            state.history = {k: list(saved["history"].get(k, [])) for k in state.history}
            state.epoch, state.partial = int(saved["epoch"]), saved.get("partial")
            state.pending_log = saved.get("pending_log")
            if state.scaler is not None and saved.get("scaler"):  # AMP's loss scale goes on where it was
                state.scaler.load_state_dict(_scaler_state(saved["scaler"], to_json=False))
            if state.rank == 0:
                p = state.partial
                where = f"in epoch {state.epoch + 1} after step {p['step']}" if p else f"after epoch {state.epoch}"
                self.log(f"resuming {state.name or 'run'} {where} from {self.dir}")
        if state.rank == 0:  # a crash's temporary files go; a full disk is refused before anything is written
            remove_leftovers(self.dir)
            ckpt.check_space(self.dir, state.model, OPTIMIZER_SLOTS[state.config.optimizer],
                             state.config.epochs - state.epoch, self.keep)

    def _save(self, state, **extra):
        if state.rank == 0:
            identity = self._identity(state)
            ckpt.save(self.dir, state.model, state.optimizer,
                      {"epoch": state.epoch, "history": state.history, "run": state.name, "identity": identity,
                       "fingerprint": fingerprint(identity), "model": identity.get("model", ""),
                       "pending_log": state.pending_log,
                       "scaler": _scaler_state(state.scaler.state_dict()) if state.scaler is not None else {},
                       **extra}, keep=self.keep)

    def on_epoch_end(self, state):
        self._save(state)

    def on_stop(self, state, stop):
        if isinstance(stop, Interrupted):
            if state.ep is not None:  # inside an epoch: keep the steps done (fit has read their losses)
                self._save(state, partial=state.ep.to_json(state.epoch, state.rng))
            return f"saved in {self.dir}" if state.rank == 0 else None
        return f"the last good checkpoint is kept in {self.dir}" if ckpt.latest(self.dir) else None


def _scaler_state(d: dict, to_json: bool = True) -> dict:
    """paddle.amp.GradScaler's state (its loss scale is a 1-element float32 array) to JSON and back."""
    import numpy as np
    if to_json:
        return {k: (np.asarray(v).astype(float).tolist() if k == "scale" else v) for k, v in d.items()}
    return {k: (np.asarray(v, dtype=np.float32).reshape(-1) if k == "scale" else v) for k, v in d.items()}


class VisualDLLogger(Callback):
    """Scalars per epoch (train/eval loss and accuracy, top-2, lr, images/s) and the batch-loss curve, in
    logdir/run_name, hparams at the end. An epoch's points are written after its checkpoint: a run killed
    between the two logs them on resume (from the checkpoint), so every point is in the log exactly once."""

    TAGS = (("train/loss", "train_loss"), ("train/acc", "train_acc"), ("eval/loss", "eval_loss"),
            ("eval/acc", "eval_acc"), ("eval/top2", "eval_top2"), ("lr", "lr"),
            ("throughput/images_per_s", "images_per_s"))

    def __init__(self, logdir: str, run_name: str = "run", hparams: dict | None = None, display_name: str = ""):
        self.path, self.hparams, self.writer = os.path.join(logdir, run_name), dict(hparams or {}), None
        self.display_name = display_name  # the name VisualDL's run list shows (default: the folder's path)
        self.active = False
        self.file_name = None  # a resume appends to the run folder's existing records file

    def on_fit_start(self, state):
        if state.rank != 0:
            return
        self.active = True
        os.makedirs(self.path, exist_ok=True)
        if state.epoch == 0 and not state.partial:  # a run from its start: another run's records would mix in
            for f in vdl_records.records_files(self.path):
                os.remove(f)
        else:  # a resume appends to the folder's one records file: VisualDL's dashboard reads only the newest
            self.file_name = vdl_records.one_records_file(self.path)
        pending = state.pending_log
        if pending and self._last_logged_epoch() < state.epoch:  # killed between checkpoint and log
            self._flush(state.epoch, pending["row"], pending["batch"])

    def on_epoch_end(self, state):
        if self.active:
            self._flush(state.epoch, state.row, state.pending_log["batch"])

    def _flush(self, epoch, row, batch_points):
        if self.writer is None:  # opened on the first point: a fit with nothing to log leaves no file
            import contextlib
            import io
            from visualdl import LogWriter
            with contextlib.redirect_stdout(io.StringIO()):  # its "is exists, VisualDL will add logs to it"
                self.writer = LogWriter(logdir=self.path, display_name=self.display_name,
                                        file_name=self.file_name or "")
        path = self.writer.file_name
        before = os.path.getsize(path) if os.path.exists(path) else 0
        for step, value in batch_points:
            self.writer.add_scalar("train/batch_loss", value, step)
        for tag, key in self.TAGS:
            if not math.isnan(row[key]):
                self.writer.add_scalar(tag, float(row[key]), epoch)
        self.writer.flush()
        if (os.path.getsize(path) if os.path.exists(path) else 0) <= before:  # VisualDL's writer thread only
            import errno                                                       # prints a warning when it fails
            raise OSError(errno.EIO, f"the dashboard's records of epoch {epoch} were not written (VisualDL's writer "
                                     "failed: is the disk full?)", path)

    def _last_logged_epoch(self) -> int:
        """Highest epoch with 'train/loss' in the run folder's VisualDL files (0 when none)."""
        from visualdl import LogReader
        last = 0
        for f in vdl_records.records_files(self.path):
            try:
                reader = LogReader(file_path=f)
                if "train/loss" in reader.get_tags().get("scalar", []):
                    last = max([last] + [int(r.id) for r in reader.get_data("scalar", "train/loss")])
            except Exception:  # a file cut by a kill: what it holds before the cut is still read by VisualDL
                continue
        return last

    def on_fit_end(self, state):
        if self.writer is None:
            return
        try:
            if state.finished:
                c = state.config
                hp = {"optimizer": c.optimizer, "lr": c.lr, "batch_size": c.batch_size, "epochs": c.epochs,
                      "seed": c.seed, "lr_schedule": c.lr_schedule, "weight_decay": c.weight_decay, **self.hparams}
                hp = {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in hp.items()}
                metrics = [t for t, k in (("eval/acc", "eval_acc"), ("eval/loss", "eval_loss"),
                                          ("train/loss", "train_loss"))
                           if state.history[k] and not math.isnan(state.history[k][-1])]
                self.writer.add_hparams(hparams_dict=hp, metrics_list=metrics)
        except Exception:  # hparams are a convenience; never lose a finished run over them
            pass
        finally:
            self.writer.close()
            self.writer = None
