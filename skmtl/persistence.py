"""Saving fitted estimators in files that load without running code from them.

A pickle (``joblib.dump``) runs whatever code its file names when it is loaded, so
a model file from elsewhere is a program.  These formats hold data only:

* :func:`save_npz` / :func:`load_npz`: for the numpy models (and the torch linear
  model), a ``.npz`` of the fitted arrays, the parameters and other fitted values
  as JSON, read back with ``allow_pickle=False``.
* :func:`save_weights` / :func:`load_weights`: for the torch networks, the same
  state plus the network's ``state_dict`` in a ``torch.save`` file of tensors,
  strings and numbers only, read back with ``torch.load(weights_only=True)``.

Both rebuild only the classes of skmtl that make up an estimator (the estimators,
their engines and penalties, :class:`~skmtl.model_selection.TaskKFold`): a file
that names any other class is refused.  What cannot be stored that way (a
``scoring`` callable, ``callbacks``, a ``cv`` splitter of scikit-learn) is refused
at saving with the name of the attribute.  The optimizer state of a network is not
kept: a loaded network predicts, and a later ``fit`` starts afresh.

`skops <https://skops.readthedocs.io>`_ (``skops.io``) loads the numpy models too,
once the types it lists are trusted (skmtl's own)."""

import importlib
import json
import re

import numpy as np
import scipy.sparse as sp

__all__ = ["save_npz", "load_npz", "save_weights", "load_weights"]

_FORMAT = "skmtl-state"
_VERSION = 1
# the modules whose classes may be rebuilt (estimators, engines, penalties, losses,
# TaskKFold), and the front doors a file may hold
_MODULES = re.compile(r"skmtl\.(_estimators|linear|model_selection|nn\._engines)(\.\w+)*")
_ESTIMATORS = ("MultiTaskRegressor", "MultiTaskClassifier", "MultiTaskRegressorCV",
               "MultiTaskClassifierCV", "MultiTaskEstimator")
# rebuilt by load_weights, or not kept (the optimizer; the device, set to the CPU)
_NOT_STORED = ("module_", "_trainer", "device_")


class _Encoder:
    """A value as JSON, its arrays aside (``arrays``: name -> ndarray)."""

    def __init__(self, text_arrays):
        self.arrays = {}
        self.text_arrays = text_arrays  # str arrays as arrays (npz) or as JSON lists

    def __call__(self, value, path):
        if isinstance(value, np.generic):  # before float and str: np.float64 is a float
            return {"__scalar__": value.dtype.str, "value": value.item()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.dtype):
            return {"__dtype__": value.str}
        if isinstance(value, np.ndarray):
            return self._array(value, path)
        if isinstance(value, (list, tuple)):
            items = [self(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__tuple__": items}
        if isinstance(value, slice):
            return {"__slice__": [value.start, value.stop, value.step]}
        if sp.issparse(value):
            csr = value.tocsr()
            return {"__sparse__": not isinstance(value, sp.spmatrix),  # array or matrix
                    "parts": [self._array(a, path) for a in (csr.data, csr.indices,
                                                               csr.indptr)],
                    "shape": list(csr.shape)}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self(v, f"{path}[{k!r}]") for k, v in value.items()}}
        if _class_name(type(value)) is not None:
            return {"__object__": _class_name(type(value)),
                    "state": self(dict(vars(value)), path)["__dict__"]}
        if type(value).__name__ == "device" and type(value).__module__ == "torch":
            return {"__device__": "cpu"}
        raise TypeError(
            f"{path} is a {type(value).__module__}.{type(value).__qualname__}, which these "
            "files do not hold (numbers, strings, arrays, lists and skmtl's own objects "
            "only): set it to a plain value, or save with skops.io.")

    def _array(self, value, path):
        if value.dtype.kind == "O":  # labels given as objects: each one a plain value
            return {"__objects__": [self(v, path) for v in value.ravel()],
                    "shape": list(value.shape)}
        if value.dtype.kind in "US" and not self.text_arrays:
            return {"__text__": value.ravel().tolist(), "dtype": value.dtype.str,
                    "shape": list(value.shape)}
        if value.dtype.kind not in "biufcUS":
            raise TypeError(f"{path} is an array of {value.dtype}, which these files do "
                            "not hold.")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return {"__array__": key}


def _is_state_class(cls):
    """Whether instances of ``cls`` are plain state skmtl may rebuild."""
    from sklearn.base import BaseEstimator
    from sklearn.model_selection import BaseCrossValidator

    from .base import Engine

    return (_MODULES.fullmatch(cls.__module__) is not None and "." not in cls.__qualname__
            and (issubclass(cls, (BaseEstimator, Engine, BaseCrossValidator))
                 or cls.__module__ == "skmtl.linear._losses"))


def _class_name(cls):
    return f"{cls.__module__}:{cls.__qualname__}" if _is_state_class(cls) else None


def _class(name):
    module, _, qualname = name.partition(":")
    if _MODULES.fullmatch(module) is None or not qualname.isidentifier():
        raise ValueError(f"The file names the class {name!r}, not one of skmtl's "
                         "estimators, engines or penalties: refused.")
    cls = getattr(importlib.import_module(module), qualname, None)
    if not isinstance(cls, type) or cls.__module__ != module or not _is_state_class(cls):
        raise ValueError(f"The file names {name!r}, which is no class of skmtl's "
                         "estimators, engines or penalties: refused.")
    return cls


def _new(cls, state):
    obj = object.__new__(cls)  # no __init__, no __setstate__: data only
    obj.__dict__.update(state)
    return obj


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    (tag, content), *_ = value.items()
    if tag == "__scalar__":
        return np.dtype(content).type(value["value"])
    if tag == "__dtype__":
        return np.dtype(content)
    if tag == "__array__":
        return arrays[content]
    if tag == "__objects__":
        out = np.empty(len(content), dtype=object)
        out[:] = [_decode(v, arrays) for v in content]
        return out.reshape(value["shape"])
    if tag == "__text__":
        return np.array(content, dtype=value["dtype"]).reshape(value["shape"])
    if tag == "__tuple__":
        return tuple(_decode(v, arrays) for v in content)
    if tag == "__slice__":
        return slice(*content)
    if tag == "__sparse__":
        parts = [_decode(v, arrays) for v in value["parts"]]
        kind = sp.csr_array if content else sp.csr_matrix
        return kind(tuple(parts), shape=tuple(value["shape"]))
    if tag == "__dict__":
        return {k: _decode(v, arrays) for k, v in content.items()}
    if tag == "__device__":
        import torch

        return torch.device("cpu")
    if tag == "__object__":
        return _new(_class(content), {k: _decode(v, arrays) for k, v in value["state"].items()})
    raise ValueError(f"Unknown entry {tag!r} in the file.")


def _encode_estimator(est, text_arrays):
    name = _class_name(type(est))
    if name is None or type(est).__name__ not in _ESTIMATORS:
        raise TypeError(f"These files hold skmtl's estimators ({', '.join(_ESTIMATORS)}), "
                        f"not {type(est).__name__}.")
    if not hasattr(est, "n_features_in_"):
        raise ValueError(f"This {type(est).__name__} is not fitted yet: fit it first.")
    encode = _Encoder(text_arrays)
    state = {k: v for k, v in vars(est).items() if k not in _NOT_STORED}
    import skmtl

    meta = {"format": _FORMAT, "version": _VERSION, "skmtl": skmtl.__version__,
            "class": name, "state": encode(state, type(est).__name__)["__dict__"]}
    return json.dumps(meta), encode.arrays


def _decode_estimator(text, arrays, path):
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path} holds no skmtl model ({exc}).") from exc
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"{path} holds no skmtl model (written by save_npz or "
                         "save_weights).")
    if meta.get("version") != _VERSION:
        raise ValueError(f"{path} is in version {meta.get('version')} of the format; "
                         f"this skmtl reads version {_VERSION}.")
    cls = _class(meta["class"])
    if cls.__name__ not in _ESTIMATORS:
        raise ValueError(f"{path} holds a {cls.__name__}, not an estimator.")
    try:
        return _decode({"__object__": meta["class"], "state": meta["state"]}, arrays)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"{path} is not a well-formed skmtl model file ({exc!r}).") from exc


def save_npz(est, path):
    """Save a fitted numpy-backend estimator as arrays and JSON, without pickle.

    Parameters
    ----------
    est : MultiTaskRegressor, MultiTaskClassifier, MultiTaskRegressorCV or \
MultiTaskClassifierCV
        A fitted estimator whose model is not a torch network (the numpy backend,
        or the torch backend's linear model); :func:`save_weights` saves networks.
    path : str or Path
        The ``.npz`` file to write.

    Raises
    ------
    TypeError
        When a parameter or fitted value is not a number, string, array, list, or
        one of skmtl's objects (the message names it), or ``est`` is a network.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skmtl import MultiTaskRegressor
    >>> from skmtl.persistence import load_npz, save_npz
    >>> rng = np.random.RandomState(0)
    >>> X, Y = rng.randn(30, 4), rng.randn(30, 3)
    >>> model = MultiTaskRegressor(penalty="trace", alpha=0.1).fit(X, Y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> save_npz(model, path)
    >>> np.allclose(load_npz(path).predict(X), model.predict(X))
    True
    """
    if hasattr(est, "module_"):
        raise TypeError(f"This {type(est).__name__} is a torch network: save it with "
                        "skmtl.persistence.save_weights.")
    text, arrays = _encode_estimator(est, text_arrays=True)
    meta = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez_compressed(f, __skmtl__=meta, **arrays)


def load_npz(path):
    """Load an estimator written by :func:`save_npz`; no code from the file runs.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save_npz`.

    Returns
    -------
    estimator
        The fitted estimator, as it was saved.

    Raises
    ------
    ValueError
        When the file is not one of :func:`save_npz`, or names a class that is not
        one of skmtl's estimators, engines or penalties.

    Examples
    --------
    A classifier with string labels and task ids, in a folder that is removed
    afterwards:

    >>> from tempfile import TemporaryDirectory
    >>> import numpy as np
    >>> from skmtl import MultiTaskClassifier
    >>> from skmtl.persistence import load_npz, save_npz
    >>> X = np.random.RandomState(0).randn(40, 3)
    >>> tasks = np.repeat(["north", "south"], 20)
    >>> y = np.where(X[:, 0] + X[:, 1] > 0, "buy", "pass")
    >>> model = MultiTaskClassifier(alpha=0.01).fit(X, y, tasks=tasks)
    >>> with TemporaryDirectory() as folder:
    ...     save_npz(model, f"{folder}/model.npz")
    ...     loaded = load_npz(f"{folder}/model.npz")
    >>> north = ["north"] * 3
    >>> loaded.predict(X[:3], tasks=north).tolist() == model.predict(X[:3], tasks=north).tolist()
    True
    """
    with np.load(path, allow_pickle=False) as data:
        if "__skmtl__" not in data.files:
            raise ValueError(f"{path} holds no skmtl model (written by save_npz).")
        text = data["__skmtl__"].tobytes().decode("utf-8")
        arrays = {k: data[k] for k in data.files if k != "__skmtl__"}
    return _decode_estimator(text, arrays, path)


def save_weights(est, path):
    """Save a fitted torch-backend estimator: ``torch.save`` of tensors and strings.

    The network's ``state_dict`` (on the CPU) and the estimator's parameters and
    fitted values (JSON, their arrays as tensors); nothing in the file needs
    ``pickle`` to load beyond what ``torch.load(weights_only=True)`` allows.

    Parameters
    ----------
    est : estimator with ``backend="torch"``
        A fitted :class:`~skmtl.MultiTaskRegressor`, :class:`~skmtl.MultiTaskClassifier`
        or :class:`~skmtl.MultiTaskEstimator`.  A custom ``module=`` trunk is not
        stored: give it again to :func:`load_weights`.
    path : str or Path
        The file to write (``.pt``).

    Examples
    --------
    >>> from pathlib import Path
    >>> from tempfile import mkdtemp
    >>> import numpy as np
    >>> from skmtl import MultiTaskRegressor
    >>> from skmtl.persistence import load_weights, save_weights
    >>> X = np.random.RandomState(0).randn(40, 3)
    >>> Y = np.column_stack([X.sum(axis=1), np.tanh(X[:, 0])])
    >>> net = MultiTaskRegressor(backend="torch", hidden_layer_sizes=(8,),
    ...                          max_epochs=5, random_state=0).fit(X, Y)
    >>> path = Path(mkdtemp()) / "net.pt"
    >>> save_weights(net, path)
    >>> np.allclose(load_weights(path).predict(X), net.predict(X))
    True
    """
    import torch

    custom = getattr(est, "module", None)
    if custom is not None:  # a shallow copy without it, the fitted state shared
        est = _new(type(est), {**vars(est), "module": None})
    text, arrays = _encode_estimator(est, text_arrays=False)
    payload = {"skmtl": text, "custom_module": custom is not None,
               "arrays": {k: torch.from_numpy(np.ascontiguousarray(v))
                          for k, v in arrays.items()}}
    if hasattr(est, "module_"):
        payload["state_dict"] = {k: v.detach().cpu()
                                 for k, v in est.module_.state_dict().items()}
    torch.save(payload, path)


def load_weights(path, *, module=None):
    """Load an estimator written by :func:`save_weights`, with ``weights_only=True``.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save_weights`.
    module : torch.nn.Module or its class, default=None
        The custom trunk the estimator was fitted with (``module=``), when it was:
        the file holds its weights, not its code.

    Returns
    -------
    estimator
        The fitted estimator on the CPU, ready to predict.

    Examples
    --------
    A three-class network shared by two tasks, its file in a temporary folder:

    >>> from tempfile import TemporaryDirectory
    >>> import numpy as np
    >>> from skmtl import MultiTaskClassifier
    >>> from skmtl.persistence import load_weights, save_weights
    >>> X = np.random.RandomState(0).randn(60, 3)
    >>> y, tasks = np.digitize(X[:, 0], [-0.5, 0.5]), np.repeat(["a", "b"], 30)
    >>> net = MultiTaskClassifier(backend="torch", max_epochs=3, random_state=0)
    >>> with TemporaryDirectory() as folder:
    ...     save_weights(net.fit(X, y, tasks=tasks), f"{folder}/net.pt")
    ...     proba = load_weights(f"{folder}/net.pt").predict_proba(X, tasks=tasks)
    >>> np.allclose(proba, net.predict_proba(X, tasks=tasks))
    True
    """
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "skmtl" not in payload:
        raise ValueError(f"{path} holds no skmtl model (written by save_weights).")
    arrays = {k: v.numpy() for k, v in payload.get("arrays", {}).items()}
    est = _decode_estimator(payload["skmtl"], arrays, path)
    if payload.get("custom_module"):
        if module is None:
            raise ValueError(f"{path} was fitted with a custom module= trunk, whose code "
                             "the file does not hold: give it as load_weights(path, "
                             "module=...).")
        est.module = module
    if "state_dict" in payload:
        est.module_ = _network(est, payload["state_dict"])
        est.device_ = torch.device("cpu")
    return est


def _network(est, state_dict):
    """The estimator's network, built as in fit, with the saved weights."""
    from .nn._backend import DTYPES, build_network

    widths = [s.stop - s.start for s in est._out_slices]
    out_task = np.repeat(np.arange(len(widths)), widths)
    net = build_network(est, est.n_features_in_, out_task, est.n_tasks_)
    net = net.to(dtype=DTYPES[est.dtype])
    net.load_state_dict(state_dict)
    return net.eval()
