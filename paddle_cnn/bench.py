"""Timing of forward and forward-backward passes per batch (article 004's benchmark, `time_tensorflow_run`):
burn-in steps first, then the mean and standard deviation of the per-batch seconds."""
from __future__ import annotations

import time

import numpy as np
import paddle
import paddle.nn.functional as F


def _sync():
    if paddle.get_device().startswith("gpu"):
        paddle.device.cuda.synchronize()


def time_batches(model, input_shape, batch_size: int, steps: int = 10, burn_in: int = 2, backward: bool = False,
                 num_classes: int | None = None) -> dict:
    """Seconds per batch of random input (mean, std over `steps` after `burn_in`), images/s."""
    x = paddle.randn([batch_size, *input_shape])
    y = paddle.randint(0, num_classes or 2, [batch_size])
    model.train() if backward else model.eval()
    times = []
    for i in range(burn_in + steps):
        t0 = time.perf_counter()
        if backward:
            out = model(x)
            out = out[0] if isinstance(out, (tuple, list)) else out
            F.cross_entropy(out, y).backward()
            model.clear_gradients()
        else:
            with paddle.no_grad():
                model(x)
        _sync()
        if i >= burn_in:
            times.append(time.perf_counter() - t0)
    mean = float(np.mean(times))
    return {"seconds_per_batch": mean, "std": float(np.std(times)), "images_per_s": batch_size / mean,
            "batch_size": batch_size, "steps": steps}


def forward_backward_timing(name: str, input_shape, batch_size: int, steps: int = 10, burn_in: int = 2,
                            num_classes: int = 10) -> dict:
    """Article 004's two figures for a registered model: forward and forward-backward seconds per batch, with
    achieved GFLOP/s (MACs x 2, x 3 for forward-backward)."""
    from paddle_cnn.analysis import layer_table
    from paddle_cnn.models import create_model
    model = create_model(name, num_classes=num_classes, in_channels=input_shape[0], input_size=input_shape[1:])
    macs = layer_table(model, input_shape, name).totals["macs"]
    fwd = time_batches(model, input_shape, batch_size, steps, burn_in, False, num_classes)
    fb = time_batches(model, input_shape, batch_size, steps, burn_in, True, num_classes)
    return {"model": name, "input": "x".join(map(str, input_shape)), "batch": batch_size,
            "forward s/batch": fwd["seconds_per_batch"], "forward std": fwd["std"],
            "forward-backward s/batch": fb["seconds_per_batch"], "forward-backward std": fb["std"],
            "forward img/s": fwd["images_per_s"], "forward-backward img/s": fb["images_per_s"],
            "forward GFLOP/s": 2 * macs * batch_size / fwd["seconds_per_batch"] / 1e9,
            "forward-backward GFLOP/s": 6 * macs * batch_size / fb["seconds_per_batch"] / 1e9,
            "device": paddle.get_device()}
