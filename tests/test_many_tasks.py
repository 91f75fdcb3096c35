"""Many tasks: no T x T matrix, sparse task graphs (issue 16, item 7; issue 12).

The mean- and graph-regularized penalties used to build a dense T x T Laplacian
and eigendecompose it: 30,000 tasks tried to allocate 6.7 GiB.  The mean penalty
needs no such matrix (a pull towards the mean), and a graph is held sparse.  The
fits run in a subprocess under an address-space limit (``RLIMIT_AS``) that the
dense matrix alone exceeds.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl.linear import GraphRegularized

resource = pytest.importorskip("resource")

LIMIT_GIB = 2.0  # the dense 30,000 x 30,000 Laplacian alone is 6.7 GiB

_SCRIPT = textwrap.dedent("""
    import resource, sys
    limit = int(float(sys.argv[1]) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import numpy as np, scipy.sparse as sp
    from skmtl import MultiTaskClassifier, MultiTaskRegressor
    from skmtl.linear import GraphRegularized
    T, n_t, p = 30000, 3, 3
    rng = np.random.RandomState(0)
    X = rng.randn(T * n_t, p)
    tasks = np.repeat(np.arange(T), n_t)
    y = X[:, 0] + rng.randn(T * n_t)
    chain = sp.diags([np.ones(T - 1), np.ones(T - 1)], [-1, 1], format="csr")
    labels = np.tile([0, 1, 1], T)
    for penalty in ("mean", "graph", GraphRegularized(adjacency=chain)):
        reg = MultiTaskRegressor(penalty=penalty, alpha=0.1).fit(X, y, tasks=tasks)
        assert reg.coef_.shape == (T, p) and np.isfinite(reg.coef_).all()
    # FISTA with the penalty's prox (the classifier's per-task label checks take
    # most of this fit's time)
    clf = MultiTaskClassifier(penalty="mean", alpha=0.1, max_iter=5)
    clf.fit(X, labels, tasks=tasks)
    assert np.isfinite(clf.coef_).all()
    print("ok")
""")


def test_thirty_thousand_tasks_fit_mean_and_graph_penalties_in_bounded_memory():
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    import os

    env = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(LIMIT_GIB)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def _tasks(seed=0, T=12, n_t=8, p=4):
    rng = np.random.RandomState(seed)
    X = rng.randn(T * n_t, p)
    tasks = np.repeat(np.arange(T), n_t)
    y = X @ rng.randn(p) + 0.5 * rng.randn(T * n_t)
    A = np.zeros((T, T))
    i = np.arange(T - 1)
    A[i, i + 1] = A[i + 1, i] = rng.uniform(0.5, 2.0, T - 1)
    return X, y, tasks, A


@pytest.mark.parametrize("Est", [MultiTaskRegressor, MultiTaskClassifier])
def test_a_sparse_adjacency_is_the_dense_one(Est):
    X, y, tasks, A = _tasks()
    if Est is MultiTaskClassifier:
        y = (y > 0).astype(int)
    kw = dict(alpha=0.3, tol=1e-10, max_iter=20000)
    dense = Est(penalty=GraphRegularized(adjacency=A), **kw).fit(X, y, tasks=tasks)
    for fmt in (sp.csr_matrix, sp.coo_matrix, sp.csc_matrix):
        sparse = Est(penalty=GraphRegularized(adjacency=fmt(A)), **kw).fit(X, y,
                                                                           tasks=tasks)
        np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-8)


def test_a_large_sparse_graph_takes_sparse_factorizations():
    """Past ``dense_limit`` (2000) tasks the graph penalty's prox and conjugate use
    sparse LU factorizations, not a dense eigendecomposition: they agree."""
    from skmtl.linear._laplacian import Graph, laplacian

    T = 300
    rng = np.random.RandomState(1)
    i = np.arange(T - 1)
    A = sp.csr_matrix((rng.uniform(0.5, 2, T - 1), (i, i + 1)), shape=(T, T))
    A = A + A.T
    big = Graph(laplacian(A), ridge=0.1, dense_limit=100)
    small = Graph(laplacian(A), ridge=0.1)
    assert big._eig is None and small._eig is not None
    V = rng.randn(3, T)
    for s in (0.3, 2.0):
        np.testing.assert_allclose(big.shifted_solve(V, s), small.shifted_solve(V, s),
                                   rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(big.inverse_value(V), small.inverse_value(V), rtol=1e-10)


def test_a_bad_adjacency_is_refused_sparse_or_dense():
    X, y, tasks, A = _tasks()
    B = A.copy()
    B[0, 3] = 1.0  # not symmetric
    for bad in (B, sp.csr_matrix(B), -A, sp.csr_matrix(A[:5, :5])):
        with pytest.raises(ValueError, match="adjacency"):
            MultiTaskRegressor(penalty=GraphRegularized(adjacency=bad)).fit(X, y,
                                                                            tasks=tasks)
