"""Study design: power, sampling, random assignment, cost-effectiveness, assignment records.

This sub-package owns the design of an evaluation before data comes in -- power and minimum
detectable effects (closed form, and by simulation through functions passed in), stratified and
PPS sampling with inclusion probabilities and weights, stratified/clustered random assignment
with re-randomisation and a record that reproduces it, cost-effectiveness -- and the records of
assignment afterwards (a staggered roll-out schedule, a lottery among applicants, take-up)
turned into the treatment columns estimators need. ``design_tables`` gives every table of the
``00_design`` notebook. It must not import ``estimate``, ``report`` or ``run``; power by
simulation receives the simulator and the estimator as arguments.

The public names below are loaded on first use (module ``__getattr__``): the notebooks' runner
stages need only the assignment records, and importing power and cost-effectiveness would load
``scipy.optimize`` and ``scipy.stats`` for nothing. ``from doorstep.design import power_analysis``
works as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from doorstep._lazy import lazy_exports

# public name -> the sub-module that defines it
_EXPORTS = {
    "DEFAULT_PARAMETERS": "tables",
    "Assignment": "randomise",
    "AssignmentProcedure": "randomise",
    "DesignSpec": "spec",
    "PowerCalculation": "power",
    "SimulatedPower": "power",
    "annuity_factor": "cost",
    "assign_treatment": "randomise",
    "balance_statistic": "randomise",
    "cost_effectiveness": "cost",
    "design_effect": "power",
    "design_parameters": "tables",
    "design_tables": "tables",
    "inclusion_probabilities": "sampling",
    "load_design": "spec",
    "lottery_sample": "assignment",
    "minimum_detectable_effect": "power",
    "power_analysis": "power",
    "ratio_interval": "cost",
    "read_procedure": "randomise",
    "reassign": "randomise",
    "select_households": "sampling",
    "select_villages": "sampling",
    "simulated_power": "power",
    "staggered_panel": "assignment",
    "write_assignment": "randomise",
    "write_sample": "sampling",
}

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

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
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


__getattr__, __dir__ = lazy_exports("doorstep.design", _EXPORTS, globals())
