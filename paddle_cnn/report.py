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


def _family(name: str) -> str:
    for prefix in ("lenet", "convpool", "alexnet", "vgg16_cifar", "vgg", "googlenet", "cnn"):
        if name.startswith(prefix):
            return prefix
    return "other"


def plot_params_vs_macs(overview: list[dict], path: str | None = None, ax=None):
    """Log-log scatter of parameters against MACs, coloured by family; models at (almost) the same point share
    one label."""
    import math

    import matplotlib
    if path and ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
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
        fig.tight_layout()
        if path:
            fig.savefig(path, dpi=120)
    return ax
