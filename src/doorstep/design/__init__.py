"""Study design: how units were assigned to the programme, attached to the survey data.

This sub-package owns the records of assignment (a staggered roll-out schedule, a lottery among
applicants, take-up) and turns them into the treatment columns estimators need. Power,
sampling and random assignment come here in a later issue. It must not import ``estimate``,
``report`` or ``run``.
"""

from doorstep.design.assignment import lottery_sample, staggered_panel

__all__ = ["lottery_sample", "staggered_panel"]
