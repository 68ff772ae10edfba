"""Report building blocks: tables and figures of results, and the personal-data guard.

This sub-package draws what it is given (tidy estimate frames, truth records, cleaning logs);
it computes no estimates and reads no raw data. It must not import ``estimate``, ``clean`` or
``run``.
"""

from doorstep.report.coefficients import coefficient_figure, standardise_effects
from doorstep.report.cost import cost_effectiveness_table, format_cost_table
from doorstep.report.etable import etable, format_balance_table, write_etable
from doorstep.report.flow import flow_figure, flow_problems, flow_table
from doorstep.report.forest import dose_response_figure, forest_figure
from doorstep.report.guard import PersonalDataError, scan_for_personal_data, scan_run_dir
from doorstep.report.i18n import text, use_language_fonts
from doorstep.report.summary import (
    appendix_links,
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

__all__ = [
    "INFERENCE_P_COLUMNS",
    "PersonalDataError",
    "Section",
    "appendix_links",
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
