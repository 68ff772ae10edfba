"""Publication tables: effects side by side (an ``etable``) and the baseline balance table.

This module owns :func:`etable` (outcomes as rows, estimands as columns, each estimate with its
standard error in parentheses and significance stars, then N and clusters),
:func:`format_balance_table` (means by arm, differences with stars, normalised differences and
the joint orthogonality test as a note, toward DIME's ``iebaltab``) and :func:`write_etable`,
which writes such a table as HTML, CSV, XLSX and LaTeX (booktabs), each atomically. Tables are
display tables: every cell is text in the report's language, negative numbers carry the
typographic minus sign (U+2212) so that no spreadsheet reads a cell as a formula, and the legend
travels in ``table.attrs["note"]``. Like the rest of :mod:`doorstep.report` it draws what it is
given and must not import ``estimate``, ``clean`` or ``run``; files are written by the atomic
writers of :mod:`doorstep.files`.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from doorstep.errors import DataError
from doorstep.files import write_atomic, write_csv
from doorstep.report.i18n import check_language, text
from doorstep.report.tables import estimand_name, format_p_value
from doorstep.spreadsheet import neutralise_frame

__all__ = [
    "EXTRA_STATISTICS",
    "STARS",
    "etable",
    "format_balance_table",
    "format_number",
    "latex_escape",
    "significance_stars",
    "write_etable",
]

STARS: tuple[tuple[float, str], ...] = ((0.01, "***"), (0.05, "**"), (0.10, "*"))
"""Significance thresholds: ``p < 0.01`` three stars, ``p < 0.05`` two, ``p < 0.10`` one."""

EXTRA_STATISTICS: tuple[str, ...] = ("p_wild", "p_romano_wolf", "q_sharpened")
"""Optional columns of a headline frame shown as extra rows when present."""

REQUIRED_COLUMNS = ("outcome", "estimand", "estimate", "std_error", "p_value", "n_obs",
                    "n_clusters")
MINUS = "\u2212"
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",
}


def significance_stars(p_value: float, thresholds: Sequence[tuple[float, str]] = STARS) -> str:
    """The stars of a p-value: the marks of the smallest threshold it is below ("" if none).

    Examples
    --------
    >>> [significance_stars(p) for p in (0.004, 0.01, 0.03, 0.07, 0.5, float("nan"))]
    ['***', '**', '**', '*', '', '']
    """
    if p_value is None or pd.isna(p_value):
        return ""
    for threshold, marks in sorted(thresholds):
        if p_value < threshold:
            return marks
    return ""


def stars_legend(language: str, thresholds: Sequence[tuple[float, str]] = STARS) -> str:
    """The legend of the stars, e.g. ``* p<0.10, ** p<0.05, *** p<0.01``.

    Examples
    --------
    >>> stars_legend("en")
    '* p<0.10, ** p<0.05, *** p<0.01'
    """
    check_language(language)
    separator = ", " if language == "en" else "，"
    return separator.join(f"{marks} p<{threshold:.2f}"
                          for threshold, marks in sorted(thresholds, reverse=True))


def format_number(value: float, digits: int = 2) -> str:
    """A number with ``digits`` decimals and a typographic minus sign; "" when missing.

    Examples
    --------
    >>> format_number(-1.2345), format_number(1234.5, 1), format_number(float("nan"))
    ('−1.23', '1,234.5', '')
    """
    if value is None or pd.isna(value):
        return ""
    formatted = f"{float(value):,.{digits}f}"
    if formatted.startswith("-"):
        formatted = MINUS + formatted[1:]
        if not formatted.strip(MINUS + "0.,"):  # -0.00 is shown as 0.00
            formatted = formatted[1:]
    return formatted


def parse_number(cell: str) -> float:
    """The number at the start of a formatted cell (inverse of :func:`format_number`).

    Examples
    --------
    >>> parse_number("−1,234.50*** (0.20)"), parse_number("(0.45)")
    (-1234.5, 0.45)
    """
    cleaned = str(cell).replace(MINUS, "-").replace(",", "").strip().lstrip("(").split()[0]
    return float(cleaned.rstrip("*)"))


def _count(value: float) -> str:
    return "" if value is None or pd.isna(value) else f"{int(value)}"


def _estimand_columns(headline: pd.DataFrame, language: str) -> pd.Series:
    """Each row's column name: the estimand, with the estimator when an estimand repeats."""
    names = headline["estimand"].map(lambda code: estimand_name(code, language))
    if headline.duplicated(["outcome", "estimand"]).any() and "estimator" in headline.columns:
        names = names + " (" + headline["estimator"].astype(str) + ")"
    duplicated = pd.DataFrame({"outcome": headline["outcome"], "name": names}).duplicated()
    if duplicated.any():
        row = headline[duplicated.to_numpy()].iloc[0]
        raise DataError(
            f"headline: outcome {row['outcome']!r} has more than one row for estimand "
            f"{row['estimand']!r}; expected one row per outcome and estimand (and estimator)")
    return names


def etable(headline: pd.DataFrame, labels: Mapping[str, str] | None = None,
           language: str = "en", *, digits: int = 2, p_values: bool = True,
           thresholds: Sequence[tuple[float, str]] = STARS,
           family_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Effects side by side: outcomes as rows, estimands (estimators) as columns.

    For every outcome the table has the rows ``estimate (SE)`` (the estimate with its
    significance stars and its standard error in parentheses), ``p-value`` (with
    ``p_values=True``), one row for each optional statistic the frame carries (``p_wild``, the
    wild cluster bootstrap p; ``p_romano_wolf``; ``q_sharpened``, the sharpened FDR q-value;
    ``family``, the outcome family, which also groups the outcomes), then ``N`` and
    ``clusters``. A cell is empty where an estimand was not estimated for an outcome.

    Parameters
    ----------
    headline : pandas.DataFrame
        Tidy rows with at least ``outcome, estimand, estimate, std_error, p_value, n_obs,
        n_clusters``; one row per outcome and estimand (or estimand and ``estimator``).
    labels : mapping, optional
        Outcome labels in the report's language (``config.labels``).
    language : {"en", "zh"}
        Language of the row and column names and of the legend.
    digits : int, default 2
        Decimals of estimates and standard errors (p-values have three).
    thresholds : sequence of (p, marks)
        Star thresholds, :data:`STARS` by default.
    family_labels : mapping, optional
        Family names to their labels in the report's language (the name where absent).

    Returns
    -------
    pandas.DataFrame
        Text cells indexed by (outcome label, statistic); the legend (stars and what the
        parentheses hold) is in ``attrs["note"]``.

    Raises
    ------
    DataError
        If a required column is missing, or an outcome has two rows for one column.

    Examples
    --------
    >>> headline = pd.DataFrame({"outcome": ["y", "y"], "estimand": ["itt", "late"],
    ...     "estimate": [1.5, -3.0], "std_error": [0.5, 2.0], "p_value": [0.003, 0.13],
    ...     "n_obs": [400, 400], "n_clusters": [20, 20]})
    >>> table = etable(headline, {"y": "Income"})
    >>> table.loc[("Income", "estimate (SE)")].tolist()
    ['1.50*** (0.50)', '−3.00 (2.00)']
    >>> table.attrs["note"]
    'Standard errors in parentheses. * p<0.10, ** p<0.05, *** p<0.01.'
    """
    check_language(language)
    missing = [column for column in REQUIRED_COLUMNS if column not in headline.columns]
    if missing:
        raise DataError(f"headline: missing columns {missing}; expected the tidy estimate "
                        f"columns {list(REQUIRED_COLUMNS)}")
    labels = dict(labels or {})
    frame = headline.reset_index(drop=True)
    frame = frame.assign(_column=_estimand_columns(frame, language))
    columns = list(dict.fromkeys(frame["_column"]))
    outcomes = list(dict.fromkeys(frame["outcome"]))
    has_family = "family" in frame.columns and frame["family"].notna().any()
    if has_family:
        family_of = frame.groupby("outcome", sort=False)["family"].first()
        families = list(dict.fromkeys(family_of.fillna("")))
        outcomes.sort(key=lambda name: families.index(family_of.get(name) or ""))
    extras = [name for name in EXTRA_STATISTICS
              if name in frame.columns and frame[name].notna().any()]

    statistics: list[tuple[str, object]] = [("estimate_se", None)]
    if p_values:
        statistics.append(("p_value", None))
    statistics += [(name, None) for name in extras]
    if has_family:
        statistics.append(("family", None))
    statistics += [("n_obs", None), ("n_clusters", None)]

    def cell(row: pd.Series, statistic: str) -> str:
        if statistic == "estimate_se":
            stars = significance_stars(row["p_value"], thresholds)
            return (f"{format_number(row['estimate'], digits)}{stars} "
                    f"({format_number(row['std_error'], digits)})")
        if statistic in ("p_value", *EXTRA_STATISTICS):
            return format_p_value(row[statistic])
        if statistic == "family":
            if pd.isna(row["family"]):
                return ""
            return (family_labels or {}).get(row["family"], str(row["family"]))
        return _count(row[statistic])

    index, rows = [], []
    for outcome in outcomes:
        block = frame[frame["outcome"] == outcome].set_index("_column")
        for statistic, _ in statistics:
            index.append((labels.get(outcome, outcome), text(f"etable_{statistic}", language)))
            rows.append([cell(block.loc[column], statistic) if column in block.index else ""
                         for column in columns])
    table = pd.DataFrame(rows, columns=columns,
                         index=pd.MultiIndex.from_tuples(
                             index, names=[text("outcome", language),
                                           text("etable_statistic", language)]))
    table.columns.name = text("estimand", language)
    table.attrs["note"] = text("etable_note", language,
                               stars=stars_legend(language, thresholds))
    return table


def _arm_codes(balance_table: pd.DataFrame) -> list[str]:
    return [column[len("mean_"):] for column in balance_table.columns
            if column.startswith("mean_")]


def format_balance_table(balance: object, labels: Mapping[str, str] | None = None,
                         language: str = "en", *, arm_names: Mapping[object, str] | None = None,
                         digits: int = 2, min_cell_size: int = 5,
                         thresholds: Sequence[tuple[float, str]] = STARS) -> pd.DataFrame:
    """The baseline balance table for the report: means by arm, differences, the joint test.

    One row per variable: the mean of each arm, the number of people of each arm (fewer than
    ``min_cell_size`` shown as ``<n``), then for each arm other than the control the
    difference from the control with stars and its standard error in parentheses, its
    p-value and the normalised difference (difference over the pooled SD; above 0.25 in
    absolute value is usually read as a worrying imbalance). The joint orthogonality test is
    in the note (``attrs["note"]``), with the legend of the stars.

    Parameters
    ----------
    balance : doorstep.estimate.BalanceTable
        What :func:`doorstep.run.stages.balance_and_attrition` returns (any object with its
        ``table``, ``joint`` and ``control``).
    labels : mapping, optional
        Variable labels; a ``<name>_baseline`` variable is shown as the label of ``<name>``
        followed by "(baseline)".
    arm_names : mapping, optional
        Each arm's name by its code (``0``, ``1`` or the texts ``"0"``, ``"1"``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> table = pd.DataFrame({"variable": ["age"], "mean_0": [30.0], "sd_0": [5.0],
    ...     "n_0": [100], "mean_1": [31.0], "sd_1": [5.0], "n_1": [3], "difference": [1.0],
    ...     "std_error": [0.4], "p_value": [0.02], "normalised_difference": [0.2]})
    >>> joint = pd.DataFrame({"arm": [1.0], "f_statistic": [1.2], "p_value": [0.31]})
    >>> shown = format_balance_table(SimpleNamespace(table=table, joint=joint, control=0.0),
    ...                              {"age": "Age"}, arm_names={0: "control", 1: "treated"})
    >>> shown.iloc[0].tolist()
    ['30.00', '31.00', '100', '<5', '1.00** (0.40)', '0.020', '0.20']
    """
    check_language(language)
    labels = dict(labels or {})
    table = balance.table  # type: ignore[attr-defined]
    if "variable" not in table.columns:
        raise DataError("balance table: missing column 'variable'; expected the table of "
                        "doorstep.estimate.balance_table")
    arms = _arm_codes(table)
    control = f"{float(balance.control):g}"  # type: ignore[attr-defined]
    names = {f"{float(code):g}" if _is_number(code) else str(code): name
             for code, name in (arm_names or {}).items()}
    treated = [arm for arm in arms if arm != control]
    two_arms = len(treated) == 1

    def arm_name(code: str) -> str:
        return names.get(code, code)

    def variable_label(name: str) -> str:
        if name in labels:
            return labels[name]
        if name.endswith("_baseline"):
            stem = name[: -len("_baseline")]
            return text("balance_baseline_label", language, label=labels.get(stem, stem))
        return name

    out = pd.DataFrame(index=table["variable"].map(variable_label))
    out.index.name = text("balance_variable", language)
    for arm in arms:
        out[text("balance_mean", language, arm=arm_name(arm))] = [
            format_number(value, digits) for value in table[f"mean_{arm}"]]
    for arm in arms:
        out[text("balance_n", language, arm=arm_name(arm))] = [
            f"<{min_cell_size}" if pd.notna(value) and 0 < value < min_cell_size else
            _count(value) for value in table[f"n_{arm}"]]
    for arm in treated:
        suffix = "" if two_arms else f"_{arm}"
        words = {"arm": arm_name(arm), "control": arm_name(control)}
        out[text("balance_difference", language, **words)] = [
            f"{format_number(d, digits)}{significance_stars(p, thresholds)} "
            f"({format_number(se, digits)})" for d, se, p in zip(
                table[f"difference{suffix}"], table[f"std_error{suffix}"],
                table[f"p_value{suffix}"], strict=True)]
        out[text("balance_p_value", language, **words)] = [
            format_p_value(p) for p in table[f"p_value{suffix}"]]
        out[text("balance_normalised", language, **words)] = [
            format_number(value, digits) for value in table[f"normalised_difference{suffix}"]]
    joint = balance.joint  # type: ignore[attr-defined]
    tests = [text("joint_test", language, f=row["f_statistic"], p=row["p_value"])
             + ("" if two_arms else f" ({arm_name(format(float(row['arm']), 'g'))})")
             for _, row in joint.iterrows()]
    out.attrs["note"] = text("balance_note", language, tests="; ".join(tests),
                             stars=stars_legend(language, thresholds))
    return out


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def latex_escape(value: object) -> str:
    """Text made safe for LaTeX (``& % $ # _ { } ~ ^ \\ < >``; the minus sign as ``$-$``).

    Chinese characters pass through as UTF-8; compile with XeLaTeX and ``xeCJK``.

    Examples
    --------
    >>> print(latex_escape("Income (yuan/month) & 50% of_x −1.2*"))
    Income (yuan/month) \\& 50\\% of\\_x $-$1.2*
    """
    escaped = "".join(_LATEX_SPECIAL.get(character, character) for character in str(value))
    return escaped.replace(MINUS, "$-$")


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its index as leading text columns."""
    flat = table.reset_index()
    flat.columns = [str(column) for column in flat.columns]
    return flat


def to_latex(table: pd.DataFrame) -> str:
    """The table as a booktabs ``tabular`` with its note below, in UTF-8.

    Repeated row labels of the first index level are left blank, and a small gap separates
    their groups.

    Examples
    --------
    >>> table = pd.DataFrame({"ITT": ["1.50*** (0.50)"]}, index=pd.Index(["y_1"], name="Outcome"))
    >>> print(to_latex(table).splitlines()[6])
    y\\_1 & 1.50*** (0.50) \\\\
    """
    levels = table.index.nlevels
    header = [*(str(name or "") for name in table.index.names), *map(str, table.columns)]
    lines = [
        "% Written by doorstep.report.etable. Needs \\usepackage{booktabs}. Chinese text is",
        "% plain UTF-8: compile with XeLaTeX and \\usepackage{xeCJK}.",
        "\\begin{tabular}{" + "l" * levels + "c" * len(table.columns) + "}",
        "\\toprule",
        " & ".join(latex_escape(name) for name in header) + " \\\\",
        "\\midrule",
    ]
    previous = None
    for position, (key, row) in enumerate(table.iterrows()):
        shown = list(key) if isinstance(key, tuple) else [key]
        group = shown[0]
        if levels > 1 and group == previous:
            shown[0] = ""
        elif levels > 1 and position > 0:
            lines.append("\\addlinespace")
        previous = group
        lines.append(" & ".join(latex_escape(value) for value in [*shown, *row.tolist()])
                     + " \\\\")
    lines.append("\\bottomrule")
    note = table.attrs.get("note")
    if note:
        width = levels + len(table.columns)
        lines.append(f"\\multicolumn{{{width}}}{{l}}{{\\footnotesize {latex_escape(note)}}} "
                     "\\\\")
    lines.append("\\end{tabular}")
    return "\n".join(lines) + "\n"


def to_html(table: pd.DataFrame, title: str = "") -> str:
    """The table as a standalone UTF-8 HTML page (text escaped), with its note below.

    Examples
    --------
    >>> page = to_html(pd.DataFrame({"a": ["<b>"]}))
    >>> "&lt;b&gt;" in page and "<b>" not in page.split("<body>")[1]
    True
    """
    body = table.to_html(escape=True, border=0, classes="doorstep-etable")
    note = table.attrs.get("note")
    parts = [
        "<!DOCTYPE html>", "<html>", "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>table{border-collapse:collapse;font-family:sans-serif;font-size:14px}"
        "th,td{padding:3px 10px;text-align:center}thead th{border-bottom:1px solid #333}"
        "table{border-top:2px solid #333;border-bottom:2px solid #333}"
        "p.note{font-family:sans-serif;font-size:12px;color:#444}</style>",
        "</head>", "<body>", body,
    ]
    if note:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def to_xlsx(table: pd.DataFrame) -> bytes:
    """The table as an Excel workbook (one sheet, formulas neutralised, note below)."""
    flat = neutralise_frame(_flat(table))
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        flat.to_excel(writer, index=False, sheet_name="table")
        note = table.attrs.get("note")
        if note:
            sheet = writer.sheets["table"]
            sheet.cell(row=len(flat) + 3, column=1, value=str(note))
    return buffer.getvalue()


def write_etable(table: pd.DataFrame, stem: str | Path) -> dict[str, Path]:
    """Write a display table as ``stem.html``, ``stem.csv``, ``stem.xlsx`` and ``stem.tex``.

    Each file is written atomically (temporary name, then rename). The CSV and XLSX hold the
    index as leading columns and the note in a last row; their text cells are neutralised
    against spreadsheet formulas (:mod:`doorstep.spreadsheet`). The LaTeX file is a booktabs
    ``tabular`` to ``\\input`` in a document.

    Returns
    -------
    dict
        The path of each format, keyed ``"html"``, ``"csv"``, ``"xlsx"``, ``"tex"``.

    Examples
    --------
    >>> import tempfile
    >>> table = pd.DataFrame({"ITT": ["1.50*** (0.50)"]}, index=pd.Index(["y"], name="Outcome"))
    >>> paths = write_etable(table, Path(tempfile.mkdtemp()) / "effects")
    >>> sorted(paths), paths["csv"].read_text(encoding="utf-8").splitlines()[1]
    (['csv', 'html', 'tex', 'xlsx'], 'y,1.50*** (0.50)')
    """

    stem = Path(stem)
    flat = _flat(table)
    note = table.attrs.get("note")
    if note:
        note_row = pd.DataFrame([[note] + [""] * (flat.shape[1] - 1)], columns=flat.columns)
        flat = pd.concat([flat.astype(object), note_row], ignore_index=True)
    paths = {
        "csv": write_csv(flat, stem.with_name(stem.name + ".csv")),
        "xlsx": write_atomic(stem.with_name(stem.name + ".xlsx"), to_xlsx(table)),
        "tex": write_atomic(stem.with_name(stem.name + ".tex"), to_latex(table)),
        "html": write_atomic(stem.with_name(stem.name + ".html"),
                             to_html(table, title=stem.name)),
    }
    return {key: paths[key] for key in ("html", "csv", "xlsx", "tex")}

