"""The parameter and attribute documentation the estimators share."""

_SHARED_DOC = """
    penalty : {"l21", "l1", "l2", "trace", "mean", "graph", "cluster", "dirty", \
"relationship", "robust"} or Penalty, default="l21"
        How the tasks are coupled.  A name uses the penalty's defaults; an object
        (:class:`~skmtl.linear.GraphRegularized`, ...) sets its parameters, which
        ``GridSearchCV`` can tune as ``penalty__<name>``.
    alpha : float or "auto", default="auto"
        Strength of the penalty (``alpha >= 0``).  ``"auto"``: a default chosen
        from the data (see :ref:`default_alpha`), the alpha used in ``alpha_``.
    fit_intercept : bool, default=True
        Fit one unpenalized intercept per task.
    positive : bool, default=False
        Constrain the coefficients to be non-negative (as ``Lasso(positive=True)``);
        for the penalties ``"l21"``, ``"l1"``, ``"l2"`` and their elastic mixes,
        solved by coordinate descent (l21, l1 and their elastic mixes) or FISTA
        (l2); the exact solver does not apply.
    solver : {"auto", "exact", "cd", "admm", "fista"}, default="auto"
        ``"exact"``: one structured factorization, for the quadratic penalties
        (``"l2"``, ``"mean"``, ``"graph"``) with the squared loss.  ``"cd"``: block
        coordinate descent in Gram form with Gap Safe screening and working sets,
        for ``"l21"``, ``"l1"`` and their elastic mixes with the squared loss.  ``"admm"``: ADMM with
        exact W-steps on the same factorization, for ``"trace"``, ``"cluster"`` and
        ``"dirty"`` (or any penalty with a prox and a dual) with the squared loss.  ``"fista"``: accelerated proximal
        gradient, every penalty and loss.  ``"auto"``: with the squared loss,
        ``"exact"`` for l2, mean and graph (when the factorization fits in memory),
        ``"cd"`` for l21, l1 and their mixes, ``"admm"`` for trace, cluster and
        dirty; FISTA otherwise.  ``alpha=0`` is the least-squares solution where it is unique.  A
        solver that cannot take the problem is a ValueError naming what it needs.
{precompute}    max_iter : int, default=1000
        Maximum number of iterations (epochs for ``"cd"``).
    tol : float, default=1e-4
        Stop when the duality gap falls under ``tol`` times the data-fit term at
        zero (for the squared loss: the sum of the tasks' label variances, as
        sklearn's ``MultiTaskLasso`` does); for a graph penalty with ``ridge=0``,
        which has no finite dual, when the relative size of a proximal-gradient
        step falls under ``tol``.
    warm_start : bool, default=False
        Start from the previous solution when refitting on data of the same shape.
        On the same data with the same alpha the solver's run continues (FISTA's
        momentum and step, ADMM's dual and rho: ``max_iter=5`` twice is
        ``max_iter=10``); a new alpha or new data restarts the momentum.
    unknown_task : {"error", "shared"}, default="error"
        What ``predict`` does with a task not seen in fit (long format).
        ``"error"``: a ValueError naming it.  ``"shared"``: predict with the part of
        the model common to all tasks (see :ref:`new_tasks`).
    verbose : int, default=0
        Print solver progress (and, for the torch backend, one line an epoch).
    backend : {"numpy", "torch"}, default="numpy"
        ``"numpy"``: the regularized linear model above.  ``"torch"``: a network with
        a trunk shared by all tasks and one head per task (hard parameter
        sharing), trained by mini-batch AdamW on the same per-task mean losses;
        the parameters below apply to it (``penalty`` and ``alpha`` only to the
        linear model, ``hidden_layer_sizes=()``).  Three configurations follow:
        the numpy linear model (``backend="numpy"``: ``penalty`` to ``warm_start``),
        the linear model on a torch device (``backend="torch",
        hidden_layer_sizes=()``: the same but ``precompute`` and ``solver="cd"``,
        plus ``device`` and ``dtype``) and the network (``backend="torch"`` with
        hidden layers, ``module`` or ``architecture="mmoe"``: ``hidden_layer_sizes``
        to ``dtype``, plus ``tol``, ``warm_start``).  A parameter set away from its
        default that the chosen configuration does not use is a ``ValueError``
        naming the setting that uses it; ``verbose`` and ``random_state`` are
        accepted by all three (the numpy solvers are deterministic).
    hidden_layer_sizes : tuple of int, default=(64,)
        Widths of the shared trunk's layers (torch backend; narrower than
        sklearn's MLP default of 100: the trunk is shared, and on School and
        Landmine 64 scores 0.015 and 0.006 above 100).  ``()`` is the
        regularized linear model of the numpy backend (same objective, penalty and
        solver, same solution) with the products with X on the torch device.
    activation : {"relu", "tanh", "logistic", "gelu", "identity"}, default="tanh"
        The trunk's activation: a key of ``skmtl.nn.ACTIVATIONS``.
    dropout : float, default=0.0
    batch_norm : bool, default=False
    architecture : {"shared", "mmoe"}, default="shared"
        ``"mmoe"``: Multi-gate Mixture-of-Experts, ``n_experts`` trunks mixed by a
        gate per task (soft sharing).
    n_experts : int, default=4
    module : torch.nn.Module, its class, or None, default=None
        A custom trunk mapping (batch, n_features) to (batch, width) (images, text
        embeddings ...); replaces the MLP trunk.
    loss_weighting : str or LossWeighting, default="equal"
        How the per-task losses make one update: a key of ``skmtl.nn.WEIGHTINGS``
        (``"equal"``, their sum; ``"uncertainty"``, Kendall et al. 2018; ``"dwa"``,
        dynamic weight average, Liu et al. 2019; ``"rlw"``, random loss weighting;
        ``"famo"``; ``"gradnorm"``, Chen et al. 2018; or an aggregation of the
        per-task gradients of the shared parameters: ``"pcgrad"``, ``"mgda"``,
        ``"cagrad"``, ``"nash_mtl"``, ``"upgrad"``, ``"imtl_g"``, ``"aligned_mtl"``,
        ``"fairgrad"``, ``"dualproj"``, ``"config"``, ``"gradvac"``, from torchjd;
        CAGrad and Nash-MTL also need cvxpy), or a configured object such as
        ``skmtl.nn.CAGrad(c=0.2)``, whose settings ``GridSearchCV`` tunes as
        ``loss_weighting__c``.
    learning_rate : float or "auto", default="auto"
        AdamW's step size; ``"auto"``: 1e-2 without validation rows (below 1,000
        rows by default, see ``early_stopping``); with them, 5e-3 for the shared
        layers and 1e-3 for the task heads (see the torch user guide, "Defaults,
        measured").  A number is used for every parameter.
    weight_decay : float, default=0.1
        AdamW's decoupled weight decay.
    batch_size : int or "auto", default="auto"
        With ``"auto"``, ``n_samples / 25`` rows a batch, clipped to [32, 256]
        (about 25 steps an epoch on small data).
    max_epochs : int, default=200
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the rows and stop when their loss has
        not improved by ``tol`` times its best value for ``n_iter_no_change``
        epochs (the best weights are kept); ``"auto"``: on from 1,000 rows, and
        from 200 when every task is a classification task; without it, the
        training loss is monitored.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, dropout and the shuffling: the same seed gives the same
        model on the CPU.
    device : str, default="auto"
        ``"auto"`` uses a CUDA GPU when there is one.
    dtype : {"float32", "float64"}, default="float32"
    callbacks : list of Callback, default=None
        Notified at the network's training events (``on_train_begin``,
        ``on_epoch_begin``, ``on_step``, ``on_epoch_end``, ``on_train_end``), after
        the built-in ones (finite-loss check, early stopping, progress): e.g.
        :class:`skmtl.nn.Timer`.  Each fit notifies deep copies, kept in
        ``callbacks_``.
"""

# The fitted attributes of each configuration, after the ones all share.
_NETWORK_ATTRIBUTES_DOC = """
    module_ : torch.nn.Module
        The trained network (torch backend with hidden layers, or after
        ``partial_fit``); it maps a batch to ``(features, outputs)``.
    loss_curve_ : list of float
        The training loss (the sum of the per-task mean losses, on the standardised
        regression targets) after each epoch.
    task_loss_curve_ : ndarray of shape (n_epochs, n_tasks)
        Each task's mean training loss after each epoch.
    validation_scores_ : list of float or None
        Minus the validation loss after each epoch with ``early_stopping=True``,
        else ``None``.
    device_ : torch.device
        Where the network was trained.
    callbacks_ : list of Callback
        The copies of ``callbacks`` this fit notified.
"""

# The attributes some penalties set (Penalty.fitted_attributes)
_STRUCTURE_ATTRIBUTES_DOC = """
    labels_ : ndarray of shape (n_tasks,)
        Task clusters (``penalty="cluster"`` only).
    task_covariance_ : ndarray of shape (n_tasks, n_tasks)
        The learned task covariance, trace 1 (``penalty="relationship"`` only).
    coef_lowrank_, coef_outlier_ : ndarray of shape (n_tasks, n_features)
        The low-rank and outlier parts of ``penalty="robust"``; they sum to ``coef_``.
    outlier_tasks_ : ndarray of shape (n_tasks,), dtype=bool
        Tasks with a nonzero outlier part (``penalty="robust"`` only).
"""

# MultiTaskRegressor's only (the squared loss's Gram form)
_PRECOMPUTE_DOC = """\
    precompute : "auto" or bool, default="auto"
        Whether the squared loss works on per-task Gram matrices (one iteration
        costs ``O(p^2 T)`` instead of a pass over X).  ``"auto"`` does so when that
        is cheaper than a pass over the data.
"""


def shared_doc(doc, precompute):
    """``doc`` with the shared parameter and network attribute entries filled in."""
    shared = _SHARED_DOC.replace("{precompute}", _PRECOMPUTE_DOC if precompute else "")
    return doc.replace("{shared}", shared.strip()).replace(
        "{network_attributes}", _NETWORK_ATTRIBUTES_DOC.strip()).replace(
        "{structure_attributes}", _STRUCTURE_ATTRIBUTES_DOC.strip())


_X_TASKS_DOC = """\
        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        tasks : array-like of shape (n_samples,), default=None
            Task of each row; required if and only if the model was fit with tasks."""


def predict_doc(method):
    """Fill ``{X_tasks}`` in ``method``'s docstring: the predict methods' parameters."""
    method.__doc__ = method.__doc__.replace("{X_tasks}", _X_TASKS_DOC.strip())
    return method
