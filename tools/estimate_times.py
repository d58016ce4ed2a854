"""How long each experiment takes: the quick profile measured on this CPU (a few epochs' worth of steps timed on
random images of the plan's exact shape, then scaled to the plan's images, epochs and seeds), the full profile
estimated for a GPU from the plans' MACs. Prints a Markdown table per experiment for the notebooks' data cells.

Run: .venv/bin/python tools/estimate_times.py [EXPERIMENT ...]   (CPU-heavy: one at a time)"""
import sys
import time

import numpy as np

from paddle_cnn import device
from paddle_cnn.arithmetic.tables import layer_table
from paddle_cnn.data import ImageSet
from paddle_cnn.experiments.plans import TrainPlan, plan_experiment
from paddle_cnn.models import create_model
from paddle_cnn.training import fit

GPU_MACS_PER_S = 3e12  # assumed: a V100-class GPU at ~40% of its fp32 peak; forward+backward = 3x forward MACs
SIZES = {"mnist": (1, 28, 10, 60_000, 10_000), "mnist-5k": (1, 28, 10, 4_000, 1_000),
         "cifar10": (3, 32, 10, 50_000, 10_000), "caltech16": (3, 224, 16, 1_310, 280)}  # C, side, classes, train, test (150 a class at most, 70%)


def per_image_seconds(plan: TrainPlan, images: int = 256) -> float:
    c, side, classes, _, _ = SIZES[plan.data.name]
    side = plan.config.input_size or side
    rng = np.random.RandomState(0)
    data = ImageSet(rng.randint(0, 255, (images, c, side, side), dtype=np.uint8),
                    rng.randint(0, classes, images), list(range(classes)), "random")
    model = create_model(plan.model, num_classes=classes, in_channels=plan.config.in_channels or c,
                         input_size=side, **plan.model_kw)
    cfg = plan.config.replace(epochs=1, max_batches=None)
    fit(model, data.subset(plan.config.batch_size * 2), None, cfg, progress=False, log=lambda *a: None)  # warm-up
    t0 = time.perf_counter()
    fit(model, data, None, cfg, progress=False, log=lambda *a: None)
    return (time.perf_counter() - t0) / images


def macs(plan: TrainPlan) -> int:
    c, side, classes, _, _ = SIZES[plan.data.name]
    side = plan.config.input_size or side
    ch = plan.config.in_channels or c
    model = create_model(plan.model, num_classes=classes, in_channels=ch, input_size=side, **plan.model_kw)
    return layer_table(model, (ch, side, side)).totals["macs"]


def main(names, seeds=3):
    device.setup()
    for name in names:
        quick = full = 0.0
        for plan in [p for p in plan_experiment(name, "quick", 1) if isinstance(p, TrainPlan)]:
            _, _, _, n_train, n_test = SIZES[plan.data.name]
            n, m = min(plan.data.train_subset or n_train, n_train), min(plan.data.test_subset or n_test, n_test)
            s = per_image_seconds(plan)
            quick += seeds * plan.config.epochs * s * (n + m / 3)  # eval: forward only, about a third of a step
            print(f"  {plan.label}: {s * 1000:.1f} ms per training image at quick size", file=sys.stderr)
        for plan in [p for p in plan_experiment(name, "full", 1) if isinstance(p, TrainPlan)]:
            _, _, _, n_train, n_test = SIZES[plan.data.name]
            full += seeds * plan.config.epochs * macs(plan) * (3 * n_train + n_test) / GPU_MACS_PER_S
        print(f"| {name} | quick, this 2-core CPU | {quick / 60:.0f} min | measured: per-image step time x images "
              f"x epochs x {seeds} seeds |")
        print(f"| {name} | full, one GPU | {full / 60:.0f} min | estimated: MACs x 3 x images x epochs x {seeds} "
              f"seeds at {GPU_MACS_PER_S:.0e} MAC/s |")


if __name__ == "__main__":
    main(sys.argv[1:])
