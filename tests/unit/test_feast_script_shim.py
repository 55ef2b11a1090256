"""``import feast`` in a user's script (outside any repo): ladle stands in when Feast is absent, through
the start-up hook ladle installs (``ladle_feast_shim.pth``), and never shadows a real Feast.

Each case runs a real Python process. The shared development venv has ladle installed in editable
mode from another checkout, so the process reads this checkout's .pth file the way site-packages
would (``site.addsitedir``); ``test_wheel_ships_the_hook`` checks that a built wheel puts it there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

SCRIPT = """
from feast import BigQuerySource, Entity, FeatureStore, FeatureView, Field, FileSource, PushSource
from feast.errors import FeatureViewNotFoundException
from feast.infra.offline_stores.contrib.trino_offline_store.trino_source import TrinoSource
from feast.transformation.pandas_transformation import PandasTransformation
from feast.types import Float32
import ladle.errors
print(FeatureStore.__module__, Float32.__module__, TrinoSource.__module__, PandasTransformation.__module__)
print(issubclass(FeatureViewNotFoundException, ladle.errors.NotFound))
"""


def _run(
    script: str, tmp_path: Path, extra_path: list[Path] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "user_script.py").write_text(textwrap.dedent(script))
    boot = f"import site; site.addsitedir({str(SRC)!r}); exec(open('user_script.py').read())"
    environ = {**os.environ, **env}
    environ["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in extra_path or []), str(SRC)])
    return subprocess.run(
        [sys.executable, "-c", boot],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_feast_in_a_script_gives_ladle(tmp_path: Path) -> None:
    done = _run(SCRIPT, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "ladle.store",
        "ladle.types",
        "ladle.definitions.external_sources",
        "ladle.definitions.transformation",
        "True",
    ]


def test_a_real_feast_is_never_shadowed(tmp_path: Path) -> None:
    fake = tmp_path / "site" / "feast"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL_FEAST = True\n")
    done = _run("import feast; print(feast.REAL_FEAST, feast.__file__)", tmp_path, extra_path=[tmp_path / "site"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", str(fake / "__init__.py")]


def test_the_hook_costs_nothing_until_feast_is_imported(tmp_path: Path) -> None:
    done = _run(
        "import sys; print('ladle' in sys.modules, any(getattr(f, 'ladle_feast_shim', False) for f in sys.meta_path))",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def test_the_hook_can_be_turned_off(tmp_path: Path) -> None:
    done = _run("import feast", tmp_path, LADLE_NO_FEAST_SHIM="1")
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'feast'" in done.stderr


def test_a_feast_module_ladle_lacks_says_so(tmp_path: Path) -> None:
    done = _run("import feast.infra.online_stores.cassandra_online_store", tmp_path)
    assert done.returncode == 1
    assert "Feast is not installed and ladle provides only" in done.stderr


def test_wheel_ships_the_hook(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"  # built from a copy: setuptools leaves build/ and egg-info behind
    shutil.copytree(SRC, checkout / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(SRC.parent / name, checkout / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(checkout),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("ladle-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"ladle_feast_shim.pth", "_ladle_feast_shim.py", "ladle/repo/feast_compat.py"} <= names
    pth = zipfile.ZipFile(wheel).read("ladle_feast_shim.pth").decode()
    assert pth == (SRC / "ladle_feast_shim.pth").read_text()
