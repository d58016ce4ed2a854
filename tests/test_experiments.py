"""Experiments as data, the runner's files and the run/report CLI."""
import json
import os
import re
import pathlib

import pytest

from paddle_cnn.cli import main
from paddle_cnn.experiments import EXPERIMENTS, PROFILES
from paddle_cnn.experiments.plans import train_settings
from paddle_cnn.models import list_models
from paddle_cnn.experiments.runner import run_experiment

CONTRACT = {"layer-arithmetic", "bn-ablation", "lenet-mnist", "alexnet-mnist", "pool-vs-stride", "classic-caltech16",
            "tricks-caltech16", "vgg16-cifar10"}


def test_experiment_names_runs_and_claims_are_well_formed():
    assert set(EXPERIMENTS) == CONTRACT
    for e in EXPERIMENTS.values():
        assert set(e.profiles) == set(PROFILES), e.name
        labels = [r.name for r in e.runs]
        assert len(labels) == len(set(labels)), e.name
        for r in e.runs:
            assert r.model in list_models(), (e.name, r.model)
            for p in PROFILES.values():
                config, data = train_settings(e, r, p)
                assert config.epochs >= 1 and data["dataset"], (e.name, p)
        for c in e.claims:
            assert c.source and "http" in c.source or c.source.startswith(("LeNet", "聊聊")), (e.name, c.text)
            assert c.run in labels and (not c.than or c.than in labels), (e.name, c.text)


def test_bn_ablation_smoke_writes_one_entry_per_run_and_seed(tmp_path):
    res = run_experiment("bn-ablation", "smoke", seeds=2, data_dir=str(tmp_path / "nodata"), logdir=str(tmp_path),
                         progress=False, log=lambda *a: None)
    folder = tmp_path / "bn-ablation"
    on_disk = json.loads((folder / "results.json").read_text())
    assert sorted(r["run"] for r in on_disk["runs"]) == ["convpool3-s0", "convpool3-s1", "convpool3_bn-s0",
                                                        "convpool3_bn-s1"]
    for r in on_disk["runs"]:
        assert {"run", "model", "seed", "params", "epochs", "test_acc", "train_seconds", "history"} <= set(r)
        assert len(r["history"]["eval_acc"]) == r["epochs"] == 2
    assert any("generated files in the real format" in n for n in on_disk["notes"])
    from paddle_cnn.experiments.report import summarize
    assert {r["train_images"] for r in on_disk["runs"]} == {200} and {r["test_images"] for r in on_disk["runs"]} == {60}  # the generated test batch: 60 images
    assert {row["images"] for row in summarize(on_disk)} == {"200 train / 60 test"}
    weights = next(c for c in on_disk["claims"] if c["metric"] == "weights")
    assert weights["ours"] == 89_500 and weights["verdict"] == "reproduced"
    own = [c for c in on_disk["claims"] if c["metric"] not in ("weights", "")]  # '': claims judged elsewhere
    assert own and {c["verdict"] for c in own} == {"not comparable at this profile"}
    for f in ("results.md", "curves.png", "final.png"):
        assert (folder / f).stat().st_size > 0
    assert len([d for d in os.listdir(folder) if d.startswith("convpool3")]) == 4  # one VisualDL folder per run
    from visualdl import LogReader  # the run list as VisualDL's dashboard serves it (its run names are cut at the
    from visualdl.server.lib import get_runs  # end): every run and seed tells apart in its first 16 characters
    reader = LogReader(logdir=str(tmp_path))
    reader.load_new_data()
    runs = get_runs(reader)
    assert len(runs) == 4 and len({r[:16] for r in runs}) == 4, runs
    assert all(r.endswith("· bn-ablation") for r in runs)  # unique beside the same runs of other experiments
    assert res["profile"] == "smoke"


def test_resume_keeps_finished_runs_and_report_rebuilds(tmp_path, capsys):
    kw = dict(data_dir=None, logdir=str(tmp_path), progress=False, log=lambda *a: None)
    first = run_experiment("pool-vs-stride", "smoke", seeds=1, **kw)
    lines = []
    again = run_experiment("pool-vs-stride", "smoke", seeds=1, resume=True, **{**kw, "log": lines.append})
    assert [r["test_acc"] for r in again["runs"]] == [r["test_acc"] for r in first["runs"]]
    assert any("finished earlier with the same plan" in l for l in lines)
    (tmp_path / "pool-vs-stride" / "results.md").unlink()
    saved = tmp_path / "pool-vs-stride" / "results.json"
    stale = json.loads(saved.read_text())
    for c in stale["claims"]:
        c["verdict"] = "stale"  # an older rule's verdicts: `report` rewrites them in both files
    saved.write_text(json.dumps(stale))
    assert main(["report", "pool-vs-stride", "--logdir", str(tmp_path)]) == 0
    md = (tmp_path / "pool-vs-stride" / "results.md").read_text()
    assert "LeNet has 61,706 parameters" in md and "stale" not in md
    from paddle_cnn.experiments.verdicts import rules_markdown
    assert rules_markdown() in md  # the rules at the foot of every results.md
    docs = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "experiments.md").read_text(encoding="utf-8")
    assert rules_markdown().split("\n", 2)[2] in docs  # ... and in the docs, word for word
    assert [c["verdict"] for c in json.loads(saved.read_text())["claims"]] == [c["verdict"] for c in again["claims"]]
    assert main(["run", "pool-vs-stride", "--profile", "smoke", "--seeds", "1", "--resume", "--logdir",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out.split("\n\n", 1)[1]  # the end summary: what was judged, where the rest is
    judged = [c for c in again["claims"] if not c["verdict"].startswith("judged in")
              and c["verdict"] != "not judged here"]
    lines = out.splitlines()
    assert judged and all(any(line.strip().split("  ")[0] == c["verdict"] and c["text"][:30] in line
                              for line in lines) for c in judged), out
    assert f"claims judged here: {len(judged)} of {len(again['claims'])}" in out
    assert "results.md" in lines[-2] and all(len(line) <= 100 for line in lines[:-2])  # [-2:]: the tmp paths


def test_layer_arithmetic_experiment(tmp_path):
    res = run_experiment("layer-arithmetic", "smoke", logdir=str(tmp_path), log=lambda *a: None)
    rows = {r["model"]: r for r in res["models"]}
    assert set(rows) == set(list_models())
    # against hand arithmetic: LeNet (article 002) and VGG16 at 10 classes (138,357,544 at 1000, minus 990 x 4097)
    assert (rows["lenet"]["params"], rows["lenet"]["macs"]) == (61_706, 416_520)
    assert rows["vgg16"]["params"] == 138_357_544 - 990 * 4097 and rows["vgg16"]["input"] == "3x224x224"
    verdicts = {c["text"]: c["verdict"] for c in res["claims"]}
    assert verdicts["conv1 parameters 11*11*3*96+96 = 34,848"] == "not reproduced"
    assert verdicts["total weights without bias"] == "reproduced"


@pytest.mark.parametrize("argv,needle", [
    (["run", "pool-vs-strid"], "unknown experiment 'pool-vs-strid': did you mean pool-vs-stride"),
    (["run", "pool-vs-stride", "--profile", "quik"], "unknown profile 'quik': did you mean quick"),
    (["run", "pool-vs-stride", "--seeds", "0"], "--seeds must be a positive integer, got 0"),
    (["run", "pool-vs-stride", "--seeds", "-2"], "--seeds must be a positive integer, got -2"),
    (["run", "pool-vs-stride", "--seeds", "two"], "argument --seeds: invalid int value: 'two'"),
    (["run", "bn-ablation", "--profile", "quick", "--data-dir", "EMPTY"], "cifar-10-python.tar.gz"),
    (["run", "lenet-mnist", "--profile", "full", "--data-dir", "EMPTY"],
     "train-images-idx3-ubyte.gz is missing; run `paddle-cnn data mnist` to download it"),
    (["report", "bn-ablation", "--logdir", "/nonexistent-dir"], "results.json is missing; run `paddle-cnn run"),
])
def test_run_bad_input_one_line(capsys, argv, needle, tmp_path):
    """One line naming the problem, exit 2, and nothing written to the log folder."""
    (tmp_path / "empty").mkdir()
    argv = [str(tmp_path / "empty") if a == "EMPTY" else a for a in argv]
    logs = tmp_path / "logs"
    if argv[0] == "run":
        argv += ["--logdir", str(logs)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert needle in err and err.count("\n") == 1, err
    assert not logs.exists() or not any(logs.rglob("*")), list(logs.rglob("*"))


def test_unwritable_logdir_is_refused_before_training(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "pool-vs-stride").write_text("a file where a folder should be")
    assert main(["run", "pool-vs-stride", "--profile", "smoke", "--logdir", str(ro)]) == 2
    assert "cannot write to" in capsys.readouterr()[1]


def test_second_run_on_the_same_folder_is_refused(tmp_path):
    from paddle_cnn.experiments.runner import RunLock
    folder = tmp_path / "pool-vs-stride"
    folder.mkdir()
    with RunLock(str(folder)):
        with pytest.raises(ValueError, match="another run is using .* \\(locked\\)"):
            run_experiment("pool-vs-stride", "smoke", 1, logdir=str(tmp_path), log=lambda *a: None)
    assert not (folder / "results.json").exists()


def test_reuse_keeps_runs_of_the_same_plans_and_retrains_changed_ones(tmp_path, monkeypatch):
    """The notebooks' default (RETRAIN = False): finished runs of unchanged plans are reused and said so; a run
    whose plan changed (here its learning rate) is trained again, saying what changed; new seeds are trained."""
    import dataclasses
    kw = dict(data_dir=None, logdir=str(tmp_path), progress=False)
    first = run_experiment("pool-vs-stride", "smoke", seeds=1, **kw, log=lambda *a: None)
    import time
    time.sleep(1.1)  # a later second on the clock
    lines = []
    more = run_experiment("pool-vs-stride", "smoke", seeds=2, reuse=True, **kw, log=lines.append)
    assert more["started"] == first["started"]  # when the kept runs began, not when they were reused
    assert not [n for n in first["notes"] if n.startswith("quick:")]  # the quick profile's note is not smoke's
    reused = [l for l in lines if "reused, not retrained" in l]
    assert sorted(l.split(":")[0] for l in reused) == ["lenet-s0", "lenet_nopool-s0"]
    assert sorted(r["run"] for r in more["runs"]) == ["lenet-s0", "lenet-s1", "lenet_nopool-s0", "lenet_nopool-s1"]
    assert {r["run"]: r["test_acc"] for r in more["runs"] if r["seed"] == 0} == \
        {r["run"]: r["test_acc"] for r in first["runs"]}
    exp = EXPERIMENTS["pool-vs-stride"]
    monkeypatch.setitem(EXPERIMENTS, "pool-vs-stride", dataclasses.replace(exp, train={**exp.train, "lr": 2e-3}))
    lines = []
    changed = run_experiment("pool-vs-stride", "smoke", seeds=2, reuse=True, **kw, log=lines.append)
    assert not [l for l in lines if "reused, not retrained" in l]
    assert any(l.startswith("lenet-s0: the earlier result came from another plan") and "lr" in l for l in lines)
    assert all(r["settings"]["lr"] == 2e-3 for r in changed["runs"]) and len(changed["runs"]) == 4
    on_disk = json.loads((tmp_path / "pool-vs-stride" / "results.json").read_text())
    assert sorted(on_disk["plans_done"]) == sorted(r["run"] for r in changed["runs"])
    # a finished run of the same plan whose model today's code builds differently (a builder default changed:
    # here its recorded parameter count) is not reused: it is trained again, saying why
    for r in on_disk["runs"]:
        if r["run"] == "lenet-s0":
            r["params"] += 1
    (tmp_path / "pool-vs-stride" / "results.json").write_text(json.dumps(on_disk))
    lines = []
    again = run_experiment("pool-vs-stride", "smoke", seeds=2, reuse=True, **kw, log=lines.append)
    assert [l.split(":")[0] for l in lines if "reused, not retrained" in l] == ["lenet-s1", "lenet_nopool-s0",
                                                                                "lenet_nopool-s1"]
    assert any(l.startswith("lenet-s0: the earlier result came from another version of lenet") for l in lines)
    assert {r["run"]: r["params"] for r in again["runs"]}["lenet-s0"] == 61_706


def test_a_smoke_run_of_the_cli_goes_to_the_smoke_folder_not_over_real_results(tmp_path, monkeypatch, capsys):
    """`paddle-cnn run EXP --profile smoke` without --logdir writes smoke-logs/EXP, as the notebooks do: a smoke
    run never replaces the quick or full results in logs/EXP (once it overwrote the demo's), and nothing of it is
    under logs/, which the user's VisualDL reads."""
    from paddle_cnn import places
    monkeypatch.setattr(places, "checkout", lambda: str(tmp_path))
    monkeypatch.delenv("PADDLE_CNN_PROFILE", raising=False)
    real = tmp_path / "logs" / "pool-vs-stride"
    real.mkdir(parents=True)
    (real / "results.json").write_text('{"kept": true}')
    assert main(["run", "pool-vs-stride", "--profile", "smoke", "--seeds", "1", "--data-dir",
                 str(pathlib.Path(__file__).resolve().parent.parent / "data")]) == 0
    assert json.loads((real / "results.json").read_text()) == {"kept": True}
    assert json.loads((tmp_path / "smoke-logs" / "pool-vs-stride" / "results.json").read_text())["profile"] \
        == "smoke"
    assert sorted(p.name for p in (tmp_path / "logs").rglob("*")) == ["pool-vs-stride", "results.json"]
    assert "smoke-logs/pool-vs-stride" in capsys.readouterr().out
    from visualdl import LogReader  # the run list VisualDL's dashboard shows for `visualdl --logdir logs`
    from visualdl.server.lib import get_runs
    for folder, expected in (("logs", []), ("smoke-logs", ["lenet s0 · pool-vs-stride",
                                                           "lenet_nopool s0 · pool-vs-stride"])):
        reader = LogReader(logdir=str(tmp_path / folder))
        reader.load_new_data()
        assert sorted(get_runs(reader)) == expected, folder


def test_a_run_leaves_group_readable_files_and_no_lock(tmp_path):
    """Through the CLI under umask 022: every file a run writes (results, plots, VisualDL records, checkpoints)
    is 0644 and every folder 0755, as the user's other files; the lock file is gone when the run ends; a lock
    taken after the removal still keeps a second run out."""
    import stat
    import subprocess
    import sys
    from paddle_cnn.experiments.runner import RunLock
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, PADDLE_CNN_PROFILE="smoke")
    proc = subprocess.run(["/bin/sh", "-c", f"umask 022 && exec {sys.executable} -m paddle_cnn run pool-vs-stride "
                           f"--seeds 1 --logdir {tmp_path}"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "pool-vs-stride"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"results.json", "results.md", "final.png", "latest.json"}
    assert any(p.name.startswith("vdlrecords.") for p in files) and any(p.suffix == ".safetensors" for p in files)
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in folder.rglob("*")}
    assert {m for p, m in modes.items() if (tmp_path / p).is_file()} == {"0o644"}, modes
    assert {m for p, m in modes.items() if (tmp_path / p).is_dir()} == {"0o755"}, modes
    assert not (folder / ".lock").exists()
    with RunLock(str(folder)):
        assert (folder / ".lock").exists()
        with pytest.raises(ValueError, match="locked"):
            RunLock(str(folder)).__enter__()
    assert not (folder / ".lock").exists()


def test_train_seconds_of_a_resumed_run_count_every_segment(tmp_path, monkeypatch):
    """Killed after epoch 2 of 3 and resumed: the run's train_seconds covers all 3 epochs (a verdict on training
    time reads it), not the resumed epoch alone. Wall times measured here around each segment bound it."""
    import time

    from paddle_cnn.data import load_dataset
    from paddle_cnn.experiments import runner
    from paddle_cnn.experiments.plans import DataSpec, TrainPlan
    from paddle_cnn.training import Callback
    from paddle_cnn.training.config import TrainConfig

    class Kill(Callback):
        order = 99  # after the checkpoint of the epoch

        def on_epoch_end(self, state):
            if state.epoch == 2:
                raise SystemExit("killed")
    splits = load_dataset("mnist-5k")
    plan = TrainPlan("pool-vs-stride", "smoke", "lenet", 0, "lenet", {}, DataSpec("mnist-5k", 2000, 100),
                     TrainConfig(epochs=3, batch_size=32, lr=1e-3))
    folder = tmp_path / "pool-vs-stride"
    folder.mkdir()
    callbacks = runner.run_callbacks

    def own(go_on):  # the run's own folders, continuing the checkpoint there or not
        return runner.own_place(str(folder), plan, go_on)
    with monkeypatch.context() as m:
        m.setattr(runner, "run_callbacks", lambda *a: [*callbacks(*a), Kill()])
        t0 = time.perf_counter()
        with pytest.raises(SystemExit):
            runner.train(plan, str(folder), splits, own(False), False, lambda *a: None)
        first = time.perf_counter() - t0
    t0 = time.perf_counter()
    row = runner.train(plan, str(folder), splits, own(True), False, lambda *a: None)
    second = time.perf_counter() - t0
    assert row["epochs"] == 3
    assert 1.5 * second < row["train_seconds"] <= first + second  # two epochs before the kill, one after


def test_step_timing_alternates_the_models_and_reads_their_cost_per_step():
    """Two models whose steps differ by a known 20 ms (a sleep in one's forward): the order of the steps (one untimed
    step each, then rounds in alternating order) read off the forward calls, and the cost read back as the sleep."""
    import time

    import paddle
    import paddle.nn as nn

    from paddle_cnn.experiments.timing import alternating_train_steps
    calls = []

    class Net(nn.Layer):
        def __init__(self, name, sleep):
            super().__init__()
            self.fc, self.tag, self.sleep = nn.Linear(16, 3), name, sleep

        def forward(self, x):
            calls.append(self.tag)
            time.sleep(self.sleep)
            return self.fc(paddle.flatten(x, 1))
    seconds = alternating_train_steps({"fast": Net("fast", 0.0), "slow": Net("slow", 0.02)}, (1, 4, 4), 8,
                                      rounds=3, steps=2, num_classes=3, log=lambda m: None)
    # (before the steps, each model may be run once more to count its MACs for the thread choice)
    assert calls[-14:] == ["fast", "slow"] + ["fast"] * 2 + ["slow"] * 4 + ["fast"] * 4 + ["slow"] * 2
    assert calls[:-14] in ([], ["fast", "slow"])
    assert [len(s) for s in seconds.values()] == [3, 3]
    assert all(s >= 0.02 for s in seconds["slow"]), seconds  # the sleep is a floor of each slow step
    extra = sorted(s - f for s, f in zip(seconds["slow"], seconds["fast"]))
    assert 0.01 < extra[1] < 0.05, seconds  # the median round's cost is the sleep (a busy machine adds noise)


def test_the_lrn_cost_claim_has_a_step_timing_of_both_alexnets_in_every_profile():
    from paddle_cnn.experiments.plans import StepTimingPlan, plan_experiment
    for profile in PROFILES:
        plans = plan_experiment("alexnet-mnist", profile, 1)
        (timing,) = [p for p in plans if isinstance(p, StepTimingPlan)]
        runs = {p.label: p for p in plans if getattr(p, "label", None)}
        assert [p.label for p in timing.runs] == ["alexnet", "alexnet_lrn"]
        assert [p.model_kw for p in timing.runs] == [runs["alexnet"].model_kw, runs["alexnet_lrn"].model_kw]
        assert timing.runs[1].model_kw["lrn"] is True and timing.rounds >= 3
        # the two are timed at the same input and batch, so the ratio is the LRN's alone
        assert len({(p.config.input_size, p.config.in_channels, p.config.batch_size) for p in timing.runs}) == 1


def test_the_demo_terminal_fits_100_columns_and_ends_in_a_summary(tmp_path):
    """`paddle-cnn run pool-vs-stride` as `make demo` runs it (a subprocess, COLUMNS=100, a logs folder beside it):
    every line fits 100 terminal columns (a Chinese character takes two, counted here with unicodedata), each run's
    first line says which of how many it is, and the end is the summary: both networks with mean ± std, the claims
    judged here with their verdicts, the path of results.md and the VisualDL command."""
    import subprocess
    import sys
    import unicodedata
    root = pathlib.Path(__file__).resolve().parent.parent
    env = {**os.environ, "COLUMNS": "100", "PADDLE_CNN_PROFILE": "smoke"}
    proc = subprocess.run([sys.executable, "-m", "paddle_cnn", "run", "pool-vs-stride", "--seeds", "3", "--logdir",
                           "logs", "--data-dir", str(root / "data")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()

    def columns(line):
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
    assert [line for line in lines if columns(line) > 100] == []
    tags = [line.split("]")[0] + "]" for line in lines if line.startswith("[")]
    assert [t.split(",")[0].strip("[]") for t in tags] == [f"{k}/6" for k in range(1, 7)]
    assert "left]" in tags[-1]  # from the second network's first run on, the time left is known
    summary = proc.stdout[proc.stdout.index("\n\npool-vs-stride · smoke profile"):]
    assert "lenet " in summary and "lenet_nopool " in summary and " ± " in summary
    assert "claims judged here:" in summary and "reproduced" in summary
    assert lines[-2].startswith("results: logs/pool-vs-stride/results.md")
    assert re.match(r"curves:  (\.venv/bin/|/\S+/)?visualdl --logdir logs ", lines[-1]), lines[-1]
    assert len(summary.splitlines()) <= 25
