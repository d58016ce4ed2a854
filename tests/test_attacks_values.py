"""Reliability round 3, silently wrong numbers: a non-finite pixel or weight is stopped, never trained on, and the
way it is stopped names what and where (fit's API and the CLI)."""
import numpy as np
import paddle
import pytest

from paddle_cnn import TrainConfig, create_model, fit
from paddle_cnn.data import DataError
from paddle_cnn.training import NonFiniteLoss

QUIET = dict(progress=False, log=lambda *a: None)


def digits(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


class Floats(paddle.io.Dataset):
    """A user's own data set of float images, one of them spoiled."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


@pytest.mark.parametrize("spoil", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["train", "eval"])
def test_a_non_finite_pixel_in_arrays_is_refused_before_training(where, spoil):
    x, y = digits()
    ex, ey = digits(32, 1)
    (x if where == "train" else ex)[17, 0, 3, 4] = spoil
    trained = []
    model = create_model("lenet")
    from paddle_cnn.training import Callback

    class Seen(Callback):
        def on_epoch_end(self, state):
            trained.append(state.epoch)
    (x if where == "train" else ex)[23, 0, 5, 5] = spoil  # the message names the first of them
    with pytest.raises(DataError, match=r"image 17 holds NaN or infinite values"):
        fit(model, (x, y), (ex, ey), TrainConfig(epochs=1, batch_size=16), [Seen()], **QUIET)
    assert trained == []


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_non_finite_pixel_in_a_users_dataset_is_named_by_its_sample(in_memory):
    x, y = digits()
    x[41, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"sample 41: the image holds 1 NaN or infinite value"):
        fit(create_model("lenet"), Floats(x, y), None,
            TrainConfig(epochs=1, batch_size=16, in_memory=in_memory, workers=0), **QUIET)


def test_weights_that_become_non_finite_stop_fit_even_when_the_loss_stays_finite():
    """NaN weights in conv1: the ReLU after it turns the NaN activations into 0, the logits are the last layer's
    bias and the loss stays at a finite ln(10)-like value; the weight check stops fit at its first read."""
    x, y = digits()
    model = create_model("lenet")
    w = model.parameters()[0]
    w.set_value(paddle.full_like(w, float("nan")))
    with pytest.raises(NonFiniteLoss) as e:
        fit(model, (x, y), None, TrainConfig(epochs=2, batch_size=16, sync_every=2), **QUIET)
    model.eval()  # the loss alone would not have stopped it: finite on these weights
    loss = paddle.nn.functional.cross_entropy(model(paddle.to_tensor(x[:16])), paddle.to_tensor(y[:16]))
    assert np.isfinite(float(loss)), float(loss)
    assert str(e.value).startswith("the weights became NaN/Inf in epoch 1 by step 2; stopped")


def test_report_takes_the_runs_lock_and_never_writes_over_a_running_experiment(tmp_path, capsys):
    """`paddle-cnn report` while a run of the experiment holds its folder: refused in one line, exit 2, the
    finished results.json and results.md untouched (it overwrote them with an older snapshot)."""
    from paddle_cnn.cli import main
    from paddle_cnn.experiments.runner import RunLock, run_experiment
    run_experiment("pool-vs-stride", "smoke", 1, logdir=str(tmp_path), **QUIET)
    folder = tmp_path / "pool-vs-stride"
    before = {f: (folder / f).read_bytes() for f in ("results.json", "results.md")}
    with RunLock(str(folder)):
        assert main(["report", "pool-vs-stride", "--logdir", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "a run is writing" in err and "locked" in err, err
        assert {f: (folder / f).read_bytes() for f in before} == before
    assert main(["report", "pool-vs-stride", "--logdir", str(tmp_path)]) == 0  # once it is done
    assert not (folder / ".lock").exists()


def test_report_under_the_smoke_profile_looks_where_smoke_runs_go(tmp_path, monkeypatch, capsys):
    from paddle_cnn.cli import main
    from paddle_cnn.experiments.runner import run_experiment
    monkeypatch.setenv("PADDLE_CNN_AISTUDIO_ROOT", str(tmp_path))  # its logs: tmp_path/work/logs
    (tmp_path / "data").mkdir()
    (tmp_path / "work").mkdir()
    run_experiment("pool-vs-stride", "smoke", 1, **QUIET)
    assert (tmp_path / "work" / "smoke-logs" / "pool-vs-stride" / "results.json").exists()
    monkeypatch.setenv("PADDLE_CNN_PROFILE", "smoke")
    assert main(["report", "pool-vs-stride"]) == 0, capsys.readouterr().err
    assert "smoke-logs/pool-vs-stride/results.md" in capsys.readouterr().out


def test_a_run_whose_output_pipe_closes_stops_with_sigpipes_exit_not_success(tmp_path):
    """`paddle-cnn run ... | head -1`: the reader goes after the first line; the run stops at its next line with
    exit 141 (never 0), says on stderr that it stopped unfinished, and its results are not marked finished."""
    import json
    import os
    import subprocess
    import sys
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PADDLE_CNN_PROFILE": "smoke"}
    proc = subprocess.Popen([sys.executable, "-m", "paddle_cnn", "run", "pool-vs-stride", "--seeds", "1",
                             "--logdir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout.readline()
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert "stopped: the output pipe was closed" in err and "Traceback" not in err, err
    results = tmp_path / "pool-vs-stride" / "results.json"
    assert not results.exists() or "finished" not in json.loads(results.read_text())


def test_output_to_a_full_device_blames_the_output_not_the_disk_of_the_logs():
    import subprocess
    import sys
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "paddle_cnn", "list"], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip() == ("paddle-cnn: error: cannot write the output (No space left on "
                                                       "device); nothing else was affected"), r.stderr


@pytest.mark.parametrize("env, words", [
    ({"PADDLE_CNN_THREADS": "10000000"}, ["PADDLE_CNN_THREADS=10000000", "more than", "per core"]),
    ({"OMP_NUM_THREADS": "100000"}, ["OMP_NUM_THREADS=100000", "more than"]),
    ({"PADDLE_CNN_THREADS": "²"}, ["PADDLE_CNN_THREADS='²'", "not a number of threads"]),
    ({"PADDLE_TRAINER_ID": "abc"}, ["PADDLE_TRAINER_ID='abc'", "not a whole number"]),
    ({"PADDLE_CNN_THREADS": "0"}, ["PADDLE_CNN_THREADS='0'", "not a number of threads"]),
    ({"PADDLE_TRAINER_ID": "2", "PADDLE_TRAINERS_NUM": "2"}, ["PADDLE_TRAINER_ID=2 with PADDLE_TRAINERS_NUM=2"]),
])
def test_bad_thread_and_rank_variables_are_one_line_naming_the_variable(tmp_path, env, words):
    """Before: a segfault leaving .lock (10**7 threads), an abort (OMP 100000), 'invalid literal for int()'."""
    from attacks import cli_bounded, refused
    out = cli_bounded("run", "pool-vs-stride", "--profile", "smoke", "--seeds", "1", "--logdir", str(tmp_path),
                      env=env, timeout=120)
    refused(out, *words)
    assert not list(tmp_path.rglob("*")), "nothing may be written"


@pytest.mark.parametrize("argv, words", [
    (["--seeds", "1000000000"], ["--seeds 1000000000", "more than 100"]),
    (["--seeds", "1000000000", "--dry-run"], ["--seeds 1000000000", "more than 100"]),
    (["--logdir", ""], ["--logdir is empty"]),
    (["--logdir", "   "], ["--logdir is empty"]),
    (["--seeds", "101", "--dry-run"], ["--seeds 101", "more than 100"]),
])
def test_huge_seeds_and_an_empty_logdir_are_refused_at_once(tmp_path, argv, words):
    """Before: --seeds 10**9 hung and grew (2.7 GB at 120 s, also with --dry-run); --logdir "" used logs/."""
    from attacks import cli_bounded, refused
    argv = ["--logdir", str(tmp_path)] + argv if "--logdir" not in argv else argv
    out = cli_bounded("run", "pool-vs-stride", "--profile", "smoke", *argv, timeout=60)
    refused(out, *words)
    assert out.seconds < 30


@pytest.mark.parametrize("milestones", ["5", (None,), (0,), (40, 20), 5])
def test_milestones_are_checked_when_the_settings_are_made(milestones):
    with pytest.raises(ValueError, match="milestones must be"):
        TrainConfig(lr_schedule="piecewise", milestones=milestones)


def test_threads_in_the_api_are_bounded():
    with pytest.raises(ValueError, match="threads=10000000 threads is more than"):
        TrainConfig(threads=10 ** 7)
    from paddle_cnn.device import available_cores, check_thread_count
    check_thread_count(4 * available_cores(), "X")  # the bound itself is allowed: 4 per core
    with pytest.raises(ValueError, match="more than"):
        check_thread_count(4 * available_cores() + 1, "X")


def test_the_seed_bound_and_the_timed_runs_at_their_edges():
    """100 seeds per run are planned, 101 refused; the step timing times the seed-0 plan of each run."""
    from paddle_cnn.experiments.plans import MAX_RUN_SEEDS, StepTimingPlan, plan_experiment
    assert MAX_RUN_SEEDS == 100
    assert len([p for p in plan_experiment("pool-vs-stride", "smoke", 100) if p.key.startswith("lenet-")]) == 100
    with pytest.raises(ValueError, match="more than 100"):
        plan_experiment("pool-vs-stride", "smoke", 101)
    timing = [p for p in plan_experiment("alexnet-mnist", "smoke", 3) if isinstance(p, StepTimingPlan)]
    assert len(timing) == 1 and [(p.label, p.seed) for p in timing[0].runs] == [("alexnet", 0), ("alexnet_lrn", 0)]


def test_an_eval_set_of_another_size_is_refused_before_the_first_step():
    """Before: paddle's raw error after a whole epoch of training."""
    x, y = digits()
    ex = np.random.default_rng(2).random((16, 1, 32, 32), dtype=np.float32)
    steps = []
    from paddle_cnn.training import Callback

    class Steps(Callback):
        def on_step_end(self, state):
            steps.append(1)
    with pytest.raises(DataError, match=r"the eval images are 1x32x32 and the training images 1x28x28"):
        fit(create_model("lenet"), (x, y), (ex, y[:16]), TrainConfig(epochs=1, batch_size=16), [Steps()], **QUIET)
    assert steps == []


def test_images_the_model_cannot_take_are_one_line_before_training():
    """LeNet (1 channel) on 3-channel images: before, paddle's C++ InvalidArgument error with its stack."""
    x = np.random.default_rng(3).random((32, 3, 28, 28), dtype=np.float32)
    with pytest.raises(DataError) as e:
        fit(create_model("lenet"), (x, np.arange(32) % 10), None, TrainConfig(epochs=1, batch_size=16), **QUIET)
    msg = str(e.value)
    assert msg.startswith("lenet cannot take the training images (3x28x28: (InvalidArgument) The number of input's "
                          "channels should be equal to filter's channels") and "\n" not in msg, msg
    assert "in_channels" in msg and len(msg) < 500


@pytest.mark.parametrize("what", ["curves.png", "lenet-s0", "_checkpoints/lenet-s0", "lenet-s0/records"])
@pytest.mark.parametrize("command", ["run", "report"])
def test_a_link_inside_the_log_folder_is_refused_and_its_target_untouched(tmp_path, what, command):
    """Before: curves.png linked elsewhere had its target overwritten, a linked records file was truncated on
    --resume, a linked _checkpoints/<run> had the outside folder's epochs deleted."""
    import os
    import shutil

    from attacks import cli, refused, snapshot
    from paddle_cnn.experiments.runner import run_experiment
    logs = tmp_path / "logs"
    run_experiment("pool-vs-stride", "smoke", 1, logdir=str(logs), **QUIET)
    folder = logs / "pool-vs-stride"
    outside = tmp_path / "outside"
    if what == "lenet-s0/records":  # the run's VisualDL records file itself
        (path,) = [p for p in (folder / "lenet-s0").iterdir() if p.is_file()]
        outside.mkdir()
        target = outside / path.name
    else:
        path, target = folder / what, outside
        if path.is_dir():
            shutil.copytree(path, outside)
        else:
            outside.mkdir()
            target = outside / path.name
    if not target.exists():
        shutil.copy(path, target)
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    os.symlink(target, path)
    before = snapshot(outside)
    argv = ["run", "pool-vs-stride", "--profile", "smoke", "--seeds", "1", "--resume"] if command == "run" \
        else ["report", "pool-vs-stride"]
    refused(cli(*argv, "--logdir", str(logs)), str(path), "is a symbolic link", "remove the link")
    assert snapshot(outside) == before


@pytest.mark.parametrize("what", ["_checkpoints/lenet-s0", "results.json", "curves.png"])
def test_a_path_of_the_wrong_kind_is_refused_before_training(tmp_path, what):
    """Before: a checkpoint folder that is a file gave 'File exists; finished epochs are kept ... --resume' (untrue,
    it cannot be followed); results.json replaced by a folder was refused only after training, naming a .tmp
    file."""
    from attacks import cli, refused
    folder = tmp_path / "pool-vs-stride"
    path = folder / what
    path.parent.mkdir(parents=True)
    path.write_text("x") if what.startswith("_") else path.mkdir()
    o = cli("run", "pool-vs-stride", "--profile", "smoke", "--seeds", "1", "--logdir", str(tmp_path))
    refused(o, str(path), "move it away")
    assert o.seconds < 20 and not (folder / "lenet-s0").exists()


def test_fewer_seeds_than_before_leave_only_this_runs_curves_on_the_dashboard(tmp_path):
    """3 seeds, then 1: the dashboard (VisualDL's own server) lists the seed-0 runs only, the others' files are
    kept; 3 seeds again: their curves are back, from the kept checkpoints, without training them again."""
    from dashboard import visualdl_server
    from paddle_cnn.experiments.runner import run_experiment
    first = run_experiment("pool-vs-stride", "smoke", 2, logdir=str(tmp_path), **QUIET)
    lines = []
    run_experiment("pool-vs-stride", "smoke", 1, logdir=str(tmp_path), log=lines.append, progress=False, reuse=True)
    assert any(l.startswith("lenet-s1: not a run of these plans") for l in lines), lines
    with visualdl_server(tmp_path) as get:
        shown = sorted(get("runs"))
    assert len(shown) == 2 and all("s0" in r for r in shown), shown
    assert (tmp_path / "pool-vs-stride" / "lenet-s1").is_dir()
    lines = []
    again = run_experiment("pool-vs-stride", "smoke", 2, logdir=str(tmp_path), log=lines.append, progress=False,
                           reuse=True)
    with visualdl_server(tmp_path) as get:
        assert len(get("runs")) == 4
    assert {r["run"]: r["test_acc"] for r in again["runs"]} == {r["run"]: r["test_acc"] for r in first["runs"]}
    assert any("resuming lenet-s1" in l for l in lines), lines  # continued from its kept checkpoint


def test_a_disk_full_only_for_the_dashboards_records_stops_the_run_and_the_resume_fills_the_gap(tmp_path,
                                                                                               monkeypatch):
    """VisualDL's writer thread fails in epoch 2 (as on a full disk) and only prints a warning: before, the epoch
    was missing from the dashboard and the run exited 0. Now the run stops with one line; rerun, the epoch is
    logged from its checkpoint: the dashboard has every epoch once (read by VisualDL's LogReader)."""
    from visualdl.writer import record_writer

    import paddle_cnn.experiments.runner as runner
    from attacks import cli
    from paddle_cnn.training import Callback
    write, full = record_writer.RecordWriter.write, {"on": False}

    def failing(self, data):
        if full["on"]:
            raise OSError(28, "No space left on device")
        return write(self, data)

    class FillTheDisk(Callback):
        order = 5  # after the epoch's checkpoint (0), before the dashboard's records (10)

        def on_epoch_end(self, state):
            full["on"] = state.epoch == 2 and state.name == "lenet-s0"
    callbacks = runner.run_callbacks
    argv = ("run", "pool-vs-stride", "--profile", "smoke", "--seeds", "1", "--logdir", str(tmp_path))
    with monkeypatch.context() as m:
        m.setattr(record_writer.RecordWriter, "write", failing)
        m.setattr(runner, "run_callbacks", lambda *a: [*callbacks(*a), FillTheDisk()])
        o = cli(*argv)
    assert o.code == 2 and "records of epoch 2 were not written" in o.err.strip().splitlines()[-1], o.err
    assert cli(*argv).code == 0
    assert [e for e, _ in _scalars(tmp_path / "pool-vs-stride" / "lenet-s0")] == [1, 2]


def _scalars(folder, tag="train/loss"):
    from visualdl import LogReader

    from paddle_cnn.training import vdl_records
    points = []
    for f in vdl_records.records_files(str(folder)):
        points += [(int(r.id), r.value) for r in LogReader(file_path=f).get_data("scalar", tag)]
    return sorted(points)


def test_images_and_labels_as_python_lists_are_one_line_not_an_image_printed_as_a_label():
    x, y = digits(8)
    with pytest.raises(DataError) as e:
        fit(create_model("lenet"), (list(x), list(y)), None, TrainConfig(epochs=1, batch_size=4), **QUIET)
    msg = str(e.value)
    assert msg.startswith("fit got (images, labels) as Python lists of 8 and 8 items") and len(msg) < 200, msg
