"""Simulated door-to-door surveys with known truth: ``doorstep.simulate``.

This sub-package owns the two demo programmes (``caring_mothers``: caregiver pairing with a
staggered roll-out; ``skills_workshops``: a lottery with imperfect take-up plus an observational
comparison), their XLSForm instruments, the raw exports written the way field teams receive them
(Kobo CSV, Wenjuanxing Excel, GBK CSV), every planted field problem and the true effects. It must
not import ``doorstep.io``, ``clean``, ``estimate`` or ``report``: the simulator is the
independent ground truth those modules are tested against.

Examples
--------
>>> import tempfile
>>> from doorstep.simulate import simulate
>>> result = simulate("caring_mothers", tempfile.mkdtemp(), seed=1, scale=0.2)
>>> result.files["round1"].name
'round1_kobo.csv'
"""

from doorstep.simulate.core import SimulationResult, simulate, simulate_frames
from doorstep.simulate.instruments import PROGRAMMES, instrument_definition, write_instrument
from doorstep.simulate.rates import default_rates

__all__ = [
    "PROGRAMMES",
    "SimulationResult",
    "default_rates",
    "instrument_definition",
    "simulate",
    "simulate_frames",
    "write_instrument",
]
