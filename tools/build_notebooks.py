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
from doorstep.report import text
from doorstep.report.i18n import localise
from doorstep import files
from doorstep.run import stages

pd.set_option("display.max_columns", 30)
pd.set_option("display.width", 120)
config, run = stages.start(config_path, run_dir)
language, labels = config.language, config.labels
report.use_language_fonts(language)'''


def parameters_cell():
    cell = new_code_cell(PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    return cell


def heading(level: int, key: str, intro: str | None = None, **values: str) -> str:
    """A code line that shows a heading (and an introduction) in the report's language."""
    hashes = "#" * level
    line = f'display(Markdown("{hashes} " + text("{key}", language)))'
    if intro:
        arguments = "".join(f", {name}={value}" for name, value in values.items())
        line += f'\ndisplay(Markdown(text("{intro}", language{arguments})))'
    return line


def title(key: str, intro: str) -> str:
    """The notebook's title line: heading, programme title, introduction."""
    return (f'display(Markdown("# " + text("{key}", language)))\n'
            'display(Markdown(f"**{config.title_text}**"))\n'
            f'display(Markdown(text("{intro}", language)))')


DESIGN_PARAMETERS = '''design_path = "../surveys/design_demo.yaml"
output_dir = "../reports/design/interactive"
seed = 20240301'''


def design_parameters_cell():
    cell = new_code_cell(DESIGN_PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    return cell


DESIGN = {
    "00_design": [
        new_markdown_cell(
            "# 00 · Design\n\nBefore fieldwork: how many villages and households to visit "
            "to detect the effect that matters, and which villages get the programme first. "
            "Parameters come from the design file; the assignment file and its procedure "
            "record (seed, draw, checksum) are written so randomisation inference can re-run "
            "the draw exactly."),
        design_parameters_cell(),
        new_code_cell(
            "from pathlib import Path\n\n"
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n\n"
            "from doorstep import design\n"
            "from doorstep.io import read_table\n\n"
            "spec = design.load_design(design_path)\n"
            "output = Path(output_dir)\n"
            "output.mkdir(parents=True, exist_ok=True)\n"
            "tables = design.design_tables(spec.power)\n"
            "display(Markdown(f\"**{spec.title}**\"))\n"
            "tables[\"assumptions\"]"),
        new_markdown_cell("## Minimum detectable effect\n\nThe smallest effect the design "
                          "detects with the stated power, on those offered (ITT) and on "
                          "participants (divided by the take-up difference)."),
        new_code_cell("tables[\"mde\"].T"),
        new_code_cell("tables[\"mde_by_clusters_and_icc\"]"),
        new_code_cell("tables[\"mde_by_cluster_size_and_icc\"]"),
        new_markdown_cell("## Villages needed and power"),
        new_code_cell("tables[\"clusters_needed\"]"),
        new_code_cell("tables[\"power_curve\"]"),
        new_markdown_cell("## Cost-effectiveness at the expected effect"),
        new_code_cell("tables.get(\"cost_effectiveness\")"),
        new_markdown_cell("## Assignment\n\nStratified random assignment of the listed "
                          "villages; the file and its procedure record are written beside "
                          "this notebook's output."),
        new_code_cell(
            "listing, _ = read_table(spec.listing)\n"
            "assignment = design.assign_treatment(listing, seed=seed, **spec.assignment)\n"
            "assignment_file, procedure_file = design.write_assignment(\n"
            "    assignment, output / \"assignment.csv\")\n"
            "for name, table in tables.items():\n"
            "    table.to_csv(output / f\"{name}.csv\", index=False)\n"
            "assignment.table.groupby([spec.assignment.get(\"strata\", \"arm\"), \"arm\"])"
            ".size().unstack()"),
    ],
}

CHAIN = {
    "01_fieldwork_checks": [
        new_markdown_cell("Doorstep notebook 01: fieldwork checks, runnable on its own every "
                          "evening during fieldwork."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_code_cell(title("fieldwork_title", "fieldwork_intro")),
        new_code_cell(
            "instrument, raw, sources = stages.read_sources(config)\n"
            "checked = stages.fieldwork_checks(config, instrument, raw)\n"
            "folder = stages.save_fieldwork_outputs(run, checked, config.title_text)\n"
            "checked.summary"),
        new_code_cell(heading(2, "enumerator_ranking")),
        new_code_cell("checked.ranking.head(5).round(2)"),
    ],
    "01_clean": [
        new_markdown_cell("Doorstep notebook 01: read and clean every round. Parameters below; "
                          "the text of the report follows the config's `language`."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_code_cell(title("clean_title", "clean_intro")),
        new_code_cell(heading(2, "sources", "sources_intro")),
        new_code_cell("instrument, raw, sources = stages.read_sources(config)\n"
                      "localise(sources, language)"),
        new_code_cell(heading(2, "cleaning", "cleaning_intro")),
        new_code_cell(
            "result = stages.clean_sources(config, raw, instrument)\n"
            "pd.DataFrame({text(\"rows_read\", language): [len(raw)],\n"
            "              text(\"rows_kept\", language): [len(result.data)],\n"
            "              text(\"rows_dropped\", language): [len(result.dropped)]})"),
        new_code_cell("report.cleaning_summary(result.log, result.dropped, language)"),
        new_code_cell("result.flags.groupby(\"rule\").size().rename(text(\"flags\", language))"
                      ".to_frame()"),
        new_code_cell("counts = stages.cleaning_counts(config, result, raw)\n"
                      + heading(3, "cleaning_by_variable") + "\n"
                      "display(counts[\"variable\"].head(15))\n"
                      "if \"enumerator\" in counts:\n"
                      "    " + heading(3, "cleaning_by_enumerator") + "\n"
                      "    display(counts[\"enumerator\"])"),
        new_code_cell(heading(2, "analysis_data", "analysis_intro")),
        new_code_cell(
            "analysis = stages.build_analysis_data(config, result.data)\n"
            "stages.save_clean_outputs(run, result, analysis, sources, instrument, language)\n"
            "localise(analysis[list(config.outcomes)].describe().T.round(2), language, labels)"),
    ],
    "02_balance": [
        new_markdown_cell("Doorstep notebook 02: baseline balance and attrition."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_code_cell(title("balance_title", "balance_intro")),
        new_code_cell(
            "analysis = stages.load_analysis(run)\n"
            "clean_data = stages.load_analysis(run, which=\"clean\")\n"
            "balance, attrition = stages.balance_and_attrition(config, clean_data, analysis)\n"
            "files.write_csv(balance.table, run / \"balance.csv\")\n"
            "files.write_csv(attrition, run / \"attrition.csv\")\n"
            "localise(balance.table.round(3), language, labels)"),
        new_code_cell("display(Markdown(text(\"joint_test\", language, f=balance.joint_f, "
                      "p=balance.joint_p)))"),
        new_code_cell(heading(2, "attrition", "attrition_intro", n="config.min_cell_size")),
        new_code_cell(
            "count_columns = [c for c in attrition.columns if c.startswith(\"n_round\")]\n"
            "localise(report.small_cells_suppressed(attrition, count_columns, "
            "config.min_cell_size),\n         language)"),
    ],
    "03_impact": [
        new_markdown_cell("Doorstep notebook 03: impact estimates for every outcome and family "
                          "index, their inference, subgroups and dose."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_code_cell(title("impact_title", "impact_intro")),
        new_code_cell(
            "analysis = stages.load_analysis(run)\n"
            "impact = stages.estimate_effects(config, analysis, seed=seed)\n"
            "files.write_csv(impact.estimates, run / \"estimates.csv\")\n"
            "files.write_csv(impact.headline, run / \"headline.csv\")\n"
            "files.write_csv(impact.inference, run / \"inference.csv\")\n"
            "files.write_csv(impact.event_study, run / \"event_study.csv\")\n"
            "files.write_csv(impact.pre_trend, run / \"pre_trend.csv\")\n"
            "columns = [\"outcome\", \"family\", \"estimand\", \"estimate\", \"std_error\", "
            "\"p_value\",\n"
            "           \"p_wild\", \"p_romano_wolf\", \"q_sharpened\", \"conf_low\", "
            "\"conf_high\",\n"
            "           \"n_obs\", \"n_clusters\"]\n"
            "localise(impact.headline[columns].round(3), language, labels)"),
        new_code_cell(heading(2, "event_study", "event_study_intro")),
        new_code_cell(
            "if len(impact.event_study):\n"
            "    display(report.event_study_figure(impact.event_study, labels, language))\n"
            "    display(localise(impact.pre_trend.round(3), language, labels))\n"
            "else:\n"
            "    display(Markdown(text(\"no_event_study\", language)))"),
        new_code_cell(heading(2, "subgroups_title", "subgroups_intro")),
        new_code_cell(
            "subgroups = stages.subgroup_effects(config, analysis, seed=seed)\n"
            "files.write_csv(subgroups, run / \"subgroups.csv\")\n"
            "localise(subgroups.round(3), language, labels)"),
        new_code_cell(heading(2, "dose_title")),
        new_code_cell(
            "dose = stages.dose_response(config, analysis, seed=seed) if config.dose else "
            "pd.DataFrame()\n"
            "files.write_csv(dose, run / \"dose_response.csv\")\n"
            "display(Markdown(\"*\" + text(\"dose_caption\", language) + \"*\" if config.dose "
            "else text(\"not_configured\", language, section=\"dose\")))\n"
            "localise(dose.round(3), language, labels)"),
    ],
    "04_report": [
        new_markdown_cell("Doorstep notebook 04: the report (written as the run's index.html "
                          "and report.docx)."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_code_cell(
            "display(Markdown(\"# \" + text(\"report_title\", language)))\n"
            "display(Markdown(f\"**{config.title_text}**\"))\n"
            "analysis = stages.load_analysis(run)\n"
            "headline = pd.read_csv(run / \"headline.csv\")\n"
            "truth = stages.load_truth(config)\n"
            "comparison = report.compare_with_truth(headline, truth[\"effects\"]) if truth else "
            "headline\n"
            "files.write_csv(comparison, run / \"truth_comparison.csv\")\n"
            "summary = report.summary_markdown(comparison, labels, config.headline, language)\n"
            "display(Markdown(\"## \" + text(\"summary\", language)))\n"
            "display(Markdown(summary))"),
        new_code_cell(heading(2, "flow_title", "flow_intro", n="config.min_cell_size")),
        new_code_cell(
            "flow = stages.sample_flow(config, run)\n"
            "files.write_csv(flow, run / \"sample_flow.csv\")\n"
            "flow_figure = report.flow_figure(flow, language, "
            "min_cell_size=config.min_cell_size)\n"
            "flow_shown = report.flow_table(flow, language, min_cell_size=config.min_cell_size)\n"
            "display(flow_figure)\n"
            "flow_shown"),
        new_code_cell(heading(2, "balance_table_title")),
        new_code_cell(
            "balance, _ = stages.balance_and_attrition(\n"
            "    config, stages.load_analysis(run, which=\"clean\"), analysis)\n"
            "variable_labels = report.variable_labels(run / \"instrument_codebook.csv\", "
            "language, labels)\n"
            "balance_shown = report.format_balance_table(\n"
            "    balance, variable_labels,\n"
            "    language, arm_names=stages.balance_arm_names(config),\n"
            "    min_cell_size=config.min_cell_size)\n"
            "_ = report.write_etable(balance_shown, run / \"balance_table\")\n"
            "display(balance_shown)\n"
            "display(Markdown(balance_shown.attrs[\"note\"]))"),
        new_code_cell(heading(2, "effects", "effects_intro")),
        new_code_cell("effects_table = report.format_effect_table(comparison, labels, "
                      "language=language)\n"
                      "display(effects_table)\n"
                      "display(Markdown(effects_table.attrs.get(\"note\", \"\")))"),
        new_code_cell("effects_figure = report.effect_figure(comparison, labels, "
                      "language=language)\neffects_figure"),
        new_code_cell(heading(2, "etable_title", "etable_intro")),
        new_code_cell(
            "family_labels = {family.name: family.label_in(language)\n"
            "                 for family in config.outcome_families}\n"
            "effects_etable = report.etable(headline, labels, language, "
            "family_labels=family_labels)\n"
            "_ = report.write_etable(effects_etable, run / \"effects\")\n"
            "display(effects_etable)\n"
            "display(Markdown(effects_etable.attrs[\"note\"]))"),
        new_code_cell(heading(2, "coefficient_title", "coefficient_intro")),
        new_code_cell(
            "control_sd = stages.control_standard_deviation(\n"
            "    config, stages.add_family_indices(config, analysis))\n"
            "standardised = report.standardise_effects(headline, control_sd)\n"
            "files.write_csv(standardised, run / \"effects_standardised.csv\")\n"
            "coefficient_figure = report.coefficient_figure(standardised, None, labels, "
            "language)\n"
            "coefficient_figure"),
        new_code_cell(heading(2, "event_study", "event_study_intro")),
        new_code_cell(
            "event_study = stages.load_output(run, \"event_study.csv\")\n"
            "event_figure = None\n"
            "if len(event_study):\n"
            "    event_figure = report.event_study_figure(event_study, labels, language)\n"
            "    display(event_figure)\n"
            "    display(localise(stages.load_output(run, \"pre_trend.csv\").round(3), language,"
            "\n                     labels))\n"
            "else:\n"
            "    display(Markdown(text(\"no_event_study\", language)))"),
        new_code_cell(heading(2, "subgroups_title", "subgroups_intro")),
        new_code_cell(
            "subgroups = stages.load_output(run, \"subgroups.csv\")\n"
            "forest_figure = report.forest_figure(subgroups, labels, language) "
            "if len(subgroups) else None\n"
            "forest_figure"),
        new_code_cell(heading(2, "dose_title")),
        new_code_cell(
            "dose = stages.load_output(run, \"dose_response.csv\")\n"
            "dose_figure = report.dose_response_figure(\n"
            "    dose, labels, language, dose_label=config.dose[\"label\"][language]) "
            "if len(dose) else None\n"
            "display(Markdown(\"*\" + text(\"dose_caption\", language) + \"*\" if config.dose "
            "else text(\"not_configured\", language, section=\"dose\")))\n"
            "dose_figure"),
        new_code_cell(heading(2, "cost_title", "cost_intro")),
        new_code_cell(
            "costs_shown = None\n"
            "costs_note = text(\"not_configured\", language, section=\"costs\")\n"
            "if config.costs:\n"
            "    costs = report.cost_effectiveness_table(config, headline, control_sd)\n"
            "    files.write_csv(costs, run / \"cost_effectiveness.csv\")\n"
            "    costs_note = config.costs[\"note\"][language]\n"
            "    costs_shown = report.format_cost_table(costs, labels, language,\n"
            "                                           config.costs[\"currency\"][language])\n"
            "display(Markdown(costs_note))\n"
            "costs_shown"),
        new_code_cell(heading(2, "reliability", "reliability_intro")),
        new_code_cell(
            "reliability = stages.scale_reliability(stages.load_analysis(run, which=\"clean\"))\n"
            "files.write_csv(reliability, run / \"reliability.csv\")\n"
            "localise(reliability.round(3), language)"),
        new_code_cell(heading(2, "data_cleaning")),
        new_code_cell(
            "sources = pd.read_csv(run / \"sources.csv\")\n"
            "log = pd.read_csv(run / \"cleaning_log.csv\")\n"
            "dropped = pd.read_csv(run / \"dropped.csv\")\n"
            "cleaning = report.cleaning_summary(log, dropped, language)\n"
            "display(localise(sources.drop(columns=[\"sha256\"]), language))\n"
            "display(cleaning)"),
        new_code_cell(
            "_ = report.write_docx(run / \"report.docx\", config.title_text, [\n"
            "    report.Section(text(\"summary\", language), (summary,)),\n"
            "    report.Section(text(\"flow_title\", language), table=flow_shown, "
            "figure=flow_figure),\n"
            "    report.Section(text(\"balance_table_title\", language),\n"
            "                   (balance_shown.attrs[\"note\"],), table=balance_shown),\n"
            "    report.Section(text(\"effects\", language),\n"
            "                   (text(\"effects_intro\", language), "
            "effects_table.attrs.get(\"note\", \"\")),\n"
            "                   table=effects_table, figure=effects_figure),\n"
            "    report.Section(text(\"etable_title\", language), "
            "(effects_etable.attrs[\"note\"],),\n"
            "                   table=effects_etable),\n"
            "    report.Section(text(\"coefficient_title\", language), "
            "figure=coefficient_figure),\n"
            "    report.Section(text(\"event_study\", language), figure=event_figure),\n"
            "    report.Section(text(\"subgroups_title\", language), figure=forest_figure),\n"
            "    report.Section(text(\"dose_title\", language), "
            "(text(\"dose_caption\", language),),\n"
            "                   figure=dose_figure),\n"
            "    report.Section(text(\"cost_title\", language), (costs_note,),\n"
            "                   table=costs_shown),\n"
            "    report.Section(text(\"data_cleaning\", language), table=cleaning),\n"
            "])"),
        new_code_cell(heading(2, "codebook_title")),
        new_code_cell("report.codebook_table(run / \"instrument_codebook.csv\", language)"),
        new_code_cell(heading(2, "appendices")),
        new_code_cell("HTML(report.appendix_links(language))"),
    ],
}


def main() -> None:
    """Write the notebooks' cells, keeping nothing of earlier outputs."""
    for name, cells in {**DESIGN, **CHAIN}.items():
        notebook = new_notebook(cells=cells)
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        notebook.metadata["language_info"] = {"name": "python"}
        nbformat.write(notebook, NOTEBOOKS / f"{name}.ipynb")


if __name__ == "__main__":
    main()
