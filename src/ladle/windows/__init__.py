"""Windowed aggregations: the output names and types of a view's aggregations (:mod:`ladle.windows.spec`),
the function catalog and the reference evaluator (:mod:`ladle.windows.functions`), apply-time validation,
and each offline backend's window SQL."""

from __future__ import annotations

from ladle.windows.functions import FUNCTIONS, FunctionInfo, evaluate, reduce_values
from ladle.windows.spec import WindowSpec, is_windowed, longest_window, window_specs

__all__ = [
    "FUNCTIONS",
    "FunctionInfo",
    "WindowSpec",
    "evaluate",
    "is_windowed",
    "longest_window",
    "reduce_values",
    "window_specs",
]
