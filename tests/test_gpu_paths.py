"""fit's GPU-only branches run on the CPU under the test switch PADDLE_CNN_TEST_GPU_PATHS=1: AMP autocast with its
GradScaler steps (and the scaler's state across a resume), the cuDNN flag call, pinned DataLoader memory. Paddle
makes autocast and its own GradScaler no-ops on a CPU, so the scaler here is a stand-in with paddle's API and real
dynamic loss scaling: what is tested is our Python around them, which would otherwise first run on a user's GPU."""
import json
import os
import signal

import numpy as np
import paddle
import pytest

from paddle_cnn import TrainConfig, create_model, fit, load_dataset
from paddle_cnn.device import GPU_PATHS_SWITCH
from paddle_cnn.training import Checkpointer, Interrupted
from paddle_cnn.training import checkpoint as ckpt
from paddle_cnn.training.callbacks import Callback


class StandInScaler:
    """paddle.amp.GradScaler's API (scale, step, update, state_dict, load_state_dict) doing dynamic loss scaling:
    the loss times the scale, gradients divided by it before the step, the scale doubled every 3 good steps."""
    made = []

    def __init__(self, init_loss_scaling=2.0 ** 15, **kw):
        self.s, self.good, self.calls = float(init_loss_scaling), 0, {"scale": 0, "step": 0, "update": 0}
        StandInScaler.made.append(self)

    def scale(self, loss):
        self.calls["scale"] += 1
        return loss * self.s

    def step(self, optimizer):
        self.calls["step"] += 1
        with paddle.no_grad():
            for p in optimizer._parameter_list:
                if p.grad is not None:
                    p.grad.set_value(p.grad * (1.0 / self.s))
        optimizer.step()

    def update(self):
        self.calls["update"] += 1
        self.good += 1
        if self.good % 3 == 0:
            self.s *= 2.0

    def state_dict(self):
        return {"scale": np.array([self.s], np.float32), "incr_count": self.good}

    def load_state_dict(self, d):
        self.s, self.good = float(np.asarray(d["scale"]).reshape(-1)[0]), int(d["incr_count"])


@pytest.fixture
def gpu_paths(monkeypatch):
    """The switch on, the stand-in scaler in, and spies on autocast and set_flags."""
    monkeypatch.setenv(GPU_PATHS_SWITCH, "1")
    monkeypatch.setattr(paddle.amp, "GradScaler", StandInScaler)
    StandInScaler.made.clear()
    seen = {"auto_cast": [], "set_flags": []}
    real_cast, real_flags = paddle.amp.auto_cast, paddle.set_flags

    def auto_cast(*a, **kw):
        seen["auto_cast"].append((kw.get("enable"), kw.get("dtype")))
        return real_cast(*a, **kw)

    def set_flags(flags):
        seen["set_flags"].append(dict(flags))
        return real_flags(flags)

    monkeypatch.setattr(paddle.amp, "auto_cast", auto_cast)
    monkeypatch.setattr(paddle, "set_flags", set_flags)
    return seen


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist-5k")["train"].subset(200)


def quiet(lines=None):
    return dict(progress=False, log=(lines.append if lines is not None else lambda *a: None))


def test_float16_amp_runs_autocast_and_every_scaler_step(gpu_paths, digits):
    lines = []
    hist = fit(create_model("lenet"), digits, None, TrainConfig(epochs=2, batch_size=50, amp=True, seed=0),
               **quiet(lines))
    [scaler] = StandInScaler.made
    assert scaler.calls == {"scale": 8, "step": 8, "update": 8}  # 4 steps x 2 epochs
    assert set(gpu_paths["auto_cast"]) == {(True, "float16")} and len(gpu_paths["auto_cast"]) == 8
    assert gpu_paths["set_flags"] == [{"FLAGS_cudnn_deterministic": True}]
    assert hist["train_loss"][1] < hist["train_loss"][0]  # the unscaled gradients train
    assert not any("AMP is GPU-only" in line for line in lines)
    assert "note: PADDLE_CNN_TEST_GPU_PATHS=1: the GPU-only branches run on the CPU (a test switch: AMP and the " \
           "cuDNN flag have no effect here; unset it to train normally)" in lines  # never silently


def test_bfloat16_amp_needs_no_scaler(gpu_paths, digits):
    fit(create_model("lenet"), digits, None,
        TrainConfig(epochs=1, batch_size=50, amp=True, amp_dtype="bfloat16"), **quiet())
    assert not StandInScaler.made
    assert set(gpu_paths["auto_cast"]) == {(True, "bfloat16")}


def test_without_the_switch_the_cpu_says_amp_is_gpu_only(monkeypatch, digits):
    monkeypatch.delenv(GPU_PATHS_SWITCH, raising=False)
    monkeypatch.setattr(paddle.amp, "GradScaler", StandInScaler)
    StandInScaler.made.clear()
    lines = []
    fit(create_model("lenet"), digits, None, TrainConfig(epochs=1, batch_size=50, amp=True), **quiet(lines))
    assert "note: AMP is GPU-only; training in float32 on the CPU" in lines and not StandInScaler.made


class CtrlCAt(Callback):
    def __init__(self, epoch, step):
        self.at = (epoch, step)

    def on_step_begin(self, state):
        if (state.epoch + 1, state.ep.step + 1) == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def test_the_loss_scale_resumes_where_it_was(gpu_paths, digits, tmp_path):
    """Ctrl-C in epoch 2, resume: the scaler's state (scale, good steps) and the weights end as without the stop;
    the checkpoint's state.json holds the scale."""
    config = TrainConfig(epochs=3, batch_size=50, amp=True, seed=0)

    def run(folder, extra=(), resume=False):
        paddle.seed(0)
        model = create_model("lenet")
        fit(model, digits, None, config, [Checkpointer(str(folder), resume=resume, log=lambda *a: None), *extra],
            **quiet())
        return model, StandInScaler.made[-1]

    full_model, full = run(tmp_path / "full")
    with pytest.raises(Interrupted):
        run(tmp_path / "cut", [CtrlCAt(2, 3)])
    with open(os.path.join(ckpt.latest(str(tmp_path / "cut")), "state.json")) as f:
        assert json.load(f)["scaler"] == {"scale": [2.0 ** 15 * 4], "incr_count": 6}  # 6 good steps: x2 twice
    model, resumed = run(tmp_path / "cut", resume=True)
    assert (resumed.s, resumed.good) == (full.s, full.good) == (2.0 ** 15 * 16, 12)
    for (k, v), (_, w) in zip(full_model.state_dict().items(), model.state_dict().items()):
        assert np.array_equal(v.numpy(), w.numpy()), k


def test_streaming_with_pinned_memory_runs(gpu_paths, digits):
    """The DataLoader path with pin_memory on, as on a GPU."""
    lines = []
    images, labels = digits.images, digits.labels

    class Set(paddle.io.Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return images[i], int(labels[i])

    fit(create_model("lenet"), Set(), None, TrainConfig(epochs=1, batch_size=50, in_memory=False, workers=1),
        **quiet(lines))
    assert any(line.endswith("streamed through paddle.io.DataLoader (TrainConfig(in_memory=False)), 1 worker, "
                             "pinned memory") for line in lines), lines
