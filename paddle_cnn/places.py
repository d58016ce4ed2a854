"""Where data sets are found and where runs are written: the checkout's data/ and logs/, or $PADDLE_CNN_DATA, or on
Baidu AI Studio its mounted data sets and its persistent work/ folder.

AI Studio (detected by its folders; $PADDLE_CNN_AISTUDIO_ROOT points elsewhere, e.g. for tests): data sets added
to a project are mounted at /home/aistudio/data/dataNNNNN/ and reset when the environment restarts, while
/home/aistudio/work persists. There, a data set missing from the data folder is looked for in every mounted data
set by its file names, and downloads, logs and checkpoints go under work/.
"""
from __future__ import annotations

import glob
import os

AISTUDIO_HOME = "/home/aistudio"

# the files that identify a data set in a folder, as (path inside the folder, the folder its loader takes)
MARKERS = {
    "mnist": (("mnist/train-images-idx3-ubyte.gz", "mnist"), ("train-images-idx3-ubyte.gz", "")),
    "cifar10": (("cifar-10-python.tar.gz", ""),),
    "caltech16": (("caltech16/Train.txt", ""), ("Train.txt", ""), ("101_ObjectCategories", ""),
                  ("caltech-101/101_ObjectCategories", "")),
}


def checkout() -> str:
    """The folder holding the paddle_cnn package (the clone's root)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def aistudio_root() -> str | None:
    """AI Studio's home folder when this runs there (it has data/ and work/), else None."""
    root = os.environ.get("PADDLE_CNN_AISTUDIO_ROOT") or AISTUDIO_HOME
    return root if all(os.path.isdir(os.path.join(root, d)) for d in ("data", "work")) else None


def default_data_dir() -> str:
    """$PADDLE_CNN_DATA, else work/data on AI Studio (downloads persist there), else the checkout's data/."""
    if os.environ.get("PADDLE_CNN_DATA"):
        return os.environ["PADDLE_CNN_DATA"]
    root = aistudio_root()
    return os.path.join(root, "work", "data") if root else os.path.join(checkout(), "data")


def default_logdir(profile=None) -> str:
    """work/logs on AI Studio (it persists; give this path to its VisualDL panel), else the checkout's logs/. Runs
    of the smoke profile (a Profile or its name: CI, `make test`, `pytest --nbmake`) go beside it, to smoke-logs/:
    they never replace real results, and `visualdl --logdir logs` never shows their curves."""
    from paddle_cnn.experiments.definitions import FASTEST
    profile = getattr(profile, "name", profile)
    root = aistudio_root()
    base = os.path.join(root, "work") if root else checkout()
    return os.path.join(base, "smoke-logs" if profile == FASTEST else "logs")


def experiment_folder(logdir: str | None, experiment: str, profile: str | None = None,
                      overrides: dict | None = None) -> str:
    """Where an experiment's runs, results and plots go: logdir (None: default_logdir(profile)) / the experiment,
    with '+lr=0.01+epochs=5' for settings overridden from outside, so that such runs never mix with the article's
    and the same overrides find their folder again."""
    import re

    from paddle_cnn.training.config import settings_label
    if logdir is not None and not str(logdir).strip():
        raise ValueError("--logdir is empty (LOGDIR = \"\"): give a folder, or leave it out for the default logs/")
    suffix = "".join("+" + re.sub(r"[^\w.=,-]", "_", part) for part in settings_label(overrides).split(", ")) \
        if overrides else ""
    return os.path.join(logdir or default_logdir(profile), experiment + suffix)


def mounted_folders() -> list[str]:
    """AI Studio's mounted data sets, data/data*/, and the folders one level inside them (an unpacked archive)."""
    root = aistudio_root()
    if not root:
        return []
    tops = sorted(d for d in glob.glob(os.path.join(root, "data", "data*")) if os.path.isdir(d))
    return [f for top in tops for f in [top] + sorted(d for d in glob.glob(os.path.join(top, "*"))
                                                      if os.path.isdir(d))]


def data_folder(name: str, data_dir: str) -> str:
    """The folder a loader of `name` reads: in data_dir when its files are there (or nowhere: the loader then
    says what is missing, or downloads into it), else in the first AI Studio data set that holds them."""
    markers = MARKERS.get(name, ())
    for folder in [data_dir] + mounted_folders():
        for path, sub in markers:
            if os.path.exists(os.path.join(folder, path)) and (folder == data_dir or _is(name, folder, path)):
                return os.path.join(folder, sub) if sub else folder
    return os.path.join(data_dir, "mnist") if name == "mnist" else data_dir


def _is(name: str, folder: str, marker: str) -> bool:
    """Whether a mounted data set that has `marker` is the data set `name` by its own files: list files (which any
    AI Studio image data set may have) count for caltech16 only when their labels are Caltech16's 16 classes."""
    if name == "caltech16" and marker.endswith(".txt"):
        from paddle_cnn.data.caltech import lists_have_16_classes
        return lists_have_16_classes(os.path.dirname(os.path.join(folder, marker)))
    return True


def shown(path: str) -> str:
    """A folder as the user would type it: relative to the working folder when it lies inside the checkout
    (../logs from notebooks/, logs from the clone's root) or inside the working folder, else absolute."""
    path = os.path.abspath(path)
    inside = [r for r in (checkout(), os.getcwd()) if path == r or path.startswith(r.rstrip(os.sep) + os.sep)]
    return os.path.relpath(path) if inside else path
