"""Edges an unseen-mutation review found untested: the cost verdict at its round bound and its geometric mean, the
step timing's median and warm-up, a 32-bit image in 0..255, the dashboard's hidden curves coming back, the
replacement folders of an interrupted --retrain (never a foreign run, a file there refused, a swap cut by a crash
put back), the lock's refusal naming its folder, and output to a full device without Python's -u."""
import math
import os
import pathlib
import statistics
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
QUIET = dict(progress=False, log=lambda *a: None)


def _cost_claim():
    from paddle_cnn.experiments import EXPERIMENTS
    return next(c for c in EXPERIMENTS["alexnet-mnist"].claims if c.kind == "cost")


def test_the_cost_verdict_judges_from_three_rounds_and_shows_the_geometric_mean():
    """3 rounds (the fewest) are judged under the full profile; the ratio shown is exp(mean(ln ratios)), written
    here: rounds of x0.5 and x2 give x1.000 (an arithmetic mean would give x1.250)."""
    from paddle_cnn.experiments import PROFILES
    from paddle_cnn.experiments.verdicts import cost_row
    c = _cost_claim()
    three = [{"run": c.run, "seconds": [0.30, 0.31, 0.29]}, {"run": c.than, "seconds": [0.20, 0.20, 0.20]}]
    row = cost_row(c, three, PROFILES["full"])
    assert row["verdict"] == "reproduced" and row["n"] == "3 rounds", row
    two = [{"run": c.run, "seconds": [0.1, 0.4]}, {"run": c.than, "seconds": [0.2, 0.2]}]
    assert cost_row(c, two, PROFILES["full"])["verdict"] == "needs >= 3 rounds"
    assert cost_row(c, two, PROFILES["smoke"])["ours"] == f"x{math.exp((math.log(0.5) + math.log(2)) / 2):.3f}" \
        == "x1.000"


def test_step_timing_rows_hold_the_median_and_every_model_warms_up_once(monkeypatch):
    """The row's s/step is the median of its rounds (upper median for an even count); before the rounds each model
    runs one untimed step: models x (1 + rounds x steps) train steps in all."""
    from paddle_cnn.experiments import runner, timing
    from paddle_cnn.experiments.plans import StepTimingPlan, plan_experiment
    from paddle_cnn.training import loop
    plan = next(p for p in plan_experiment("alexnet-mnist", "smoke", 1) if isinstance(p, StepTimingPlan))
    rounds = {"alexnet": [0.5, 0.1, 0.3, 0.9], "alexnet_lrn": [0.2, 0.8, 0.4, 0.6]}
    monkeypatch.setattr(timing, "alternating_train_steps", lambda models, *a, **k: rounds)
    data = runner.DataCache(str(ROOT / "data"), "", lambda m: None)
    rows = runner.step_timing(plan, data, lambda m: None, lambda m: None)
    assert {r["run"]: r["s/step"] for r in rows} == {"alexnet": 0.5, "alexnet_lrn": 0.6}
    assert all(r["s/step"] == statistics.median_high(r["seconds"]) for r in rows)
    monkeypatch.undo()
    calls = []
    step = loop.train_step
    monkeypatch.setattr(loop, "train_step", lambda *a, **k: calls.append(1) or step(*a, **k))
    from paddle_cnn.models import create_model
    models = {"a": create_model("lenet"), "b": create_model("lenet")}
    out = timing.alternating_train_steps(models, (1, 28, 28), 4, 2, 3, 10, lambda m: None)
    assert [len(v) for v in out.values()] == [2, 2] and len(calls) == 2 * (1 + 2 * 3)


def test_a_32_bit_grey_image_within_0_255_keeps_its_brightness(tmp_path):
    """PIL's 'I' mode holds 8-bit values too: they are taken as 8-bit (scaled by 255), not as 16-bit (which would
    make them nearly black); the same picture saved as 'L' decodes to the same pixels."""
    from PIL import Image

    from paddle_cnn.data.caltech import to_rgb8
    a = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.int32)
    wide = to_rgb8(Image.fromarray(a, mode="I"), "i.png")
    grey = to_rgb8(Image.fromarray(a.astype(np.uint8), mode="L"), "l.png")
    np.testing.assert_array_equal(np.asarray(wide), np.asarray(grey))


def _vdl_runs(folder):
    from visualdl import LogReader
    from visualdl.server.lib import get_runs
    reader = LogReader(logdir=str(folder))
    reader.load_new_data()
    return sorted(get_runs(reader))


def test_curves_hidden_by_fewer_seeds_come_back_when_the_seeds_do(tmp_path):
    """3 seeds, then 1 (the dashboard shows only s0), then 3 again: VisualDL's run list has all three seeds of each
    network again, their own records, and nothing retired is left."""
    from paddle_cnn.experiments.runner import run_experiment
    kw = dict(data_dir=str(ROOT / "data"), logdir=str(tmp_path), **QUIET)
    run_experiment("pool-vs-stride", "smoke", 3, **kw)
    every = _vdl_runs(tmp_path)
    assert len(every) == 6
    run_experiment("pool-vs-stride", "smoke", 1, reuse=True, **kw)
    assert _vdl_runs(tmp_path) == ["lenet s0 · pool-vs-stride", "lenet_nopool s0 · pool-vs-stride"]
    run_experiment("pool-vs-stride", "smoke", 3, reuse=True, **kw)
    assert _vdl_runs(tmp_path) == every
    from paddle_cnn.training import vdl_records
    assert not list(tmp_path.rglob(vdl_records.RETIRED + "*"))


def test_an_interrupted_replacement_is_not_a_foreign_run_and_a_file_in_its_place_is_refused(tmp_path):
    """A `<run>.next` folder left by an interrupted --retrain belongs to its run: the next start neither retires its
    records nor names it; a FILE at `<run>.next` (or `_checkpoints/<run>.next`) is one line before anything is
    written."""
    from paddle_cnn.experiments.runner import run_experiment
    from paddle_cnn.training import vdl_records
    kw = dict(data_dir=str(ROOT / "data"), logdir=str(tmp_path), progress=False)
    run_experiment("pool-vs-stride", "smoke", 1, log=lambda m: None, **kw)
    folder = tmp_path / "pool-vs-stride"
    staged = folder / "lenet-s0.next"
    staged.mkdir()
    (staged / "vdlrecords.1.log").write_bytes((next((folder / "lenet-s0").glob("vdlrecords.*"))).read_bytes())
    lines = []
    run_experiment("pool-vs-stride", "smoke", 1, reuse=True, log=lines.append, **kw)
    assert not [m for m in lines if "lenet-s0.next" in m], lines
    assert (staged / "vdlrecords.1.log").exists() and not list(staged.glob(vdl_records.RETIRED + "*"))
    for bad in (folder / "lenet_nopool-s0.next", folder / "_checkpoints" / "lenet_nopool-s0.next"):
        bad.write_text("not a folder")
        saved = (folder / "results.json").read_bytes()
        with pytest.raises(ValueError, match="is a file where"):
            run_experiment("pool-vs-stride", "smoke", 1, log=lambda m: None, **kw)  # --retrain: would use it
        assert (folder / "results.json").read_bytes() == saved
        bad.unlink()


def test_a_swap_cut_between_its_two_renames_is_put_back(tmp_path, monkeypatch):
    """replace_dir moves the finished folder aside before moving the new one in, never deleting it first: cut
    after the first rename (the second fails), the finished folder is still on disk, and settle_replaced (run at
    the next start) puts it back in place."""
    from paddle_cnn import files
    target, new = tmp_path / "run", tmp_path / "run.next"
    target.mkdir()
    (target / "old").write_text("finished")
    new.mkdir()
    (new / "new").write_text("replacement")
    rename, calls = os.rename, []

    def cut(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("killed here")
        rename(src, dst)
    monkeypatch.setattr(os, "rename", cut)
    with pytest.raises(OSError):
        files.replace_dir(str(new), str(target))
    monkeypatch.undo()
    kept = [p for p in tmp_path.rglob("old")]
    assert [p.read_text() for p in kept] == ["finished"]
    files.settle_replaced(str(tmp_path))
    assert (target / "old").read_text() == "finished"


def test_the_lock_refusal_names_its_folder(tmp_path):
    from paddle_cnn.files import FolderLock
    with FolderLock(str(tmp_path), "{folder} is busy"):
        with pytest.raises(Exception) as e:
            with FolderLock(str(tmp_path), "{folder} is busy"):
                pass
    assert str(tmp_path) in str(e.value)


def test_output_to_a_full_device_is_one_line_without_pythons_unbuffered_mode():
    """PYTHONUNBUFFERED (set in some environments) would hide an error that only the final flush meets."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "paddle_cnn", "summary", "lenet"], stdout=full,
                           stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert r.returncode == 2 and r.stderr.strip() == ("paddle-cnn: error: cannot write the output (No space left on "
                                                       "device); nothing else was affected"), r.stderr


def _finished(tmp_path, seeds=1):
    from paddle_cnn.experiments.runner import run_experiment
    run_experiment("pool-vs-stride", "smoke", seeds, data_dir=str(ROOT / "data"), logdir=str(tmp_path), **QUIET)
    return tmp_path / "pool-vs-stride"


def test_a_swap_cut_inside_the_checkpoints_folder_is_settled_at_the_next_start(tmp_path):
    """The checkpoint folder moved aside (`_checkpoints/.tmp-replaced-<run>`) and nothing in its place: the next
    start puts it back, and the finished run is reused as it was."""
    from paddle_cnn import files
    from paddle_cnn.experiments.runner import run_experiment
    folder = _finished(tmp_path)
    ckpts = folder / "_checkpoints"
    os.rename(ckpts / "lenet-s0", ckpts / (files.REPLACED + "lenet-s0"))
    lines = []
    run_experiment("pool-vs-stride", "smoke", 1, data_dir=str(ROOT / "data"), logdir=str(tmp_path), reuse=True,
                   progress=False, log=lines.append)
    assert (ckpts / "lenet-s0").is_dir() and not list(ckpts.glob(files.REPLACED + "*"))
    assert any(line.startswith("lenet-s0: finished earlier") for line in lines), lines


def test_crash_leftovers_inside_replacement_folders_are_removed_at_start(tmp_path):
    """Temporary files a crash left in `<run>.next` (VisualDL's merges) and unfinished epoch folders in
    `_checkpoints/<run>.next` are removed when the next run starts, like those in the run's own folders."""
    from paddle_cnn.experiments.runner import run_experiment
    folder = _finished(tmp_path)
    (folder / "lenet-s0.next").mkdir()
    (folder / "lenet-s0.next" / ".tmp-vdlrecords.1.log").write_text("half")
    (folder / "_checkpoints" / "lenet-s0.next" / ".tmp-epoch-0001").mkdir(parents=True)
    run_experiment("pool-vs-stride", "smoke", 1, data_dir=str(ROOT / "data"), logdir=str(tmp_path), reuse=True,
                   **QUIET)
    assert not list(folder.rglob(".tmp-*"))


def test_resume_checks_replacement_checkpoints_before_any_plan_runs(tmp_path):
    """--resume with another plan's checkpoint in a later run's `_checkpoints/<run>.next`: refused before the
    first plan trains (results.json and the first run's records unchanged)."""
    import shutil

    from paddle_cnn.experiments.runner import run_experiment
    folder = _finished(tmp_path)
    shutil.copytree(folder / "_checkpoints" / "lenet-s0", folder / "_checkpoints" / "lenet_nopool-s0.next")
    (folder / "_checkpoints" / "lenet-s0").rename(folder / "lenet-s0-aside")  # lenet-s0 would train first
    before = {p: p.read_bytes() for p in [folder / "results.json", *(folder / "lenet-s0").glob("*")]}
    with pytest.raises(Exception, match="lenet_nopool-s0.next"):
        run_experiment("pool-vs-stride", "smoke", 1, data_dir=str(ROOT / "data"), logdir=str(tmp_path),
                       resume=True, **QUIET)
    assert {p: p.read_bytes() for p in before} == before


def test_a_finished_run_with_records_but_no_checkpoints_is_replaced_beside_them(tmp_path):
    """Its checkpoints deleted, its VisualDL records still there: --retrain trains the replacement in
    `<run>.next`, so an interruption leaves the finished run's curves as they were."""
    import shutil

    from paddle_cnn.experiments.plans import plan_experiment
    from paddle_cnn.experiments.runner import DataCache, place
    folder = _finished(tmp_path)
    shutil.rmtree(folder / "_checkpoints" / "lenet-s0")
    data = DataCache(str(ROOT / "data"), str(folder), lambda m: None)
    plan = data.resolve([p for p in plan_experiment("pool-vs-stride", "smoke", 1) if p.key == "lenet-s0"])[0]
    at = place(plan, str(folder), data, resume=False, reuse=False, log=lambda m: None)
    assert at.staged and at.records.endswith("lenet-s0.next") and at.checkpoints.endswith("lenet-s0.next")


def test_a_lock_file_replaced_while_it_was_being_locked_is_not_held_twice(tmp_path, monkeypatch):
    """Run A opens .lock; before A locks it, the run holding it ends (removes the file) and run B takes a new
    .lock. A's lock on the removed file must not count: A finds the file is not the folder's and is refused by
    B's lock, never two runs in one folder."""
    import fcntl

    from paddle_cnn.files import FolderLock
    path, real, holder, raced = tmp_path / ".lock", fcntl.flock, FolderLock(str(tmp_path)), []

    def racing(f, op):
        if not raced and op & fcntl.LOCK_EX:
            raced.append(1)
            os.remove(path)
            holder.__enter__()  # run B: a new lock file, held
        return real(f, op)
    monkeypatch.setattr(fcntl, "flock", racing)
    with pytest.raises(ValueError, match="locked"):
        FolderLock(str(tmp_path)).__enter__()
    assert raced
    holder.__exit__(None, None, None)


def test_the_step_timing_plot_draws_each_rounds_seconds_and_their_ratio():
    """The plotted points are the rounds' seconds as stored and, on the right, the second run's seconds over the
    first's, round by round (numpy division written here)."""
    from paddle_cnn.experiments.report import plot_step_times
    a, b = [0.50, 0.62, 0.55], [0.80, 0.93, 0.70]
    res = {"experiment": "alexnet-mnist", "profile": "quick",
           "step_timing": [{"run": "alexnet", "seconds": a, "device": "cpu", "batch": 64, "input": "3x64x64"},
                           {"run": "alexnet_lrn", "seconds": b, "device": "cpu", "batch": 64, "input": "3x64x64"}]}
    left, right = plot_step_times(res).axes
    np.testing.assert_allclose([ln.get_ydata() for ln in left.lines], [a, b])
    np.testing.assert_allclose(left.lines[0].get_xdata(), [1, 2, 3])
    ratio = [ln for ln in right.lines if len(ln.get_xdata()) == 3][0]
    np.testing.assert_allclose(ratio.get_ydata(), np.array(b) / np.array(a))


def test_the_work_per_epoch_is_lenets_multiplies_times_its_images():
    """LeNet's MACs by hand: 5*5*1*28*28*6 + 5*5*6*10*10*16 + 400*120 + 120*84 + 84*10 = 416,520 per image
    (article 002's net); the smoke profile trains on 200 images."""
    from paddle_cnn.experiments.plans import plan_experiment
    from paddle_cnn.experiments.runner import DataCache, work_per_epoch
    data = DataCache(str(ROOT / "data"), "", lambda m: None)
    plans = data.resolve(plan_experiment("pool-vs-stride", "smoke", 1))
    macs = 5 * 5 * 1 * 28 * 28 * 6 + 5 * 5 * 6 * 10 * 10 * 16 + 400 * 120 + 120 * 84 + 84 * 10
    assert macs == 416_520
    assert work_per_epoch(plans, data)["lenet"] == macs * 200
