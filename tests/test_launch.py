"""Data-parallel training on the CPU (gloo), as users start it: `paddle.distributed.spawn`,
`python -m paddle.distributed.launch` (one node, 2 processes), the multi-node form (two launchers, --nnodes 2,
one process each, on this machine), and the CLI under the launcher. The global batch is the configured batch:
each rank takes its share, so the learning rate needs no scaling and the result equals one process's."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import paddle
import pytest

import dp_worker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "dp_launch.py")


def _launch(out, *args, nodes=None):
    """`python -m paddle.distributed.launch ARGS tests/dp_launch.py OUT`; nodes: that many launchers started
    together with --nnodes, one process each, meeting at a master on this machine."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("PADDLE_TRAINER_ID", None)
    if nodes:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = ("--master", f"127.0.0.1:{port}", "--nnodes", str(nodes), "--nproc_per_node", "1")
    procs = [subprocess.Popen([sys.executable, "-m", "paddle.distributed.launch", *args,
                               "--log_dir", str(out / f"launch-log-{i}"), *cmd], cwd=str(out), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i, cmd in enumerate([[SCRIPT, str(out)]] * (nodes or 1))]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for p, o in zip(procs, outs):
        logs = "".join(open(os.path.join(d, f)).read()[-2000:] for d in [str(out / "launch-log-0")]
                       for f in sorted(os.listdir(d)) if f.startswith("workerlog"))
        assert p.returncode == 0, o[-3000:] + logs
    return [np.load(out / f"rank{r}.npz") for r in (0, 1)]


@pytest.fixture(scope="module")
def spawned(tmp_path_factory):
    out = tmp_path_factory.mktemp("spawn")
    paddle.distributed.spawn(dp_worker.train_rank, args=(str(out), *dp_worker.images(), 32, 2), nprocs=2,
                             backend="gloo")
    return [np.load(out / f"rank{r}.npz") for r in (0, 1)]


def _weights(npz):
    return {k: npz[k] for k in npz.files if k not in ("world", "images_seen", "eval_acc", "train_loss")}


def test_spawn_two_gloo_ranks_match_one_process(spawned, tmp_path):
    """Two CPU processes (gloo) with global batch 32 end with equal weights, equal to one process at batch 32."""
    r0, r1 = spawned
    dp_worker.train_rank(str(tmp_path), *dp_worker.images(), 32, 2)
    s = np.load(tmp_path / "rank0.npz")
    assert int(r0["world"]) == int(r1["world"]) == 2 and int(s["world"]) == 1
    assert int(r0["images_seen"]) == int(r1["images_seen"]) == int(s["images_seen"]) // 2  # each rank its half
    for k in r0.files:
        if k in ("world", "images_seen"):
            continue
        assert np.array_equal(r0[k], r1[k]), k
        if k != "eval_acc":
            np.testing.assert_allclose(r0[k], s[k], rtol=1e-4, atol=1e-5, err_msg=k)
    assert np.array_equal(r0["eval_acc"], s["eval_acc"])


def test_launch_one_node_two_processes_ends_with_the_spawn_weights(spawned, tmp_path):
    """`python -m paddle.distributed.launch --nproc_per_node 2 script` (the README's one-node command, gloo on the
    CPU): both ranks end with the weights the spawn test's ranks end with, bit for bit."""
    l0, l1 = _launch(tmp_path, "--nproc_per_node", "2")
    assert int(l0["world"]) == 2
    for k, v in _weights(spawned[0]).items():
        assert np.array_equal(l0[k], v) and np.array_equal(l1[k], v), k


def test_launch_two_nodes_ends_with_the_spawn_weights(spawned, tmp_path):
    """The README's multi-node form: a launcher per node with --master HOST:PORT --nnodes 2 (here two launchers on
    this machine, one process each): the same weights as spawn's."""
    l0, l1 = _launch(tmp_path, nodes=2)
    assert int(l0["world"]) == int(l1["world"]) == 2
    for k, v in _weights(spawned[0]).items():
        assert np.array_equal(l0[k], v) and np.array_equal(l1[k], v), k


def test_the_cli_under_the_launcher_writes_one_set_of_results(tmp_path):
    """`python -m paddle.distributed.launch --nproc_per_node 2 $(which paddle-cnn) run ...`: rank 0 locks the
    folder and writes results, plots and logs; the histories equal one process's within float32 rounding (the
    gradients are averaged over the ranks), and no lock is left."""
    env = dict(os.environ, PYTHONPATH=ROOT, PADDLE_CNN_PROFILE="smoke")
    cli = os.path.join(os.path.dirname(sys.executable), "paddle-cnn")
    one = subprocess.run([cli, "run", "pool-vs-stride", "--seeds", "1", "--logdir", str(tmp_path / "one")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", str(tmp_path / "launch-log"), cli, "run", "pool-vs-stride", "--seeds", "1",
                          "--logdir", str(tmp_path / "two")], capture_output=True, text=True, env=env,
                         timeout=300, cwd=str(tmp_path))
    assert two.returncode == 0, two.stdout[-3000:]
    a, b = (json.loads((tmp_path / d / "pool-vs-stride" / "results.json").read_text()) for d in ("one", "two"))
    assert b["device"].endswith("x 2 data-parallel ranks")
    assert [r["run"] for r in a["runs"]] == [r["run"] for r in b["runs"]] == ["lenet-s0", "lenet_nopool-s0"]
    for ra, rb in zip(a["runs"], b["runs"]):
        np.testing.assert_allclose(rb["history"]["train_loss"], ra["history"]["train_loss"], rtol=1e-4)
        assert rb["history"]["eval_acc"] == ra["history"]["eval_acc"]
    folder = tmp_path / "two" / "pool-vs-stride"
    assert (folder / "results.md").exists() and (folder / "final.png").exists()
    assert not (folder / ".lock").exists() and not list(folder.glob("_generated_data*"))
    assert sorted(p.name for p in folder.glob("*/vdlrecords.*")) and \
        all(len(list(d.glob("vdlrecords.*"))) == 1 for d in folder.iterdir() if d.name.startswith("lenet"))
