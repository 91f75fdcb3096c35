"""GridSearchCV and our own n_jobs through joblib's dask and ray backends.

Each backend runs a real local cluster of worker processes on the loopback
interface (free ports, so pytest-xdist workers do not collide); the tests check,
in /proc, that every socket the cluster's processes listen on is a loopback one.  A recording
scorer notes, in a file, the process it ran in: the tests check that the work ran
on the cluster's workers, with scikit-learn's configuration (metadata routing)
carried there, and that the scores equal those of a sequential run.
"""

import ipaddress
import json
import os
import secrets
import sys
import uuid

import numpy as np
import pytest
import sklearn
from joblib import parallel_config
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmtl import MultiTaskClassifierCV, MultiTaskRegressor, MultiTaskRegressorCV
from skmtl.metrics import TaskScorer, make_task_scorer
from skmtl.model_selection import TaskKFold


def _dask_worker():
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.get_worker().address
    except ValueError:  # not in a dask worker
        return None


def _ray_actor():
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return ray.get_runtime_context().get_actor_id()


class _Recording(TaskScorer):
    """A task-aware scorer that writes down where (and how configured) it ran."""

    def __init__(self, metric, log_dir):
        super().__init__(metric)
        self.log_dir = log_dir

    def __call__(self, estimator, X, y_true, tasks=None, sample_weight=None):
        note = {"pid": os.getpid(), "dask": _dask_worker(), "ray": _ray_actor(),
                "routing": sklearn.get_config()["enable_metadata_routing"]}
        with open(os.path.join(self.log_dir, uuid.uuid4().hex + ".json"), "w") as f:
            json.dump(note, f)
        return super().__call__(estimator, X, y_true, tasks, sample_weight)


def _notes(log_dir):
    notes = []
    for name in os.listdir(log_dir):
        with open(os.path.join(log_dir, name)) as f:
            notes.append(json.load(f))
    return notes


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    # loopback only, every port picked free (pytest-xdist runs two of these); the
    # scheduler's HTTP routes (no dashboard) would otherwise try port 8787
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", scheduler_port=0,
                                  dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) \
            as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def ray_cluster():
    with pytest.MonkeyPatch.context() as mp:
        # On Linux Ray replaces a loopback node address (_node_ip_address="127.0.0.1"
        # included) with the machine's, and its gRPC servers (GCS, raylet, every
        # worker) then listen on all interfaces.  Switched off, "clusters" make the
        # node address 127.0.0.1 and every server binds loopback only.  Read when
        # ray is imported; the constant is set too for a ray imported earlier.
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        # token authentication (Ray >= 2.52) with a token of this session only:
        # nothing is written to ~/.ray, and no other process can drive the cluster
        mp.setenv("RAY_AUTH_MODE", "token")
        mp.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        ray = pytest.importorskip("ray")
        from ray._private import ray_constants
        from ray.util.joblib import register_ray

        mp.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False, raising=False)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
        register_ray()
        # ray's workers do not have pytest's sys.path: send this module's code along
        module = sys.modules[__name__]
        ray.cloudpickle.register_pickle_by_value(module)
        yield ray
        ray.cloudpickle.unregister_pickle_by_value(module)
        ray.shutdown()


def _descendants(pid):
    """``pid`` and every process started from it (Linux /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        found.add(p)
        todo.extend(c for c in children.get(p, []) if c not in found)
    return found


def _listening(pids):
    """(address, port) of every TCP socket in LISTEN state held by ``pids``."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:  # gone, or not ours to read
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    address, port = fields[1].split(":")
                    found.append((_ip(address), int(port, 16)))
    return found


def _ip(hex_address):
    """An address of /proc/net/tcp{,6} (32-bit words in host byte order) as text."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    return str(getattr(address, "ipv4_mapped", None) or address)


def _assert_loopback_only(pids):
    sockets = _listening(pids)
    assert sockets, "no listening socket found: the check would prove nothing"
    exposed = [(a, p) for a, p in sockets if not _is_loopback(a)]
    assert not exposed, f"listening beyond loopback: {exposed} (all: {sockets})"


def _is_loopback(address):
    return ipaddress.ip_address(address).is_loopback


def _on_dask_workers(client):
    """A check that a scorer's note came from one of the client's workers."""
    pids = set(client.run(os.getpid).values())
    addresses = set(client.scheduler_info()["workers"])
    return lambda note: note["pid"] in pids and note["dask"] in addresses


def _on_ray_workers(note):
    return note["pid"] != os.getpid() and note["ray"] is not None


def _long_problem(seed=0, n=180, p=5):
    rng = np.random.RandomState(seed)
    X = 2.0 * rng.randn(n, p) + 3.0
    tasks = rng.choice(["a", "b", "c"], n)
    y = X @ rng.randn(p) + 3.0 * np.select([tasks == "a", tasks == "b"],
                                           [X[:, 0], -X[:, 0]], 0.0)
    return X, y + 0.3 * rng.randn(n), tasks


def _wide_problem(seed=0, n=120, p=5, T=3):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    Y = X @ rng.randn(p, T) + 0.3 * rng.randn(n, T)
    Y[:30, 1] = np.nan
    return X, Y


def _search(case, scoring):
    if case == "pipeline":
        est = make_pipeline(StandardScaler(), MultiTaskRegressor())
        prefix = "multitaskregressor__"
    else:
        est, prefix = MultiTaskRegressor(), ""
    grid = {prefix + "penalty": ["mean", "trace"], prefix + "alpha": [1e-2, 1.0, 30.0]}
    cv = KFold(3, shuffle=True, random_state=0) if case == "wide" else TaskKFold(3)
    return GridSearchCV(est, grid, cv=cv, scoring=scoring, n_jobs=-1,
                        error_score="raise")


def _assert_same_search(got, ref):
    assert got.best_params_ == ref.best_params_
    for key in ("mean_test_score", *(f"split{k}_test_score" for k in range(3))):
        np.testing.assert_allclose(got.cv_results_[key], ref.cv_results_[key],
                                   rtol=1e-10, atol=1e-12)


def _check_grid_search(backend, ran_there, case, log_dir):
    """GridSearchCV(n_jobs=-1) under ``backend``: same results, scored on workers."""
    log_dir.mkdir()
    X, y, tasks = _long_problem()
    fit_params = {"tasks": tasks}
    if case == "wide":
        (X, y), fit_params = _wide_problem(), {}
    ref = _search(case, make_task_scorer(r2_score)).set_params(n_jobs=None)
    ref.fit(X, y, **fit_params)
    search = _search(case, _Recording(r2_score, str(log_dir)))
    with parallel_config(backend=backend):
        search.fit(X, y, **fit_params)
    _assert_same_search(search, ref)
    assert search.best_score_ > 0.9
    notes = _notes(log_dir)
    assert len(notes) == 6 * 3  # every candidate on every fold, scored remotely
    assert all(ran_there(n) for n in notes)
    # Pipeline.fit(X, y, tasks=...) on a worker needs the routing switch there too
    assert all(n["routing"] for n in notes)


def _check_cv_estimators(backend, ran_there, log_dir):
    """Our CV estimators with n_jobs=2 under ``backend``: same paths, on workers."""
    log_dir.mkdir()
    X, y, tasks = _long_problem()
    params = dict(penalty=["l21", "trace"], alphas=4, cv=3)
    ref = MultiTaskRegressorCV(scoring=make_task_scorer(r2_score), **params)
    ref.fit(X, y, tasks=tasks)
    model = MultiTaskRegressorCV(n_jobs=2, scoring=_Recording(r2_score, str(log_dir)),
                                 **params)
    labels = (y > np.median(y)).astype(int)
    ref_clf = MultiTaskClassifierCV(scoring=make_task_scorer(accuracy_score), **params)
    ref_clf.fit(X, labels, tasks=tasks)
    clf = MultiTaskClassifierCV(n_jobs=2, **params,
                                scoring=_Recording(accuracy_score, str(log_dir)))
    with parallel_config(backend=backend):
        model.fit(X, y, tasks=tasks)
        clf.fit(X, labels, tasks=tasks)
    np.testing.assert_allclose(model.mse_path_, ref.mse_path_, rtol=1e-10)
    assert (model.penalty_, model.alpha_) == (ref.penalty_, ref.alpha_)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(clf.scores_path_, ref_clf.scores_path_, rtol=1e-10)
    assert (clf.penalty_, clf.alpha_) == (ref_clf.penalty_, ref_clf.alpha_)
    notes = _notes(log_dir)
    # 2 penalties x 3 folds x 4 alphas, for each of the two estimators
    assert len(notes) == 2 * 2 * 3 * 4
    assert all(ran_there(n) for n in notes)
    # sklearn.utils.parallel carries the caller's sklearn configuration to workers
    assert all(n["routing"] for n in notes)


@pytest.mark.parametrize("case", ["long", "wide", "pipeline"])
def test_grid_search_on_dask(dask_client, case, routing, tmp_path):
    _check_grid_search("dask", _on_dask_workers(dask_client), case, tmp_path / "notes")


def test_cv_estimators_on_dask(dask_client, routing, tmp_path):
    _check_cv_estimators("dask", _on_dask_workers(dask_client), tmp_path / "notes")


linux_proc = pytest.mark.skipif(not os.path.exists("/proc/net/tcp"),
                                reason="reads the listening sockets in Linux's /proc")


@linux_proc
def test_dask_cluster_listens_on_loopback_only(dask_client):
    _assert_loopback_only(_descendants(os.getpid()))
    assert all(a.startswith("tcp://127.0.0.1:") for a in dask_client.scheduler_info()["workers"])


@linux_proc
def test_ray_cluster_listens_on_loopback_only(ray_cluster):
    """GCS, raylet, agents, task workers and actors: nothing on another interface."""
    @ray_cluster.remote
    class Probe:
        def pid(self):
            return os.getpid()

    actor = Probe.remote()  # an actor and task workers: each has its own gRPC server
    pids = {ray_cluster.get(actor.pid.remote()),
            *ray_cluster.get([ray_cluster.remote(_pid).remote() for _ in range(2)])}
    ray_processes = _descendants(os.getpid())
    assert pids <= ray_processes
    names = {_name_of(p) for p in ray_processes}
    assert {"gcs_server", "raylet"} <= names
    _assert_loopback_only(ray_processes)
    assert ray_cluster.util.get_node_ip_address() == "127.0.0.1"


def _pid():
    return os.getpid()


def _name_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def test_ray_backend(ray_cluster, routing, tmp_path):
    # one test, so that under pytest-xdist a single worker pays ray's start-up
    _check_grid_search("ray", _on_ray_workers, "pipeline", tmp_path / "grid")
    _check_cv_estimators("ray", _on_ray_workers, tmp_path / "cv")
