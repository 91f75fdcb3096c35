"""Classic multi-task benchmark data sets, bundled with the package."""

from ._landmine import load_landmine
from ._omniglot import fetch_omniglot
from ._school import load_school
from ._survey import load_computer_survey

__all__ = ["fetch_omniglot", "load_computer_survey", "load_landmine", "load_school"]
