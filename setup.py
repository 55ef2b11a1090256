"""Only what pyproject.toml cannot say: ship ``ladle_feast_shim.pth`` at the top of site-packages.

Python runs that one-line file at start-up; it installs the ``import feast`` fallback of
``src/_ladle_feast_shim.py`` (see docs/feast-differences.md). Everything else is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "ladle_feast_shim.pth"


class BuildPyWithPth(build_py):
    """``build_py`` that also copies the .pth file to the root of the build (so it lands in site-packages)."""

    def run(self) -> None:
        super().run()
        self.copy_file(str(Path("src") / PTH), str(Path(self.build_lib) / PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH)]


class _AddPth:
    """Wraps an editable-install strategy so the editable wheel carries the .pth file too."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, wheel: Any, files: list[str], mapping: Any) -> None:
        self.inner(wheel, files, mapping)
        wheel.writestr(PTH, (Path(__file__).parent / "src" / PTH).read_bytes())

    def __enter__(self) -> _AddPth:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)


class EditableWheelWithPth(editable_wheel):
    """``pip install -e .`` installs the .pth file as well (setuptools builds editable installs apart from build_py)."""

    def _select_strategy(self, *args: Any, **kwargs: Any) -> Any:
        return _AddPth(super()._select_strategy(*args, **kwargs))


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
