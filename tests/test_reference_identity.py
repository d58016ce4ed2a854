"""A run's identity: every field of a plan and of TrainConfig changes the fingerprint, unless it is listed here
as speed-only with the reason it cannot change a result, and a run shows it does not (the same weights)."""
from __future__ import annotations

import dataclasses

import numpy as np
import paddle
import pytest
from paddle import nn

from paddle_cnn.experiments.plans import DataSpec, TrainPlan, plan_experiment
from paddle_cnn.training import fit
from paddle_cnn.training.config import TrainConfig

QUIET = dict(progress=False, log=lambda *a: None)

# every TrainConfig field that decides what a run computes, with another valid value
CHANGED = {"epochs": 11, "batch_size": 32, "optimizer": "sgd", "lr": 0.01, "momentum": 0.5, "weight_decay": 1e-4,
           "lr_schedule": "cosine", "milestones": (3,), "gamma": 0.5, "decay_epochs": 2.0, "augment": ("flip",),
           "input_size": 32, "in_channels": 3, "max_batches": 5, "seed": 1, "amp": True, "amp_dtype": "bfloat16",
           "cpu_kernels": False}  # cpu_kernels: numpy's dropout masks are other random bits than paddle's

# field: (another value, why it cannot change what a run computes)
SPEED_ONLY = {
    "eval_batch_size": (7, "evaluation sums per-image losses and hits; training never sees it"),
    "sync_every": (1, "when losses are read from the device, not what they are"),
    "threads": (2, "how many CPU threads run the same kernels, their sums split otherwise: equal within float32 "
                   "rounding (a step this small gets 1 by default)"),
    "in_memory": (False, "the same batches from one tensor or through a DataLoader"),
    "workers": (0, "DataLoader processes that produce the same batches"),
    "blas_conv": (False, "numpy's BLAS or paddle's convolution: the same sums within float32 rounding"),
}

PLAN_CHANGES = {"experiment": "lenet-mnist", "profile": "full", "label": "other", "seed": 5, "model": "lenet5",
                "model_kw": {"lrn": True}}
DATA_CHANGES = {"name": "mnist", "train_subset": 100, "test_subset": 50, "digest": "0123456789abcdef"}
NOT_IDENTITY = {"generated_ok": "whether stand-in files may be generated follows the profile, which is identity"}


def base_plan() -> TrainPlan:
    return next(p for p in plan_experiment("pool-vs-stride", "quick", 1) if isinstance(p, TrainPlan))


def test_every_field_is_classified():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields == set(CHANGED) | set(SPEED_ONLY), "a new TrainConfig field: say whether it changes results"
    assert {f.name for f in dataclasses.fields(TrainPlan)} == set(PLAN_CHANGES) | {"data", "config"}
    assert {f.name for f in dataclasses.fields(DataSpec)} == set(DATA_CHANGES) | set(NOT_IDENTITY)


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_a_setting_that_changes_results_changes_the_fingerprint(name):
    plan = base_plan()
    other = dataclasses.replace(plan, config=plan.config.replace(**{name: CHANGED[name]}))
    assert getattr(other.config, name) != getattr(plan.config, name)
    assert other.fingerprint != plan.fingerprint, name


@pytest.mark.parametrize("name", sorted(SPEED_ONLY))
def test_a_speed_only_setting_keeps_the_fingerprint(name):
    plan = base_plan()
    other = dataclasses.replace(plan, config=plan.config.replace(**{name: SPEED_ONLY[name][0]}))
    assert other.fingerprint == plan.fingerprint, name


@pytest.mark.parametrize("name", sorted(PLAN_CHANGES) + [f"data.{k}" for k in sorted(DATA_CHANGES)])
def test_every_plan_field_is_in_the_fingerprint(name):
    plan = base_plan()
    if name.startswith("data."):
        key = name[5:]
        other = dataclasses.replace(plan, data=dataclasses.replace(plan.data, **{key: DATA_CHANGES[key]}))
    else:
        other = dataclasses.replace(plan, **{name: PLAN_CHANGES[name]})
    assert other.fingerprint != plan.fingerprint, name


class Samples(paddle.io.Dataset):
    """A map-style paddle Dataset (in_memory and workers act on these)."""

    def __init__(self, images, labels):
        super().__init__()
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


def _weights(**setting):
    rng = np.random.RandomState(0)
    images, labels = rng.randint(0, 256, (48, 1, 12, 12)).astype(np.uint8), np.arange(48) % 3
    paddle.seed(0)
    model = nn.Sequential(nn.Conv2D(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2), nn.Conv2D(8, 16, 3, padding=1),
                          nn.ReLU(), nn.Flatten(), nn.Dropout(0.3), nn.Linear(16 * 36, 3))
    c = TrainConfig(epochs=2, batch_size=16, lr=0.01, augment=("flip", "crop"), **setting)
    hist = fit(model, Samples(images, labels), Samples(images[:20], labels[:20]), c, **QUIET)
    return [p.numpy() for p in model.parameters()], hist


@pytest.mark.parametrize("name", sorted(SPEED_ONLY))
def test_a_speed_only_setting_leaves_the_weights(name):
    ref, hist = _weights()
    got, hist2 = _weights(**{name: SPEED_ONLY[name][0]})
    for a, b in zip(ref, got):
        if name in ("blas_conv", "threads"):  # another summation order: equal within float32 rounding
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        else:
            np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(hist["train_loss"], hist2["train_loss"], rtol=1e-5)


def test_the_fingerprint_does_not_depend_on_the_order_settings_were_written_in():
    """The same model options written in two orders are the same plan (a notebook's dict and the CLI's need not
    agree on order); hashed with sort_keys, as json.dumps documents, the blob is the same."""
    from paddle_cnn.training.identity import fingerprint
    plan = base_plan()
    a = dataclasses.replace(plan, model_kw={"lrn": True, "dropout": 0.5, "bn": False})
    b = dataclasses.replace(plan, model_kw={"bn": False, "dropout": 0.5, "lrn": True})
    assert a.fingerprint == b.fingerprint != plan.fingerprint
    assert fingerprint({"x": 1, "y": {"p": 2, "q": 3}}) == fingerprint({"y": {"q": 3, "p": 2}, "x": 1})
