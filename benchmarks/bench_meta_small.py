"""Meta-learners with their defaults on small tabular data, against a logistic regression.

Issue 15 found, as a new user would try it: meta-trained on sklearn's digits 0-6
and adapted to 7-9, ProtoNet (1,000 episodes) reached 0.64 (1-shot) / 0.77 (5-shot)
against 0.74 / 0.91 for a LogisticRegression on the same shots, more episodes made
it worse, and FOMAML's defaults were near chance.  This script measures each
algorithm with its defaults (``MetaLearnerClassifier(algorithm)``, nothing else
set) on two small tabular few-shot problems:

* digits: the 8x8 digits as 64 raw pixel features (0-16, not standardised),
  meta-trained on the digits 0-6, tested on 3-way episodes of the digits 7-9;
* landmine: the 29 Landmine fields (9 raw radar features), meta-trained on fields
  0-18 and tested on 2-way (landmine / clutter) episodes of fields 19-28, each
  drawn within one field (``tasks=``).

Every method is scored by :func:`skmtl.meta.episodic_score` on the same test
episodes (1-shot and 5-shot, 15 query rows a class for digits, 10 for landmine),
mean accuracy +- 95% interval; "logreg" is a ``LogisticRegression()`` fitted on
each episode's shots (raw features, as a user would).  "warned" says whether fit
warned that the meta-learner lost to that baseline on its own validation episodes.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_meta_small.py            # ~3 min
    python benchmarks/bench_meta_small.py --quick
    python benchmarks/bench_meta_small.py --set protonet.n_episodes=3000
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from skmtl.datasets import load_landmine
from skmtl.meta import MetaLearnerClassifier, episodic_score
from _common import banner, versions

ALGORITHMS = ["protonet", "baseline", "baseline++", "maml", "fomaml", "anil", "reptile"]
# the defaults before issue 15 (a "METHOD@old" row): no validation, a (64, 64) MLP
FORMER = dict(hidden_layer_sizes=(64, 64), validation_fraction=0.0, early_stopping=False)


class LogReg:
    """``adapt`` = a LogisticRegression fitted on the shots."""

    def adapt(self, X, y):
        return LogisticRegression(max_iter=1000).fit(X, y)


def problems():
    """name -> (X_train, y_train, tasks_train, X_test, y_test, tasks_test, n_way, n_query)."""
    X, y = load_digits(return_X_y=True)
    seen = y < 7
    digits = (X[seen], y[seen], None, X[~seen], y[~seen], None, 3, 15)
    X, y, tasks = load_landmine(return_X_y=True)
    seen = tasks < 19
    landmine = (X[seen], y[seen], tasks[seen], X[~seen], y[~seen], tasks[~seen], 2, 10)
    return {"digits": digits, "landmine": landmine}


def _number(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 test episodes, 2 methods")
    parser.add_argument("--algorithms", nargs="+", default=ALGORITHMS)
    parser.add_argument("--problems", nargs="+", default=["digits", "landmine"])
    parser.add_argument("--test-episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="+", default=[], metavar="ALG.PARAM=VALUE")
    args = parser.parse_args(argv)
    if args.quick:
        args.test_episodes, args.algorithms = 40, args.algorithms[:2]
    extra = {}
    for item in args.set:
        key, value = item.split("=", 1)
        alg, param = key.split(".", 1)
        extra.setdefault(alg, {})[param] = _number(value)
    torch.set_num_threads(1)
    banner("Meta-learners with their defaults on small tabular data (issue 15)", 100)
    print(versions("torch", "sklearn", "skmtl"))
    head = (f"{'problem':<9} {'method':<12} {'1-shot':>15} {'5-shot':>15} {'fit s':>6} "
            f"{'episodes':>8} {'warned':>6}")
    print(head)
    print("-" * len(head))
    data = problems()
    for name in args.problems:
        Xtr, ytr, ttr, Xte, yte, tte, n_way, n_query = data[name]
        for method in ["logreg", "protonet@old", "fomaml@old"] + args.algorithms:
            t0, warned, n_iter = time.perf_counter(), "", ""
            if method == "logreg":
                model = LogReg()
            else:
                algorithm, _, old = method.partition("@")
                model = MetaLearnerClassifier(algorithm, random_state=args.seed,
                                              **(FORMER if old else {}),
                                              **extra.get(method, {}))
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    model.fit(Xtr, ytr, tasks=ttr)
                warned = "yes" if any("LogisticRegression" in str(w.message)
                                      for w in caught) else "no"
                n_iter = model.n_iter_
            fit_time = time.perf_counter() - t0
            scores = [episodic_score(model, Xte, yte, n_way=n_way, k_shot=k, n_query=n_query,
                                     n_episodes=args.test_episodes, tasks=tte,
                                     random_state=100 + k) for k in (1, 5)]
            shown = "  ".join(f"{100 * m:6.1f} +- {100 * c:4.1f}" for m, c in scores)
            print(f"{name:<9} {method:<12} {shown} {fit_time:6.1f} {n_iter!s:>8} {warned:>6}",
                  flush=True)
    print("accuracy (%) over the same test episodes for every method; chance: 33.3 (digits, "
          "3-way), 50 (landmine, 2-way).  METHOD@old: the defaults before issue 15 "
          f"({FORMER}); the others: MetaLearnerClassifier(METHOD) as it comes.")


if __name__ == "__main__":
    main()
