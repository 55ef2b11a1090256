"""Transformation objects for on-demand views built without the decorator (Feast's
``PandasTransformation`` / ``PythonTransformation``).

>>> import pandas as pd
>>> t = PandasTransformation(udf=lambda df: pd.DataFrame({"x2": df["x"] * 2}))
>>> (t.mode, t.transform(pd.DataFrame({"x": [1, 2]}))["x2"].tolist())
('pandas', [2, 4])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ladle.definitions.base import check_tags
from ladle.errors import InvalidDefinition

__all__ = ["PandasTransformation", "PythonTransformation", "Transformation", "transformation_for"]


class Transformation:
    """A function an on-demand view runs: ``OnDemandFeatureView(feature_transformation=...)``.

    ``mode`` says how it is called: ``"pandas"`` (a DataFrame in, a DataFrame out) or ``"python"``
    (a dict of lists in, a dict of lists out). ``udf_string`` is accepted for Feast compatibility; ladle
    reads the function's source itself.
    """

    mode: ClassVar[str] = ""

    def __init__(
        self,
        udf: Callable[..., Any],
        udf_string: str = "",
        name: str | None = None,
        tags: dict[str, str] | None = None,
        description: str = "",
        owner: str = "",
    ) -> None:
        kind = type(self).__name__
        if not callable(udf):
            raise InvalidDefinition(kind, name, f"udf must be a function, got {udf!r}")
        self.udf = udf
        self.udf_string = udf_string or ""
        self.name: str = name or str(getattr(udf, "__name__", ""))
        self.tags = check_tags(kind, self.name, tags)
        self.description = description or ""
        self.owner = owner or ""

    def transform(self, inputs: Any) -> Any:
        """Run the function on ``inputs`` (a DataFrame or a dict of lists, per ``mode``)."""
        return self.udf(inputs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transformation) and type(other) is type(self) and other.udf is self.udf

    def __hash__(self) -> int:
        return hash((type(self), id(self.udf)))


class PandasTransformation(Transformation):
    """``udf(df: pd.DataFrame) -> pd.DataFrame`` over the whole batch."""

    mode = "pandas"


class PythonTransformation(Transformation):
    """``udf(inputs: dict[str, list]) -> dict[str, list]`` with a list of values per column."""

    mode = "python"


def transformation_for(mode: str, udf: Callable[..., Any]) -> Transformation:
    """The transformation object of an on-demand view's ``mode`` and function."""
    cls = PythonTransformation if mode == "python" else PandasTransformation
    return cls(udf)
