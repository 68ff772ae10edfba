"""The words of a report in English and Chinese, and the CJK font for figures.

A report is wholly in one language: every heading, sentence, table header and figure label a
notebook shows comes from :data:`TEXTS` through :func:`text`; outcome labels come from the
config (or the instrument). Chinese figure text is drawn with Noto Sans CJK SC (SIL Open Font
Licence 1.1), shipped on PyPI by the ``mpl-font`` package, so no missing-glyph boxes appear on
machines without Chinese fonts.
"""

from __future__ import annotations

import importlib.resources
import re
from functools import cache

from doorstep.errors import ConfigError

LANGUAGES = ("en", "zh")
CJK_FONT_FAMILY = "Noto Sans CJK SC"

TEXTS: dict[str, dict[str, str]] = {
    # notebook headings and introductions
    "fieldwork_title": {"en": "01 · Fieldwork checks", "zh": "01 · 实地调查质量检查"},
    "fieldwork_intro": {
        "en": "The checks a field supervisor reads every evening: progress, duplicates, "
              "interviews too short, answers skip logic should have hidden, outliers, "
              "straight-lining, and the enumerators whose answers differ most from their "
              "peers'. The dashboard and one flag list per supervisor are written beside this "
              "notebook; a filled-in resolution column is read back by the cleaning.",
        "zh": "督导每晚查看的检查：进度、重复、用时过短、应跳过却作答、异常值、答案雷同，"
              "以及回答分布与同事差异最大的调查员。检查面板和每位督导的问题清单与本笔记本一同输出；"
              "督导填写的处理意见会在清洗时读回。"},
    "enumerator_ranking": {"en": "Enumerators whose answers differ most from their peers'",
                           "zh": "回答分布与同事差异最大的调查员"},
    "appendix_fieldwork": {"en": "Fieldwork checks notebook", "zh": "实地调查质量检查笔记本"},
    "appendix_dashboard": {"en": "Fieldwork dashboard", "zh": "实地调查检查面板"},
    "clean_title": {"en": "01 · Clean", "zh": "01 · 数据清洗"},
    "clean_intro": {
        "en": "Every round's export is read as the field team handed it over, mapped onto the "
              "instrument and cleaned with a logged rule for every changed cell; the measures "
              "are scored and the study design attached. Raw files are never modified.",
        "zh": "按实地团队交付的原样读取每一轮导出文件，对照问卷映射变量，"
              "逐条规则清洗并记录每一处改动；随后计算量表得分并附上研究设计信息。原始文件从不修改。"},
    "sources": {"en": "Sources", "zh": "数据来源"},
    "sources_intro": {
        "en": "One row per export: the platform and encoding detected, rows read, and how well "
              "the file fits the instrument.",
        "zh": "每个导出文件一行：识别出的平台与编码、读取行数，以及与问卷的匹配情况。"},
    "cleaning": {"en": "Cleaning", "zh": "清洗"},
    "cleaning_intro": {
        "en": "Rows in = rows kept + rows dropped; every dropped row has a reason and every "
              "changed cell a log entry.",
        "zh": "读入行数 = 保留行数 + 删除行数；每一行删除都有原因，每一处改动都有记录。"},
    "analysis_data": {"en": "Analysis data", "zh": "分析数据"},
    "analysis_intro": {
        "en": "Scored outcomes with the design's treatment columns; summaries over all rounds.",
        "zh": "计算得分后的结果变量及处理变量；各轮汇总统计。"},
    "balance_title": {"en": "02 · Balance and attrition", "zh": "02 · 基线平衡与样本流失"},
    "balance_intro": {
        "en": "Are the arms alike at baseline, and who was lost between rounds? Differences are "
              "treated minus comparison, with standard errors clustered by village.",
        "zh": "各组在基线时是否可比？各轮之间流失了哪些样本？"
              "差异为干预组减对照组，标准误按村聚类。"},
    "joint_test": {
        "en": "Joint test that baseline variables do not predict treatment: F = {f:.2f}, "
              "p = {p:.3f}",
        "zh": "基线变量能否联合预测干预分配的检验：F = {f:.2f}，p = {p:.3f}"},
    "attrition": {"en": "Attrition", "zh": "样本流失"},
    "attrition_intro": {
        "en": "Units surveyed in each round by arm (cells of fewer than {n} people are "
              "suppressed).",
        "zh": "各组各轮完成调查的样本数（少于 {n} 人的单元格不予显示）。"},
    "impact_title": {"en": "03 · Impact", "zh": "03 · 影响评估"},
    "impact_intro": {
        "en": "Effects of the programme on every outcome, with the estimator its design calls "
              "for: staggered difference-in-differences (Callaway and Sant'Anna) for a phased "
              "roll-out; ITT (ANCOVA) and LATE (2SLS) for a lottery with imperfect take-up. "
              "Standard errors are clustered by village.",
        "zh": "项目对各结果变量的影响，按研究设计选用估计方法：分批推广采用交错双重差分"
              "（Callaway 与 Sant'Anna）；抽签分配且参与不完全时采用意向处理效应（ANCOVA）"
              "与局部平均处理效应（两阶段最小二乘）。标准误按村聚类。"},
    "event_study": {"en": "Event study and pre-trends", "zh": "事件研究与事前趋势"},
    "event_study_intro": {
        "en": "Effects by rounds since the programme started (negative = before it started), "
              "and a joint test that all pre-period effects are zero.",
        "zh": "按项目开始后的轮次展示效应（负数表示项目开始之前），并联合检验事前效应是否均为零。"},
    "no_event_study": {"en": "No event study: this design has one follow-up round.",
                       "zh": "本设计只有一轮追踪调查，不做事件研究。"},
    "report_title": {"en": "Impact report", "zh": "影响评估报告"},
    "summary": {"en": "Summary", "zh": "主要发现"},
    "effects": {"en": "Effects on every outcome", "zh": "各结果变量的效应"},
    "effects_intro": {
        "en": "Each estimate with its 95% confidence interval; on simulated data, beside the "
              "true effect the simulator planted.",
        "zh": "各项估计值及其 95% 置信区间；模拟数据下同时列出模拟设定的真实效应。"},
    "data_cleaning": {"en": "Data and cleaning", "zh": "数据与清洗"},
    "reliability": {"en": "Reliability of the scales", "zh": "量表信度"},
    "reliability_intro": {
        "en": "Cronbach's alpha and McDonald's omega of each scale and subscale, by round "
              "(0.7 or more is usually read as acceptable).",
        "zh": "各量表及分量表逐轮的 Cronbach's α 与 McDonald's ω（通常 0.7 及以上视为可接受）。"},
    "appendices": {"en": "Appendices", "zh": "附录"},
    # table headers and cells
    "outcome": {"en": "Outcome", "zh": "结果变量"},
    "estimand": {"en": "Estimand", "zh": "估计对象"},
    "estimate_ci": {"en": "Estimate [95% CI]", "zh": "估计值 [95% 置信区间]"},
    "p_value": {"en": "p-value", "zh": "p 值"},
    "n": {"en": "N", "zh": "样本量"},
    "clusters": {"en": "Clusters", "zh": "聚类数"},
    "true_effect": {"en": "True effect", "zh": "真实效应"},
    "covers": {"en": "CI covers truth", "zh": "区间覆盖真值"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "rule": {"en": "rule", "zh": "规则"},
    "cells_changed": {"en": "cells changed", "zh": "修改单元格数"},
    "rows_dropped": {"en": "rows dropped", "zh": "删除行数"},
    "flags": {"en": "flags for review", "zh": "待核查标记"},
    "rows_read": {"en": "rows read", "zh": "读入行数"},
    "rows_kept": {"en": "rows kept", "zh": "保留行数"},
    "interviews": {"en": "interviews", "zh": "访谈数"},
    "enumerator": {"en": "enumerator", "zh": "调查员"},
    "changes_per_interview": {"en": "changes per interview", "zh": "每份访谈修改数"},
    "cleaning_by_variable": {"en": "Changes and flags by variable",
                             "zh": "按变量统计的修改与标记"},
    "cleaning_by_enumerator": {"en": "Changes, flags and dropped rows by enumerator",
                               "zh": "按调查员统计的修改、标记与删除"},
    # estimands
    "att_simple_short": {"en": "ATT", "zh": "ATT"},
    "itt_short": {"en": "ITT", "zh": "ITT"},
    "late_short": {"en": "LATE", "zh": "LATE"},
    "att_observational_short": {"en": "ATT, observational", "zh": "ATT（观察性比较）"},
    "att_simple_words": {
        "en": "average effect on the treated, over all rounds after the programme started",
        "zh": "项目开始后各轮对受益者的平均效应"},
    "itt_words": {"en": "effect of being offered a place (intention to treat)",
                  "zh": "获得名额的效应（意向处理效应）"},
    "late_words": {"en": "effect on women who took part because they won a place (LATE)",
                   "zh": "因中签而参加者的效应（局部平均处理效应）"},
    "att_observational_words": {"en": "effect on participants, observational comparison",
                                "zh": "对参与者的效应（观察性比较）"},
    # sentences
    "summary_line": {
        "en": "**{outcome}**, {words}: {estimate} (95% CI {low} to {high}; p {p})",
        "zh": "**{outcome}**，{words}：{estimate}（95% 置信区间 {low} 至 {high}；p {p}）"},
    "truth_inside": {"en": "; the simulated true effect is {truth}, inside the interval",
                     "zh": "；模拟真实效应为 {truth}，落在区间之内"},
    "truth_outside": {"en": "; the simulated true effect is {truth}, outside the interval",
                      "zh": "；模拟真实效应为 {truth}，落在区间之外"},
    # figures
    "legend_estimate": {"en": "estimate, 95% CI", "zh": "估计值及 95% 置信区间"},
    "legend_truth": {"en": "true effect", "zh": "真实效应"},
    "rounds_since_start": {"en": "rounds since the programme started",
                           "zh": "项目开始后的轮次"},
    # appendices
    "appendix_clean": {"en": "Cleaning notebook", "zh": "清洗笔记本"},
    "appendix_balance": {"en": "Balance and attrition notebook", "zh": "平衡与流失笔记本"},
    "appendix_impact": {"en": "Impact notebook", "zh": "影响评估笔记本"},
    "appendix_estimates": {"en": "All estimates (tidy CSV)", "zh": "全部估计结果（CSV）"},
    "appendix_log": {"en": "Cell-level cleaning log", "zh": "逐单元格清洗记录"},
    "appendix_dropped": {"en": "Dropped rows with reasons", "zh": "删除的行及原因"},
    "appendix_codebook": {"en": "Codebook of the instrument (CSV)", "zh": "问卷变量手册（CSV）"},
    "appendix_codebook_xlsx": {"en": "Codebook of the instrument (Excel)",
                               "zh": "问卷变量手册（Excel）"},
    "appendix_clean_codebook": {"en": "Codebook of the clean data",
                                "zh": "清洗后数据的变量手册"},
    "codebook_title": {"en": "Codebook of the instrument", "zh": "问卷变量手册"},
    "codebook_name": {"en": "name", "zh": "变量名"},
    "codebook_label": {"en": "label", "zh": "题目"},
    "codebook_type": {"en": "type", "zh": "题型"},
    "codebook_values": {"en": "values", "zh": "选项"},
    "codebook_relevant": {"en": "relevant", "zh": "显示条件"},
    "codebook_personal": {"en": "personal", "zh": "个人信息"},
    "appendix_manifest": {"en": "Run manifest (inputs' checksums, versions, timings)",
                          "zh": "运行清单（输入文件校验值、软件版本、耗时）"},
    "appendix_docx": {"en": "Report as a Word document", "zh": "Word 版报告"},
    "appendix_etable_xlsx": {"en": "Effect tables, all outcomes and estimators (Excel)",
                             "zh": "全部结果与估计方法的效应表（Excel）"},
    "appendix_etable_tex": {"en": "Effect tables (LaTeX)", "zh": "效应表（LaTeX）"},
    "appendix_etable_csv": {"en": "Effect tables (CSV)", "zh": "效应表（CSV）"},
    "appendix_inference": {"en": "Inference: wild bootstrap, Romano-Wolf, sharpened q (CSV)",
                           "zh": "统计推断：野自助法、Romano-Wolf、锐化 q 值（CSV）"},
    "appendix_balance_xlsx": {"en": "Balance table (Excel)", "zh": "基线平衡表（Excel）"},
    "appendix_flow": {"en": "Sample flow from assignment to analysis (CSV)",
                      "zh": "样本流向：从分组到分析（CSV）"},
    "appendix_subgroups": {"en": "Subgroup effects (CSV)", "zh": "分组效应（CSV）"},
    "appendix_dose": {"en": "Effects by dose (CSV)", "zh": "按参与强度的效应（CSV）"},
    "appendix_costs": {"en": "Cost-effectiveness (CSV)", "zh": "成本效益（CSV）"},
    "not_configured": {"en": "Not part of this evaluation's configuration (`{section}`).",
                       "zh": "本评估的配置中未设置此项（`{section}`）。"},
    # --- inference in the report (helper inference-in-report): effect table p-values ---
    "inference_p_cluster": {"en": "p, cluster-robust", "zh": "p 值（聚类稳健）"},
    "inference_p_wild": {"en": "p, wild bootstrap", "zh": "p 值（野自助法）"},
    "inference_p_romano_wolf": {"en": "p, Romano-Wolf", "zh": "p 值（Romano-Wolf）"},
    "inference_q_sharpened": {"en": "q, sharpened", "zh": "q 值（锐化）"},
    "wild_cluster_level_caution": {
        "en": "Caution: the treatment does not vary within villages and there are fewer than 12 "
              "villages, so the wild bootstrap p-value can be too small (Canay, Santos and "
              "Shaikh 2021); randomization inference over the villages is exact for a "
              "cluster-randomised design (inference.csv, column caution).",
        "zh": "注意：处理在村内不变且村数少于 12 个，野自助法 p 值可能偏小（Canay、Santos 与 "
              "Shaikh 2021）；对按村随机分配的设计，按村的随机化推断是精确的（见 inference.csv 的 "
              "caution 列）。"},
    "inference_note": {
        "en": "p, cluster-robust: analytic, clustered by village. p, wild bootstrap: wild "
              "cluster bootstrap with the null imposed ({reps} draws; for the staggered ATT, the "
              "multiplier bootstrap of the influence functions, one weight per village). "
              "p, Romano-Wolf: adjusted for testing every outcome of the family (family-wise "
              "error; the family indices are adjusted together). q, sharpened: Anderson's "
              "(2008) false-discovery-rate q-value within the family. The LATE and the "
              "observational ATT keep the cluster-robust p-value only. An index is Anderson's "
              "inverse-covariance-weighted average of the family's outcomes, each signed so "
              "that higher is better, in standard deviations of the control group at baseline.",
        "zh": "p 值（聚类稳健）：解析标准误，按村聚类。p 值（野自助法）：施加原假设的野聚类自助法"
              "（{reps} 次抽样；交错推广的 ATT 用影响函数的乘数自助法，每村一个权重）。"
              "p 值（Romano-Wolf）：对同一结果变量族内全部检验做族错误率校正"
              "（各族综合指数合为一族校正）。"
              "q 值（锐化）：族内 Anderson（2008）锐化错误发现率 q 值。"
              "LATE 与观察性 ATT 只报告聚类稳健 p 值。"
              "综合指数为族内各结果变量（统一方向，越高越好）的逆协方差加权平均（Anderson 2008），"
              "单位为对照组基线标准差。"},
    # --- end inference in the report ---
    # arms
    "arm_starts": {"en": "starts round {round}", "zh": "第 {round} 轮开始"},
    "arm_never": {"en": "never in window", "zh": "观察期内未推广"},
    "arm_open": {"en": "open village", "zh": "自愿参加村"},
    "arm_won": {"en": "lottery won", "zh": "中签"},
    "arm_lost": {"en": "lottery lost", "zh": "未中签"},
    "arm_not_applied": {"en": "did not apply", "zh": "未申请"},
    # --- report tables (helper report-tables): etable, balance, sample flow, coefficients ---
    "etable_title": {"en": "Effects on every outcome, side by side",
                     "zh": "各结果变量的效应（并列对比）"},
    "etable_statistic": {"en": "statistic", "zh": "统计量"},
    "etable_estimate_se": {"en": "estimate (SE)", "zh": "估计值（标准误）"},
    "etable_p_value": {"en": "p-value", "zh": "p 值"},
    "etable_p_wild": {"en": "p, wild cluster bootstrap", "zh": "p 值（野聚类自助法）"},
    "etable_p_romano_wolf": {"en": "p, Romano-Wolf", "zh": "p 值（Romano-Wolf 多重检验校正）"},
    "etable_q_sharpened": {"en": "q, sharpened FDR", "zh": "q 值（锐化 FDR）"},
    "etable_family": {"en": "outcome family", "zh": "结果变量族"},
    "etable_n_obs": {"en": "N", "zh": "样本量"},
    "etable_n_clusters": {"en": "clusters", "zh": "聚类数"},
    "etable_note": {"en": "Standard errors in parentheses. {stars}.",
                    "zh": "括号内为标准误。{stars}。"},
    "etable_intro": {
        "en": "Every outcome (rows) under every estimator (columns); the table is also written "
              "as effects.html, effects.csv, effects.xlsx and effects.tex.",
        "zh": "各结果变量（行）在各估计方法（列）下的结果；同时输出为 effects.html、effects.csv、"
              "effects.xlsx 与 effects.tex。"},
    "balance_table_title": {"en": "Baseline balance", "zh": "基线平衡"},
    "balance_variable": {"en": "variable", "zh": "变量"},
    "balance_baseline_label": {"en": "{label} (baseline)", "zh": "{label}（基线）"},
    "balance_mean": {"en": "mean, {arm}", "zh": "均值（{arm}）"},
    "balance_n": {"en": "N, {arm}", "zh": "样本量（{arm}）"},
    "balance_difference": {"en": "difference {arm} − {control} (SE)",
                           "zh": "差异：{arm} − {control}（标准误）"},
    "balance_p_value": {"en": "p-value", "zh": "p 值"},
    "balance_normalised": {"en": "normalised difference", "zh": "标准化差异"},
    "balance_note": {
        "en": "{tests}. Standard errors in parentheses. {stars}. The normalised difference is "
              "the difference over the pooled standard deviation; beyond ±0.25 is usually read "
              "as a worrying imbalance.",
        "zh": "{tests}。括号内为标准误。{stars}。标准化差异为差异除以合并标准差，"
              "绝对值超过 0.25 通常视为明显不平衡。"},
    "arm_ever": {"en": "programme in window", "zh": "观察期内推广"},
    "arm_all": {"en": "all arms", "zh": "全部"},
    "flow_title": {"en": "Sample flow", "zh": "样本流程"},
    "flow_intro": {
        "en": "From assignment to analysis, by arm: who was surveyed in each round and who was "
              "lost since baseline (cells of fewer than {n} people are suppressed).",
        "zh": "从分配到分析的样本流程（分组）：各轮完成调查的人数与自基线以来流失的人数"
              "（少于 {n} 人的单元格不予显示）。"},
    "flow_step": {"en": "step", "zh": "步骤"},
    "flow_note": {"en": "note", "zh": "说明"},
    "flow_units": {"en": "people", "zh": "人数"},
    "flow_clusters": {"en": "villages", "zh": "村数"},
    "flow_assigned": {"en": "assigned", "zh": "分配"},
    "flow_records_read": {"en": "records read", "zh": "读入记录"},
    "flow_records_dropped": {"en": "records dropped", "zh": "删除记录"},
    "flow_records_kept": {"en": "records kept", "zh": "保留记录"},
    "flow_surveyed": {"en": "surveyed", "zh": "完成调查"},
    "flow_lost": {"en": "lost since baseline", "zh": "自基线流失"},
    "flow_joined": {"en": "not surveyed at baseline", "zh": "基线未调查"},
    "flow_analysed": {"en": "analysed", "zh": "纳入分析"},
    "flow_round": {"en": "round {round}", "zh": "第 {round} 轮"},
    "flow_baseline": {"en": "round {round} (baseline)", "zh": "第 {round} 轮（基线）"},
    "flow_box_counts": {"en": "{units} people, {clusters} villages",
                        "zh": "{units} 人，{clusters} 个村"},
    "flow_box_villages": {"en": "{clusters} villages", "zh": "{clusters} 个村"},
    "flow_records_line": {"en": "Records read: {read}; dropped: {dropped} ({reasons})",
                          "zh": "读入记录 {read} 条；删除 {dropped} 条（{reasons}）"},
    "flow_note_rollout": {"en": "villages in the roll-out record",
                          "zh": "推广计划中的村"},
    "flow_note_listing": {"en": "women listed with their application and lottery result",
                          "zh": "登记名单中的妇女及其申请与抽签结果"},
    "flow_note_analysed_panel": {"en": "panel used by the estimators; per-outcome N in the "
                                       "effects table",
                                 "zh": "估计所用面板；各结果变量的样本量见效应表"},
    "flow_note_analysed_endline": {"en": "surveyed at endline; per-outcome N in the effects "
                                         "table",
                                   "zh": "终期完成调查者；各结果变量的样本量见效应表"},
    "coefficient_title": {"en": "Effects in standard deviations of the comparison group",
                          "zh": "以对照组标准差计的效应"},
    "coefficient_intro": {
        "en": "Each effect and its 95% confidence interval divided by the outcome's standard "
              "deviation in the comparison group at baseline, so that outcomes in different "
              "units can be compared.",
        "zh": "各效应及其 95% 置信区间除以该结果变量在基线时对照组的标准差，"
              "使不同单位的结果变量可以相互比较。"},
    "coefficient_axis": {"en": "effect (comparison-group standard deviations)",
                         "zh": "效应（对照组标准差）"},
    "control_sd": {"en": "SD, comparison group at baseline", "zh": "对照组基线标准差"},
    # --- end of report tables block ---
    # --- subgroups, dose and cost (report.forest, report.cost) ---
    "subgroups_title": {"en": "Effects by subgroup", "zh": "分组效应"},
    "subgroups_intro": {
        "en": "Headline effects within groups defined by baseline characteristics, with the "
              "design's estimator in each group, 95% intervals and a test that the effects are "
              "equal across the groups of each characteristic.",
        "zh": "按基线特征分组的主要效应：各组采用与总体相同的估计方法，给出 95% 置信区间，"
              "并检验同一特征各组之间效应是否相等。"},
    "subgroup_overall": {"en": "All", "zh": "全部"},
    "subgroup_equal_p": {"en": "equal effects: p {p}", "zh": "效应相等检验：p {p}"},
    "dose_title": {"en": "Effects by dose", "zh": "按参与强度分组的效应"},
    "dose_caption": {
        "en": "Descriptive, not causal: the dose was chosen, not randomised, so groups with "
              "more visits or sessions differ in other ways too. Each band is compared with the "
              "design's comparison group; bars are 95% intervals.",
        "zh": "仅为描述性结果，不代表因果关系：参与强度由当事人选择而非随机分配，"
              "次数多的组在其他方面也可能不同。"
              "每一组均与研究设计中的对照组比较；竖线为 95% 置信区间。"},
    "dose_units": {"en": "n = {n}", "zh": "n = {n}"},
    "cost_title": {"en": "Cost-effectiveness", "zh": "成本效益"},
    "cost_intro": {
        "en": "Cost per participant and per unit of each headline effect (Fieller 95% "
              "intervals; a missing bound means the effect does not differ significantly from "
              "zero). Costs are those given in the evaluation config.",
        "zh": "每位参与者的成本及每单位主要效应的成本（Fieller 法 95% 置信区间；"
              "区间缺失表示效应与零无显著差异）。成本数据取自评估配置文件。"},
    "cost_quantity": {"en": "Quantity", "zh": "指标"},
    "cost_outcome": {"en": "Outcome", "zh": "结果变量"},
    "cost_estimate": {"en": "Estimate", "zh": "估计值"},
    "cost_interval": {"en": "95% CI", "zh": "95% 置信区间"},
    "cost_unit": {"en": "Unit", "zh": "单位"},
    "cost_note": {"en": "Note", "zh": "说明"},
    "cost_per_participant": {"en": "Cost per participant", "zh": "人均成本"},
    "cost_per_unit_effect": {"en": "Cost per unit of improvement", "zh": "每单位改善的成本"},
    "cost_per_sd": {"en": "Cost per SD of improvement", "zh": "每改善一个标准差的成本"},
    "present_value_benefits": {"en": "Present value of income gains",
                               "zh": "收入增益现值"},
    "net_present_value": {"en": "Net present value", "zh": "净现值"},
    "benefit_cost_ratio": {"en": "Benefit-cost ratio", "zh": "收益成本比"},
    "cost_unit_participant": {"en": "{currency} per participant", "zh": "{currency}/人"},
    "cost_unit_effect": {"en": "{currency} per unit", "zh": "{currency}/单位"},
    "cost_unit_sd": {"en": "{currency} per SD", "zh": "{currency}/标准差"},
    "cost_unit_ratio": {"en": "ratio", "zh": "比值"},
    "cost_unbounded": {"en": "unbounded: the effect does not differ significantly from 0",
                       "zh": "无界：效应与零无显著差异"},
    "cost_harmful": {"en": "the effect points the harmful way; no cost per improvement",
                     "zh": "效应方向为不利方向，不计算每单位改善成本"},
    "cost_benefit_basis": {"en": "{periods} x effect a year for {years} years at {rate:.0%}",
                           "zh": "每年 {periods} × 效应，{years} 年，贴现率 {rate:.0%}"},
    # --- end of subgroups, dose and cost block ---
}

# Column names of the kit's tables, for display: exact names, then patterns with a number.
_COLUMNS: dict[str, dict[str, str]] = {
    "variable": {"en": "variable", "zh": "变量"},
    "difference": {"en": "difference", "zh": "差异"},
    "std_error": {"en": "std. error", "zh": "标准误"},
    "p_value": {"en": "p-value", "zh": "p 值"},
    "normalised_difference": {"en": "normalised difference", "zh": "标准化差异"},
    "variance_ratio": {"en": "variance ratio", "zh": "方差比"},
    "arm": {"en": "arm", "zh": "组别"},
    "round": {"en": "round", "zh": "轮次"},
    "file": {"en": "file", "zh": "文件"},
    "platform": {"en": "platform", "zh": "平台"},
    "encoding": {"en": "encoding", "zh": "编码"},
    "rows": {"en": "rows", "zh": "行数"},
    "unknown_columns": {"en": "unknown columns", "zh": "未知列数"},
    "missing_questions": {"en": "questions missing", "zh": "缺少的题目"},
    "outcome": {"en": "outcome", "zh": "结果变量"},
    "estimand": {"en": "estimand", "zh": "估计对象"},
    "estimate": {"en": "estimate", "zh": "估计值"},
    "conf_low": {"en": "95% CI low", "zh": "95% 区间下限"},
    "conf_high": {"en": "95% CI high", "zh": "95% 区间上限"},
    "n_obs": {"en": "N", "zh": "样本量"},
    "n_clusters": {"en": "clusters", "zh": "聚类数"},
    "test": {"en": "test", "zh": "检验"},
    "statistic": {"en": "statistic", "zh": "统计量"},
    "restrictions": {"en": "restrictions", "zh": "约束个数"},
    "scale": {"en": "scale", "zh": "量表"},
    "n_items": {"en": "items", "zh": "题目数"},
    "cronbach_alpha": {"en": "Cronbach's alpha", "zh": "Cronbach's α"},
    "omega_total": {"en": "McDonald's omega", "zh": "McDonald's ω"},
    "count": {"en": "count", "zh": "个数"},
    "mean": {"en": "mean", "zh": "均值"},
    "std": {"en": "sd", "zh": "标准差"},
    "min": {"en": "min", "zh": "最小值"},
    "max": {"en": "max", "zh": "最大值"},
    # inference in the report (helper inference-in-report)
    "family": {"en": "family", "zh": "结果变量族"},
    "p_wild": {"en": "p, wild bootstrap", "zh": "p 值（野自助法）"},
    "p_romano_wolf": {"en": "p, Romano-Wolf", "zh": "p 值（Romano-Wolf）"},
    "q_sharpened": {"en": "q, sharpened", "zh": "q 值（锐化）"},
}
_NUMBERED: tuple[tuple[str, dict[str, str]], ...] = (
    (r"^mean_(\w+)$", {"en": "mean ({0})", "zh": "均值（{0}）"}),
    (r"^sd_(\w+)$", {"en": "sd ({0})", "zh": "标准差（{0}）"}),
    (r"^n_round(\d+)$", {"en": "n, round {0}", "zh": "第 {0} 轮样本数"}),
    (r"^share_round(\d+)$", {"en": "share, round {0}", "zh": "第 {0} 轮保留比例"}),
    (r"^n_(\w+)$", {"en": "n ({0})", "zh": "样本数（{0}）"}),
)


def column_label(name: object, language: str) -> object:
    """A table column's display name in ``language`` (unknown names are kept).

    Examples
    --------
    >>> column_label("share_round3", "zh"), column_label("mean_1", "en")
    ('第 3 轮保留比例', 'mean (1)')
    """
    if not isinstance(name, str):
        return name
    if name in _COLUMNS:
        return _COLUMNS[name][language]
    for pattern, templates in _NUMBERED:
        match = re.match(pattern, name)
        if match:
            return templates[language].format(match.group(1))
    return name


def localise(frame, language: str, labels: dict[str, str] | None = None):
    """A copy of ``frame`` for display: columns named in ``language``; ``variable`` and
    ``outcome`` cells (and the index) replaced by their labels when given.

    Examples
    --------
    >>> import pandas as pd
    >>> shown = localise(pd.DataFrame({"variable": ["y"], "p_value": [0.5]}), "zh", {"y": "收入"})
    >>> list(shown.columns), shown.iloc[0, 0]
    (['变量', 'p 值'], '收入')
    """
    check_language(language)
    labels = labels or {}
    out = frame.copy()
    for column in ("variable", "outcome"):
        if column in out.columns:
            out[column] = out[column].map(lambda value: labels.get(value, value))
    out.index = out.index.map(lambda value: labels.get(value, value))
    return out.rename(columns=lambda name: column_label(name, language))


def check_language(language: str) -> str:
    """Return ``language`` if supported, else raise a ConfigError listing the choices."""
    if language not in LANGUAGES:
        raise ConfigError(f"language: expected one of {list(LANGUAGES)}, found {language!r}")
    return language


def text(key: str, language: str, **values: object) -> str:
    """The text ``key`` in ``language``, formatted with ``values``.

    Examples
    --------
    >>> text("attrition_intro", "en", n=5)
    'Units surveyed in each round by arm (cells of fewer than 5 people are suppressed).'
    >>> text("yes", "zh")
    '是'
    """
    check_language(language)
    try:
        template = TEXTS[key][language]
    except KeyError as error:
        raise KeyError(f"no report text {key!r} in {language!r}") from error
    return template.format(**values) if values else template


@cache
def cjk_font_path() -> str:
    """The path of the shipped Noto Sans CJK SC font file."""
    font = importlib.resources.files("mpl_font") / "fonts" / "noto" / "NotoSansCJKsc-Regular.otf"
    return str(font)


def use_language_fonts(language: str) -> None:
    """Make matplotlib draw text in a font that has the glyphs of ``language``.

    For Chinese the shipped Noto Sans CJK SC comes first and DejaVu Sans is the fallback;
    English keeps matplotlib's defaults.

    Examples
    --------
    >>> use_language_fonts("zh")
    >>> import matplotlib
    >>> matplotlib.rcParams["font.sans-serif"][0]
    'Noto Sans CJK SC'
    """
    import matplotlib
    from matplotlib import font_manager

    check_language(language)
    if language == "zh":
        if CJK_FONT_FAMILY not in {font.name for font in font_manager.fontManager.ttflist}:
            font_manager.fontManager.addfont(cjk_font_path())
        families = list(matplotlib.rcParams["font.sans-serif"])
        matplotlib.rcParams["font.sans-serif"] = [CJK_FONT_FAMILY] + [
            family for family in families if family != CJK_FONT_FAMILY]
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["axes.unicode_minus"] = False
