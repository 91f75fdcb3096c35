"""GPU paths: run where a CUDA GPU is present, skipped (with the reason) elsewhere."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

from skmtl import MultiTaskClassifier, MultiTaskEstimator, MultiTaskRegressor  # noqa: E402
from skmtl.meta import MetaLearnerClassifier  # noqa: E402

NET = dict(backend="torch", hidden_layer_sizes=(32,), max_epochs=20, random_state=0,
           learning_rate=1e-2)


def _data(n_tasks=3, n=60, p=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_tasks * n, p)
    tasks = np.repeat(np.arange(n_tasks), n)
    y = np.tanh(X[:, :3]).sum(1) * (1 + tasks) + 0.1 * rng.randn(len(X))
    return X, y, tasks


def _predict_without_gpu(blob, X, tasks=None):
    """Unpickle and predict in a fresh process that cannot see the GPU."""
    code = ("import pickle, sys, numpy as np, torch; assert not torch.cuda.is_available(); "
            "est, X, tasks = pickle.loads(sys.stdin.buffer.read()); "
            "out = est.predict(X) if tasks is None else est.predict(X, tasks=tasks); "
            "sys.stdout.buffer.write(pickle.dumps(np.asarray(out)))")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, "-c", code], input=pickle.dumps((blob, X, tasks)),
                         capture_output=True, env=env, check=True)
    return pickle.loads(run.stdout)


def test_auto_device_trains_on_the_gpu():
    X, y, tasks = _data()
    est = MultiTaskRegressor(**NET, device="auto").fit(X, y, tasks=tasks)
    assert est.device_.type == "cuda"
    assert next(est.module_.parameters()).is_cuda
    assert est.score(X, y, tasks=tasks) > 0.5


@pytest.mark.parametrize("make", [
    lambda: MultiTaskRegressor(**NET, device="cuda"),
    lambda: MultiTaskClassifier(**NET, device="cuda", loss_weighting="upgrad"),
    lambda: MultiTaskEstimator(task_types={0: "classification", 1: "regression",
                                           2: "regression"}, hidden_layer_sizes=(16,),
                               max_epochs=10, random_state=0, device="cuda"),
])
def test_gpu_model_loads_and_predicts_on_a_cpu_only_machine(make):
    X, y, tasks = _data()
    est = make()
    if isinstance(est, MultiTaskClassifier) or isinstance(est, MultiTaskEstimator):
        y = np.where(tasks == 0, (y > 0).astype(float), y)
        if isinstance(est, MultiTaskClassifier):
            y = (y > np.median(y)).astype(int)
    est.fit(X, y, tasks=tasks)
    expected = np.asarray(est.predict(X, tasks=tasks), dtype=float)  # mixed: object array
    np.testing.assert_allclose(np.asarray(_predict_without_gpu(est, X, tasks), dtype=float),
                               expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("weighting", ["equal", "uncertainty", "dwa", "gradnorm", "pcgrad",
                                       "mgda", "upgrad"])
def test_every_loss_weighting_trains_on_the_gpu(weighting):
    X, y, tasks = _data()
    est = MultiTaskRegressor(**NET, device="cuda", loss_weighting=weighting)
    est.fit(X, y, tasks=tasks)
    assert np.isfinite(est.loss_curve_).all() and est.loss_curve_[-1] < est.loss_curve_[0]


@pytest.mark.parametrize("penalty", ["l21", "trace", "graph"])
def test_linear_problem_on_the_gpu_matches_the_numpy_backend(penalty):
    X, y, tasks = _data(n=200)
    ref = MultiTaskRegressor(penalty=penalty, alpha=0.01, tol=1e-10, max_iter=5000)
    ref.fit(X, y, tasks=tasks)
    gpu = MultiTaskRegressor(penalty=penalty, alpha=0.01, backend="torch", hidden_layer_sizes=(),
                             device="cuda", dtype="float64", tol=1e-10, max_iter=5000)
    gpu.fit(X, y, tasks=tasks)
    np.testing.assert_allclose(gpu.coef_, ref.coef_, atol=1e-5)


@pytest.mark.parametrize("algorithm", ["protonet", "maml", "anil", "metasgd", "reptile"])
def test_meta_learner_on_the_gpu_loads_on_a_cpu_only_machine(algorithm):
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(12), 8)
    X = 3 * rng.randn(12, 5)[y] + rng.randn(len(y), 5)
    meta = MetaLearnerClassifier(algorithm, n_episodes=20, random_state=0, device="cuda")
    meta.fit(X, y)
    assert next(meta.module_.parameters()).is_cuda
    assert meta.score(X, y) > 0.25  # 12 classes: chance is 0.083
    np.testing.assert_array_equal(_predict_without_gpu(meta, X), meta.predict(X))
    clf = meta.adapt(X[::8], y[::8])
    np.testing.assert_array_equal(_predict_without_gpu(clf, X), clf.predict(X))


@pytest.mark.parametrize("algorithm", ["protonet", "maml", "fomaml", "reptile", "anil",
                                       "metasgd"])
def test_conv4_meta_batch_on_the_gpu_equals_the_cpu_loop(algorithm):
    """On a GPU conv4's meta-batch runs under vmap (but MAML / Meta-SGD, second order
    through batch norm): the same loss and meta-gradients as the CPU's loop."""
    from skmtl.meta import _algorithms
    from skmtl.meta._backbones import conv4

    def run(device):
        torch.manual_seed(0)
        net = conv4(1, width=8).double().to(device)
        algo = _make(algorithm, net, 8).to(device)
        gen = torch.Generator().manual_seed(1)
        XS, XQ = (torch.randn(4, n, 1, 16, 16, generator=gen, dtype=torch.double)
                  for n in (5, 10))
        YS, YQ = torch.arange(5).repeat(4, 1), torch.arange(5).repeat_interleave(2).repeat(4, 1)
        loss = algo.meta_backward(net, *(t.to(device) for t in (XS, YS, XQ, YQ)), 5)
        params = list(net.parameters()) + list(algo.parameters())
        return loss.cpu(), [p.grad.cpu() for p in params]

    calls = []
    real = _algorithms.vmap
    _algorithms.vmap = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        gpu_loss, gpu_grads = run("cuda")
    finally:
        _algorithms.vmap = real
    cpu_loss, cpu_grads = run("cpu")
    assert len(calls) == (0 if algorithm in ("maml", "metasgd") else 1)
    torch.testing.assert_close(gpu_loss, cpu_loss)
    for g, c in zip(gpu_grads, cpu_grads):
        torch.testing.assert_close(g, c, rtol=1e-6, atol=1e-8)


def _make(algorithm, net, width):
    from skmtl.meta._algorithms import GradientBased, ProtoNet, Reptile

    if algorithm == "protonet":
        return ProtoNet()
    if algorithm == "reptile":
        return Reptile(net, width, 0.3, 3)
    return GradientBased(net, width, 0.5, 2, first_order=algorithm == "fomaml",
                         head_only=algorithm == "anil", learn_lr=algorithm == "metasgd")
