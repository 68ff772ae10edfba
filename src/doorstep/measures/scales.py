"""Scoring of the SDQ, WHO-5, UCLA-3 and household income.

Rules for missing items, stated once here and in each docstring:

- SDQ (Goodman; youthinmind scoring syntax): a subscale is scored when at least 3 of its 5
  items are answered, as the mean of the answered items times 5, rounded to the nearest
  integer; total difficulties is the sum of the four difficulty subscales and is scored only when
  all four are.
- WHO-5: no prorating is published, so the score is missing when any item is missing. Raw
  score 0-25, percentage score = 4 x raw, 0-100.
- UCLA 3-item loneliness (Hughes et al. 2004): sum of the three items (1-3 each), 3-9; missing
  when any item is missing.
- Household income: the sum of its components; missing when any component is missing (no
  imputation: a missing component is not a zero).
- Earnings including zeros: ``earnings_month`` is asked only of women in work (skip logic); for
  impact on earnings the not-employed earn 0, so the measure sets it to 0 where ``employed``
  is 0 and leaves it missing where employment itself is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SDQ_SUBSCALES: dict[str, tuple[int, ...]] = {
    "sdq_emotional": (3, 8, 13, 16, 24),
    "sdq_conduct": (5, 7, 12, 18, 22),
    "sdq_hyperactivity": (2, 10, 15, 21, 25),
    "sdq_peer": (6, 11, 14, 19, 23),
    "sdq_prosocial": (1, 4, 9, 17, 20),
}
SDQ_REVERSED_ITEMS = (7, 11, 14, 21, 25)
SDQ_DIFFICULTY_SUBSCALES = ("sdq_emotional", "sdq_conduct", "sdq_hyperactivity", "sdq_peer")
WHO5_ITEMS = tuple(f"who5_{number}" for number in range(1, 6))
UCLA_ITEMS = tuple(f"ucla_{number}" for number in range(1, 4))
INCOME_COMPONENTS = ("inc_wages", "inc_business", "inc_farming", "inc_transfers")


def _numeric(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    return frame.loc[:, list(columns)].apply(pd.to_numeric, errors="coerce").astype("float64")


def sdq_scores(frame: pd.DataFrame, *, prefix: str = "sdq_") -> pd.DataFrame:
    """Score the SDQ: five subscales and total difficulties.

    Parameters
    ----------
    frame
        Items ``{prefix}01`` .. ``{prefix}25`` coded 0 (not true), 1 (somewhat true),
        2 (certainly true), in the standard SDQ item order.

    Returns
    -------
    pandas.DataFrame
        ``sdq_emotional``, ``sdq_conduct``, ``sdq_hyperactivity``, ``sdq_peer``,
        ``sdq_prosocial`` (0-10) and ``sdq_total`` (0-40), on the frame's index.

    Examples
    --------
    >>> items = pd.DataFrame({f"sdq_{i:02d}": [1] for i in range(1, 26)})
    >>> int(sdq_scores(items)["sdq_total"].iloc[0])
    20
    """
    columns = tuple(f"{prefix}{number:02d}" for number in range(1, 26))
    items = _numeric(frame, columns)
    for number in SDQ_REVERSED_ITEMS:
        items[f"{prefix}{number:02d}"] = 2 - items[f"{prefix}{number:02d}"]
    scores = pd.DataFrame(index=frame.index)
    for subscale, numbers in SDQ_SUBSCALES.items():
        block = items[[f"{prefix}{number:02d}" for number in numbers]]
        answered = block.notna().sum(axis=1)
        prorated = np.floor(block.mean(axis=1) * 5 + 0.5)
        scores[subscale] = prorated.where(answered >= 3)
    scores["sdq_total"] = scores[list(SDQ_DIFFICULTY_SUBSCALES)].sum(axis=1, min_count=4)
    return scores


def who5_score(frame: pd.DataFrame) -> pd.Series:
    """WHO-5 percentage score (0-100): 4 x the sum of five items scored 0-5.

    Examples
    --------
    >>> who5_score(pd.DataFrame({f"who5_{i}": [3] for i in range(1, 6)})).tolist()
    [60.0]
    """
    return (_numeric(frame, WHO5_ITEMS).sum(axis=1, min_count=5) * 4).rename("who5_score")


def ucla_total(frame: pd.DataFrame) -> pd.Series:
    """UCLA 3-item loneliness total (3-9).

    Examples
    --------
    >>> ucla_total(pd.DataFrame({"ucla_1": [1], "ucla_2": [2], "ucla_3": [3]})).tolist()
    [6.0]
    """
    return _numeric(frame, UCLA_ITEMS).sum(axis=1, min_count=3).rename("ucla_total")


def household_income(frame: pd.DataFrame, components: tuple[str, ...] = INCOME_COMPONENTS
                     ) -> pd.Series:
    """Monthly household income: the sum of its components, missing if any is missing.

    Examples
    --------
    >>> household_income(pd.DataFrame({"inc_wages": [3000], "inc_business": [0],
    ...                                "inc_farming": [500], "inc_transfers": [200]})).tolist()
    [3700.0]
    """
    return _numeric(frame, components).sum(axis=1, min_count=len(components)).rename("hh_income")


def earnings_including_zeros(frame: pd.DataFrame, earnings: str = "earnings_month",
                             employed: str = "employed") -> pd.Series:
    """Monthly earnings with 0 for those not employed (the question was skipped for them).

    Examples
    --------
    >>> earnings_including_zeros(pd.DataFrame({"employed": [1, 0, None],
    ...                                        "earnings_month": [2000, None, None]})).tolist()
    [2000.0, 0.0, nan]
    """
    status = pd.to_numeric(frame[employed], errors="coerce")
    values = pd.to_numeric(frame[earnings], errors="coerce").astype("float64")
    return values.mask(status == 0, 0.0).rename(earnings)


def build_measures(frame: pd.DataFrame) -> pd.DataFrame:
    """Add every measure whose items the frame carries; returns a new frame.

    Examples
    --------
    >>> out = build_measures(pd.DataFrame({"ucla_1": [1], "ucla_2": [1], "ucla_3": [1]}))
    >>> out["ucla_total"].tolist()
    [3.0]
    """
    columns = set(frame.columns)
    pieces = [frame]
    if {f"sdq_{number:02d}" for number in range(1, 26)} <= columns:
        pieces.append(sdq_scores(frame))
    if set(WHO5_ITEMS) <= columns:
        pieces.append(who5_score(frame).to_frame())
    if set(UCLA_ITEMS) <= columns:
        pieces.append(ucla_total(frame).to_frame())
    if set(INCOME_COMPONENTS) <= columns:
        pieces.append(household_income(frame).to_frame())
    out = pd.concat(pieces, axis=1)
    if {"earnings_month", "employed"} <= columns:
        out["earnings_month"] = earnings_including_zeros(frame)
    return out
