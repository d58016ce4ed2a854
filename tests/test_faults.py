"""Faults done for real: a SIGKILL in the middle of an epoch, then --resume."""
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(logdir, *extra, kill_at=None):
    env = dict(os.environ, PYTHONPATH=ROOT, PADDLE_CNN_PROFILE="smoke")
    env.pop("PADDLE_CNN_KILL_AT", None)
    if kill_at:
        env["PADDLE_CNN_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "paddle_cnn", "run", "pool-vs-stride", "--logdir", str(logdir),
                           *extra], capture_output=True, text=True, env=env, timeout=300)


def _scalars(run_dir):
    from visualdl import LogReader
    points = {}
    for f in sorted(glob.glob(os.path.join(run_dir, "vdlrecords.*"))):
        try:
            reader = LogReader(file_path=f)
            tags = reader.get_tags().get("scalar", [])
        except Exception:
            continue
        for tag in tags:
            points.setdefault(tag, []).extend((int(r.id), round(float(r.value), 6))
                                              for r in reader.get_data("scalar", tag))
    return {k: sorted(v) for k, v in points.items()}


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    ref = _run(tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr
    killed = _run(tmp_path / "crash", kill_at="lenet_nopool-s0:2:3:9")  # SIGKILL: second run, epoch 2, step 3
    assert killed.returncode == -9
    partial = json.loads((tmp_path / "crash" / "pool-vs-stride" / "results.json").read_text())  # valid JSON
    assert [r["run"] for r in partial["runs"]] == ["lenet-s0"]
    resumed = _run(tmp_path / "crash", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "ref" / "pool-vs-stride" / "results.json").read_text())
    b = json.loads((tmp_path / "crash" / "pool-vs-stride" / "results.json").read_text())
    for ra, rb in zip(a["runs"], b["runs"]):
        assert ra["run"] == rb["run"] and ra["test_acc"] == rb["test_acc"]
        for k in ("train_loss", "train_acc", "eval_loss", "eval_acc", "eval_top2", "lr"):
            assert ra["history"][k] == rb["history"][k], (ra["run"], k)
    # VisualDL: every point once, none missing
    for run in ("lenet-s0", "lenet_nopool-s0"):
        pa = _scalars(tmp_path / "ref" / "pool-vs-stride" / run)
        pb = _scalars(tmp_path / "crash" / "pool-vs-stride" / run)
        assert set(pa) == set(pb)
        for tag in pa:
            if tag.startswith("throughput"):
                assert [s for s, _ in pa[tag]] == [s for s, _ in pb[tag]]
            else:
                assert pa[tag] == pb[tag], (run, tag)


def test_sigint_exits_130_with_a_resume_hint_and_resume_completes(tmp_path):
    ref = _run(tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr
    stopped = _run(tmp_path / "int", kill_at="lenet-s0:2:2:2")  # SIGINT (Ctrl-C) in epoch 2 of the first run
    assert stopped.returncode == 130
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith("paddle-cnn: interrupted;") and "--resume" in last
    assert "Traceback" not in stopped.stderr
    resumed = _run(tmp_path / "int", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "ref" / "pool-vs-stride" / "results.json").read_text())
    b = json.loads((tmp_path / "int" / "pool-vs-stride" / "results.json").read_text())
    assert [(r["run"], r["test_acc"], r["history"]["train_loss"]) for r in a["runs"]] == \
        [(r["run"], r["test_acc"], r["history"]["train_loss"]) for r in b["runs"]]
