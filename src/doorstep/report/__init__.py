"""Report building blocks: tables and figures of results, and the personal-data guard.

This sub-package draws what it is given (tidy estimate frames, truth records, cleaning logs);
it computes no estimates and reads no raw data. It must not import ``estimate``, ``clean`` or
``run``.

The public names below are loaded on first use (module ``__getattr__``), so that
``from doorstep import report`` -- the first cell of every notebook, and the runner through the
personal-data guard -- does not pay for matplotlib figures, Word files or ``scipy.stats`` (through
the cost tables) until a function that needs them is called. ``report.write_docx`` and
``from doorstep.report import write_docx`` work as before.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

from doorstep._lazy import lazy_exports

# public name -> the sub-module that defines it
_EXPORTS = {
    "coefficient_figure": "coefficients",
    "standardise_effects": "coefficients",
    "cost_effectiveness_table": "cost",
    "format_cost_table": "cost",
    "etable": "etable",
    "format_balance_table": "etable",
    "write_etable": "etable",
    "flow_figure": "flow",
    "flow_problems": "flow",
    "flow_table": "flow",
    "dose_response_figure": "forest",
    "forest_figure": "forest",
    "PersonalDataError": "guard",
    "scan_for_personal_data": "guard",
    "scan_run_dir": "guard",
    "text": "i18n",
    "use_language_fonts": "i18n",
    "appendix_links": "summary",
    "cleaning_counts": "summary",
    "cleaning_summary": "summary",
    "codebook_table": "summary",
    "event_study_figure": "summary",
    "summary_markdown": "summary",
    "variable_labels": "summary",
    "INFERENCE_P_COLUMNS": "tables",
    "compare_with_truth": "tables",
    "effect_figure": "tables",
    "effect_table_note": "tables",
    "format_effect_table": "tables",
    "small_cells_suppressed": "tables",
    "Section": "word",
    "write_docx": "word",
}

__all__ = [
    "INFERENCE_P_COLUMNS",
    "PersonalDataError",
    "Section",
    "appendix_links",
    "cleaning_counts",
    "cleaning_summary",
    "codebook_table",
    "coefficient_figure",
    "compare_with_truth",
    "cost_effectiveness_table",
    "dose_response_figure",
    "effect_figure",
    "effect_table_note",
    "etable",
    "event_study_figure",
    "flow_figure",
    "flow_problems",
    "flow_table",
    "forest_figure",
    "format_balance_table",
    "format_cost_table",
    "format_effect_table",
    "scan_for_personal_data",
    "scan_run_dir",
    "small_cells_suppressed",
    "standardise_effects",
    "summary_markdown",
    "text",
    "use_language_fonts",
    "variable_labels",
    "write_docx",
    "write_etable",
]

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from doorstep.report.coefficients import coefficient_figure, standardise_effects
    from doorstep.report.cost import cost_effectiveness_table, format_cost_table
    from doorstep.report.etable import etable, format_balance_table, write_etable
    from doorstep.report.flow import flow_figure, flow_problems, flow_table
    from doorstep.report.forest import dose_response_figure, forest_figure
    from doorstep.report.guard import PersonalDataError, scan_for_personal_data, scan_run_dir
    from doorstep.report.i18n import text, use_language_fonts
    from doorstep.report.summary import (
        appendix_links,
        cleaning_counts,
        cleaning_summary,
        codebook_table,
        event_study_figure,
        summary_markdown,
        variable_labels,
    )
    from doorstep.report.tables import (
        INFERENCE_P_COLUMNS,
        compare_with_truth,
        effect_figure,
        effect_table_note,
        format_effect_table,
        small_cells_suppressed,
    )
    from doorstep.report.word import Section, write_docx


class _ReportPackage(types.ModuleType):
    """The package's module type: keeps ``report.etable`` the function, as an eager import did.

    Importing a sub-module binds it as an attribute of its package; ``etable`` is the name of
    both a sub-module and the public function, so that binding is skipped and the function is
    loaded by ``__getattr__`` instead.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and name in _EXPORTS:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ReportPackage


__getattr__, __dir__ = lazy_exports("doorstep.report", _EXPORTS, globals())
