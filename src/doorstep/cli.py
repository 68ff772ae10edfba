"""The ``doorstep`` command: ``demo``, ``simulate``, ``design``, ``run``, ``batch`` and ``params``.

Every Doorstep error ends the command with its own exit code (see :mod:`doorstep.errors`)
and a one-paragraph message; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from doorstep.errors import DoorstepError

DEFAULT_SEED = 20240301


def _simulate(args: argparse.Namespace) -> int:
    from doorstep.simulate import PROGRAMMES, simulate

    programmes = PROGRAMMES if args.programme == "all" else (args.programme,)
    for programme in programmes:
        result = simulate(programme, Path(args.out) / programme, seed=args.seed,
                          scale=args.scale)
        if not args.quiet:
            print(f"{programme}: {len(result.files)} files in {result.out_dir}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from doorstep.run import run_evaluation

    outcome = run_evaluation(args.config, run_dir=args.run_dir, overrides=args.set or [],
                             seed=args.seed, show_code=args.show_code)
    print(outcome.index_html)
    return 0


def _batch(args: argparse.Namespace) -> int:
    from doorstep.run.batch import batch_main

    return batch_main(args)


def _params(args: argparse.Namespace) -> int:
    from doorstep.run.params import params_main

    return params_main(args)


def _run_one(config: str, seed: int, show_code: bool) -> str:
    from doorstep.run import run_evaluation

    return str(run_evaluation(config, seed=seed, show_code=show_code).index_html)


def _design_one(design: str, seed: int) -> str:
    from doorstep.run import run_design

    return str(run_design(design, seed=seed) / "00_design.html")


def _demo(args: argparse.Namespace) -> int:
    from doorstep.run import find_notebooks_dir
    from doorstep.simulate import PROGRAMMES, simulate

    root = find_notebooks_dir().parent
    for programme in PROGRAMMES:
        simulate(programme, root / "data" / programme, seed=args.seed)
    configs = [str(root / "surveys" / programme / "evaluation.yaml") for programme in PROGRAMMES]
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_run_one, config, args.seed, args.show_code) for config in configs]
        futures.append(pool.submit(_design_one, str(root / "surveys" / "design_demo.yaml"),
                                   args.seed))
        reports = [future.result() for future in futures]
    for report in reports:
        print(report)
    return 0


def _design(args: argparse.Namespace) -> int:
    from doorstep.run import run_design

    print(run_design(args.design, output_dir=args.output_dir, seed=args.seed)
          / "00_design.html")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``doorstep`` command."""
    parser = argparse.ArgumentParser(
        prog="doorstep",
        description="Clean door-to-door survey exports and estimate programme impacts.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="simulate both demo programmes and report on them")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED)
    demo.add_argument("--show-code", action="store_true", help="keep code in the HTML reports")
    demo.set_defaults(handler=_demo)

    simulate = commands.add_parser("simulate", help="write the simulated demo surveys")
    simulate.add_argument("--programme", default="all",
                          choices=("all", "caring_mothers", "skills_workshops"))
    simulate.add_argument("--seed", type=int, default=DEFAULT_SEED)
    simulate.add_argument("--scale", type=float, default=1.0,
                          help="multiply the number of villages and people")
    simulate.add_argument("--out", default="data", help="folder for data/<programme>/")
    simulate.add_argument("--quiet", action="store_true")
    simulate.set_defaults(handler=_simulate)

    design = commands.add_parser("design", help="power tables and assignment for a new programme")
    design.add_argument("design", help="a design file such as surveys/design_demo.yaml")
    design.add_argument("--output-dir", default=None)
    design.add_argument("--seed", type=int, default=DEFAULT_SEED)
    design.set_defaults(handler=_design)

    run = commands.add_parser("run", help="run the notebook chain for one evaluation config")
    run.add_argument("config", help="surveys/<programme>/evaluation.yaml")
    run.add_argument("--run-dir", default=None)
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a config value (repeatable)")
    run.add_argument("--seed", type=int, default=DEFAULT_SEED)
    run.add_argument("--show-code", action="store_true")
    run.set_defaults(handler=_run)

    batch = commands.add_parser(
        "batch", help="run a grid of evaluations (configs x overrides x seeds), locally or on Dask")
    batch.add_argument("grid", help="a grid file, e.g. surveys/grid_demo.yaml")
    batch.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="send the runs to this Dask scheduler (tcp://host:8786)")
    batch.add_argument("--workers", type=int, default=None,
                       help="local worker processes (default: the number of cores)")
    batch.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                       help="skip runs whose finished manifest matches (default: --resume)")
    batch.add_argument("--quiet", action="store_true", help="no progress lines")
    batch.set_defaults(handler=_batch)

    params = commands.add_parser("params", help="list a notebook's parameters: name, type, default")
    params.add_argument("notebook", help="an .ipynb file with a cell tagged 'parameters'")
    params.set_defaults(handler=_params)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``doorstep`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except DoorstepError as error:
        print(f"doorstep {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
