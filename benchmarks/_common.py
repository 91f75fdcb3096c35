"""What the benchmark scripts share.

* the machine: :func:`loadavg`, :func:`versions`, :func:`banner` and the one-line
  :func:`print_environment` of the quality benchmarks;
* timers: :func:`best_time` (best of repeats, ``number`` calls each, optional
  device ``sync``) and :func:`interleaved` (the repeats of several candidates taken
  in turns, so that a burst of load elsewhere does not hit one candidate only;
  best and median of each);
* warnings: :class:`ConvergenceWarnings` (counts them) and
  :func:`no_convergence_warnings` (silences them);
* tables: :func:`print_table` (aligned text, or markdown) and :class:`Table` (fixed
  widths, a row at a time, for tables printed while they are measured);
* argparse: :class:`Parser` (``--quick`` and the options whose default depends on
  it) and :func:`add_path_cv_options` (those of the quality benchmarks);
* the quality benchmarks (School, Landmine, the computer survey): the multi-task
  methods and their candidate penalties, the path-CV fit and what it chose, the
  loops over splits and methods, the summary over splits and the table of the
  model selection.

The scripts import it as ``from _common import ...``: ``python benchmarks/bench_x.py``
puts the script's folder on ``sys.path``; ``run_all.py`` does the same.
"""

import argparse
import contextlib
import gc
import importlib
import os
import platform
import sys
import time
import warnings
from collections import Counter

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import skmtl
from skmtl import MultiTaskRegressor, MultiTaskRegressorCV
from skmtl.linear import (
    ClusteredNorm,
    Dirty,
    GraphRegularized,
    MeanRegularized,
    multitask_path,
)


# ------------------------------------------------------------------- the machine
def loadavg():
    """The 1, 5 and 15 minute load averages, as ``"0.76 0.63 0.30"``."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def versions(*names, sep="  ", python=True, implementation=False):
    """``"python 3.11.7  numpy 2.4.6  ..."``: the versions of the named packages.

    A package that does not import reads ``"name absent"``; ``implementation`` adds
    ``" (CPython)"`` after python's version.
    """
    out = []
    if python:
        out.append(f"python {platform.python_version()}" + (
            f" ({platform.python_implementation()})" if implementation else ""))
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            out.append(f"{name} absent")
        else:
            out.append(f"{name} {getattr(module, '__version__', '?')}")
    return sep.join(out)


def banner(title, width=78):
    print("=" * width)
    print(title)
    print("=" * width)


def print_environment():
    """One line: versions, where skmtl is imported from, cores, load (quality scripts)."""
    print(f"python {sys.version.split()[0]} ({platform.platform()}), numpy "
          f"{np.__version__}, sklearn {sklearn.__version__}, skmtl "
          f"{getattr(skmtl, '__version__', '?')} ({os.path.dirname(skmtl.__file__)}), "
          f"cpu_count {os.cpu_count()}, load avg {loadavg()}\n")


# ------------------------------------------------------------------------ timers
def best_time(fn, repeats=1, number=1, clock=None, sync=None, collect=True):
    """``(seconds, result)``: the best of ``repeats`` runs and ``fn``'s last result.

    A run calls ``fn`` ``number`` times and counts its time divided by ``number``.
    ``clock``: ``time.perf_counter`` by default (``time.process_time`` for CPU
    time); ``sync``: called before reading the clock (``torch.cuda.synchronize``
    for GPU work); ``collect``: ``gc.collect()`` before each run, outside the time.
    """
    clock = clock or time.perf_counter
    best, out = np.inf, None
    for _ in range(repeats):
        if collect:
            gc.collect()
        if sync:
            sync()
        start = clock()
        for _ in range(number):
            out = fn()
        if sync:
            sync()
        best = min(best, (clock() - start) / number)
    return best, out


class Timed:
    """The seconds of each timed run (``times``) and the result of the last (``out``)."""

    def __init__(self):
        self.times, self.out = [], None

    @property
    def best(self):
        return min(self.times)

    @property
    def median(self):
        return float(np.median(self.times))


def interleaved(fns, repeats, **timer):
    """Time every function of ``fns`` ``repeats`` times, taking them in turns.

    Round ``r`` runs each function once (those with fewer than ``r + 1`` repeats
    sit out: ``repeats`` is one number or one per function), so that a burst of
    load elsewhere on the machine does not fall on one function's repeats only.
    ``timer``: the options of :func:`best_time`.  Returns one :class:`Timed` a
    function.
    """
    counts = [repeats] * len(fns) if np.ndim(repeats) == 0 else list(repeats)
    results = [Timed() for _ in fns]
    for r in range(max(counts)):
        for fn, count, res in zip(fns, counts, results):
            if r < count:
                seconds, res.out = best_time(fn, 1, **timer)
                res.times.append(seconds)
    return results


# ---------------------------------------------------------------------- warnings
class ConvergenceWarnings(contextlib.AbstractContextManager):
    """Records the warnings of its block; ``count``: the ConvergenceWarnings, repeats
    included."""

    def __enter__(self):
        self._catch = warnings.catch_warnings(record=True)
        self._caught = self._catch.__enter__()
        warnings.simplefilter("always", ConvergenceWarning)
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        self.count = sum(issubclass(w.category, ConvergenceWarning) for w in self._caught)


@contextlib.contextmanager
def no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# ------------------------------------------------------------------------ tables
class Table:
    """A text table of fixed column widths, printed a line at a time.

    ``align``: one ``"<"`` or ``">"`` a column, the last repeated for the columns
    after it (default ``"<>"``: the first column left, the others right);
    ``widths``: the columns' widths (default: their header's; a wider cell widens
    its line only); ``sep``: the string between columns, or one a gap.
    """

    def __init__(self, header, widths=None, align="<>", sep="  "):
        self.header = [str(h) for h in header]
        n = len(self.header)
        self.widths = list(widths) if widths is not None else [len(h) for h in self.header]
        self.align = (align + align[-1] * n)[:n]
        self.seps = [sep] * (n - 1) if isinstance(sep, str) else list(sep)

    def line(self, cells):
        out = ""
        for i, (cell, a, w) in enumerate(zip(cells, self.align, self.widths)):
            out += (self.seps[i - 1] if i else "") + f"{str(cell):{a}{w or ''}}"
        return out

    def head(self):
        """The header line and a rule of dashes as long."""
        line = self.line(self.header)
        return [line, "-" * len(line)]

    def print_head(self):
        print("\n".join(self.head()), flush=True)

    def print_row(self, cells):
        print(self.line(cells), flush=True)


def print_table(header, rows, align="<>", widths=None, sep="  ", markdown=False):
    """Print a table: its header, a rule and its rows, every column as wide as its
    widest cell (at least ``widths``); ``align``, ``sep``: see :class:`Table`.

    ``markdown``: a markdown (GitHub) table instead, for a ``.md`` file.
    """
    rows = [[str(c) for c in r] for r in rows]
    least = widths or [0] * len(header)
    widths = [max(len(str(h)), least[i], *(len(r[i]) for r in rows))
              for i, h in enumerate(header)]
    table = Table(header, widths, align, sep)
    if markdown:  # a rule of dashes with a colon on the aligned side, 3 at least
        widths = [max(w, 3) for w in widths]
        rule = [(":" if a == "<" else "") + "-" * (w - 1) + (":" if a == ">" else "")
                for a, w in zip(table.align, widths)]
        table = Table(header, widths, table.align, " | ")
        lines = [table.line(table.header), " | ".join(rule)] + [table.line(r) for r in rows]
        print("\n".join(f"| {line} |" for line in lines))
        return
    print("\n".join(table.head() + [table.line(r) for r in rows]))


# ---------------------------------------------------------------------- argparse
class Parser(argparse.ArgumentParser):
    """An argument parser with ``--quick``, described by ``doc``'s first paragraph.

    :meth:`quick_option` adds an option whose default depends on ``--quick``;
    :meth:`parse` fills those in.
    """

    def __init__(self, doc, quick_help="small sizes (smoke run)", **kwargs):
        super().__init__(description=doc.split("\n\n")[0], **kwargs)
        self.add_argument("--quick", action="store_true", help=quick_help)
        self.quick_defaults = {}

    def quick_option(self, flag, full, quick, help=None, **kwargs):
        """An option defaulting to ``full``, or to ``quick`` under ``--quick``.

        The help gets ``"(default FULL; --quick QUICK)"`` unless it speaks of
        its default already.
        """
        if help is None or "default" not in help:
            help = f"{help + ' ' if help else ''}(default {full}; --quick {quick})"
        action = self.add_argument(flag, default=None, help=help, **kwargs)
        self.quick_defaults[action.dest] = (full, quick)
        return action

    def parse(self, argv=None, **derived):
        """Parse ``argv`` (``None``: no arguments, not ``sys.argv``, so that
        ``run_all.py`` can call ``main()``); an option of :meth:`quick_option` left
        unset (or given no values) gets its ``full`` or ``quick`` default.

        ``derived``: further settings that are not options, ``name=(full, quick)``.
        """
        args = self.parse_args([] if argv is None else argv)
        for name, (full, quick) in {**self.quick_defaults, **derived}.items():
            if getattr(args, name, None) in (None, []):
                setattr(args, name, quick if args.quick else full)
        return args


def add_path_cv_options(parser, n_alphas, max_iter, check_convergence=True):
    """``--n-alphas`` (``(full, quick)``), ``--max-iter``, ``--tol``,
    ``--check-convergence`` (if asked) and ``--verbose``: those of the quality
    benchmarks."""
    parser.quick_option("--n-alphas", *n_alphas, type=int, help="alphas per path")
    parser.add_argument("--max-iter", type=int, default=max_iter)
    parser.add_argument("--tol", type=float, default=1e-4)
    if check_convergence:
        parser.add_argument("--check-convergence", action="store_true",
                            help="re-solve every inner-CV path and count "
                                 "ConvergenceWarnings")
    parser.add_argument("--verbose", action="store_true", help="print every fit")


# ----------------------------------------------------------- quality benchmarks
def multitask_methods(quick, adjacency, graph_name, eps, mean, graph, cluster, dirty):
    """The multi-task methods every quality benchmark compares, in its table's order.

    ``(name, [(label, penalty)], use tasks (True), eps)``: ``l21``, ``trace`` and the
    parametrised penalties with one candidate a value: ``mean`` and ``graph`` (on
    ``adjacency``, the method named ``graph_name``): ridge values; ``cluster``:
    ``(n_clusters, eta)`` pairs; ``dirty``: ``l1_ratio`` values.  ``quick``: the
    first candidate of each only.  ``eps`` (smallest / largest alpha of the path):
    one number, or one a family (``{"l21": ..., "trace": ..., "mean": ...,
    "graph": ..., "cluster": ..., "dirty": ...}``).
    """
    families = {
        "l21": ("l21 (joint features)", [("", "l21")]),
        "trace": ("trace (low rank)", [("", "trace")]),
        "mean": ("mean-regularized",
                 [(f"ridge={r:g}", MeanRegularized(ridge=r)) for r in mean]),
        "graph": (graph_name,
                  [(f"ridge={r:g}", GraphRegularized(adjacency, r)) for r in graph]),
        "cluster": ("cluster", [(f"k={k},eta={e:g}", ClusteredNorm(n_clusters=k, eta=e))
                                for k, e in cluster]),
        "dirty": ("dirty", [(f"l1_ratio={r:g}", Dirty(l1_ratio=r)) for r in dirty]),
    }
    return [(name, penalties[:1] if quick else penalties, True,
             eps[family] if isinstance(eps, dict) else eps)
            for family, (name, penalties) in families.items()]


def selection(seconds, alpha, choice, grid, refit_warnings):
    """What a split records of its model selection (read by :func:`summarize`)."""
    return {"seconds": seconds, "alpha": float(alpha), "choice": choice,
            "edge": bool(alpha in (grid[0], grid[-1])), "refit_warnings": refit_warnings}


def path_cv(penalties, eps, cv, args, X, y, tasks=None):
    """Fit a ``MultiTaskRegressorCV`` over the ``[(label, penalty)]`` candidates.

    The fit is timed and its ConvergenceWarnings (the refit's: the CV silences the
    inner paths') are counted; with ``--check-convergence`` the inner paths are
    solved again to count theirs (``path_warnings``).  Returns ``(model, selection
    record)``.
    """
    model = MultiTaskRegressorCV(
        penalty=[p for _, p in penalties], alphas=args.n_alphas, eps=eps, cv=cv,
        max_iter=args.max_iter, tol=args.tol, n_jobs=getattr(args, "n_jobs", None))
    with ConvergenceWarnings() as caught:
        start = time.perf_counter()
        model.fit(X, y, tasks=tasks)
        seconds = time.perf_counter() - start
    grids = np.atleast_2d(model.alphas_)
    j = next(i for i, (_, p) in enumerate(penalties) if p is model.penalty_)
    record = selection(seconds, model.alpha_, penalties[j][0], grids[j], caught.count)
    if args.check_convergence:
        base = MultiTaskRegressor(max_iter=args.max_iter, tol=args.tol)
        record["path_warnings"] = count_path_warnings(base, penalties, grids, X, y, cv,
                                                      tasks)
    return model, record


def count_path_warnings(base, penalties, grids, X, y, folds, tasks=None):
    """Re-solve the inner-CV paths (``MultiTaskRegressorCV`` silences their
    warnings): ``(ConvergenceWarnings, path points solved)``."""
    bad = total = 0
    for (_, pen), grid in zip(penalties, grids):
        for train, _ in folds:
            with ConvergenceWarnings() as caught:
                multitask_path(clone(base).set_params(penalty=pen), X[train], y[train],
                               tasks=None if tasks is None else tasks[train], alphas=grid)
            bad += caught.count
            total += len(grid)
    return bad, total


def summarize(per_split, benchmark, metrics, count="n_splits"):
    """One row a method: mean and std over the splits of ``metrics`` and of the fit
    time, the two labels chosen most, the range of alphas, the splits whose alpha
    is an end of its grid, the ConvergenceWarnings."""
    rows = []
    for name in per_split[0]:
        rs = [s[name] for s in per_split]
        row = {"benchmark": benchmark, "method": name, count: len(rs)}
        for key in (*metrics, "seconds"):
            v = np.array([r[key] for r in rs])
            row[key + "_mean"], row[key + "_std"] = float(v.mean()), float(v.std())
        choices = Counter(r["choice"] for r in rs if r["choice"])
        row["choice"] = ", ".join(f"{c} x{n}" for c, n in choices.most_common(2))
        alphas = [r["alpha"] for r in rs]
        row["alpha_min"], row["alpha_max"] = min(alphas), max(alphas)
        row["alpha_at_grid_edge"] = int(sum(r["edge"] for r in rs))
        row["refit_convergence_warnings"] = int(sum(r["refit_warnings"] for r in rs))
        if "path_warnings" in rs[0]:  # (warnings, solves)
            row["path_convergence_warnings"] = int(sum(r["path_warnings"][0] for r in rs))
            row["path_solves"] = int(sum(r["path_warnings"][1] for r in rs))
        rows.append(row)
    return rows


def run_splits(splits, run_split, label, summary, report):
    """The skeleton of the quality benchmarks: run every split (printing ``label(s)``
    and its time), summarise (``summary(per_split)``), report (``report(rows,
    per_split)``), print the total time; returns the rows."""
    start = time.perf_counter()
    per_split = []
    for s in splits:
        t_split = time.perf_counter()
        per_split.append(run_split(s))
        print(f"{label(s)} done in {time.perf_counter() - t_split:.1f}s", flush=True)
    print()
    rows = summary(per_split)
    total = time.perf_counter() - start
    report(rows, per_split)
    print(f"\ntotal benchmark time {total:.1f}s")
    return rows


def pm(row, key, scale=1.0, digits=4):
    """``"mean +- std"`` of ``row``'s ``key``."""
    mean, std = scale * row[key + "_mean"], scale * row[key + "_std"]
    return f"{mean:.{digits}f} +- {std:.{digits}f}"


def met(ok):
    return "MET" if ok else "NOT MET"


def run_methods(methods, fit, args, where, describe):
    """``{name: fit(penalties, use_tasks, eps)}`` over the ``methods`` of one split;
    with ``--verbose`` a line a method: ``where``, its name, ``describe(record)``
    and what the model selection chose."""
    out = {}
    for name, penalties, use_tasks, eps in methods:
        r = out[name] = fit(penalties, use_tasks, eps)
        if args.verbose:
            print(f"  {where} {name:24s} {describe(r)} alpha {r['alpha']:.3g} "
                  f"{r['choice']} {r['seconds']:.1f}s", flush=True)
    return out


def print_selection_table(rows, title, header, cells, unit, args):
    """The table of a quality benchmark under its ``title``: ``header`` and
    ``cells(row)`` (its own columns) followed by the model selection's (fit time,
    chosen label, alpha range, grid edges, ConvergenceWarnings), and the note on
    the last two."""
    print(title + "\n")
    table = []
    for r in rows:
        warn = str(r["refit_convergence_warnings"])
        if "path_convergence_warnings" in r:
            warn += f" / {r['path_convergence_warnings']} of {r['path_solves']}"
        table.append(cells(r) + [
            pm(r, "seconds", 1, 1), r["choice"] or "-",
            f"{r['alpha_min']:.3g}-{r['alpha_max']:.3g}", str(r["alpha_at_grid_edge"]),
            warn])
    print_table(header + ["fit s", "chosen", "alpha range", "edge", "warn"], table)
    if not hasattr(args, "check_convergence"):  # the script counts them itself
        paths = " / of the inner-CV path points"
    elif args.check_convergence:
        paths = " / of the re-solved inner-CV path points"
    else:
        paths = (" (--check-convergence also re-solves the inner-CV paths, whose "
                 "warnings MultiTaskRegressorCV silences)")
    print(f"\nedge: {unit} whose chosen alpha is an end of its grid; warn: "
          f"ConvergenceWarnings of the refit{paths}")


def by_method(rows, single_task):
    """``({method: row}, [rows of the multi-task methods])``."""
    by = {r["method"]: r for r in rows}
    return by, [r for r in rows if r["method"] not in single_task]
