"""Run-time device choice, CPU threads and seeding."""
import random

import numpy as np
import paddle
import pytest

from paddle_cnn import device


def test_cpu_is_picked_without_a_gpu():
    if device.gpu_available():
        pytest.skip("this machine has a GPU")
    assert device.pick_device() == "cpu"
    assert not device.is_gpu()
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        device.pick_device("gpu")


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        device.pick_device("tpu")


def test_threads_default_to_available_cores(monkeypatch):
    monkeypatch.delenv("PADDLE_CNN_THREADS", raising=False)
    monkeypatch.setattr(device, "_user_omp", None)
    assert device.set_threads() == device.available_cores()
    assert device.set_threads(1) == 1
    device.set_threads()


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), np.random.rand(), paddle.rand([1]).numpy().tolist()[0]
    device.seed_everything(11)
    a = draw()
    device.seed_everything(11)
    assert draw() == a
    device.seed_everything(12)
    assert draw() != a


def test_setup_returns_device():
    assert device.setup(seed=1) in ("cpu", "gpu")
