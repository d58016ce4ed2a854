"""The shape of the code, checked: short functions, one settings dataclass, profiles named in one module, plain
models, nothing set on import; and a run's identity: --resume continues only the same plan."""
import ast
import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from paddle_cnn.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "paddle_cnn"


def functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(ROOT), node


def test_no_function_over_60_lines_and_fit_is_short():
    long = [f"{p}:{f.lineno} {f.name} ({f.end_lineno - f.lineno + 1} lines)" for p, f in functions()
            if f.end_lineno - f.lineno + 1 > 60]
    assert long == []
    fit = next(f for p, f in functions() if f.name == "fit" and p.name == "loop.py")
    a = fit.args
    assert fit.end_lineno - fit.lineno + 1 <= 60
    assert len(a.posonlyargs + a.args + a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg) <= 8


def test_one_dataclass_holds_the_training_settings():
    from paddle_cnn.training import TrainConfig
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert {"epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "lr_schedule", "milestones",
            "gamma", "decay_epochs", "augment", "input_size", "in_channels", "amp", "threads", "seed"} <= fields
    source = (PACKAGE / "training" / "config.py").read_text(encoding="utf-8")
    for name in fields:  # every setting has its unit or meaning in a comment on its line
        line = next(l for l in source.splitlines() if l.strip().startswith(f"{name}:"))
        assert "#" in line, name
    with pytest.raises(ValueError, match="unknown training setting 'learning_rate'"):
        TrainConfig().replace(learning_rate=0.1)


def test_profile_names_appear_only_where_profiles_are_defined():
    from paddle_cnn.experiments.definitions import PROFILES
    where = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in PROFILES:
                where.add(path.relative_to(PACKAGE).as_posix())
    assert where == {"experiments/definitions.py"}


def test_models_are_plain_paddle_nn_and_do_not_know_the_device():
    for path in (PACKAGE / "models").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
            {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(m and ("device" in m or "training" in m) for m in imported), (path, imported)
    import paddle.nn as nn

    from paddle_cnn.models import create_model, list_models
    from paddle_cnn.training.cpu_kernels import FastConv2D, FastDropout
    for name in list_models():
        if name.startswith(("vgg", "cnn_", "googlenet", "alexnet")):
            continue  # the big ones: same builders as below
        types = {type(l) for l in create_model(name).sublayers()}
        assert not types & {FastConv2D, FastDropout} and nn.Conv2D in types, name


def test_importing_the_package_sets_nothing():
    """`import paddle_cnn` does not even import paddle (so it cannot set threads, device or seeds); the public
    names are there when used."""
    code = ("import sys, paddle_cnn; assert 'paddle' not in sys.modules, 'paddle imported'; "
            "assert {'fit', 'create_model', 'list_models', 'run_experiment', 'layer_table', 'load_dataset', "
            "'TrainConfig'} <= set(dir(paddle_cnn)); from paddle_cnn import fit, TrainConfig; print('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ,
                       PYTHONPATH=str(ROOT)), timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


@pytest.mark.parametrize("var,value", [("OMP_NUM_THREADS", "abc"), ("PADDLE_CNN_THREADS", "0"),
                                       ("OPENBLAS_NUM_THREADS", "many")])
def test_a_bad_thread_variable_is_one_line_exit_2(tmp_path, var, value):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PADDLE_CNN_PROFILE="smoke", **{var: value})
    env.pop("PADDLE_CNN_THREADS" if var == "OMP_NUM_THREADS" else "OMP_NUM_THREADS", None)
    run = [sys.executable, "-m", "paddle_cnn", "run", "pool-vs-stride", "--seeds", "1", "--logdir",
           str(tmp_path / "logs")]
    p = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 2, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "Traceback" not in p.stderr and last.startswith(f"paddle-cnn: error: {var}={value!r} is not a number")
    assert not (tmp_path / "logs").exists()  # refused before anything was written
    summary = subprocess.run([sys.executable, "-m", "paddle_cnn", "summary", "lenet"], capture_output=True,
                             text=True, env=env, timeout=120)
    assert summary.returncode == 2 and summary.stderr.strip().splitlines() == [last]
    listed = subprocess.run([sys.executable, "-m", "paddle_cnn", "list"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert listed.returncode == 0 and "lenet" in listed.stdout  # commands that use no threads are unaffected


@pytest.mark.parametrize("var,value,threads", [("OMP_NUM_THREADS", "2,1", 2), ("OMP_NUM_THREADS", "-2", None),
                                               ("PADDLE_CNN_THREADS", "abc", None), ("PADDLE_CNN_THREADS", "3", 3)])
def test_thread_variables_are_parsed_where_used(monkeypatch, var, value, threads):
    """OpenMP's nested '2,1' means 2; anything but a positive integer is one line naming the variable."""
    import paddle_cnn
    from paddle_cnn import device
    monkeypatch.delenv("PADDLE_CNN_THREADS", raising=False)
    monkeypatch.setattr(paddle_cnn, "USER_OMP_NUM_THREADS", None)
    if var == "OMP_NUM_THREADS":
        monkeypatch.setattr(paddle_cnn, "USER_OMP_NUM_THREADS", value)
    else:
        monkeypatch.setenv(var, value)
    if threads is None:
        with pytest.raises(ValueError, match=f"^{var}={value!r} is not a number of threads"):
            device.user_threads()
    else:
        assert device.user_threads() == threads


# ------------------------------------------------------------------------- a run's identity is its plan

EXP = "pool-vs-stride"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("smoke")
    assert main(["run", EXP, "--profile", "smoke", "--seeds", "2", "--logdir", str(logdir)]) == 0
    return logdir


def _copy(smoke_run, tmp_path, keep_results=False):
    shutil.copytree(smoke_run / EXP, tmp_path / EXP)
    if not keep_results:
        (tmp_path / EXP / "results.json").unlink()
    return tmp_path


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}


def _refused(capsys, argv, folder):
    before = _snapshot(folder)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "of another run" in err[0] and "nothing was" in err[0] and "without --resume" in err[0]
    assert _snapshot(folder) == before  # nothing overwritten
    return err[0]


def test_resume_refuses_another_profile(smoke_run, tmp_path, capsys):
    logdir = _copy(smoke_run, tmp_path, keep_results=True)
    line = _refused(capsys, ["run", EXP, "--profile", "quick", "--seeds", "2", "--resume", "--logdir", str(logdir)],
                    logdir / EXP)
    assert "results.json holds lenet-s0 of another run" in line and "profile 'smoke' there, 'quick' here" in line
    (logdir / EXP / "results.json").unlink()  # and the checkpoints alone refuse it too
    line = _refused(capsys, ["run", EXP, "--profile", "quick", "--seeds", "2", "--resume", "--logdir", str(logdir)],
                    logdir / EXP)
    assert "_checkpoints/lenet-s0 holds a checkpoint of another run" in line and "profile 'smoke' there" in line
    assert "epochs 2 there, 15 here" in line


def test_resume_refuses_another_seed(smoke_run, tmp_path, capsys):
    logdir = _copy(smoke_run, tmp_path)
    ck = logdir / EXP / "_checkpoints"
    shutil.rmtree(ck / "lenet-s0")
    shutil.copytree(ck / "lenet-s1", ck / "lenet-s0")  # seed 1's checkpoint where seed 0's belongs
    line = _refused(capsys, ["run", EXP, "--profile", "smoke", "--seeds", "2", "--resume", "--logdir", str(logdir)],
                    logdir / EXP)
    assert "seed 1 there, 0 here" in line


def test_resume_refuses_another_experiment(smoke_run, tmp_path, capsys):
    logdir = _copy(smoke_run, tmp_path)
    other = logdir / "lenet-mnist" / "_checkpoints"
    other.mkdir(parents=True)
    shutil.copytree(logdir / EXP / "_checkpoints" / "lenet-s0", other / "lenet-s0")
    line = _refused(capsys, ["run", "lenet-mnist", "--profile", "smoke", "--seeds", "2", "--resume", "--logdir",
                              str(logdir)],
                    logdir / "lenet-mnist")
    assert "experiment 'pool-vs-stride' there, 'lenet-mnist' here" in line and "optimizer 'adam' there" in line


def test_resume_refuses_changed_settings(smoke_run, tmp_path, capsys, monkeypatch):
    from paddle_cnn.experiments import definitions
    logdir = _copy(smoke_run, tmp_path, keep_results=True)
    exp = definitions.EXPERIMENTS[EXP]
    monkeypatch.setitem(definitions.EXPERIMENTS, EXP, dataclasses.replace(exp, train={**exp.train, "lr": 2e-3}))
    line = _refused(capsys, ["run", EXP, "--profile", "smoke", "--seeds", "2", "--resume", "--logdir", str(logdir)],
                    logdir / EXP)
    assert "lr 0.001 there, 0.002 here" in line
    (logdir / EXP / "results.json").unlink()
    line = _refused(capsys, ["run", EXP, "--profile", "smoke", "--seeds", "2", "--resume", "--logdir", str(logdir)],
                    logdir / EXP)
    assert "lr 0.001 there, 0.002 here" in line


def test_resume_of_the_same_plan_keeps_everything(smoke_run, tmp_path, capsys):
    logdir = _copy(smoke_run, tmp_path, keep_results=True)
    before = json.loads((logdir / EXP / "results.json").read_text())
    assert main(["run", EXP, "--profile", "smoke", "--seeds", "2", "--resume", "--logdir", str(logdir)]) == 0
    after = json.loads((logdir / EXP / "results.json").read_text())
    assert [r["test_acc"] for r in after["runs"]] == [r["test_acc"] for r in before["runs"]]
    assert "finished earlier with the same plan" in capsys.readouterr().out


def test_fit_refuses_a_checkpoint_of_other_settings(tmp_path):
    """The library path: fit(epochs=1) on a 3-epoch checkpoint is refused, not returned as 3 epochs."""
    from paddle_cnn.data import load_dataset
    from paddle_cnn.models import create_model
    from paddle_cnn.training import Checkpointer, TrainConfig, fit
    from paddle_cnn.training.checkpoint import CheckpointError
    data = load_dataset("mnist-5k")["train"].subset(100)
    quiet = dict(progress=False, log=lambda *a: None)
    fit(create_model("lenet"), data, None, TrainConfig(epochs=3, batch_size=50), [Checkpointer(str(tmp_path))],
        **quiet)
    with pytest.raises(CheckpointError, match="epochs 3 there, 1 here"):
        fit(create_model("lenet"), data, None, TrainConfig(epochs=1, batch_size=50),
            [Checkpointer(str(tmp_path), resume=True)], **quiet)
    h = fit(create_model("lenet"), data, None, TrainConfig(epochs=3, batch_size=50, threads=1),
            [Checkpointer(str(tmp_path), resume=True)], **quiet)  # threads: speed only, not identity
    assert len(h["train_loss"]) == 3


def test_every_test_the_guarantee_table_names_exists():
    """docs/guarantees.md's "What survives a crash" rows name the tests that hold them: each named test is a test function
    of the file it is listed under (a renamed or deleted test fails here)."""
    import re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "guarantees.md"), encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("| guarantee | held by |"):]
    table = table[:table.index("\n\n")]
    missing, named = [], 0
    for row in table.splitlines()[2:]:
        held_by = row.rstrip(" |").rsplit(" | ", 1)[-1]
        current = None  # a bare `test_name` belongs to the file named last before it in the row
        for path, name, file_only in re.findall(r"`(?:(tests/[\w/]+\.py)::)?(test_\w+)`|`(tests/[\w/]+\.py)`",
                                                held_by):
            current = path or file_only or current
            if not name or current is None:
                continue
            with open(os.path.join(root, current), encoding="utf-8") as f:
                source = f.read()
            named += 1
            if not re.search(rf"^def {name}\(", source, re.M):
                missing.append(f"{current}::{name}")
    assert named > 40 and not missing, missing


def test_the_profile_is_decided_once_and_carried_as_the_profile_object(monkeypatch, tmp_path, capsys):
    """`paddle-cnn run` without --profile decides it once (default_profile: the hardware, or $PADDLE_CNN_PROFILE),
    and plans, log folder and runs all get that Profile; a Profile passes through plan_experiment unchanged."""
    from paddle_cnn.cli import main
    from paddle_cnn.experiments import definitions
    from paddle_cnn.experiments.plans import plan_experiment
    calls = []
    decide = definitions.default_profile
    monkeypatch.setattr(definitions, "default_profile", lambda: calls.append(1) or decide())
    monkeypatch.setenv("PADDLE_CNN_PROFILE", "smoke")
    assert main(["run", "pool-vs-stride", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert calls == [1] and "profile smoke" in out and "smoke-logs/pool-vs-stride" in out
    quick = definitions.PROFILES["quick"]
    assert {p.profile for p in plan_experiment("pool-vs-stride", quick, 1)} == {"quick"} and calls == [1]


def test_the_readme_first_screen_and_its_pages():
    """What a new user reads first: the two commands, what the demo shows and how long, where to look, within the
    first 35 lines; the README stays short (the rest is in docs/, every page linked and present); no internal
    benchmark names ('lever 10') in anything a user reads: README, docs, a run's results."""
    import re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    first = "\n".join(readme.splitlines()[:35])
    for must in ("make demo", "make test", "What `make demo` shows", "Where to look", "min", "visualdl --logdir logs",
                 "jupyter lab notebooks/", "results.md"):
        assert must in first, must
    assert len(readme.splitlines()) <= 90
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert {"docs/experiments.md", "docs/gpu.md", "docs/notebooks.md", "docs/python.md", "docs/guarantees.md",
            "docs/contributing.md"} <= set(links)
    assert all(os.path.exists(os.path.join(root, link)) for link in links if not link.startswith("http")), links
    pages = [readme] + [open(os.path.join(root, "docs", p), encoding="utf-8").read()
                        for p in os.listdir(os.path.join(root, "docs"))]
    from paddle_cnn.training.cpu_kernels import convolutions_used
    pages += [convolutions_used(True, True, b) for b in (True, False)]
    assert not [p[:80] for p in pages if re.search(r"\blevers? \d", p, re.I)]
