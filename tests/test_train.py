"""fit: learns, is deterministic, resumes exactly, stops on NaN, logs to VisualDL, runs data-parallel."""
import contextlib
import glob
import os
import pickle

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_cnn.training import checkpoint as ckpt
from paddle_cnn.data import load_dataset
from paddle_cnn.models import create_model
from paddle_cnn.training import Callback, Checkpointer, NonFiniteLoss, TrainConfig, VisualDLLogger, fit, lr_at

EXACT = ("train_loss", "train_acc", "eval_loss", "eval_acc", "eval_top2", "lr")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist-5k")


def small_net():
    """conv + pool + dropout + fc: exercises dropout randomness in the resume test."""
    return nn.Sequential(nn.Conv2D(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2, 2), nn.Flatten(),
                         nn.Dropout(0.5), nn.Linear(8 * 14 * 14, 10))


def quiet(**kw):
    return dict(progress=False, log=lambda *a: None, **kw)


def test_lenet_learns_mnist5k_article002_recipe(mnist):
    """Article 002's recipe (Adam, lr 0.001, batch 64) on the 4,000 embedded training digits: >= 96% on the 1,000
    test digits."""
    paddle.seed(0)
    h = fit(create_model("lenet"), mnist["train"], mnist["test"], TrainConfig(epochs=15, batch_size=64, lr=1e-3,
                                                                               seed=0), **quiet())
    assert h["train_loss"][-1] < h["train_loss"][0] / 10
    assert h["eval_acc"][-1] >= 0.96, h["eval_acc"]
    assert all(t2 >= t1 for t1, t2 in zip(h["eval_acc"], h["eval_top2"]))


class Stop(Exception):
    pass


class StopAfter(Callback):
    def __init__(self, n):
        self.n = n

    def on_epoch_end(self, state):
        if state.epoch == self.n:
            raise Stop()


class SignalAt(Callback):
    """Sends a signal to this process before step `step` of epoch `epoch` (1-based): a real Ctrl-C."""

    def __init__(self, epoch, step, signum):
        self.epoch, self.step, self.signum = epoch, step, signum

    def on_step_begin(self, state):
        if (state.epoch + 1, state.ep.step + 1) == (self.epoch, self.step):
            os.kill(os.getpid(), self.signum)


def _short_run(mnist, tmp, epochs, resume=False, seed=3, stop_after=None, extra=()):
    paddle.seed(seed)
    model = small_net()
    config = TrainConfig(epochs=epochs, batch_size=50, optimizer="adam", lr=2e-3, lr_schedule="cosine",
                         augment=("crop", "flip"), seed=seed)
    callbacks = [Checkpointer(tmp, {"model": "small"}, resume=resume), *extra] + ([StopAfter(stop_after)] if stop_after else [])
    return fit(model, mnist["train"].subset(600), mnist["test"].subset(200), config, callbacks, **quiet()), model


def test_same_seed_same_history(mnist, tmp_path):
    a, _ = _short_run(mnist, str(tmp_path / "a"), 2)
    assert a["train_loss"][1] < a["train_loss"][0] and a["eval_acc"][1] > 0.2  # it learns (chance is 0.1)
    b, _ = _short_run(mnist, str(tmp_path / "b"), 2)
    c, _ = _short_run(mnist, str(tmp_path / "c"), 2, seed=4)
    assert all(a[k] == b[k] for k in EXACT)
    assert a["train_loss"] != c["train_loss"]


def test_resume_equals_uninterrupted(mnist, tmp_path):
    full, full_model = _short_run(mnist, str(tmp_path / "full"), 3)
    with pytest.raises(Stop):  # interrupted after epoch 1 of 3
        _short_run(mnist, str(tmp_path / "cut"), 3, stop_after=1)
    resumed, resumed_model = _short_run(mnist, str(tmp_path / "cut"), 3, resume=True)
    assert all(full[k] == resumed[k] for k in EXACT), (full, resumed)
    for (k, v), (_, w) in zip(full_model.state_dict().items(), resumed_model.state_dict().items()):
        assert np.array_equal(v.numpy(), w.numpy()), k


def test_ctrl_c_mid_epoch_checkpoints_that_step_and_resume_equals_uninterrupted(mnist, tmp_path):
    """SIGINT (Ctrl-C, Jupyter's interrupt) at step 5 of epoch 2 of 3, with dropout, random crops and flips and a
    cosine schedule: fit checkpoints the 4 steps done, raises Interrupted; resume=True continues at step 5 and
    ends with the uninterrupted history and bit-equal weights."""
    import signal

    from paddle_cnn.training import Interrupted
    full, full_model = _short_run(mnist, str(tmp_path / "full"), 3)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted, match=r"training interrupted in epoch 2 after step 4; saved in "):
        _short_run(mnist, str(tmp_path / "cut"), 3, extra=[SignalAt(2, 5, signal.SIGINT)])
    assert signal.getsignal(signal.SIGINT) is before  # the handler is given back
    saved = ckpt.latest(str(tmp_path / "cut"))
    assert saved.endswith("epoch-0001-step-000004")
    resumed, resumed_model = _short_run(mnist, str(tmp_path / "cut"), 3, resume=True)
    assert all(full[k] == resumed[k] for k in EXACT), (full, resumed)
    for (k, v), (_, w) in zip(full_model.state_dict().items(), resumed_model.state_dict().items()):
        assert np.array_equal(v.numpy(), w.numpy()), k
    assert [os.path.basename(d) for d in sorted(glob.glob(str(tmp_path / "cut" / "epoch-*")))] == \
        ["epoch-0002", "epoch-0003"]  # the interrupted state is superseded by finished epochs


class Poisoned(nn.Layer):
    """Returns NaN logits from a given training call on."""

    def __init__(self, at_call):
        super().__init__()
        self.net, self.calls, self.at = small_net(), 0, at_call

    def forward(self, x):
        out = self.net(x)
        if self.training:
            self.calls += 1
            if self.calls >= self.at:
                out = out * float("nan")
        return out


def test_nan_loss_stops_with_epoch_and_step_and_keeps_checkpoint(mnist, tmp_path):
    d = str(tmp_path / "ck")
    model = Poisoned(at_call=12 + 3)  # 600 images / 50 = 12 steps per epoch: epoch 2, step 3
    with pytest.raises(NonFiniteLoss, match=r"NaN/Inf in epoch 2 at step 3; stopped, the last good checkpoint is "
                                            r"kept in"):
        fit(model, mnist["train"].subset(600), None, TrainConfig(epochs=3, batch_size=50), [Checkpointer(d)],
            **quiet())
    state = ckpt.load(d, Poisoned(1))
    assert state["epoch"] == 1 and len(state["history"]["train_loss"]) == 1
    assert np.isfinite(state["history"]["train_loss"][0])


def test_checkpoint_refuses_corrupt_pickle_and_mismatched(mnist, tmp_path):
    d = str(tmp_path / "ck")
    model = create_model("lenet")
    fit(model, mnist["train"].subset(100), None, TrainConfig(epochs=1, batch_size=50), [Checkpointer(d)], **quiet())
    with pytest.raises(ckpt.CheckpointError, match=r"the checkpoint lacks the model's features.2.weight "
                                                   r"\[16, 6, 5, 5\] and has features.3.weight \[16, 6, 5, 5\], "
                                                   r"which the model does not; it was saved from another model"):
        ckpt.load(d, create_model("lenet_nopool"))
    epoch_dir = ckpt.latest(d)
    weights = os.path.join(epoch_dir, "model.safetensors")
    marker = tmp_path / "unpickled"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    with open(weights, "wb") as f:
        pickle.dump({"features.0.weight": Evil()}, f)
    with pytest.raises(ckpt.CheckpointError, match="is not a paddle-cnn checkpoint .*it was not loaded"):
        ckpt.load(d, create_model("lenet"))
    assert not marker.exists()
    with open(weights, "wb") as f:
        f.write(b"\x00" * 10)
    with pytest.raises(ckpt.CheckpointError, match="not a safetensors file"):
        ckpt.load(d, create_model("lenet"))
    with open(os.path.join(d, "latest.json"), "w") as f:
        f.write("{broken")
    with pytest.raises(ckpt.CheckpointError, match="latest.json is corrupt"):
        ckpt.load(d, create_model("lenet"))


def test_mismatch_message_names_both_shapes(mnist, tmp_path):
    d = str(tmp_path / "ck")
    fit(create_model("lenet"), mnist["train"].subset(100), None, TrainConfig(epochs=1, batch_size=50),
        [Checkpointer(d)], **quiet())
    with pytest.raises(ckpt.CheckpointError) as e:
        ckpt.load(d, create_model("lenet", num_classes=16))
    assert "classifier.4.weight has shape [84, 10] in the checkpoint but [84, 16] in the model" in str(e.value)


def test_visualdl_log_reads_back(mnist, tmp_path):
    from visualdl import LogReader
    fit(create_model("lenet"), mnist["train"].subset(200), mnist["test"].subset(100),
        TrainConfig(epochs=2, batch_size=50, sync_every=2), [VisualDLLogger(str(tmp_path), "lenet-s0")], **quiet())
    files = glob.glob(str(tmp_path / "lenet-s0" / "vdlrecords.*"))
    assert len(files) == 1
    reader = LogReader(file_path=files[0])
    tags = reader.get_tags()["scalar"]
    for tag in ("train/loss", "train/acc", "eval/loss", "eval/acc", "eval/top2", "lr", "throughput/images_per_s"):
        assert tag in tags
        assert [r.id for r in reader.get_data("scalar", tag)] == [1, 2]
    assert [r.id for r in reader.get_data("scalar", "train/batch_loss")] == [2, 4, 6, 8]
    assert "hyper_parameters" in reader.get_tags()


def test_schedules():
    c = TrainConfig(lr=0.1, epochs=10)
    assert lr_at(c, 5.0) == 0.1
    assert lr_at(c.replace(lr_schedule="piecewise", milestones=(3, 6)), 5.0) == pytest.approx(0.01)
    assert lr_at(c.replace(lr_schedule="exponential", gamma=0.5, decay_epochs=2), 5.0) == pytest.approx(0.025)
    assert lr_at(c.replace(lr_schedule="cosine"), 10.0) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unknown lr_schedule 'step'"):
        lr_at(c.replace(lr_schedule="step"), 0)


@pytest.mark.parametrize("kw,msg", [(dict(epochs=0), "epochs must be a positive integer, got 0"),
                                    (dict(batch_size=-1), "batch_size must be a positive integer, got -1"),
                                    (dict(optimizer="adamw"), "unknown optimizer 'adamw'")])
def test_bad_arguments(mnist, kw, msg):
    args = {**dict(epochs=1, batch_size=8), **kw}
    with pytest.raises(ValueError, match=msg):
        fit(create_model("lenet"), mnist["train"].subset(16), None, TrainConfig(**args), **quiet())


def test_amp_switches_off_on_cpu(mnist):
    lines = []
    fit(create_model("lenet"), mnist["train"].subset(32), None, TrainConfig(epochs=1, batch_size=16, amp=True),
        progress=False, log=lines.append)
    assert any("AMP is GPU-only" in l for l in lines)


def test_ctrl_c_after_a_nan_step_saves_nothing_poisoned(mnist, tmp_path):
    """The loss turns NaN at step 3 of epoch 2 and Ctrl-C comes at step 5, before the losses were read: fit stops
    for the NaN (naming step 3), and the last checkpoint stays the good epoch 1."""
    import signal
    d = str(tmp_path / "ck")
    from paddle_cnn.training import Interrupted
    with pytest.raises((NonFiniteLoss, Interrupted)) as stop:  # an Interrupted here is the bug, reported as such
        fit(Poisoned(at_call=12 + 3), mnist["train"].subset(600), None, TrainConfig(epochs=3, batch_size=50),
            [Checkpointer(d), SignalAt(2, 5, signal.SIGINT)], **quiet())
    assert stop.type is NonFiniteLoss and "NaN/Inf in epoch 2 at step 3" in str(stop.value), stop.value
    assert os.path.basename(ckpt.latest(d)) == "epoch-0001"


def test_a_failing_start_leaves_the_callers_sigint_handler(mnist, tmp_path):
    """fit refused at its start (here a corrupt checkpoint pointer) gives back the SIGINT handler it found."""
    import signal

    def mine(signum, frame):
        pass
    d = tmp_path / "ck"
    d.mkdir()
    (d / "latest.json").write_text("{broken")
    before = signal.signal(signal.SIGINT, mine)
    try:
        with pytest.raises(ckpt.CheckpointError, match="latest.json is corrupt"):
            fit(create_model("lenet"), mnist["train"].subset(50), None, TrainConfig(epochs=1, batch_size=50),
                [Checkpointer(str(d), resume=True)], **quiet())
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, before)


def test_checkpoints_come_before_loggers_whatever_the_order_given(mnist, tmp_path):
    """VisualDL writes an epoch after its checkpoint (so a kill between them logs it once, on resume), even when
    the caller lists the logger first."""
    order = []
    real_save = ckpt.save

    class Spy(VisualDLLogger):
        def on_epoch_end(self, state):
            order.append("log")
            super().on_epoch_end(state)

    def save(*a, **k):
        order.append("checkpoint")
        return real_save(*a, **k)
    ckpt.save = save
    try:
        fit(create_model("lenet"), mnist["train"].subset(50), None, TrainConfig(epochs=1, batch_size=50),
            [Spy(str(tmp_path), "run"), Checkpointer(str(tmp_path / "ck"))], **quiet())
    finally:
        ckpt.save = real_save
    assert order == ["checkpoint", "log"]


def dashboard_epochs(logdir, run, tag="train/loss"):
    """The steps of `tag` as VisualDL's dashboard serves them: its server's own scalar function over a LogReader
    of the log folder (which reads only the newest records file of each run folder)."""
    from visualdl import LogReader
    from visualdl.server.lib import get_scalar
    reader = LogReader(logdir=logdir)
    reader.load_new_data()
    return [point[1] for point in get_scalar(reader, os.path.join(logdir, run), tag)]


def test_a_fresh_start_replaces_the_earlier_run(mnist, tmp_path):
    """Without resume, an earlier run's checkpoints and VisualDL records in the same folders are replaced: the
    dashboard shows the new run's epochs once, the checkpoint folder only its epochs."""
    d, logs = str(tmp_path / "ck"), str(tmp_path / "logs")
    for epochs in (3, 2):
        fit(create_model("lenet"), mnist["train"].subset(100), None, TrainConfig(epochs=epochs, batch_size=50),
            [Checkpointer(d), VisualDLLogger(logs, "run")], **quiet())
    assert sorted(os.listdir(d)) == ["epoch-0001", "epoch-0002", "latest.json"]
    assert dashboard_epochs(logs, "run") == [1, 2]


def test_a_checkpoint_without_caller_identity_is_tied_to_model_and_data(mnist, tmp_path):
    d = str(tmp_path / "ck")
    fit(create_model("lenet"), mnist["train"].subset(100), None, TrainConfig(epochs=1, batch_size=50),
        [Checkpointer(d)], **quiet())
    with pytest.raises(ckpt.CheckpointError, match="train_images 100 there, 200 here"):
        fit(create_model("lenet"), mnist["train"].subset(200), None, TrainConfig(epochs=1, batch_size=50),
            [Checkpointer(d, resume=True)], **quiet())


def test_resuming_a_finished_run_keeps_its_curves_on_the_dashboard(mnist, tmp_path):
    """VisualDL shows only the newest records file of a run folder: a resume with nothing left to train must not
    add one (an hparams-only file would hide the run's curves)."""
    import time
    d, logs = str(tmp_path / "ck"), str(tmp_path / "logs")
    for _ in range(2):
        fit(create_model("lenet"), mnist["train"].subset(100), None, TrainConfig(epochs=2, batch_size=50),
            [Checkpointer(d, resume=True), VisualDLLogger(logs, "run")], **quiet())
        time.sleep(1.1)  # VisualDL names its files by the second: a later fit's file must get a later name
    assert dashboard_epochs(logs, "run") == [1, 2]  # (VisualDL's data manager is per process: read once)


def _epochs_on_dashboard(logs):
    """The train/loss epochs of run 'run' as VisualDL's own server serves them to the browser."""
    from dashboard import dashboard_scalars
    return [step for step, _ in dashboard_scalars(logs)["run"]["train/loss"]]


def _fit_logged(mnist, d, logs, stop_in=None, epochs=5):
    """A logged run of `epochs`, resumed from its checkpoint; stop_in: Ctrl-C at the first step of that epoch."""
    import signal

    from paddle_cnn.training import Interrupted
    cbs = [Checkpointer(d, resume=True), VisualDLLogger(logs, "run", display_name="run")]
    with contextlib.ExitStack() as stack:
        if stop_in:
            cbs.append(SignalAt(stop_in, 1, signal.SIGINT))
            stack.enter_context(pytest.raises(Interrupted))
        fit(create_model("lenet"), mnist["train"].subset(100), None, TrainConfig(epochs=epochs, batch_size=50),
            cbs, **quiet())


def test_a_resume_appends_to_the_records_file_even_after_a_cut_record(mnist, tmp_path):
    """VisualDL's dashboard reads only the newest records file of a run folder: a resumed run appends to the
    existing file, first cutting a record that a kill left half-written (appending after it would misalign
    every later record)."""
    import time

    from paddle_cnn.training import vdl_records
    d, logs = str(tmp_path / "ck"), str(tmp_path / "logs")
    _fit_logged(mnist, d, logs, stop_in=3)
    [path] = vdl_records.records_files(os.path.join(logs, "run"))
    whole = os.path.getsize(path)
    with open(path, "ab") as f:  # a kill in the middle of a record: its length says 500 bytes, 7 arrived
        f.write((500).to_bytes(8, "little") + b"\x0a\x05trunc")
    time.sleep(1.1)  # VisualDL names files by the second: a new file now would get a new name
    _fit_logged(mnist, d, logs)
    assert vdl_records.records_files(os.path.join(logs, "run")) == [path]
    assert os.path.getsize(path) > whole
    assert _epochs_on_dashboard(logs) == [1, 2, 3, 4, 5]


def test_records_files_of_earlier_resumes_are_merged_once(mnist, tmp_path, monkeypatch):
    """A run folder holding several records files (older versions opened one per resume) is merged into one on
    the next resume, every point once; files a kill left beside the merged one are dropped as repeats."""
    import shutil
    import time
    from paddle_cnn.training import vdl_records
    d, logs = str(tmp_path / "ck"), str(tmp_path / "logs")
    run = os.path.join(logs, "run")
    _fit_logged(mnist, d, logs, stop_in=3)
    with monkeypatch.context() as m:  # the old behaviour: a resume opens a new file
        m.setattr(vdl_records, "one_records_file", lambda folder: None)
        time.sleep(1.1)  # VisualDL names its files by the second
        _fit_logged(mnist, d, logs, stop_in=4)
    first, second = vdl_records.records_files(run)
    kept = shutil.copy(first, str(tmp_path / "first"))
    _fit_logged(mnist, d, logs, stop_in=5)
    assert vdl_records.records_files(run) == [second]
    assert _epochs_on_dashboard(logs) == [1, 2, 3, 4]
    shutil.copy(kept, first)  # as if killed after the merged file's rename, before the old file's removal
    _fit_logged(mnist, d, logs)
    assert vdl_records.records_files(run) == [second]
    assert _epochs_on_dashboard(logs) == [1, 2, 3, 4, 5]


def test_progress_outside_a_kernel_with_ipykernel_imported(mnist):
    """A script that has ipykernel imported (papermill's caller does) is not a kernel: progress falls back to
    lines instead of drawing into a display that does not exist."""
    pytest.importorskip("ipykernel")
    import ipykernel  # noqa: F401
    lines = []
    fit(create_model("lenet"), mnist["train"].subset(100), None, TrainConfig(epochs=1, batch_size=50),
        progress=None, log=lines.append)
    assert any(line.startswith("epoch 1/1") for line in lines)
