"""Back-checks: a second visit to a random share of households, compared with the survey.

This module owns the comparison of a back-check survey with the original interviews, in the way
IPA's ``ipabcstats`` does it, and :func:`make_backcheck`, a documented error process that builds
back-check data from a survey (the simulator has no back-check round). It must not import
``estimate``, ``report`` or ``run``.

Variable types (declared in the back-check spec)
-----------------------------------------------
* type 1 -- must not change (household size, child's sex): any discrepancy is an error;
* type 2 -- may change between visits (income, days missed): discrepancies measure reliability;
* type 3 -- enumerator-dependent (answers that hinge on how the question is asked): discrepancies
  point at an enumerator.

Statistics
----------
For every enumerator and variable: the number compared, discrepancies and their rate; for
``continuous`` variables a paired t-test of survey minus back-check (``scipy.stats.ttest_1samp``
of the differences against 0) and for ``ordinal`` variables a Wilcoxon signed-rank test of the
differences (``scipy.stats.wilcoxon``, zero differences dropped). For continuous variables the
reliability ratio is ``1 - SRV / V``, where the simple response variance ``SRV = var(s - b) / 2``
and ``V`` is the variance of all survey and back-check values pooled (1: perfect agreement,
0: answers as unrelated as two random draws).

Examples
--------
>>> # see tests/test_checks_backcheck.py
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from doorstep.checks.prepare import fold_text, numeric_answers
from doorstep.errors import ConfigError, DataError

SPEC_KEYS = ("data", "id_column", "enumerator_column", "backchecker_column", "type1", "type2",
             "type3", "tolerances", "continuous", "ordinal", "missing_codes")
DEFAULT_ERROR_RATES = {"type1": 0.02, "type2": 0.10, "type3": 0.05}


@dataclass(frozen=True)
class BackcheckResults:
    """The comparison of a back-check with the survey; tables as frames.

    Attributes
    ----------
    comparisons : one row per back-checked id and variable (values of personal columns never
        appear; the spec should not list them).
    by_enumerator, by_backchecker, by_variable : discrepancy counts and rates.
    tests : t-tests (continuous) and signed-rank tests (ordinal) by enumerator and variable.
    reliability : reliability ratio by continuous variable.
    """

    comparisons: pd.DataFrame
    by_enumerator: pd.DataFrame
    by_backchecker: pd.DataFrame
    by_variable: pd.DataFrame
    tests: pd.DataFrame
    reliability: pd.DataFrame


def _spec(spec: dict) -> dict:
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"back-check spec: unknown key(s) {unknown}; allowed: {list(SPEC_KEYS)}")
    for key in ("id_column", "enumerator_column", "backchecker_column"):
        if not isinstance(spec.get(key, ""), str):
            raise ConfigError(f"back-check spec key {key!r}: expected a column name, "
                              f"found {spec.get(key)!r}")
    if "id_column" not in spec:
        raise ConfigError("back-check spec: key 'id_column' is required")
    out = {"enumerator_column": "enumerator", "backchecker_column": "backchecker",
           "tolerances": {}, "continuous": (), "ordinal": (),
           "missing_codes": ("-99", "-88", "-66"), **spec}
    for key in ("type1", "type2", "type3", "continuous", "ordinal"):
        value = out.get(key, ())
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"back-check spec key {key!r}: expected a list of column names, "
                              f"found {value!r}")
        out[key] = tuple(value)
    for name, tolerance in out["tolerances"].items():
        if not isinstance(tolerance, dict) or set(tolerance) - {"absolute", "relative"}:
            raise ConfigError(f"back-check spec tolerances[{name!r}]: expected "
                              f"{{'absolute': x}} or {{'relative': r}}, found {tolerance!r}")
    return out


def compare_backcheck(survey: pd.DataFrame, backcheck: pd.DataFrame, spec: dict
                      ) -> BackcheckResults:
    """Compare back-check answers with the survey's on the declared variables.

    Parameters
    ----------
    survey
        The survey interviews (one export or several stacked); with several interviews of one
        id, the last one is compared.
    backcheck
        The back-check interviews, with ``id_column``, ``backchecker_column`` and the variables.
    spec
        ``id_column``; ``enumerator_column`` (in the survey, default ``enumerator``);
        ``backchecker_column`` (default ``backchecker``); ``type1``, ``type2``, ``type3`` (lists
        of variables); ``tolerances`` ({variable: {"absolute": 100}} or {"relative": 0.1}: a
        numeric difference within the tolerance is no discrepancy); ``continuous`` and
        ``ordinal`` (which variables get a t-test and reliability ratio, or a signed-rank test);
        ``missing_codes``.

    Returns
    -------
    BackcheckResults

    Raises
    ------
    ConfigError
        For an ill-formed spec.
    DataError
        When a declared column is missing from either frame.

    Examples
    --------
    >>> import pandas as pd
    >>> survey = pd.DataFrame({"id": ["1", "2"], "enumerator": ["E1", "E1"], "x": ["3", "4"]})
    >>> back = pd.DataFrame({"id": ["1", "2"], "backchecker": ["B1", "B1"], "x": ["3", "5"]})
    >>> compare_backcheck(survey, back, {"id_column": "id", "type1": ["x"]}).by_variable[
    ...     "discrepancy_rate"].tolist()
    [0.5]
    """
    spec = _spec(spec)
    id_column = spec["id_column"]
    enumerator, backchecker = spec["enumerator_column"], spec["backchecker_column"]
    variables = [(v, t) for t in ("type1", "type2", "type3") for v in spec[t]]
    for name, frame, needed in (("survey", survey, [id_column, enumerator]),
                                ("back-check", backcheck, [id_column, backchecker])):
        missing = [c for c in needed + [v for v, _ in variables] if c not in frame]
        if missing:
            raise DataError(f"{name} data: expected column(s) {missing} declared in the "
                            f"back-check spec, found {list(frame.columns)[:15]}")
    left = survey.assign(_id=survey[id_column].astype("string").str.strip()).drop_duplicates(
        "_id", keep="last")
    right = backcheck.assign(_id=backcheck[id_column].astype("string").str.strip())
    merged = right.merge(left, on="_id", how="inner", suffixes=("_bc", "_survey"))
    codes = tuple(spec["missing_codes"])
    rows = []
    for variable, kind in variables:
        survey_text = fold_text(merged[f"{variable}_survey"])
        back_text = fold_text(merged[f"{variable}_bc"])
        survey_number, _ = numeric_answers(merged[f"{variable}_survey"], codes)
        back_number, _ = numeric_answers(merged[f"{variable}_bc"], codes)
        both_numbers = survey_number.notna() & back_number.notna()
        tolerance = spec["tolerances"].get(variable, {})
        allowed = (float(tolerance.get("absolute", 0.0))
                   + float(tolerance.get("relative", 0.0)) * survey_number.abs())
        difference = survey_number - back_number
        differs = np.where(both_numbers, difference.abs() > allowed.fillna(0) + 1e-9,
                           survey_text.fillna("").str.lower() != back_text.fillna("").str.lower())
        rows.append(pd.DataFrame({
            "id": merged["_id"], "enumerator": merged[enumerator].astype(str),
            "backchecker": merged[backchecker].astype(str), "variable": variable, "type": kind,
            "survey_value": survey_text, "backcheck_value": back_text,
            "survey_number": survey_number, "backcheck_number": back_number,
            "difference": difference.where(both_numbers), "discrepancy": differs.astype(bool),
        }))
    comparisons = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["id", "enumerator", "backchecker", "variable", "type", "discrepancy"])

    def rates(keys: list[str]) -> pd.DataFrame:
        table = comparisons.groupby(keys, sort=True).agg(
            n_compared=("discrepancy", "size"), n_discrepancies=("discrepancy", "sum"))
        table["discrepancy_rate"] = table["n_discrepancies"] / table["n_compared"]
        return table.reset_index()

    by_variable = rates(["variable", "type"])
    by_enumerator = rates(["enumerator", "type"])
    by_backchecker = rates(["backchecker", "type"])
    tests, reliability = [], []
    for variable in (*spec["continuous"], *spec["ordinal"]):
        part = comparisons[(comparisons["variable"] == variable)
                           & comparisons["difference"].notna()]
        test = "t-test" if variable in spec["continuous"] else "signrank"
        for name, group in part.groupby("enumerator", sort=True):
            statistic, p_value = _test(group["difference"].to_numpy(float), test)
            tests.append({"enumerator": name, "variable": variable, "test": test,
                          "n": len(group), "mean_difference": group["difference"].mean(),
                          "statistic": statistic, "p_value": p_value})
        if variable in spec["continuous"] and len(part) >= 2:
            pooled = np.concatenate([part["survey_number"], part["backcheck_number"]])
            variance = np.var(pooled, ddof=1)
            srv = np.var(part["difference"].to_numpy(float), ddof=1) / 2
            ratio = 1 - srv / variance if variance > 0 else np.nan
            reliability.append({"variable": variable, "n": len(part),
                                "simple_response_variance": srv, "total_variance": variance,
                                "reliability_ratio": ratio})
    return BackcheckResults(
        comparisons=comparisons, by_enumerator=by_enumerator, by_backchecker=by_backchecker,
        by_variable=by_variable,
        tests=pd.DataFrame(tests, columns=["enumerator", "variable", "test", "n",
                                           "mean_difference", "statistic", "p_value"]),
        reliability=pd.DataFrame(reliability, columns=[
            "variable", "n", "simple_response_variance", "total_variance",
            "reliability_ratio"]))


def _test(differences: np.ndarray, test: str) -> tuple[float, float]:
    if len(differences) < 2 or np.all(differences == 0):
        return np.nan, np.nan if len(differences) < 2 else 1.0
    if test == "t-test":
        if np.std(differences) == 0:
            return np.inf, 0.0
        result = stats.ttest_1samp(differences, 0.0)
    else:
        result = stats.wilcoxon(differences, zero_method="wilcox")
    return float(result.statistic), float(result.pvalue)


def make_backcheck(survey: pd.DataFrame, *, id_column: str, type1=(), type2=(), type3=(),
                   enumerator_column: str = "enumerator", share: float = 0.10, seed: int = 0,
                   backcheckers=("BC01", "BC02", "BC03"), error_rates: dict | None = None,
                   fabricator: str | None = None, fabricator_error: float = 0.5
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-survey a random share of interviews with a documented error process.

    Error process
    -------------
    1. A simple random sample of ``share`` of the distinct ids (seeded) is back-checked, each by
       a back-checker drawn uniformly from ``backcheckers``.
    2. Each declared answer is copied from the survey's last interview of that id, then changed
       with probability ``error_rates[type]`` (default type 1: 0.02, type 2: 0.10, type 3: 0.05):
       a number below 20 moves by one of -2, -1, +1, +2 (never below 0), a larger number is
       multiplied by a uniform factor in [0.7, 1.3] and rounded to 10; text becomes
       ``"changed"``; missing codes and blanks are kept.
    3. For ids interviewed by ``fabricator``, type 1 and type 3 answers are changed with
       probability ``fabricator_error`` instead: invented answers do not match the household.

    Returns
    -------
    (backcheck, changes)
        The back-check frame (``id_column``, ``backchecker`` and the declared variables, as text)
        and one row per changed cell (id, variable, type, survey value, back-check value).

    Examples
    --------
    >>> import pandas as pd
    >>> survey = pd.DataFrame({"id": [str(i) for i in range(50)], "enumerator": "E1",
    ...                        "x": "3"})
    >>> back, changes = make_backcheck(survey, id_column="id", type1=["x"], seed=1)
    >>> len(back)
    5
    """
    if not 0 < share <= 1:
        raise ConfigError(f"make_backcheck: share must be in (0, 1], found {share}")
    rates = {**DEFAULT_ERROR_RATES, **(error_rates or {})}
    rng = np.random.default_rng(seed)
    last = survey.assign(_id=survey[id_column].astype("string").str.strip()).dropna(
        subset=["_id"]).drop_duplicates("_id", keep="last").reset_index(drop=True)
    n_chosen = max(1, round(share * len(last)))
    chosen = np.sort(rng.choice(len(last), size=n_chosen, replace=False))
    picked = last.iloc[chosen].reset_index(drop=True)
    backcheck = pd.DataFrame({id_column: picked["_id"].astype(str),
                              "backchecker": rng.choice(list(backcheckers), size=len(picked))})
    changes = []
    by_fabricator = (picked[enumerator_column].astype(str) == fabricator
                     if fabricator is not None else pd.Series(False, index=picked.index))
    for kind, variables in (("type1", type1), ("type2", type2), ("type3", type3)):
        for variable in variables:
            values = picked[variable].astype(object).tolist()
            rate = np.full(len(picked), rates[kind])
            if kind in ("type1", "type3"):
                rate = np.where(by_fabricator, fabricator_error, rate)
            change = rng.random(len(picked)) < rate
            out = []
            for position, value in enumerate(values):
                new = value
                if change[position]:
                    new = _changed(value, rng)
                    if new != value:
                        changes.append({"id": picked.at[position, "_id"], "variable": variable,
                                        "type": kind, "survey_value": value,
                                        "backcheck_value": new})
                out.append(new)
            backcheck[variable] = out
    return backcheck, pd.DataFrame(changes, columns=["id", "variable", "type", "survey_value",
                                                     "backcheck_value"])


def _changed(value: object, rng: np.random.Generator) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return value
    text = str(value).strip()
    if text in ("-99", "-88", "-66", ""):
        return value
    try:
        number = float(text)
    except ValueError:
        return "changed"
    if abs(number) < 20:
        step = int(rng.choice([-2, -1, 1, 2]))
        new = number + step if number + step >= 0 else number + abs(step)
    else:
        new = round(number * rng.uniform(0.7, 1.3), -1)
    return str(int(new)) if float(new).is_integer() else str(new)
