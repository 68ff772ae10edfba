"""balance_table: per-arm moments, differences from regress, and the joint orthogonality F."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from doorstep.errors import EstimationError
from doorstep.estimate import BalanceTable, balance_table, regress


def _baseline(seed: int = 2, arms: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    village = np.repeat(np.arange(40), 20)
    arm = rng.permutation(np.arange(40) % arms)[village]
    return pd.DataFrame(
        {
            "village": village,
            "arm": arm.astype(np.int8),
            "age": rng.integers(20, 90, village.size).astype(np.int8),
            "household_size": rng.poisson(4, village.size),
            "income": rng.lognormal(8, 1, village.size),
        }
    )


def test_two_arm_balance_matches_hand_computation():
    frame = _baseline()
    frame.loc[[1, 2], "income"] = np.nan
    before = frame.copy(deep=True)
    balance = balance_table(frame, "arm", ["age", "household_size", "income"], cluster="village")
    pd.testing.assert_frame_equal(frame, before)
    assert isinstance(balance, BalanceTable)
    table = balance.table.set_index("variable")
    income = frame.dropna(subset=["income"])
    treated, control = income.loc[income.arm == 1, "income"], income.loc[income.arm == 0, "income"]
    row = table.loc["income"]
    assert row["mean_1"] == pytest.approx(treated.mean()) and row["sd_0"] == pytest.approx(
        control.std()
    )
    assert row["n_1"] + row["n_0"] == len(frame) - 2
    assert row["difference"] == pytest.approx(treated.mean() - control.mean())
    reference = sm.OLS(income["income"], sm.add_constant(income["arm"].astype(float))).fit(
        cov_type="cluster", cov_kwds={"groups": income["village"]}, use_t=True
    )
    assert row["std_error"] == pytest.approx(reference.bse["arm"], rel=1e-8)
    assert row["p_value"] == pytest.approx(reference.pvalues["arm"], rel=1e-6)
    pooled = np.sqrt((treated.var() + control.var()) / 2)
    assert row["normalised_difference"] == pytest.approx(row["difference"] / pooled)
    assert row["variance_ratio"] == pytest.approx(treated.var() / control.var())
    # Joint test: arm on all variables, cluster-robust Wald F, F(3, G-1).
    complete = frame.dropna()
    joint = sm.OLS(
        complete["arm"].astype(float),
        sm.add_constant(complete[["age", "household_size", "income"]].astype(float)),
    ).fit(cov_type="cluster", cov_kwds={"groups": complete["village"]}, use_t=True)
    wald = joint.f_test("age = 0, household_size = 0, income = 0")
    assert balance.joint_f == pytest.approx(float(np.squeeze(wald.fvalue)), rel=1e-8)
    assert balance.joint["df_denom"].iloc[0] == 39
    assert 0 < balance.joint_p <= 1


def test_three_arms_give_one_comparison_per_arm():
    frame = _baseline(arms=3)
    balance = balance_table(frame, "arm", ["age", "income"])
    columns = set(balance.table.columns)
    assert {"mean_0", "mean_1", "mean_2", "difference_1", "difference_2", "p_value_2"} <= columns
    assert list(balance.joint["arm"]) == [1.0, 2.0]
    means = frame.groupby("arm")["age"].mean()
    row = balance.table.set_index("variable").loc["age"]
    assert row["difference_2"] == pytest.approx(means[2] - means[0])


def test_balance_without_variation_names_the_column():
    frame = _baseline().assign(arm=0)
    with pytest.raises(EstimationError, match="'arm'"):
        balance_table(frame, "arm", ["age"])


def test_fixed_effects_weights_pairwise_and_clusters_per_arm():
    import statsmodels.formula.api as smf

    frame = _baseline(seed=5, arms=3)
    rng = np.random.default_rng(9)
    frame["stratum"] = frame["village"] % 4
    frame["w"] = rng.uniform(0.5, 2.0, len(frame))
    before = frame.copy(deep=True)
    balance = balance_table(
        frame,
        "arm",
        ["age", "income"],
        cluster="village",
        weights="w",
        fixed_effects="stratum",
        pairwise=True,
    )
    pd.testing.assert_frame_equal(frame, before)
    row = balance.table.set_index("variable").loc["income"]
    in_arm = frame[frame["arm"] == 2]
    assert row["mean_2"] == pytest.approx(np.average(in_arm["income"], weights=in_arm["w"]))
    assert row["n_clusters_2"] == in_arm["village"].nunique()
    groups = frame["village"]
    reference = smf.wls(
        "income ~ C(arm) + C(stratum)", data=frame.astype({"arm": int}), weights=frame["w"]
    ).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    assert row["difference_2"] == pytest.approx(reference.params["C(arm)[T.2]"], rel=1e-8)
    # reghdfe-style K: strata nested in villages are not counted, as regress does.
    assert row["p_value_2"] > 0
    pair = frame[frame["arm"] > 0].assign(second=lambda f: (f["arm"] == 2).astype(float))
    pair_reference = smf.wls("income ~ second + C(stratum)", data=pair, weights=pair["w"]).fit()
    assert row["difference_2_vs_1"] == pytest.approx(pair_reference.params["second"], rel=1e-8)
    # Joint test with the strata absorbed: arm-1 indicator on the variables and the strata.
    subset = frame[frame["arm"] != 2].assign(d=lambda f: (f["arm"] == 1).astype(float))
    joint = smf.wls("d ~ age + income + C(stratum)", data=subset, weights=subset["w"]).fit(
        cov_type="cluster", cov_kwds={"groups": subset["village"]}, use_t=True
    )
    assert float(balance.joint["f_statistic"].iloc[0]) == pytest.approx(
        float(np.squeeze(joint.f_test("age = 0, income = 0").fvalue)), rel=1e-6
    )


@pytest.mark.parametrize("vcov", ["hc3", "cr2"])
def test_vcov_reaches_differences_and_joint_test(vcov):
    """``vcov=`` is the covariance of :func:`regress` for every difference and the joint F."""
    frame = _baseline(seed=6)
    cluster = "village" if vcov == "cr2" else None
    balance = balance_table(frame, "arm", ["age", "income"], cluster=cluster, vcov=vcov)
    reference = regress(frame.assign(d=frame["arm"].astype(float)), "income", ["d"],
                        cluster=cluster, vcov=vcov)
    row = balance.table.set_index("variable").loc["income"]
    assert row["std_error"] == pytest.approx(reference.std_error, rel=1e-12)
    assert balance.inference == reference.inference
    joint = regress(frame.assign(d=frame["arm"].astype(float)), "d", ["age", "income"],
                    cluster=cluster, vcov=vcov).wald_test(["age", "income"])
    assert balance.joint_f == pytest.approx(joint.statistic, rel=1e-12)
    default = balance_table(frame, "arm", ["age", "income"], cluster=cluster)
    assert default.table["std_error"].iloc[1] != pytest.approx(row["std_error"], rel=1e-6)


def test_covariate_balance_follows_cobalt():
    from doorstep.estimate.balance import covariate_balance

    frame = _baseline(seed=4)
    rng = np.random.default_rng(1)
    frame["bw"] = rng.uniform(0.2, 3.0, len(frame))
    frame["sw"] = rng.uniform(0.5, 1.5, len(frame))
    before = frame.copy(deep=True)
    result = covariate_balance(
        frame, "arm", ["age", "income"], weights="bw", sampling_weights="sw", estimand="ATE"
    )
    pd.testing.assert_frame_equal(frame, before)
    treated, control = frame[frame["arm"] == 1], frame[frame["arm"] == 0]

    def wvar(x, w):
        m = np.average(x, weights=w)
        return np.sum(w * (x - m) ** 2) / (w.sum() - (w**2).sum() / w.sum())

    age_t, age_c = treated["age"].astype(float), control["age"].astype(float)
    pooled = np.sqrt((wvar(age_t, treated["sw"]) + wvar(age_c, control["sw"])) / 2)
    after_w_t, after_w_c = treated["sw"] * treated["bw"], control["sw"] * control["bw"]
    expected = (
        np.average(age_t, weights=after_w_t) - np.average(age_c, weights=after_w_c)
    ) / pooled
    row = result.table.set_index("variable").loc["age"]
    assert row["smd_after"] == pytest.approx(expected, rel=1e-10)
    assert row["variance_ratio_after"] == pytest.approx(
        wvar(age_t, after_w_t) / wvar(age_c, after_w_c), rel=1e-10
    )
    sizes = result.sample_size.set_index("arm")
    assert sizes.loc[1, "ess_after"] == pytest.approx(after_w_t.sum() ** 2 / (after_w_t**2).sum())
