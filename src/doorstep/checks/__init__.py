"""High-frequency checks of fieldwork data while enumerators are still in the village.

This sub-package owns the supervisor's daily checks of raw survey exports (as read by
:func:`doorstep.io.read_export`): progress against the sample, duplicates and unknown ids,
interview durations, an enumerator dashboard with a ranking of enumerators whose answers differ
most from their peers, constraints and skip logic from the instrument, outliers, form-version
mix, back-check comparisons, and incremental runs that say what is new since the last run. Its
outputs are a :class:`CheckResults` of tables, a phone-readable HTML dashboard and per-supervisor
flag lists (CSV/XLSX) that a later cleaning step reads back with :func:`read_resolutions`.

Checks read raw answers and never change them. They must not import ``doorstep.estimate``,
``doorstep.report`` or ``doorstep.run``; personal data never reaches their outputs.

Examples
--------
>>> from doorstep.checks import run_checks
>>> results = run_checks([frame], instrument, {"id_column": "child_id"})  # doctest: +SKIP
>>> results.ranking.head(1)  # doctest: +SKIP
"""

from doorstep.checks.backcheck import BackcheckResults, compare_backcheck, make_backcheck
from doorstep.checks.config import CheckConfig, check_config
from doorstep.checks.flags import FLAG_COLUMNS, RESOLUTIONS, neutralise, read_resolutions
from doorstep.checks.pipeline import CheckResults, run_checks
from doorstep.checks.state import load_state, save_state
from doorstep.checks.writers import write_dashboard, write_flag_lists

__all__ = [
    "FLAG_COLUMNS",
    "RESOLUTIONS",
    "BackcheckResults",
    "CheckConfig",
    "CheckResults",
    "check_config",
    "compare_backcheck",
    "load_state",
    "make_backcheck",
    "neutralise",
    "read_resolutions",
    "run_checks",
    "save_state",
    "write_dashboard",
    "write_flag_lists",
]
