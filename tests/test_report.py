"""Plots and report tables, on made-up results whose right answers are worked out by hand (the verdict rules
are pinned in test_verdicts.py)."""
import matplotlib
import numpy as np

from paddle_cnn.experiments.report import plot_curves, plot_final, plot_params_vs_macs

matplotlib.use("Agg")


def run(label, seed, acc, curve=None, num_classes=10):
    curve = curve if curve is not None else [1.0, 0.8, 0.6]
    return {"run": f"{label}-s{seed}", "label": label, "model": label, "seed": seed, "params": 100,
            "test_acc": acc, "best_eval_acc": acc, "num_classes": num_classes, "epochs": len(curve),
            "history": {"eval_loss": list(curve), "eval_acc": [acc] * len(curve)}}


# ------------------------------------------------------------------------------------------------- plots

def made_up_results():
    runs = [run("lenet", 0, 0.95, [0.5, 0.3, 0.2]), run("lenet", 1, 0.97, [0.6, 0.4, 0.1]),
            run("nopool", 0, 0.90, [0.7, 0.5, 0.4])]
    for r, accs in zip(runs, ([0.8, 0.9, 0.95], [0.7, 0.9, 0.97], [0.6, 0.8, 0.9])):
        r["history"]["eval_acc"] = accs
    return {"experiment": "e", "profile": "quick", "runs": runs}


def test_curves_plot_one_line_per_run_label_with_the_seed_mean_and_range():
    fig = plot_curves(made_up_results())
    acc_ax, loss_ax = fig.axes[:2]
    assert [line.get_label() for line in acc_ax.lines] == ["lenet", "nopool"]
    np.testing.assert_allclose(acc_ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), [0.75, 0.9, 0.96])
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), [0.7, 0.5, 0.4])
    assert len(acc_ax.collections) == 1  # the min-max band of the label with two seeds
    assert acc_ax.get_ylabel() == "eval accuracy" and loss_ax.get_ylabel() == "eval loss"
    assert acc_ax.get_xlabel() == "epoch" and [t.get_text() for t in acc_ax.get_legend().get_texts()] == \
        ["lenet", "nopool"]


def test_final_plot_shows_every_seed_and_the_mean_with_its_spread():
    fig = plot_final(made_up_results())
    ax = fig.axes[0]
    seeds = np.concatenate([c.get_offsets() for c in ax.collections if c.get_gid() == "seeds"])
    assert sorted(seeds[:, 1].tolist()) == [0.90, 0.95, 0.97]
    bars = [c for c in ax.containers if hasattr(c, "lines")]
    means = [c.lines[0].get_ydata()[0] for c in bars]
    np.testing.assert_allclose(means, [0.96, 0.90])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lenet", "nopool"]
    segments = bars[0].lines[2][0].get_segments()
    np.testing.assert_allclose(segments[0][1][1] - segments[0][0][1], 2 * np.std([0.95, 0.97], ddof=1), atol=1e-9)
    # each mean's value is written right of its rightmost seed dot, never over a dot (here the third seed of
    # 'three' lies at the mean, where the label once sat)
    res = made_up_results()
    res["runs"] += [run("three", i, a) for i, a in enumerate([0.90, 0.98, 0.94])]
    fig = plot_final(res)
    ax = fig.axes[0]
    seeds = np.concatenate([c.get_offsets() for c in ax.collections if c.get_gid() == "seeds"])
    fig.canvas.draw()
    dots = ax.transData.transform(seeds)
    for t in ax.texts:
        box = t.get_window_extent()
        assert not any(box.x0 - 3 <= x <= box.x1 + 3 and box.y0 - 3 <= y <= box.y1 + 3 for x, y in dots), t.get_text()


def test_final_plot_scale_shows_a_small_difference():
    """0.959 vs 0.963 with a spread of 0.001: the axis is fitted to the values, so the difference spans a good
    part of the plot's height instead of 0.4% of a 0-1 scale."""
    runs = [run("a", s, acc, [0.1]) for s, acc in enumerate((0.958, 0.959, 0.960))] + \
        [run("b", s, acc, [0.1]) for s, acc in enumerate((0.962, 0.963, 0.964))]
    lo, hi = plot_final({"experiment": "e", "profile": "quick", "runs": runs}).axes[0].get_ylim()
    assert lo <= 0.957 and hi >= 0.965
    assert (0.963 - 0.959) / (hi - lo) > 0.3


def test_params_vs_macs_scatter_has_every_model():
    overview = [{"model": "lenet", "params": 61_706, "macs": 416_520},
                {"model": "vgg16", "params": 138_357_544, "macs": 15_470_264_320},
                {"model": "vgg11", "params": 132_863_336, "macs": 7_609_090_048}]
    ax = plot_params_vs_macs(overview)
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert sorted(map(tuple, points.tolist())) == sorted((r["macs"], r["params"]) for r in overview)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert {t.get_text() for t in ax.texts} >= {"lenet"}


def test_params_vs_macs_labels_do_not_overlap():
    """Every registered model's label in the scatter of notebook 00, none overlapping another once drawn."""
    from paddle_cnn.arithmetic.tables import model_overview
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    overview = model_overview()
    ax = plot_params_vs_macs(overview)
    canvas = FigureCanvasAgg(ax.figure)
    canvas.draw()
    from matplotlib.text import Text
    boxes = [Text.get_window_extent(t, canvas.get_renderer()) for t in ax.texts]  # the text, not its leader line
    named = {m.strip() for t in ax.texts for line in t.get_text().split("\n") for m in line.split(",")}
    assert named == {r["model"] for r in overview}
    overlaps = [(ax.texts[i].get_text(), ax.texts[j].get_text()) for i in range(len(boxes))
                for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    assert not overlaps
