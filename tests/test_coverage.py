"""Do the kit's 95% intervals cover the simulated truth across independent draws?

The whole pipeline (read, clean, measures, estimate) runs through the same stage functions
the notebooks call, without kernels, on four seeds at half the demo size. Over the 4 x 26
outcome-estimand intervals (ATT for caring mothers; ITT, LATE and the observational AIPW ATT
for the workshops) at least 90% must cover the planted truth and none may be grossly off
(|z| < 4). The Monte Carlo at 1,000 replications is the slow suite of a later issue.
"""

from __future__ import annotations

import pandas as pd

from doorstep.report import compare_with_truth
from doorstep.run import stages
from tests.conftest import make_project

SEEDS = (1, 2, 3, 4)


def _comparison(config_path, run_dir) -> pd.DataFrame:
    config = stages.start(config_path, run_dir)[0]
    instrument, raw, _ = stages.read_sources(config)
    cleaned = stages.clean_sources(config, raw, instrument)
    analysis = stages.build_analysis_data(config, cleaned.data)
    impact = stages.estimate_effects(config, analysis)
    return compare_with_truth(impact.headline, stages.load_truth(config)["effects"])


def test_intervals_cover_the_truth_across_seeds(tmp_path):
    frames = []
    for seed in SEEDS:
        for programme in ("caring_mothers", "skills_workshops"):
            config_path = make_project(tmp_path / str(seed), programme, seed=seed, scale=0.5)
            frames.append(_comparison(config_path, tmp_path / str(seed) / "run" / programme)
                          .assign(seed=seed))
    table = pd.concat(frames, ignore_index=True)
    table = table[~table["outcome"].str.startswith("index_")]  # family indices have no truth
    z = (table["estimate"] - table["true_effect"]) / table["std_error"]
    assert table["true_effect"].notna().all()
    assert len(table) == len(SEEDS) * (5 + 3 * 7)
    assert z.abs().lt(4).all(), table.assign(z=z)[z.abs() >= 4]
    assert table["covered"].mean() >= 0.90, table.groupby(["outcome", "estimand"])[
        "covered"].mean()
