"""The registry is code: reading it runs none of it, and a signed registry that was tampered with is refused."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ladle.errors import InvalidConfig
from ladle.store import FeatureStore

FEATURES = """
import pandas as pd
from ladle import Field, RequestSource, on_demand_feature_view
from ladle.types import Float64

vals = RequestSource(name="vals", schema=[Field(name="x", dtype=Float64)])

@on_demand_feature_view(sources=[vals], schema=[Field(name="x2", dtype=Float64)])
def doubled(inputs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"x2": inputs["x"] * 2.0})
"""
SIGNED = """\
project: trust
registry:
  path: data/registry.db
  signing_key: ${LADLE_TEST_REGISTRY_KEY}
online_store:
  type: sqlite
  path: data/online.db
"""


def tamper(repo: Path, marker: Path) -> None:
    """What an attacker with write access to the registry does: plant code in the on-demand view."""
    path = repo / "data/registry.db"
    doc = orjson.loads(path.read_bytes())
    spec = doc["objects"]["on_demand_feature_views"]["doubled"]["spec"]
    spec["udf_source"] = f"open({str(marker)!r}, 'w').write('pwned')\n" + spec["udf_source"]
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def test_listing_runs_no_on_demand_code(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"features.py": FEATURES})
    FeatureStore(repo_path=repo).apply_repo()
    marker = tmp_path / "pwned"
    tamper(repo, marker)
    store = FeatureStore(repo_path=repo)
    assert [v.name for v in store.list_on_demand_feature_views()] == ["doubled"]
    assert store.get_on_demand_feature_view("doubled").to_dict()["udf_name"] == "doubled"
    assert not marker.exists()  # loading and listing executed nothing; only computing features would


def test_a_signed_registry_round_trips_and_computes(make_repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LADLE_TEST_REGISTRY_KEY", "s3cret")
    repo = make_repo({"features.py": FEATURES}, yaml=SIGNED)
    FeatureStore(repo_path=repo).apply_repo()
    doc = orjson.loads((repo / "data/registry.db").read_bytes())
    assert doc["signature"].startswith("hmac-sha256:") and len(doc["signature"]) == len("hmac-sha256:") + 64
    store = FeatureStore(repo_path=repo)
    out = store.get_online_features(["doubled:x2"], {"x": [1.5, 2.0]}).to_dict()
    assert out["x2"] == [3.0, 4.0]


def test_a_tampered_signed_registry_is_refused_before_its_code_runs(
    make_repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LADLE_TEST_REGISTRY_KEY", "s3cret")
    repo = make_repo({"features.py": FEATURES}, yaml=SIGNED)
    FeatureStore(repo_path=repo).apply_repo()
    marker = tmp_path / "pwned"
    tamper(repo, marker)
    store = FeatureStore(repo_path=repo)
    with pytest.raises(InvalidConfig, match=r"signature that does not match its content.*refusing to load it"):
        store.get_online_features(["doubled:x2"], {"x": [1.0]})
    with pytest.raises(InvalidConfig, match="refusing to load it"):
        store.list_on_demand_feature_views()
    assert not marker.exists()


def test_an_unsigned_registry_or_a_wrong_key_is_refused(make_repo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo({"features.py": FEATURES}, yaml=SIGNED.replace("  signing_key: ${LADLE_TEST_REGISTRY_KEY}\n", ""))
    FeatureStore(repo_path=repo).apply_repo()
    (repo / "feature_store.yaml").write_text(SIGNED)
    monkeypatch.setenv("LADLE_TEST_REGISTRY_KEY", "s3cret")
    with pytest.raises(InvalidConfig, match=r"is not signed, but registry\.signing_key is set"):
        FeatureStore(repo_path=repo).list_feature_views()
    signed = make_repo({"features.py": FEATURES}, yaml=SIGNED, name="signed")
    FeatureStore(repo_path=signed).apply_repo()
    monkeypatch.setenv("LADLE_TEST_REGISTRY_KEY", "another key")
    with pytest.raises(InvalidConfig, match="does not match"):
        FeatureStore(repo_path=signed).list_feature_views()
