"""A tiny `paddle-cnn bench`: every section measured and both files written."""
import json

from paddle_cnn.cli import main


def test_bench_tiny_writes_json_and_markdown(tmp_path, capsys):
    j, md = tmp_path / "b.json", tmp_path / "BENCHMARKS.md"
    md.write_text("# old\n\n## Levers\n\n1. a lever we measured\n")
    assert main(["bench", "--tiny", "--json", str(j), "--write", str(md)]) == 0
    r = json.loads(j.read_text())
    t = r["training"]  # every section measured: positive timings of both fits, the floor, each layer type
    assert t["hapi_s_per_epoch"] > 0 and t["ours_s_per_epoch"] > 0 and t["floor_s_per_epoch"] > 0
    assert "1" in t["hapi_s_per_epoch_by_threads"]  # paddle's own default, one thread, is always measured
    assert 0 <= t["hapi_test_acc"] <= 1 and 0 <= t["ours_test_acc"] <= 1
    for b in r["breakdown"]:  # every layer type of the model is timed, and the rest of the step
        assert {"Conv2D", "MaxPool2D"} <= {x["type"] for x in b["types"]} and b["types"][-1]["type"].startswith("rest")
        assert b["step_s"] > 0 and b["best_conv"]["gflops"] > 0
    assert len(r["matmul_peak_readings"]) == 4 and all(p > 0 for p in r["matmul_peak_readings"])
    assert [e["model"] for e in r["efficiency"]] == ["convpool3", "vgg16_cifar"]
    assert [m["model"] for m in r["models"]] == ["lenet", "convpool3"]
    assert r["demo_peak_rss_mb"]["exit_code"] == 0 and r["demo_peak_rss_mb"]["peak_rss_mb"] > 50
    b = r["blas"]  # lever 10 before/after: both kernels timed on both models, every convolution, a whole run
    assert [s["model"] for s in b["steps"]] == ["vgg16_cifar", "convpool3"]
    for s in b["steps"]:  # same weights, same loss, to float32 rounding
        assert s["paddle_s"] > 0 and s["blas_s"] > 0
        assert abs(s["loss_paddle"] - s["loss_blas"]) < 1e-3 * abs(s["loss_paddle"]) + 1e-4
    assert {x["rule"] for x in b["layers"]} <= {"paddle", "gemm", "blas"} and len(b["layers"]) == 16  # 13 + 3 convs
    assert [(p["experiment"], p["convolutions"]) for p in b["profiles"]] == [
        ("vgg16-cifar10", "numpy's BLAS"), ("vgg16-cifar10", "paddle's")]
    assert all(p["wall_s"] > p["train_s"] > 0 for p in b["profiles"])
    assert [x["model"] for x in b["threads"]] == ["lenet"] and b["threads"][0]["chosen"] == 1  # 8 x 0.4 M MACs
    busy = r["busy"]  # section 6: sections 1 and 5 again beside the bench's own load
    assert busy["processes"] == 1 and busy["training"]["speedup"] > 0 and len(busy["blas"]["layers"]) == 16
    text = md.read_text()
    assert "## 6. The same ratios on a busy machine (1 other CPU-bound process)" in text
    row = next(line for line in text.splitlines() if line.startswith("| our fit / paddle.Model.fit"))
    assert f"{t['speedup']:.4g}"[:4] in row and f"{busy['training']['speedup']:.4g}"[:4] in row
    assert "## 5. Convolutions on numpy's BLAS" in text and "rule_right" in text
    assert "Speed-up" in text and "matmul peak" in text and "Peak memory" in text and "Ceiling" in text
    assert "Fastest convolution" in text
    assert "**`--tiny`: a seconds-long check" in text  # it says its figures are no measurement
    assert f"with the `{b['rule']}` rule" in text
    assert text.endswith("## Levers\n\n1. a lever we measured\n") and "# old" not in text  # record kept


def test_amp_timing_switches_itself_off_on_the_cpu():
    """`--amp` timings are a GPU feature: on the CPU the same call runs in float32 instead of failing."""
    import paddle

    from paddle_cnn.bench import forward_backward_timing
    if paddle.get_device().startswith("gpu"):
        import pytest
        pytest.skip("checks the CPU fallback")
    r = forward_backward_timing("lenet", (1, 28, 28), 4, steps=1, burn_in=0, amp=True)
    assert r["forward s/batch"] > 0 and r["forward-backward s/batch"] > 0 and r["device"] == "cpu"


def _children(pid="self") -> list[int]:
    """Child processes of `pid` (the kernel's own list, whatever they run)."""
    import glob
    out = []
    for f in glob.glob(f"/proc/{pid}/task/*/children"):
        with open(f) as fh:
            out += [int(x) for x in fh.read().split()]
    return out


def _alive(pids) -> list[int]:
    import os
    alive = []
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().split()[2] != "Z":
                    alive.append(p)
        except OSError:
            pass
    return alive


def test_the_bench_load_is_cpu_bound_and_leaves_nothing_behind():
    """background_load's processes burn CPU while the block runs, are gone after it, and stop by themselves when
    the process that started them is killed (SIGKILL: no finally runs)."""
    import subprocess
    import sys
    import time

    from paddle_cnn.bench import background_load
    before = set(_children())
    with background_load(2) as n:
        pids = [p for p in _children() if p not in before]
        assert n == 2 and len(pids) == 2
        t0 = [int(open(f"/proc/{p}/stat").read().split()[13]) for p in pids]  # user CPU ticks
        time.sleep(1.0)
        t1 = [int(open(f"/proc/{p}/stat").read().split()[13]) for p in pids]
        assert all(b - a >= 20 for a, b in zip(t0, t1)), (t0, t1)  # busy: at least 0.2 s of CPU in 1 s
    assert _alive(pids) == []
    code = ("import glob, os, signal, time\nfrom paddle_cnn.bench import background_load\n"
            "with background_load(1):\n    time.sleep(0.5)\n"
            "    print(*[c for f in glob.glob('/proc/self/task/*/children') for c in open(f).read().split()], "
            "flush=True)\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    p = subprocess.run([sys.executable, "-c", code], timeout=120, capture_output=True, text=True)
    assert p.returncode == -9
    orphans = [int(x) for x in p.stdout.split()]
    assert len(orphans) == 1
    deadline = time.time() + 10
    while _alive(orphans) and time.time() < deadline:
        time.sleep(0.2)
    assert _alive(orphans) == []
