"""TrainConfig: every training setting in one visible block, with its default and unit, validated in one place.

A run's identity (what its checkpoints and results are keyed by) is the settings that differ from their defaults
(plus IDENTITY_SCHEMA) and what it trains on, so that a new setting with a default leaves every run's identity as
it was; the fields marked `identity=False` change how fast a run goes, never what it computes beyond float32
rounding (the thread count and the BLAS convolution add the same terms in another order;
tests/test_reference_identity.py).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

from paddle_cnn.data.loader import AUGMENTATIONS
from paddle_cnn.text import did_you_mean

OPTIMIZERS = ("adam", "sgd", "momentum")
HISTORY_KEYS = ("train_loss", "train_acc", "eval_loss", "eval_acc", "eval_top2", "lr", "images_per_s", "seconds")
#              what fit records per epoch (a checkpoint's history holds the same keys)
OPTIMIZER_SLOTS = {"adam": 2, "sgd": 0, "momentum": 1}  # state arrays per parameter (for the disk-space check)
SCHEDULES = ("constant", "piecewise", "exponential", "cosine")
AMP_DTYPES = ("float16", "bfloat16")


IDENTITY_SCHEMA = 2  # raise when a default of a setting below, or what a setting means, changes: every
#                      identity then differs from those written before (1: every setting hashed, defaults too)


def _speed_only(default):
    return field(default=default, metadata={"identity": False})


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10                   # passes over the training set
    batch_size: int = 64               # images per step (global: split over data-parallel ranks)
    optimizer: str = "adam"            # adam | sgd | momentum
    lr: float = 1e-3                   # base learning rate
    momentum: float = 0.9              # momentum optimizer only
    weight_decay: float = 0.0          # L2 coefficient on the batch-mean loss (0: none)
    lr_schedule: str = "constant"      # constant | piecewise | exponential | cosine
    milestones: tuple = ()             # piecewise: epochs at which lr is multiplied by gamma
    gamma: float = 0.1                 # piecewise / exponential: the factor
    decay_epochs: float | None = None  # exponential: epochs per factor gamma (None: the whole run)
    augment: tuple = ()                # training batches only: crop (pad 4), flip (p 0.5), grayscale (p 0.1)
    input_size: int | None = None      # image side after resizing on the device, pixels (None: as stored)
    in_channels: int | None = None     # channels the images are adapted to (None: as stored)
    max_batches: int | None = None     # at most this many steps per epoch (None: the whole set)
    seed: int = 0                      # batch order, augmentation and dropout of every epoch and step
    amp: bool = False                  # mixed precision; GPU only (the CPU trains in float32 and says so)
    amp_dtype: str = "float16"         # float16 | bfloat16
    eval_batch_size: int = _speed_only(500)  # images per evaluation step
    sync_every: int = _speed_only(20)        # steps between host reads of the losses (progress, NaN check)
    threads: int | None = _speed_only(None)  # CPU threads (None: one for small steps, else all cores)
    in_memory: bool | None = _speed_only(None)  # a paddle Dataset read once onto the device (None: when it
    #                                            fits in a quarter of the device's memory, else streamed)
    workers: int | None = _speed_only(None)      # DataLoader workers when streaming (None: cores - 1, at most 4)
    cpu_kernels: bool = True                 # CPU speed kernels (training/cpu_kernels.py): paddle's results,
    #                                          but dropout masks from numpy's generator (other random bits)
    blas_conv: bool | None = _speed_only(None)  # with cpu_kernels: convolutions on numpy's BLAS where faster
    #                                             (paddle's within float32 rounding; None: on unless
    #                                             PADDLE_CNN_BLAS_CONV=0)

    def __post_init__(self):
        if isinstance(self.augment, str):  # augment="flip" means ("flip",)
            object.__setattr__(self, "augment", (self.augment,))
        for name in ("epochs", "batch_size", "eval_batch_size", "sync_every"):
            _positive_int(name, getattr(self, name))
        for name in ("max_batches", "threads", "input_size", "in_channels"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        if self.threads is not None:
            from paddle_cnn.device import check_thread_count
            check_thread_count(self.threads, "threads")
        if isinstance(self.milestones, (str, bytes)) or not isinstance(self.milestones, (tuple, list)):
            raise ValueError(f"milestones must be a tuple of epochs, e.g. (20, 40), got {self.milestones!r}")
        for m in self.milestones:
            if not isinstance(m, numbers.Real) or isinstance(m, bool) or not math.isfinite(m) or m <= 0:
                raise ValueError(f"milestones must be positive epochs, e.g. (20, 40), got {self.milestones!r}")
        if list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be in increasing order, got {self.milestones!r}")
        if self.workers is not None and (not isinstance(self.workers, numbers.Integral)
                                         or isinstance(self.workers, bool) or self.workers < 0):
            raise ValueError(f"workers must be a non-negative integer, got {self.workers!r}")
        if self.blas_conv not in (None, True, False):
            raise ValueError(f"blas_conv must be True, False or None (PADDLE_CNN_BLAS_CONV decides), got "
                             f"{self.blas_conv!r}")
        if self.in_memory not in (None, True, False):
            raise ValueError(f"in_memory must be True, False or None (decide by size), got {self.in_memory!r}")
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("lr_schedule", self.lr_schedule, SCHEDULES)
        _choice("amp_dtype", self.amp_dtype, AMP_DTYPES)
        for name in ("lr", "momentum", "weight_decay", "gamma"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0 \
                    or (name == "lr" and v == 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'lr' else 'non-negative'} number, "
                                 f"got {v!r}")
        if self.decay_epochs is not None and (not isinstance(self.decay_epochs, numbers.Real)
                                              or not self.decay_epochs > 0):
            raise ValueError(f"decay_epochs must be positive, got {self.decay_epochs!r}")
        unknown = sorted(set(self.augment) - set(AUGMENTATIONS))
        if unknown:
            raise ValueError(f"unknown augmentation {unknown}; choose from {', '.join(AUGMENTATIONS)}")
        if not isinstance(self.seed, numbers.Integral) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "augment", tuple(self.augment))
        object.__setattr__(self, "milestones", tuple(self.milestones))

    def replace(self, **changes) -> "TrainConfig":
        _check_names(changes, ValueError)
        return dataclasses.replace(self, **changes)

    def steps_per_epoch(self, train_images: int) -> int:
        """Steps of one epoch over `train_images` images (at most max_batches)."""
        return min(math.ceil(train_images / self.batch_size), self.max_batches or math.inf)

    def identity(self) -> dict:
        """What a checkpoint must match to resume (JSON-ready): the settings that decide what a run computes and
        differ from their defaults, with the schema version of those defaults. A new setting whose default
        computes what the code did before it leaves every identity as it was."""
        defaults = _defaults()
        return {"schema": IDENTITY_SCHEMA, **{k: v for k, v in self.computed().items() if v != defaults[k]}}

    def computed(self) -> dict:
        """Every setting that decides what a run computes, defaults included (JSON-ready)."""
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.metadata.get("identity", True)}

    def as_dict(self) -> dict:
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


# the names other libraries give some settings (paddle's optimizers, PaddleClas, Keras): said as ours
OTHER_NAMES = {"learning_rate": "lr", "learningrate": "lr", "base_lr": "lr", "batch": "batch_size",
               "batchsize": "batch_size", "epoch": "epochs", "num_epochs": "epochs", "max_epochs": "epochs",
               "opt": "optimizer", "wd": "weight_decay", "l2": "weight_decay", "scheduler": "lr_schedule",
               "lr_scheduler": "lr_schedule", "schedule": "lr_schedule", "image_size": "input_size",
               "channels": "in_channels"}


def _check_names(settings: dict, error) -> None:
    """Unknown setting names: one line, the setting meant (a did-you-mean, or our name for another library's)."""
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    unknown = sorted(set(settings) - set(names))
    if unknown:
        name = unknown[0]
        ours = OTHER_NAMES.get(str(name).lower())
        raise error(f"unknown training setting {name!r}: it is called {ours} here" if ours
                    else did_you_mean("training setting", name, names))


def _init_with_names_checked(init):
    import functools

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):  # TrainConfig(learning_rate=...): a TypeError that names the setting
        _check_names(kwargs, TypeError)
        init(self, *args, **kwargs)
    return __init__


TrainConfig.__init__ = _init_with_names_checked(TrainConfig.__init__)


def _defaults() -> dict:
    return TrainConfig().computed()


def expand_identity(config_identity: dict) -> dict:
    """A config identity (TrainConfig.identity(), as a checkpoint or results.json holds it) with today's defaults
    filled in for the settings it leaves out; its schema key dropped."""
    return {**_defaults(), **{k: v for k, v in config_identity.items() if k != "schema"}}


def settings_label(settings: dict) -> str:
    """'lr=0.01, epochs=5, augment=crop,flip': how results headers, verdicts and the dry run name settings."""
    return ", ".join(f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                     for k, v in settings.items())


def jsonable(v):
    """A setting as JSON holds it (tuples as lists), so identities read back from a file compare equal."""
    return list(v) if isinstance(v, tuple) else v


def _positive_int(name, v):
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _choice(name, v, choices):
    if v not in choices:
        raise ValueError(did_you_mean(name, v, choices))


def lr_at(config: TrainConfig, epoch_float: float) -> float:
    """Learning rate at a (fractional) epoch.

    constant; piecewise: times gamma at each milestone epoch; exponential: paddle.v2's 'discexp' of article 004,
    lr * gamma ** floor(epoch / decay_epochs); cosine: half-cosine from lr to 0 over the run.
    """
    c = config
    if c.lr_schedule == "piecewise":
        return c.lr * c.gamma ** sum(epoch_float >= m for m in c.milestones)
    if c.lr_schedule == "exponential":
        return c.lr * c.gamma ** math.floor(epoch_float / (c.decay_epochs or c.epochs))
    if c.lr_schedule == "cosine":
        return 0.5 * c.lr * (1 + math.cos(math.pi * min(epoch_float, c.epochs) / c.epochs))
    return c.lr


def make_optimizer(config: TrainConfig, parameters):
    import paddle
    wd = config.weight_decay or None
    if config.optimizer == "adam":
        return paddle.optimizer.Adam(learning_rate=config.lr, parameters=parameters, weight_decay=wd)
    if config.optimizer == "sgd":
        return paddle.optimizer.SGD(learning_rate=config.lr, parameters=parameters, weight_decay=wd)
    return paddle.optimizer.Momentum(learning_rate=config.lr, momentum=config.momentum, parameters=parameters,
                                     weight_decay=wd)
