"""The work of each notebook of the chain, as functions a test can call.

Notebooks stay thin: a parameters cell, then one call per step into this package (``from
doorstep.run import stages``, then ``stages.<function>``), and displays. Each stage reads what
the previous one wrote into the run directory and writes its own outputs there (atomically,
see :mod:`doorstep.files`). One module per stage; this file only re-exports their public names:

- :mod:`~doorstep.run.stages.common`: :func:`start`, :func:`load_analysis`,
  :func:`load_output`, the time column and the samples every stage shares;
- :mod:`~doorstep.run.stages.data`: ``01_fieldwork_checks`` (:func:`read_sources`,
  :func:`fieldwork_checks`, :func:`save_fieldwork_outputs` -> ``fieldwork/dashboard.html`` and
  the flag lists) and ``01_clean`` (:func:`read_sources`, :func:`clean_sources`,
  :func:`build_analysis_data`, :func:`save_clean_outputs` -> ``analysis.parquet``,
  ``cleaning_log.csv``, ``dropped.csv``, ``flags.csv``, ``codebook.csv``, ``sources.csv``);
- :mod:`~doorstep.run.stages.balance`: ``02_balance`` (:func:`balance_and_attrition` ->
  ``balance.csv``, ``attrition.csv``);
- :mod:`~doorstep.run.stages.effects`: ``03_impact`` (:func:`estimate_effects` ->
  ``estimates.csv``, ``headline.csv``, ``inference.csv``: the primary estimand's
  wild/multiplier bootstrap, Romano-Wolf and sharpened-q values per outcome and family index);
- :mod:`~doorstep.run.stages.report_inputs` and :mod:`~doorstep.run.stages.subgroups`:
  ``04_report`` (sample flow, standardisation, reliability, truth; subgroups and dose), drawn
  by :mod:`doorstep.report`.
"""

from doorstep.run.stages.balance import attrition_table, balance_and_attrition, balance_sample
from doorstep.run.stages.common import (
    ANALYSIS_FILE,
    CLEAN_FILE,
    TIME,
    load_analysis,
    load_output,
    start,
)
from doorstep.run.stages.data import (
    FIELDWORK_KEY_OPTIONS,
    build_analysis_data,
    clean_sources,
    cleaning_counts,
    fieldwork_checks,
    read_sources,
    save_clean_outputs,
    save_fieldwork_outputs,
)
from doorstep.run.stages.effects import (
    BOOTSTRAP_REPS,
    FEW_CLUSTERS,
    INDEX_FAMILY,
    INFERENCE_COLUMNS,
    P_COLUMNS,
    PRIMARY_ESTIMAND,
    ImpactEstimates,
    add_family_indices,
    bootstrap_weights,
    estimate_effects,
    primary_inference,
)
from doorstep.run.stages.report_inputs import (
    FLOW_COLUMNS,
    RELIABILITY_SCALES,
    balance_arm_names,
    control_standard_deviation,
    load_truth,
    sample_flow,
    sample_flow_from_frames,
    scale_reliability,
)
from doorstep.run.stages.subgroups import (
    DOSE_COLUMNS,
    OVERALL,
    SUBGROUP_COLUMNS,
    dose_bands,
    dose_response,
    subgroup_effects,
    subgroup_levels,
)

__all__ = [
    "ANALYSIS_FILE", "BOOTSTRAP_REPS", "CLEAN_FILE", "DOSE_COLUMNS", "FEW_CLUSTERS",
    "FIELDWORK_KEY_OPTIONS", "FLOW_COLUMNS", "INDEX_FAMILY", "INFERENCE_COLUMNS", "OVERALL",
    "PRIMARY_ESTIMAND", "P_COLUMNS", "RELIABILITY_SCALES", "SUBGROUP_COLUMNS", "TIME",
    "ImpactEstimates", "add_family_indices", "attrition_table", "balance_and_attrition",
    "balance_arm_names", "balance_sample", "bootstrap_weights", "build_analysis_data",
    "clean_sources", "cleaning_counts", "control_standard_deviation", "dose_bands", "dose_response",
    "estimate_effects", "fieldwork_checks", "load_analysis", "load_output", "load_truth",
    "primary_inference", "read_sources", "sample_flow", "sample_flow_from_frames",
    "save_clean_outputs", "save_fieldwork_outputs", "scale_reliability", "start",
    "subgroup_effects", "subgroup_levels",
]
