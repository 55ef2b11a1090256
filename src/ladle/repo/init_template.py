"""``ladle init``: create a demo feature repo (or a minimal one) from the packaged template.

The layout is Feast's: ``NAME/README.md`` and the repo in ``NAME/feature_repo/``. The demo repo is the
Feast quickstart's: ``feature_store.yaml``, ``example_repo.py`` (definitions),
``test_workflow.py`` (the demo script) and ``data/driver_stats.parquet``, hourly statistics of drivers
1001-1005 over the last 15 days, generated here relative to the current time (no network needed).

>>> # init_repo(Path("my_project"))          # what `ladle init my_project` does: my_project/feature_repo/
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ladle.common.times import UTC_US as _TS
from ladle.errors import InvalidRequest

__all__ = [
    "DEFAULT_PROJECT_NAME",
    "DRIVER_IDS",
    "HISTORY_HOURS",
    "REPO_FOLDER",
    "InitResult",
    "check_project_name",
    "driver_stats_table",
    "init_repo",
]

#: the project (and folder) `ladle init` creates when no name is given
DEFAULT_PROJECT_NAME = "my_project"
#: the feature repo's folder inside the project folder, as Feast lays it out
REPO_FOLDER = "feature_repo"
#: the drivers of the demo data
DRIVER_IDS = (1001, 1002, 1003, 1004, 1005)
#: hourly rows per driver: 15 days, the last one at the start of the current hour
HISTORY_HOURS = 15 * 24
#: the seed of the demo data (only the timestamps depend on the current time)
DEFAULT_SEED = 42

_TEMPLATE = "demo"
_DEMO_FILES = ("feature_store.yaml", "example_repo.py", "test_workflow.py")
_DATA_FILE = "data/driver_stats.parquet"
_MAX_CREATED_DELAY_S = 300

_PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
_README = "README.md"


@dataclass(frozen=True)
class InitResult:
    """What :func:`init_repo` created: ``root`` (the project folder) and ``path``, the feature repo in it."""

    root: Path
    path: Path
    project: str
    #: the files written, relative to ``root``
    files: tuple[str, ...]


def check_project_name(name: str) -> str:
    """``name`` if it is a valid project name (Feast's rule: letters, digits and ``_``, not starting with ``_``).

    Raises :class:`~ladle.errors.InvalidRequest` otherwise.

    >>> check_project_name("my_project")
    'my_project'
    """
    if not _PROJECT_NAME.fullmatch(name):
        raise InvalidRequest(
            f"cannot create project {name!r}: a project name may contain only letters, digits and underscores, "
            "and must not start with an underscore (e.g. my_project)"
        )
    return name


def driver_stats_table(now: datetime | None = None, seed: int = DEFAULT_SEED) -> pa.Table:
    """The demo's driver statistics: one row per driver per hour, the last at the start of ``now``'s hour.

    Columns: ``event_timestamp`` and ``created`` (``timestamp[us, UTC]``), ``driver_id`` (int64),
    ``conv_rate`` and ``acc_rate`` (float32), ``avg_daily_trips`` (int64). Rows are ordered by time, then
    driver. The values depend only on ``seed``; ``created`` is a few minutes after ``event_timestamp``,
    never after ``now``.

    >>> table = driver_stats_table(datetime(2024, 1, 15, 12, 30, tzinfo=UTC))
    >>> table.num_rows, table.column("event_timestamp")[-1].as_py().isoformat()
    (1800, '2024-01-15T12:00:00+00:00')
    """
    now = datetime.now(UTC) if now is None else (now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC))
    last_hour = now.replace(minute=0, second=0, microsecond=0)
    rng = np.random.default_rng(seed)
    n = HISTORY_HOURS * len(DRIVER_IDS)
    hours = np.arange(HISTORY_HOURS - 1, -1, -1, dtype="int64")  # hours before the last one, oldest first
    last_us = np.datetime64(last_hour.replace(tzinfo=None), "us")
    event = np.repeat(last_us - hours * np.timedelta64(3600, "s"), len(DRIVER_IDS))
    delay_us = rng.integers(0, _MAX_CREATED_DELAY_S * 1_000_000, size=n)
    created = np.minimum(event + delay_us.astype("timedelta64[us]"), np.datetime64(now.replace(tzinfo=None), "us"))
    return pa.table(
        {
            "event_timestamp": pa.array(event, type=pa.timestamp("us")).cast(_TS),
            "driver_id": pa.array(np.tile(np.array(DRIVER_IDS, dtype="int64"), HISTORY_HOURS)),
            "conv_rate": pa.array(rng.random(n, dtype="float32")),
            "acc_rate": pa.array(rng.random(n, dtype="float32")),
            "avg_daily_trips": pa.array(rng.integers(0, 1000, size=n, dtype="int64")),
            "created": pa.array(created, type=pa.timestamp("us")).cast(_TS),
        }
    )


def _check_target(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise InvalidRequest(f"cannot create the repo in '{path}': a file with that name exists (choose another name)")
    if path.is_dir() and any(path.iterdir()):
        raise InvalidRequest(
            f"cannot create the repo in '{path}': the folder already exists and is not empty "
            "(choose another name, or remove the folder)"
        )


def _render(file: str, project: str) -> str:
    text = resources.files("ladle").joinpath("repo", "templates", _TEMPLATE, file).read_text(encoding="utf-8")
    return Template(text).substitute(project=project, repo_folder=REPO_FOLDER)


def init_repo(
    path: str | Path,
    *,
    minimal: bool = False,
    now: datetime | None = None,
    seed: int = DEFAULT_SEED,
) -> InitResult:
    """Create project folder ``path`` (which must not exist, or be empty) with a feature repo inside, as Feast does.

    The project is named after the folder, which must be a valid project name (see
    :func:`check_project_name`): ``path/README.md`` and ``path/feature_repo/`` with ``feature_store.yaml``,
    ``example_repo.py``, ``test_workflow.py`` and ``data/driver_stats.parquet``. ``minimal=True`` writes
    only ``feature_store.yaml`` and an empty ``data/`` folder in the repo. Raises
    :class:`~ladle.errors.InvalidRequest` for an invalid name or a non-empty folder; nothing is overwritten.
    """
    root = Path(path).absolute()
    project = check_project_name(root.name)
    _check_target(root)
    repo = root / REPO_FOLDER
    files = _DEMO_FILES[:1] if minimal else _DEMO_FILES
    rendered = {_README: _render(_README, project)} | {f"{REPO_FOLDER}/{f}": _render(f, project) for f in files}
    (repo / "data").mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (root / name).write_text(text, encoding="utf-8")
    written = list(rendered)
    if not minimal:
        pq.write_table(driver_stats_table(now, seed), repo / _DATA_FILE)
        written.append(f"{REPO_FOLDER}/{_DATA_FILE}")
    return InitResult(root, repo, project, tuple(written))
