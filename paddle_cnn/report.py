"""Tables and plots of results, for notebooks (HTML), results.md (Markdown) and terminals (text)."""
from __future__ import annotations

import html
from typing import Iterable, Sequence


def _cell(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    return "" if v is None else str(v)


class Table:
    """Rows of dicts with chosen columns; shows as HTML in Jupyter, str() is Markdown."""

    def __init__(self, rows: Iterable[dict], columns: Sequence[str] | None = None, title: str = ""):
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns or (self.rows[0].keys() if self.rows else []))
        self.title = title

    def to_markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(_cell(r.get(c)).replace("|", "\\|") for c in self.columns) + " |"
                for r in self.rows]
        return "\n".join(([f"**{self.title}**", ""] if self.title else []) + [head, rule, *body])

    __str__ = to_markdown

    def _repr_html_(self) -> str:
        th = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(_cell(r.get(c)))}</td>"
                                        for c in self.columns) + "</tr>" for r in self.rows)
        cap = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _pyplot(path):
    """matplotlib.pyplot, headless when the figure goes to a file."""
    import matplotlib
    if path:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def _finish(fig, path, dpi=110):
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=dpi)
        _pyplot(path).close(fig)
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
    plt = _pyplot(path if ax is None else None)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 6.5))
    families = sorted({_family(r["model"]) for r in overview})
    colours = dict(zip(families, plt.cm.tab10.colors))
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


# ---------------------------------------------------------------- experiment results: summaries and verdicts

def _stats(xs):
    import math

    import numpy as np
    xs = [float(x) for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not xs:
        return float("nan"), float("nan"), 0
    return float(np.mean(xs)), (float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0), len(xs)


def _by_label(results) -> dict:
    out: dict = {}
    for r in results["runs"]:
        out.setdefault(r.get("label", r["model"]), []).append(r)
    return out


def roughness(values) -> float:
    """'Smoothness' made a number: the standard deviation of the epoch-to-epoch changes of a curve."""
    import numpy as np
    v = np.asarray(values, dtype=float)
    return float(np.std(np.diff(v))) if len(v) > 2 else float("nan")


def _metric(run: dict, claim) -> float:
    """The per-run figure a claim is judged on: the run's metric, or for 'smoother' the roughness of the
    metric's curve."""
    if claim.kind == "smoother":
        return roughness(run["history"][claim.metric])
    return run.get(claim.metric)


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


def verdicts(exp, results) -> list[dict]:
    """Each claim of the experiment beside our figure, with a verdict and its reason."""
    import math
    profile = results["profile"]
    groups = _by_label(results)
    out = []
    for c in exp.claims:
        row = {"model": c.run, "metric": c.metric, "value": c.value, "source": c.source, "text": c.text,
               "ours": None, "verdict": "not comparable at this profile", "reason": ""}
        runs = groups.get(c.run, [])
        other = groups.get(c.than, []) if c.than else []
        if not runs or (c.than and not other):
            row["reason"] = "not run yet"
            out.append(row)
            continue
        if c.kind == "params":
            row["ours"] = runs[0].get(c.metric)
            ok = row["ours"] == c.value
            row["verdict"], row["reason"] = ("reproduced" if ok else "not reproduced"), "exact count"
            out.append(row)
            continue
        if profile == "smoke":
            row["reason"] = "smoke profile: 2 short epochs on a tiny subset (or generated data)"
            m, _, _ = _stats([_metric(r, c) for r in runs])
            row["ours"] = round(m, 4) if not math.isnan(m) else None
            out.append(row)
            continue
        a, sa, na = _stats([_metric(r, c) for r in runs])
        note = "" if profile == "full" else f"{profile} profile, not the article's settings; "
        if c.kind == "value":
            row["ours"] = f"{a:.4f} ± {sa:.4f}"
            if profile != "full":
                row["reason"] = note + "compare under --profile full"
            else:
                ok = a >= c.value - c.tolerance
                row["verdict"] = "reproduced" if ok else "not reproduced"
                row["reason"] = f"ours {a:.4f} vs stated {c.value} (tolerance {c.tolerance})"
        elif c.kind == "no_learning":
            chance = 1.0 / runs[0].get("num_classes", 10)
            row["ours"] = f"{a:.4f} ± {sa:.4f}"
            ok = a <= chance + 0.05
            row["verdict"] = "reproduced" if ok else "not reproduced"
            row["reason"] = note + f"chance is {chance:.3f}; {'stays' if ok else 'rises'} within 5 points of it"
        else:  # better / smoother / delta: a difference of means with its spread over seeds
            b, sb, nb = _stats([_metric(r, c) for r in other])
            diff = (b - a) if c.kind == "smoother" else (a - b)  # positive = the claim's direction
            se = math.sqrt((sa ** 2 / na if na > 1 else 0) + (sb ** 2 / nb if nb > 1 else 0))
            what = "roughness (std of epoch-to-epoch eval-loss changes)" if c.kind == "smoother" else c.metric
            row["ours"] = f"{c.run} {a:.4f} vs {c.than} {b:.4f}: difference {diff:+.4f} ± {se:.4f}"
            if se > 0 and abs(diff) <= 2 * se:
                row["verdict"] = "inside the noise"
            elif c.kind == "delta":
                row["verdict"] = ("reproduced" if diff >= c.value / 2 else
                                  "direction reproduced, smaller gain" if diff > 0 else "not reproduced")
            else:
                row["verdict"] = "reproduced" if diff > 0 else "not reproduced"
            row["reason"] = note + f"{what}; " + ("one seed per run: no spread, use --seeds 3 or more"
                                                  if se == 0 else "difference beyond 2 standard errors"
                                                  if row["verdict"] != "inside the noise" else
                                                  "|difference| <= 2 standard errors over seeds")
            if profile != "full" and row["verdict"] in ("reproduced", "not reproduced"):
                row["verdict"] += f" ({profile})"
        out.append(row)
    return out


def plot_curves(results, path: str | None = None):
    """Eval accuracy and loss per epoch, mean and min-max band over seeds, one line per run label."""
    import numpy as np
    plt = _pyplot(path)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
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
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{results['experiment']} ({results['profile']} profile, mean and range over seeds)")
    return _finish(fig, path)


def plot_final(results, path: str | None = None):
    """Final test accuracy per run label, mean with std error bars over seeds."""
    plt = _pyplot(path)
    groups = _by_label(results)
    labels = list(groups)
    stats = [_stats([r["test_acc"] for r in groups[k]]) for k in labels]
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(labels) + 2), 4))
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

    from paddle_cnn.checkpoint import atomic_write_text
    if results.get("runs"):
        plot_curves(results, os.path.join(folder, "curves.png"))
        plot_final(results, os.path.join(folder, "final.png"))
    atomic_write_text(os.path.join(folder, "results.md"), results_markdown(results))


def rebuild(experiment: str, logdir: str = "logs") -> str:
    """`paddle-cnn report`: rebuild results.md and plots from logdir/EXPERIMENT/results.json, no training."""
    import json
    import os

    from paddle_cnn.experiments import get_experiment
    exp = get_experiment(experiment)
    path = os.path.join(logdir, exp.name, "results.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; run `paddle-cnn run {exp.name}` first")
    try:
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); rerun the experiment") from None
    if results.get("runs"):
        results["claims"] = verdicts(exp, results)
    write_report(results, os.path.dirname(path))
    return os.path.join(os.path.dirname(path), "results.md")
