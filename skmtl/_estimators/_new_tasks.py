"""New tasks from a fitted multi-task linear model: the part all tasks share, and
``adapt`` (one new task fit with the learned structure as its prior).

(Being written for issue 14.)
"""


class NewTasksMixin:
    """``adapt`` and the shared model, for the multi-task linear estimators."""
