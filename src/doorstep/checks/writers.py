"""Writers of the check results: a phone-readable HTML dashboard and per-supervisor flag lists.

This module owns the files a supervisor opens: ``dashboard.html`` (self-contained; plots as
embedded PNG drawn with matplotlib/seaborn; a viewport meta tag and a one-column layout) and
``flags_<supervisor>.csv`` / ``.xlsx`` (one row per issue, headers in English or Chinese, cells
neutralised against formulas, blank ``resolution``, ``resolved_by`` and ``notes``). Everything
is written to a temporary name and renamed. Results hold no personal data, and the writers add
none. It must not import ``estimate``, ``report`` or ``run``.

Examples
--------
>>> write_dashboard(results, "checks/dashboard.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from doorstep.checks.flags import flag_list

_UNSAFE_NAME = re.compile(r"[^\w\-]+")
_STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;padding:12px;
max-width:760px;margin:auto;line-height:1.4;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;border-bottom:1px solid #ccc;margin-top:1.6em}
.scroll{overflow-x:auto;width:100%}table{border-collapse:collapse;font-size:.85em}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}img{width:100%;height:auto}.note{color:#666;font-size:.85em}
"""


def _write_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{encoded}">'


def _table(frame: pd.DataFrame, rows: int = 40) -> str:
    shown = frame.head(rows).copy()
    for column in shown.select_dtypes("number").columns:
        shown[column] = shown[column].round(3)
    return '<div class="scroll">' + shown.to_html(index=False, na_rep="", escape=True) + "</div>"


def _plots(results) -> list[tuple[str, str]]:
    plots = []
    durations = results.durations.dropna(subset=["seconds"])
    if not durations.empty:
        figure, axis = plt.subplots(figsize=(7, 0.3 * durations["enumerator"].nunique() + 1.5))
        sns.boxplot(x=durations["seconds"] / 60, y=durations["enumerator"],
                    order=sorted(durations["enumerator"].unique()), ax=axis, color="#9ecae1",
                    fliersize=2)
        axis.set_xlabel("interview duration (minutes)")
        axis.set_ylabel("")
        plots.append(("Duration by enumerator", _png(figure)))
    if not results.ranking.empty:
        ranking = results.ranking
        figure, axis = plt.subplots(figsize=(7, 0.3 * len(ranking) + 1.5))
        sns.barplot(x=ranking["composite"], y=ranking["enumerator"], ax=axis, color="#fc9272",
                    orient="h")
        axis.set_xlabel("composite score (higher = check first)")
        axis.set_ylabel("")
        plots.append(("Enumerator ranking", _png(figure)))
    if not results.by_hour.empty:
        figure, axis = plt.subplots(figsize=(7, 0.3 * len(results.by_hour) + 1.5))
        sns.heatmap(results.by_hour, ax=axis, cmap="Blues", cbar=False, annot=False)
        axis.set_xlabel("hour the interview started")
        axis.set_ylabel("")
        plots.append(("Hour of day", _png(figure)))
    if not results.per_day.empty:
        figure, axis = plt.subplots(figsize=(7, 3))
        per_day = results.per_day.T
        per_day.index = pd.to_datetime(per_day.index)
        per_day.sum(axis=1).sort_index().plot(ax=axis, marker=".")
        axis.set_ylabel("interviews per day")
        axis.set_xlabel("")
        plots.append(("Interviews per day", _png(figure)))
    return plots


def dashboard_html(results, title: str = "Fieldwork checks") -> str:
    """The dashboard as one self-contained HTML page.

    Examples
    --------
    >>> "viewport" in dashboard_html(results)  # doctest: +SKIP
    True
    """
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Summary (total and new since the last run)</h2>", _table(results.summary, 60),
    ]
    ranking = results.ranking.drop(columns=["distance_z", "duration_z", "straightlining_z"])
    parts += ["<h2>Enumerators to check first</h2>",
              "<p class='note'>composite = mean of the z-scores of the Jensen-Shannon distance "
              "of answers from peers, of minus the mean duration and of the straight-lining "
              "share.</p>", _table(ranking)]
    progress = results.progress[results.progress["level"].isin(["all", "township",
                                                                  "enumerator"])]
    parts += ["<h2>Progress</h2>", _table(progress, 80)]
    parts += ["<h2>Enumerator dashboard</h2>", _table(results.enumerators)]
    for heading, image in _plots(results):
        parts += [f"<h2>{html.escape(heading)}</h2>", image]
    if not results.duplicates.empty:
        parts += ["<h2>Duplicated ids</h2>", _table(results.duplicates)]
    if results.backcheck is not None:
        parts += ["<h2>Back-check discrepancies by enumerator</h2>",
                  _table(results.backcheck.by_enumerator),
                  "<h2>Back-check tests</h2>", _table(results.backcheck.tests),
                  "<h2>Reliability ratios</h2>", _table(results.backcheck.reliability)]
    if not results.versions.empty:
        parts += ["<h2>Form versions</h2>", _table(results.versions)]
    if results.notes:
        parts += ["<h2>Checks not run</h2><ul>"]
        parts += [f"<li>{html.escape(note)}</li>" for note in results.notes]
        parts += ["</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_dashboard(results, path: str | Path, title: str = "Fieldwork checks") -> Path:
    """Write the HTML dashboard (atomic).

    Parameters
    ----------
    results
        A :class:`~doorstep.checks.CheckResults`.
    path
        The ``.html`` file to write.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> write_dashboard(results, "checks/dashboard.html").name  # doctest: +SKIP
    'dashboard.html'
    """
    return _write_atomic(Path(path), dashboard_html(results, title).encode("utf-8"))


def write_flag_lists(results, folder: str | Path, formats=("csv", "xlsx"),
                     only_new: bool = False) -> dict[str, list[Path]]:
    """Write one flag list per supervisor, in the configured language.

    Parameters
    ----------
    results
        A :class:`~doorstep.checks.CheckResults`.
    folder
        Where ``flags_<supervisor>.csv`` and ``.xlsx`` go.
    formats
        Any of ``"csv"`` (UTF-8 with BOM, so that Excel reads Chinese) and ``"xlsx"``.
    only_new
        Write only the issues that are new since the last run.

    Returns
    -------
    dict
        Supervisor -> paths written.

    Examples
    --------
    >>> write_flag_lists(results, "checks/")  # doctest: +SKIP
    {'S1': [PosixPath('checks/flags_S1.csv'), PosixPath('checks/flags_S1.xlsx')]}
    """
    folder = Path(folder)
    flags = results.flags[results.flags["is_new"]] if only_new else results.flags
    supervisor_of = flags["enumerator"].map(lambda e: results.supervisors.get(e, "all"))
    written: dict[str, list[Path]] = {}
    for supervisor in sorted(set(results.supervisors.values()) | set(supervisor_of)):
        table = flag_list(flags[supervisor_of == supervisor], results.language)
        name = _UNSAFE_NAME.sub("_", supervisor)
        paths = []
        if "csv" in formats:
            data = table.to_csv(index=False).encode("utf-8-sig")
            paths.append(_write_atomic(folder / f"flags_{name}.csv", data))
        if "xlsx" in formats:
            buffer = io.BytesIO()
            with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
                table.to_excel(writer, index=False, sheet_name="flags")
                sheet = writer.sheets["flags"]
                for cells in sheet.iter_rows(min_row=2):
                    for cell in cells:
                        if isinstance(cell.value, str):
                            cell.data_type = "s"
            paths.append(_write_atomic(folder / f"flags_{name}.xlsx", buffer.getvalue()))
        written[supervisor] = paths
    return written
