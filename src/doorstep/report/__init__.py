"""Report building blocks: tables and figures of results, and the personal-data guard.

This sub-package draws what it is given (tidy estimate frames, truth records, cleaning logs);
it computes no estimates and reads no raw data. It must not import ``estimate``, ``clean`` or
``run``.
"""

from doorstep.report.guard import PersonalDataError, scan_for_personal_data, scan_run_dir
from doorstep.report.i18n import text, use_language_fonts
from doorstep.report.summary import (
    appendix_links,
    cleaning_summary,
    codebook_table,
    event_study_figure,
    summary_markdown,
)
from doorstep.report.tables import (
    compare_with_truth,
    effect_figure,
    format_effect_table,
    small_cells_suppressed,
)
from doorstep.report.word import Section, write_docx

__all__ = [
    "PersonalDataError",
    "Section",
    "appendix_links",
    "cleaning_summary",
    "codebook_table",
    "compare_with_truth",
    "effect_figure",
    "event_study_figure",
    "format_effect_table",
    "scan_for_personal_data",
    "scan_run_dir",
    "small_cells_suppressed",
    "summary_markdown",
    "text",
    "use_language_fonts",
    "write_docx",
]
