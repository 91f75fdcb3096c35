"""The package's architecture: import layering, no import cycles, torch kept optional.

The layers (each subpackage of ``skmtl`` one node, each top-level module its own
node, ``skmtl/__init__.py`` the node ``skmtl``): no cycle between nodes;
``skmtl.linear`` (the numpy solvers) imports neither torch nor ``skmtl.nn`` /
``skmtl.meta``, not even inside a function; ``skmtl.nn`` does not import
``skmtl.meta``.  Importing ``skmtl`` and its numpy subpackages never imports torch;
the torch estimators are reached lazily from the top level, and without torch
they say how to install it.

Imports are read from the source with ``ast``: every ``import`` and ``from ...
import`` (module level, inside functions and methods, relative or absolute) and
``importlib.import_module`` / ``__import__`` called on a string literal, and any
string that is a relative module name (``".meta"``: a lazy import's target).
"""

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from collections import defaultdict, deque
from pathlib import Path

import pytest

import skmtl

PACKAGE = Path(skmtl.__file__).resolve().parent  # the skmtl under test
ROOT = PACKAGE.parent
MAX_LINES = 400
TORCH = {"torch", "torchjd"}
LAZY = ["MetaLearnerClassifier", "MetaLearnerRegressor", "MultiTaskEstimator"]
INSTALL_HINT = "pip install 'skmtl[torch]'"

try:
    import torch  # noqa: F401
except ImportError:
    HAVE_TORCH = False
else:
    HAVE_TORCH = True


# ------------------------------------------------------------ reading the imports
def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module, level, target, is_package=False):
    """The absolute name of ``from <level dots><target> import ...`` in ``module``."""
    if not level:
        return target
    package = module.split(".")
    if not is_package:
        package.pop()  # a module's package is its parent; a package's, itself
    if level > 1:
        package = package[:-(level - 1)]
    return ".".join(package + ([target] if target else []))


def _imports(module):
    """(imported module, line, source text) for every import in ``module``."""
    path = MODULES[module]
    return _parse_imports(path.read_text(), module, path.name == "__init__.py", str(path))


def _parse_imports(source, module, is_package=False, filename="<source>"):
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node.level, node.module, is_package)
            names = [base]
            for alias in node.names:  # `from . import _x`: the submodule _x
                if f"{base}.{alias.name}" in MODULES:
                    names.append(f"{base}.{alias.name}")
        elif isinstance(node, ast.Call) and node.args and \
                isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str) and \
                (getattr(node.func, "attr", None) == "import_module"
                 or getattr(node.func, "id", None) in ("import_module", "__import__")):
            name = node.args[0].value
            dots = len(name) - len(name.lstrip("."))
            names = [_resolve(module, dots, name[dots:] or None, is_package)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                re.fullmatch(r"\.+\w[\w.]*", node.value):
            # a relative module name as a string: a lazy import's target
            # (``_LAZY = {"Name": ".meta"}`` then ``import_module(_LAZY[name], ...)``)
            dots = len(node.value) - len(node.value.lstrip("."))
            name = _resolve(module, dots, node.value[dots:], is_package)
            names = [name] if name in MODULES else []
        text = lines[node.lineno - 1].strip() if names else ""
        found += [(name, node.lineno, text) for name in names]
    unique = {(name, line): text for name, line, text in found}  # a call's literal twice
    return sorted(((name, line, text) for (name, line), text in unique.items()),
                  key=lambda f: (f[1], f[0]))


def _node(name):
    """skmtl.linear._bcd -> skmtl.linear; skmtl.base -> skmtl.base; skmtl -> skmtl."""
    return ".".join(name.split(".")[:2])


def _site(module, line, text):
    return f"{MODULES[module].relative_to(ROOT)}:{line}: {text}"


def _edges():
    """{(node, node): [import sites]} between the nodes of skmtl (no self edges)."""
    edges = defaultdict(list)
    for module in MODULES:
        for name, line, text in _imports(module):
            if name.split(".")[0] != "skmtl":
                continue
            a, b = _node(module), _node(name)
            if a != b:
                edges[a, b].append(_site(module, line, text))
    return edges


def _strongly_connected(nodes, edges):
    """Tarjan's components of more than one node, each sorted, in sorted order."""
    succ = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(out)


def _shortest_cycle(component, edges):
    """The shortest cycle inside one strongly connected component."""
    best = None
    for start in component:
        prev, queue = {start: None}, deque([start])
        while queue:
            v = queue.popleft()
            for w in sorted(b for a, b in edges if a == v and b in component):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    cycle = path[::-1] + [start]
                    if best is None or len(cycle) < len(best):
                        best = cycle
                    queue.clear()
                    break
                if w not in prev:
                    prev[w] = v
                    queue.append(w)
    return best


def test_no_import_cycle_between_subpackages():
    edges = _edges()
    nodes = {_node(m) for m in MODULES}
    report = []
    for comp in _strongly_connected(nodes, edges):
        cycle = _shortest_cycle(comp, edges)
        report.append(f"cycle {' -> '.join(cycle)}  (strongly connected: {comp})")
        for a, b in zip(cycle, cycle[1:]):
            report.append(f"  {a} -> {b}:")
            report += [f"    {site}" for site in edges[a, b]]
        rest = sorted(e for e in edges if e[0] in comp and e[1] in comp
                      and e not in set(zip(cycle, cycle[1:])))
        for a, b in rest:
            report.append(f"  also {a} -> {b}: {edges[a, b][0]}"
                          + (f" (+{len(edges[a, b]) - 1} more)" if len(edges[a, b]) > 1
                             else ""))
    assert not report, "import cycles between the nodes of skmtl:\n" + "\n".join(report)


LAYERS = {  # node: what no module in it may import (module prefixes)
    "skmtl.linear": ["torch", "torchjd", "skmtl.nn", "skmtl.meta"],
    "skmtl.nn": ["skmtl.meta"],
}


@pytest.mark.parametrize("layer", list(LAYERS))
def test_layering(layer):
    forbidden = LAYERS[layer]
    bad = []
    for module in MODULES:
        if _node(module) != layer:
            continue
        for name, line, text in _imports(module):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(_site(module, line, text))
    assert not bad, (f"{layer} may not import {forbidden} (not even inside a "
                     "function):\n  " + "\n  ".join(bad))


def test_no_module_is_longer_than_the_limit():
    lengths = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    long = sorted(f"{MODULES[m].relative_to(ROOT)}: {n} lines"
                  for m, n in lengths.items() if n > MAX_LINES)
    assert not long, f"modules over {MAX_LINES} lines:\n  " + "\n  ".join(long)


def test_the_import_reader_sees_every_kind_of_import():
    """The reader itself, on made-up source: nothing that imports is missed."""
    source = textwrap.dedent("""
        import torch.nn as tnn
        from ..nn import WEIGHTINGS
        from .. import meta, not_a_module
        from . import _sibling
        class A:
            def fit(self):
                from skmtl.meta._base import X
                importlib.import_module("..datasets", __name__)
        def f():
            if True:
                import torchjd
        _LAZY = {"Name": ".._tasks", "Other": ".not_a_module", "x": "..."}
    """)
    found = _parse_imports(source, "skmtl.linear._x")
    assert [(name, line) for name, line, _ in found] == [
        ("torch.nn", 2), ("skmtl.nn", 3), ("skmtl", 4), ("skmtl.meta", 4),
        ("skmtl.linear", 5), ("skmtl.meta._base", 8), ("skmtl.datasets", 9),
        ("torchjd", 12), ("skmtl._tasks", 13)]
    assert found[1][2] == "from ..nn import WEIGHTINGS"
    assert _parse_imports("from . import _bcd", "skmtl.linear", is_package=True)[0][0] \
        == "skmtl.linear"
    assert _node("skmtl.linear._bcd") == "skmtl.linear" and _node("skmtl") == "skmtl"
    assert _node("skmtl.base") == "skmtl.base"


# --------------------------------------------------------- torch stays optional
ENTRY_POINTS = ["skmtl", "skmtl.linear", "skmtl.metrics", "skmtl.model_selection",
                "skmtl.datasets"]

# who imports torch first: the skmtl frames of the stack at that moment
SPY = """
import importlib, json, sys, traceback
class Spy:
    stack = None
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {torch} and Spy.stack is None:
            Spy.stack = [f"{{f.filename}}:{{f.lineno}}: {{f.line}}"
                         for f in traceback.extract_stack()[:-1]
                         if "skmtl" in f.filename]
        return None
sys.meta_path.insert(0, Spy())
out = {{"torch_after": None, "stack": None}}
for name in {entry_points}:
    importlib.import_module(name)
    if any(m.split(".")[0] in {torch} for m in sys.modules):
        out.update(torch_after=name, stack=Spy.stack)
        break
import skmtl
out["dir"] = dir(skmtl)
print(json.dumps(out))
"""

# a numpy-only install: torch cannot be imported
BLOCKED = """
import json, sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {torch}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, NoTorch())
import numpy as np
from skmtl import MultiTaskRegressor
MultiTaskRegressor(alpha=0.1).fit(np.eye(4), np.arange(4.0), tasks=[0, 0, 1, 1])
out = {{}}
for name in {lazy}:
    try:
        exec(f"from skmtl import {{name}}")
    except ImportError as exc:
        out[name] = f"{{type(exc).__name__}}: {{exc}}"
    except Exception as exc:
        out[name] = f"not an ImportError: {{type(exc).__name__}}: {{exc}}"
    else:
        out[name] = None
fits = {{}}
X, y, tasks = np.random.RandomState(0).randn(20, 2), np.arange(20.0), [0, 1] * 10
for label, make in [
        ("MultiTaskRegressor(backend='torch')",
         lambda: MultiTaskRegressor(backend="torch", hidden_layer_sizes=(4,),
                                    max_epochs=1)),
        ("MultiTaskEstimator()",
         lambda: __import__("skmtl").MultiTaskEstimator(max_epochs=1))]:
    try:
        make().fit(X, y, tasks=tasks)
    except ImportError as exc:
        fits[label] = f"{{type(exc).__name__}}: {{exc}}"
    except Exception as exc:
        fits[label] = f"not an ImportError: {{type(exc).__name__}}: {{exc}}"
    else:
        fits[label] = None
print(json.dumps({{"import": out, "fit": fits}}))
"""


@pytest.fixture(scope="module")
def subprocesses():
    """Both scripts, run side by side in fresh interpreters on the skmtl under test."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    scripts = {
        "spy": SPY.format(torch=sorted(TORCH), entry_points=ENTRY_POINTS),
        "blocked": BLOCKED.format(torch=sorted(TORCH), lazy=LAZY),
    }
    procs = {k: subprocess.Popen([sys.executable, "-c", textwrap.dedent(s)], cwd=ROOT,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
             for k, s in scripts.items()}
    results = {}
    for key, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        results[key] = (proc.returncode, stdout, stderr)
    return results


def _result(subprocesses, key):
    rc, stdout, stderr = subprocesses[key]
    assert rc == 0, f"the {key} script failed:\n{stderr[-3000:]}"
    return json.loads(stdout.strip().splitlines()[-1])


def test_importing_skmtl_does_not_import_torch(subprocesses):
    out = _result(subprocesses, "spy")
    assert out["torch_after"] is None, (
        f"`import {out['torch_after']}` imported torch (checked in order: "
        f"{ENTRY_POINTS}); the skmtl frames at torch's import:\n  "
        + "\n  ".join(out["stack"] or ["(none)"]))


def test_dir_lists_the_lazy_estimators(subprocesses):
    listed = _result(subprocesses, "spy")["dir"]
    missing = [name for name in LAZY if name not in listed]
    assert not missing, f"dir(skmtl) lacks {missing}"


@pytest.mark.skipif(not HAVE_TORCH, reason="needs pip install 'skmtl[torch]'")
@pytest.mark.parametrize("name", LAZY)
def test_lazy_estimators_import_from_the_top_level(name):
    namespace = {}
    exec(f"from skmtl import {name}", namespace)
    est = namespace[name]
    assert isinstance(est, type) and est.__name__ == name
    assert getattr(skmtl, name) is est


def _names_the_hint(msg):
    return msg is not None and msg.startswith(("ImportError", "ModuleNotFoundError")) \
        and INSTALL_HINT in msg


def test_without_torch_the_meta_learners_say_how_to_install_it(subprocesses):
    out = _result(subprocesses, "blocked")["import"]
    # MultiTaskEstimator's front door may import without torch (its fit needs it)
    bad = {name: msg for name, msg in out.items() if not _names_the_hint(msg)
           and not (name == "MultiTaskEstimator" and msg is None)}
    assert not bad, (f"without torch, `from skmtl import <name>` should raise an "
                     f"ImportError naming {INSTALL_HINT}; got:\n  "
                     + "\n  ".join(f"{k}: {v}" for k, v in bad.items()))


def test_without_torch_a_torch_fit_says_how_to_install_it(subprocesses):
    out = _result(subprocesses, "blocked")["fit"]
    bad = {name: msg for name, msg in out.items() if not _names_the_hint(msg)}
    assert not bad, (f"without torch, fitting the torch backend should raise an "
                     f"ImportError naming {INSTALL_HINT}; got:\n  "
                     + "\n  ".join(f"{k}: {v}" for k, v in bad.items()))
