"""Selecting villages and households, with inclusion probabilities and design weights.

Methods and conventions:

- ``"systematic"``: probability proportional to size (PPS) without replacement by the
  systematic method with a random start (Kish 1965, 7.5; Lohr, *Sampling*, 6.2): within a
  stratum, units are taken in frame order (or ``sort_by`` order, implicit stratification),
  their sizes cumulated, and the units hit by the points r + k I (k = 0..n-1) are selected,
  with I = total size / n and r uniform on [0, I). A unit whose size is at least I is a
  certainty unit: it is taken with probability 1 and the interval recomputed for the rest,
  until no unit is that large. Inclusion probability pi_i = n' x size_i / total' for the
  non-certainty units, so the probabilities of a stratum sum to its sample size.
- ``"with_replacement"``: n independent PPS draws; ``hits`` counts how often a unit is drawn,
  ``expected_hits`` = n p_i (summing to n), ``inclusion_probability`` = 1 - (1 - p_i)^n and
  ``design_weight`` = 1 / (n p_i), the Hansen-Hurwitz weight of one hit.
- ``"simple"``: simple random sampling without replacement, pi = n / N.
- Households: simple random sampling of ``n`` listed households per selected village (all of
  them when fewer are listed); the overall inclusion probability is the village's times
  n / N_village, and the design weight its inverse.

Everything is drawn from ``numpy.random.default_rng(seed)`` with strata and villages taken in
sorted order, so a seed reproduces a sample. This module must not import ``estimate``,
``report`` or ``run``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, DataError


def _shown(value: object) -> object:
    """A cell value as a user would write it (numpy scalars as plain numbers)."""
    return value.item() if isinstance(value, np.generic) else value

METHODS = ("systematic", "with_replacement", "simple")


def _strata_keys(frame: pd.DataFrame, strata: str | None) -> pd.Series:
    if strata is None:
        return pd.Series("all", index=frame.index, dtype="object")
    if strata not in frame.columns:
        raise DataError(f"sampling: expected strata column {strata!r}, not in the data")
    return frame[strata].astype("object")


def _sizes(frame: pd.DataFrame, size: str) -> pd.Series:
    if size not in frame.columns:
        raise DataError(f"sampling: expected measure-of-size column {size!r}, not in the data")
    values = pd.to_numeric(frame[size], errors="coerce").astype("float64")
    bad = values.isna() | (values <= 0)
    if bad.any():
        where = bad.to_numpy().nonzero()[0][0]
        raise DataError(f"sampling, column {size!r}, row {frame.index[where]!r}: expected a "
                        f"positive size, found {_shown(frame[size].iloc[where])!r}")
    return values


def _sample_size(n: int | Mapping, stratum, available: int) -> int:
    wanted = n.get(stratum) if isinstance(n, Mapping) else n
    if not isinstance(wanted, int | np.integer) or wanted < 1 or wanted > available:
        raise ConfigError(f"sampling, key 'n' (stratum {stratum!r}): expected a whole number "
                          f"from 1 to {available}, found {wanted!r}")
    return int(wanted)


def _pps_probabilities(sizes: np.ndarray, n: int) -> np.ndarray:
    certain = np.zeros(sizes.size, dtype=bool)
    while True:
        remaining = n - certain.sum()
        total = sizes[~certain].sum()
        large = (~certain) & (sizes * remaining >= total)
        if remaining == 0 or not large.any():
            break
        certain |= large
    probabilities = np.ones(sizes.size)
    remaining = n - certain.sum()
    if remaining > 0:
        probabilities[~certain] = remaining * sizes[~certain] / sizes[~certain].sum()
    else:
        probabilities[~certain] = 0.0
    return probabilities


def inclusion_probabilities(frame: pd.DataFrame, *, size: str, n: int | Mapping,
                            strata: str | None = None) -> pd.Series:
    """PPS-without-replacement inclusion probabilities of every unit of the frame.

    Certainty units get 1; the probabilities of each stratum sum to its sample size.

    Examples
    --------
    >>> frame = pd.DataFrame({"households": [10, 20, 30, 140]})
    >>> inclusion_probabilities(frame, size="households", n=2).tolist()
    [0.16666666666666666, 0.3333333333333333, 0.5, 1.0]
    """
    sizes = _sizes(frame, size)
    keys = _strata_keys(frame, strata)
    out = pd.Series(np.nan, index=frame.index, name="inclusion_probability")
    for stratum in sorted(keys.unique(), key=str):
        rows = keys == stratum
        wanted = _sample_size(n, stratum, int(rows.sum()))
        out[rows] = _pps_probabilities(sizes[rows].to_numpy(), wanted)
    return out


def _systematic(sizes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    probabilities = _pps_probabilities(sizes, n)
    chosen = probabilities >= 1
    rest = np.flatnonzero(~chosen)
    remaining = n - int(chosen.sum())
    if remaining > 0:
        cumulative = np.cumsum(sizes[rest])
        interval = cumulative[-1] / remaining
        points = rng.uniform(0, interval) + interval * np.arange(remaining)
        hits = np.searchsorted(cumulative, points, side="right")
        chosen[rest[hits]] = True
    return chosen


def select_villages(frame: pd.DataFrame, *, n: int | Mapping, seed: int,
                    size: str | None = None, strata: str | None = None,
                    method: Literal["systematic", "with_replacement", "simple"] = "systematic",
                    sort_by: str | None = None) -> pd.DataFrame:
    """Select units (villages) by stratified PPS or simple random sampling.

    Parameters
    ----------
    frame
        The sampling frame, one row per village; not changed.
    n
        Sample size per stratum: one number for every stratum or a mapping stratum -> n.
    seed
        Seed of the draw.
    size
        Measure-of-size column (e.g. listed households); required for the PPS methods.
    strata
        Column of strata; each is sampled independently.
    method
        ``"systematic"`` PPS without replacement, ``"with_replacement"`` PPS or ``"simple"``.
    sort_by
        Column to order units by within a stratum before systematic selection.

    Returns
    -------
    pandas.DataFrame
        The selected rows (a unit drawn twice with replacement appears once, with ``hits``),
        adding ``stratum_sample_size``, ``inclusion_probability``, ``expected_hits``, ``hits``,
        ``design_weight`` and ``sampling_method``.

    Examples
    --------
    >>> frame = pd.DataFrame({"village": list("abcd"), "households": [10, 20, 30, 140]})
    >>> sample = select_villages(frame, n=2, size="households", seed=1)
    >>> "d" in sample["village"].tolist(), float(sample["design_weight"].min())
    (True, 1.0)
    """
    if method not in METHODS:
        raise ConfigError(f"sampling, key 'method': expected one of {list(METHODS)}, "
                          f"found {method!r}")
    if method != "simple" and size is None:
        raise ConfigError(f"sampling, key 'size': expected a measure-of-size column for "
                          f"method {method!r}, found None")
    rng = np.random.default_rng(seed)
    keys = _strata_keys(frame, strata)
    ordered = frame if sort_by is None else frame.sort_values(sort_by, kind="stable")
    pieces = []
    for stratum in sorted(keys.unique(), key=str):
        part = ordered[keys.loc[ordered.index] == stratum]
        wanted = _sample_size(n, stratum, len(part))
        if method == "simple":
            picks = np.sort(rng.choice(len(part), size=wanted, replace=False))
            selected = part.iloc[picks].assign(inclusion_probability=wanted / len(part))
            selected = selected.assign(expected_hits=selected["inclusion_probability"], hits=1)
        else:
            sizes = _sizes(part, size).to_numpy()
            if method == "systematic":
                chosen = _systematic(sizes, wanted, rng)
                probabilities = _pps_probabilities(sizes, wanted)
                selected = part[chosen].assign(inclusion_probability=probabilities[chosen])
                selected = selected.assign(expected_hits=selected["inclusion_probability"],
                                           hits=1)
            else:
                shares = sizes / sizes.sum()
                counts = rng.multinomial(wanted, shares)
                chosen = counts > 0
                selected = part[chosen].assign(
                    inclusion_probability=1 - (1 - shares[chosen]) ** wanted,
                    expected_hits=wanted * shares[chosen], hits=counts[chosen])
        weight = 1 / selected["expected_hits"]
        pieces.append(selected.assign(stratum_sample_size=wanted, design_weight=weight,
                                      sampling_method=method))
    return pd.concat(pieces)


def select_households(listing: pd.DataFrame, *, cluster: str, n: int | Mapping, seed: int,
                      cluster_probability: str | None = None) -> pd.DataFrame:
    """Simple random sample of ``n`` listed households in each village of the listing.

    Parameters
    ----------
    listing
        One row per listed household in the selected villages; not changed.
    cluster
        Village column.
    n
        Households per village (one number, or a mapping village -> n); villages with fewer
        listed households are taken whole.
    cluster_probability
        Column with the village's inclusion probability (from :func:`select_villages`), to
        give overall probabilities; without it, the village is taken as certain.

    Returns
    -------
    pandas.DataFrame
        The selected households with ``probability_within_cluster``,
        ``inclusion_probability`` and ``design_weight``.

    Examples
    --------
    >>> listing = pd.DataFrame({"village": ["a"] * 4 + ["b"] * 2, "hh": range(6)})
    >>> sample = select_households(listing, cluster="village", n=2, seed=3)
    >>> sample["probability_within_cluster"].tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    if cluster not in listing.columns:
        raise DataError(f"sampling: expected village column {cluster!r}, not in the listing")
    rng = np.random.default_rng(seed)
    pieces = []
    for village in sorted(listing[cluster].unique(), key=str):
        part = listing[listing[cluster] == village]
        wanted = n.get(village) if isinstance(n, Mapping) else n
        if not isinstance(wanted, int | np.integer) or wanted < 1:
            raise ConfigError(f"sampling, key 'n' (village {village!r}): expected a whole "
                              f"number >= 1, found {wanted!r}")
        take = min(int(wanted), len(part))
        picks = np.sort(rng.choice(len(part), size=take, replace=False))
        selected = part.iloc[picks]
        within = take / len(part)
        village_probability = (pd.to_numeric(selected[cluster_probability]).astype("float64")
                               if cluster_probability is not None else 1.0)
        overall = village_probability * within
        pieces.append(selected.assign(probability_within_cluster=within,
                                      inclusion_probability=overall,
                                      design_weight=1 / overall))
    return pd.concat(pieces)


def write_sample(sample: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a sample (with its probabilities and weights) to CSV, atomically.

    Written to a temporary file in the same folder, then renamed, so no partial file is left.

    Examples
    --------
    >>> folder = tempfile.mkdtemp()
    >>> write_sample(pd.DataFrame({"village": ["a"], "design_weight": [2.0]}),
    ...              Path(folder) / "sample.csv").name
    'sample.csv'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            sample.to_csv(stream, index=False)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
