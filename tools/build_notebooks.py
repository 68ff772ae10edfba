"""Write the notebook chain's cells (sources only); `make notebooks` then executes them in place.

The notebooks are the face of the kit and are committed with their demo outputs; this script is
the single place their cells are written, so that a change to a cell is a reviewed diff here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PARAMETERS = '''config_path = "../surveys/caring_mothers/evaluation.yaml"
run_dir = "../reports/caring_mothers/interactive"
seed = 20240301'''
SETUP = '''%matplotlib inline
import pandas as pd
from IPython.display import HTML, Markdown, display

from doorstep import report
from doorstep.run import files, stages

pd.set_option("display.max_columns", 30)
pd.set_option("display.width", 120)
config, run = stages.start(config_path, run_dir)
display(Markdown(f"**{config.title.get(config.language, config.programme)}**"))'''


def parameters_cell():
    cell = new_code_cell(PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    return cell


CHAIN = {
    "01_clean": [
        new_markdown_cell(
            "# 01 · Clean\n\nRead every round's export as the field team handed it over, map it "
            "onto the instrument, clean it with a logged rule for every changed cell, score the "
            "measures and attach the study design. Raw files are never modified."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_markdown_cell("## Sources\n\nOne row per export: the platform and encoding "
                          "detected, rows read, and how well the file fits the instrument."),
        new_code_cell("instrument, raw, sources = stages.read_sources(config)\nsources"),
        new_markdown_cell("## Cleaning\n\nRows in = rows kept + rows dropped; every dropped "
                          "row has a reason and every changed cell a log entry."),
        new_code_cell(
            "result = stages.clean_sources(config, raw, instrument)\n"
            "pd.DataFrame({\"rows read\": [len(raw)], \"rows kept\": [len(result.data)],\n"
            "              \"rows dropped\": [len(result.dropped)]})"),
        new_code_cell("result.dropped.groupby(\"drop_rule\").size().rename(\"rows dropped\")"
                      ".to_frame()"),
        new_code_cell("result.log.groupby(\"rule\").size().rename(\"cells changed\").to_frame()"),
        new_code_cell("result.flags.groupby(\"rule\").size().rename(\"flags for review\")"
                      ".to_frame()"),
        new_markdown_cell("## Analysis data\n\nScored outcomes with the design's treatment "
                          "columns; summaries of the outcomes over all rounds."),
        new_code_cell(
            "analysis = stages.build_analysis_data(config, result.data)\n"
            "stages.save_clean_outputs(run, result, analysis, sources)\n"
            "analysis[list(config.outcomes)].describe().T.round(2)"),
    ],
    "02_balance": [
        new_markdown_cell(
            "# 02 · Balance and attrition\n\nAre the arms alike at baseline, and who was lost "
            "between rounds? Differences are treated minus comparison, with standard errors "
            "clustered by village."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_code_cell(
            "analysis = stages.load_analysis(run)\n"
            "clean_data = stages.load_analysis(run, which=\"clean\")\n"
            "balance, attrition = stages.balance_and_attrition(config, clean_data, analysis)\n"
            "files.write_csv(balance.table, run / \"balance.csv\")\n"
            "files.write_csv(attrition, run / \"attrition.csv\")\n"
            "balance.table.round(3)"),
        new_code_cell(
            "display(Markdown(f\"Joint test that baseline variables do not predict treatment: \"\n"
            "                 f\"F = {balance.joint_f:.2f}, p = {balance.joint_p:.3f}\"))"),
        new_markdown_cell("## Attrition\n\nUnits surveyed in each round by arm (cells of fewer "
                          "than the configured minimum number of people are suppressed)."),
        new_code_cell(
            "count_columns = [c for c in attrition.columns if c.startswith(\"n_round\")]\n"
            "report.small_cells_suppressed(attrition, count_columns, config.min_cell_size)"),
    ],
    "03_impact": [
        new_markdown_cell(
            "# 03 · Impact\n\nEffects of the programme on every outcome, with the estimator its "
            "design calls for: staggered difference-in-differences (Callaway and Sant'Anna) for "
            "a phased roll-out; ITT (ANCOVA) and LATE (2SLS) for a lottery with imperfect "
            "take-up. Standard errors are clustered by village."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_code_cell(
            "analysis = stages.load_analysis(run)\n"
            "impact = stages.estimate_effects(config, analysis)\n"
            "files.write_csv(impact.estimates, run / \"estimates.csv\")\n"
            "files.write_csv(impact.headline, run / \"headline.csv\")\n"
            "columns = [\"outcome\", \"estimand\", \"estimate\", \"std_error\", \"p_value\",\n"
            "           \"conf_low\", \"conf_high\", \"n_obs\", \"n_clusters\"]\n"
            "impact.headline[columns].round(3)"),
        new_markdown_cell("## Event study and pre-trends\n\nFor a phased roll-out: effects by "
                          "rounds since the programme started (negative = before it started), "
                          "and a joint test that all pre-period effects are zero."),
        new_code_cell(
            "if len(impact.event_study):\n"
            "    display(report.event_study_figure(impact.event_study, config.outcomes))\n"
            "    display(impact.pre_trend.round(3))\n"
            "else:\n"
            "    display(Markdown(\"No event study: this design has one follow-up round.\"))"),
    ],
    "04_report": [
        new_markdown_cell("# Impact report"),
        parameters_cell(),
        new_code_cell(SETUP),
        new_code_cell(
            "headline = pd.read_csv(run / \"headline.csv\")\n"
            "truth = stages.load_truth(config)\n"
            "comparison = report.compare_with_truth(headline, truth[\"effects\"]) if truth else "
            "headline\n"
            "files.write_csv(comparison, run / \"truth_comparison.csv\")\n"
            "display(Markdown(report.summary_markdown(comparison, config.outcomes, "
            "config.headline)))"),
        new_markdown_cell("## Effects on every outcome\n\nEach estimate with its 95% confidence "
                          "interval; on simulated data, beside the true effect the simulator "
                          "planted."),
        new_code_cell("report.format_effect_table(comparison, config.outcomes)"),
        new_code_cell("report.effect_figure(comparison, config.outcomes)"),
        new_markdown_cell("## Data and cleaning"),
        new_code_cell(
            "sources = pd.read_csv(run / \"sources.csv\")\n"
            "log = pd.read_csv(run / \"cleaning_log.csv\")\n"
            "dropped = pd.read_csv(run / \"dropped.csv\")\n"
            "display(sources.drop(columns=[\"sha256\"]))\n"
            "display(report.cleaning_summary(log, dropped))"),
        new_markdown_cell("## Appendices"),
        new_code_cell("HTML(report.appendix_links())"),
    ],
}


def main() -> None:
    """Write the notebooks' cells, keeping nothing of earlier outputs."""
    for name, cells in CHAIN.items():
        notebook = new_notebook(cells=cells)
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        notebook.metadata["language_info"] = {"name": "python"}
        nbformat.write(notebook, NOTEBOOKS / f"{name}.ipynb")


if __name__ == "__main__":
    main()
