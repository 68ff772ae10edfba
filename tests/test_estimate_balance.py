"""balance_table: per-arm moments, differences from regress, and the joint orthogonality F."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from doorstep.errors import EstimationError
from doorstep.estimate import BalanceTable, balance_table


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
