"""Worker for the data-parallel test: each rank trains with `fit` and saves its final weights."""
import os

import numpy as np


def train_rank(out_dir, n, global_batch, epochs):
    import paddle
    import paddle_cnn  # noqa: F401
    from paddle_cnn.data import load_dataset
    from paddle_cnn.models import create_model
    from paddle_cnn.train import fit
    paddle.set_device("cpu")
    paddle.seed(0)
    d = load_dataset("mnist-5k")
    train = d["train"].subset(n)
    model = create_model("lenet")
    seen = []
    model.register_forward_pre_hook(lambda layer, inp: seen.append(inp[0].shape[0]) if layer.training else None)
    hist = fit(model, train, d["test"].subset(100), epochs=epochs, batch_size=global_batch, seed=0,
               progress=False, log=lambda *a: None)
    rank = paddle.distributed.get_rank()
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"),
             **{k: v.numpy() for k, v in model.state_dict().items()},
             eval_acc=np.array(hist["eval_acc"]), train_loss=np.array(hist["train_loss"]),
             world=np.array(paddle.distributed.get_world_size()), images_seen=np.array(sum(seen)))
