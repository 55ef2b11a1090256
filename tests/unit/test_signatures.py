"""Every built-in backend stays true to its protocol (the ibis ``test_signatures`` habit): the constructor and
each method it implements take the protocol's parameters, in order, with the protocol's defaults; it has a
``name`` its table selects it by, and (stores and engines) a settings model deriving from the kind's base."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from ladle.backends.tables import KINDS, REGISTRY_STORES, BackendKind, config_class, import_ref
from ladle.offline.base import EngineFrames

BACKENDS = sorted(
    {(kind.section, ref) for kind in KINDS for ref in kind.builtins.values()},
)


def _kind(section: str) -> BackendKind:
    return next(k for k in KINDS if k.section == section)


def _shape(fn: Any) -> list[tuple[str, Any, Any]]:
    """Parameters as (name, kind, default): what a caller relies on (annotations may be narrower)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def _protocols(cls: type, protocol: type) -> list[type]:
    return [protocol, *([EngineFrames] if issubclass(cls, EngineFrames) else [])]


@pytest.mark.parametrize(("section", "ref"), BACKENDS, ids=[ref.partition(":")[2] for _, ref in BACKENDS])
def test_backend_matches_its_protocol(section: str, ref: str) -> None:
    kind = _kind(section)
    cls, protocol = import_ref(ref), import_ref(kind.protocol)
    assert issubclass(cls, protocol) and not inspect.isabstract(cls)
    assert isinstance(cls.name, str) and cls.name, f"{ref} has no name"
    assert kind.builtins.get(cls.name) == ref, f"{ref}.name {cls.name!r} does not select it in the table"
    assert _shape(cls.__init__) == _shape(protocol.__init__), f"{ref} constructor"
    for base in _protocols(cls, protocol):
        for method, fn in vars(base).items():
            if method.startswith("_") or not inspect.isfunction(fn):
                continue
            assert _shape(getattr(cls, method)) == _shape(fn), f"{ref}.{method} differs from {base.__name__}"
    if kind is not REGISTRY_STORES:
        model = config_class(cls)
        assert issubclass(model, import_ref(kind.config_base)), f"{ref} settings model"
        assert model(type=cls.name).type == cls.name  # the model accepts the name that selects the backend


def test_every_protocol_declares_the_whole_contract() -> None:
    """The constructor, ``name`` and ``config`` (stores and engines: ``config_class`` too) are on the protocol."""
    for kind in KINDS:
        protocol = import_ref(kind.protocol)
        params = [p for p, _, _ in _shape(protocol.__init__)]
        assert params[:3] == ["self", "config", "repo_path"], kind.protocol
        assert "name" in protocol.__annotations__ or "name" in vars(protocol), kind.protocol
        if kind is not REGISTRY_STORES:
            assert "config_class" in vars(protocol), kind.protocol
