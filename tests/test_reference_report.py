"""What the user reads, against the fields it claims to show: every plotted series read back from the matplotlib
objects, every table column recomputed here with numpy from results.json's fields, and every VisualDL tag read
through VisualDL's own reader against the history series of the same name (also after a run killed between its
checkpoint and its log)."""
from __future__ import annotations

import glob

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from paddle import nn

from paddle_cnn.experiments import report
from paddle_cnn.training import fit
from paddle_cnn.training.callbacks import Checkpointer, VisualDLLogger
from paddle_cnn.training.config import TrainConfig

QUIET = dict(progress=False, log=lambda *a: None)


def results(seeds=3, epochs=4):
    """Two run labels whose fields all differ from each other (test vs best eval vs top-2 accuracy)."""
    rng = np.random.RandomState(0)
    runs = []
    for label in ("lenet", "lenet_nopool"):
        for s in range(seeds):
            h = {k: rng.uniform(0.1, 0.9, epochs).tolist() for k in
                 ("train_loss", "train_acc", "eval_loss", "eval_acc", "eval_top2", "lr", "images_per_s", "seconds")}
            runs.append({"run": f"{label}-s{s}", "label": label, "model": label, "seed": s, "params": 61706,
                         "macs": 416520, "epochs": epochs, "test_acc": float(rng.uniform(0.90, 0.95)),
                         "test_top2": float(rng.uniform(0.96, 0.99)), "best_eval_acc": float(rng.uniform(0.5, 0.6)),
                         "train_seconds": float(rng.uniform(10, 20)), "train_images": 4000, "test_images": 1000,
                         "num_classes": 10, "history": h})
    return {"experiment": "pool-vs-stride", "profile": "quick", "runs": runs}


def by_label(res):
    out = {}
    for r in res["runs"]:
        out.setdefault(r["label"], []).append(r)
    return out


def test_the_curves_plot_draws_the_seed_mean_of_eval_accuracy_and_eval_loss():
    res = results()
    fig = report.plot_curves(res)
    acc_ax, loss_ax = fig.axes[:2]
    for label, runs in by_label(res).items():
        for ax, key in ((acc_ax, "eval_acc"), (loss_ax, "eval_loss")):
            line = next(ln for ln in ax.lines if ln.get_label() == label)
            want = np.mean([r["history"][key] for r in runs], axis=0)
            np.testing.assert_allclose(line.get_ydata(), want, rtol=1e-12)
            np.testing.assert_array_equal(line.get_xdata(), np.arange(1, len(want) + 1))  # epochs from 1
            band = [c for c in ax.collections if tuple(c.get_facecolor()[0][:3]) == to_rgb(line.get_color())]
            ys = np.concatenate([p.vertices[:, 1] for c in band for p in c.get_paths()])
            curves = np.array([r["history"][key] for r in runs])
            assert ys.min() == pytest.approx(curves.min()) and ys.max() == pytest.approx(curves.max())


def test_the_final_plot_draws_every_seeds_test_accuracy_and_their_mean():
    res = results()
    fig = report.plot_final(res)
    ax = fig.axes[0]
    groups = by_label(res)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == list(groups)
    dots = [c for c in ax.collections if c.get_gid() == "seeds"]
    assert len(dots) == len(groups)
    for i, (label, runs) in enumerate(groups.items()):
        accs = [r["test_acc"] for r in runs]
        np.testing.assert_allclose(sorted(dots[i].get_offsets()[:, 1]), sorted(accs))
        assert np.all(np.abs(dots[i].get_offsets()[:, 0] - i) < 0.5)
        assert f"{np.mean(accs):.4f}" in [t.get_text() for t in ax.texts]
        means = [ln for ln in ax.lines if len(ln.get_xdata()) == 1 and ln.get_xdata()[0] == i]
        assert any(ln.get_ydata()[0] == pytest.approx(np.mean(accs)) for ln in means)


def test_every_column_of_the_summary_table_is_its_field():
    res = results()
    rows = {r["run"]: r for r in report.summarize(res)}
    for label, runs in by_label(res).items():
        row = rows[label]
        for col, field in (("test acc", "test_acc"), ("test top-2", "test_top2"), ("best eval acc", "best_eval_acc")):
            v = np.array([r[field] for r in runs])
            assert row[col] == f"{v.mean():.4f} ± {v.std(ddof=1):.4f}", (label, col)
        secs = np.array([r["train_seconds"] for r in runs])
        assert row["train s"] == f"{secs.mean():.1f} ± {secs.std(ddof=1):.1f}"
        assert row["test acc by seed"] == ", ".join(f"{r['test_acc']:.4f}" for r in runs)
        assert (row["params"], row["MACs"], row["seeds"], row["epochs"]) == (61706, 416520, 3, 4)


def test_the_results_page_shows_the_table_of_the_fields():
    res = results()
    md = report.results_markdown(res)
    for label, runs in by_label(res).items():
        for field in ("test_acc", "test_top2", "best_eval_acc"):
            v = np.array([r[field] for r in runs])
            assert f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" in md, (label, field)


# --- VisualDL: each tag, read by VisualDL's own reader, is the history series of its name ---------------------------

TAG_OF = {"train/loss": "train_loss", "train/acc": "train_acc", "eval/loss": "eval_loss", "eval/acc": "eval_acc",
          "eval/top2": "eval_top2", "lr": "lr", "throughput/images_per_s": "images_per_s"}


def _data(n=40, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (n, 1, 6, 6)).astype(np.uint8), (np.arange(n) % 3).astype(np.int64)


def _model():
    import paddle
    paddle.seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.ReLU(), nn.Linear(16, 3))


def read_tags(folder) -> dict:
    from visualdl import LogReader
    files = glob.glob(str(folder / "vdlrecords.*"))
    assert len(files) == 1
    reader = LogReader(file_path=files[0])
    return {tag: [(r.id, r.value) for r in reader.get_data("scalar", tag)] for tag in reader.get_tags()["scalar"]}


def assert_tags_are_history(tags, hist):
    for tag, key in TAG_OF.items():
        assert [i for i, _ in tags[tag]] == list(range(1, len(hist[key]) + 1)), tag
        np.testing.assert_allclose([v for _, v in tags[tag]], hist[key], rtol=1e-6, err_msg=tag)


def test_every_visualdl_tag_is_the_history_series_of_its_name(tmp_path):
    c = TrainConfig(epochs=3, batch_size=8, lr=0.05, lr_schedule="cosine")  # lr differs per epoch
    hist = fit(_model(), _data(), _data(20, 1), c, [VisualDLLogger(str(tmp_path), "r")], **QUIET)
    assert_tags_are_history(read_tags(tmp_path / "r"), hist)


def test_the_batch_loss_curve_shows_each_windows_last_step(tmp_path):
    """train/batch_loss through VisualDL's reader: with a read every step it is each step's loss (their
    size-weighted mean per epoch, by numpy here, is the epoch's train_loss); read every 2 steps, a point at each
    even step (and the epoch's last) carrying that step's loss, not the window's mean."""
    c = TrainConfig(epochs=2, batch_size=8, lr=0.05, sync_every=1)  # 40 images: 5 steps of 8 per epoch
    hist = fit(_model(), _data(), None, c, [VisualDLLogger(str(tmp_path), "each")], **QUIET)
    each = read_tags(tmp_path / "each")["train/batch_loss"]
    assert [i for i, _ in each] == list(range(1, 11))
    losses = np.array([v for _, v in each])
    np.testing.assert_allclose(losses.reshape(2, 5).mean(axis=1), hist["train_loss"], rtol=1e-5)
    fit(_model(), _data(), None, c.replace(sync_every=2), [VisualDLLogger(str(tmp_path), "two")], **QUIET)
    two = read_tags(tmp_path / "two")["train/batch_loss"]
    assert [i for i, _ in two] == [2, 4, 5, 7, 9, 10]
    np.testing.assert_allclose([v for _, v in two], losses[[1, 3, 4, 6, 8, 9]], rtol=1e-5)


class KillAfterCheckpoint(Checkpointer.__base__):
    """Dies after epoch `at`'s checkpoint was written and before its VisualDL points were."""
    order = 5

    def __init__(self, at):
        self.at = at

    def on_epoch_end(self, state):
        if state.epoch == self.at:
            raise SystemExit("killed")


def test_points_of_an_epoch_killed_before_they_were_logged_reach_visualdl_on_resume(tmp_path):
    c = TrainConfig(epochs=3, batch_size=8, lr=0.05, lr_schedule="cosine")
    train, held = _data(), _data(20, 1)
    ckpt, logs = str(tmp_path / "ckpt"), str(tmp_path / "logs")
    with pytest.raises(SystemExit):
        fit(_model(), train, held, c, [Checkpointer(ckpt), VisualDLLogger(logs, "r"), KillAfterCheckpoint(2)], **QUIET)
    tags = read_tags(tmp_path / "logs" / "r")
    assert [i for i, _ in tags["train/loss"]] == [1]  # epoch 2 checkpointed, not logged
    hist = fit(_model(), train, held, c, [Checkpointer(ckpt, resume=True), VisualDLLogger(logs, "r")], **QUIET)
    whole = fit(_model(), train, held, c, **QUIET)
    np.testing.assert_allclose(hist["train_loss"], whole["train_loss"], rtol=1e-6)
    assert_tags_are_history(read_tags(tmp_path / "logs" / "r"), hist)
