"""Multiple testing: adjust_pvalues against statsmodels, sharpened q-values against Anderson's
algorithm, Romano-Wolf and Westfall-Young against pyfixest's rwolf/wyoung.

Tolerances: statsmodels.stats.multitest (bonferroni, holm, fdr_bh, fdr_by) 1e-12. Sharpened
q-values: a line-by-line transcription of Anderson's (2008) published Stata code
(``fdr_sharpened_qvalues.do``: q from 1.000 down to 0.001 by 0.001, first stage at q/(1+q),
second stage at q/(1+q) * M/(M - r1), Stata's q/0 = missing treated as rejecting everything) on
the 15 p-values of Benjamini and Hochberg's (1995) worked example, exact; two values checked by
hand (see the test). Romano-Wolf / Westfall-Young: pyfixest 0.60.0 ``rwolf``/``wyoung`` with
the same seed (so the same wildboottest draws) on pyfixest's ``get_data()``, exact (1e-12).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from doorstep.errors import ConfigError
from doorstep.estimate import regress
from doorstep.inference import adjust_pvalues, romano_wolf, westfall_young

BH_1995 = np.array([0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
                    0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000])


@pytest.mark.parametrize(("ours", "theirs"), [("bonferroni", "bonferroni"), ("holm", "holm"),
                                              ("bh", "fdr_bh"), ("by", "fdr_by")])
def test_adjustments_match_statsmodels(ours, theirs):
    rng = np.random.default_rng(1)
    for p in (BH_1995, rng.uniform(size=30) ** 3, np.array([0.02, 0.02, 0.5, 0.02])):
        shuffled = rng.permutation(p)
        expected = multipletests(shuffled, method=theirs)[1]
        np.testing.assert_allclose(adjust_pvalues(shuffled, ours), expected, atol=1e-12,
                                   rtol=0)


def _anderson_stata(pvals: np.ndarray) -> np.ndarray:
    """Literal transcription of Anderson's fdr_sharpened_qvalues.do (variables as in Stata)."""
    totalpvals = len(pvals)
    order = np.argsort(pvals, kind="stable")
    pval = pvals[order]
    rank = np.arange(1, totalpvals + 1)
    bky06_qval = np.ones(totalpvals)
    qval = 1000
    while qval > 0:
        q = qval / 1000
        qval_adj = q / (1 + q)
        fdr_temp1 = qval_adj * rank / totalpvals
        reject_rank1 = (fdr_temp1 >= pval) * rank
        total_rejected1 = reject_rank1.max()
        if totalpvals - total_rejected1 == 0:
            fdr_temp2 = np.full(totalpvals, np.inf)  # Stata missing > every number
        else:
            qval_2st = qval_adj * (totalpvals / (totalpvals - total_rejected1))
            fdr_temp2 = qval_2st * rank / totalpvals
        reject_rank2 = (fdr_temp2 >= pval) * rank
        total_rejected2 = reject_rank2.max()
        bky06_qval[rank <= total_rejected2] = q
        qval -= 1
    out = np.empty(totalpvals)
    out[order] = bky06_qval
    return out


def test_sharpened_q_matches_andersons_algorithm():
    q = adjust_pvalues(BH_1995, "sharpened_q")
    np.testing.assert_array_equal(q, _anderson_stata(BH_1995))
    # By hand: p=0.0001 is first rejected at q=0.002 (q'=0.001996, r1=1, second stage
    # 0.001996*15/14*1/15=0.000143 >= 0.0001; at q=0.001 nothing passes the first stage);
    # p=0.0004 at q=0.003 (q'=0.002991, r1=1, 0.002991*15/14*2/15=0.000427 >= 0.0004).
    assert q[0] == 0.002 and q[1] == 0.003
    rng = np.random.default_rng(5)
    for _ in range(20):
        p = rng.uniform(size=12) ** 4
        np.testing.assert_array_equal(adjust_pvalues(p, "sharpened_q"), _anderson_stata(p))
    # Sharpened q-values are never above the BH adjusted p-values by more than the grid step.
    assert np.all(q <= adjust_pvalues(BH_1995, "bh") + 0.001)


def test_adjust_pvalues_checks_inputs():
    with pytest.raises(ConfigError, match="'bonferroni', 'holm', 'bh', 'by', 'sharpened_q'"):
        adjust_pvalues([0.1], "fdr")
    with pytest.raises(ConfigError, match="between 0 and 1"):
        adjust_pvalues([0.1, 1.2])
    values = [0.3, 0.01]
    adjust_pvalues(values, "holm")
    assert values == [0.3, 0.01]


@pytest.fixture(scope="module")
def family():
    pf = pytest.importorskip("pyfixest")
    pytest.importorskip("wildboottest")
    frame = pf.get_data().dropna(subset=["Y", "Y2", "X1", "X2", "group_id"]).reset_index(
        drop=True)
    return pf, frame


@pytest.mark.parametrize("term", ["X1", "X2"])
def test_romano_wolf_and_westfall_young_match_pyfixest(family, term):
    pf, frame = family
    fits = [regress(frame, y, ["X1", "X2"], cluster="group_id") for y in ("Y", "Y2")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peers = [pf.feols(f"{y} ~ X1 + X2", data=frame, vcov={"CRV1": "group_id"})
                 for y in ("Y", "Y2")]
        rw_peer = pf.rwolf(peers, term, reps=1999, seed=7).loc["RW Pr(>|t|)"].to_numpy(float)
        wy_peer = pf.wyoung(peers, term, reps=1999, seed=7).loc["WY Pr(>|t|)"].to_numpy(float)
    rw = romano_wolf(fits, data=frame, term=term, cluster="group_id", reps=1999, seed=7,
                     variance="cr1")
    wy = westfall_young(fits, data=frame, term=term, cluster="group_id", reps=1999, seed=7,
                        variance="cr1")
    np.testing.assert_allclose(rw.table["p_adjusted"], rw_peer, atol=1e-12)
    np.testing.assert_allclose(wy.table["p_adjusted"], wy_peer, atol=1e-12)
    assert list(rw.tidy().columns) == ["outcome", "term", "estimate", "std_error", "statistic",
                                       "p_value", "p_adjusted"]
    assert np.all(rw.table["p_adjusted"] >= rw.table["p_value"] - 1e-12)


def test_default_family_variance_is_that_of_the_wild_bootstrap(family):
    from doorstep.inference import wild_cluster_bootstrap

    _, frame = family
    fits = [regress(frame, y, ["X1", "X2"], cluster="group_id") for y in ("Y", "Y2")]
    rw = romano_wolf(fits, data=frame, term="X1", cluster="group_id", reps=999, seed=7)
    assert "CV3" in rw.inference
    for fit, p_value in zip(fits, rw.table["p_value"], strict=True):
        boot = wild_cluster_bootstrap(fit, "X1", data=frame, cluster="group_id", reps=999,
                                      seed=7)
        assert boot.variance == "cv3" and p_value == boot.p_value
    assert np.all(rw.table["p_adjusted"] >= rw.table["p_value"] - 1e-12)
