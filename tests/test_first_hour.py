"""A new user's first hour, where they meet it: the Python API's edges (a paddle optimizer handed to fit, another
library's setting names, a batch dimension in layer_table, printing a data set, a silenced fit), the CLI's (a
notebook number, a model name, the dry run's time, the full profile on a CPU) and a notebook without its data."""
import os
import pathlib

import numpy as np
import pytest

from attacks import cli, refused

ROOT = pathlib.Path(__file__).resolve().parent.parent


def digits(n=32):
    rng = np.random.RandomState(0)
    return rng.randint(0, 255, (n, 1, 28, 28)).astype("uint8"), rng.randint(0, 10, n)


def test_fit_refuses_a_paddle_optimizer_in_one_line_naming_the_settings():
    import paddle

    from paddle_cnn import TrainConfig, create_model, fit
    model = create_model("lenet")
    with pytest.raises(TypeError) as e:
        fit(model, digits(), None, paddle.optimizer.Adam(parameters=model.parameters()))
    msg = str(e.value)
    assert "\n" not in msg and "Adam" in msg and "TrainConfig(optimizer=" in msg and "lr=" in msg
    with pytest.raises(TypeError, match=r"TrainConfig\(\*\*your_dict\)"):
        fit(model, digits(), None, {"lr": 0.1})
    assert fit(model, digits(), None, TrainConfig(epochs=1), progress=False, log=lambda *a: None)["train_loss"]


@pytest.mark.parametrize("kw, words", [({"learning_rate": 0.1}, ["'learning_rate'", "called lr"]),
                                       ({"batch": 8}, ["'batch'", "called batch_size"]),
                                       ({"epocs": 3}, ["'epocs'", "did you mean epochs"])])
def test_trainconfig_names_the_setting_meant(kw, words):
    from paddle_cnn import TrainConfig
    with pytest.raises(TypeError) as e:
        TrainConfig(**kw)
    assert all(w in str(e.value) for w in words), str(e.value)
    with pytest.raises(ValueError) as e:
        TrainConfig().replace(**kw)
    assert all(w in str(e.value) for w in words)
    assert TrainConfig(lr=0.1, epochs=2).lr == 0.1  # the right names still work, positionally too
    assert TrainConfig(3).epochs == 3


def test_layer_table_with_a_batch_dimension_says_so():
    from paddle_cnn import create_model, layer_table
    from paddle_cnn.arithmetic import ShapeError
    with pytest.raises(ShapeError, match=r"batch dimension.*\(1, 28, 28\)"):
        layer_table(create_model("lenet"), (1, 1, 28, 28))
    assert layer_table(create_model("lenet"), (1, 28, 28)).totals["params"] == 61_706


def test_printing_a_data_set_shows_what_it_is_not_its_pixels():
    from paddle_cnn import load_dataset
    data = load_dataset("mnist-5k")
    text = repr(data["train"])
    assert len(text) < 300 and "4,000 images" in text and "1x28x28" in text and "10 classes" in text, text
    assert len(str(data)) < 700


def test_a_silenced_fit_prints_no_bar_even_on_a_terminal(monkeypatch, capsys):
    """On a terminal fit draws a bar (checked first, so this can fail); with log= silenced nothing is printed."""
    import sys

    from paddle_cnn import TrainConfig, create_model, fit
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    fit(create_model("lenet"), digits(), None, TrainConfig(epochs=1, batch_size=8))
    assert "100%" in capsys.readouterr().err
    fit(create_model("lenet"), digits(), None, TrainConfig(epochs=1, batch_size=8), log=lambda *a: None)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_the_cli_takes_notebook_numbers_and_says_what_a_model_name_is():
    o = cli("run", "03", "--dry-run", "--profile", "smoke")
    assert o.code == 0 and o.out.startswith("pool-vs-stride, profile smoke"), o.err
    refused(cli("run", "02", "--dry-run"), "notebook 02 runs lenet-mnist and alexnet-mnist", "name one")
    refused(cli("run", "lenet"), "'lenet' is a model", "paddle-cnn summary lenet", "pool-vs-stride")


def test_the_dry_run_ends_with_the_time_it_would_take(tmp_path):
    """No finished run in the folder: it says when the estimate comes; after one: about the seconds per epoch of
    those runs times the epochs planned (arithmetic written here)."""
    import json
    o = cli("run", "pool-vs-stride", "--dry-run", "--profile", "smoke", "--seeds", "2", "--logdir", str(tmp_path))
    assert o.code == 0 and "no run of these networks has finished" in o.out.splitlines()[-2], o.out
    folder = tmp_path / "pool-vs-stride"
    folder.mkdir()
    runs = [{"label": "lenet", "epochs": 2, "train_seconds": 30.0}, {"label": "lenet_nopool", "epochs": 2,
                                                                       "train_seconds": 60.0}]
    (folder / "results.json").write_text(json.dumps({"runs": runs}))
    o = cli("run", "pool-vs-stride", "--dry-run", "--profile", "smoke", "--seeds", "2", "--logdir", str(tmp_path))
    # smoke: 2 epochs per run; 2 seeds x (15 + 30 s per epoch) x 2 epochs = 180 s
    assert "time: about 3 min 00 s of training" in o.out, o.out
    assert all(len(line) <= 100 for line in o.out.splitlines() if str(tmp_path) not in line)


def test_the_full_profile_on_a_cpu_warns_before_training(tmp_path, monkeypatch):
    from paddle_cnn.experiments import runner
    lines = []

    class Stop(Exception):
        pass

    def first_plan(*a, **k):
        raise Stop
    monkeypatch.setattr(runner, "execute", first_plan)
    monkeypatch.setattr(runner.DataCache, "resolve", lambda self, plans: plans)  # full MNIST is not here
    monkeypatch.setattr(runner, "work_per_epoch", lambda plans, data: {})
    with pytest.raises(Stop):
        runner.run_experiment("pool-vs-stride", "full", 3, str(ROOT / "data"), str(tmp_path), log=lines.append,
                              progress=False)
    assert any("profile full" in line and "on a CPU" in line and "quick" in line for line in lines), lines
    lines.clear()
    with pytest.raises(Stop):
        runner.run_experiment("pool-vs-stride", "smoke", 1, str(ROOT / "data"), str(tmp_path), log=lines.append,
                              progress=False)
    assert not any("on a CPU" in line for line in lines)


def test_a_notebook_without_its_data_is_one_line_with_the_smoke_hint(tmp_path):
    """Notebook 01 under the quick profile with an empty data folder, executed by papermill: the error output is
    the missing file and how to get it, plus the PROFILE = "smoke" hint; not dozens of lines of our frames."""
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(str(ROOT / "notebooks" / "01_bn_ablation_cifar10.ipynb"),
                                   str(tmp_path / "out.ipynb"), parameters={"PROFILE": "quick",
                                                                            "DATA_DIR": str(tmp_path),
                                                                            "LOGDIR": str(tmp_path / "logs")},
                                   kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    import nbformat
    nb = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors) == 1
    tb = errors[0]["traceback"]
    assert len(tb) == 2 and "cifar-10-python.tar.gz" in tb[0] and "DataMissing" in tb[0], tb
    assert 'PROFILE = "smoke"' in tb[1]
    assert not os.path.exists(tmp_path / "logs" / "bn-ablation" / "results.json")


def test_a_profiles_notes_speak_only_of_that_profile():
    """alexnet-mnist's note has a part for every profile and one for quick ('quick: 64x64 inputs...'): under
    smoke the results carry the first part only, under quick both."""
    from paddle_cnn.experiments import EXPERIMENTS
    from paddle_cnn.experiments.runner import notes_for
    alex = EXPERIMENTS["alexnet-mnist"]
    assert notes_for(alex, "smoke") == ["MNIST digits are resized to the AlexNet input and repeated to 3 channels "
                                        "on the device."]
    assert "quick: 64x64 inputs" in notes_for(alex, "quick")[0]
    for exp in EXPERIMENTS.values():
        for profile in ("smoke", "full"):
            assert not [n for n in notes_for(exp, profile) if "quick:" in n], (exp.name, profile)


def test_a_reused_run_keeps_its_finished_time_and_one_seed_shows_no_spread(tmp_path):
    """Reusing every run changes nothing of the header (it once rewrote 'finished' to the time of the reuse); a
    run of one seed shows its accuracy without a '± 0.0000' it does not have."""
    import time

    from paddle_cnn.experiments.report import summarize
    from paddle_cnn.experiments.runner import run_experiment
    kw = dict(data_dir=str(ROOT / "data"), logdir=str(tmp_path), progress=False, log=lambda *a: None)
    first = run_experiment("pool-vs-stride", "smoke", 1, **kw)
    time.sleep(1.1)
    lines = []
    again = run_experiment("pool-vs-stride", "smoke", 1, reuse=True, **{**kw, "log": lines.append})
    assert (again["started"], again["finished"]) == (first["started"], first["finished"])
    assert "2 of 2 plans reused: --retrain (RETRAIN = True in a notebook) trains them again" in lines
    retrained = run_experiment("pool-vs-stride", "smoke", 1, **kw)
    assert retrained["finished"] > first["finished"]
    rows = summarize(again)
    assert rows and all("±" not in r["test acc"] and r["test acc"] == f"{float(r['test acc']):.4f}" for r in rows)


def test_wrapped_lines_fit_their_columns_with_chinese_text():
    """wrap() keeps every line within the width in terminal columns, a Chinese character counted as two (written
    here with unicodedata), and loses no word."""
    import unicodedata

    from paddle_cnn.text import wrap

    def columns(line):
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
    text = ("  reproduced (quick)  but the improved LeNet has more parameters than the original "
            "(参数量上是高于原始的参数量上是高于原始的): 61,706 vs 66,346 " + "增强了模型的泛化能力" * 6)
    for width in (40, 60, 100):
        lines = wrap(text, width, " " * 8).splitlines()
        assert all(columns(line) <= width for line in lines), (width, lines)
        assert "".join(line.strip() for line in lines).replace(" ", "") == text.replace(" ", "")


def test_generated_markdown_renders_literally_and_html_headers_align_with_their_columns():
    """Through nbconvert's own Markdown renderer (what a rendered notebook shows), escaped generated text keeps its
    asterisks and underscores; a Table's HTML aligns each header as its column's cells."""
    import re

    nbconvert = pytest.importorskip("nbconvert")  # noqa: F841
    from nbconvert.filters.markdown import markdown2html

    from paddle_cnn.text import Table, md_escape
    text = "conv1 parameters 11*11*3*96+96 = 34,848; LeNet_nopool a_b_c [x] <b> |"
    html = markdown2html(f"- **{md_escape(text)}**: ours")
    assert "11*11*3*96+96" in html and "LeNet_nopool a_b_c" in html and "<em>" not in html, html
    assert "&lt;b&gt;" in html
    table = Table([{"run": "lenet", "params": 61706, "acc": "0.9637 ± 0.0012"}], ["run", "params", "acc"],
                  right=("params", "acc"))._repr_html_()
    heads = re.findall(r"<th style='text-align:(\w+)", table)
    cells = re.findall(r"<td style='text-align:(\w+)", table)
    assert heads == cells == ["left", "right", "right"]


def test_the_countdown_estimates_a_network_not_timed_yet_by_its_work():
    """Arithmetic written here: network a took 20 s for 2 epochs (10 s per epoch at 100 units of work per epoch);
    b does 300 units per epoch, so 30 s per epoch; 2 epochs of each still to run: 20 + 60 s = 1 min 20 s. Without
    b's work the line says 'over' the 20 s it knows; with nothing timed it says nothing."""
    from types import SimpleNamespace

    from paddle_cnn.experiments.countdown import Countdown

    def plan(label):
        return SimpleNamespace(label=label, config=SimpleNamespace(epochs=2))
    plans = [plan("a"), plan("b")]
    earlier = [{"label": "a", "epochs": 2, "train_seconds": 20.0}]
    assert Countdown(plans, earlier, {"a": 100, "b": 300}).start(plans[0]) == "[1/2, about 1 min 20 s left]"
    assert Countdown(plans, earlier, {"a": 100}).start(plans[0]) == "[1/2, over 20 s left]"
    assert Countdown(plans, [], {"a": 100, "b": 300}).start(plans[0]) == "[1/2]"
