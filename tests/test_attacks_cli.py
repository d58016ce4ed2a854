"""Attacks on the CLI itself (issue 15): layer tables of inputs and heads too large for memory are refused from
their shapes before anything is allocated, under an operating-system memory limit; paddle's multi-line errors
reach the user as their one message line; every flag an error or help text suggests exists."""
import ast
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacks import PEAK_BOUND_MB, ROOT, cli, cli_bounded, refused  # noqa: E402

from paddle_cnn.arithmetic import tables  # noqa: E402


@pytest.mark.parametrize("argv, words", [
    (("summary", "lenet", "--input", "3x100000x100000"), ("lenet at 3x100000x100000", "the input alone is 111.8 GB",
                                                         "choose a smaller --input")),
    (("summary", "vgg16", "--num-classes", "10000000"), ("vgg16 at 3x224x224 with 10,000,000 classes",
                                                         "weights 153.1 GB", "--num-classes")),
])
def test_a_layer_table_too_large_for_memory_is_one_line_within_the_bound(argv, words):
    o = cli_bounded(*argv, timeout=90)
    refused(o, *words)
    assert o.peak_mb < PEAK_BOUND_MB, f"peak {o.peak_mb:.0f} MB"


def test_activations_alone_can_exceed_the_bound():
    """An input whose weights are small but whose activations are not (GoogLeNet's head is global-pooled)."""
    o = cli("summary", "googlenet", "--input", "3x12000x12000")
    line = refused(o, "googlenet at 3x12000x12000", "largest activations", "choose a smaller --input")
    assert "weights 0.0 GB" in line


def test_the_bound_is_the_estimate(monkeypatch):
    """At the estimate the table is made; one byte less and it is refused (the check can fail both ways)."""
    need = tables.check_memory("lenet", (1, 28, 28), num_classes=10, in_channels=1, input_size=(28, 28))
    assert need["weights"] == 61_706 * 4 and need["input"] == 28 * 28 * 4
    assert need["activations"] == 2 * 6 * 28 * 28 * 4  # the two largest outputs: conv1 (padding 2) and its ReLU
    monkeypatch.setattr(tables, "summary_memory_bound", lambda: need["total"])
    assert cli("summary", "lenet").code == 0
    monkeypatch.setattr(tables, "summary_memory_bound", lambda: need["total"] - 1)
    refused(cli("summary", "lenet"), "lenet at 1x28x28", "more than the 0.0 GB a layer table may use")


def test_the_estimate_bounds_what_a_table_really_takes():
    """Peak resident memory of `summary vgg16` above `summary lenet`'s is within the estimate of vgg16 (+ 50%:
    paddle's allocator rounds up; 647 MB for an estimate of 537 MB here), so the bound refuses what would not fit and lets through what does."""
    small, large = cli_bounded("summary", "lenet"), cli_bounded("summary", "vgg16")
    assert small.code == 0 and large.code == 0, large.err[-1000:]
    est = tables.check_memory("vgg16", (3, 224, 224), num_classes=10)["total"] / 2**20
    grew = large.peak_mb - small.peak_mb
    print(f"vgg16 table: resident memory grew {grew:.0f} MB, estimate {est:.0f} MB")
    assert est * 0.5 < grew < est * 1.5, (grew, est)


def test_paddles_error_reaches_the_user_as_its_message_line():
    from paddle_cnn.text import error_line
    cpp = RuntimeError("\n\n------------------\nC++ Traceback (most recent call last):\n------------------\n0   phi::Alloc"
                       "\n\n----------------------\nError Message Summary:\n----------------------\n"
                       "ResourceExhaustedError: \n\nOut of memory error on CPU. Cannot allocate 37 GB memory.\n"
                       "  [Hint: p should not be null.] (at /paddle/paddle/phi/core/memory/allocation.cc:88)\n")
    assert error_line(cpp) == "ResourceExhaustedError: Out of memory error on CPU. Cannot allocate 37 GB memory."
    import paddle
    try:
        paddle.reshape(paddle.zeros([6]), [4])
    except ValueError as e:
        line = error_line(e)
    assert line.startswith("(InvalidArgument) The 'shape' in ReshapeOp is invalid") and "Hint" not in line


def _cli_flags() -> set:
    from paddle_cnn.cli import build_parser
    parser, flags = build_parser(), set()
    for action in parser._actions:
        flags.update(action.option_strings)
        for sub in getattr(action, "choices", None) or {}:
            flags.update(s for a in action.choices[sub]._actions for s in a.option_strings)
    return flags


OTHER_TOOLS = {"--language", "--disable-telemetry",  # visualdl, as the README and results name it
               "--nbmake"}  # pytest's plugin


def test_every_flag_a_message_suggests_exists():
    """Each `--flag` in any string of the package is one of the CLI's options (or of the tool it names): an error
    never suggests a flag that does not exist."""
    import re
    flags, unknown = _cli_flags() | OTHER_TOOLS, []
    for base, _, files in os.walk(os.path.join(ROOT, "paddle_cnn")):
        for name in (f for f in files if f.endswith(".py")):
            path = os.path.join(base, name)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    unknown += [f"{os.path.relpath(path, ROOT)}: {m}" for m in re.findall(r"--[a-z][a-z0-9-]+",
                                                                                         node.value)
                                if m not in flags]
    assert not unknown, unknown
    assert "--device" not in flags  # the case that was suggested once: the variable is PADDLE_CNN_DEVICE
