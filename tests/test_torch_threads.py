"""What doc/user_guide/torch_backend.rst says of thread counts (issue 16, item 14):
a batch-norm network is reproducible at a given number of CPU threads, and in
float64 the runs at 1 and 2 threads agree to rounding."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skmtl import MultiTaskRegressor  # noqa: E402
from skmtl.nn import Callback  # noqa: E402


def _fit_predict(threads, dtype="float32"):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rng = np.random.RandomState(0)
        X = rng.randn(600, 10)
        Y = np.tanh(X @ rng.randn(10, 3)) + 0.1 * rng.randn(600, 3)
        est = MultiTaskRegressor(backend="torch", hidden_layer_sizes=(32, 32),
                                 batch_norm=True, batch_size=100, max_epochs=5,
                                 dtype=dtype, random_state=0).fit(X, Y)
        return est.predict(X)
    finally:
        torch.set_num_threads(before)


def test_a_batch_norm_network_is_reproducible_at_a_given_thread_count():
    np.testing.assert_array_equal(_fit_predict(2), _fit_predict(2))


def test_in_float64_one_and_two_threads_agree_to_rounding():
    np.testing.assert_allclose(_fit_predict(1, "float64"), _fit_predict(2, "float64"),
                               rtol=0, atol=1e-8)


class _Threads(Callback):
    def on_epoch_end(self, loop, **kwargs):
        self.seen = torch.get_num_threads()


@pytest.mark.parametrize("limit, inside", [(None, 1), (0.0, 2)])
def test_small_steps_run_on_one_thread_and_restore_the_setting(monkeypatch, limit, inside):
    from skmtl.nn import _threads

    if limit is not None:  # every step "large": torch's setting is kept
        monkeypatch.setattr(_threads, "FLOPS_PER_THREAD", limit)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        rng = np.random.RandomState(0)
        X, Y = rng.randn(50, 4), rng.randn(50, 2)
        est = MultiTaskRegressor(backend="torch", hidden_layer_sizes=(8,), max_epochs=2,
                                 device="cpu", callbacks=[_Threads()]).fit(X, Y)
        assert est.callbacks_[0].seen == inside
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
