"""Text the user reads: the one table renderer (Markdown, HTML in Jupyter, aligned text in a terminal) and the
one "did you mean" for unknown names."""
from __future__ import annotations

import difflib
import html
from typing import Iterable, Sequence


def did_you_mean(kind: str, name, choices: Iterable[str], hint: str = "") -> str:
    """"unknown model 'lenett': did you mean lenet?" or, with nothing close, the valid choices (or `hint`)."""
    choices = list(choices)
    close = difflib.get_close_matches(str(name), choices, n=2, cutoff=0.4)
    tail = f"did you mean {', '.join(close)}?" if close else (hint or f"choose one of {', '.join(choices)}")
    return f"unknown {kind} {name!r}: {tail}"


def error_line(e: BaseException) -> str:
    """The one line of an exception a user should read. Paddle's errors carry a C++ traceback (2.x), the message,
    a "[Hint: ...]" line and "(at /paddle/...cc:N)": the message alone is kept."""
    import re
    text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    if "Error Message Summary" in text:
        text = text.split("Error Message Summary", 1)[1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not set(ln.strip()) <= set("-=")]
    lines = [ln for ln in lines if not ln.startswith(("[Hint:", ":"))] or lines
    line = lines[0] if lines else type(e).__name__
    if line.endswith(":") and len(lines) > 1:  # "ResourceExhaustedError:" with its message on the next line
        line = f"{line} {lines[1]}"
    return re.sub(r"\s*\(at /paddle/[^)]*\)\s*$", "", line).strip()


WIDTH = 100  # the widest line the terminal output is written for


def md_escape(text) -> str:
    """Generated text made literal in Markdown: '11*11*3*96+96' stays that, not an emphasis; '|' stays in its
    table cell; '<' starts no tag."""
    import re
    return re.sub(r"([\\`*_{}\[\]<>#|~])", r"\\\1", str(text))


def duration(seconds: float) -> str:
    """A wall time as a person says it: '45 s', '3 min 05 s', '1 h 02 min' ('under 1 s' below a second)."""
    s = max(0, int(round(seconds)))
    if s < 1:
        return "under 1 s"
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def columns(text: str) -> int:
    """The columns `text` takes in a terminal: Chinese (wide) characters take two, combining marks none."""
    import unicodedata
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def wrap(text: str, width: int = WIDTH, indent: str = "    ") -> str:
    """One message as lines of at most `width` terminal columns (wide characters counted twice), broken at
    spaces (inside a word only when it alone is too wide), the continuation lines indented."""
    lead = text[:len(text) - len(text.lstrip(" "))]
    lines, line = [], lead
    for word in text[len(lead):].split(" "):
        joined = f"{line} {word}" if line.strip() else line + word
        if columns(joined) <= width or not line.strip():
            line = joined
        else:
            lines.append(line)
            line = indent + word
        while columns(line) > width:  # one word wider than a line: cut it
            cut = max(i for i in range(1, len(line) + 1) if columns(line[:i]) <= width)
            lines.append(line[:cut])
            line = indent + line[cut:]
    return "\n".join(lines + [line])


def display_parts(parts) -> None:
    """Show ('md', Markdown text), ('table', Table) and ('figure', a function drawing it) parts: displayed in a
    Jupyter kernel (or any IPython), printed as text elsewhere, the figures left out there."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
        inline = get_ipython() is not None
    except ImportError:
        inline = False
    for kind, part in parts:
        if kind == "figure":
            if inline:
                display(part())
        elif inline:
            display(Markdown(part) if kind == "md" else part)
        else:
            print(part.to_text() if kind == "table" else part, end="\n\n")


def cell(v) -> str:
    """One value as table text: thousands separators for ints, 4 significant digits for floats."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(cell(x) for x in v)
    return "" if v is None else str(v)


class Table:
    """Rows of dicts with chosen columns: str() is Markdown, Jupyter shows HTML, to_text() aligns columns.
    footer: an optional last row (totals), shown in bold; notes: lines printed under the table."""

    def __init__(self, rows: Iterable[dict], columns: Sequence[str] | None = None, title: str = "",
                 footer: dict | None = None, notes: Sequence[str] = (), right: Sequence[str] = ()):
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns or (self.rows[0].keys() if self.rows else []))
        self.title, self.footer, self.notes, self.right = title, footer, list(notes), set(right)

    def _body(self) -> list[list[str]]:
        return [[cell(r.get(c)) for c in self.columns] for r in self.rows]

    def _foot(self) -> list[str] | None:
        return None if self.footer is None else [cell(self.footer.get(c)) for c in self.columns]

    def to_markdown(self) -> str:
        def row(cells):
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        foot = self._foot()
        lines = ([f"**{self.title}**", ""] if self.title else []) + [row(self.columns), row(["---"] * len(self.columns))]
        lines += [row(r) for r in self._body()] + ([row([f"**{c}**" if c else "" for c in foot])] if foot else [])
        return "\n".join(lines + ([""] + self.notes if self.notes else []))

    __str__ = to_markdown

    def __repr__(self) -> str:  # what a text-only view of a notebook (and a plain REPL) shows
        return self.to_text()

    def to_text(self) -> str:
        body, foot = self._body(), self._foot()
        every = [self.columns, *body, *([foot] if foot else [])]
        widths = [max(len(r[i]) for r in every) for i in range(len(self.columns))]

        def line(cells):
            return "  ".join(c.rjust(w) if name in self.right else c.ljust(w)
                             for c, w, name in zip(cells, widths, self.columns)).rstrip()
        rule = "-" * len(line(self.columns))
        out = ([self.title] if self.title else []) + [rule, line(self.columns), rule, *map(line, body)]
        return "\n".join(out + ([rule, line(foot)] if foot else []) + [rule] + self.notes)

    def _align(self, column: str) -> str:
        return "right" if column in self.right else "left"

    def _nowrap(self, column: str) -> str:  # a number ('0.9637 ± 0.0012') is not broken across lines
        return ";white-space:nowrap" if column in self.right else ""

    def _repr_html_(self) -> str:  # each header aligned as its column (Jupyter's own CSS right-aligns headers)
        def tr(cells, bold=False):
            wrap = (lambda c: f"<b>{html.escape(c)}</b>") if bold else html.escape
            return "<tr>" + "".join(f"<td style='text-align:{self._align(name)}{self._nowrap(name)}'>{wrap(c)}</td>"
                                    for c, name in zip(cells, self.columns)) + "</tr>"
        th = "".join(f"<th style='text-align:{self._align(c)}'>{html.escape(c)}</th>" for c in self.columns)
        foot = self._foot()
        cap = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        notes = "".join(f"<p><i>{html.escape(n)}</i></p>" for n in self.notes)
        return (f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{''.join(tr(r) for r in self._body())}"
                f"{tr(foot, True) if foot else ''}</tbody></table>{notes}")
