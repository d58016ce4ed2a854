"""The CLI: tables on stdout, every bad input one line on stderr with exit code 2."""
import json
import os
import subprocess
import sys

import pytest

from paddle_cnn.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_every_model(capsys):
    from paddle_cnn.models import list_models
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert all(f"  {name} " in out for name in list_models())


def test_summary_text_and_json(capsys):
    code, out, _ = run(capsys, "summary", "lenet")
    assert code == 0 and "61,706" in out and "MACs" in out and "FLOPs = 2*MACs" in out
    code, out, _ = run(capsys, "summary", "lenet5", "--format", "json", "--num-classes", "16")
    data = json.loads(out)
    assert data["input"] == [1, 32, 32] and data["rows"][-1]["output_shape"] == [16]
    assert data["totals"]["params"] == 61_706 - 850 + (84 * 16 + 16)


def test_summary_markdown_other_input(capsys):
    code, out, _ = run(capsys, "summary", "alexnet", "--input", "3x224x224", "--format", "markdown")
    assert code == 0 and "| features.0 | Conv2D |" in out and "96x55x55" in out and "34,848" in out


@pytest.mark.parametrize("argv,needle", [
    (["summary", "lenett"], "unknown model 'lenett': did you mean lenet"),
    (["summary", "convpool3", "--input", "3x16x16"], "layer 'features.6' (Conv2D 5x5, stride 1, padding 0) "
                                                       "cannot take input 50x1x1"),
    (["summary", "lenet", "--input", "1x28"], "must be three positive integers CxHxW"),
    (["summary", "lenet", "--input", "axbxc"], "is not of the form CxHxW"),
    (["summary", "lenet", "--num-classes", "1"], "num_classes must be an integer >= 2"),
    (["summary", "lenet", "--num-classes", "two"], "invalid int value: 'two'"),
    (["summary"], "the following arguments are required: model"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["data", "cifar100"], "unknown data set 'cifar100': did you mean cifar10"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("paddle-cnn: error: ")
    assert needle in err


def test_a_flags_prefix_is_not_taken_for_the_flag(tmp_path):
    """argparse would read `--seed 3` as `--seeds 3` and start 3 seeds: an unknown flag instead, one line naming
    the flag it resembles, exit 2, nothing written."""
    env = dict(os.environ, PYTHONPATH=ROOT, PADDLE_CNN_PROFILE="smoke")
    logs = tmp_path / "logs"
    for argv, hint in ((["--seed", "3"], "--seeds"), (["--retrain-all"], "--retrain"), (["--frobnicate"], None),
                       (["--log", str(logs)], "--logdir")):
        p = subprocess.run([sys.executable, "-m", "paddle_cnn", "run", "pool-vs-stride", "--logdir", str(logs), *argv],
                           capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 2 and p.stdout == "", p.stderr
        [line] = p.stderr.strip().splitlines()
        assert line.startswith(f"paddle-cnn: error: unrecognized arguments: {argv[0]}")
        assert (f"did you mean {hint}?" in line) if hint else "did you mean" not in line
        assert not logs.exists()


def test_module_entry_point_subprocess():
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-m", "paddle_cnn", "summary", "convpool3", "--input", "3x8x8"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("paddle-cnn: error: layer 'features.3'")


def test_data_command(capsys, tmp_path):
    code, out, _ = run(capsys, "data", "mnist-5k")
    assert code == 0 and "train   4000 images 1x28x28" in out
    code, out, err = run(capsys, "data", "caltech16", "--data-dir", str(tmp_path))
    assert code == 2 and out == "" and "no Caltech-101 data under" in err and err.count("\n") == 1


def test_data_command_offline_fails_fast(capsys, tmp_path, monkeypatch):
    """No network: one line naming the missing file and how to get it, within seconds."""
    import time
    from paddle_cnn.data import mnist
    monkeypatch.setattr(mnist, "_paddle_urls", lambda: {f: ("http://127.0.0.1:9/" + f, "0" * 32)
                                                        for pair in mnist.FILES.values() for f in pair})
    t = time.time()
    code, _, err = run(capsys, "data", "mnist", "--data-dir", str(tmp_path))
    assert code == 2 and time.time() - t < 30
    assert "train-images-idx3-ubyte.gz is missing and could not be downloaded" in err


def test_truncated_tarball_via_cli(capsys, tmp_path):
    from paddle_cnn.data.fake import make_cifar_tarball
    path = make_cifar_tarball(str(tmp_path))
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[:-300])
    code, out, err = run(capsys, "data", "cifar10", "--data-dir", str(tmp_path))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "cifar-10-python.tar.gz" in err and ("checksum" in err or "truncated" in err)
