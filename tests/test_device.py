"""Run-time device choice, CPU threads and seeding."""
import os
import random

import numpy as np
import paddle
import pytest

import paddle_cnn
from paddle_cnn import device


def test_cpu_is_picked_without_a_gpu():
    if device.gpu_available():
        pytest.skip("this machine has a GPU")
    assert device.pick_device() == "cpu"
    assert not device.is_gpu()
    with pytest.raises(ValueError, match=r"device='gpu' asks for a GPU, but this paddle has no CUDA GPU to use; "
                                         r"pass device='cpu'"):
        device.pick_device("gpu")


def test_a_gpu_asked_for_by_the_environment_names_the_variable_through_the_cli(monkeypatch, tmp_path):
    """The fix named is one the user has: the variable they set (the CLI has no --device flag)."""
    if device.gpu_available():
        pytest.skip("this machine has a GPU")
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from attacks import cli, refused, snapshot
    monkeypatch.setenv("PADDLE_CNN_DEVICE", "gpu")
    o = cli("run", "pool-vs-stride", "--profile", "smoke", "--seeds", "1", "--logdir", str(tmp_path / "logs"))
    refused(o, "PADDLE_CNN_DEVICE='gpu'", "set PADDLE_CNN_DEVICE=cpu or unset it")
    assert snapshot(tmp_path / "logs") == {}


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="device='tpu' is not a device: use 'cpu', 'gpu' or 'gpu:N'"):
        device.pick_device("tpu")


def test_threads_default_to_available_cores(monkeypatch):
    monkeypatch.delenv("PADDLE_CNN_THREADS", raising=False)
    monkeypatch.setattr(paddle_cnn, "USER_OMP_NUM_THREADS", None)
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


def test_threads_for_step_policy(monkeypatch):
    monkeypatch.delenv("PADDLE_CNN_THREADS", raising=False)
    monkeypatch.setattr(paddle_cnn, "USER_OMP_NUM_THREADS", None)
    assert device.threads_for_step(27e6) == 1  # lenet, batch 64
    assert device.threads_for_step(40e9) == device.available_cores()  # vgg16_cifar, batch 128
    assert device.threads_for_step(None) == device.available_cores()  # unknown work: all cores
    monkeypatch.setenv("PADDLE_CNN_THREADS", "3")
    assert device.threads_for_step(27e6) == 3  # the user's choice wins


def test_fit_trains_small_models_on_one_thread_and_restores(monkeypatch):
    """fit picks its threads from the step's MACs and gives the previous count back, also after an error."""
    from paddle_cnn.data.common import ImageSet
    from paddle_cnn.models import create_model
    from paddle_cnn.training import Callback, TrainConfig, fit

    class Spy(Callback):
        def __init__(self, fail=False):
            self.fail = fail

        def on_epoch_end(self, state):
            seen.append(device.current_threads())
            if self.fail:
                raise RuntimeError("boom")
    monkeypatch.delenv("PADDLE_CNN_THREADS", raising=False)
    monkeypatch.setattr(paddle_cnn, "USER_OMP_NUM_THREADS", None)
    device.set_threads(2)
    seen = []
    rng = np.random.RandomState(0)
    data = ImageSet(rng.randint(0, 256, (64, 1, 28, 28)).astype(np.uint8), rng.randint(0, 10, 64), list("0123456789"))
    fit(create_model("lenet"), data, None, TrainConfig(epochs=1, batch_size=32), [Spy()], progress=False,
        log=lambda *a: None)
    assert seen == [1] and device.current_threads() == 2
    fit(create_model("lenet"), data, None, TrainConfig(epochs=1, batch_size=32, threads=2), [Spy()], progress=False,
        log=lambda *a: None)
    assert seen == [1, 2]
    with pytest.raises(RuntimeError):
        fit(create_model("lenet"), data, None, TrainConfig(epochs=1, batch_size=32), [Spy(fail=True)],
            progress=False, log=lambda *a: None)
    assert device.current_threads() == 2
    device.set_threads()


def test_numpys_blas_threads_stay_inside_the_steps_thread_budget(monkeypatch, request):
    """numpy's BLAS (which runs the BLAS convolution's sgemms) gets no more threads than fit chose for paddle, read
    with threadpoolctl's own view of the loaded libraries at every step, including a user's lower
    OPENBLAS_NUM_THREADS; both pools get their counts back after fit, also after an error."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from paddle_cnn.data.common import ImageSet
    from paddle_cnn.models import create_model
    from paddle_cnn.training import Callback, TrainConfig, fit

    def blas():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    class Spy(Callback):
        def __init__(self, fail=False):
            self.fail = fail

        def on_step_end(self, state):
            seen.append((device.current_threads(), blas()))
            if self.fail:
                raise RuntimeError("boom")
    for name in ("PADDLE_CNN_THREADS", *device.BLAS_THREAD_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(paddle_cnn, "USER_OMP_NUM_THREADS", None)
    assert device.available_cores() == 2, "this check needs 2 cores"
    # every BLAS loaded (numpy's, and scipy's own OpenBLAS once an earlier test imported scipy: it starts on 1
    # thread) on 2 threads to start, so that fit's 1 and the restore to 2 are both visible
    limits = threadpool_limits(limits=2, user_api="blas")
    request.addfinalizer(limits.restore_original_limits)
    assert blas() == {2}
    device.set_threads(2)
    rng = np.random.RandomState(0)
    data = ImageSet(rng.randint(0, 256, (64, 1, 28, 28)).astype(np.uint8), rng.randint(0, 10, 64), list("0123456789"))

    def run(config, fail=False):
        seen.clear()
        fit(create_model("lenet"), data, None, config, [Spy(fail)], progress=False, log=lambda *a: None)
        return set((p, frozenset(b)) for p, b in seen)
    seen = []
    assert run(TrainConfig(epochs=1, batch_size=32)) == {(1, frozenset({1}))}  # a small step: one thread each
    assert blas() == {2} and device.current_threads() == 2
    assert run(TrainConfig(epochs=1, batch_size=32, threads=2)) == {(2, frozenset({2}))}
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # the user's cap on numpy's BLAS is kept
    assert run(TrainConfig(epochs=1, batch_size=32, threads=2)) == {(2, frozenset({1}))}
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    with pytest.raises(RuntimeError):
        run(TrainConfig(epochs=1, batch_size=32), fail=True)
    assert seen == [(1, {1})] and blas() == {2} and device.current_threads() == 2
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="OPENBLAS_NUM_THREADS='many'"):
        run(TrainConfig(epochs=1, batch_size=32))
    device.set_threads()


def test_each_launched_rank_picks_its_own_gpu(monkeypatch):
    """Under paddle.distributed.launch each rank is given its card in FLAGS_selected_gpus; the model is built
    before fit (and before paddle's parallel environment), so the device picked at set-up must be that card."""
    from paddle_cnn.device import rank_and_world, rank_gpu
    for var in ("PADDLE_TRAINER_ID", "PADDLE_TRAINERS_NUM", "FLAGS_selected_gpus"):
        monkeypatch.delenv(var, raising=False)
    assert rank_and_world() == (0, 1) and rank_gpu() == "gpu"
    monkeypatch.setenv("PADDLE_TRAINER_ID", "3")
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "4")
    monkeypatch.setenv("FLAGS_selected_gpus", "3")
    assert rank_and_world() == (3, 4) and rank_gpu() == "gpu:3"
