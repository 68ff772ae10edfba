"""Doorstep: clean door-to-door survey exports and estimate programme impacts.

The package is the engine behind the notebooks in ``notebooks/``. One sub-package per stage of
the flow (see ``DESIGN.md``): ``instrument`` and ``io`` read, ``clean`` cleans with an audit
trail, ``measures`` scores, ``estimate`` estimates, ``report`` draws, ``run`` executes notebooks,
``simulate`` generates the demo surveys and their ground truth.
"""

from doorstep.errors import ConfigError, DataError, DoorstepError, EstimationError, RunError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "DoorstepError",
    "EstimationError",
    "RunError",
    "__version__",
]
