"""Statistics of the verdicts, without scipy: Student's t (its CDF through the regularised incomplete beta
function, its quantile by bisection), mean and standard deviation of the finite values, the 95% t-interval of a
mean and Welch's comparison of two means; the power of a two-sided t-test (noncentral t by quadrature) and the seeds
per run a difference needs. The tests check them against scipy."""
from __future__ import annotations

import math

import numpy as np

LEVEL = 0.95  # of every interval and test


# --- Student's t, without scipy ---------------------------------------------------------------------------------

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df (real, > 0) degrees of freedom, by bisection on the CDF."""
    if not 0 < p < 1 or not df > 0:
        raise ValueError(f"t quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


# --- statistics of runs -----------------------------------------------------------------------------------------

def stats(xs) -> tuple[float, float, int]:
    """(mean, std with ddof 1 (0 for one value), count) of the finite values."""
    xs = [float(x) for x in xs if x is not None and math.isfinite(float(x))]
    if not xs:
        return float("nan"), float("nan"), 0
    return float(np.mean(xs)), (float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0), len(xs)


def interval(xs) -> tuple[float, float, float, int]:
    """(mean, low, high, n): the 95% t-interval of the mean (n >= 2)."""
    m, s, n = stats(xs)
    if n < 2:
        return m, float("nan"), float("nan"), n
    h = t_quantile(0.5 + LEVEL / 2, n - 1) * s / math.sqrt(n)
    return m, m - h, m + h, n


def welch(xs, ys, factor: float = 1.0) -> dict:
    """Welch's comparison of mean(xs) - factor * mean(ys): difference, standard error, degrees of freedom, the
    95% interval and the two-sided p-value (n >= 2 in both)."""
    a, sa, na = stats(xs)
    b, sb, nb = stats(ys)
    va, vb = sa ** 2 / na, factor ** 2 * sb ** 2 / nb
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)) if se > 0 else na + nb - 2
    diff = a - factor * b
    h = t_quantile(0.5 + LEVEL / 2, df) * se
    p = 2 * (1 - t_cdf(abs(diff) / se, df)) if se > 0 else (0.0 if diff else 1.0)
    return {"a": a, "b": b, "diff": diff, "se": se, "df": df, "lo": diff - h, "hi": diff + h, "p": p,
            "na": na, "nb": nb}


# --- what a comparison could detect ------------------------------------------------------------------------------

POWER = 0.8  # of the seeds-needed figure
MAX_SEEDS = 10_000  # beyond this a difference is "not detectable at any practical number of seeds"


def t_power(ncp: float, df: float, level: float = LEVEL) -> float:
    """Power of a two-sided t-test at `level`: P(|T'| > t_crit) for T' noncentral t (df, ncp). T' = (Z + ncp) /
    sqrt(V / df) with V chi-square(df); the expectation over V is a quadrature over w = sqrt(V)."""
    crit = t_quantile(0.5 + level / 2, df)
    w = np.linspace(1e-9, math.sqrt(df) + 12.0, 6001)
    log_dens = (df - 1) * np.log(w) - w * w / 2 - (df / 2 - 1) * math.log(2) - math.lgamma(df / 2)  # of w
    dens = np.exp(log_dens)
    u = crit * w / math.sqrt(df)
    erfc = np.frompyfunc(math.erfc, 1, 1)
    tails = 0.5 * (erfc((u - ncp) / math.sqrt(2)) + erfc((u + ncp) / math.sqrt(2))).astype(float)
    integrate = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
    return float(integrate(dens * tails, w))


def welch_df(sa: float, sb: float, n: int) -> float:
    """Welch's degrees of freedom for n values per arm with standard deviations sa and sb."""
    va, vb = sa * sa / n, sb * sb / n
    return (va + vb) ** 2 / ((va * va + vb * vb) / (n - 1)) if va + vb > 0 else 2 * n - 2


def seeds_needed(sa: float, sb: float, delta: float, power: float = POWER) -> int | None:
    """The fewest seeds per run (both arms) at which a two-sided Welch test at the 5% level finds a true
    difference `delta` with probability >= power, given the arms' standard deviations sa, sb; None beyond
    MAX_SEEDS. Zero spread: 2 (the fewest with an interval)."""
    if delta == 0:
        return None
    if sa == 0 and sb == 0:
        return 2

    def ok(n):
        return t_power(abs(delta) / math.sqrt((sa * sa + sb * sb) / n), welch_df(sa, sb, n)) >= power
    return _fewest(ok)


def seeds_to_fit(sa: float, sb: float, bound: float) -> int | None:
    """The fewest seeds per run at which the 95% Welch interval of a zero difference has a half-width <= bound
    (so that a claim of 'no effect larger than bound' can be reproduced at all); None beyond MAX_SEEDS."""
    if sa == 0 and sb == 0:
        return 2

    def ok(n):
        return t_quantile(0.5 + LEVEL / 2, welch_df(sa, sb, n)) * math.sqrt((sa * sa + sb * sb) / n) <= bound
    return _fewest(ok)


def _fewest(ok) -> int | None:
    """The smallest n in 2..MAX_SEEDS with ok(n), for ok monotone in n (doubling, then bisection); None if none."""
    if not ok(MAX_SEEDS):
        return None
    lo, hi = 1, 2
    while not ok(hi):
        lo, hi = hi, min(hi * 2, MAX_SEEDS)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi
