"""Training on several processes with torch.distributed (gloo, CPU), launched by torchrun."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

SCRIPT = textwrap.dedent("""
    import faulthandler, os, sys
    faulthandler.enable()  # a crash in a rank prints its Python stack
    import numpy as np, torch
    import torch.distributed as dist
    from skmtl import MultiTaskClassifier, MultiTaskRegressor
    from skmtl.nn import _rows

    forwarded = []  # rows of X this process puts through the network in training
    batch = _rows.RowSource.batch
    _rows.RowSource.batch = lambda self, rows, rows_t: forwarded.append(len(rows)) or \
        batch(self, rows, rows_t)

    torch.set_num_threads(1)
    out, weighting = sys.argv[1], sys.argv[2]
    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rng = np.random.RandomState(0)
    X = rng.randn(600, 6)
    tasks = rng.randint(3, size=600)
    y = np.tanh(X[:, 0]) * (1 + tasks) + X[:, 1] + 0.1 * rng.randn(600)
    Y = np.column_stack([y > 0, y > 1]).astype(float)
    Y[tasks == 0, 1] = np.nan
    rows = []
    net = MultiTaskRegressor(backend="torch", hidden_layer_sizes=(16,), max_epochs=8,
                             batch_size=64, dtype="float64", random_state=0, device="cpu",
                             loss_weighting=weighting, early_stopping=True)
    try:
        net.fit(X, y, tasks=tasks)
    except ValueError as exc:
        if not distributed or dist.get_rank() == 0:
            open(out, "w").write("ValueError: " + str(exc))
        sys.exit(0)
    clf = MultiTaskClassifier(backend="torch", hidden_layer_sizes=(16,), max_epochs=5,
                              batch_size=50, dtype="float64", random_state=0, device="cpu")
    clf.fit(X, Y)
    if not distributed or dist.get_rank() == 0:
        np.savez(out, reg=net.predict(X, tasks=tasks), loss=net.loss_curve_,
                 val=net.validation_scores_, proba=np.column_stack(clf.predict_proba(X)),
                 n_iter=net.n_iter_, forwarded=sum(forwarded))
    if distributed:  # tear down together: a rank leaving early can abort in gloo
        dist.barrier()
        dist.destroy_process_group()
""")


def _run(tmp_path, weighting, nproc):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = tmp_path / f"out_{nproc}_{weighting}.npz"
    cmd = [sys.executable, str(script), str(out), weighting] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}", str(script), str(out), weighting]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    if run.returncode and "terminate called without an active exception" in run.stderr:
        # A rank aborted inside torch's C++ runtime (seen in 2 of ~8 full CI runs, never
        # alone or under load; the Python stack is printed by faulthandler): retry once.
        start = max(0, run.stderr.find("Fatal Python error"))  # the rank's Python stack
        warnings.warn(f"torchrun: a rank aborted, retrying once\n{run.stderr[start:][:3000]}")
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def test_two_processes_give_the_one_process_model(tmp_path):
    one = np.load(_run(tmp_path, "equal", 1))
    two = np.load(_run(tmp_path, "equal", 2))
    assert int(one["n_iter"]) == int(two["n_iter"])  # same early-stopping decisions
    assert abs(int(two["forwarded"]) - int(one["forwarded"]) / 2) <= 0.01 * int(one["forwarded"])
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-8)
    np.testing.assert_allclose(two["val"], one["val"], rtol=1e-8)
    np.testing.assert_allclose(two["reg"], one["reg"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(two["proba"], one["proba"], rtol=1e-6, atol=1e-8)


def test_a_weighting_that_does_not_split_is_refused(tmp_path):
    out = _run(tmp_path, "uncertainty", 2)
    assert "only loss_weighting='equal'" in open(out).read()
