"""What every data set must be before anything trains on it, checked once where it is loaded (load_dataset), and
the bounds that keep a crafted file from filling the memory or hanging a read (stated in data/README.md, Limits).

A split breaking a rule is one DataError line naming its file(s) and the fix; the loaders check what only they
can see (a list file's line, a tarball member, an image's header) against the same bounds.
"""
from __future__ import annotations

import numpy as np

from paddle_cnn.data.common import DataError, ImageSet

MAX_FILE_BYTES = 100_000_000      # bytes of one decompressed idx file or tarball member (full MNIST train images:
                                  # 47 MB, one CIFAR-10 batch: 31 MB)
MAX_ARCHIVE_BYTES = 500_000_000   # bytes decompressed from one tarball in all (the CIFAR-10 python tarball: 185 MB)
MAX_LIST_BYTES = 50_000_000       # bytes of one list file, Train.txt / Eval.txt / Test.txt (AI Studio's: ~100 KB)
MAX_CLASSES = 1000                # classes of a list-file data set: its labels must be 0..MAX_CLASSES-1
MAX_IMAGE_PIXELS = 50_000_000     # pixels (width x height) of one image file, read from its header before decoding


def validate_splits(splits: dict[str, ImageSet], name: str) -> dict[str, ImageSet]:
    """Every split non-empty, uint8 N x C x H x W, labels in 0..classes-1, the same image shape and classes as
    train, and every class of eval/test present in train; the splits, or DataError naming the split's files."""
    train = splits["train"]
    for split, s in splits.items():
        where = s.source or f"{name}/{split}"
        if len(s) == 0:
            raise DataError(f"{where}: the {split} split of {name} is empty; it needs at least one image: get the "
                            "real files again")
        if s.images.dtype != np.uint8 or s.images.ndim != 4:
            raise DataError(f"{where}: images must be uint8 N x C x H x W, got {s.images.dtype} {s.images.shape}; "
                            "get the real files again")
        k = len(s.classes)
        bad = np.flatnonzero((s.labels < 0) | (s.labels >= k))
        if len(bad):
            i = int(bad[0])
            raise DataError(f"{where}: image {i} of the {split} split has label {int(s.labels[i])}, outside the "
                            f"{k} classes of {name} (0..{k - 1}); fix or delete that entry, or get the real files "
                            "again")
        if s.shape != train.shape:
            raise DataError(f"{where}: images of {'x'.join(map(str, s.shape))} while train's are "
                            f"{'x'.join(map(str, train.shape))}; every split needs the same image size: get the "
                            "real files again")
        if list(s.classes) != list(train.classes):
            raise DataError(f"{where}: {k} classes while train has {len(train.classes)}; every split needs the "
                            "same classes: fix the files")
    trained = set(np.unique(train.labels).tolist())
    for split, s in splits.items():
        missing = sorted(set(np.unique(s.labels).tolist()) - trained)
        if missing:
            c = missing[0]
            what = f"class {c}" + (f" ({s.classes[c]})" if str(s.classes[c]) != str(c) else "")
            raise DataError(f"{s.source or f'{name}/{split}'}: {what} is in the {split} split "
                            f"but has no training image ({train.source or 'train'}); every class needs training "
                            "images: fix the split")
    return splits
