"""Study design: power, sampling, random assignment, cost-effectiveness, assignment records.

This sub-package owns the design of an evaluation before data comes in -- power and minimum
detectable effects (closed form, and by simulation through functions passed in), stratified and
PPS sampling with inclusion probabilities and weights, stratified/clustered random assignment
with re-randomisation and a record that reproduces it, cost-effectiveness -- and the records of
assignment afterwards (a staggered roll-out schedule, a lottery among applicants, take-up)
turned into the treatment columns estimators need. ``design_tables`` gives every table of the
``00_design`` notebook. It must not import ``estimate``, ``report`` or ``run``; power by
simulation receives the simulator and the estimator as arguments.
"""

from doorstep.design.assignment import lottery_sample, staggered_panel
from doorstep.design.cost import annuity_factor, cost_effectiveness, ratio_interval
from doorstep.design.power import (
    PowerCalculation,
    SimulatedPower,
    design_effect,
    minimum_detectable_effect,
    power_analysis,
    simulated_power,
)
from doorstep.design.randomise import (
    Assignment,
    AssignmentProcedure,
    assign_treatment,
    balance_statistic,
    read_procedure,
    reassign,
    write_assignment,
)
from doorstep.design.sampling import (
    inclusion_probabilities,
    select_households,
    select_villages,
    write_sample,
)
from doorstep.design.spec import DesignSpec, load_design
from doorstep.design.tables import DEFAULT_PARAMETERS, design_parameters, design_tables

__all__ = [
    "DEFAULT_PARAMETERS",
    "Assignment",
    "AssignmentProcedure",
    "DesignSpec",
    "PowerCalculation",
    "SimulatedPower",
    "annuity_factor",
    "assign_treatment",
    "balance_statistic",
    "cost_effectiveness",
    "design_effect",
    "design_parameters",
    "design_tables",
    "inclusion_probabilities",
    "load_design",
    "lottery_sample",
    "minimum_detectable_effect",
    "power_analysis",
    "ratio_interval",
    "read_procedure",
    "reassign",
    "select_households",
    "select_villages",
    "simulated_power",
    "staggered_panel",
    "write_assignment",
    "write_sample",
]
