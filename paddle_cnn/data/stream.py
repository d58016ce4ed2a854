"""A data set too large for the device's memory, streamed: each batch of indices is read through
`paddle.io.DataLoader` (worker processes; pinned host memory on a GPU) and then prepared on the device like a
resident one (data/loader.py `Batches`), so the same seed gives the same batches, augmentation and results."""
from __future__ import annotations

import functools

import numpy as np
import paddle

from paddle_cnn.data.common import DataError
from paddle_cnn.data.loader import Batches
from paddle_cnn.data.samples import collate


class StreamData(Batches):
    def __init__(self, dataset, shape: tuple, dtype, classes, mean, std, *, name: str = "", workers: int = 0,
                 **kw):
        super().__init__(name, classes, shape, dtype, mean, std, **kw)
        self.dataset, self.dtype, self.workers = dataset, np.dtype(dtype), int(workers)
        self.outputs = None  # the model's classes: every streamed batch's labels are checked against it

    def check_labels(self, outputs: int) -> None:
        self.outputs = outputs

    def __len__(self):
        return len(self.dataset)

    def iterate(self, batches, rng=None, train=False):
        from paddle_cnn.device import gpu_paths
        batches = [[int(i) for i in b] for b in batches if len(b)]
        if not batches:
            return
        collate_fn = functools.partial(collate, shape=self.stored_shape, dtype=self.dtype, name=self.name,
                                       outputs=self.outputs)
        if self.workers == 0:  # read in this process (paddle's single-process loader would add a thread)
            for b in batches:
                x, y = collate_fn([(i, self.dataset[i]) for i in b])
                yield self.prepare(paddle.to_tensor(x), paddle.to_tensor(y), rng, train)
            return
        loader = paddle.io.DataLoader(_Indexed(self.dataset), batch_sampler=batches, num_workers=self.workers,
                                      collate_fn=functools.partial(_in_worker, collate_fn), return_list=True)
        loader.pin_memory = gpu_paths()  # page-locked host batches only where a GPU copies from them
        for x, y, error in loader:
            if int(error[0]):  # a bad sample, found in a worker (see _in_worker)
                raise DataError(bytes(error.numpy().tolist()[1:]).decode("utf-8"))
            yield self.prepare(_on_device(x), _on_device(y), rng, train)


def _on_device(t):
    """A loader's batch (a CPU or pinned Tensor, or an array) on the current device."""
    place = paddle.get_device()
    if not isinstance(t, paddle.Tensor):
        return paddle.to_tensor(t)
    return t if place == "cpu" else t.cuda(blocking=False)


class _Indexed(paddle.io.Dataset):
    """The user's data set with each sample's index beside it, so that an error names the sample."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return i, self.dataset[i]


def _in_worker(collate_fn, items):
    """collate_fn in a DataLoader worker: a DataError comes back as data (its message as UTF-8 bytes), because
    an exception raised in a worker kills paddle's queue and reaches the caller only as "Blocking queue is
    killed because the data reader raises an exception", without the message. The third item: [0] when the
    batch is fine, else [1] + the message."""
    try:
        x, y = collate_fn(items)
        return x, y, np.zeros(1, np.uint8)  # [0]: fine (paddle cannot pass an empty array)
    except DataError as e:
        x, y = np.zeros((1, 1, 1, 1), np.uint8), np.zeros(1, np.int64)
        return x, y, np.frombuffer(b"\x01" + str(e).encode("utf-8"), np.uint8).copy()
