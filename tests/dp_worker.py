"""Worker for the data-parallel test: each rank trains with `fit` and saves its final weights."""
import os

import numpy as np


def images():
    """(train, test) of every data-parallel test: 256 / 100 of the embedded digits."""
    from paddle_cnn.data import load_dataset
    d = load_dataset("mnist-5k")
    return d["train"].subset(256), d["test"].subset(100)


def train_rank(out_dir, train, test, global_batch, epochs):
    """train/test: ImageSets passed in (pickled to the ranks). Loading the gzip files inside a spawned rank crashes
    paddle 2.6 there: its bundled zlib shadows CPython's when paddle is imported first (spawn's bootstrap does)."""
    import paddle
    import paddle_cnn  # noqa: F401
    from paddle_cnn.models import create_model
    from paddle_cnn.training import TrainConfig, fit
    paddle.set_device("cpu")
    paddle.seed(0)
    model = create_model("lenet")
    seen = []
    model.register_forward_pre_hook(lambda layer, inp: seen.append(inp[0].shape[0]) if layer.training else None)
    hist = fit(model, train, test, TrainConfig(epochs=epochs, batch_size=global_batch, seed=0),
               progress=False, log=lambda *a: None)
    rank = paddle.distributed.get_rank()
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"),
             **{k: v.numpy() for k, v in model.state_dict().items()},
             eval_acc=np.array(hist["eval_acc"]), train_loss=np.array(hist["train_loss"]),
             world=np.array(paddle.distributed.get_world_size()), images_seen=np.array(sum(seen)))
