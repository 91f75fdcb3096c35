"""Classic multi-task benchmark data sets, bundled with the package."""

from ._school import load_school

__all__ = ["load_school"]
