"""Statistics and verdicts against scipy and against the claims' own words: t quantiles and CDF, one-sample
t-intervals, Welch's degrees of freedom, interval and p value (with a factor: a - k b), which way each measure is
better (a table written here from the articles' words, not imported), ln(classes) per run, and the width limit
as the rules text states it."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from paddle_cnn.experiments import statistics as S
from paddle_cnn.experiments import verdicts as V
from paddle_cnn.experiments.definitions import EXPERIMENTS

st = pytest.importorskip("scipy.stats")

SAMPLES = [
    ([0.91, 0.93, 0.92], [0.88, 0.90, 0.85]),
    ([0.5, 0.7, 0.65, 0.61], [0.52, 0.55, 0.51]),
    ([10.0, 12.5, 11.0], [20.0, 31.0, 24.0, 22.0, 27.5]),
    ([0.30, 0.32, 0.31], [0.10, 0.40, 0.25]),
]


@pytest.mark.parametrize("df", [1, 2, 2.7, 4, 9.5, 33.3, 200])
def test_t_quantiles_and_cdf_are_scipys(df):
    for p in (0.6, 0.9, 0.975, 0.995):
        assert S.t_quantile(p, df) == pytest.approx(st.t.ppf(p, df), rel=1e-7)
        assert S.t_quantile(1 - p, df) == pytest.approx(st.t.ppf(1 - p, df), rel=1e-7)
    for t in (-3.1, -0.4, 0.0, 0.7, 2.2, 9.0):
        assert S.t_cdf(t, df) == pytest.approx(st.t.cdf(t, df), rel=1e-7, abs=1e-12)


@pytest.mark.parametrize("xs", [s[0] for s in SAMPLES] + [s[1] for s in SAMPLES])
def test_one_sample_intervals_are_scipys(xs):
    lo, hi = st.t.interval(0.95, len(xs) - 1, loc=np.mean(xs), scale=st.sem(xs))
    m, a, b, n = S.interval(xs)
    assert (m, a, b, n) == pytest.approx((np.mean(xs), lo, hi, len(xs)), rel=1e-9)
    assert V.judge_range(xs, 0.0, None)["interval"] == f"[{lo:.4f}, {hi:.4f}]"
    assert V.judge_value(xs, float(np.mean(xs)), 0.01)["interval"] == f"[{lo:.4f}, {hi:.4f}]"


@pytest.mark.parametrize("xs,ys", SAMPLES)
@pytest.mark.parametrize("factor", [1.0, 2.0, 0.5])
def test_welch_is_scipys_also_with_a_factor(xs, ys, factor):
    """a - k b: Welch on xs and k * ys (the mean scales by k, the variance by k squared)."""
    ref = st.ttest_ind(xs, factor * np.asarray(ys), equal_var=False)
    ci = ref.confidence_interval(0.95)
    w = S.welch(xs, ys, factor)
    assert w["diff"] == pytest.approx(np.mean(xs) - factor * np.mean(ys), rel=1e-12)
    assert w["df"] == pytest.approx(ref.df, rel=1e-9)
    assert (w["lo"], w["hi"]) == pytest.approx((ci.low, ci.high), rel=1e-7)
    assert w["p"] == pytest.approx(ref.pvalue, rel=1e-6)
    g = V.judge_gain(xs, ys, 0.0, None, factor=factor)
    assert g["interval"] == f"[{ci.low:+.4f}, {ci.high:+.4f}]"
    if factor == 1:
        b = V.judge_better(xs, ys)
        assert f"p = {ref.pvalue:.3f}" in b["rule"] and f"df {ref.df:.1f}" in b["rule"]


# --- which way is better: from the claims' words ----------------------------------------------------------------

# metric: True when higher is better, as the articles' words about it say
HIGHER_IS_BETTER = {
    "test_acc": True,              # "better LeNet", "the accuracy is higher", "beats the first try"
    "best_eval_acc": True,         # "the most accurate", "beats", "helps"
    "train_seconds": False,        # "LRN costs much computation": faster without it
    "eval_loss_roughness": False,  # "fluctuate less", "steadies", "falls more gently"
    "epochs_to_90": False,         # "speeds up convergence", "converges slowly"
    "train_eval_gap": False,       # "acts as a regulariser", "curbs overfitting"
    "min_eval_loss": False,        # "lowers the validation loss", "falls very nicely (lower)"
    "final_eval_loss": False,      # "greatly lowers VGG's validation loss (its level at the end)"
    "eval_loss_rise": False,       # "curbs VGG's overfitting" (read off the validation loss)
    "eval_acc_roughness": False,   # "the accuracy curve fluctuates less"
}


def fake_run(label: str, seed: int, metric: str | None = None, value: float | None = None, classes=10) -> dict:
    """A results.json run whose `metric` is `value` (built from the history where the measure reads it)."""
    h = {"train_loss": [1.0, 0.8], "train_acc": [0.6, 0.7], "eval_loss": [1.0, 0.9], "eval_acc": [0.6, 0.7],
         "eval_top2": [0.8, 0.9]}
    run = {"run": f"{label}-s{seed}", "label": label, "model": label, "seed": seed, "params": 1, "epochs": 2,
           "test_acc": 0.7, "test_top2": 0.9, "best_eval_acc": 0.7, "train_seconds": 10.0, "num_classes": classes,
           "history": h}
    if metric in ("test_acc", "best_eval_acc", "train_seconds"):
        run[metric] = value
    elif metric == "eval_loss_roughness":  # steps of +-value: their std is value
        h["eval_loss"] = [1.0, 1.0 + value, 1.0, 1.0 + value, 1.0]
    elif metric == "min_eval_loss":
        h["eval_loss"] = [value + 0.5, value, value + 0.1]
    elif metric == "train_eval_gap":
        h["train_acc"], h["eval_acc"] = [0.5, 0.5 + value], [0.5, 0.5]
    elif metric == "final_eval_loss":
        h["eval_loss"] = [value + 0.5, value + 0.2, value]
    elif metric == "eval_loss_rise":  # ends `value` x its minimum above it
        h["eval_loss"] = [1.5, 1.0, 1.0 + value]
    elif metric == "eval_acc_roughness":  # steps of +-value: their std is value
        h["eval_acc"] = [0.5, 0.5 + value, 0.5, 0.5 + value, 0.5]
    elif metric == "epochs_to_90":
        h["eval_acc"] = [0.1] * (int(value) - 1) + [0.9] * (6 - int(value) + 1)
    return run


def _values(metric, good: bool):
    if metric == "epochs_to_90":
        return [1, 2, 1] if good else [5, 6, 5]
    base = (0.9 if good else 0.5) if HIGHER_IS_BETTER[metric] else (0.1 if good else 0.5)
    return [base + 0.01 * s for s in range(3)]


def better_claims():
    return [(e, c) for e in EXPERIMENTS.values() for c in e.claims if c.kind == "better"]


@pytest.mark.parametrize("exp,claim", better_claims(), ids=lambda v: getattr(v, "text", getattr(v, "name", ""))[:40])
def test_each_better_claim_reads_its_measure_the_way_its_words_mean(exp, claim):
    assert claim.metric in HIGHER_IS_BETTER, f"a new measure {claim.metric!r}: add its direction here"

    def judged(run_good: bool) -> str:
        runs = [fake_run(claim.run, s, claim.metric, v) for s, v in enumerate(_values(claim.metric, run_good))]
        for rival in claim.rivals or (claim.than,):  # a best: every rival on the other side
            runs += [fake_run(rival, s, claim.metric, v) for s, v in enumerate(_values(claim.metric, not run_good))]
        rows = V.verdicts(exp, {"experiment": exp.name, "profile": "full", "runs": runs})
        return next(r["verdict"] for r in rows if r["text"] == claim.text and r["model"] == claim.run)

    assert judged(True) == "reproduced"
    assert judged(False) == "opposite direction"


def test_convergence_is_measured_against_ln_of_the_runs_own_classes():
    """tricks-caltech16 'converges' (cnn_bn, 16 classes): a final training loss of 2.30 is 1 - 2.30 / ln 16 =
    0.170 below a uniform guess (converged: >= 0.10), although it is ln 10 itself (0.001 for 10 classes)."""
    run = fake_run("cnn_bn", 0, classes=16)
    run["history"]["train_loss"] = [2.7, 2.30]
    assert V.train_loss_drop(run) == pytest.approx(1 - 2.30 / math.log(16))
    exp = EXPERIMENTS["tricks-caltech16"]
    runs = []
    for s, loss in enumerate((2.29, 2.30, 2.31)):
        r = fake_run("cnn_bn", s, classes=16)
        r["history"]["train_loss"] = [2.7, loss]
        runs.append(r)
    rows = V.verdicts(exp, {"experiment": exp.name, "profile": "full", "runs": runs})
    row = next(r for r in rows if r["model"] == "cnn_bn" and r["metric"] == "train_loss_drop")
    assert row["verdict"] == "reproduced"
    assert float(row["ours"]) == pytest.approx(np.mean([1 - v / math.log(16) for v in (2.29, 2.30, 2.31)]), abs=1e-4)


def test_the_width_limit_is_the_half_width_the_rules_text_states():
    """The rules text: '... unless that interval is more than W x the tolerance wide on each side'. An interval
    whose half-width is 0.8 W x tolerance (its full width 1.6 W) still judges; at 1.2 W it is inside the noise."""
    text = dict(V.RULES)["number"]
    wide = float(re.search(r"more than (\d+(?:\.\d+)?) x the tolerance wide on each side", text).group(1))
    tol = 0.01
    t = st.t.ppf(0.975, 2)
    for ratio, want in ((0.8, "reproduced"), (1.2, "inside the noise")):
        s = ratio * wide * tol * math.sqrt(3) / t  # sample std giving that half-width for n = 3
        xs = [0.5 - s, 0.5, 0.5 + s]
        half = (st.t.interval(0.95, 2, loc=np.mean(xs), scale=st.sem(xs))[1] - np.mean(xs))
        assert half == pytest.approx(ratio * wide * tol)
        assert V.judge_value(xs, 0.5, tol)["verdict"] == want, ratio


# --- detectability: power and seeds against scipy's noncentral t ---------------------------------------------------

def _scipy_power(delta, sa, sb, n):
    va, vb = sa * sa / n, sb * sb / n
    df = (va + vb) ** 2 / ((va * va + vb * vb) / (n - 1))
    crit = st.t.ppf(0.975, df)
    ncp = delta / math.sqrt(va + vb)
    return st.nct.sf(crit, df, ncp) + st.nct.cdf(-crit, df, ncp)


@pytest.mark.parametrize("ncp,df", [(0.5, 1.3), (2.8, 4.0), (3.0, 10.0), (1.0, 30.0), (4.0, 2.2), (0.0, 5.0),
                                    (2.5, 200.0)])
def test_power_of_the_two_sided_t_test_is_scipys_noncentral_t(ncp, df):
    from paddle_cnn.experiments.statistics import t_power
    crit = st.t.ppf(0.975, df)
    want = st.nct.sf(crit, df, ncp) + st.nct.cdf(-crit, df, ncp)
    assert t_power(ncp, df) == pytest.approx(want, abs=2e-4)


@pytest.mark.parametrize("sa,sb,delta", [(0.005, 0.005, 0.0027), (0.05, 0.05, 0.25), (0.02, 0.04, 0.03),
                                         (0.1, 0.01, 0.05), (0.03, 0.03, -0.02)])
def test_seeds_needed_is_the_fewest_with_80_percent_power(sa, sb, delta):
    from paddle_cnn.experiments.statistics import seeds_needed
    n = seeds_needed(sa, sb, delta)
    assert _scipy_power(delta, sa, sb, n) >= 0.8 - 1e-4
    assert n == 2 or _scipy_power(delta, sa, sb, n - 1) < 0.8 + 1e-4


def test_seeds_to_fit_a_no_effect_range():
    from paddle_cnn.experiments.statistics import seeds_to_fit

    def half(n, sa, sb):
        va, vb = sa * sa / n, sb * sb / n
        return st.t.ppf(0.975, (va + vb) ** 2 / ((va * va + vb * vb) / (n - 1))) * math.sqrt(va + vb)
    for sa, sb, bound in ((0.02, 0.02, 0.01), (0.05, 0.01, 0.02), (0.001, 0.002, 0.01)):
        n = seeds_to_fit(sa, sb, bound)
        assert half(n, sa, sb) <= bound and (n == 2 or half(n - 1, sa, sb) > bound)
