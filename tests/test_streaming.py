"""Data larger than memory: a memmap or a torch Dataset is streamed a batch at a time."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skmtl import MultiTaskClassifier, MultiTaskRegressor  # noqa: E402
from skmtl.nn._rows import LazyRows  # noqa: E402

NET = dict(backend="torch", hidden_layer_sizes=(16,), max_epochs=3, batch_size=64,
           random_state=0, device="cpu")


def _data(n=600, p=5, n_tasks=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p).astype(np.float32)
    tasks = rng.randint(n_tasks, size=n)  # shuffled: the long format regroups rows
    y = np.tanh(X[:, 0]) * (1 + tasks) + X[:, 1] + 0.1 * rng.randn(n)
    return X, y, tasks


def _memmap(tmp_path, X):
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=X.dtype,
                                   shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.load(tmp_path / "X.npy", mmap_mode="r")


class RowDataset(torch.utils.data.Dataset):
    """Items (features, label) read one at a time; counts the rows read."""

    def __init__(self, X):
        self.X, self.reads = X, 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        return torch.from_numpy(self.X[i]), 0


@pytest.mark.parametrize("source", ["memmap", "dataset"])
def test_streamed_fit_equals_the_in_memory_fit(source, tmp_path):
    X, y, tasks = _data()
    ref = MultiTaskRegressor(**NET).fit(X, y, tasks=tasks)
    streamed = _memmap(tmp_path, X) if source == "memmap" else RowDataset(X)
    est = MultiTaskRegressor(**NET).fit(streamed, y, tasks=tasks)
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(est.predict(streamed, tasks=tasks), ref.predict(X, tasks=tasks),
                               rtol=1e-5, atol=1e-6)
    assert est.n_features_in_ == X.shape[1]


def test_streaming_reads_one_batch_at_a_time(monkeypatch):
    X, y, tasks = _data()
    Y = np.full((len(X), 2), np.nan)
    Y[tasks != 0, 0], Y[tasks != 1, 1] = y[tasks != 0] > 0, y[tasks != 1] > 1
    sizes = []
    real = LazyRows.__array__

    def spy(self, *args, **kwargs):
        sizes.append(len(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LazyRows, "__array__", spy)
    data = RowDataset(X)
    clf = MultiTaskClassifier(**NET, early_stopping=True).fit(data, Y)
    assert sizes and max(sizes) <= 64
    assert data.reads == sum(sizes) + 1  # one more: the first row, for the shape
    assert clf.predict(data).shape == Y.shape


def test_streamed_nan_is_a_clear_error(tmp_path):
    X, y, tasks = _data()
    X[500, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        MultiTaskRegressor(**NET).fit(_memmap(tmp_path, X), y, tasks=tasks)
    with pytest.raises(ValueError, match="expecting 5 features"):
        MultiTaskRegressor(**NET).fit(np.nan_to_num(X), y,
                                      tasks=tasks).predict(RowDataset(X[:, :4]), tasks=tasks)


def test_trains_on_a_memmap_larger_than_the_memory_budget(tmp_path):
    """A 205 MB memmap under a budget of 110 MB of private memory.

    RLIMIT_DATA caps the process's private memory (heap and anonymous maps), not
    the file-backed map: loading X whole, or one copy of it, fails with MemoryError.
    """
    n, p = 400_000, 128
    path = tmp_path / "big.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, p))
    rng = np.random.RandomState(0)
    for start in range(0, n, 50_000):
        mm[start : start + 50_000] = rng.randn(50_000, p)
    y = np.asarray(mm[:, 0] + 0.5 * mm[:, 1])
    tasks = np.arange(n) % 2
    del mm
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "tasks.npy", tasks)
    script = textwrap.dedent(f"""
        import resource, numpy as np, torch
        from skmtl import MultiTaskRegressor
        torch.set_num_threads(1)
        X = np.load({str(path)!r}, mmap_mode="r")
        y, tasks = np.load({str(tmp_path / 'y.npy')!r}), np.load({str(tmp_path / 'tasks.npy')!r})
        est = MultiTaskRegressor(backend="torch", hidden_layer_sizes=(8,), max_epochs=2,
                                 learning_rate=1e-2,
                                 batch_size=4096, random_state=0, device="cpu")
        est.fit(X[:1000], y[:1000], tasks=tasks[:1000])  # warm-up: lazy imports, allocators
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        data_kb = int(status["VmData"].split()[0])
        budget = data_kb * 1024 + 110 * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (budget, budget))
        try:
            np.ones(X.shape, dtype=np.float32)
        except MemoryError:
            print("a copy of X does not fit")
        est.fit(X, y, tasks=tasks)
        print("score", est.score(X[:20000], y[:20000], tasks=tasks[:20000]))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "a copy of X does not fit" in run.stdout
    assert float(run.stdout.split("score")[1]) > 0.9


def test_an_array_too_large_for_the_gpu_is_streamed_from_host_memory(monkeypatch):
    from skmtl.nn import _rows

    X, y, tasks = _data()
    ref = MultiTaskRegressor(**NET).fit(X, y, tasks=tasks)
    monkeypatch.setattr(_rows, "fits_on_device", lambda *args: False)
    sources = []
    real = _rows.RowSource.__init__

    def spy(self, *args):
        real(self, *args)
        sources.append(self.streamed)

    monkeypatch.setattr(_rows.RowSource, "__init__", spy)
    est = MultiTaskRegressor(**NET).fit(X, y, tasks=tasks)
    assert sources == [True]
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-6)


def test_sparse_X_is_made_dense_one_batch_at_a_time(monkeypatch):
    import scipy.sparse as sp

    X, y, tasks = _data()
    X[X < 0.5] = 0.0
    ref = MultiTaskRegressor(**NET).fit(X, y, tasks=tasks)
    sizes = []
    real = sp.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        sizes.append(self.shape[0])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)
    est = MultiTaskRegressor(**NET).fit(sp.csr_matrix(X), y, tasks=tasks)
    assert sizes and max(sizes) <= NET["batch_size"] < len(X)  # a training batch
    sizes.clear()
    from skmtl.nn._backend import network_outputs

    monkeypatch.setattr("skmtl.nn._engines.network_outputs",
                        lambda est, X: network_outputs(est, X, batch_size=100))
    pred = est.predict(sp.csr_matrix(X), tasks=tasks)
    assert sizes and max(sizes) <= 100  # a prediction batch
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(pred, ref.predict(X, tasks=tasks), rtol=1e-5, atol=1e-6)
