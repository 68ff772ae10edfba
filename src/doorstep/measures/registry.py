"""A registry of published scales and a single scorer for them: ``score_scale``.

Each scale is a frozen :class:`Scale` record: its items (keys that an instrument maps to its own
variable names), the response range of an item, the reverse-coded items, the scoring rule (sum
or mean), the rule for missing items, derived scores (composites) and published cut-offs. The
built-ins, with the sources their rules and cut-offs follow:

- ``who5`` -- WHO-5 Well-Being Index (Topp, Ostergaard, Sondergaard and Bech 2015, Psychother.
  Psychosom. 84:167-176). Items 0-5; ``who5_raw`` 0-25; ``who5_percentage`` = 4 x raw, 0-100.
  Cut-offs on the percentage: <= 28 likely depression, <= 50 poor wellbeing. No prorating is
  published: a missing item gives a missing score.
- ``k6`` -- Kessler K6 (Kessler et al. 2003, Arch. Gen. Psychiatry 60:184-189). Six items 0-4,
  ``k6_total`` 0-24; >= 13 serious psychological distress. Missing if any item is missing.
- ``sdq_parent`` and ``sdq_self`` -- Strengths and Difficulties Questionnaire (Goodman 1997;
  youthinmind, "Scoring the SDQ for age 4-17", sdqinfo.org). Items ``sdq_01`` .. ``sdq_25``
  coded 0-2 in the standard item order; reversed items 7, 11, 14, 21, 25. Five subscales 0-10,
  each scored when at least 3 of its 5 items are answered as round(mean x 5) (halves up);
  ``sdq_total`` (0-40) = the four difficulty subscales; ``sdq_externalising`` = conduct +
  hyperactivity and ``sdq_internalising`` = emotional + peer (0-20; Goodman, Lamping and
  Ploubidis 2010). Cut-offs: ``four_band`` (the newer UK bands: close to average, slightly
  raised, high, very high; for prosocial: lowered) and ``three_band`` (the original normal,
  borderline, abnormal), with separate bands for the parent and the self-report (11-17) form.
  No bands are published for externalising and internalising.
- ``ucla3`` -- UCLA 3-item loneliness (Hughes, Waite, Hawkley and Cacioppo 2004, Res. Aging
  26:655-672). Items 1-3, ``ucla_total`` 3-9; >= 6 "lonely", the cut-off commonly used after
  Steptoe et al. (2013). Missing if any item is missing.
- ``rosenberg`` -- Rosenberg self-esteem scale (Rosenberg 1965). Ten items coded 0-3
  (0 strongly disagree .. 3 strongly agree); items 2, 5, 6, 8, 9 are reverse-coded (3 - x);
  ``rosenberg_total`` is on the **0-30** scale (instruments coding 1-4 declare a user scale with
  ``"range": [1, 4]`` to get 10-40). No cut-off and no prorating is published.
- ``cantril_ladder`` -- Cantril self-anchoring ladder / life satisfaction, one item 0-10,
  ``cantril_ladder`` 0-10. No single-item cut-off is published (Gallup's thriving/suffering
  classes need the future ladder too), so none is given.

Users declare their own scales from a spec dict (:func:`scale_from_spec`); the same validation
as the built-ins' applies. This module must not import ``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, DataError


def _shown(value: object) -> object:
    """A cell value as a user would write it (numpy scalars as plain numbers)."""
    return value.item() if isinstance(value, np.generic) else value

Rule = Literal["sum", "mean"]
MissingRule = Literal["complete", "prorate", "prorate_rounded"]
RULES = ("sum", "mean")
MISSING_RULES = ("complete", "prorate", "prorate_rounded")


@dataclass(frozen=True)
class Band:
    """One band of a cut-off scheme: scores from ``low`` to ``high``, both inclusive.

    A score is given the first band (in ascending order) whose ``high`` it does not exceed,
    so a non-integer score between two published integer bands goes to the upper one.
    """

    label: str
    low: float
    high: float


@dataclass(frozen=True)
class CutOffs:
    """Published bands of one score under one named scheme (e.g. ``"four_band"``)."""

    scheme: str
    score: str
    bands: tuple[Band, ...]
    source: str = ""


@dataclass(frozen=True)
class Subscale:
    """A score computed from items: its output column and the items it is made of.

    ``minimum_answered`` is how many items must be answered for the prorating rules (``None``:
    all of them).
    """

    name: str
    items: tuple[str, ...]
    minimum_answered: int | None = None


@dataclass(frozen=True)
class Composite:
    """A score computed from other scores: ``multiplier`` x the sum of ``parts``.

    Missing when any part is missing.
    """

    name: str
    parts: tuple[str, ...]
    multiplier: float = 1.0


@dataclass(frozen=True)
class Scale:
    """A scale's scoring rules; validated when created (a ``ConfigError`` names the key).

    Examples
    --------
    >>> SCALES["k6"].response_range
    (0, 4)
    >>> [score for score, _ in SCALES["who5"].score_ranges()]
    ['who5_raw', 'who5_percentage']
    """

    name: str
    items: tuple[str, ...]
    response_range: tuple[float, float]
    reversed_items: tuple[str, ...] = ()
    rule: Rule = "sum"
    missing_rule: MissingRule = "complete"
    subscales: tuple[Subscale, ...] = ()
    composites: tuple[Composite, ...] = ()
    cut_offs: tuple[CutOffs, ...] = ()
    label: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        _validate(self)

    def score_ranges(self) -> list[tuple[str, tuple[float, float]]]:
        """Every score of the scale with its (minimum, maximum), in output order."""
        return list(_validate(self).items())

    def schemes(self) -> list[str]:
        """Names of the cut-off schemes, first one the default."""
        return list(dict.fromkeys(cut.scheme for cut in self.cut_offs))


def _fail(scale: str, key: str, expected: str, found: object) -> ConfigError:
    return ConfigError(f"scale {scale!r}, key {key!r}: expected {expected}, found {found!r}")


def _validate(scale: Scale) -> dict[str, tuple[float, float]]:
    name = scale.name
    if not isinstance(name, str) or not name:
        raise _fail(str(name), "name", "a non-empty string", name)
    items = scale.items
    if not items or any(not isinstance(item, str) or not item for item in items):
        raise _fail(name, "items", "a non-empty list of item names", list(items))
    if len(set(items)) != len(items):
        raise _fail(name, "items", "each item once",
                    sorted({item for item in items if items.count(item) > 1}))
    low_high = scale.response_range
    if (len(low_high) != 2 or not all(isinstance(v, int | float) for v in low_high)
            or not low_high[0] < low_high[1]):
        raise _fail(name, "range", "[lowest, highest] with lowest < highest", list(low_high))
    unknown = [item for item in scale.reversed_items if item not in items]
    if unknown:
        raise _fail(name, "reversed", f"items of the scale {list(items)}", unknown)
    if scale.rule not in RULES:
        raise _fail(name, "rule", f"one of {list(RULES)}", scale.rule)
    if scale.missing_rule not in MISSING_RULES:
        raise _fail(name, "missing", f"one of {list(MISSING_RULES)}", scale.missing_rule)
    if not scale.subscales:
        raise _fail(name, "items", "at least one score", [])
    low, high = low_high
    ranges: dict[str, tuple[float, float]] = {}
    for subscale in scale.subscales:
        outside = [item for item in subscale.items if item not in items]
        if not subscale.items or outside:
            raise _fail(name, f"items.{subscale.name}", f"items of the scale {list(items)}",
                        outside or [])
        if subscale.name in ranges:
            raise _fail(name, "items", "each score named once", subscale.name)
        count = len(subscale.items)
        minimum = subscale.minimum_answered
        if minimum is not None and not (isinstance(minimum, int) and 1 <= minimum <= count):
            raise _fail(name, f"minimum_answered of {subscale.name!r}",
                        f"a whole number from 1 to {count}", minimum)
        ranges[subscale.name] = (low * count, high * count) if scale.rule == "sum" else (low,
                                                                                        high)
    for composite in scale.composites:
        missing_parts = [part for part in composite.parts if part not in ranges]
        if not composite.parts or missing_parts:
            raise _fail(name, f"composites.{composite.name}", f"scores among {list(ranges)}",
                        missing_parts)
        if composite.name in ranges:
            raise _fail(name, "composites", "each score named once", composite.name)
        bounds = sorted(composite.multiplier * value for value in (
            sum(ranges[part][0] for part in composite.parts),
            sum(ranges[part][1] for part in composite.parts)))
        ranges[composite.name] = (bounds[0], bounds[1])
    for cut in scale.cut_offs:
        _validate_bands(name, cut, ranges)
    return ranges


def _validate_bands(name: str, cut: CutOffs, ranges: Mapping[str, tuple[float, float]]) -> None:
    key = f"cut_offs.{cut.score}"
    if cut.score not in ranges:
        raise _fail(name, key, f"a score among {list(ranges)}", cut.score)
    bands = cut.bands
    if not bands:
        raise _fail(name, key, "at least one band", [])
    low, high = ranges[cut.score]
    if bands[0].low != low or bands[-1].high != high:
        raise _fail(name, key, f"bands covering {low:g}-{high:g}",
                    f"{bands[0].low:g}-{bands[-1].high:g}")
    for band, following in zip(bands, (*bands[1:], None), strict=True):
        if band.low > band.high or (following is not None and not band.high < following.low):
            raise _fail(name, key, "ascending, non-overlapping bands [label, low, high]",
                        [(b.label, b.low, b.high) for b in bands])


def _bands(*rows: tuple[str, float, float]) -> tuple[Band, ...]:
    return tuple(Band(label, low, high) for label, low, high in rows)


SDQ_SOURCE = "youthinmind, Scoring the SDQ for age 4-17 (sdqinfo.org), UK norms"
SDQ_ITEMS = tuple(f"sdq_{number:02d}" for number in range(1, 26))
_SDQ_NUMBERS = {
    "sdq_emotional": (3, 8, 13, 16, 24),
    "sdq_conduct": (5, 7, 12, 18, 22),
    "sdq_hyperactivity": (2, 10, 15, 21, 25),
    "sdq_peer": (6, 11, 14, 19, 23),
    "sdq_prosocial": (1, 4, 9, 17, 20),
}
_FOUR = ("close to average", "slightly raised", "high", "very high")
_FOUR_PROSOCIAL = ("very low", "low", "slightly lowered", "close to average")
_THREE = ("normal", "borderline", "abnormal")
_THREE_PROSOCIAL = ("abnormal", "borderline", "normal")

# Published band edges (upper bounds of all bands but the last), ascending scores.
_SDQ_EDGES: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {
    ("parent", "four_band"): {"sdq_total": (13, 16, 19), "sdq_emotional": (3, 4, 6),
                              "sdq_conduct": (2, 3, 5), "sdq_hyperactivity": (5, 7, 8),
                              "sdq_peer": (2, 3, 4), "sdq_prosocial": (5, 6, 7)},
    ("self", "four_band"): {"sdq_total": (14, 17, 19), "sdq_emotional": (4, 5, 6),
                            "sdq_conduct": (2, 3, 4), "sdq_hyperactivity": (5, 6, 7),
                            "sdq_peer": (2, 3, 4), "sdq_prosocial": (4, 5, 6)},
    ("parent", "three_band"): {"sdq_total": (13, 16), "sdq_emotional": (3, 4),
                               "sdq_conduct": (2, 3), "sdq_hyperactivity": (5, 6),
                               "sdq_peer": (2, 3), "sdq_prosocial": (4, 5)},
    ("self", "three_band"): {"sdq_total": (15, 19), "sdq_emotional": (5, 6),
                             "sdq_conduct": (3, 4), "sdq_hyperactivity": (5, 6),
                             "sdq_peer": (3, 5), "sdq_prosocial": (4, 5)},
}


def _edges_to_bands(labels: tuple[str, ...], edges: tuple[int, ...], top: int
                    ) -> tuple[Band, ...]:
    lows = (0, *(edge + 1 for edge in edges))
    highs = (*edges, top)
    return tuple(Band(label, low, high) for label, low, high in zip(labels, lows, highs,
                                                                     strict=True))


def _sdq(form: str) -> Scale:
    cut_offs = []
    for scheme in ("four_band", "three_band"):
        for score, edges in _SDQ_EDGES[(form, scheme)].items():
            if score == "sdq_prosocial":
                labels = _FOUR_PROSOCIAL if scheme == "four_band" else _THREE_PROSOCIAL
            else:
                labels = _FOUR if scheme == "four_band" else _THREE
            top = 40 if score == "sdq_total" else 10
            cut_offs.append(CutOffs(scheme, score, _edges_to_bands(labels, edges, top),
                                    SDQ_SOURCE))
    return Scale(
        name=f"sdq_{form}",
        label=f"Strengths and Difficulties Questionnaire ({form} report)",
        items=SDQ_ITEMS,
        response_range=(0, 2),
        reversed_items=tuple(f"sdq_{number:02d}" for number in (7, 11, 14, 21, 25)),
        rule="sum",
        missing_rule="prorate_rounded",
        subscales=tuple(Subscale(name, tuple(f"sdq_{n:02d}" for n in numbers), 3)
                        for name, numbers in _SDQ_NUMBERS.items()),
        composites=(
            Composite("sdq_total", ("sdq_emotional", "sdq_conduct", "sdq_hyperactivity",
                                    "sdq_peer")),
            Composite("sdq_externalising", ("sdq_conduct", "sdq_hyperactivity")),
            Composite("sdq_internalising", ("sdq_emotional", "sdq_peer")),
        ),
        cut_offs=tuple(cut_offs),
        source=SDQ_SOURCE,
    )


def _single(name: str, label: str, items: tuple[str, ...], response_range, score: str,
            cut_offs: tuple[CutOffs, ...] = (), reversed_items=(), source: str = "",
            composites: tuple[Composite, ...] = ()) -> Scale:
    return Scale(name=name, label=label, items=items, response_range=response_range,
                 reversed_items=reversed_items, subscales=(Subscale(score, items),),
                 composites=composites, cut_offs=cut_offs, source=source)


_WHO5_SOURCE = "Topp et al. 2015, Psychother. Psychosom. 84:167-176"
_K6_SOURCE = "Kessler et al. 2003, Arch. Gen. Psychiatry 60:184-189"
_UCLA_SOURCE = "Hughes et al. 2004, Res. Aging 26:655-672; cut-off >= 6 as in Steptoe et al. 2013"

BUILT_IN_SCALES: tuple[Scale, ...] = (
    _single("who5", "WHO-5 Well-Being Index", tuple(f"who5_{n}" for n in range(1, 6)), (0, 5),
            "who5_raw", source=_WHO5_SOURCE,
            composites=(Composite("who5_percentage", ("who5_raw",), 4.0),),
            cut_offs=(CutOffs("published", "who5_percentage", _bands(
                ("likely depression", 0, 28), ("poor wellbeing", 29, 50),
                ("not poor wellbeing", 51, 100)), _WHO5_SOURCE),)),
    _single("k6", "Kessler psychological distress scale (K6)",
            tuple(f"k6_{n}" for n in range(1, 7)), (0, 4), "k6_total", source=_K6_SOURCE,
            cut_offs=(CutOffs("published", "k6_total", _bands(
                ("no serious distress", 0, 12), ("serious psychological distress", 13, 24)),
                _K6_SOURCE),)),
    _sdq("parent"),
    _sdq("self"),
    _single("ucla3", "UCLA 3-item loneliness scale", tuple(f"ucla_{n}" for n in range(1, 4)),
            (1, 3), "ucla_total", source=_UCLA_SOURCE,
            cut_offs=(CutOffs("published", "ucla_total", _bands(
                ("not lonely", 3, 5), ("lonely", 6, 9)), _UCLA_SOURCE),)),
    _single("rosenberg", "Rosenberg self-esteem scale (0-30 scoring)",
            tuple(f"rse_{n:02d}" for n in range(1, 11)), (0, 3), "rosenberg_total",
            reversed_items=tuple(f"rse_{n:02d}" for n in (2, 5, 6, 8, 9)),
            source="Rosenberg 1965, Society and the Adolescent Self-Image"),
    _single("cantril_ladder", "Cantril ladder / life satisfaction", ("ladder",), (0, 10),
            "cantril_ladder", source="Cantril 1965, The Pattern of Human Concerns"),
)
SCALES: Mapping[str, Scale] = MappingProxyType({scale.name: scale for scale in BUILT_IN_SCALES})

_SPEC_KEYS = ("name", "label", "items", "range", "reversed", "rule", "missing",
              "minimum_answered", "composites", "cut_offs", "source")


def scale_from_spec(spec: Mapping) -> Scale:
    """Build a user-defined :class:`Scale` from a spec dict, validated like the built-ins.

    Parameters
    ----------
    spec
        ``name`` and ``items`` (a list of item keys, or a mapping of score name to item keys
        for several subscales), ``range`` ``[lowest, highest]`` of an item, and optionally
        ``reversed`` (items recoded lowest + highest - x), ``rule`` (``"sum"`` or ``"mean"``),
        ``missing`` (``"complete"``: every item needed, the default; ``"prorate"``: mean of
        the answered items x the number of items (or the mean, for ``rule="mean"``);
        ``"prorate_rounded"``: the same, rounded to a whole number, halves up),
        ``minimum_answered`` (for the prorating rules), ``composites`` (score name -> list of
        scores summed), ``cut_offs`` (score name -> list of ``[label, low, high]``, ascending,
        or scheme name -> such a mapping), ``label`` and ``source``.

    Raises
    ------
    ConfigError
        Naming the key, what was expected and what was found.

    Examples
    --------
    >>> scale = scale_from_spec({"name": "stress", "items": ["s1", "s2", "s3"],
    ...                          "range": [1, 5], "reversed": ["s2"]})
    >>> scale.score_ranges()
    [('stress', (3, 15))]
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(f"scale spec: expected a mapping, found {type(spec).__name__}")
    name = spec.get("name", "")
    unknown = [key for key in spec if key not in _SPEC_KEYS]
    if unknown:
        raise _fail(str(name), unknown[0], f"one of {list(_SPEC_KEYS)}", unknown[0])
    for key in ("name", "items", "range"):
        if key not in spec:
            raise _fail(str(name), key, "a value (required)", None)
    raw_items = spec["items"]
    minimum = spec.get("minimum_answered")
    if isinstance(raw_items, Mapping):
        subscales = tuple(Subscale(str(score), tuple(_strings(name, f"items.{score}", values)),
                                   minimum) for score, values in raw_items.items())
        items = tuple(dict.fromkeys(item for sub in subscales for item in sub.items))
    else:
        items = tuple(_strings(name, "items", raw_items))
        subscales = (Subscale(str(name), items, minimum),)
    value_range = spec["range"]
    if not isinstance(value_range, Sequence) or isinstance(value_range, str):
        raise _fail(str(name), "range", "[lowest, highest]", value_range)
    composites = tuple(Composite(str(score), tuple(_strings(name, f"composites.{score}", parts)))
                       for score, parts in dict(spec.get("composites", {})).items())
    return Scale(
        name=str(name), label=str(spec.get("label", name)), items=items,
        response_range=tuple(value_range), reversed_items=tuple(
            _strings(name, "reversed", spec.get("reversed", []))),
        rule=spec.get("rule", "sum"), missing_rule=spec.get("missing", "complete"),
        subscales=subscales, composites=composites,
        cut_offs=_cut_offs_from_spec(str(name), spec.get("cut_offs", {})),
        source=str(spec.get("source", "")),
    )


def _strings(name, key: str, values) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise _fail(str(name), key, "a list of names", values)
    if any(not isinstance(value, str) for value in values):
        raise _fail(str(name), key, "names (strings)", list(values))
    return list(values)


def _cut_offs_from_spec(name: str, raw: Mapping) -> tuple[CutOffs, ...]:
    if not isinstance(raw, Mapping):
        raise _fail(name, "cut_offs", "a mapping of score -> [[label, low, high], ...]", raw)
    nested = raw and all(isinstance(value, Mapping) for value in raw.values())
    schemes = raw if nested else {"published": raw}
    cut_offs = []
    for scheme, by_score in schemes.items():
        for score, rows in by_score.items():
            if (isinstance(rows, str) or not isinstance(rows, Sequence)
                    or any(isinstance(row, str) or not isinstance(row, Sequence) or len(row) != 3
                           for row in rows)):
                raise _fail(name, f"cut_offs.{score}", "a list of [label, low, high]", rows)
            cut_offs.append(CutOffs(str(scheme), str(score), tuple(
                Band(str(label), float(low), float(high)) for label, low, high in rows)))
    return tuple(cut_offs)


def get_scale(scale: str | Scale | Mapping) -> Scale:
    """A built-in scale by name, a :class:`Scale` as is, or a spec dict built and validated.

    Examples
    --------
    >>> get_scale("ucla3").items
    ('ucla_1', 'ucla_2', 'ucla_3')
    """
    if isinstance(scale, Scale):
        return scale
    if isinstance(scale, Mapping):
        return scale_from_spec(scale)
    if isinstance(scale, str) and scale in SCALES:
        return SCALES[scale]
    raise ConfigError(f"scale: expected one of {sorted(SCALES)}, a Scale or a spec dict, "
                      f"found {scale!r}")


def item_columns(scale: Scale, items: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each item key of ``scale`` to a column name (keys not in ``items`` map to themselves).

    Raises
    ------
    ConfigError
        If ``items`` names a key that is not an item of the scale.

    Examples
    --------
    >>> item_columns(SCALES["cantril_ladder"], {"ladder": "life_satisfaction"})
    {'ladder': 'life_satisfaction'}
    """
    mapping = dict(items or {})
    unknown = [key for key in mapping if key not in scale.items]
    if unknown:
        raise _fail(scale.name, "items", f"keys among the scale's items {list(scale.items)}",
                    unknown)
    return {item: str(mapping.get(item, item)) for item in scale.items}


def keyed_items(frame: pd.DataFrame, scale: str | Scale | Mapping,
                items: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The scale's items as floats, checked against the response range and reverse-coded.

    Columns are the scale's item keys, on the frame's index; the frame is not changed.

    Raises
    ------
    DataError
        If a column is missing, or a value is not a number or outside the response range.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [0], "b": [3]})
    >>> keyed_items(frame, {"name": "x", "items": ["a", "b"], "range": [0, 3],
    ...                     "reversed": ["b"]}).iloc[0].tolist()
    [0.0, 0.0]
    """
    record = get_scale(scale)
    columns = item_columns(record, items)
    absent = [column for column in columns.values() if column not in frame.columns]
    if absent:
        raise DataError(f"scale {record.name!r}: expected item columns {absent}, not found in "
                        f"the data (map items to columns with items={{item: column}})")
    low, high = record.response_range
    keyed = {}
    for item, column in columns.items():
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = (raw.notna() & values.isna()) | (values < low) | (values > high)
        if bad.any():
            where = bad.to_numpy().nonzero()[0][0]
            raise DataError(
                f"scale {record.name!r}, column {column!r}, row {frame.index[where]!r}: expected "
                f"a number from {low:g} to {high:g}, found {_shown(raw.iloc[where])!r}")
        keyed[item] = low + high - values if item in record.reversed_items else values
    return pd.DataFrame(keyed, index=frame.index)


def _subscale_score(block: pd.DataFrame, scale: Scale, subscale: Subscale) -> pd.Series:
    count = len(subscale.items)
    answered = block.notna().sum(axis=1)
    if scale.missing_rule == "complete":
        needed = count
    else:
        needed = count if subscale.minimum_answered is None else subscale.minimum_answered
    mean = block.mean(axis=1)
    score = mean if scale.rule == "mean" else mean * count
    if scale.missing_rule == "prorate_rounded":
        score = np.floor(score + 0.5)
    return score.where(answered >= needed)


def _band_column(scores: pd.Series, cut: CutOffs) -> pd.Series:
    labels = [band.label for band in cut.bands]
    edges = [-np.inf, *(band.high for band in cut.bands[:-1]), np.inf]
    return pd.Series(pd.cut(scores, bins=edges, labels=labels, right=True, ordered=False)
                     .astype(pd.CategoricalDtype(list(dict.fromkeys(labels)), ordered=True)),
                     index=scores.index, name=f"{cut.score}_band")


def score_scale(frame: pd.DataFrame, scale: str | Scale | Mapping, *,
                items: Mapping[str, str] | None = None,
                cut_offs: str | None = None) -> pd.DataFrame:
    """Score a scale and band its scores by a published cut-off scheme.

    Parameters
    ----------
    frame
        Survey data; not changed.
    scale
        A built-in name (see ``SCALES``), a :class:`Scale`, or a spec dict
        (:func:`scale_from_spec`).
    items
        Mapping from the scale's item keys to the instrument's column names; keys left out are
        looked up under their own name.
    cut_offs
        The cut-off scheme (``scale.schemes()``); default the first. ``"none"`` gives no bands.

    Returns
    -------
    pandas.DataFrame
        On the frame's index: one float column per score (subscales, then composites) and one
        ordered categorical ``<score>_band`` per score with bands under the scheme.

    Raises
    ------
    ConfigError
        Unknown scale, item key or scheme.
    DataError
        Missing item column, or an item value that is not a number in the response range.

    Examples
    --------
    >>> frame = pd.DataFrame({f"q{i}": [3] for i in range(1, 6)})
    >>> out = score_scale(frame, "who5", items={f"who5_{i}": f"q{i}" for i in range(1, 6)})
    >>> out.loc[0, "who5_raw"], out.loc[0, "who5_percentage"], out.loc[0, "who5_percentage_band"]
    (np.float64(15.0), np.float64(60.0), 'not poor wellbeing')
    """
    record = get_scale(scale)
    keyed = keyed_items(frame, record, items)
    schemes = record.schemes()
    if cut_offs is None:
        scheme = schemes[0] if schemes else "none"
    elif cut_offs in (*schemes, "none"):
        scheme = cut_offs
    else:
        raise _fail(record.name, "cut_offs", f"one of {[*schemes, 'none']}", cut_offs)
    scores = {}
    for subscale in record.subscales:
        scores[subscale.name] = _subscale_score(keyed[list(subscale.items)], record, subscale)
    for composite in record.composites:
        parts = pd.concat([scores[part] for part in composite.parts], axis=1)
        scores[composite.name] = (parts.sum(axis=1, min_count=len(composite.parts))
                                  * composite.multiplier)
    out = pd.DataFrame(scores, index=frame.index)
    for cut in record.cut_offs:
        if cut.scheme == scheme:
            out[f"{cut.score}_band"] = _band_column(out[cut.score], cut)
    return out


def cut_off_table(scale: str | Scale | Mapping) -> pd.DataFrame:
    """The published bands of a scale as a tidy table (scheme, score, band, low, high, source).

    Examples
    --------
    >>> cut_off_table("k6")["band"].tolist()
    ['no serious distress', 'serious psychological distress']
    """
    record = get_scale(scale)
    rows = [{"scale": record.name, "scheme": cut.scheme, "score": cut.score,
             "band": band.label, "low": band.low, "high": band.high, "source": cut.source}
            for cut in record.cut_offs for band in cut.bands]
    return pd.DataFrame(rows, columns=["scale", "scheme", "score", "band", "low", "high",
                                       "source"])
