"""Verdicts: each claim of an experiment beside our figure, with a verdict and its reason.

Rules (pinned in tests/test_report.py): exact counts are judged under every profile; values only under a profile
whose accuracies are comparable with the article's; comparisons between runs (better, smoother, delta) by the
difference of means over seeds with its standard error, "inside the noise" within 2 standard errors, and only
under a profile long enough to judge runs; 'no_learning' within 5 points of chance.
"""
from __future__ import annotations

import math

import numpy as np

from paddle_cnn.experiments.definitions import check_profile

NOT_COMPARABLE = "not comparable at this profile"


def stats(xs) -> tuple[float, float, int]:
    """(mean, std with ddof 1 (0 for one value), count) of the finite values."""
    xs = [float(x) for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not xs:
        return float("nan"), float("nan"), 0
    return float(np.mean(xs)), (float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0), len(xs)


def by_label(results) -> dict:
    out: dict = {}
    for r in results.get("runs", []):
        out.setdefault(r.get("label", r["model"]), []).append(r)
    return out


def roughness(values) -> float:
    """'Smoothness' made a number: the standard deviation of the epoch-to-epoch changes of a curve."""
    v = np.asarray(values, dtype=float)
    return float(np.std(np.diff(v))) if len(v) > 2 else float("nan")


def _metric(run: dict, claim) -> float:
    """The per-run figure a claim is judged on: the run's metric, or for 'smoother' its curve's roughness."""
    if claim.kind == "smoother":
        return roughness(run["history"][claim.metric])
    return run.get(claim.metric)


def verdicts(exp, results) -> list[dict]:
    """Each claim of `exp` judged on `results` (as in results.json), then the articles' arithmetic checks."""
    profile = check_profile(str(results.get("profile")))
    groups = by_label(results)
    out = []
    for c in exp.claims:
        row = {"model": c.run, "metric": c.metric, "value": c.value, "source": c.source, "text": c.text,
               "ours": None, "verdict": NOT_COMPARABLE, "reason": ""}
        runs, other = groups.get(c.run, []), groups.get(c.than, []) if c.than else []
        if not runs or (c.than and not other):
            row["reason"] = "not run yet"
        elif c.kind == "params":
            row["ours"] = runs[0].get(c.metric)
            row["verdict"] = "reproduced" if row["ours"] == c.value else "not reproduced"
            row["reason"] = "exact count"
        elif not profile.judges_runs:
            row["reason"] = f"{profile.name} profile: {profile.what}"
            m, _, _ = stats([_metric(r, c) for r in runs])
            row["ours"] = None if math.isnan(m) else round(m, 4)
        else:
            row.update(_judge(c, runs, other, profile))
        out.append(row)
    return out + arithmetic_claims(results.get("arithmetic", []))


def _judge(c, runs, other, profile) -> dict:
    a, sa, na = stats([_metric(r, c) for r in runs])
    note = "" if profile.comparable else f"{profile.name} profile, not the article's settings; "
    if c.kind == "value":
        if not profile.comparable:
            return {"ours": f"{a:.4f} ± {sa:.4f}", "reason": note + "compare under the article's settings"}
        ok = a >= c.value - c.tolerance
        return {"ours": f"{a:.4f} ± {sa:.4f}", "verdict": "reproduced" if ok else "not reproduced",
                "reason": f"ours {a:.4f} vs stated {c.value} (tolerance {c.tolerance})"}
    if c.kind == "no_learning":
        chance = 1.0 / runs[0].get("num_classes", 10)
        ok = a <= chance + 0.05
        return {"ours": f"{a:.4f} ± {sa:.4f}", "verdict": "reproduced" if ok else "not reproduced",
                "reason": note + f"chance is {chance:.3f}; {'stays' if ok else 'rises'} within 5 points of it"}
    return _compare(c, (a, sa, na), stats([_metric(r, c) for r in other]), note, profile)


def _compare(c, mine, theirs, note, profile) -> dict:
    """better / smoother / delta: a difference of means with its standard error over seeds."""
    (a, sa, na), (b, sb, nb) = mine, theirs
    diff = (b - a) if c.kind == "smoother" else (a - b)  # positive = the claim's direction
    se = math.sqrt((sa ** 2 / na if na > 1 else 0) + (sb ** 2 / nb if nb > 1 else 0))
    what = "roughness (std of epoch-to-epoch eval-loss changes)" if c.kind == "smoother" else c.metric
    if se > 0 and abs(diff) <= 2 * se:
        verdict = "inside the noise"
    elif c.kind == "delta":
        verdict = ("reproduced" if diff >= c.value / 2 else
                   "direction reproduced, smaller gain" if diff > 0 else "not reproduced")
    else:
        verdict = "reproduced" if diff > 0 else "not reproduced"
    reason = note + f"{what}; " + ("one seed per run: no spread, use --seeds 3 or more" if se == 0 else
                                   "|difference| <= 2 standard errors over seeds" if verdict == "inside the noise"
                                   else "difference beyond 2 standard errors")
    if not profile.comparable and verdict in ("reproduced", "not reproduced"):
        verdict += f" ({profile.name})"
    return {"ours": f"{c.run} {a:.4f} vs {c.than} {b:.4f}: difference {diff:+.4f} ± {se:.4f} (standard error)",
            "verdict": verdict, "reason": reason}


def arithmetic_claims(checks: list[dict]) -> list[dict]:
    """The articles' arithmetic checks (arithmetic/claims.py) as claim rows."""
    return [{"model": "", "metric": "arithmetic", "value": c["stated"], "source": c["source"], "text": c["claim"],
             "ours": c["ours"], "verdict": "reproduced" if c["verdict"] == "agrees" else "not reproduced",
             "reason": c["note"]} for c in checks]
