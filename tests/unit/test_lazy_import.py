"""Backend drivers load on first use: a lazily imported package runs its code only when read."""

from __future__ import annotations

import json.decoder
import subprocess
import sys

from ladle.drivers.lazy_import import lazy_attribute, lazy_module


def test_lazy_module_loads_on_first_attribute() -> None:
    sys.modules.pop("colorsys", None)
    module = lazy_module("colorsys")
    assert type(module).__name__ == "_LazyModule"
    assert module.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert lazy_module("no_such_driver_ladle") is None


def test_lazy_attribute_resolves_the_submodule() -> None:
    assert lazy_attribute("json", "decoder").JSONDecodeError is json.decoder.JSONDecodeError


def test_importing_ladle_does_not_import_backend_drivers() -> None:
    code = "import sys, ladle.store, ladle.cli.commands; print(sorted(m for m in ('boto3', 'redis', 'psycopg') if m in sys.modules and type(sys.modules[m]).__name__ != '_LazyModule'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
