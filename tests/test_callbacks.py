"""The training-loop skeleton and its callbacks, in the network Trainer and the
meta-learners."""

import copy
import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skmtl.meta import MetaLearnerClassifier, MetaLearnerRegressor  # noqa: E402
from skmtl.nn import _callbacks  # noqa: E402
from skmtl.nn._callbacks import HOOKS, Callback, EarlyStopping, Loop, Timer  # noqa: E402

CALLBACKS = [c for c in vars(_callbacks).values()
             if isinstance(c, type) and issubclass(c, Callback)]


def _clusters(n_classes=30, per_class=12, p=10, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    return 2.5 * rng.randn(n_classes, p)[y] + rng.randn(len(y), p), y


class Recorder(Callback):
    """The hooks called, in order, with the keywords each got."""

    def __init__(self):
        self.calls = []

    def _record(name):
        def hook(self, loop, **kwargs):
            self.calls.append((name, sorted(kwargs)))
        return hook

    for _name in HOOKS:
        locals()[_name] = _record(_name)
    del _name, _record


def _epochs_of(calls):
    """``calls`` as [[steps of epoch 1], ...] after checking the order of the hooks."""
    names = [name for name, _ in calls]
    assert names[0] == "on_train_begin" and names[-1] == "on_train_end"
    epochs = []
    for name in names[1:-1]:
        if name == "on_epoch_begin":
            epochs.append(0)
        elif name == "on_step":
            epochs[-1] += 1
        else:
            assert name == "on_epoch_end"
    assert names.count("on_epoch_begin") == names.count("on_epoch_end") == len(epochs)
    assert [n for n in names if n != "on_step"][1:-1] == \
        ["on_epoch_begin", "on_epoch_end"] * len(epochs)
    return epochs


# ---------------------------------------------------------------- the contract
@pytest.mark.parametrize("cls", CALLBACKS, ids=lambda c: c.__name__)
def test_every_callback_has_every_hook_taking_the_loop_and_keywords(cls):
    assert {Callback, EarlyStopping, Timer} <= set(CALLBACKS)
    for hook in HOOKS:
        params = list(inspect.signature(getattr(cls, hook)).parameters.values())
        assert [p.name for p in params[:2]] == ["self", "loop"]
        assert params[-1].kind is inspect.Parameter.VAR_KEYWORD
    base = Callback()
    for hook in HOOKS:  # the base hooks are no-ops accepting any keywords
        assert getattr(base, hook)(Loop([]), anything=1, epoch=2) is None


def test_a_bad_callbacks_value_is_a_clear_error():
    with pytest.raises(TypeError, match=r"callbacks\[1\] is 3, not a Callback"):
        Loop([Timer(), 3])
    with pytest.raises(TypeError, match="must be a list of Callback objects"):
        Loop(Timer())
    X, y = _clusters()
    with pytest.raises(TypeError, match=r"callbacks\[0\] is 'timer', not a Callback"):
        MetaLearnerClassifier(n_episodes=4, callbacks=["timer"]).fit(X, y)
    with pytest.raises(ValueError, match="callbacks"):  # sklearn's parameter validation
        MetaLearnerClassifier(n_episodes=4, callbacks=Timer()).fit(X, y)


# -------------------------------------------------------------- early stopping
def _run_values(values, stopper, max_epochs=None):
    """A loop whose epoch ``k`` reports ``values[k - 1]`` and sets a module's weight
    to ``k``; the module afterwards, and the loop."""
    module = torch.nn.Linear(1, 1, bias=False)

    def epoch(loop):
        with torch.no_grad():
            module.weight.fill_(loop.epoch)
        return {"score": values[loop.epoch - 1]}

    loop = Loop([stopper], modules=(module,)).run(epoch, max_epochs or len(values))
    return float(module.weight.detach()), loop


def test_early_stopping_stops_after_n_iter_no_change_and_restores_the_best():
    stopper = EarlyStopping("score", n_iter_no_change=2, tol=0.1, restore_best=True)
    weight, loop = _run_values([5.0, 3.0, 2.95, 2.0, 1.95, 1.92, 0.0], stopper)
    assert loop.epoch == 6 and loop.stop  # 2.95, 1.95 and 1.92 improve by tol or less
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (2.0, 4, 6)
    assert weight == 4  # the module's state of epoch 4 is back
    assert [h["score"] for h in loop.history] == [5.0, 3.0, 2.95, 2.0, 1.95, 1.92]
    weight, loop = _run_values([1.0, 2.0, 3.0, 2.0], EarlyStopping(
        "score", 2, lower_is_better=False, restore_best=True))
    assert loop.epoch == 4 and not loop.stop and weight == 3  # ran out of epochs
    weight, _ = _run_values([3.0, 1.0, 2.0, 2.0], EarlyStopping("score", 1))
    assert weight == 3  # without restore_best the last state stays
    with pytest.raises(KeyError, match="monitors 'loss'.*report \\['epoch', 'score'\\]"):
        _run_values([1.0], EarlyStopping("loss"))


class Snapshots(Callback):
    """The loop's modules' state at each epoch's end."""

    def on_epoch_end(self, loop, **kwargs):
        self.states = getattr(self, "states", []) + [
            copy.deepcopy([m.state_dict() for m in loop.modules])]


def _assert_same_state(modules, states):
    for module, state in zip(modules, states):
        for key, value in module.state_dict().items():
            torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_meta_learner_early_stopping_stops_and_restores_the_best_check():
    X, y = _clusters()
    params = dict(n_episodes=200, validation_fraction=0.3, hidden_layer_sizes=(16,),
                  random_state=0)
    full = MetaLearnerClassifier("metasgd", early_stopping=False, **params).fit(X, y)
    meta = MetaLearnerClassifier("metasgd", early_stopping=True, n_iter_no_change=2,
                                 callbacks=[Snapshots()], **params).fit(X, y)
    scores = meta.validation_scores_
    # the same run up to the stop, whose best check is known: stopped 2 checks later
    best = int(np.argmax(scores))
    assert scores == full.validation_scores_[: len(scores)]
    assert len(scores) == best + 3 < 10
    assert meta.n_iter_ == 20 * len(scores) < 200 == full.n_iter_
    assert len(meta.loss_curve_) == meta.n_iter_ // 4
    states = meta.callbacks_[0].states
    assert len(states) == len(scores)
    # the backbone and Meta-SGD's learned step sizes of the best check are back
    _assert_same_state([meta.module_, meta.algorithm_], states[best])
    with pytest.raises(AssertionError):
        _assert_same_state([meta.module_, meta.algorithm_], states[-1])
    with pytest.raises(ValueError, match="early_stopping=True .* validation_fraction > 0"):
        MetaLearnerClassifier(early_stopping=True, validation_fraction=0.0).fit(X, y)


def test_meta_regressor_early_stopping_on_held_out_tasks(capsys):
    rng = np.random.RandomState(0)
    amplitude, phase = rng.uniform(0.1, 5, 50), rng.uniform(0, np.pi, 50)
    tasks = np.repeat(np.arange(50), 20)
    X = rng.uniform(-5, 5, (1000, 1))
    y = amplitude[tasks] * np.sin(X[:, 0] - phase[tasks])
    meta = MetaLearnerRegressor("metasgd", n_episodes=200, validation_fraction=0.2,
                                early_stopping=True, n_iter_no_change=2, learning_rate=0.1,
                                hidden_layer_sizes=(16, 16), verbose=1, random_state=0)
    meta.fit(X, y, tasks=tasks)
    scores = meta.validation_scores_
    assert meta.n_iter_ == 20 * len(scores) < 200
    assert len(scores) == int(np.argmax(scores)) + 3 and max(scores) < 0
    assert f"val mse {-scores[0]:.4f}" in capsys.readouterr().out
    with pytest.raises(ValueError, match="holds out whole tasks"):
        MetaLearnerRegressor(validation_fraction=0.2).fit(X, y)


# ------------------------------------------------------- hooks, in both loops
def _trainer(n=120, n_tasks=3, seed=0):
    """A Trainer on a small long-format regression, and its run's arguments."""
    from skmtl.nn._data import Pairs, TaskLayout
    from skmtl.nn._modules import SharedBottom, mlp
    from skmtl.nn._training import Trainer
    from skmtl.nn._weighting import make_weighting

    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4).astype(np.float32)
    tasks = rng.randint(n_tasks, size=n)
    pairs = Pairs(np.arange(n + 1), tasks, X[:, 0].astype(np.float32),
                  np.ones(n, dtype=np.float32))
    layout = TaskLayout(torch.arange(n_tasks), torch.ones(n_tasks, dtype=torch.long),
                        torch.zeros(n_tasks, dtype=torch.long))
    torch.manual_seed(seed)
    trunk, width = mlp(4, (8,))
    net = SharedBottom(trunk, width, n_tasks)
    trainer = Trainer(net, make_weighting("equal", n_tasks), trunk.parameters(), lr=1e-2,
                      weight_decay=0.0, device=torch.device("cpu"), dtype=torch.float32)
    return trainer, (X, pairs, layout, n_tasks)


def test_trainer_notifies_user_callbacks_in_order_after_the_built_in_ones():
    trainer, args = _trainer()
    recorder, timer = Recorder(), Timer()
    trainer.run(*args, max_epochs=3, batch_size=50, rng=np.random.RandomState(0),
                val_rows=np.arange(20), callbacks=[recorder, timer])
    assert _epochs_of(recorder.calls) == [2, 2, 2]  # 100 training rows, batches of 50
    assert ("on_step", ["batch", "losses", "present"]) in recorder.calls
    assert ("on_epoch_end", ["epoch", "loss", "task_losses", "valid_loss"]) in recorder.calls
    assert len(timer.epoch_times) == 3 and len(timer.step_times) == 6
    assert len(timer.train_times) == 1 and sum(timer.epoch_times) <= timer.train_times[0]
    trainer.run(*args, max_epochs=2, batch_size=50, rng=np.random.RandomState(0),
                callbacks=[timer])  # the epochs continue; the timer keeps counting
    assert trainer.epochs == 5 and len(trainer.loss_curve) == 5
    assert len(timer.epoch_times) == 5 and len(timer.train_times) == 2


def test_a_user_callback_can_stop_the_trainer():
    class StopAtTwo(Callback):
        def on_epoch_end(self, loop, epoch, **kwargs):
            loop.stop = epoch == 2

    trainer, args = _trainer()
    trainer.run(*args, max_epochs=10, batch_size=50, rng=np.random.RandomState(0),
                callbacks=(StopAtTwo(),))
    assert trainer.epochs == 2


def test_meta_learner_notifies_copies_of_user_callbacks_in_order():
    X, y = _clusters()
    recorder = Recorder()
    meta = MetaLearnerClassifier(n_episodes=48, meta_batch_size=2, validation_fraction=0.3,
                                 early_stopping=False, callbacks=[recorder],
                                 random_state=0).fit(X, y)
    assert recorder.calls == [] and meta.callbacks == [recorder]  # the parameter is kept
    calls = meta.callbacks_[0].calls
    # 24 meta-updates, a validation check every 2: 12 epochs of 2 steps
    assert _epochs_of(calls) == [2] * 12 == [2] * len(meta.validation_scores_)
    assert ("on_step", ["episode", "loss"]) in calls
    assert ("on_epoch_end", ["episode", "epoch", "loss", "val_score"]) in calls
