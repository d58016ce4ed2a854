"""A run's identity survives new settings and follows its data (issue: run identity).

- A new TrainConfig setting with a default (added to a copy of the package, in a subprocess) leaves every plan's
  fingerprint of every experiment and profile as it was, and the committed notebooks' fingerprints still match.
- The data read is part of the plan: replace the files under data/ and a finished run is "another plan", refused
  by --resume and trained again by reuse, with a line saying the data changed.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from paddle_cnn.experiments.definitions import EXPERIMENTS, PROFILES
from paddle_cnn.experiments.runner import resolve_plans, run_experiment
from test_notebook_outputs import COMMITTED_EXECUTED, headers
from test_notebook_outputs import EXPERIMENTS as NOTEBOOK_EXPERIMENTS

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

SCRIPT = r"""
import json, sys
from paddle_cnn.experiments.definitions import EXPERIMENTS, PROFILES
from paddle_cnn.experiments.plans import plan_experiment, plans_fingerprint
from paddle_cnn.experiments.runner import resolve_plans
from paddle_cnn.training.config import TrainConfig
data_dir, committed = sys.argv[1], json.loads(sys.argv[2])
out = {"plans": {f"{e} {p}": {q.key: q.fingerprint for q in plan_experiment(e, p, 2)}
                 for e in EXPERIMENTS for p in PROFILES},
       "notebooks": {f"{e} {seeds}": plans_fingerprint({q.key: q.identity() for q in
                                                         resolve_plans(e, "quick", seeds, data_dir, log=lambda m: 0)})
                     for e, seeds in committed},
       "field": TrainConfig().clip_grad_norm,
       "used": TrainConfig(clip_grad_norm=1.0).identity().get("clip_grad_norm")}
print(json.dumps(out))
"""


def committed_headers(nb_name: str) -> dict:
    """experiment -> (seeds, fingerprint of the plans) as the committed notebook's results header shows them."""
    nbformat = pytest.importorskip("nbformat")
    shown = headers(nbformat.read(ROOT / "notebooks" / f"{nb_name}.ipynb", as_version=4))
    assert sorted(shown) == sorted(NOTEBOOK_EXPERIMENTS[nb_name])
    return {exp: (int(h["seeds"]), h["plans"]) for exp, h in shown.items()}


def test_a_new_setting_with_a_default_keeps_every_fingerprint(tmp_path):
    """A copy of the package with one more TrainConfig field (gradient clipping, default None) plans every
    experiment under every profile with the same fingerprints as today's code, and its plans of the committed
    notebooks' experiments have the fingerprints their results headers show; the new setting, once used, is part
    of the identity."""
    from paddle_cnn.experiments.plans import plan_experiment
    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "paddle_cnn", pkg / "paddle_cnn", ignore=shutil.ignore_patterns("__pycache__"))
    config = pkg / "paddle_cnn" / "training" / "config.py"
    src = config.read_text()
    anchor = re.search(r"\n    seed: int = 0[^\n]*\n", src)
    assert anchor, "the seed setting moved: update this test's anchor"
    config.write_text(src[:anchor.end()] + "    clip_grad_norm: float | None = None  # added by the test\n"
                      + src[anchor.end():])
    committed = sorted({(e, seeds) for nb in COMMITTED_EXECUTED
                        for e, (seeds, _) in committed_headers(nb).items()})
    env = {**os.environ, "PYTHONPATH": str(pkg)}
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(DATA), json.dumps(committed)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    new = json.loads(r.stdout.strip().splitlines()[-1])
    assert new["field"] is None and new["used"] == 1.0  # the copy has the field, and a used setting is identity
    today = {f"{e} {p}": {q.key: q.fingerprint for q in plan_experiment(e, p, 2)} for e in EXPERIMENTS
             for p in PROFILES}
    assert new["plans"] == today
    for nb in COMMITTED_EXECUTED:
        for exp, (seeds, shown) in committed_headers(nb).items():
            assert new["notebooks"][f"{exp} {seeds}"] == shown, f"{nb}: {exp}'s plans are not the committed ones"


def test_the_identity_holds_the_settings_that_differ_from_their_defaults():
    """What is hashed: the schema version and the settings a run changed (a new default-valued setting adds
    nothing); speed-only settings never."""
    from paddle_cnn.training.config import TrainConfig
    assert set(TrainConfig().identity()) == {"schema"}
    assert TrainConfig(lr=0.01, epochs=3).identity() == {"schema": TrainConfig().identity()["schema"], "lr": 0.01,
                                                         "epochs": 3}
    assert TrainConfig(lr=0.001).identity() == TrainConfig().identity()  # its default, given by hand
    assert TrainConfig(threads=1, eval_batch_size=7).identity() == TrainConfig().identity()


def _copy_embedded(dest: pathlib.Path) -> pathlib.Path:
    from paddle_cnn.data import embedded_dir
    shutil.copytree(embedded_dir(), dest / "mnist-5k")
    return dest


def test_changed_data_is_another_plan(tmp_path):
    """The same files give the same fingerprints; one changed label under data/ gives others: reuse trains the run
    again saying the data changed, --resume refuses (nothing changed), the dry run's fingerprints move."""
    from paddle_cnn.data.mnist import read_idx, write_idx
    data = _copy_embedded(tmp_path / "data")
    kw = dict(data_dir=str(data), logdir=str(tmp_path / "logs"), progress=False)
    before = {p.key: p.fingerprint for p in resolve_plans("pool-vs-stride", "smoke", 1, str(data), log=print)}
    assert before == {p.key: p.fingerprint for p in resolve_plans("pool-vs-stride", "smoke", 1,
                                                                  str(_copy_embedded(tmp_path / "again")))}
    first = run_experiment("pool-vs-stride", "smoke", seeds=1, **kw, log=lambda *a: None)
    labels_file = data / "mnist-5k" / "t10k-labels-idx1-ubyte.gz"
    labels = read_idx(str(labels_file)).copy()
    labels[0] = (labels[0] + 1) % 10
    write_idx(str(labels_file), labels)
    after = {p.key: p.fingerprint for p in resolve_plans("pool-vs-stride", "smoke", 1, str(data), log=print)}
    assert set(after) == set(before) and not set(after.values()) & set(before.values())
    results = tmp_path / "logs" / "pool-vs-stride" / "results.json"
    saved = results.read_bytes()
    with pytest.raises(ValueError, match="the data changed"):
        run_experiment("pool-vs-stride", "smoke", seeds=1, resume=True, **kw, log=lambda *a: None)
    assert results.read_bytes() == saved
    lines = []
    again = run_experiment("pool-vs-stride", "smoke", seeds=1, reuse=True, **kw, log=lines.append)
    assert not [l for l in lines if "reused, not retrained" in l]
    assert sorted({l.split(":")[0] for l in lines if "the data changed" in l}) == ["lenet-s0", "lenet_nopool-s0"]
    assert {r["run"]: r["fingerprint"] for r in again["runs"]} == after
    assert {r["run"]: r["fingerprint"] for r in first["runs"]} == before
    lines = []
    run_experiment("pool-vs-stride", "smoke", seeds=1, reuse=True, **kw, log=lines.append)
    assert sorted(l.split(":")[0] for l in lines if "reused, not retrained" in l) == ["lenet-s0", "lenet_nopool-s0"]


def test_the_data_digest_is_of_what_was_read():
    """Independent of the code under test: sha256 over each split's header line, image bytes and int64 labels,
    written here from the format's description, equals the digest."""
    import hashlib

    import numpy as np

    from paddle_cnn.data import load_dataset
    from paddle_cnn.data.common import data_digest
    splits = load_dataset("mnist-5k", str(DATA))
    h = hashlib.sha256()
    for name in ("test", "train"):
        s = splits[name]
        h.update(f"{name} |u1 {tuple(s.images.shape)} {[str(i) for i in range(10)]}\n".encode())
        h.update(s.images.tobytes())
        h.update(s.labels.astype(np.int64).tobytes())
    assert data_digest(splits) == h.hexdigest()[:16]


def _cli(logdir, *extra):
    """`paddle-cnn run pool-vs-stride --profile smoke --seeds 1` in a subprocess, as a user types it."""
    env = dict(os.environ, PADDLE_CNN_PROFILE="smoke")
    return subprocess.run([sys.executable, "-m", "paddle_cnn", "run", "pool-vs-stride", "--profile", "smoke",
                           "--seeds", "1", "--logdir", str(logdir), "--data-dir", str(DATA), *extra],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)


def test_set_overrides_are_runs_of_their_own_beside_the_articles(tmp_path):
    """`--set lr=0.01 --set epochs=3` next to the default run: two sets of results, neither overwritten; the
    overridden one trains with those settings (read back from its runs and VisualDL's records), its results
    header and dry run name the overrides; a second default run reuses its own runs, --retrain trains them again."""
    from visualdl import LogReader
    first = _cli(tmp_path)
    assert first.returncode == 0, first.stderr
    plain = tmp_path / "pool-vs-stride" / "results.json"
    before = plain.read_bytes()
    dry = _cli(tmp_path, "--set", "lr=0.01", "--set", "epochs=3", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "overridden: lr=0.01, epochs=3" in dry.stdout and "pool-vs-stride+lr=0.01+epochs=3/" in dry.stdout
    varied = _cli(tmp_path, "--set", "lr=0.01", "--set", "epochs=3")
    assert varied.returncode == 0, varied.stderr
    assert plain.read_bytes() == before  # the article's results untouched
    folder = tmp_path / "pool-vs-stride+lr=0.01+epochs=3"
    res = json.loads((folder / "results.json").read_text())
    assert res["overrides"] == {"lr": 0.01, "epochs": 3}
    assert {r["settings"]["lr"] for r in res["runs"]} == {0.01} and {r["epochs"] for r in res["runs"]} == {3}
    assert {r["settings"]["lr"] for r in json.loads(before)["runs"]} == {0.001}
    reader = LogReader(file_path=str(next((folder / "lenet-s0").glob("vdlrecords.*"))))
    assert [round(x.value, 6) for x in reader.get_data("scalar", "lr")][:1] == [0.01]
    md = (folder / "results.md").read_text()
    assert "overridden: lr=0.01, epochs=3" in md
    # one meaning for every command: the same command again reuses what finished (saying so per run), --retrain
    # trains afresh, --resume with --retrain contradicts itself
    again = _cli(tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(l.split(":")[0] for l in again.stdout.splitlines() if "reused, not retrained" in l) == \
        ["lenet-s0", "lenet_nopool-s0"]
    assert json.loads(plain.read_bytes())["runs"] == json.loads(before)["runs"]
    fresh = _cli(tmp_path, "--retrain")
    assert fresh.returncode == 0 and "reused" not in fresh.stdout
    both = _cli(tmp_path, "--resume", "--retrain")
    assert both.returncode == 2 and "--resume and --retrain contradict" in both.stderr


@pytest.mark.parametrize("items, expected", [
    (["lr=0.01"], {"lr": 0.01}),
    (["epochs=5", "optimizer=sgd"], {"epochs": 5, "optimizer": "sgd"}),
    (["augment=crop,flip"], {"augment": ["crop", "flip"]}),
    (["augment=flip"], {"augment": ["flip"]}),
    (["milestones=3,6"], {"milestones": [3, 6]}),
    (["threads=none", "amp=true"], {"threads": None, "amp": True}),
    (["train_subset=500"], {"train_subset": 500}),
])
def test_set_values_are_read_as_a_user_types_them(items, expected):
    from paddle_cnn.cli import parse_overrides
    assert parse_overrides(items) == expected


@pytest.mark.parametrize("items, message", [
    (["lrr=0.1"], "unknown setting to override 'lrr': did you mean lr"),
    (["lr=-1"], "lr must be a positive number, got -1"),
    (["lr"], "--set 'lr': write KEY=VALUE"),
    (["seed=3"], "the seeds are --seeds K"),
    (["optimizer=adamw"], "unknown optimizer 'adamw'"),
    (["train_subset=0"], "train_subset must be a positive integer"),
])
def test_a_bad_set_is_one_line_exit_2_before_anything_runs(tmp_path, capsys, items, message):
    from paddle_cnn.cli import main
    args = [a for item in items for a in ("--set", item)]
    assert main(["run", "pool-vs-stride", "--profile", "smoke", "--logdir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not list(tmp_path.iterdir())


def test_a_notebook_varies_its_experiment_through_overrides(tmp_path):
    """OVERRIDES in the parameters cell, as papermill (or a user) sets it: the notebook says so, trains with it in
    a folder of its own, and the results header names it."""
    from test_notebook_outputs import execute, outputs
    nb = execute("03_pool_vs_stride2_mnist", PROFILE="smoke", LOGDIR=str(tmp_path), OVERRIDES={"lr": 0.005})
    text = "\n".join(str(o.get("text", "")) + json.dumps(o.get("data", {})) for o in outputs(nb))
    assert "OVERRIDDEN: lr=0.005" in text and "overridden: lr=0.005" in text
    res = json.loads((tmp_path / "pool-vs-stride+lr=0.005" / "results.json").read_text())
    assert res["overrides"] == {"lr": 0.005} and {r["settings"]["lr"] for r in res["runs"]} == {0.005}
    assert not (tmp_path / "pool-vs-stride").exists()


def test_overridden_epochs_scale_the_schedule_and_overridden_milestones_are_literal():
    """vgg16-cifar10 decays every 100 of its 200 epochs: --set epochs=20 under full decays every 10 (as a profile's
    epochs do), --set decay_epochs=3 is taken as given; tricks-caltech16's lr-decay run divides at 20 and 40 of 60:
    epochs=6 gives 2 and 4, milestones=1,5 stay 1 and 5. Worked out by hand."""
    from paddle_cnn.experiments.plans import TrainPlan, plan_experiment

    def config(exp, label, **overrides):
        return next(p.config for p in plan_experiment(exp, "full", 1, overrides)
                    if isinstance(p, TrainPlan) and p.label.startswith(label))
    assert config("vgg16-cifar10", "vgg16_cifar").decay_epochs == 100
    assert config("vgg16-cifar10", "vgg16_cifar", epochs=20).decay_epochs == 10
    assert config("vgg16-cifar10", "vgg16_cifar", epochs=20, decay_epochs=3).decay_epochs == 3
    decayed = next(p.label for p in plan_experiment("tricks-caltech16", "full", 1)
                   if isinstance(p, TrainPlan) and p.config.milestones)
    assert config("tricks-caltech16", decayed).milestones == (20, 40)
    assert config("tricks-caltech16", decayed, epochs=6).milestones == (2, 4)
    assert config("tricks-caltech16", decayed, epochs=6, milestones=(1, 5)).milestones == (1, 5)


def test_the_ctrl_c_hint_under_make_demo_names_make_demo(tmp_path, monkeypatch, capsys):
    """`make demo` stopped by Ctrl-C: the hint names the command that continues it, which reuses what finished."""
    import paddle_cnn.experiments.runner as runner
    from paddle_cnn.cli import main

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "run_experiment", interrupted)
    monkeypatch.setenv("PADDLE_CNN_RERUN", "make demo")
    assert main(["run", "pool-vs-stride", "--profile", "smoke", "--logdir", str(tmp_path)]) == 130
    assert "rerun `make demo` to continue (finished runs are reused)" in capsys.readouterr().err
    monkeypatch.delenv("PADDLE_CNN_RERUN")
    assert main(["run", "pool-vs-stride", "--profile", "smoke", "--logdir", str(tmp_path)]) == 130
    assert f"rerun `paddle-cnn run pool-vs-stride --profile smoke --logdir {tmp_path}` to continue" in \
        capsys.readouterr().err  # the command as typed
    assert 'PADDLE_CNN_RERUN="make demo"' in (ROOT / "Makefile").read_text()


def test_what_differs_is_named_for_runs_of_older_versions_and_changed_data():
    """A checkpoint or result written before this identity (every setting hashed, no data digest) is named as
    such, not as a list of settings that did not change; a changed digest says the data changed; a default written
    out on one side is no difference."""
    from paddle_cnn.training.identity import differences
    old = {"run": "lenet", "data": {"name": "mnist-5k"}, "config": {"epochs": 15, "lr": 0.001, "optimizer": "adam"}}
    new = {"run": "lenet", "data": {"name": "mnist-5k", "digest": "abc"}, "config": {"schema": 2, "epochs": 15}}
    assert differences(old, new) == ["written before runs carried their data's digest",
                                     "written by an older paddle-cnn (identity schema 1 there, 2 here)"]
    assert differences({**new, "data": {"name": "mnist-5k", "digest": "x"}}, new) == \
        ["the data changed (digest x there, abc here)"]
    assert differences(new, {**new, "config": {"schema": 2, "epochs": 15, "lr": 0.01}}) == \
        ["lr 0.001 there, 0.01 here"]


def _files(*folders) -> dict:
    """Every file under the folders, by path, with its bytes."""
    out = {}
    for folder in folders:
        for p in sorted(pathlib.Path(folder).rglob("*")):
            if p.is_file():
                out[str(p)] = p.read_bytes()
    return out


def _scalars(folder, tag="train/loss") -> list:
    """(epoch, value) of a tag in a run folder's VisualDL records, through VisualDL's own reader."""
    from visualdl import LogReader
    from paddle_cnn.training import vdl_records
    points = []
    for f in vdl_records.records_files(str(folder)):
        points += [(int(r.id), round(r.value, 6)) for r in LogReader(file_path=f).get_data("scalar", tag)]
    return sorted(points)


def test_a_finished_run_is_replaced_only_when_its_replacement_finishes(tmp_path, monkeypatch, capsys):
    """--retrain killed in the middle of its second run (the first one replaced): that run's checkpoint, VisualDL
    records and results row are byte for byte what they were (results.json agrees with its records); rerun, the
    replacement continues where it stopped, moves in when it finishes and leaves no '.next' folder; the dashboard
    has each epoch once."""
    import paddle_cnn.experiments.runner as runner
    from paddle_cnn.cli import main
    from paddle_cnn.training import Callback
    quiet = dict(log=lambda m: None, progress=False)
    first = run_experiment("pool-vs-stride", "smoke", 1, logdir=str(tmp_path), **quiet)
    folder = tmp_path / "pool-vs-stride"
    run, ckpts = folder / "lenet_nopool-s0", folder / "_checkpoints" / "lenet_nopool-s0"
    before, rows = _files(run, ckpts), first["runs"]
    assert [r["run"] for r in rows] == ["lenet-s0", "lenet_nopool-s0"]

    class Kill(Callback):
        order = 99  # after the epoch's checkpoint and records

        def on_epoch_end(self, state):
            if state.epoch == 1 and state.name == "lenet_nopool-s0":
                raise KeyboardInterrupt
    callbacks = runner.run_callbacks
    with monkeypatch.context() as m:
        m.setattr(runner, "run_callbacks", lambda *a: [*callbacks(*a), Kill()])
        argv = ["run", "pool-vs-stride", "--profile", "smoke", "--seeds", "1", "--logdir", str(tmp_path), "--retrain"]
        assert main(argv) == 130
    err = capsys.readouterr().err
    assert "finished runs not yet replaced are kept as they were" in err and "--retrain" in err
    assert _files(run, ckpts) == before
    kept = json.loads((folder / "results.json").read_text())["runs"]
    assert [r["run"] for r in kept] == ["lenet-s0", "lenet_nopool-s0"] and kept[1] == rows[1]
    assert (folder / "_checkpoints" / "lenet_nopool-s0.next" / "epoch-0001").is_dir()
    assert not (folder / "_checkpoints" / "lenet-s0.next").exists()  # the first replacement moved in

    logs = []
    again = run_experiment("pool-vs-stride", "smoke", 1, logdir=str(tmp_path), resume=False, reuse=False,
                           log=logs.append, progress=False)
    assert any("resuming lenet_nopool-s0 after epoch 1" in l and ".next" in l for l in logs), logs
    assert not list(folder.rglob("*.next")) and not list(folder.rglob(".tmp-*"))
    assert _files(run, ckpts) != before  # replaced ...
    assert [r["test_acc"] for r in again["runs"]] == [r["test_acc"] for r in rows]  # ... by the same plan's result
    assert [e for e, _ in _scalars(run)] == [1, 2] and _scalars(run) == sorted(set(_scalars(run)))
    assert [r["epochs"] for r in again["runs"]] == [2, 2]


def test_a_swap_cut_by_a_crash_is_settled_at_the_next_start(tmp_path):
    from paddle_cnn import files
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "f").write_text("new")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "f").write_text("old")
    os.rename(tmp_path / "run", tmp_path / (files.REPLACED + "run"))  # cut after the first rename
    files.settle_replaced(str(tmp_path))
    assert (tmp_path / "run" / "f").read_text() == "old" and not list(tmp_path.glob(files.REPLACED + "*"))
    files.replace_dir(str(tmp_path / "new"), str(tmp_path / "run"))
    assert (tmp_path / "run" / "f").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["run"]
    # cut after the second: the replacement is in place, the old one is removed
    (tmp_path / (files.REPLACED + "run")).mkdir()
    files.settle_replaced(str(tmp_path))
    assert (tmp_path / "run" / "f").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["run"]
    # a link in the way is renamed or removed, never followed
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (tmp_path / "new2").mkdir()
    os.symlink(outside, tmp_path / "link")
    files.replace_dir(str(tmp_path / "new2"), str(tmp_path / "link"))
    assert (outside / "keep").read_text() == "x" and (tmp_path / "link").is_dir() and not (tmp_path / "link").is_symlink()
