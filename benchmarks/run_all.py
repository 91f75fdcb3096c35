"""Run every benchmark and write benchmarks/RESULTS.md, the project's scoreboard.

Each ``bench_*.py`` prints its own table; this script captures that output and
records when, where and with which versions it was measured.

    python benchmarks/run_all.py            # full runs (an hour or more on 2 cores)
    python benchmarks/run_all.py --quick    # smoke runs
    python benchmarks/run_all.py --only bench_school bench_survey
"""

import contextlib
import datetime
import importlib
import io
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the scripts import _common beside them

from _common import Parser, versions  # noqa: E402

# each script's main(argv) takes its command-line arguments; all have --quick
BENCHMARKS = [
    "bench_l21", "bench_school", "bench_landmine", "bench_survey", "bench_path_cv",
    "bench_scaling", "bench_torch_overhead", "bench_tasks_scaling", "bench_omniglot",
    "bench_meta_overhead", "bench_meta_batch", "bench_defaults", "bench_single_task",
]


def main(argv=None):
    parser = Parser(__doc__, "smoke runs: every script with --quick")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = parser.parse(argv)
    names = [n for n in BENCHMARKS if args.only is None or n in args.only]
    sections = []
    for name in names:
        if not (HERE / f"{name}.py").exists():
            continue
        module = importlib.import_module(name)
        buffer = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(buffer):
            module.main(["--quick"] if args.quick else [])
        seconds = time.perf_counter() - start
        print(buffer.getvalue())
        sections.append(f"## {name}\n\n({seconds:.0f} s)\n\n```\n{buffer.getvalue().strip()}\n```\n")
    header = (
        "# skmtl benchmark results\n\n"
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}\n"
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}\n"
        f"- versions: {versions('numpy', 'scipy', 'sklearn', 'torch', 'skmtl', sep=', ')}\n"
        f"- mode: {'quick' if args.quick else 'full'}\n\n"
        "Produced by `python benchmarks/run_all.py`; every ratio compares runs made "
        "in the same process.\n\n"
    )
    Path(args.output).write_text(header + "\n".join(sections))
    return sections


if __name__ == "__main__":
    main(sys.argv[1:])
