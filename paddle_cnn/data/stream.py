"""A data set too large for the device's memory, streamed: each batch of indices is read through
`paddle.io.DataLoader` (worker processes; pinned host memory on a GPU) and then prepared on the device like a
resident one (data/loader.py `Batches`), so the same seed gives the same batches, augmentation and results."""
from __future__ import annotations

import functools

import numpy as np
import paddle

from paddle_cnn.data.loader import Batches
from paddle_cnn.data.samples import collate


class StreamData(Batches):
    def __init__(self, dataset, shape: tuple, dtype, classes, mean, std, *, name: str = "", workers: int = 0,
                 **kw):
        super().__init__(name, classes, shape, dtype, mean, std, **kw)
        self.dataset, self.dtype, self.workers = dataset, np.dtype(dtype), int(workers)

    def __len__(self):
        return len(self.dataset)

    def iterate(self, batches, rng=None, train=False):
        from paddle_cnn.device import gpu_paths
        batches = [[int(i) for i in b] for b in batches if len(b)]
        if not batches:
            return
        loader = paddle.io.DataLoader(self.dataset, batch_sampler=batches, num_workers=self.workers,
                                      collate_fn=functools.partial(collate, shape=self.stored_shape,
                                                                   dtype=self.dtype, first_index=-1),
                                      return_list=True)
        loader.pin_memory = gpu_paths()  # page-locked host batches only where a GPU copies from them
        for x, y in loader:
            yield self.prepare(_on_device(x), _on_device(y), rng, train)


def _on_device(t):
    """A loader's batch (a CPU or pinned Tensor, or an array) on the current device."""
    place = paddle.get_device()
    if not isinstance(t, paddle.Tensor):
        return paddle.to_tensor(t)
    return t if place == "cpu" else t.cuda(blocking=False)
