"""Executing the notebook chain: papermill runs, HTML conversion, run directories, manifests.

This sub-package is the only place that knows about papermill, kernels, processes and the file
tree of a run (``reports/<programme>/<run_id>/``). It imports the config loader and nothing of
the estimation code.
"""

from doorstep.run.runner import CHAIN, RunOutcome, find_notebooks_dir, run_design, run_evaluation

__all__ = ["CHAIN", "RunOutcome", "find_notebooks_dir", "run_design", "run_evaluation"]
