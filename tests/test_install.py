"""Install files checked by pip's own resolver (`pip install --dry-run --report`, package metadata only): the GPU
environment (environment.yml's pip section) and this package. paddle 2.6 breaks on numpy 2, and a paddle build
pulled in by this package would overwrite the user's paddlepaddle-gpu (both provide the `paddle` module)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pip_section(path=os.path.join(ROOT, "environment.yml")) -> list[str]:
    """The requirement lines under `- pip:` of a conda environment file (the file's only nested list)."""
    lines, inside = [], False
    with open(path, encoding="utf-8") as f:
        for raw in f:
            text = raw.split("#", 1)[0].rstrip()
            if text.strip() == "- pip:":
                inside = True
            elif inside and text.startswith("      - "):
                lines.append(text.strip()[2:].strip())
            elif inside and text.strip():
                inside = False
    return lines


def resolve(requirements: list[str], tmp_path) -> dict:
    """{distribution name: version} that pip's resolver picks for a fresh environment (nothing installed)."""
    report = tmp_path / f"report-{len(list(tmp_path.iterdir()))}.json"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--disable-pip-version-check", "--report", str(report), *requirements],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    if proc.returncode and any(w in proc.stderr for w in ("NewConnectionError", "Temporary failure in name",
                                                          "Network is unreachable")):
        pytest.skip(f"the package index cannot be reached: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(report.read_text())
    return {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"] for i in data["install"]}


def paddle_numpy_conflict(picked: dict) -> str | None:
    """Why a resolved set cannot work: a paddle below 3 with numpy 2 (None: it can)."""
    paddle = picked.get("paddlepaddle-gpu") or picked.get("paddlepaddle")
    numpy = picked.get("numpy")
    if paddle and numpy and int(paddle.split(".")[0]) < 3 and int(numpy.split(".")[0]) >= 2:
        return f"paddle {paddle} with numpy {numpy}: paddle 2.x breaks on numpy 2"
    return None


def test_the_gpu_environment_resolves_to_paddle_26_with_numpy_1(tmp_path):
    """environment.yml's pip section and this package, resolved together as `conda env create` + `pip install
    -e ".[dev]"` install them: paddlepaddle-gpu 2.6 comes with a numpy below 2, and this package pulls no CPU paddle
    build beside it (both would provide the `paddle` module)."""
    section = pip_section()
    assert any(r.startswith("paddlepaddle-gpu") for r in section) and any(r.startswith("numpy") for r in section)
    picked = resolve([*section, ".[dev]"], tmp_path)
    assert picked["paddlepaddle-gpu"].startswith("2.6."), picked.get("paddlepaddle-gpu")
    assert paddle_numpy_conflict(picked) is None, paddle_numpy_conflict(picked)
    assert "paddlepaddle" not in picked and picked["paddle-cnn"]


@pytest.mark.parametrize("picked, verdict", [
    # what the earlier pip section (paddlepaddle-gpu>=2.6.2,<3.4 beside numpy>=1.24) resolved to on the public
    # index, Nov 2026: the rule must refuse it
    ({"paddlepaddle-gpu": "2.6.2", "numpy": "2.4.6"}, "paddle 2.6.2 with numpy 2.4.6: paddle 2.x breaks on numpy 2"),
    ({"paddlepaddle": "2.6.1", "numpy": "2.0.0"}, "paddle 2.6.1 with numpy 2.0.0: paddle 2.x breaks on numpy 2"),
    ({"paddlepaddle-gpu": "2.6.2", "numpy": "1.26.4"}, None),
    ({"paddlepaddle-gpu": "3.3.1", "numpy": "2.4.6"}, None),
    ({"numpy": "2.4.6"}, None),
])
def test_the_rule_refuses_paddle_2_with_numpy_2(picked, verdict):
    assert paddle_numpy_conflict(picked) == verdict


def test_without_paddle_the_cli_says_what_to_install(monkeypatch, capsys):
    import importlib.util

    from paddle_cnn.cli import main
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "paddle" else real(name, *a))
    assert main(["list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("paddle-cnn: error: paddle is not installed: pip install 'paddle-cnn[cpu]' for the CPU build, or "
                   "on a GPU paddlepaddle-gpu (docs/gpu.md)")
