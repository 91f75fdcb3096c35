"""Refuse, at fit time, a model selection search whose scorer cannot see the tasks.

(Being written for issue 15: a named scorer in a search over a long-format or
NaN-labelled fit scores every candidate NaN; the fit should fail loudly instead.)
"""


def check_search_scorer(est, y, tasks):
    """Raise if ``est`` is being fit inside a search whose scorer drops ``tasks``."""
