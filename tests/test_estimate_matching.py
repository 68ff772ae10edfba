"""nearest_neighbor_match: against a brute-force matcher written here, statsmodels and a simulation.

Real data: the Dehejia-Wahba NSW experimental sample shipped by ``causaldata`` (``nsw_mixtape``:
185 treated, 260 controls, int8 covariates). The reference matcher below follows MatchIt's
documented algorithm independently (propensity by statsmodels' Logit; treated units from the
largest score down; the nearest available control by |score difference|, ties to the lower
score then the earlier row; k rounds for k:1; MatchIt's weights), on the full distance matrix.
Matched sets must be identical; weights, the ATT and its subclass-clustered standard error
(statsmodels WLS, ``cov_type="cluster"``) agree to 1e-8.

Published numbers reproduced: the two matching examples of Cunningham's "Causal Inference:
The Mixtape" (2021), ch. 5, on the data causaldata ships (``training_example``: exact matching
on age, ATT $1,695 against a simple difference of -$26.25, the book's figures, also stored in
the data's summary rows; ``training_bias_reduction``: the book's matched table, Y0 = 4, 0, 5,
1, i.e. ATT 3.25), exactly (absolute 1e-9). MatchIt's vignette numbers are for its own
``lalonde`` data (NSW treated with 429 PSID controls), which no installed package ships, so
they are not reproduced here.

Sampling weights (MatchIt's ``s.weights``): the reference takes the propensity from statsmodels'
weighted GLM logit (``freq_weights``), matches with the same brute force, multiplies match and
sampling weights, and fits statsmodels' WLS (1e-8); a simulation with an oversampled group
checks that the weighted ATT is the population's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate.matching import MatchResult, nearest_neighbor_match

COVARIATES = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def nsw() -> pd.DataFrame:
    causaldata = pytest.importorskip("causaldata")
    return causaldata.nsw_mixtape.load_pandas().data


def _propensity(frame: pd.DataFrame, weights: np.ndarray | None = None) -> np.ndarray:
    x = sm.add_constant(frame[COVARIATES].astype(float))
    if weights is None:
        return sm.Logit(frame["treat"].astype(float), x).fit(disp=0, tol=1e-12).predict(
            x).to_numpy()
    model = sm.GLM(frame["treat"].astype(float), x, family=sm.families.Binomial(),
                   freq_weights=weights)
    return model.fit(tol=1e-13).predict(x).to_numpy()


def _brute_force(score, treated, ratio=1, replace=False, caliper=None, cells=None):
    """Independent greedy matcher on the full treated x control distance matrix."""
    cells = np.zeros(score.size) if cells is None else cells
    t_idx = np.nonzero(treated == 1)[0]
    c_idx = np.nonzero(treated == 0)[0]
    order = t_idx[np.argsort(-score[t_idx], kind="stable")]
    gap = np.abs(score[:, None] - score[None, :])
    used = set()
    matches = {int(t): [] for t in t_idx}
    for _ in range(ratio):
        for t in order:
            best, best_key = None, None
            for c in c_idx:
                if (not replace and c in used) or c in matches[t] or cells[c] != cells[t]:
                    continue
                if caliper is not None and gap[t, c] > caliper:
                    continue
                key = (gap[t, c], score[c], c)
                if best_key is None or key < best_key:
                    best, best_key = c, key
            if best is not None:
                matches[t].append(int(best))
                used.add(int(best))
    weights = np.zeros(score.size)
    for t, cs in matches.items():
        if cs:
            weights[t] = 1.0
            for c in cs:
                weights[c] += 1.0 / len(cs)
    controls = (treated == 0) & (weights > 0)
    weights[controls] *= controls.sum() / weights[controls].sum()
    return matches, weights


def _pairs(result: MatchResult) -> set[frozenset]:
    matched = result.matched.dropna(subset=["subclass"])
    return {
        frozenset(group["row"].tolist()) for _, group in matched.groupby("subclass", sort=False)
    }


def test_one_to_one_matches_brute_force_and_statsmodels(nsw):
    before = nsw.copy(deep=True)
    result = nearest_neighbor_match(nsw, "treat", COVARIATES, outcome="re78")
    pd.testing.assert_frame_equal(nsw, before)
    score = _propensity(nsw)
    treated = nsw["treat"].to_numpy()
    matches, weights = _brute_force(score, treated)
    expected_pairs = {frozenset([t, *cs]) for t, cs in matches.items() if cs}
    assert _pairs(result) == expected_pairs
    ours = pd.Series(result.matched["weight"].to_numpy(), index=result.matched["row"])
    np.testing.assert_allclose(ours.sort_index(), weights[weights > 0], rtol=1e-12)
    np.testing.assert_allclose(
        result.matched.set_index("row")["distance"].sort_index(), score[weights > 0], rtol=1e-8
    )
    # ATT: WLS of re78 on treat in the matched sample, CR1 by pair (MatchIt's vignette).
    matched = nsw.loc[weights > 0].assign(weight=weights[weights > 0])
    pair = {unit: t for t, cs in matches.items() for unit in [t, *cs]}
    matched["pair"] = [pair[i] for i in matched.index]
    reference = sm.WLS(
        matched["re78"].astype(float),
        sm.add_constant(matched["treat"].astype(float)),
        weights=matched["weight"],
    ).fit(cov_type="cluster", cov_kwds={"groups": matched["pair"]}, use_t=True)
    assert result.effect.estimate == pytest.approx(reference.params["treat"], rel=1e-8)
    assert result.effect.std_error == pytest.approx(reference.bse["treat"], rel=1e-8)
    assert result.effect.p_value == pytest.approx(reference.pvalues["treat"], rel=1e-6)
    assert result.effect.n_clusters == 185 and result.effect.main_term == "ATT"
    assert result.n_focal_unmatched == 0
    assert "matched subclass" in result.effect.inference


def test_ratio_with_replacement_matches_brute_force(nsw):
    result = nearest_neighbor_match(nsw, "treat", COVARIATES, ratio=3, replace=True, outcome="re78")
    score = _propensity(nsw)
    _, weights = _brute_force(score, nsw["treat"].to_numpy(), ratio=3, replace=True)
    ours = pd.Series(result.matched["weight"].to_numpy(), index=result.matched["row"])
    np.testing.assert_allclose(ours.sort_index(), weights[weights > 0], rtol=1e-12)
    assert result.matched["subclass"].isna().all()
    assert result.effect.inference.startswith("HC1")
    treated = nsw["treat"].to_numpy() == 1
    y = nsw["re78"].to_numpy(float)
    att = y[treated].mean() - np.average(y[~treated], weights=weights[~treated])
    assert result.effect.estimate == pytest.approx(att, rel=1e-8)


def test_caliper_and_exact_match_brute_force(nsw):
    score = _propensity(nsw)
    width = 0.05 * score.std(ddof=1)
    cells = nsw["nodegree"].to_numpy()
    result = nearest_neighbor_match(
        nsw, "treat", COVARIATES, caliper=0.05, exact="nodegree", ratio=2
    )
    matches, weights = _brute_force(
        score, nsw["treat"].to_numpy(), ratio=2, caliper=width, cells=cells
    )
    assert _pairs(result) == {frozenset([t, *cs]) for t, cs in matches.items() if cs}
    ours = pd.Series(result.matched["weight"].to_numpy(), index=result.matched["row"])
    np.testing.assert_allclose(ours.sort_index(), weights[weights > 0], rtol=1e-12)
    assert result.n_focal_unmatched == sum(1 for cs in matches.values() if not cs) > 0
    for _, group in result.matched.groupby("subclass"):
        assert group["distance"].max() - group["distance"].min() <= 2 * width
        assert nsw.loc[group["row"], "nodegree"].nunique() == 1


def test_mahalanobis_matches_brute_force(nsw):
    names = ["age", "educ", "re74", "re75"]
    result = nearest_neighbor_match(nsw, "treat", names, distance="mahalanobis")
    x = nsw[names].to_numpy(float)
    treated = nsw["treat"].to_numpy()
    pooled = (
        np.cov(x[treated == 1], rowvar=False) * (np.sum(treated == 1) - 1)
        + np.cov(x[treated == 0], rowvar=False) * (np.sum(treated == 0) - 1)
    ) / (len(x) - 2)
    inverse = np.linalg.inv(pooled)
    used, pairs = set(), set()
    for t in np.nonzero(treated == 1)[0]:  # data order
        candidates = [c for c in np.nonzero(treated == 0)[0] if c not in used]
        gaps = [np.sqrt((x[t] - x[c]) @ inverse @ (x[t] - x[c])) for c in candidates]
        best = candidates[int(np.argmin(gaps))]
        used.add(best)
        pairs.add(frozenset([t, best]))
    assert _pairs(result) == pairs
    assert result.matched["distance"].isna().all()


def test_balance_after_matching_uses_treated_sd(nsw):
    result = nearest_neighbor_match(nsw, "treat", COVARIATES)
    table = result.balance.table.set_index("variable")
    matched = result.matched_data(nsw)
    treated = matched[matched["treat"] == 1]
    controls = matched[matched["treat"] == 0]
    sd = nsw.loc[nsw["treat"] == 1, "re74"].astype(float).std()
    control_mean = np.average(controls["re74"].astype(float), weights=controls["weight"])
    expected = (treated["re74"].astype(float).mean() - control_mean) / sd
    assert table.loc["re74", "smd_after"] == pytest.approx(expected, rel=1e-8)
    assert result.balance.estimand == "ATT"
    assert list(result.balance.sample_size["n"]) == [185, 185]


def test_simulated_att_is_recovered():
    rng = np.random.default_rng(11)
    n = 3000
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(1.8 - 0.6 * x))).astype(np.int8)
    y = 1.0 + 2.0 * x + (1.5 + 0.5 * x) * d + rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "d": d, "y": y, "village": rng.integers(0, 60, n)})
    att_sample = 1.5 + 0.5 * x[d == 1].mean()
    for replace in (False, True):
        result = nearest_neighbor_match(frame, "d", ["x"], outcome="y", replace=replace)
        assert abs(result.effect.estimate - att_sample) < 3 * result.effect.std_error
    clustered = nearest_neighbor_match(frame, "d", ["x"], outcome="y", cluster="village")
    assert clustered.effect.n_clusters == 60 and "village" in clustered.effect.inference
    atc = nearest_neighbor_match(frame, "d", ["x"], outcome="y", estimand="ATC", replace=True)
    atc_sample = 1.5 + 0.5 * x[d == 0].mean()
    assert abs(atc.effect.estimate - atc_sample) < 4 * atc.effect.std_error


def test_options_are_checked(nsw):
    with pytest.raises(ConfigError, match=r"'propensity'.*'mahalanobis'"):
        nearest_neighbor_match(nsw, "treat", COVARIATES, distance="euclidean")
    with pytest.raises(ConfigError, match="ratio"):
        nearest_neighbor_match(nsw, "treat", COVARIATES, ratio=0)
    with pytest.raises(ConfigError, match="caliper"):
        nearest_neighbor_match(nsw, "treat", ["age"], distance="mahalanobis", caliper=0.2)
    with pytest.raises(ConfigError, match=r"'ATT'.*'ATC'"):
        nearest_neighbor_match(nsw, "treat", COVARIATES, estimand="ATE")
    apart = nsw.assign(site=nsw["treat"].map({0: "north", 1: "south"}))
    with pytest.raises(EstimationError, match="no unit could be matched"):
        nearest_neighbor_match(apart, "treat", COVARIATES, exact="site")


def test_covariate_adjusted_att_matches_statsmodels(nsw):
    names = ["age", "educ", "re74", "re75"]
    result = nearest_neighbor_match(nsw, "treat", names, outcome="re78", adjust_covariates=True)
    plain = nearest_neighbor_match(nsw, "treat", names, outcome="re78")
    pd.testing.assert_frame_equal(result.matched, plain.matched)
    matched = result.matched_data(nsw)
    treated = matched["treat"].to_numpy(float)
    covariates = matched[names].astype(float)
    centred = covariates - covariates[treated == 1].mean()  # treated weights are all 1
    design = pd.concat([matched["treat"].astype(float).rename("treat"), centred,
                        centred.mul(treated, axis=0).add_prefix("treat:")], axis=1)
    reference = sm.WLS(matched["re78"].astype(float), sm.add_constant(design),
                       weights=matched["weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": matched["subclass"].astype(int)}, use_t=True)
    effect = result.effect
    assert effect.estimate == pytest.approx(reference.params["treat"], rel=1e-8)
    assert effect.std_error == pytest.approx(reference.bse["treat"], rel=1e-8)
    assert effect.term("ATT:re74").estimate == pytest.approx(reference.params["treat:re74"],
                                                             rel=1e-8)
    assert effect.terms == ("ATT", *names, *[f"ATT:{name}" for name in names], "intercept")
    assert effect.inference.endswith("covariate-adjusted")
    assert effect.extras["adjust_covariates"] is True
    # The adjustment changes the estimate (covariates are not perfectly balanced).
    assert abs(effect.estimate - plain.effect.estimate) > 1.0


def test_covariate_adjustment_recovers_a_heterogeneous_att():
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(1.0 - 0.8 * x))).astype(int)
    y = 2.0 * x + (1.0 + 0.8 * x) * d + 0.5 * rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "d": d, "y": y})
    truth = 1.0 + 0.8 * x[d == 1].mean()  # sample ATT
    for estimand, focal in (("ATT", 1), ("ATC", 0)):
        for replace in (False, True):
            result = nearest_neighbor_match(frame, "d", ["x"], outcome="y", replace=replace,
                                            estimand=estimand, adjust_covariates=True)
            # The effect in the matched focal units (all treated; the ATC without replacement
            # leaves most controls unmatched).
            rows = result.matched.loc[result.matched["treated"] == focal, "row"]
            sample_truth = 1.0 + 0.8 * x[rows.to_numpy()].mean()
            assert abs(result.effect.estimate - sample_truth) < 3 * result.effect.std_error
    # Unlike the unadjusted ATT, the adjusted one is nearly free of matching bias here.
    adjusted = nearest_neighbor_match(frame, "d", ["x"], outcome="y", adjust_covariates=True)
    assert abs(adjusted.effect.estimate - truth) < 0.05
    with pytest.raises(ConfigError, match="adjust_covariates"):
        nearest_neighbor_match(frame, "d", ["x"], outcome="y", adjust_covariates="yes")


# -- published numbers: Cunningham, "Causal Inference: The Mixtape" (2021), ch. 5 ----------------
@pytest.fixture(scope="module")
def trainees() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Mixtape's job-training example, shipped by causaldata as ``training_example``.

    Rows 0-9 are the 10 trainees, rows 0-19 the 20 non-trainees (side by side in the book's
    table); the rows below hold the book's summary figures, returned separately.
    """
    causaldata = pytest.importorskip("causaldata")
    raw = causaldata.training_example.load_pandas().data
    treated = pd.DataFrame({"age": raw["age_treat"].iloc[:10],
                            "earnings": pd.to_numeric(raw["earnings_treat"].iloc[:10]),
                            "trainee": 1})
    controls = pd.DataFrame({"age": raw["age_control"].iloc[:20],
                             "earnings": raw["earnings_control"].iloc[:20], "trainee": 0})
    frame = pd.concat([treated, controls], ignore_index=True)
    return frame, raw.iloc[20:]


def test_mixtape_training_example_exact_matching_on_age(trainees):
    """The book matches each trainee to the non-trainees of the same age and averages them
    when there are several (the trainee aged 30 has two, earning 10,750 and 9,000): matched
    mean earnings $9,380, ATT $1,695, against a simple difference of -$26.25 (the book's
    figures; causaldata ships them in the rows below the data, labelled ``SDO`` and ``ATE``).

    In MatchIt's terms that is exact matching on age with every control of the cell, which is
    ``exact="age"`` with a ratio as large as the biggest cell (2 here). Plain 1:1 matching
    keeps one of the two 30-year-olds (MatchIt's and our tie-break: the earlier row) and gives
    $1,607.50 instead: a documented convention, not a disagreement.
    """
    frame, summary = trainees
    labels = dict(zip(summary["earnings_treat"], summary["unit_control"], strict=True))
    assert labels["SDO"] == -26.25 and labels["ATE"] == 1695.0  # the book's figures
    assert summary["earnings_matched"].max() == 9380.0
    simple = nearest_neighbor_match(frame, "trainee", "age", distance="mahalanobis",
                                    exact="age", ratio=2, outcome="earnings")
    assert simple.effect.estimate == pytest.approx(1695.0, abs=1e-9)
    assert simple.n_focal_unmatched == 0
    matched = simple.matched_data(frame)
    controls = matched[matched["trainee"] == 0]
    assert np.average(controls["earnings"], weights=controls["weight"]) == pytest.approx(9380.0)
    assert len(controls) == 12  # ten ages, two of them with two non-trainees
    assert simple.balance.table["smd_after"].abs().max() < 1e-12
    raw = frame.groupby("trainee")["earnings"].mean()
    assert raw[1] - raw[0] == pytest.approx(-26.25)
    one_to_one = nearest_neighbor_match(frame, "trainee", "age", distance="mahalanobis",
                                        outcome="earnings")
    assert one_to_one.effect.estimate == pytest.approx(1607.5, abs=1e-9)


def test_mixtape_bias_reduction_table_is_one_to_one_covariate_matching():
    """The Mixtape's bias-correction example (causaldata ``training_bias_reduction``): four
    trainees with X = 11, 7, 5, 3 and four non-trainees with X = 10, 8, 4, 1. The book's table
    gives the trainees' matched Y0 as 4, 0, 5, 1 (as rebuilt in the book's code,
    scunning1975/mixtape ``R/training_bias_reduction.R``: ``Y0 = c(4,0,5,1, ...)``), so a
    simple matching ATT of mean(Y1 - Y0) = 3.25. That is 1:1 nearest-neighbour matching on X
    without replacement, trainees in data order: the trainee with X = 3 gets X = 1 because
    X = 4 went to the trainee with X = 5. With replacement it would get X = 4 (Y0 = 5).
    """
    causaldata = pytest.importorskip("causaldata")
    frame = causaldata.training_bias_reduction.load_pandas().data
    result = nearest_neighbor_match(frame, "D", "X", distance="mahalanobis", outcome="Y")
    pairs = {frozenset(group["row"]) for _, group in result.matched.groupby("subclass")}
    assert pairs == {frozenset({0, 4}), frozenset({1, 5}), frozenset({2, 6}),
                     frozenset({3, 7})}
    book_y0 = np.array([4.0, 0.0, 5.0, 1.0])
    assert frame["Y"].to_numpy()[[4, 5, 6, 7]].tolist() == book_y0.tolist()
    assert result.effect.estimate == pytest.approx(3.25, abs=1e-12)
    assert result.effect.estimate == pytest.approx(
        np.mean(frame["Y"].to_numpy()[:4] - book_y0), abs=1e-12)
    with_replacement = nearest_neighbor_match(frame, "D", "X", distance="mahalanobis",
                                              outcome="Y", replace=True)
    assert with_replacement.effect.estimate == pytest.approx(2.25, abs=1e-12)


def test_sampling_weights_as_matchit_s_weights(nsw):
    """s.weights: a weighted propensity model, the same greedy matching, and the product of
    match and sampling weights in the effect's WLS (pair-clustered)."""
    sampling = 1.0 + (nsw["educ"].to_numpy() % 3) + 0.5 * nsw["black"].to_numpy()
    frame = nsw.assign(sw=sampling)
    result = nearest_neighbor_match(frame, "treat", COVARIATES, outcome="re78", weights="sw")
    score = _propensity(nsw, sampling)
    matches, match_weights = _brute_force(score, nsw["treat"].to_numpy())
    assert _pairs(result) == {frozenset([t, *cs]) for t, cs in matches.items() if cs}
    combined = match_weights * sampling
    ours = pd.Series(result.matched["weight"].to_numpy(), index=result.matched["row"])
    np.testing.assert_allclose(ours.sort_index(), combined[combined > 0], rtol=1e-8)
    matched = nsw.loc[combined > 0].assign(weight=combined[combined > 0])
    pair = {unit: t for t, cs in matches.items() for unit in [t, *cs]}
    matched["pair"] = [pair[i] for i in matched.index]
    reference = sm.WLS(matched["re78"].astype(float),
                       sm.add_constant(matched["treat"].astype(float)),
                       weights=matched["weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": matched["pair"]}, use_t=True)
    assert result.effect.estimate == pytest.approx(reference.params["treat"], rel=1e-8)
    assert result.effect.std_error == pytest.approx(reference.bse["treat"], rel=1e-8)
    unweighted = nearest_neighbor_match(nsw, "treat", COVARIATES, outcome="re78")
    assert abs(result.effect.estimate - unweighted.effect.estimate) > 1.0  # the weights act
    constant = nearest_neighbor_match(frame.assign(sw=3.0), "treat", COVARIATES,
                                      outcome="re78", weights="sw")
    assert constant.effect.estimate == pytest.approx(unweighted.effect.estimate, rel=1e-8)
    with pytest.raises(EstimationError, match="negative"):
        nearest_neighbor_match(frame.assign(sw=-frame["sw"]), "treat", COVARIATES,
                               weights="sw")


def test_sampling_weights_give_the_population_att():
    """Group b has effect 3, group a effect 1; b is half the sample but a quarter of the
    population (sampling weight 1 against 3): the weighted ATT is the population's (1.5 among
    the treated), the unweighted one near 2."""
    rng = np.random.default_rng(4)
    n = 6000
    group_b = rng.random(n) < 0.5
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(0.5 - 0.8 * x))).astype(np.int8)
    y = x + np.where(group_b, 3.0, 1.0) * d + rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "b": group_b.astype(float), "d": d, "y": y,
                          "sw": np.where(group_b, 1.0, 3.0)})
    weighted = nearest_neighbor_match(frame, "d", ["x", "b"], outcome="y", weights="sw",
                                      exact="b", adjust_covariates=True)
    plain = nearest_neighbor_match(frame, "d", ["x", "b"], outcome="y", exact="b",
                                   adjust_covariates=True)
    treated_b = group_b[d == 1]
    population_att = np.average(np.where(treated_b, 3.0, 1.0),
                                weights=np.where(treated_b, 1.0, 3.0))
    assert abs(weighted.effect.estimate - population_att) < 3 * weighted.effect.std_error
    assert abs(plain.effect.estimate - population_att) > 5 * plain.effect.std_error
