"""Loading a feature repo: import its ``*.py`` files and collect the definitions they create.

Every Python file under the repo folder is imported (except hidden folders, virtualenvs,
``__pycache__``, ``site-packages``, ``node_modules`` and what ``.ladleignore``/``.feastignore`` list),
each as a module with a name unique to the repo, with the repo folder on ``sys.path``. Repo files may
import each other by their plain names (``from driver_views import driver_fv``, as in the Feast
tutorial): those imports resolve to the same module objects, so a definition imported into several
files is still one object. ``import feast`` works too when Feast itself is not installed (see
:mod:`ladle.repo.feast_compat`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import traceback
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ladle.common.globs import glob_regex
from ladle.definitions.contents import KIND_PLURALS, RepoContents, collector
from ladle.errors import RepoLoadError
from ladle.repo.feast_compat import install_feast_aliases

__all__ = ["IGNORE_FILES", "IgnoreRules", "RepoContents", "load_repo", "repo_files"]

#: files listing paths to skip, one gitignore-like glob per line
IGNORE_FILES = (".ladleignore", ".feastignore")
_SKIP_DIRS = frozenset({"__pycache__", "venv", ".venv", "env", "site-packages", "node_modules"})

# --- which files --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


class IgnoreRules:
    """gitignore-like path rules: ``*.py``, ``tests/``, ``/only_at_root.py``, ``**/scratch/*``, ``!keep.py``.

    A pattern without ``/`` matches a name at any depth; one with ``/`` is relative to the repo root; a
    trailing ``/`` matches folders only; the last matching rule wins; ``#`` starts a comment line.

    >>> rules = IgnoreRules(["tests/", "*_draft.py", "!keep_draft.py"])
    >>> [rules.ignores(p, is_dir) for p, is_dir in [("tests", True), ("a/b_draft.py", False), ("keep_draft.py", False)]]
    [True, True, False]
    """

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self.rules: list[_Rule] = []
        for raw in patterns:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            line = line.removeprefix("!")
            dir_only = line.endswith("/")
            line = line.strip("/") if dir_only else line
            anchored = "/" in line
            line = line.lstrip("/")
            if not line:
                continue
            body = glob_regex(line)
            regex = re.compile(body if anchored else f"(?:.*/)?{body}")
            self.rules.append(_Rule(regex, negate, dir_only))

    @classmethod
    def read(cls, repo: Path) -> IgnoreRules:
        """The rules of the repo's ``.ladleignore`` and ``.feastignore`` files (either may be absent)."""
        lines: list[str] = []
        for name in IGNORE_FILES:
            path = repo / name
            if path.is_file():
                lines.extend(path.read_text().splitlines())
        return cls(lines)

    def ignores(self, rel_path: str, is_dir: bool) -> bool:
        """Whether ``rel_path`` (relative to the repo, ``/``-separated) is ignored by the rules."""
        ignored = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.fullmatch(rel_path):
                ignored = not rule.negate
        return ignored


def _skipped_dir(path: Path, name: str) -> bool:
    return name.startswith(".") or name in _SKIP_DIRS or (path / "pyvenv.cfg").exists()


def repo_files(repo_path: Path) -> list[Path]:
    """The repo's Python files to import, in a stable order (ignored, hidden and virtualenv folders skipped)."""
    repo = Path(repo_path).resolve()
    rules = IgnoreRules.read(repo)
    out: list[Path] = []
    for folder, dirs, files in os.walk(repo):
        here = Path(folder)
        rel_dir = PurePosixPath(here.relative_to(repo).as_posix())
        dirs[:] = sorted(
            d for d in dirs if not _skipped_dir(here / d, d) and not rules.ignores((rel_dir / d).as_posix(), True)
        )
        for name in sorted(files):
            rel = (rel_dir / name).as_posix()
            if not name.endswith(".py") or name.startswith(".") or rules.ignores(rel, False):
                continue
            if here == repo and name == "__init__.py":
                continue  # the repo folder itself is not a package
            out.append(here / name)
    return sorted(out, key=lambda p: p.relative_to(repo).as_posix())


# --- importing ------------------------------------------------------------------------------------------
def _module_parts(rel: PurePosixPath) -> list[str]:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return [p.replace(".", "_") for p in parts]


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source every time: a repo file edited within the same second is never stale."""

    def __init__(self, fullname: str, path: str, done: list[types.ModuleType]) -> None:
        super().__init__(fullname, path)
        self._done = done

    def get_code(self, fullname: str) -> types.CodeType:
        source = self.get_data(self.path)
        return self.source_to_code(source, self.path)

    def exec_module(self, module: types.ModuleType) -> None:
        super().exec_module(module)
        self._done.append(module)  # import completion order: a file's imports finish before it


class _AliasLoader(importlib.abc.Loader):
    """Loads a repo file's plain name (``driver_views``) as the repo's module for that file."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self._spec  # importlib overwrote it with the alias spec; the module is already run


class _RepoFinder(importlib.abc.MetaPathFinder):
    """Finds the repo's modules under a repo-unique package name, and their plain names during loading."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.prefix = "_ladle_repo_" + hashlib.sha256(str(repo).encode()).hexdigest()[:12]
        self.completed: list[types.ModuleType] = []
        self.aliases: set[str] = set()
        #: dotted name below the prefix -> file or folder, for the files being loaded (names are sanitized)
        self.known: dict[str, Path] = {}

    def module_name(self, path: Path) -> str:
        """The repo-unique module name of a repo file (registered so the finder can load it)."""
        rel = PurePosixPath(path.relative_to(self.repo).as_posix())
        parts = _module_parts(rel)
        module = ".".join(parts)
        self.known[module] = path
        folders = rel.parent.parts
        for i in range(1, len(folders) + 1):
            if ".".join(parts[:i]) != module:
                self.known.setdefault(".".join(parts[:i]), self.repo.joinpath(*folders[:i]))
        return f"{self.prefix}.{module}"

    def _locate(self, natural: str) -> tuple[Path, bool] | None:
        """The file (or namespace folder) for a dotted name relative to the repo, and whether it is a package."""
        known = self.known.get(natural)
        if known is not None:
            if known.is_dir():
                init = known / "__init__.py"
                return (init, True) if init.is_file() else (known, True)
            return known, known.name == "__init__.py"
        base = self.repo.joinpath(*natural.split("."))
        if base.with_suffix(".py").is_file():
            return base.with_suffix(".py"), False
        if (base / "__init__.py").is_file():
            return base / "__init__.py", True
        if base.is_dir() and any(base.glob("**/*.py")):
            return base, True
        return None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.prefix:
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(self.repo)]
            return spec
        if fullname.startswith(self.prefix + "."):
            return self._repo_spec(fullname, fullname[len(self.prefix) + 1 :])
        if fullname not in sys.modules and self._locate(fullname) is not None:
            self.aliases.add(fullname)
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"{self.prefix}.{fullname}"))
        return None

    def _repo_spec(self, fullname: str, natural: str) -> importlib.machinery.ModuleSpec | None:
        found = self._locate(natural)
        if found is None:
            return None
        file, is_package = found
        if file.is_dir():  # a folder without __init__.py: a namespace package
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(file)]
            return spec
        return importlib.util.spec_from_file_location(
            fullname,
            file,
            loader=_SourceLoader(fullname, str(file), self.completed),
            submodule_search_locations=[str(file.parent)] if is_package else None,
        )

    def forget_modules(self) -> None:
        """Drop this repo's modules from ``sys.modules`` (a reload runs the files again)."""
        for name in [n for n in sys.modules if n == self.prefix or n.startswith(self.prefix + ".")]:
            del sys.modules[name]


def _in_repo(filename: str, repo: Path) -> bool:
    try:
        Path(filename).resolve().relative_to(repo)
    except (ValueError, OSError):
        return False
    return True


def _load_error(exc: BaseException, file: Path, repo: Path) -> RepoLoadError:
    """A message naming the file and line where importing ``file`` failed, and the exception."""
    rel = file.relative_to(repo).as_posix()
    if isinstance(exc, SyntaxError) and exc.filename and _in_repo(exc.filename, repo):
        at, line = Path(exc.filename).resolve().relative_to(repo).as_posix(), exc.lineno
        problem = f"SyntaxError: {exc.msg}"
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if _in_repo(f.filename, repo)]
        at = Path(frames[-1].filename).resolve().relative_to(repo).as_posix() if frames else rel
        line = frames[-1].lineno if frames else None
        problem = f"{type(exc).__name__}: {exc}"
    where = f"{at}, line {line}" if line else at
    also = "" if at == rel else f" (while importing {rel})"
    return RepoLoadError(f"{where}: {problem}{also} — fix the file, or list it in .ladleignore to skip it")


def load_repo(repo_path: Path) -> RepoContents:
    """Import the repo's files and collect their definitions.

    Raises :class:`~ladle.errors.RepoLoadError` when a file fails to import (naming the file, the line
    and the exception) or when two different objects of one kind share a name (naming both files).

    >>> # contents = load_repo(Path("feature_repo")); [fv.name for fv in contents.feature_views]
    """
    repo = Path(repo_path).resolve()
    if not repo.is_dir():
        raise RepoLoadError(f"{repo}: not a folder (pass the feature repo's folder)")
    install_feast_aliases()
    finder = _RepoFinder(repo)
    finder.forget_modules()
    files = repo_files(repo)
    on_path = str(repo) in sys.path
    if not on_path:
        sys.path.insert(0, str(repo))
    sys.meta_path.insert(0, finder)
    try:
        origins = _import_all(finder, files, repo)
    finally:
        sys.meta_path.remove(finder)
        for alias in finder.aliases:
            sys.modules.pop(alias, None)  # plain names were for loading only; the repo-unique names stay
        if not on_path:
            sys.path.remove(str(repo))
    return _collect(finder.completed, origins, repo)


def _import_all(finder: _RepoFinder, files: list[Path], repo: Path) -> dict[str, Path]:
    origins: dict[str, Path] = {}
    for file in files:
        name = finder.module_name(file)
        origins[name] = file
        try:
            importlib.import_module(name)
        except (Exception, SystemExit) as exc:
            finder.forget_modules()
            raise _load_error(exc, file, repo) from exc
    return origins


def _collect(modules: list[types.ModuleType], origins: dict[str, Path], repo: Path) -> RepoContents:
    def conflict(kind: str, name: str, first: str, second: str) -> Exception:
        where = f"in {first} and again in {second}" if first != second else f"twice in {first}"
        return RepoLoadError(
            f"two different {KIND_PLURALS[kind]} are named '{name}': {where} "
            "(rename one of them, or define it once and import it where it is needed)"
        )

    found = collector(conflict)
    for module in modules:  # in import-completion order, so an object is credited to the file defining it
        file = origins.get(module.__name__)
        if file is None:
            continue  # an ignored file imported by another: its objects count where they are imported
        origin = file.relative_to(repo).as_posix()
        for value in list(vars(module).values()):
            found.add(value, origin)
    return found.contents()
