"""Faults done for real, each through `paddle-cnn run pool-vs-stride --profile smoke` in a subprocess, compared
with one uninterrupted reference run: SIGKILL and SIGINT mid-epoch, then --resume; NaN loss; a disk that fills
mid-run; a full disk before the start; checkpoints from another model or in another format. Faults are injected
by tests/fault_cli.py, a training callback added to one run."""
import glob
import json
import os
import pickle
import shutil
import subprocess
import sys

import pytest

from paddle_cnn.training import checkpoint as ckpt
from paddle_cnn.cli import main
from dashboard import dashboard_scalars

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXP = "pool-vs-stride"
HISTORY = ("train_loss", "train_acc", "eval_loss", "eval_acc", "eval_top2", "lr")


def _run(logdir, *extra, fault=None):
    """`paddle-cnn run EXP` in a subprocess; fault: RUN:EPOCH:STEP:WHAT injected by tests/fault_cli.py."""
    env = dict(os.environ, PYTHONPATH=ROOT, PADDLE_CNN_PROFILE="smoke")
    entry = [os.path.join(ROOT, "tests", "fault_cli.py"), fault] if fault else ["-m", "paddle_cnn"]
    seeds = () if "--seeds" in extra else ("--seeds", "1")  # the CLI's default is 3
    return subprocess.run([sys.executable, *entry, "run", EXP, "--logdir", str(logdir), *seeds, *extra],
                          capture_output=True, text=True, env=env, timeout=300)


def _results(logdir):
    return json.loads((logdir / EXP / "results.json").read_text())


_DASHBOARDS = {}


def _dashboard(logdir):
    """Every scalar as VisualDL's own server serves it to the browser (rounded to 6 digits), per run."""
    key = str(logdir)
    if key not in _DASHBOARDS:  # each folder is read once, after its run ended (the reference by several tests)
        _DASHBOARDS[key] = {run: {tag: [(s, round(v, 6)) for s, v in points] for tag, points in tags.items()}
                            for run, tags in dashboard_scalars(logdir).items()}
    return _DASHBOARDS[key]


def _one_line_error(proc, code=2):
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run; every fault below must end with exactly its results and VisualDL points."""
    logdir = tmp_path_factory.mktemp("reference")
    proc = _run(logdir)
    assert proc.returncode == 0, proc.stderr
    return logdir


def _assert_same_as_reference(reference, logdir):
    a, b = _results(reference), _results(logdir)
    assert [r["run"] for r in a["runs"]] == [r["run"] for r in b["runs"]]
    for ra, rb in zip(a["runs"], b["runs"]):
        assert ra["test_acc"] == rb["test_acc"]
        for k in HISTORY:
            assert ra["history"][k] == rb["history"][k], (ra["run"], k)
    da, db = _dashboard(reference), _dashboard(logdir)  # VisualDL's dashboard: every point once, none missing
    assert sorted(da) == sorted(db) and len(da) == 2
    for run in da:
        assert set(da[run]) == set(db[run]) and "train/loss" in da[run]
        for tag in da[run]:
            if tag.startswith("throughput"):
                assert [s for s, _ in da[run][tag]] == [s for s, _ in db[run][tag]], (run, tag)
            else:
                assert da[run][tag] == db[run][tag], (run, tag)


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(reference, tmp_path):
    killed = _run(tmp_path, fault="lenet_nopool-s0:2:3:9")  # SIGKILL: second run, epoch 2, step 3
    assert killed.returncode == -9
    partial = _results(tmp_path)  # valid JSON after the kill, holding the finished run
    assert [r["run"] for r in partial["runs"]] == ["lenet-s0"]
    resumed = _run(tmp_path, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_as_reference(reference, tmp_path)


def test_sigint_checkpoints_the_current_step_exits_130_and_resume_equals_uninterrupted(reference, tmp_path):
    stopped = _run(tmp_path, fault="lenet-s0:2:3:2")  # Ctrl-C (SIGINT) at step 3 of epoch 2 of the first run
    last = _one_line_error(stopped, 130)
    assert last.startswith("paddle-cnn: lenet-s0 interrupted in epoch 2 after step 2; saved in ")
    assert last.endswith(" --seeds 1` to continue (finished runs are reused)")  # the command as typed
    assert "rerun `paddle-cnn run pool-vs-stride " in last
    saved = ckpt.latest(str(tmp_path / EXP / "_checkpoints" / "lenet-s0"))
    assert os.path.basename(saved) == "epoch-0001-step-000002"  # the two steps done in epoch 2 are kept
    with open(os.path.join(saved, "state.json")) as f:
        state = json.load(f)
    assert state["epoch"] == 1 and state["partial"]["step"] == 2 and len(state["history"]["train_loss"]) == 1
    resumed = _run(tmp_path)  # the command the hint names: the same one, which continues (no flag needed)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming lenet-s0 in epoch 2 after step 2" in resumed.stdout + resumed.stderr
    _assert_same_as_reference(reference, tmp_path)


def test_nan_loss_through_the_cli_names_epoch_and_step_and_keeps_the_checkpoint(tmp_path):
    proc = _run(tmp_path, fault="lenet-s0:2:2:nan")
    last = _one_line_error(proc)
    assert last.startswith("paddle-cnn: error: loss became NaN/Inf in epoch 2 at step 2; stopped, the last good "
                           "checkpoint is kept in ") and "lower the learning rate" in last
    from paddle_cnn.models import create_model
    state = ckpt.load(str(tmp_path / EXP / "_checkpoints" / "lenet-s0"), create_model("lenet"))
    assert state["epoch"] == 1 and "partial" not in state


def test_disk_filling_mid_run_is_one_line_and_resume_equals_uninterrupted(reference, tmp_path):
    """From epoch 2 of the first run no file may grow past 100 kB (the OS refuses, as on a full disk): the epoch-2
    checkpoint cannot be written; one line, exit 2, the epoch-1 checkpoint intact; --resume then completes."""
    proc = _run(tmp_path, fault="lenet-s0:2:1:fsize")
    last = _one_line_error(proc)
    assert "could not write the checkpoint" in last and "File too large" in last and "previous one is kept" in last
    ck = tmp_path / EXP / "_checkpoints" / "lenet-s0"
    assert os.path.basename(ckpt.latest(str(ck))) == "epoch-0001"
    assert not glob.glob(str(ck / ".tmp-*"))  # no half-written checkpoint left behind
    resumed = _run(tmp_path, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_as_reference(reference, tmp_path)


def test_full_disk_is_refused_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PADDLE_CNN_PROFILE", "smoke")
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10 << 30, 10 << 30, 1 << 20))
    assert main(["run", EXP, "--seeds", "1", "--logdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("paddle-cnn: error: only 1 MB free on the disk of ")
    assert err[0].endswith("free space or choose another --logdir")
    assert not glob.glob(str(tmp_path / EXP / "*" / "vdlrecords.*"))  # nothing of the run was written
    assert not glob.glob(str(tmp_path / EXP / "_checkpoints" / "*" / "epoch-*"))


def _seed_checkpoint(reference, tmp_path, from_run):
    """A fresh log folder whose lenet-s0 checkpoint folder holds the reference's checkpoint of `from_run`."""
    src = reference / EXP / "_checkpoints" / from_run
    dst = tmp_path / EXP / "_checkpoints" / "lenet-s0"
    shutil.copytree(src, dst)
    return dst


def test_checkpoint_of_another_model_is_refused_through_the_cli(reference, tmp_path):
    _seed_checkpoint(reference, tmp_path, "lenet_nopool-s0")
    last = _one_line_error(_run(tmp_path, "--resume"))
    assert "model.safetensors: the checkpoint lacks the model's features.3.weight [16, 6, 5, 5] and has " \
           "features.2.weight [16, 6, 5, 5], which the model does not; it was saved from another model" in last
    assert not (tmp_path / EXP / "results.json").exists()


def test_pickle_checkpoint_is_refused_unopened_through_the_cli(reference, tmp_path):
    ck = _seed_checkpoint(reference, tmp_path, "lenet-s0")
    marker = tmp_path / "unpickled"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    weights = os.path.join(ckpt.latest(str(ck)), "model.safetensors")
    with open(weights, "wb") as f:
        pickle.dump({"features.0.weight": Evil()}, f)
    last = _one_line_error(_run(tmp_path, "--resume"))
    assert "is not a paddle-cnn checkpoint (not a safetensors file" in last
    assert not marker.exists()


KERNEL_CODE = """
import glob, numpy as np, paddle
from paddle_cnn.data import load_dataset
from paddle_cnn.models import create_model
from paddle_cnn.training import Checkpointer, TrainConfig, fit
d = load_dataset("mnist-5k")
def run(ck, resume=False):
    paddle.seed(0)
    m = create_model("lenet")
    h = fit(m, d["train"].subset(2000), d["test"].subset(200), TrainConfig(epochs=12, batch_size=64, seed=0),
            [Checkpointer(ck, resume=resume)], progress=False, log=print)
    return h, m
"""


def test_jupyter_interrupt_checkpoints_and_resume_equals_uninterrupted(tmp_path):
    """The notebook case: a Jupyter kernel running fit gets the interrupt button (SIGINT from the kernel manager):
    the cell fails with Interrupted naming where it stopped and that it saved; resume=True in the next cell ends
    with the history and weights of an uninterrupted run."""
    jc = pytest.importorskip("jupyter_client")
    km = jc.KernelManager(kernel_name="python3")
    km.start_kernel(cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)

        def execute(code, timeout=300, interrupt_when=None):
            msg_id = kc.execute(code)
            if interrupt_when is not None:
                import time
                deadline = time.time() + timeout
                while not interrupt_when() and time.time() < deadline:
                    time.sleep(0.05)
                km.interrupt_kernel()
            while True:
                reply = kc.get_shell_msg(timeout=timeout)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply["content"]

        assert execute(KERNEL_CODE)["status"] == "ok"
        ck = tmp_path / "ck"
        stopped = execute(f"run({str(ck)!r})", interrupt_when=lambda: glob.glob(str(ck / "epoch-0002")))
        assert stopped["status"] == "error" and stopped["ename"] == "Interrupted", stopped
        assert "training interrupted" in stopped["evalue"] and f"saved in {ck}" in stopped["evalue"]
        same = execute(f"h1, m1 = run({str(ck)!r}, resume=True)\n"
                       f"h0, m0 = run({str(tmp_path / 'ref')!r})\n"
                       "keys = ('train_loss', 'train_acc', 'eval_loss', 'eval_acc', 'lr')\n"
                       "assert all(h0[k] == h1[k] for k in keys), (h0, h1)\n"
                       "assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in "
                       "zip(m0.state_dict().values(), m1.state_dict().values()))")
        assert same["status"] == "ok", same
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_space_needed_counts_the_copies_a_run_will_hold(tmp_path, monkeypatch):
    """lenet, Adam: 61,706 weights x 4 bytes x 3 arrays per copy; 3 copies at once for a long run, 1 for a
    one-epoch run, + 16 MB; one byte less than that is refused."""
    from paddle_cnn.models import create_model
    model = create_model("lenet")
    per_copy = 61_706 * 4 * 3
    free = {"bytes": 0}
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1 << 40, 0, free["bytes"]))
    for epochs, copies in ((10, 3), (2, 2), (1, 1)):
        free["bytes"] = per_copy * copies + (16 << 20)
        ckpt.check_space(str(tmp_path / "ck"), model, 2, epochs)
        free["bytes"] -= 1
        with pytest.raises(ckpt.CheckpointError, match="free on the disk of"):
            ckpt.check_space(str(tmp_path / "ck"), model, 2, epochs)
