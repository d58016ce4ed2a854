"""results.json read through one schema check: whatever reads a results file (`run --resume`, reuse in the
notebooks, `paddle-cnn report`) gets a dict of the shape the runner writes, or one line naming the file, the first
field that is wrong, and the fix. Nothing downstream meets a KeyError or a list where an object should be.

Shape (runner.Results writes it): {"experiment": str, "profile": str, "runs": [run, ...], optional "title",
"seeds", "claims", "notes", "device", "started", "finished", "identities", "plans_done", "timing", "step_timing",
"models", "arithmetic", "overrides"}; a run: {"run", "model", "params", "macs", "epochs", "history": {key: [number per epoch]}, ...}.
"""
from __future__ import annotations

from functools import partial

from paddle_cnn import jsoncheck as jc

_num = partial(jc.number, finite=False)  # NaN and infinities pass, as json.load reads them
RUN_FIELDS = {"run": jc.text, "model": jc.text, "params": jc.whole, "macs": _num, "epochs": jc.whole,
              "history": jc.obj}
RUN_OPTIONAL = {"label": jc.text, "seed": jc.whole, "weights": _num, "num_classes": jc.whole,
                "train_images": jc.whole, "test_images": jc.whole, "settings": jc.obj, "fingerprint": jc.text}
RUN_MEASURES = ("test_acc", "test_top2", "best_eval_acc", "train_seconds")  # a number, or null
TOP_OPTIONAL = {"title": jc.text, "seeds": jc.whole, "device": jc.text, "started": jc.text, "finished": jc.text,
                "overrides": jc.obj}
PLOTTED = ("eval_acc", "eval_loss")  # history curves every report draws


def _measure(k: str, v, what: str) -> None:
    """A number; an accuracy (…acc, …top2) is a fraction 0..1 or NaN (a run without an eval set), not 7.5 or -3."""
    _num(v, what)
    if k.endswith(("acc", "top2")) and v == v and not 0 <= v <= 1:
        raise jc.Invalid(f"{what} is {jc.shown(v)}, not an accuracy (a fraction 0 to 1)")


def _run(r: dict, i: int) -> None:
    where = f"runs[{i}]"
    for k, check in RUN_FIELDS.items():
        check(jc.key(r, k, where), f"{where} {k}")
    for k, check in RUN_OPTIONAL.items():
        if k in r:
            check(r[k], f"{where} {k}")
    for k in RUN_MEASURES:
        if r.get(k) is not None:
            _measure(k, r[k], f"{where} {k}")
    if "convolutions" in r.get("settings", {}):  # what the run's convolutions ran on (the reports print it)
        jc.text(r["settings"]["convolutions"], f"{where} settings convolutions")
    jc.whole(r["epochs"], f"{where} epochs", 1)
    for k in PLOTTED:
        jc.key(r["history"], k, f"{where} history")
    for k, values in r["history"].items():
        for j, v in enumerate(jc.array(values, f"{where} history {k}", r["epochs"])):  # one per epoch
            if v is not None:
                _measure(k, v, f"{where} history {k}[{j}]")


def check_results(data) -> dict:
    """`data` (as json.load read it) has the shape of a results file, else jc.Invalid naming the first wrong field."""
    for k in ("experiment", "profile", "runs"):
        jc.key(jc.obj(data, "it"), k, "it")
    jc.text(data["experiment"], "experiment")
    from paddle_cnn.experiments.definitions import PROFILES
    if jc.text(data["profile"], "profile") not in PROFILES:
        raise jc.Invalid(f"profile is {jc.shown(data['profile'])}, not one of {', '.join(PROFILES)}")
    for i, r in enumerate(jc.objects(data["runs"], "runs")):
        _run(r, i)
    for k, check in TOP_OPTIONAL.items():
        if k in data:
            check(data[k], k)
    for k in ("claims", "timing", "step_timing", "models", "arithmetic"):
        if k in data:
            jc.objects(data[k], k)
    for i, t in enumerate(data.get("step_timing", [])):  # seconds per step of each round, per run timed
        jc.text(jc.key(t, "run", f"step_timing[{i}]"), f"step_timing[{i}] run")
        for j, v in enumerate(jc.array(jc.key(t, "seconds", f"step_timing[{i}]"), f"step_timing[{i}] seconds")):
            jc.number(v, f"step_timing[{i}] seconds[{j}]")
    for i, m in enumerate(data.get("models", [])):
        for k, check in (("model", jc.text), ("params", _num), ("macs", _num)):
            check(jc.key(m, k, f"models[{i}]"), f"models[{i}] {k}")
    for i, c in enumerate(data.get("arithmetic", [])):
        for k in ("stated", "source", "claim", "ours", "verdict", "note"):
            jc.key(c, k, f"arithmetic[{i}]")
    for i, n in enumerate(jc.array(data.get("notes", []), "notes")):
        jc.text(n, f"notes[{i}]")
    for k, v in jc.obj(data.get("identities", {}), "identities").items():
        jc.obj(v, f"identities {k}")  # one per plan
    for k, v in jc.obj(data.get("plans_done", {}), "plans_done").items():
        jc.text(v, f"plans_done {k}")  # its fingerprint
    return data


def read_results(path: str, fix: str, experiment: str | None = None) -> dict:
    """results.json at `path`, checked (check_results; of `experiment` when given); ValueError in one line naming
    the file, what is wrong and `fix` ("delete it to start afresh") otherwise. A missing file is
    FileNotFoundError, as open() raises it."""
    try:
        data = jc.load_file(path)
    except ValueError as e:  # also a UnicodeDecodeError
        raise ValueError(f"{path} is not valid JSON ({str(e).splitlines()[0]}); {fix}") from None
    except jc.Invalid as e:
        raise ValueError(f"{path} is not a results file of paddle-cnn ({e}); {fix}") from None
    try:
        check_results(data)
        if experiment is not None and data["experiment"] != experiment:
            raise jc.Invalid(f"it holds the results of {data['experiment']!r}, not of {experiment!r}")
        return data
    except jc.Invalid as e:
        raise ValueError(f"{path} is not a results file of paddle-cnn ({e}); {fix}") from None
