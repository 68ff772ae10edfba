"""``vcov="cv3"``, the cluster jackknife (MacKinnon, Nielsen and Webb 2023): against pyfixest.

pyfixest 0.60's ``vcov={"CRV3": cluster}`` refits the model without each cluster (fixed
effects refitted, weights kept) and centres on the full-sample estimate, as we do; it multiplies
the sum by its CR1 factor unless ``ssc(k_adj=False, G_adj=False)``, and ours is (G-1)/G. So we
compare ours with (G-1)/G times pyfixest's unadjusted CRV3, whole matrices, rtol 1e-10. Data:
statsmodels' Grunfeld panel (11 firms x 20 years). The wild cluster bootstrap's CV3 standard
error (``doorstep.inference``, computed from cluster pieces) must equal the estimator's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.datasets import grunfeld

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import ancova, iv, regress
from doorstep.inference import wild_cluster_bootstrap

pf = pytest.importorskip("pyfixest")
RTOL = 1e-10


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    data = grunfeld.load_pandas().data
    data["firm_id"] = pd.factorize(data["firm"], sort=True)[0]
    data["weight"] = 1.0 + data["firm_id"] % 3
    data["treated"] = (data["firm_id"] % 2).astype(float)
    data["period"] = (data["year"].astype(int) // 5).astype(int)
    return data


def _peer(panel, formula, weights=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(formula, data=panel, vcov={"CRV3": "firm_id"}, weights=weights,
                        ssc=pf.ssc(k_adj=False, G_adj=False))


def _peer_matrix(peer, terms):
    names = list(peer._coefnames)
    order = [names.index("Intercept" if term == "intercept" else term) for term in terms]
    return np.asarray(peer._vcov)[np.ix_(order, order)]


@pytest.mark.parametrize(("fixed", "weights"), [((), None), ((), "weight"), (("firm",), None),
                                                (("firm",), "weight")])
def test_regress_cv3_equals_pyfixest_crv3(panel, fixed, weights):
    fit = regress(panel, "invest", ["value", "capital"], fixed_effects=fixed, cluster="firm",
                  weights=weights, vcov="cv3")
    peer = _peer(panel, "invest ~ value + capital" + (" | firm_id" if fixed else ""), weights)
    n_firms = 11
    np.testing.assert_allclose(fit.covariance,
                               (n_firms - 1) / n_firms * _peer_matrix(peer, fit.terms),
                               rtol=RTOL)
    assert fit.df == n_firms - 1 and fit.inference == "cluster jackknife CV3 (firm), t(G-1)"


def test_ancova_cv3_equals_pyfixest_and_the_wild_bootstrap(panel):
    fit = ancova(panel, "invest", "treated", covariates="capital", cluster="firm", vcov="cv3")
    peer = _peer(panel, "invest ~ treated + capital")
    np.testing.assert_allclose(fit.covariance, 10 / 11 * _peer_matrix(peer, fit.terms),
                               rtol=RTOL)
    default = ancova(panel, "invest", "treated", covariates="capital", cluster="firm")
    boot = wild_cluster_bootstrap(default, data=panel, cluster="firm", reps=99, seed=1)
    assert boot.variance == "cv3"
    assert boot.std_error == pytest.approx(fit.std_error, rel=RTOL)


def test_cv3_errors_name_what_to_do(panel):
    with pytest.raises(EstimationError, match="nested in the clusters"):
        regress(panel, "invest", ["value"], fixed_effects="year", cluster="firm", vcov="cv3")
    with pytest.raises(EstimationError, match="two-way"):
        regress(panel, "invest", ["value"], cluster=("firm", "year"), vcov="cv3")
    with pytest.raises(ConfigError, match="needs cluster="):
        regress(panel, "invest", ["value"], vcov="cv3")
    frame = panel.assign(z=panel["capital"] + np.arange(len(panel)) % 7)
    with pytest.raises(EstimationError, match="least-squares"):
        iv(frame, "invest", "value", "z", cluster="firm", vcov="cv3")
    only = panel.assign(first=(panel["firm_id"] == 0).astype(float))
    with pytest.raises(EstimationError, match="without one of the 11 clusters"):
        regress(only, "invest", ["value", "first"], cluster="firm", vcov="cv3")


def test_cv3_does_not_depend_on_the_units_of_a_regressor(panel):
    scaled = panel.assign(value=panel["value"] * 1e7)  # e.g. income in shillings
    fits = [regress(frame, "invest", ["treated", "value", "capital"], cluster="firm",
                    vcov="cv3") for frame in (panel, scaled)]
    assert fits[1].term("treated").std_error == pytest.approx(
        fits[0].term("treated").std_error, rel=1e-8)
    assert fits[1].term("value").std_error * 1e7 == pytest.approx(
        fits[0].term("value").std_error, rel=1e-8)
    boots = [wild_cluster_bootstrap(fit, "treated", data=frame, cluster="firm", reps=999,
                                    seed=2) for fit, frame in zip(fits, (panel, scaled),
                                                                  strict=True)]
    assert boots[1].variance == "cv3"
    np.testing.assert_allclose(boots[1].bootstrap_statistics(), boots[0].bootstrap_statistics(),
                               rtol=1e-7, atol=1e-9)
