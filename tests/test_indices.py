"""Outcome indices against a hand computation (Anderson 2008 ICW; Kling-Liebman-Katz)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from doorstep.errors import ConfigError, DataError
from doorstep.measures.indices import icw_index, icw_weights, standardise_components, zscore_index


@pytest.fixture
def frame():
    return pd.DataFrame({
        "income": [1.0, 2.0, 3.0, 4.0, 6.0, 7.0],
        "debt": [4.0, 2.0, 3.0, 1.0, 0.0, np.nan],  # lower is better
        "ref": [True, True, True, True, False, False],
    })


def test_standardisation_on_reference_rows(frame):
    z = standardise_components(frame, ["income", "debt"], reference="ref",
                               direction={"debt": -1})
    # Reference income 1..4: mean 2.5, sd sqrt(5/3); debt sign-flipped: -4,-2,-3,-1: mean -2.5.
    sd = np.sqrt(5 / 3)
    np.testing.assert_allclose(z["income"], (frame.income - 2.5) / sd)
    np.testing.assert_allclose(z["debt"], (-frame.debt + 2.5) / sd)
    assert frame["debt"].iloc[0] == 4.0  # input unchanged


def test_icw_by_hand(frame):
    sd = np.sqrt(5 / 3)
    a = (frame.income.to_numpy() - 2.5) / sd
    b = (-frame.debt.to_numpy() + 2.5) / sd
    complete = ~np.isnan(b)
    covariance = np.cov(np.vstack([a[complete], b[complete]]))
    weights = np.linalg.inv(covariance).sum(axis=1)
    expected = (weights[0] * a + weights[1] * b) / weights.sum()
    expected[~complete] = a[~complete]  # only income available: its weight re-normalised to 1
    index = icw_index(frame, ["income", "debt"], reference="ref", direction=[1, -1])
    np.testing.assert_allclose(index.to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(icw_weights(standardise_components(
        frame, ["income", "debt"], reference="ref", direction=[1, -1])), weights)
    assert index.name == "icw_index" and index.index.equals(frame.index)


def test_zscore_by_hand_and_min_components(frame):
    sd = np.sqrt(5 / 3)
    a = (frame.income.to_numpy() - 2.5) / sd
    b = (-frame.debt.to_numpy() + 2.5) / sd
    index = zscore_index(frame, ["income", "debt"], reference="ref", direction={"debt": -1})
    np.testing.assert_allclose(index.to_numpy()[:5], ((a + b) / 2)[:5])
    assert index.iloc[5] == pytest.approx(a[5])
    strict = zscore_index(frame, ["income", "debt"], reference="ref", min_components=2,
                          direction={"debt": -1})
    assert np.isnan(strict.iloc[5])
    restandardised = zscore_index(frame, ["income", "debt"], reference="ref",
                                  standardise=True, direction={"debt": -1})
    reference = restandardised[frame.ref]
    assert reference.mean() == pytest.approx(0, abs=1e-12)
    assert reference.std(ddof=1) == pytest.approx(1)


def test_errors(frame):
    with pytest.raises(ConfigError, match="1 or -1"):
        icw_index(frame, ["income", "debt"], reference="ref", direction=[1, 2])
    with pytest.raises(ConfigError, match="boolean"):
        icw_index(frame, ["income", "debt"], reference="income")
    with pytest.raises(DataError, match="no variation"):
        zscore_index(frame.assign(income=1.0), ["income", "debt"], reference="ref")
    with pytest.raises(ConfigError, match="two or more"):
        zscore_index(frame, ["income"], reference="ref")
