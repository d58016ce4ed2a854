"""Reports of results: summary tables, plots (curves, final accuracy, parameters vs compute) and results.md.

Plots are matplotlib Figure objects made without pyplot and saved from themselves: no backend is ever switched, so
a notebook's inline backend keeps showing them (display the returned figure), and a script needs no display."""
from __future__ import annotations

from paddle_cnn.experiments.verdicts import by_label as _by_label, stats as _stats, verdicts
from paddle_cnn.text import Table


def _figure(*subplots, figsize):
    """(figure, axes) drawn apart from pyplot: nothing global changes, the figure is freed with its last use,
    and Jupyter shows it as a PNG whatever backend the kernel has."""
    import io

    from matplotlib.figure import Figure

    class ReportFigure(Figure):
        def _repr_png_(self):
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=100)
            return buf.getvalue()
    fig = ReportFigure(figsize=figsize)
    axes = fig.subplots(*subplots)
    return fig, axes


def _finish(fig, path, dpi=110):
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=dpi)
    return fig


def _family(name: str) -> str:
    for prefix in ("lenet", "convpool", "alexnet", "vgg16_cifar", "vgg", "googlenet", "cnn"):
        if name.startswith(prefix):
            return prefix
    return "other"


def plot_params_vs_macs(overview: list[dict], path: str | None = None, ax=None):
    """Log-log scatter of parameters against MACs, coloured by family; models at (almost) the same point share
    one label."""
    import math
    from matplotlib import colormaps
    fig = None
    if ax is None:
        fig, ax = _figure(figsize=(10, 6.5))
    families = sorted({_family(r["model"]) for r in overview})
    colours = dict(zip(families, colormaps["tab10"].colors))
    for fam in families:
        pts = [r for r in overview if _family(r["model"]) == fam]
        ax.scatter([r["macs"] for r in pts], [r["params"] for r in pts], s=36, color=colours[fam], label=fam)
    groups: list[list[dict]] = []  # points within 0.05 decades of each other share a label
    for r in sorted(overview, key=lambda r: (r["macs"], r["params"])):
        key = (math.log10(max(r["macs"], 1)), math.log10(max(r["params"], 1)))
        for g in groups:
            gk = (math.log10(max(g[0]["macs"], 1)), math.log10(max(g[0]["params"], 1)))
            if abs(key[0] - gk[0]) < 0.05 and abs(key[1] - gk[1]) < 0.05:
                g.append(r)
                break
        else:
            groups.append([r])
    for i, g in enumerate(groups):
        label = "\n".join(", ".join(r["model"] for r in g[j:j + 2]) for j in range(0, len(g), 2))
        ax.annotate(label, (g[0]["macs"], g[0]["params"]), fontsize=7, va="bottom" if i % 2 == 0 else "top",
                    xytext=(6, 3 if i % 2 == 0 else -3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi * 20)  # room for the labels of the largest models
    ax.set_xlabel("MACs per image (conv + linear, at the native input)")
    ax.set_ylabel("trainable parameters")
    ax.set_title("Parameters vs compute of every registered model (10 classes)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if fig is not None:
        _finish(fig, path, dpi=120)
    return ax


def summarize(results) -> list[dict]:
    """One row per run label: mean +- std over seeds."""
    rows = []
    for label, runs in _by_label(results).items():
        row = {"run": label, "model": runs[0]["model"], "seeds": len(runs), "params": runs[0]["params"],
               "MACs": runs[0]["macs"], "epochs": runs[0]["epochs"]}
        for key, col in (("test_acc", "test acc"), ("test_top2", "test top-2"), ("best_eval_acc", "best eval acc"),
                         ("train_seconds", "train s")):
            m, s, _ = _stats([r.get(key) for r in runs])
            row[col] = f"{m:.4f} ± {s:.4f}" if key != "train_seconds" else f"{m:.1f}"
        rows.append(row)
    return rows


def plot_curves(results, path: str | None = None):
    """Eval accuracy and loss per epoch, mean and min-max band over seeds, one line per run label."""
    import numpy as np
    fig, axes = _figure(1, 2, figsize=(12, 4.5))
    for label, runs in _by_label(results).items():
        for ax, key in zip(axes, ("eval_acc", "eval_loss")):
            n = min(len(r["history"][key]) for r in runs)
            curves = np.array([r["history"][key][:n] for r in runs], dtype=float)
            x = np.arange(1, n + 1)
            line, = ax.plot(x, curves.mean(0), marker="o", ms=3, label=label)
            if len(runs) > 1:
                ax.fill_between(x, curves.min(0), curves.max(0), alpha=0.2, color=line.get_color())
    axes[0].set_ylabel("eval accuracy")
    axes[1].set_ylabel("eval loss")
    from matplotlib.ticker import MaxNLocator
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{results['experiment']} ({results['profile']} profile, mean and range over seeds)")
    return _finish(fig, path)


def plot_final(results, path: str | None = None):
    """Final test accuracy per run label, mean with std error bars over seeds."""
    groups = _by_label(results)
    labels = list(groups)
    stats = [_stats([r["test_acc"] for r in groups[k]]) for k in labels]
    fig, ax = _figure(figsize=(max(5, 1.1 * len(labels) + 2), 4))
    ax.bar(range(len(labels)), [m for m, _, _ in stats], yerr=[s for _, s, _ in stats], capsize=4, color="C0")
    for i, (m, s, _) in enumerate(stats):
        ax.annotate(f"{m:.3f}", (i, m), ha="center", va="bottom", fontsize=8, xytext=(0, 3),
                    textcoords="offset points")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{results['experiment']}: final test accuracy ({results['profile']})")
    ax.grid(axis="y", alpha=0.3)
    return _finish(fig, path)


def results_markdown(results) -> str:
    lines = [f"# {results['experiment']}: {results.get('title', '')}", "",
             f"Profile **{results['profile']}**, {results.get('seeds', 1)} seed(s), device {results.get('device')}, "
             f"started {results.get('started', '')}, finished {results.get('finished', '(running)')}.", ""]
    for n in results.get("notes", []):
        lines += [f"> {n}", ""]
    if results.get("runs"):
        lines += ["## Runs (mean ± std over seeds)", "",
                  Table(summarize(results), ["run", "model", "seeds", "params", "MACs", "epochs", "test acc",
                                             "test top-2", "best eval acc", "train s"]).to_markdown(), "",
                  "![curves](curves.png) ![final accuracy](final.png)", ""]
    if results.get("timing"):
        lines += ["## Speed (article 004's benchmark: seconds per batch, mean over the timed steps)", "",
                  Table(results["timing"], ["model", "input", "batch", "forward s/batch", "forward-backward s/batch",
                                            "forward img/s", "forward-backward img/s", "forward GFLOP/s",
                                            "forward-backward GFLOP/s", "device"]).to_markdown(), ""]
    if results.get("models"):
        lines += ["## Models", "", Table(results["models"], ["model", "input", "params", "macs"]).to_markdown(), ""]
    if results.get("claims"):
        lines += ["## The articles' claims and our figures", "",
                  Table(results["claims"], ["text", "value", "ours", "verdict", "reason", "source"]).to_markdown(),
                  ""]
    return "\n".join(lines)


def write_report(results, folder: str) -> None:
    """results.md and the plots (curves.png, final.png) from results (as in results.json)."""
    import os

    from paddle_cnn.training.checkpoint import atomic_write_text
    if results.get("runs"):
        plot_curves(results, os.path.join(folder, "curves.png"))
        plot_final(results, os.path.join(folder, "final.png"))
    atomic_write_text(os.path.join(folder, "results.md"), results_markdown(results))


def rebuild(experiment: str, logdir: str = "logs") -> str:
    """`paddle-cnn report`: rebuild results.md and plots from logdir/EXPERIMENT/results.json, no training."""
    import json
    import os

    from paddle_cnn.experiments.definitions import get_experiment
    exp = get_experiment(experiment)
    path = os.path.join(logdir, exp.name, "results.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; run `paddle-cnn run {exp.name}` first")
    try:
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); rerun the experiment") from None
    if results.get("runs") or "arithmetic" in results:  # else: an older file's stored claims stay as they are
        results["claims"] = verdicts(exp, results)
    write_report(results, os.path.dirname(path))
    return os.path.join(os.path.dirname(path), "results.md")
