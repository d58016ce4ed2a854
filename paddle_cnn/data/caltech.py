"""Caltech-101, 16 classes (article 003's "mini" Caltech): from a 101_ObjectCategories folder (or the official
archive unpacked there), or from AI Studio's list-file layout (Images/ + Train.txt, Eval.txt, Test.txt).

Fixed choices, so every run sees the same data:
- CLASSES: 16 object categories of Caltech-101 with many images each (the background and the duplicate
  'Faces' categories excluded).
- Split of a class folder: its JPEG names sorted, permuted by numpy RandomState(SPLIT_SEED), at most
  MAX_PER_CLASS kept, then 70% train / 15% eval / 15% test (stratified by construction).
- With AI Studio's list files the split and labels are the files' own.
Images are decoded once, made 8-bit RGB (to_rgb8: EXIF orientation applied, 16-bit and float images scaled)
and resized to size x size (bilinear), kept as uint8.
Paddle has no downloader for Caltech-101: get it by hand (see data/README.md).
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np

from paddle_cnn.data.common import DataError, DataMissing, ImageSet, regular_file
from paddle_cnn.data.validate import MAX_CLASSES, MAX_IMAGE_PIXELS, MAX_LIST_BYTES

CLASSES = ["airplanes", "Motorbikes", "Faces_easy", "watch", "Leopards", "bonsai", "car_side", "ketch",
           "chandelier", "hawksbill", "grand_piano", "brain", "butterfly", "helicopter", "menorah", "starfish"]
SPLIT_SEED, MAX_PER_CLASS, FRACTIONS = 101, 150, (0.70, 0.15, 0.15)
SPLITS = ("train", "eval", "test")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
LIST_FILES = {"train": "Train.txt", "eval": "Eval.txt", "test": "Test.txt"}
HOW_TO_GET = ("get Caltech-101 by hand and unpack 101_ObjectCategories into the data directory, or AI Studio's "
              "data set 22612 (Images.zip + Train.txt/Eval.txt/Test.txt) into data/caltech16/")


def describe() -> str:
    """The fixed choices in words, for reports."""
    return (f"Caltech-101, 16 classes: {', '.join(CLASSES)}. Split of each class folder: JPEG names sorted, "
            f"permuted by numpy RandomState({SPLIT_SEED}), at most {MAX_PER_CLASS} kept, then "
            f"{' / '.join(f'{f:.0%}' for f in FRACTIONS)} train / eval / test. With AI Studio's list files "
            "(Train.txt, Eval.txt, Test.txt) their own split and labels are used instead.")


WIDE_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535}  # 16-bit: full scale


def to_rgb8(im, path: str):
    """A decoded image as 8-bit RGB, said explicitly rather than left to PIL's convert (which clips a 16-bit or
    float image to solid white or black): EXIF orientation applied; 16-bit grey scaled from 0..65535; 32-bit
    integer grey scaled from 0..65535 when it fits there; float grey scaled from 0..1 when it lies there; any
    other wide image refused in one line."""
    from PIL import Image, ImageOps
    im = ImageOps.exif_transpose(im)
    if im.mode in WIDE_MODES or im.mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)
        full = WIDE_MODES.get(im.mode)
        if full is None and im.mode == "I" and a.size and 0 <= a.min() and a.max() <= 65535:
            full = 65535 if a.max() > 255 else 255
        elif full is None and im.mode == "F" and a.size and np.isfinite(a).all() and 0 <= a.min() and a.max() <= 1:
            full = 1
        if full is None:
            raise DataError(f"{path} is a {im.mode} image (values {a.min():g}..{a.max():g}) that cannot be read as "
                            "8-bit: convert it to an 8-bit RGB or grey JPEG/PNG, or delete it")
        im = Image.fromarray(np.round(a * (255 / full)).clip(0, 255).astype(np.uint8), mode="L")
    return im.convert("RGB")


def _decode(paths: list[str], size: int, progress: bool) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError
    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    it = paths
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(paths, desc="decoding images", leave=False)
    for i, p in enumerate(it):
        regular_file(p, missing=DataError)  # a FIFO named .jpg would hang the read
        try:
            with warnings.catch_warnings():  # PIL's bomb warning: ours is the one line below
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(p)  # reads the header only: the size is known before decoding
            with im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise DataError(f"{p} claims {w}x{h} pixels, more than the {MAX_IMAGE_PIXELS:,} pixels allowed "
                                    "per image (see data/README.md, Limits); replace or delete it")
                im = to_rgb8(im, p).resize((size, size), Image.BILINEAR)
                out[i] = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
        except DataError:
            raise
        except Image.DecompressionBombError:  # PIL's own, higher bound, met in Image.open before ours
            raise DataError(f"{p} claims more than the {MAX_IMAGE_PIXELS:,} pixels allowed per image (see "
                            "data/README.md, Limits); replace or delete it") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise DataError(f"{p} is not a readable image ({e}); replace or delete it") from None
    return out


def class_folder_split(root: str) -> dict[str, list[tuple[str, int]]]:
    """The fixed split of a 101_ObjectCategories folder: split -> [(path, label)]."""
    missing = [c for c in CLASSES if not os.path.isdir(os.path.join(root, c))]
    if missing:
        raise DataError(f"{root} lacks the class folders {', '.join(missing[:4])}"
                        f"{' ...' if len(missing) > 4 else ''}; {HOW_TO_GET}")
    split = {s: [] for s in SPLITS}
    for label, c in enumerate(CLASSES):
        folder = os.path.join(root, c)
        names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))
        if len(names) < 3:
            raise DataError(f"{folder} has {len(names)} images; at least 3 are needed for a train/eval/test split")
        names = [names[i] for i in np.random.RandomState(SPLIT_SEED).permutation(len(names))][:MAX_PER_CLASS]
        n_train = max(1, int(round(len(names) * FRACTIONS[0])))
        n_eval = max(1, int(round(len(names) * FRACTIONS[1])))
        n_train = min(n_train, len(names) - 2)
        parts = (names[:n_train], names[n_train:n_train + n_eval], names[n_train + n_eval:])
        for s, part in zip(SPLITS, parts):
            split[s] += [(os.path.join(folder, n), label) for n in part]
    return split


def _list_lines(path: str):
    """(line number, text) of a list file: a regular UTF-8 text file of at most MAX_LIST_BYTES."""
    regular_file(path, missing=DataError, max_bytes=MAX_LIST_BYTES)
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                yield n, raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a BOM, as Windows' Notepad writes
            except UnicodeDecodeError as e:
                raise DataError(f"{path} line {n} is not UTF-8 text ({e.reason} at byte {e.start} of the line); "
                                "save the file as UTF-8") from None


def _inside(path: str, root: str) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def list_file_split(root: str) -> dict[str, list[tuple[str, int]]]:
    """AI Studio layout: root/Train.txt etc., lines '<path relative to root or root/Images> <label>'. Every path
    must lead to a regular file inside root (after symbolic links), every label be 0..MAX_CLASSES-1."""
    split = {}
    for s, fname in LIST_FILES.items():
        path = os.path.join(root, fname)
        items = []
        for n, line in _list_lines(path):
            if not line.strip():
                continue
            parts = line.replace("\t", " ").split()
            try:
                rel, label = " ".join(parts[:-1]), list_label(parts[-1])
                if not rel or label is None:
                    raise ValueError
            except (ValueError, IndexError):
                raise DataError(f"{path} line {n} is not '<image path> <label>': {line.strip()!r}") from None
            if not 0 <= label < MAX_CLASSES:
                raise DataError(f"{path} line {n}: label {label} is outside 0..{MAX_CLASSES - 1} (labels are class "
                                f"indices, at most {MAX_CLASSES} classes); fix that line")
            candidates = [os.path.join(root, rel), os.path.join(root, "Images", rel)]
            if os.path.isabs(rel) or not all(_inside(p, root) for p in candidates):
                raise DataError(f"{path} line {n}: image path {rel!r} leads outside {root}; list files must give "
                                "paths inside the data folder (relative, no '..'): fix that line")
            full = next((p for p in candidates if os.path.lexists(p)), None)
            if full is None:
                raise DataError(f"{path} line {n}: image {rel} not found under {root} or {root}/Images")
            try:
                regular_file(full, missing=DataError)
            except DataError as e:
                raise DataError(f"{path} line {n}: {e}") from None
            items.append((full, label))
        split[s] = items
    return split


def list_label(token: str) -> int | None:
    """A list file's label: an optionally signed whole number in ASCII digits (the range is checked by the caller),
    else None: int() also reads '1_0' as 10 and '١' as 1."""
    return int(token) if re.fullmatch(r"-?[0-9]{1,12}", token) else None


def lists_have_16_classes(root: str) -> bool:
    """Whether root's Train.txt labels are exactly 0..15, as AI Studio's Caltech16 list files have them (read up to
    MAX_LIST_BYTES; a line that is not '<path> <label>' or an unreadable file: False)."""
    labels = set()
    try:
        for _, line in _list_lines(os.path.join(root, LIST_FILES["train"])):
            parts = line.split()
            if parts:
                if list_label(parts[-1]) is None:
                    return False
                labels.add(list_label(parts[-1]))
    except (DataError, OSError):
        return False
    return labels == set(range(len(CLASSES)))


def find_layout(data_dir: str) -> tuple[str, str]:
    """('lists', root) or ('folders', root), or DataError saying what to put where."""
    for root in (os.path.join(data_dir, "caltech16"), data_dir):
        present = [f for f in LIST_FILES.values() if os.path.lexists(os.path.join(root, f))]
        if len(present) == len(LIST_FILES):
            return "lists", root
        if present:  # an incomplete set of list files is an error, not an absent data set
            absent = [f for f in LIST_FILES.values() if f not in present]
            raise DataError(f"{root} has {', '.join(present)} but lacks {', '.join(absent)}; put all three list "
                            "files there")
    for root in (os.path.join(data_dir, "101_ObjectCategories"),
                 os.path.join(data_dir, "caltech-101", "101_ObjectCategories")):
        if os.path.isdir(root):
            return "folders", root
    raise DataMissing(f"no Caltech-101 data under {data_dir}: {HOW_TO_GET}")


def load_caltech16(data_dir: str, size: int = 224, progress: bool = False) -> dict[str, ImageSet]:
    """Every split (train, eval, test) as an ImageSet; the layout and its split are read once."""
    layout, root = find_layout(data_dir)
    splits = list_file_split(root) if layout == "lists" else class_folder_split(root)
    top = max((lbl for part in splits.values() for _, lbl in part), default=0)  # classes: 0..the highest label
    classes = CLASSES if layout == "folders" else [str(i) for i in range(top + 1)]
    out = {}
    for split in SPLITS:
        items = splits[split]
        source = os.path.join(root, LIST_FILES[split]) if layout == "lists" else root
        if not items:
            raise DataError(f"{source}: the {split} split is empty; list at least one image in it")
        labels = np.array([lbl for _, lbl in items], dtype=np.int64)
        images = _decode([p for p, _ in items], size, progress)
        out[split] = ImageSet(images, labels, classes, f"caltech16/{split}", MEAN, STD, source,
                              own_split=layout == "lists")  # class folders: our split, not the article's lists
    return out
