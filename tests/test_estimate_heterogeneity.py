"""heterogeneity: subgroup effects and the equality test against statsmodels; a simulation.

Real data: statsmodels' Grunfeld panel with a constructed binary "treatment" (value above the
median) and firms grouped into three size classes; the interacted regression and its Wald test
are recomputed with statsmodels OLS (cluster-robust, ``use_t``) and ``f_test``, rtol 1e-8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.datasets import grunfeld

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate.heterogeneity import heterogeneity


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    data = grunfeld.load_pandas().data
    data["firm"] = data["firm"].astype(str)
    data["treated"] = (data["value"] > data["value"].median()).astype(np.int8)
    codes = pd.factorize(data["firm"])[0]
    data["size"] = np.array(["small", "medium", "large"])[codes % 3]
    data["year"] = data["year"].astype(int)
    return data


def test_subgroup_effects_and_equality_test_match_statsmodels(panel):
    before = panel.copy(deep=True)
    result = heterogeneity(panel, "invest", "treated", "size", covariates="capital", cluster="firm")
    pd.testing.assert_frame_equal(panel, before)
    reference = smf.ols(
        "invest ~ 0 + treated:C(size) + C(size) + capital", data=panel.astype({"treated": float})
    ).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(panel["firm"])[0]}, use_t=True)
    for level in ("large", "medium", "small"):
        ours = result.term(f"treated:size={level}")
        name = f"treated:C(size)[{level}]"
        assert ours.estimate == pytest.approx(reference.params[name], rel=1e-8)
        assert ours.std_error == pytest.approx(reference.bse[name], rel=1e-8)
    test = reference.f_test(
        "treated:C(size)[medium] - treated:C(size)[large] = 0, "
        "treated:C(size)[small] - treated:C(size)[large] = 0"
    )
    equality = result.extras["equality_test"]
    assert equality.statistic == pytest.approx(float(np.squeeze(test.fvalue)), rel=1e-8)
    assert equality.df_num == 2 and equality.df_denom == 10
    assert equality.p_value == pytest.approx(float(test.pvalue), rel=1e-6)
    assert result.extras["levels"] == ("large", "medium", "small")
    assert sum(result.extras["n_by_level"]) == len(panel)


def test_continuous_moderator_is_centred(panel):
    result = heterogeneity(panel, "invest", "treated", "capital", moderator="continuous")
    frame = panel.assign(
        centred=panel["capital"] - panel["capital"].mean(), treated=panel["treated"] * 1.0
    )
    frame["interaction"] = frame["treated"] * frame["centred"]
    reference = sm.OLS(
        frame["invest"], sm.add_constant(frame[["treated", "centred", "interaction"]])
    ).fit(cov_type="HC1")
    assert result.estimate == pytest.approx(reference.params["treated"], rel=1e-8)
    slope = result.term("treated:capital")
    assert slope.estimate == pytest.approx(reference.params["interaction"], rel=1e-8)
    assert slope.std_error == pytest.approx(reference.bse["interaction"], rel=1e-8)
    assert result.extras["equality_test"].statistic == pytest.approx(slope.statistic**2)


def test_strata_nesting_the_subgroups_drop_the_group_dummies(panel):
    within = panel["value"] > panel.groupby("firm")["value"].transform("median")
    frame = panel.assign(treated=within.astype(np.int8))
    result = heterogeneity(frame, "invest", "treated", "size", strata="firm", vcov="hc1")
    assert not any(term.startswith("size=") for term in result.terms)
    reference = smf.ols("invest ~ 0 + treated:C(size) + C(firm)", data=frame).fit(cov_type="HC1")
    assert result.term("treated:size=small").estimate == pytest.approx(
        reference.params["treated:C(size)[small]"], rel=1e-8
    )


def test_simulated_subgroup_effects_are_covered():
    rng = np.random.default_rng(8)
    hits = 0
    reps = 100
    for _ in range(reps):
        n = 600
        group = rng.choice(["a", "b", "c"], n)
        village = rng.integers(0, 40, n)
        d = (rng.permutation(40) % 2)[village]
        effect = pd.Series(group).map({"a": 0.5, "b": 1.0, "c": 1.5}).to_numpy()
        y = effect * d + rng.normal(size=40)[village] + rng.normal(size=n)
        frame = pd.DataFrame({"y": y, "d": d.astype(np.int8), "g": group, "village": village})
        result = heterogeneity(frame, "y", "d", "g", cluster="village", vcov="cr2")
        low, high = result.term("d:g=b").conf_int()
        hits += low <= 1.0 <= high
    assert 0.88 <= hits / reps <= 1.0


def test_options_and_errors(panel):
    with pytest.raises(ConfigError, match=r"'categorical'.*'continuous'"):
        heterogeneity(panel, "invest", "treated", "size", moderator="ordinal")
    with pytest.raises(EstimationError, match="non-missing level"):
        heterogeneity(panel.assign(size="all"), "invest", "treated", "size")
    one_arm = panel.assign(treated=np.where(panel["size"] == "small", 1, panel["treated"]))
    with pytest.raises(EstimationError, match="size='small'"):
        heterogeneity(one_arm, "invest", "treated", "size")
