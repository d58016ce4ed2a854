"""Article 004's speed benchmark (`time_tensorflow_run`): forward and forward-backward seconds per batch of a
model on random input, burn-in steps first, then the mean and standard deviation of the per-batch seconds.
Used by the vgg16-cifar10 experiment's timing plan and by `paddle-cnn bench`."""
from __future__ import annotations

import time

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_cnn.training.loop import first_output


def sync():
    from paddle_cnn.device import is_gpu
    if is_gpu():
        paddle.device.cuda.synchronize()


def timings(fn, steps: int, burn_in: int = 1) -> list[float]:
    """Seconds of each of `steps` calls of fn (device synchronised), after `burn_in` untimed calls."""
    for _ in range(burn_in):
        fn()
        sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def model_and_macs(name: str, input_shape, num_classes: int = 10):
    from paddle_cnn.arithmetic.tables import layer_table
    from paddle_cnn.models import create_model
    model = create_model(name, num_classes=num_classes, in_channels=input_shape[0], input_size=input_shape[1:])
    return model, layer_table(model, input_shape, name).totals["macs"]


def time_batches(model, input_shape, batch_size: int, steps: int = 10, burn_in: int = 2, backward: bool = False,
                 num_classes: int | None = None, amp: bool = False) -> dict:
    """Seconds per batch of random input (mean, std over `steps` after `burn_in`), images/s.
    amp: float16 autocast (GPU only; ignored on the CPU)."""
    x = paddle.randn([batch_size, *input_shape])
    y = paddle.randint(0, num_classes or 2, [batch_size])
    model.train() if backward else model.eval()
    from paddle_cnn.device import is_gpu
    amp = amp and is_gpu()

    def forward_backward():
        with paddle.amp.auto_cast(enable=amp):
            out = model(x)
            loss = F.cross_entropy(first_output(out).astype("float32"), y)
        loss.backward()
        model.clear_gradients()

    def forward():
        with paddle.no_grad(), paddle.amp.auto_cast(enable=amp):
            model(x)
    times = timings(forward_backward if backward else forward, steps, burn_in)
    mean = float(np.mean(times))
    return {"seconds_per_batch": mean, "std": float(np.std(times)), "images_per_s": batch_size / mean,
            "batch_size": batch_size, "steps": steps}


def forward_backward_timing(name: str, input_shape, batch_size: int, steps: int = 10, burn_in: int = 2,
                            num_classes: int = 10, amp: bool = False) -> dict:
    """Article 004's two figures for a registered model: forward and forward-backward seconds per batch, with
    achieved GFLOP/s (MACs x 2, x 3 for forward-backward). amp: float16 autocast, GPU only."""
    from paddle_cnn.device import is_gpu
    from paddle_cnn.training.cpu_kernels import cpu_kernels
    model, macs = model_and_macs(name, input_shape, num_classes)
    with cpu_kernels(model, enabled=not is_gpu(), blas_conv=None):  # as training runs it
        fwd, fb = (time_batches(model, input_shape, batch_size, steps, burn_in, backward, num_classes, amp)
                   for backward in (False, True))
    return {"model": name, "input": "x".join(map(str, input_shape)), "batch": batch_size,
            "forward s/batch": fwd["seconds_per_batch"], "forward std": fwd["std"],
            "forward-backward s/batch": fb["seconds_per_batch"], "forward-backward std": fb["std"],
            "forward img/s": fwd["images_per_s"], "forward-backward img/s": fb["images_per_s"],
            "forward GFLOP/s": 2 * macs * batch_size / fwd["seconds_per_batch"] / 1e9,
            "forward-backward GFLOP/s": 6 * macs * batch_size / fb["seconds_per_batch"] / 1e9,
            "device": paddle.get_device()}


def alternating_train_steps(models: dict, input_shape, batch_size: int, rounds: int, steps: int,
                            num_classes: int = 10, log=print) -> dict:
    """Seconds per training step (forward, cross-entropy, backward, Momentum update) of each model in `models`
    ({name: paddle.nn.Layer}) on one random batch, timed ALTERNATELY in this process: `rounds` rounds of `steps`
    steps of every model, the order reversed every other round, after one untimed step of each. A cost ratio read
    from these does not depend on the machine's load the way the runs' wall times do: a drift of the load falls on
    every model alike. On a CPU each model runs as fit runs it (its thread choice for the step's size, its CPU
    kernels). Returns {name: [mean seconds per step of each round]}."""
    import contextlib
    from paddle_cnn.device import cpu_threads, is_gpu
    from paddle_cnn.training.cpu_kernels import cpu_kernels
    from paddle_cnn.training.loop import step_threads, train_step
    x = paddle.randn([batch_size, *input_shape])
    y = paddle.randint(0, num_classes, [batch_size])
    gpu = is_gpu()
    threads = {n: None if gpu else step_threads(m, tuple(input_shape), batch_size) for n, m in models.items()}
    opts = {n: paddle.optimizer.Momentum(learning_rate=1e-3, momentum=0.9, parameters=m.parameters())
            for n, m in models.items()}

    def timed(name, repeats, burn_in):
        model = models[name]
        model.train()
        with contextlib.ExitStack() as stack:
            if not gpu:
                stack.enter_context(cpu_threads(threads[name]))
                stack.enter_context(cpu_kernels(model, True, None))
            return timings(lambda: train_step(model, opts[name], x, y), repeats, burn_in)

    for name in models:
        timed(name, 0, 1)
    out = {n: [] for n in models}
    order = list(models)
    for r in range(rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            out[name].append(float(np.mean(timed(name, steps, 0))))
        log(f"  round {r + 1} of {rounds}: " + ", ".join(f"{n} {out[n][-1]:.3f} s" for n in order))
    return out
