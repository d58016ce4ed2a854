"""`paddle-cnn bench`: the performance measurements, every figure that matters a ratio taken in one process.

1. our fit against paddle.Model.fit (hapi) on LeNet / mnist-5k, and the floor of bare train steps;
2. achieved GFLOP/s of train steps against numpy's matmul peak, with a per-layer breakdown;
3. article 004's forward / forward-backward benchmark for every model (experiments/timing.py);
4. peak memory of the main job;
5. convolutions on numpy's BLAS before and after, and the thread count of a step (one or all cores for both
   thread pools);
6. the ratios of 1 and 5 again beside a CPU-bound load the bench starts and stops itself (`background_load`):
   most CPU users share their cores."""
from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import paddle

from paddle_cnn.device import SMALL_STEP_MACS, available_cores, cpu_info, cpu_threads, is_gpu, omp_blocktime, \
    seed_everything, threads_for_step
from paddle_cnn.experiments.timing import forward_backward_timing, model_and_macs as _model_and_macs, \
    timings as _timings
from paddle_cnn.training.cpu_kernels import cpu_kernels


# ---------------------------------------------------------------- `paddle-cnn bench`: ratios taken in one process

def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """float32 matrix-multiply rate of this machine (numpy, best of `repeats`), the reference for efficiency."""
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    return 2 * n ** 3 / min(_timings(lambda: a @ b, repeats)) / 1e9


def train_step_gflops(name: str, batch_size: int = 128, steps: int = 5, input_shape=(3, 32, 32)) -> dict:
    """Achieved GFLOP/s of full train steps (forward, backward, Momentum update) on random data:
    MACs x 2 x 3 per image. Run with the CPU threads fit would use (device.threads_for_step)."""
    model, macs = _model_and_macs(name, input_shape)
    step = _train_step(model, paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9,
                                                        parameters=model.parameters()), batch_size, input_shape)
    threads = threads_for_step(macs * batch_size)
    with cpu_threads(threads):
        seconds = min(_timings(step, steps))
    return {"model": name, "batch": batch_size, "threads": threads, "seconds_per_step": seconds,
            "gflops": 6 * macs * batch_size / seconds / 1e9}


def layer_breakdown(name: str, batch_size: int = 128, input_shape=(3, 32, 32), steps: int = 2) -> dict:
    """Where a train step's time goes: every layer of `name` timed alone (forward + backward at its own input
    shape and batch), summed by layer type, next to the whole step (forward, backward, Momentum update).

    Returns {"step_s", "types": [{"type", "seconds", "share_of_step", "gflops"}], "best_conv": {...}}; the
    remainder (step minus the layers) is the loss, optimizer and framework. GFLOP/s = 6 x MACs x batch / s."""
    model, macs = _model_and_macs(name, input_shape)
    with cpu_threads(threads_for_step(macs * batch_size)):  # the threads the whole step runs with
        by_type, best = _time_layers(model, name, input_shape, batch_size, steps)
    step = train_step_gflops(name, batch_size, steps, input_shape)["seconds_per_step"]
    types = [{"type": k, "seconds": v[0], "share_of_step": v[0] / step,
              "gflops": 6 * v[1] * batch_size / v[0] / 1e9 if v[1] else None}
             for k, v in sorted(by_type.items(), key=lambda kv: -kv[1][0])]
    rest = step - sum(v[0] for v in by_type.values())
    types.append({"type": "rest (loss, optimizer, framework)", "seconds": rest, "share_of_step": rest / step,
                  "gflops": None})
    return {"model": name, "batch": batch_size, "step_s": step, "types": types, "best_conv": best}


def _time_layers(model, name, input_shape, batch_size, steps):
    """{layer type: [seconds, MACs]} summed over the model's layers, and the fastest convolution."""
    from paddle_cnn.arithmetic.tables import layer_table
    layers = dict(model.named_sublayers())
    rows = layer_table(model, input_shape, name)
    model.train()
    by_type: dict[str, list[float]] = {}
    best = None
    with cpu_kernels(model, enabled=not is_gpu(), blas_conv=None):  # each layer as fit runs it
        best = _time_rows(rows, layers, batch_size, steps, by_type)
    return by_type, best


def _time_rows(rows, layers, batch_size, steps, by_type):
    best = None
    for i, row in enumerate(rows):
        if not row.output_shape or row.name not in layers:
            continue
        layer = layers[row.name]
        x = paddle.randn([batch_size, *row.input_shape])
        x.stop_gradient = i == 0  # the images need no gradient; every later activation does
        g = paddle.ones([batch_size, *row.output_shape])

        def fwd_bwd():
            paddle.autograd.backward([layer(x)], [g])
            layer.clear_gradients()
        t = min(_timings(fwd_bwd, steps))
        by_type.setdefault(row.type, [0.0, 0.0])
        by_type[row.type][0] += t
        by_type[row.type][1] += row.macs
        if row.macs and row.type == "Conv2D":
            gf = 6 * row.macs * batch_size / t / 1e9
            if best is None or gf > best["gflops"]:
                best = {"layer": row.name, "config": row.config, "input": "x".join(map(str, row.input_shape)),
                        "gflops": gf}
    return best


def blas_train_steps(name: str, batch_size: int = 128, rounds: int = 3, steps: int = 2,
                     input_shape=(3, 32, 32)) -> dict:
    """Lever 10 before and after in one process: train steps (forward, backward, Momentum update) of `name` on one
    random batch with paddle's convolutions (blas_conv=False: levers 1-3 and 9 only) and with numpy's BLAS where
    the rule picks it, alternated `rounds` times on the same model; the best step of each. Also the test that
    matters for training: both give the same loss on the same batch (to float32 rounding)."""
    from paddle_cnn.training.loop import train_step
    model, macs = _model_and_macs(name, input_shape)
    opt = paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9, parameters=model.parameters())
    x = paddle.randn([batch_size, *input_shape])
    y = paddle.randint(0, 10, [batch_size])
    model.train()
    threads = threads_for_step(macs * batch_size)
    times = {False: [], True: []}
    with cpu_threads(threads):
        for _ in range(rounds):
            for blas in (False, True):
                with cpu_kernels(model, True, blas):
                    times[blas] += _timings(lambda: train_step(model, opt, x, y), steps)
        losses = {}
        for blas in (False, True):  # the loss of one forward pass each way (eval mode), weights unchanged
            with cpu_kernels(model, True, blas), paddle.no_grad(), _eval(model):
                losses[blas] = float(paddle.nn.functional.cross_entropy(model(x), y))
    return {"model": name, "batch": batch_size, "threads": threads, "paddle_s": min(times[False]),
            "blas_s": min(times[True]), "speedup": min(times[False]) / min(times[True]),
            "gflops_blas": 6 * macs * batch_size / min(times[True]) / 1e9,
            "loss_paddle": losses[False], "loss_blas": losses[True]}


THREAD_CASES = (("lenet", (1, 28, 28), 64), ("convpool3", (3, 32, 32), 128), ("alexnet", (3, 64, 64), 64),
                ("vgg16_cifar", (3, 32, 32), 128))  # the demo's, bn-ablation's, alexnet-mnist quick's, vgg16's


def thread_choice_steps(cases=THREAD_CASES, rounds: int = 3, steps: int = 2) -> list[dict]:
    """Is a step of this size faster on one thread for both pools (paddle's OpenMP and numpy's BLAS) or on all
    cores? Train steps with fit's CPU kernels (the BLAS convolution where the rule picks it), 1 thread and all
    cores alternated `rounds` times in this process, the best step of each; `chosen` is device.threads_for_step's
    pick, `choice_right` whether it is the faster or the two are within 10%."""
    from paddle_cnn.training.loop import train_step
    rows = []
    cores = available_cores()
    for name, shape, batch in cases:
        model, macs = _model_and_macs(name, shape)
        opt = paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9, parameters=model.parameters())
        x, y = paddle.randn([batch, *shape]), paddle.randint(0, 10, [batch])
        model.train()
        times = {1: [], cores: []}
        for _ in range(rounds):
            for n in times:  # as fit runs them: its kernels, paddle's OpenMP threads not spinning after each
                with cpu_threads(n), cpu_kernels(model, True, None):
                    times[n] += _timings(lambda: train_step(model, opt, x, y), steps)
        best = {n: min(t) for n, t in times.items()}
        chosen = threads_for_step(macs * batch)
        rows.append({"model": name, "input": "x".join(map(str, shape)), "batch": batch,
                     "step_gmacs": macs * batch / 1e9, "s_1_thread": best[1], f"s_{cores}_threads": best[cores],
                     "one/all": best[1] / best[cores], "chosen": chosen,
                     "choice_right": best[chosen] <= 1.1 * min(best.values())})
    return rows


BUSY = "import os, time\nparent, end = os.getppid(), time.time() + {seconds}\n" \
       "while time.time() < end and os.getppid() == parent:\n    sum(range(10_000))\n"


@contextlib.contextmanager
def background_load(processes: int | None = None, seconds: float = 3 * 3600):
    """A busy machine for the block: `processes` CPU-bound Python processes (default: one per core less one, at
    least one: one other job on 2 cores), stopped when the block ends. Each also stops by itself after `seconds`
    or when its parent is gone, so a killed bench leaves no load behind. Yields the number of processes."""
    n = max(1, available_cores() - 1) if processes is None else processes
    procs = [subprocess.Popen([sys.executable, "-c", BUSY.format(seconds=float(seconds))], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]
    try:
        time.sleep(0.5)  # running before the first measurement
        yield n
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


@contextlib.contextmanager
def _eval(model):
    """The model in eval mode for the block (dropout off, BatchNorm on its running statistics)."""
    model.eval()
    try:
        yield
    finally:
        model.train()


def conv_kernels(name: str, input_shape, batch_size: int, steps: int = 2) -> list[dict]:
    """Every convolution of `name` timed alone (forward + backward at its own input, this batch, paddle's threads
    as fit would choose them for the model: device.threads_for_step) with paddle's
    kernel (as fit ran it before lever 10: bias as [C,1,1], the batch GEMM for tiny maps) and on numpy's BLAS,
    alternately in this process; with the kernel cpu_kernels' rule picks for it. The rule is right for a shape
    when it picks the faster (within 10%); the table says so per layer, so a user of another CPU can check it."""
    from paddle_cnn.arithmetic.tables import layer_table
    from paddle_cnn.training.cpu_kernels import apply_cpu_kernels
    model, macs = _model_and_macs(name, input_shape)
    layers = dict(model.named_sublayers())
    apply_cpu_kernels(model, blas_conv=False)
    with cpu_threads(threads_for_step(macs * batch_size)):  # paddle's threads as fit would run this model
        return _conv_rows(name, model, layers, layer_table(model, input_shape, name), batch_size, steps)


def _conv_rows(name, model, layers, table, batch_size, steps):
    from paddle_cnn.training.cpu_kernels import BlasConv, FastConv2D, _pair
    rows = []
    for i, row in enumerate(table):
        layer = layers.get(row.name)
        if not isinstance(layer, FastConv2D) or not row.macs:
            continue
        x = paddle.randn([batch_size, *row.input_shape])
        x.stop_gradient = i == 0
        g = paddle.randn([batch_size, *row.output_shape])
        blas = lambda: BlasConv.apply(x, layer.weight, layer.bias, _pair(layer._stride), _pair(layer._padding))

        def run(forward):
            paddle.autograd.backward([forward()], [g])
            layer.clear_gradients()
        t_paddle, t_blas = [], []
        run(lambda: layer(x)), run(blas)  # burn-in
        for _ in range(steps):  # each as fit runs it: lever 10 with paddle's OpenMP threads not spinning
            t_paddle += _timings(lambda: run(lambda: layer(x)), 1, burn_in=0)
            with omp_blocktime(0):
                time.sleep(0.25)  # threads already spinning keep their 200 ms deadline: let them go to sleep
                t_blas += _timings(lambda: run(blas), 1, burn_in=0)
        layer.blas = True
        choice = layer.kernel_for(x.shape)
        layer.blas = False
        ratio = min(t_paddle) / min(t_blas)
        rows.append({"model": name, "layer": row.name, "config": row.config,
                     "input": f"{batch_size}x" + "x".join(map(str, row.input_shape)), "macs": row.macs * batch_size,
                     "paddle_ms": min(t_paddle) * 1e3, "blas_ms": min(t_blas) * 1e3, "paddle/blas": ratio,
                     "rule": choice, "rule_right": (choice == "blas") == (ratio > 1) or 0.9 <= ratio <= 1.1})
    return rows


@contextlib.contextmanager
def _env(name: str, value: str):
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _profile_data(name: str, profile: str) -> tuple[str | None, str]:
    """(data_dir, what it holds) for timing `name` under `profile`: the user's data where it is present, else
    generated files in the real format at the profile's size (timing does not depend on the pixels)."""
    from paddle_cnn.data import default_data_dir
    from paddle_cnn.data.cifar import TARBALL
    from paddle_cnn.experiments.definitions import get_experiment
    exp = get_experiment(name)
    dataset = exp.profiles.get(profile, {}).get("dataset", exp.dataset)
    if dataset != "cifar10" or os.path.isfile(os.path.join(default_data_dir(), TARBALL)):
        return None, f"{dataset} as the run finds it (mnist-5k: the embedded digits)"
    from paddle_cnn.data import fake
    folder = _tmpdir()
    sizes = exp.profiles.get(profile, {})
    per_batch = max(math.ceil(sizes.get("train_subset", 50_000) / 5), sizes.get("test_subset", 10_000))
    fake.make_cifar_tarball(folder, per_batch=per_batch)
    return folder, f"generated CIFAR-10 files, {per_batch} images per batch file"


def profile_wall_times(experiments, profile: str, seeds: int = 1) -> list[dict]:
    """Each experiment run whole under `profile` (run_experiment, fresh log folder), first with paddle's
    convolutions (PADDLE_CNN_BLAS_CONV=0), then with lever 10 on, in this process: wall seconds, training
    seconds and test accuracy of each run."""
    import shutil

    from paddle_cnn.experiments.runner import run_experiment
    from paddle_cnn.training.cpu_kernels import BLAS_ENV
    rows = []
    for name in experiments:
        data_dir, data = _profile_data(name, profile)
        for blas in ("1", "0"):  # lever 10 first: it pays the process's warm-up, so its gain is not flattered
            logdir = _tmpdir()
            with _env(BLAS_ENV, blas):
                t0 = time.perf_counter()
                r = run_experiment(name, profile, seeds, data_dir=data_dir, logdir=logdir, progress=False,
                                   log=lambda *a, **k: None)
                wall = time.perf_counter() - t0
            shutil.rmtree(logdir, ignore_errors=True)
            runs = r["runs"]
            rows.append({"experiment": name, "profile": profile, "data": data, "seeds": seeds,
                         "convolutions": "paddle's" if blas == "0" else "numpy's BLAS", "wall_s": wall,
                         "train_s": sum(x.get("train_seconds") or 0 for x in runs),
                         "test_acc": "; ".join(f"{x['run']} {x['test_acc']:.4f}" for x in runs)})
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def hapi_vs_fit(epochs: int = 3, batch_size: int = 64, seed: int = 0, train_limit: int | None = None) -> dict:
    """lenet on mnist-5k: our fit against paddle.Model.fit fed by paddle.io.DataLoader over
    paddle.vision.datasets.MNIST with ToTensor/Normalize (article 002's way). Same model, Adam 0.001, batch,
    epochs, seed. Seconds per epoch (training only) and test accuracy of both."""
    from paddle.vision import transforms as T
    from paddle.vision.datasets import MNIST

    from paddle_cnn.data import DeviceData, embedded_dir, load_dataset
    from paddle_cnn.data.mnist import FILES
    from paddle_cnn.models import create_model
    from paddle_cnn.training import TrainConfig, evaluate, fit
    from paddle_cnn.training.loop import step_threads
    files = {split: [os.path.join(embedded_dir(), f) for f in FILES[split]] for split in ("train", "test")}
    tf = T.Compose([T.ToTensor(), T.Normalize(mean=[0.1307], std=[0.3081])])
    train_ds = MNIST(image_path=files["train"][0], label_path=files["train"][1], mode="train", transform=tf,
                     download=False)
    test_ds = MNIST(image_path=files["test"][0], label_path=files["test"][1], mode="test", transform=tf,
                    download=False)
    if train_limit:
        train_ds = paddle.io.Subset(train_ds, list(range(train_limit)))
    hapi = {}  # threads -> (s/epoch, test acc): paddle's default (1 thread) and all cores; the faster is compared
    for threads in sorted({1, available_cores()}):
        with cpu_threads(threads):
            seed_everything(seed)
            net = create_model("lenet")
            hmodel = paddle.Model(net)
            hmodel.prepare(paddle.optimizer.Adam(learning_rate=1e-3, parameters=hmodel.parameters()),
                           paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy())
            t0 = time.perf_counter()
            # the same CPU kernels as our fit (like for like: the loops are compared, not the layers); hapi's own
            # to_tensor(tensor) copy warning, once per batch, silenced
            with cpu_kernels(net, enabled=not is_gpu(), blas_conv=None), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="To copy construct from a tensor")
                hmodel.fit(train_ds, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, num_workers=0)
            hapi[threads] = ((time.perf_counter() - t0) / epochs,
                             float(hmodel.evaluate(test_ds, batch_size=500, verbose=0)["acc"]))
    hapi_threads = min(hapi, key=lambda k: hapi[k][0])
    hapi_s, hapi_acc = hapi[hapi_threads]

    d = load_dataset("mnist-5k")
    train = d["train"].subset(train_limit) if train_limit else d["train"]
    seed_everything(seed)
    model = create_model("lenet")
    h = fit(model, train, None, TrainConfig(epochs=epochs, batch_size=batch_size, lr=1e-3, seed=seed), progress=False,
            log=lambda *a: None)
    ours_s = float(np.mean(h["seconds"]))
    ours_acc = evaluate(model, DeviceData(d["test"]))["acc"]
    ours_threads = step_threads(model, (1, 28, 28), batch_size)
    with cpu_threads(ours_threads):
        floor = kernel_floor("lenet", (1, 28, 28), batch_size, math.ceil(len(train) / batch_size), epochs)
    return {"epochs": epochs, "batch": batch_size, "train_images": len(train), "hapi_s_per_epoch": hapi_s,
            "hapi_threads": hapi_threads, "hapi_s_per_epoch_by_threads": {k: v[0] for k, v in hapi.items()},
            "ours_s_per_epoch": ours_s, "ours_threads": ours_threads, "floor_s_per_epoch": floor,
            "speedup": hapi_s / ours_s, "speedup_ceiling": hapi_s / floor, "hapi_test_acc": hapi_acc,
            "ours_test_acc": ours_acc}


def kernel_floor(name: str, input_shape, batch_size: int, steps: int, epochs: int) -> float:
    """Seconds per epoch of `steps` bare train steps (forward, cross-entropy, backward, Adam) on one fixed batch
    already on the device, a fresh model, mean over `epochs` like the two fits: paddle's kernels alone, no data,
    metrics or logging. No training loop built on paddle's kernels can beat it, so hapi's s/epoch divided by it
    is the highest speed-up any such loop can reach."""
    from paddle_cnn.models import create_model
    model = create_model(name, in_channels=input_shape[0], input_size=input_shape[1:])
    step = _train_step(model, paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters()),
                       batch_size, input_shape)

    def epoch():
        for _ in range(steps):
            step()
    return float(np.mean(_timings(epoch, epochs, burn_in=0)))


def _train_step(model, opt, batch_size: int, input_shape, num_classes: int = 10):
    """A function doing one training step of fit (training.loop.train_step) on one fixed random batch, with the
    CPU kernels fit uses (left swapped in: the model is the benchmark's own)."""
    from paddle_cnn.training.cpu_kernels import apply_cpu_kernels
    from paddle_cnn.training.loop import train_step
    x = paddle.randn([batch_size, *input_shape])
    y = paddle.randint(0, num_classes, [batch_size])
    if not is_gpu():
        apply_cpu_kernels(model, blas_conv=None)
    model.train()
    return lambda: train_step(model, opt, x, y)


def peak_rss_mb_of(args: list[str]) -> tuple[int, float]:
    """Run `paddle-cnn ARGS` in a child process; (exit code, its peak resident memory in MB).

    Read from the child's own /proc/self/status VmHWM at its end: getrusage's children maxrss also counts the
    pages a forked child shares with its parent before exec, which here would be the benchmark's own models."""
    import subprocess
    import sys
    import tempfile
    fd, out = tempfile.mkstemp(suffix=".hwm")
    os.close(fd)
    code = ("import runpy, sys\n"
            f"sys.argv = ['paddle-cnn'] + {list(args)!r}\n"
            "rc = 0\n"
            "try:\n    runpy.run_module('paddle_cnn', run_name='__main__')\n"
            "except SystemExit as e:\n    rc = e.code or 0\n"
            "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
            f"open({out!r}, 'w').write(hwm)\n"
            "sys.exit(rc)\n")
    rc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    try:
        with open(out) as f:
            kb = float(f.read().strip() or 0)
    finally:
        os.remove(out)
    return rc, kb / 1024.0


PROFILE_EXPERIMENTS = ("vgg16-cifar10", "alexnet-mnist")  # the quick profiles lever 10 is for (convolution-bound)


def run_bench(tiny: bool = False, log=print, profiles=True, busy: bool = True) -> dict:
    """All measurements; tiny=True is the seconds-long version the tests run; profiles: the experiments whose
    whole quick-profile runs are timed before/after lever 10 (True: PROFILE_EXPERIMENTS; False: none; the
    longest part, ~20 minutes on 2 cores, as long again when busy); busy=False skips section 6 (sections 1 and 5
    again beside a CPU-bound load)."""
    profiles = PROFILE_EXPERIMENTS if profiles is True else tuple(profiles or ())
    import platform

    from paddle_cnn.models import list_models, model_spec
    out = {"tiny": tiny, "date": time.strftime("%Y-%m-%d"), "cores": available_cores(), "cpu": cpu_info("model name") or "unknown",
           "paddle": paddle.__version__, "python": platform.python_version(), "device": paddle.get_device()}
    log("1/6 our fit vs paddle.Model.fit (lenet, mnist-5k)")
    out["training"] = hapi_vs_fit(epochs=1 if tiny else 3, train_limit=256 if tiny else None)
    log("2/6 train-step GFLOP/s vs the matmul peak")
    # the shared machine's speed drifts within minutes (this peak read 160-310 GFLOP/s in different runs), so
    # it is measured before, between and after the train steps and the highest reading is the peak
    peaks = [matmul_peak_gflops(512 if tiny else 2048)]
    eff = []
    for name, batch, steps in (("convpool3", 8 if tiny else 128, 1 if tiny else 5),
                               ("vgg16_cifar", 4 if tiny else 128, 1 if tiny else 3)):
        eff.append(train_step_gflops(name, batch, steps))
        peaks.append(matmul_peak_gflops(512 if tiny else 2048))
    log("   where a step's time goes: every layer timed alone")
    out["breakdown"] = [layer_breakdown(name, batch, steps=1 if tiny else steps) for name, batch, steps in
                        (("convpool3", 8 if tiny else 128, 8), ("vgg16_cifar", 4 if tiny else 128, 2))]
    peaks.append(matmul_peak_gflops(512 if tiny else 2048))
    out["matmul_peak_readings"] = peaks
    out["matmul_peak_gflops"] = max(peaks)
    out["efficiency"] = [dict(r, fraction_of_peak=r["gflops"] / out["matmul_peak_gflops"]) for r in eff]
    log("3/6 forward and forward-backward per batch, every model at its native input")
    names = ["lenet", "convpool3"] if tiny else list_models()
    out["models"] = []
    gpu = is_gpu()
    for name in names:
        shape = model_spec(name).input_shape
        batch = 128 if gpu and not tiny else (2 if shape[1] >= 224 else 32)  # the article's 128 on a GPU
        row = forward_backward_timing(name, shape, batch, steps=1 if tiny else 2, burn_in=1)
        if gpu:  # and again under float16 autocast
            amp = forward_backward_timing(name, shape, batch, steps=1 if tiny else 2, burn_in=1, amp=True)
            row.update({f"AMP {k}": amp[k] for k in ("forward s/batch", "forward-backward s/batch")})
        out["models"].append(row)
    log("4/6 peak memory of the main job")
    from paddle_cnn.experiments.definitions import CPU_DEFAULT, FASTEST
    cmd = ["run", "pool-vs-stride", "--profile", FASTEST if tiny else CPU_DEFAULT, "--seeds", "1", "--logdir", _tmpdir()]
    rc, mb = peak_rss_mb_of(cmd)
    out["demo_peak_rss_mb"] = {"command": "paddle-cnn " + " ".join(cmd[:-2]), "exit_code": rc, "peak_rss_mb": mb}
    if not gpu:  # lever 10 is a CPU kernel
        out["blas"] = _blas_section(tiny, profiles, out["matmul_peak_gflops"], log)
    if busy:
        with background_load() as n:
            log(f"6/6 sections 1 and 5 again beside {n} CPU-bound process{'es' * (n > 1)} the bench started")
            out["busy"] = {"processes": n, "training": hapi_vs_fit(epochs=1 if tiny else 3,
                                                                   train_limit=256 if tiny else None)}
            if not gpu:  # (--tiny: without whole runs, which the idle part already checks)
                out["busy"]["blas"] = _blas_section(tiny, () if tiny else profiles, out["matmul_peak_gflops"], log)
    return out


def _blas_section(tiny: bool, profiles: tuple, peak: float, log) -> dict:
    """Section 5: lever 10 before and after (train steps, every convolution, whole quick-profile runs)."""
    from paddle_cnn.experiments.definitions import CPU_DEFAULT, FASTEST
    from paddle_cnn.training.blas_conv import CHUNK_BYTES
    from paddle_cnn.training.cpu_kernels import conv_rule_name
    log("5/6 convolutions on numpy's BLAS: before and after in this process")
    out = {"chunk_mb": CHUNK_BYTES / 2**20, "rule": conv_rule_name(), "steps": [
        blas_train_steps(name, 8 if tiny else 128, rounds=1 if tiny else 4, steps=1 if tiny else 2)
        for name in ("vgg16_cifar", "convpool3")]}
    for r in out["steps"]:
        r["fraction_of_peak"] = r["gflops_blas"] / peak
    out["layers"] = [row for name, shape, batch in
                     (("vgg16_cifar", (3, 32, 32), 8 if tiny else 128),
                      ("convpool3", (3, 32, 32), 8 if tiny else 128),
                      *([] if tiny else [("alexnet", (3, 64, 64), 64), ("googlenet", (3, 64, 64), 32)]))
                     for row in conv_kernels(name, shape, batch, steps=1 if tiny else 3)]
    log("   one thread or all cores for both pools, per step size")
    out["threads"] = thread_choice_steps((("lenet", (1, 28, 28), 8),) if tiny else THREAD_CASES,
                                         rounds=1 if tiny else 3, steps=1 if tiny else 2)
    if profiles:
        profile = FASTEST if tiny else CPU_DEFAULT
        log(f"   whole {profile}-profile experiments, numpy's BLAS then paddle's convolutions")
        out["profiles"] = profile_wall_times(("vgg16-cifar10",) if tiny else profiles, profile)
    return out


def _tmpdir() -> str:
    import tempfile
    return tempfile.mkdtemp(prefix="paddle-cnn-bench-")


def _breakdown_lines(b: dict, peak: float) -> list[str]:
    from paddle_cnn.text import Table
    best = b["best_conv"]
    rows = [dict(t, gflops=t["gflops"] or "", fraction_of_peak=t["gflops"] / peak if t["gflops"] else "")
            for t in b["types"]]
    return [f"Where a {b['model']} train step (batch {b['batch']}, {b['step_s']:.3g} s) goes, every layer timed "
            "alone (forward + backward) and summed by type; 'rest' is the step minus the layers (negative: "
            "timing noise):", "",
            Table(rows, ["type", "seconds", "share_of_step", "gflops", "fraction_of_peak"]).to_markdown(), "",
            *([f"Fastest convolution: {best['layer']} ({best['config']}, input {best['input']}) at "
               f"{best['gflops']:.1f} GFLOP/s = {best['gflops'] / peak:.2f} of the peak.", ""] if best else [])]


def bench_markdown(r: dict) -> str:
    from paddle_cnn.text import Table
    t = r["training"]
    eff = r["efficiency"]
    lines = ["# Benchmarks", "",
             f"Measured {r['date']} on {r['cores']} cores ({r['cpu']}), paddle {r['paddle']}, python {r['python']}, "
             f"device {r['device']}, by `paddle-cnn bench`. Every figure that matters is a ratio taken in one "
             "process, so the shared machine's noise cancels.", "",
             *(["**`--tiny`: a seconds-long check that the bench runs (small batches, a step or a few each, the smoke "
                "profile). Its figures are not measurements: run `paddle-cnn bench` without --tiny for those.**",
                ""] if r.get("tiny") else []),
             "## 1. Our fit vs paddle.Model.fit (goal: at least 3x faster)", "",
             f"lenet on mnist-5k ({t['train_images']} training images), Adam 0.001, batch {t['batch']}, "
             f"{t['epochs']} epoch{'s' * (t['epochs'] != 1)}, same seed.", "",
             Table([{"": f"paddle.Model.fit + DataLoader(MNIST, ToTensor, Normalize), {k} thread(s)",
                     "s/epoch": v, "test acc": t["hapi_test_acc"] if int(k) == int(t["hapi_threads"]) else ""}
                    for k, v in t["hapi_s_per_epoch_by_threads"].items()] +
                   [{"": f"paddle_cnn fit (device-resident data), {t['ours_threads']} thread(s)",
                     "s/epoch": t["ours_s_per_epoch"], "test acc": t["ours_test_acc"]},
                    {"": "floor: bare train steps on one fixed batch (paddle's kernels alone)",
                     "s/epoch": t["floor_s_per_epoch"], "test acc": ""}], ["", "s/epoch", "test acc"]).to_markdown(),
             "",
             f"**Speed-up over the faster paddle.Model.fit ({t['hapi_threads']} thread(s)): {t['speedup']:.2f}x** "
             f"(goal 3x: {'met' if t['speedup'] >= 3 else 'not met'}). Ceiling for any loop over paddle's kernels "
             f"(hapi / floor): {t['speedup_ceiling']:.2f}x; our fit runs at {t['floor_s_per_epoch'] / t['ours_s_per_epoch']:.2f} "
             "of the floor's speed.", "",
             "## 2. Compute efficiency (goal: at least 0.5 of the matmul peak)", "",
             f"numpy float32 matmul peak (2048 x 2048, best of {len(r['matmul_peak_readings'])} readings taken "
             f"between the measurements below: {', '.join(f'{p:.0f}' for p in r['matmul_peak_readings'])}): "
             f"{r['matmul_peak_gflops']:.1f} GFLOP/s.", "",
             Table(eff, ["model", "batch", "threads", "seconds_per_step", "gflops", "fraction_of_peak"]).to_markdown(), "",
             *[line for b in r.get("breakdown", []) for line in _breakdown_lines(b, r["matmul_peak_gflops"])],
             "## 3. Forward and forward-backward per batch (article 004's benchmark)", "",
             Table(r["models"], ["model", "input", "batch", "forward s/batch", "forward-backward s/batch",
                                 "forward img/s", "forward-backward img/s", "forward GFLOP/s",
                                 "forward-backward GFLOP/s"] +
                   (["AMP forward s/batch", "AMP forward-backward s/batch"]
                    if r["models"] and "AMP forward s/batch" in r["models"][0] else [])).to_markdown(), "",
             "## 4. Peak memory of the main job (goal: at most 2 GB)", "",
             f"`{r['demo_peak_rss_mb']['command']}`: {r['demo_peak_rss_mb']['peak_rss_mb']:.0f} MB peak RSS "
             f"(exit code {r['demo_peak_rss_mb']['exit_code']}).", "", *_blas_lines(r), *_busy_lines(r)]
    return "\n".join(lines)


def profile_speedups(rows: list[dict]) -> dict:
    """{experiment: wall with paddle's convolutions / wall with lever 10} of profile_wall_times' rows."""
    wall = {(x["experiment"], x["convolutions"] == "paddle's"): x["wall_s"] for x in rows}
    return {e: wall[(e, True)] / wall[(e, False)] for e, paddle_convs in wall if not paddle_convs}


def busy_ratios(r: dict) -> list[dict]:
    """The ratios measured both idle and busy, side by side: [{"ratio", "idle", "busy"}] (busy '' if absent)."""
    def of(part):
        if not part:
            return {}
        out = {"our fit / paddle.Model.fit (speed-up)": part["training"]["speedup"]}
        b = part.get("blas")
        if b:
            for x in b["steps"]:
                out[f"{x['model']} train step, numpy's BLAS / paddle's convolutions"] = x["speedup"]
            out["convolutions where the rule picks the faster (of all timed)"] = \
                f"{sum(bool(x['rule_right']) for x in b['layers'])} of {len(b['layers'])}"
            out["steps whose thread count is the faster (of all timed)"] = \
                f"{sum(bool(x['choice_right']) for x in b['threads'])} of {len(b['threads'])}"
            for e, v in profile_speedups(b.get("profiles") or []).items():
                out[f"{e} whole run ({b['profiles'][0]['profile']}), numpy's BLAS / paddle's convolutions"] = v
        return out
    idle, busy = of(r), of(r.get("busy"))
    return [{"ratio": k, "idle": v, "busy": busy.get(k, "")} for k, v in idle.items()]


def _busy_lines(r: dict) -> list[str]:
    from paddle_cnn.text import Table
    busy = r.get("busy")
    if not busy:
        return []
    n = busy["processes"]
    out = [f"## 6. The same ratios on a busy machine ({n} other CPU-bound process{'es' * (n > 1)})", "",
           f"Sections 1 and 5 again, with {n} busy Python process{'es' * (n > 1)} started by the bench beside "
           f"this one on its {r['cores']} cores (most CPU users share their cores: AI Studio, lab servers, CI). "
           "fit bounds numpy's BLAS threads to the count it chose for paddle's, so the two pools do not "
           "oversubscribe the cores the other job leaves:", "",
           Table(busy_ratios(r), ["ratio", "idle", "busy"]).to_markdown(), ""]
    b = busy.get("blas")
    if b:
        out += ["One thread or all cores for both pools, busy:", "", _threads_table(b["threads"]), ""]
        if b.get("profiles"):
            out += ["Whole experiments, busy:", "",
                    Table(b["profiles"], ["experiment", "profile", "data", "convolutions", "wall_s", "train_s",
                                          "test_acc"]).to_markdown(), ""]
    return out


def _threads_table(rows: list[dict]) -> str:
    from paddle_cnn.text import Table
    return Table(rows, [k for k in rows[0] if k != "step_gmacs"] if rows else []).to_markdown()


def _blas_lines(r: dict) -> list[str]:
    from paddle_cnn.text import Table
    b = r.get("blas")
    if not b:
        return []
    layers = b["layers"]
    wrong = [x for x in layers if not x["rule_right"]]
    out = ["## 5. Convolutions on numpy's BLAS (goal: vgg16_cifar's train step at least 1.5x)", "",
           "Train steps (forward, backward, Momentum) on one random batch, paddle's convolutions "
           "and numpy's BLAS, alternated in this process; the best step of each, and the loss of one eval-mode forward "
           "pass each way on the same weights:", "",
           Table(b["steps"], ["model", "batch", "threads", "paddle_s", "blas_s", "speedup", "gflops_blas",
                              "fraction_of_peak", "loss_paddle", "loss_blas"]).to_markdown(), ""]
    vgg = next(x for x in b["steps"] if x["model"] == "vgg16_cifar")
    out += [f"**vgg16_cifar: {vgg['speedup']:.2f}x** (goal 1.5x: {'met' if vgg['speedup'] >= 1.5 else 'not met'}). "
            f"Scratch memory of a BLAS convolution: one chunk of im2col columns, at most {b['chunk_mb']:.0f} MB "
            "(or one image's columns where they are larger), whatever the batch.", "",
            "Every convolution timed alone (forward + backward at its input and batch), both kernels alternately: "
            "`paddle_ms` is fit's kernel without numpy's BLAS (paddle's, or one batched GEMM on maps of at most 4 "
            f"pixels); `rule` is what cpu_kernels picks with the `{b.get('rule', 'intel')}` rule (the CPU vendor's, "
            "or PADDLE_CNN_CONV_RULE; gemm: the batched GEMM), `rule_right` whether it picked the faster or the two are "
            f"within 10% ({len(layers) - len(wrong)} of {len(layers)} right):", "",
            Table(layers, ["model", "layer", "config", "input", "paddle_ms", "blas_ms", "paddle/blas", "rule",
                           "rule_right"]).to_markdown(), ""]
    out += [f"Train steps on one thread or all {r['cores']} cores, for paddle's OpenMP and numpy's BLAS alike "
            "(fit gives both pools the same count), alternated in this process; `chosen` is fit's pick "
            f"(one thread below {SMALL_STEP_MACS / 1e9:g} G forward MACs per step), `choice_right` whether it is the "
            "faster or within 10%:", "", _threads_table(b["threads"]), ""]
    if b.get("profiles"):
        out += ["Whole experiments (`run_experiment`, fresh log folders, 1 seed), numpy's BLAS first (it pays the "
                "process's warm-up), then paddle's convolutions, in this process. The two runs of a seed differ by "
                "float32 rounding in every convolution, which training amplifies (as a change of thread count does): "
                "compare the accuracies with the seed-to-seed spread, not to the last digit:", "",
                Table(b["profiles"], ["experiment", "profile", "data", "convolutions", "wall_s", "train_s",
                                      "test_acc"]).to_markdown(), ""]
    return out
