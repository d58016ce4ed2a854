"""Reports of results: summary tables, plots (curves, final accuracy, parameters vs compute) and results.md.

Plots are matplotlib Figure objects made without pyplot and saved from themselves: no backend is ever switched, so
a notebook's inline backend keeps showing them (display the returned figure), and a script needs no display."""
from __future__ import annotations

import os

from paddle_cnn.experiments.statistics import stats as _stats
from paddle_cnn.experiments.verdicts import by_label as _by_label, verdicts
from paddle_cnn.text import Table
from paddle_cnn.training.config import settings_label

RUN_COLUMNS = ["run", "model", "seeds", "params", "MACs", "images", "epochs", "test acc", "test acc by seed",
               "test top-2", "best eval acc", "train s"]
RUN_NUMBERS = ("seeds", "params", "MACs", "epochs", "test acc", "test acc by seed", "test top-2", "best eval acc",
               "train s")
CLAIM_COLUMNS = ["text", "claimed", "measured", "ours", "n", "95% interval", "verdict", "detectable", "rule",
                 "reason"]
TIMING_COLUMNS = ["model", "input", "batch", "forward s/batch", "forward-backward s/batch", "forward img/s",
                  "forward-backward img/s", "forward GFLOP/s", "forward-backward GFLOP/s", "device"]

STEP_TIMING_COLUMNS = ["run", "model", "input", "batch", "rounds", "steps", "s/step", "device"]


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
        save_figure(fig, path, dpi)
    return fig


def save_figure(fig, path: str, dpi: int) -> None:
    """A PNG written atomically (files.atomic_write_bytes): a kill or a full disk leaves the old plot or the new,
    never half of one; a link at `path` is replaced, not written through."""
    import io

    from paddle_cnn.files import atomic_write_bytes
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())


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
        fig, ax = _figure(figsize=(11, 7.5))
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
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi * 30)  # room for the labels of the largest models
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi * 4)
    ax.set_xlabel("MACs per image (conv + linear, at the native input)")
    ax.set_ylabel("trainable parameters")
    ax.set_title("Parameters vs compute of every registered model (10 classes)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.figure.tight_layout()  # the final layout first: labels are placed in its pixels
    _place_labels(ax, [(g[0]["macs"], g[0]["params"]) for g in groups],
                  ["\n".join(", ".join(r["model"] for r in g[j:j + 2]) for j in range(0, len(g), 2)) for g in groups])
    if fig is not None and path:
        save_figure(fig, path, 120)
    return ax


def _place_labels(ax, points, labels, fontsize=7):
    """Each label beside its point or, where that is taken, at the nearest free spot (right first, then left),
    joined to its point by a thin line: no label overlaps another or leaves the axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text
    fig = ax.figure
    renderer = (fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)).get_renderer()
    from matplotlib.transforms import Bbox
    inside = ax.get_window_extent(renderer)
    placed = [Bbox.from_bounds(px - 5, py - 5, 10, 10) for px, py in ax.transData.transform(points)]  # the dots
    spots = sorted(((dx, dy) for dx in (6, 30, 60, 90, 120, -6, -40, -80) for dy in range(-160, 161, 8)),
                   key=lambda o: abs(o[0]) + 2 * abs(o[1]))
    for (x, y), text in sorted(zip(points, labels), key=lambda p: (p[0][1], p[0][0])):
        for dx, dy in spots:
            style = dict(xytext=(dx, dy), textcoords="offset points", fontsize=fontsize, va="center",
                         ha="left" if dx > 0 else "right")
            t = ax.annotate(text, (x, y), **style)
            t.update_positions(renderer)
            box = Text.get_window_extent(t, renderer).padded(3)
            t.remove()
            if inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1) and \
                    not any(box.overlaps(b) for b in placed):
                placed.append(box)
                line = {} if (dx, dy) == (6, 0) else dict(
                    arrowprops=dict(arrowstyle="-", lw=0.5, color="0.55", shrinkA=0, shrinkB=3))
                ax.annotate(text, (x, y), **style, **line)
                break
        else:
            raise ValueError(f"no room for the label {text!r} in the plot")


def summarize(results) -> list[dict]:
    """One row per run label: mean +- std over seeds."""
    rows = []
    for label, runs in _by_label(results).items():
        row = {"run": label, "model": runs[0]["model"], "seeds": len(runs), "params": runs[0]["params"],
               "MACs": runs[0]["macs"], "epochs": runs[0]["epochs"],
               "images": (f"{runs[0]['train_images']:,} train / {runs[0]['test_images']:,} test"
                          if "train_images" in runs[0] else "")}
        for key, col in (("test_acc", "test acc"), ("test_top2", "test top-2"), ("best_eval_acc", "best eval acc"),
                         ("train_seconds", "train s")):
            row[col] = mean_std([r.get(key) for r in runs], ".1f" if key == "train_seconds" else ".4f")
        row["test acc by seed"] = ", ".join(f"{r['test_acc']:.4f}" for r in runs if r.get("test_acc") is not None)
        rows.append(row)
    return rows


def mean_std(values, fmt: str = ".4f") -> str:
    """'0.9637 ± 0.0012' over seeds; one value alone, with no spread to show: '0.9637'."""
    m, s, n = _stats(values)
    if n == 0:
        return ""
    return f"{m:{fmt}}" + (f" ± {s:{fmt}}" if n > 1 else "")


def judged_here(claims: list) -> list:
    """The claim rows an experiment judges itself (not those judged in another experiment or not at all)."""
    return [c for c in claims if "judged_in" not in c]  # catalog.other_claims marks the others


def visualdl_command() -> str:
    """'visualdl' when it is on PATH, else the one installed beside this Python ('.venv/bin/visualdl')."""
    import shutil
    import sys

    beside = os.path.join(os.path.dirname(sys.executable), "visualdl")
    if shutil.which("visualdl") or not os.path.exists(beside):
        return "visualdl"
    return os.path.relpath(beside) if beside.startswith(os.getcwd().rstrip(os.sep) + os.sep) else beside


def terminal_summary(results, folder: str) -> str:
    """The end of `paddle-cnn run` in at most 100 columns: the runs (mean ± std over seeds), one line per claim
    judged here with its verdict and our figure, and where the full table (results.md) is."""
    from paddle_cnn.places import shown
    from paddle_cnn.text import WIDTH, duration, wrap
    runs = results.get("runs", [])
    lines = [f"{results['experiment']} · {_profile(results)} profile · {results.get('seeds', 1)} seed(s) · "
             f"{len(runs)} run(s), {duration(sum(r.get('train_seconds') or 0 for r in runs))} of training"]
    rows = summarize(results)
    if rows:
        width = max(len(r["run"]) for r in rows)
        lines += [f"  {r['run']:<{width}}  {r['params']:>12,} params  test acc {r['test acc']}"
                  + (f" (top-2 {r['test top-2']})" if r["test top-2"] else "") for r in rows]
    for t in results.get("step_timing", []):
        lines.append(f"  {t['run']}: {t['s/step']:.3f} s per training step (median of {t['rounds']} rounds)")
    judged = judged_here(results.get("claims", []))
    if judged:
        lines += ["", f"claims judged here: {len(judged)} of {len(results['claims'])} (every claim, its rule and "
                      "source: results.md)"]
        width = min(max(len(c["verdict"]) for c in judged), 32)
        for c in judged:
            from paddle_cnn.text import cell
            figure = " ".join(x for x in (cell(c.get("ours")), cell(c.get("interval"))) if x)
            text = f"{c['verdict']:<{width}}  {c['text']}" + (f": {figure}" if figure else "")
            lines.append(wrap("  " + text, WIDTH, " " * (width + 4)))
    lines += ["", f"results: {shown(os.path.join(folder, 'results.md'))} (plots beside it)",
              f"curves:  {visualdl_command()} --logdir {shown(os.path.dirname(folder))} --language en "
              "--disable-telemetry"]
    return "\n".join(lines)


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
    seeds = max((len(r) for r in _by_label(results).values()), default=1)
    fig.suptitle(f"{results['experiment']} ({_profile(results)} profile, "
                 + ("mean and range over seeds)" if seeds > 1 else "one seed: no spread)"))
    return _finish(fig, path)


def plot_final(results, path: str | None = None):
    """Final test accuracy per run label: every seed as a grey dot, the mean as a blue point with a ± std bar and
    its value beside it, on a scale fitted to the values (a 0.959 vs 0.963 difference stays visible)."""
    import numpy as np
    groups = _by_label(results)
    labels = list(groups)
    fig, ax = _figure(figsize=(max(5, 1.2 * len(labels) + 2), 4))
    values = []
    for i, k in enumerate(labels):
        accs = [r["test_acc"] for r in groups[k] if r.get("test_acc") is not None]
        m, s, _ = _stats(accs)
        s = 0.0 if s != s else s  # one seed: no spread
        ax.scatter(i + np.linspace(-0.15, 0.15, len(accs)) if len(accs) > 1 else [i], accs, s=16, color="0.55",
                   zorder=2, label="one seed" if i == 0 else None, gid="seeds")
        ax.errorbar([i], [m], yerr=[s], fmt="o", ms=7, color="C0", capsize=6, zorder=3,
                    label="mean ± std" if i == 0 else None)
        ax.annotate(f"{m:.4f}", (i + 0.15, m), xytext=(8, 0), textcoords="offset points", va="center",
                    fontsize=8)  # right of the rightmost seed dot, not over it
        values += accs + [m - s, m + s]
    values = [v for v in values if v == v] or [0.0, 1.0]  # no finite accuracy at all: the whole scale
    lo, hi = min(values), max(values)
    pad = max(0.15 * (hi - lo), 0.002)
    ax.set_ylim(max(0.0, lo - pad), hi + pad)
    ax.set_xlim(-0.6, len(labels) - 0.3)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center",
                       fontsize=8)
    ax.set_ylabel("test accuracy (axis fitted to the values)")
    ax.set_title(f"{results['experiment']}: final test accuracy ({_profile(results)})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _finish(fig, path)


def plot_step_times(results, path: str | None = None):
    """The step timing behind a cost claim: seconds per training step of each model, round by round (the models
    alternate within each round), and the per-round ratio of the second to the first: a ratio that holds while
    the machine's load moves both lines is what the verdict reads."""
    import numpy as np
    rows = results["step_timing"]
    fig, axes = _figure(1, 2, figsize=(12, 4))
    for r in rows:
        axes[0].plot(np.arange(1, len(r["seconds"]) + 1), r["seconds"], marker="o", ms=3, label=r["run"])
    if len(rows) >= 2:
        a, b = (np.asarray(r["seconds"], dtype=float) for r in rows[:2])
        n = min(len(a), len(b))
        axes[1].plot(np.arange(1, n + 1), b[:n] / a[:n], marker="o", ms=3, color="C2")
        axes[1].axhline(1.0, color="0.5", lw=0.8)
        axes[1].set_ylabel(f"{rows[1]['run']} / {rows[0]['run']}")
    axes[0].set_ylabel("seconds per training step")
    from matplotlib.ticker import MaxNLocator
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{results['experiment']}: training steps timed alternately ({_profile(results)}, "
                 f"{rows[0].get('device', '')}, batch {rows[0].get('batch', '')}, input {rows[0].get('input', '')})")
    return _finish(fig, path)


FIGURES = {"curves": plot_curves, "final": plot_final, "steps": plot_step_times}  # name -> plot (name.png)


def _profile(results) -> str:
    """'quick', or 'quick + lr=0.01' for a run with overridden settings (as plot titles name it)."""
    return results["profile"] + (f" + {settings_label(results['overrides'])}" if results.get("overrides") else "")


def header(results) -> str:
    """Where the results come from, in one line: profile, seeds, device, dates and the fingerprint of the plans
    (the same as `paddle-cnn run EXP --dry-run` prints; a committed notebook's outputs are checked against it)."""
    from paddle_cnn.experiments.plans import plans_fingerprint
    plans = plans_fingerprint(results["identities"]) if results.get("identities") else "unknown"
    varied = (f"; **overridden: {settings_label(results['overrides'])}** (not the article's settings: no number is "
              "compared with the article's)" if results.get("overrides") else "")
    return (f"Profile **{results['profile']}**, {results.get('seeds', 1)} seed(s), device {results.get('device')}, "
            f"started {results.get('started', '')}, finished {results.get('finished', '(running)')}; "
            f"plans `{plans}`{varied}.")


def claims_table(results, title: str = "") -> Table:
    """The claims as results.md, the terminal and the notebooks show them: every claim of the article, with the
    article's words, our figure, the seeds (n), our 95% interval, the verdict and the rule that gave it."""
    from paddle_cnn.sources import short
    rows = [{**c, "95% interval": c.get("interval", ""), "source": short(c.get("source", ""))}
            for c in results["claims"]]
    return Table(rows, CLAIM_COLUMNS + ["source"], title)


COMPACT_COLUMNS = ["text", "claimed", "ours", "n", "95% interval", "verdict", "detectable", "rule", "reason"]


def _rule_name(rule) -> str:
    """A claim row's rule by its name, with its p-value if it has one ('better (p = 0.338)'): the rules are
    stated once, below the table."""
    import re
    rule = str(rule or "")
    p = re.search(r"\bp = [0-9.e-]+", rule)
    return rule.split(":")[0] + (f" ({p.group(0)})" if p else "")


def compact_claims(results) -> list[tuple[str, object]]:
    """The claims as a notebook shows them: a table of those judged here (the columns some row fills), then the
    others of the article in one paragraph, grouped by the notebook that judges them (linked) or 'not judged',
    each with its reason."""
    from paddle_cnn.experiments.catalog import NOTEBOOKS
    from paddle_cnn.text import md_escape
    claims = results.get("claims", [])
    judged = [{**c, "95% interval": c.get("interval", ""), "rule": _rule_name(c.get("rule"))}
              for c in judged_here(claims)]
    columns = [c for c in COMPACT_COLUMNS if any(r.get(c) not in (None, "") for r in judged)]
    parts = [("table", Table(judged, columns, "the article's claims judged here"))] if judged else []
    elsewhere: dict = {}
    for c in claims:
        if c.get("judged_in"):
            elsewhere.setdefault(c["judged_in"], []).append(md_escape(c["text"]))
    lines = [f"[notebook {NOTEBOOKS[w][:2]}]({NOTEBOOKS[w]}.ipynb) ({w}): " + "; ".join(texts)
             for w, texts in elsewhere.items()]
    lines += [f"{md_escape(c['text'])} (*not judged*: {md_escape(c.get('reason', ''))})" for c in claims
              if c.get("judged_in") == ""]
    if lines:
        parts.append(("md", "**The article's other claims**, judged in other notebooks or not at all:\n\n"
                      + "\n".join(f"- {line}" for line in lines)))
    return parts


VERDICT_GROUPS = (("reproduced", "Reproduced"), ("inside the noise", "Inside the noise: the runs cannot tell"),
                  ("not comparable", "Not comparable on this profile"), ("", "Against the article"))


def findings(results) -> str:
    """'What we found', written from the results (Markdown): the runs (mean ± std and the range over seeds, size,
    compute, training time), then the claims judged here grouped by verdict, each with our figure, interval and
    what the runs could detect. Generated, so it cannot contradict the tables above it."""
    from paddle_cnn.text import cell, md_escape
    runs = _by_label(results)
    seeds = results.get("seeds", 1)
    lines = [f"**{md_escape(results['experiment'])}**, {md_escape(_profile(results))} profile, {seeds} seed"
             f"{'s' * (seeds != 1)} per run." + "".join(f" {md_escape(n)}" for n in results.get("notes", [])), ""]
    for row in summarize(results):
        accs = [r["test_acc"] for r in runs[row["run"]] if r.get("test_acc") is not None]
        spread = f", seeds from {min(accs):.4f} to {max(accs):.4f}" if len(accs) > 1 else ""
        lines.append(f"- **{md_escape(row['run'])}** ({md_escape(row['model'])}, {row['params']:,} parameters, "
                     f"{row['MACs']:,} MACs per image): test accuracy {row['test acc']}{spread}; "
                     f"{row['train s']} s of training")
    judged = judged_here(results.get("claims", []))
    for key, heading in VERDICT_GROUPS:
        group = [c for c in judged if c["verdict"].startswith(key)
                 and (key or not any(c["verdict"].startswith(k) for k, _ in VERDICT_GROUPS[:-1]))]
        if not group:
            continue
        lines += ["", f"*{heading}:*", ""]
        for c in group:
            figure = " ".join(x for x in (cell(c.get("ours")), cell(c.get("interval"))) if x)
            extra = [md_escape(c[k]) for k in ("detectable",) if c.get(k)]
            if not key:
                extra.insert(0, f"verdict: **{md_escape(c['verdict'])}**")
            lines.append(f"- {md_escape(c['text'])}" + (f": ours {md_escape(figure)}" if figure else "")
                         + (f" ({'; '.join(extra)})" if extra else ""))
    return "\n".join(lines)


def show_findings(*results) -> None:
    """The findings of one or more experiments' results, as Markdown in a notebook (text elsewhere)."""
    from paddle_cnn.text import display_parts
    display_parts([("md", "\n\n".join(findings(r) for r in results))])


def articles_cited(results) -> str:
    """The articles the claims table names by number, each cited in full once."""
    from paddle_cnn.sources import article_of, cite
    keys = sorted({article_of(c.get("source", "")) for c in results.get("claims", [])} - {""})
    return "Articles: " + "; ".join(f"article {k[1:]} = {cite(k)}" for k in keys) if keys else ""


def sections(results, compact: bool = False, rules: bool = True) -> list[tuple[str, object]]:
    """The parts of an experiment's report after its title, in order, for results.md and show(): ('md', text),
    ('table', Table: its title is the heading) or ('figure', 'curves' | 'final'). compact (notebooks): the claims
    judged here in a table and the others in a paragraph (compact_claims); rules False: without the rules (a
    notebook of two experiments prints them once)."""
    from paddle_cnn.experiments.definitions import get_experiment
    from paddle_cnn.experiments.verdicts import by_label
    from paddle_cnn.data import describe_dataset
    from paddle_cnn.experiments.verdicts import rules_markdown
    exp = get_experiment(results["experiment"])
    parts = [("md", f"Source: {exp.source}  \n{header(results)}")]
    parts += [("md", f"> {n}") for n in results.get("notes", [])]
    data = sorted({r.get("settings", {}).get("dataset", exp.dataset) for r in results.get("runs", [])}
                  or ({exp.dataset} - {""}))
    parts += [("md", f"**Data**: {describe_dataset(d)}") for d in data if describe_dataset(d)]
    runs = results.get("runs", [])
    convs = sorted({r["settings"]["convolutions"] for r in runs if r.get("settings", {}).get("convolutions")})
    unknown = sum(not r.get("settings", {}).get("convolutions") for r in runs)
    parts += [("md", "**Convolutions**: " + "; ".join(convs)
               + (f" (not recorded for {unknown} run{'s' * (unknown != 1)} from before it was)" if unknown else ""))
              ] if convs else []
    if exp.assumed:
        parts.append(("md", "**Settings the article does not print, assumed here:**\n\n"
                      + "\n".join(f"- {a}" for a in exp.assumed)))
    if results.get("runs"):
        parts += [("table", Table(summarize(results), RUN_COLUMNS, "runs: mean ± std over seeds",
                                  right=RUN_NUMBERS)),
                  ("figure", "curves"), ("figure", "final")]
        if any(len(runs) < 2 for runs in by_label(results).values()):
            parts.append(("md", "One seed per run: the plots show no spread; use 3 seeds or more to see the noise."))
    if results.get("timing"):
        parts.append(("table", Table(results["timing"], TIMING_COLUMNS, "speed, article 004's benchmark: seconds "
                                     "per batch, mean over the timed steps")))
    if results.get("step_timing"):
        parts += [("table", Table(results["step_timing"], STEP_TIMING_COLUMNS, "cost: seconds per training step, "
                                  "the models timed alternately in one process (median over rounds)")),
                  ("figure", "steps")]
    if results.get("models"):
        parts.append(("table", Table(results["models"], ["model", "input", "params", "macs"], "models")))
    if results.get("claims"):
        parts += compact_claims(results) if compact else \
            [("table", claims_table(results, "the article's claims and our verdicts"))]
        cited = articles_cited(results)
        parts += [("md", cited)] if cited else []
        parts += [("md", rules_markdown())] if rules else []
    return parts


def results_markdown(results) -> str:
    lines = [f"# {results['experiment']}: {results.get('title', '')}", ""]
    for kind, part in sections(results):
        if kind == "table":
            lines += [f"## {part.title[0].upper()}{part.title[1:]}", "", Table(part.rows, part.columns).to_markdown()]
        else:
            lines.append(part if kind == "md" else f"![{part}]({part}.png)")
        lines.append("")
    return "\n".join(lines)


def show(results, rules: bool = True) -> None:
    """Everything about one experiment's results, as a notebook shows it (the sections of results.md, with the
    plots drawn, and the claims compact: compact_claims). Outside Jupyter the same as text, without the plots.
    rules False: leave out how claims are judged (a notebook of two experiments shows it once, at the end)."""
    import functools

    from paddle_cnn.text import display_parts
    parts = sections(results, compact=True, rules=rules)
    parts[0] = ("md", f"**{results['experiment']}**: {results.get('title', '')}  \n{parts[0][1]}")  # one block
    display_parts([(kind, functools.partial(FIGURES[part], results)) if kind == "figure" else (kind, part)
                   for kind, part in parts])


def write_report(results, folder: str) -> None:
    """results.md and the plots (curves.png, final.png, steps.png) from results (as in results.json)."""
    import os

    from paddle_cnn.files import atomic_write_text
    for kind, part in sections(results):
        if kind == "figure":
            FIGURES[part](results, os.path.join(folder, f"{part}.png"))
    atomic_write_text(os.path.join(folder, "results.md"), results_markdown(results))


def rebuild(experiment: str, logdir: str = "logs", overrides: dict | None = None) -> str:
    """`paddle-cnn report`: rebuild results.md and plots from logdir/EXPERIMENT/results.json (of the runs with
    these overrides: logdir/EXPERIMENT+lr=0.01/...), no training."""
    import json
    import os

    from paddle_cnn.experiments.definitions import get_experiment
    exp = get_experiment(experiment)
    from paddle_cnn.places import experiment_folder
    path = os.path.join(experiment_folder(logdir, exp.name, None, overrides), "results.json")
    if not os.path.exists(path):
        given = "".join(f" --set {part}" for part in settings_label(overrides).split(", ")) if overrides else ""
        raise FileNotFoundError(f"{path} is missing; run `paddle-cnn run {exp.name}{given}` first")
    from paddle_cnn.experiments.results_file import read_results
    from paddle_cnn.files import FolderLock, atomic_write_text
    with FolderLock(os.path.dirname(path), "a run is writing {folder} (locked): report when it has finished (its "
                                           "results.md is rewritten then anyway)"):
        from paddle_cnn.files import refuse_links
        refuse_links(os.path.dirname(path))
        results = read_results(path, f"delete it and rerun the experiment (paddle-cnn run {exp.name}) to write it "
                                     "afresh", exp.name)  # read under the lock: what the last run wrote
        if results.get("runs") or "arithmetic" in results:  # else: an older file's stored claims stay as they are
            results["claims"] = verdicts(exp, results)
            atomic_write_text(path, json.dumps(results, indent=1, default=str))  # it says what results.md says
        write_report(results, os.path.dirname(path))
    return os.path.join(os.path.dirname(path), "results.md")
