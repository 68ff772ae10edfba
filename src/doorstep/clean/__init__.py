"""Cleaning: turn a raw export into clean analysis data with a full audit trail.

This sub-package owns the cleaning engine: the spec (``cleaning.yaml``) and its validation
(:mod:`~doorstep.clean.spec`), cell parsers for field data (:mod:`~doorstep.clean.values`),
the steps as pure functions of (frame, rule) (:mod:`~doorstep.clean.steps`; outliers,
straight-lining and panel links in :mod:`~doorstep.clean.review`; recodes, corrections and
duplicate resolutions re-applied from files in :mod:`~doorstep.clean.records`; pseudonyms,
GPS coarsening and the key in :mod:`~doorstep.clean.privacy`), the run that chains them,
accounts for every row and builds the codebook (:mod:`~doorstep.clean.engine`), and the
written outputs and summary counts (:mod:`~doorstep.clean.outputs`).
It may import ``doorstep.errors`` and ``doorstep.instrument``; it must not import
``doorstep.estimate``, ``doorstep.report`` or ``doorstep.run``.

Examples
--------
>>> import pandas as pd
>>> from doorstep.clean import run
>>> frame = pd.DataFrame({"child_id": ["c1"], "inc_wages": ["0.3万元"]})
>>> run(frame, {"unit_id": "child_id", "money": {"variables": ["inc_wages"]}}).data.iloc[0, 1]
np.float64(3000.0)
"""

from doorstep.clean.engine import PERSONAL_MASK, AccountingError, CleanResult, run
from doorstep.clean.outputs import stata_names, summarise, write_clean_outputs
from doorstep.clean.privacy import write_linking_table
from doorstep.clean.review import link_rounds
from doorstep.clean.spec import CleaningSpec, MoneyRule, load_spec, validate_spec

__all__ = [
    "PERSONAL_MASK",
    "AccountingError",
    "CleanResult",
    "CleaningSpec",
    "MoneyRule",
    "link_rounds",
    "load_spec",
    "run",
    "stata_names",
    "summarise",
    "validate_spec",
    "write_clean_outputs",
    "write_linking_table",
]
