"""``ladle ui`` in a real browser (headless Chromium through Selenium), as a user sees it: every page of the
demo repo of ``ladle init``, the lineage graph's nodes and edges, an online lookup, a training-set preview,
the API-key prompt. Screenshots go to ``LADLE_UI_SCREENSHOTS`` (a folder) when set, else the test's tmp dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import demo_repo, free_port
from ui_helpers import VIEW, build_history

from ladle import FeatureStore

LADLE = Path(sys.executable).parent / "ladle"
WAIT_S = 30.0

ALL_NODES = {
    "data_source/driver_hourly_stats_source",
    "data_source/driver_stats_push_source",
    "data_source/vals_to_add",
    "feature_view/driver_hourly_stats",
    "feature_view/driver_hourly_stats_fresh",
    "on_demand_feature_view/transformed_conv_rate",
    "on_demand_feature_view/transformed_conv_rate_fresh",
    "feature_service/driver_activity_v1",
    "feature_service/driver_activity_v2",
    "feature_service/driver_activity_v3",
}
ALL_EDGES = {
    ("data_source/driver_hourly_stats_source", "feature_view/driver_hourly_stats"),
    ("data_source/driver_hourly_stats_source", "data_source/driver_stats_push_source"),
    ("data_source/driver_stats_push_source", "feature_view/driver_hourly_stats_fresh"),
    ("data_source/vals_to_add", "on_demand_feature_view/transformed_conv_rate"),
    ("data_source/vals_to_add", "on_demand_feature_view/transformed_conv_rate_fresh"),
    ("feature_view/driver_hourly_stats", "on_demand_feature_view/transformed_conv_rate"),
    ("feature_view/driver_hourly_stats", "feature_service/driver_activity_v1"),
    ("feature_view/driver_hourly_stats", "feature_service/driver_activity_v2"),
    ("feature_view/driver_hourly_stats_fresh", "on_demand_feature_view/transformed_conv_rate_fresh"),
    ("feature_view/driver_hourly_stats_fresh", "feature_service/driver_activity_v3"),
    ("on_demand_feature_view/transformed_conv_rate", "feature_service/driver_activity_v1"),
    ("on_demand_feature_view/transformed_conv_rate", "feature_service/driver_activity_v2"),
    ("on_demand_feature_view/transformed_conv_rate_fresh", "feature_service/driver_activity_v3"),
}
OBJECTS = {
    "entities": ["driver"],
    "data-sources": ["driver_hourly_stats_source", "driver_stats_push_source", "vals_to_add"],
    "feature-views": ["driver_hourly_stats", "driver_hourly_stats_fresh"],
    "on-demand-feature-views": ["transformed_conv_rate", "transformed_conv_rate_fresh"],
    "feature-services": ["driver_activity_v1", "driver_activity_v2", "driver_activity_v3"],
}


@contextmanager
def ladle_ui(repo: Path, *args: str) -> Iterator[str]:
    """``ladle ui ARGS`` in ``repo`` on a free port; yields its URL once it answers."""
    port = free_port()
    log = (repo.parent / f"ui-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(LADLE), "ui", "-h", "127.0.0.1", "-p", str(port), *args], cwd=repo, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"ladle ui exited: {(repo.parent / f'ui-{port}.log').read_text()}"
            try:
                httpx.get(f"{url}/", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "ladle ui did not start within 60 s"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_repo(tmp_path_factory.mktemp("ui_browser"), name="ui_browser")


@pytest.fixture(scope="module")
def url(repo: Path) -> Iterator[str]:
    with ladle_ui(repo) as served:
        yield served


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("LADLE_UI_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def until(driver: Any, check: Callable[[Any], Any], what: str) -> Any:
    """Poll ``check(driver)`` until it is truthy (bounded); its value."""
    deadline = time.monotonic() + WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check(driver)
        except Exception as exc:  # an element not there yet, or replaced while read
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    page = driver.find_element("id", "app").text[:2000]
    raise AssertionError(f"waited {WAIT_S} s for {what} (last: {last!r}); the page shows:\n{page}")


def open_page(driver: Any, url: str, route: str, ready: str) -> None:
    """Go to ``#route`` and wait until the CSS selector ``ready`` matches and the page is not loading."""
    driver.get(f"{url}/#{route}")
    driver.refresh()  # a hash change alone keeps the old page's elements for a moment
    until(
        driver,
        lambda d: (
            d.find_element("id", "app").get_attribute("aria-busy") == "false" and d.find_elements("css selector", ready)
        ),
        f"{route} ({ready})",
    )


def texts(driver: Any, selector: str) -> list[str]:
    return [e.text for e in driver.find_elements("css selector", selector)]


def graph_of(driver: Any) -> tuple[set[str], set[tuple[str, str]]]:
    svg = driver.find_element("css selector", "#lineage-graph svg")
    nodes = {g.get_attribute("data-id") for g in svg.find_elements("css selector", "g.node")}
    edges = {
        (p.get_attribute("data-from"), p.get_attribute("data-to"))
        for p in svg.find_elements("css selector", "path.edge")
    }
    return nodes, edges


def test_overview(chromium_driver: Any, url: str, shots: Path) -> None:
    open_page(chromium_driver, url, "/", ".cards")
    counts = {
        c.get_attribute("data-count"): c.find_element("css selector", ".n").text
        for c in chromium_driver.find_elements("css selector", ".card")
    }
    assert counts == {
        "data-sources": "3",
        "entities": "1",
        "feature-views": "2",
        "on-demand-feature-views": "2",
        "feature-services": "3",
        "saved-datasets": "0",
    }
    assert chromium_driver.find_element("tag name", "h1").text == "Project ui_browser"

    def healthy(driver: Any) -> bool:
        # a probe that missed its budget on a loaded machine shows "failing" with the reason; the next load
        # asks again
        if len(texts(driver, ".kv .badge.ok")) == 3:
            return True
        open_page(driver, url, "/", ".cards")
        return False

    until(chromium_driver, healthy, "every backend healthy")
    chromium_driver.save_screenshot(str(shots / "ui-overview.png"))


def test_lists_search_and_tag_filter(chromium_driver: Any, url: str) -> None:
    for slug, names in OBJECTS.items():
        open_page(chromium_driver, url, f"/list/{slug}", "table tbody tr")
        assert texts(chromium_driver, "table tbody tr td:first-child a") == names
    open_page(chromium_driver, url, "/list/feature-views", "#search")
    search = chromium_driver.find_element("id", "search")
    search.send_keys("fresh\n")
    until(
        chromium_driver, lambda d: texts(d, "table tbody tr td:first-child") == ["driver_hourly_stats_fresh"], "search"
    )
    open_page(chromium_driver, url, "/list/feature-views?tag=team:driver_performance", "table tbody tr")
    assert len(texts(chromium_driver, "table tbody tr")) == 2
    open_page(chromium_driver, url, "/list/feature-views?tag=team:nobody", "p.muted")
    assert "Nothing matches." in chromium_driver.find_element("id", "app").text


def test_every_object_page_with_its_lineage(chromium_driver: Any, url: str) -> None:
    for slug, names in OBJECTS.items():
        for name in names:
            open_page(chromium_driver, url, f"/obj/{slug}/{name}", "#lineage-graph svg")
            heading = chromium_driver.find_element("tag name", "h1").text
            assert heading.endswith(f" {name}"), heading
            nodes, edges = graph_of(chromium_driver)
            node = f"{heading.rsplit(' ', 1)[0].replace(' ', '_')}/{name}"
            if slug != "entities":
                assert node in nodes
            assert nodes <= ALL_NODES and edges <= ALL_EDGES
            focus = chromium_driver.find_elements("css selector", "g.node.focus")
            assert [g.get_attribute("data-id") for g in focus] == ([node] if slug != "entities" else [])
            assert "Equivalent calls" in chromium_driver.find_element("id", "app").text
    open_page(chromium_driver, url, "/obj/on-demand-feature-views/transformed_conv_rate", "pre.udf")
    assert (
        "def transformed_conv_rate(inputs: pd.DataFrame)"
        in chromium_driver.find_element("css selector", "pre.udf").text
    )


def test_whole_lineage_graph(chromium_driver: Any, url: str, shots: Path) -> None:
    open_page(chromium_driver, url, "/lineage", "#lineage-graph svg")
    nodes, edges = graph_of(chromium_driver)
    assert nodes == ALL_NODES
    assert edges == ALL_EDGES
    chromium_driver.save_screenshot(str(shots / "ui-lineage.png"))
    chromium_driver.find_element("css selector", 'g.node[data-id="feature_service/driver_activity_v3"]').click()
    until(
        chromium_driver,
        lambda d: d.find_element("tag name", "h1").text == "feature service driver_activity_v3",
        "click",
    )
    nodes, edges = graph_of(chromium_driver)
    assert "feature_view/driver_hourly_stats" not in nodes and len(edges) == 6


def test_online_lookup_shows_values_and_statuses(chromium_driver: Any, url: str, repo: Path, shots: Path) -> None:
    open_page(chromium_driver, url, "/obj/feature-views/driver_hourly_stats", "#lookup-entities")
    box = chromium_driver.find_element("id", "lookup-entities")
    box.clear()
    box.send_keys('{"driver_id": [1001, 42]}')
    chromium_driver.find_element("id", "lookup-run").click()
    until(chromium_driver, lambda d: d.find_elements("css selector", "#lookup-result table tbody tr"), "lookup")
    rows = [
        [td.text for td in tr.find_elements("tag name", "td")]
        for tr in chromium_driver.find_elements("css selector", "#lookup-result table tbody tr")
    ]
    store = FeatureStore(repo_path=repo)
    expected = store.get_online_features(["driver_hourly_stats:avg_daily_trips"], {"driver_id": [1001]}).to_dict()
    store.close()
    by_key = {(r[0], r[1]): r for r in rows}
    assert by_key[("1", "avg_daily_trips")][2:4] == [str(expected["avg_daily_trips"][0]), "PRESENT"]
    assert by_key[("2", "avg_daily_trips")][2:4] == ["—", "NOT_FOUND"]
    assert by_key[("1", "driver_id")][2] == "1001"
    assert len(rows) == 2 * 4  # driver_id and three features, two keys
    chromium_driver.find_element("id", "load-sample").click()
    until(chromium_driver, lambda d: len(d.find_elements("css selector", "#sample tbody tr")) == 5, "sample rows")
    chromium_driver.find_element("id", "probe").click()
    until(chromium_driver, lambda d: "newest online event" in d.find_element("id", "freshness-box").text, "probe")
    assert chromium_driver.find_element("id", "stale-badge").text == "fresh"
    chromium_driver.execute_script("document.getElementById('freshness-box').scrollIntoView()")
    chromium_driver.save_screenshot(str(shots / "ui-feature-view.png"))


def test_feature_service_lookup_and_preview(chromium_driver: Any, url: str) -> None:
    open_page(chromium_driver, url, "/obj/feature-services/driver_activity_v1", "#preview-run")
    box = chromium_driver.find_element("id", "lookup-entities")
    assert box.get_attribute("value") == '{"driver_id":[],"val_to_add":[],"val_to_add_2":[]}'
    box.clear()
    box.send_keys('{"driver_id": [1001], "val_to_add": [10], "val_to_add_2": [20]}')
    chromium_driver.find_element("id", "lookup-run").click()
    until(chromium_driver, lambda d: d.find_elements("css selector", "#lookup-result tbody tr"), "service lookup")
    values = {
        tds[1].text: tds[2].text
        for tds in (
            tr.find_elements("tag name", "td")
            for tr in chromium_driver.find_elements("css selector", "#lookup-result tbody tr")
        )
    }
    assert float(values["conv_rate_plus_val1"]) == pytest.approx(float(values["conv_rate"]) + 10)
    assert float(values["conv_rate_plus_val2"]) == pytest.approx(float(values["conv_rate"]) + 20)
    chromium_driver.find_element("id", "preview-run").click()
    until(
        chromium_driver, lambda d: len(d.find_elements("css selector", "#preview table tbody tr")) == 5, "preview rows"
    )
    headers = texts(chromium_driver, "#preview table thead th")
    assert headers[-3:] == ["conv_rate", "conv_rate_plus_val1", "conv_rate_plus_val2"]
    assert '"driver_id":1001' in chromium_driver.find_element("id", "preview-rows").get_attribute("value")


def test_freshness_and_history_pages(chromium_driver: Any, url: str) -> None:
    open_page(chromium_driver, url, "/freshness", "table tbody tr")
    assert "0 stale of 2 feature views." in chromium_driver.find_element("id", "app").text
    assert texts(chromium_driver, "table tbody tr td:first-child") == [
        "driver_hourly_stats",
        "driver_hourly_stats_fresh",
    ]
    assert chromium_driver.find_elements("css selector", "tr.stale") == []
    open_page(chromium_driver, url, "/history", "table tbody tr")
    assert texts(chromium_driver, "table tbody tr td:first-child") == ["v1"]
    assert "ladle registry history" in " ".join(texts(chromium_driver, "pre.snippet-code"))
    chromium_driver.find_element("link text", "v1").click()
    until(chromium_driver, lambda d: d.find_element("tag name", "h1").text == "Registry version 1", "version page")
    assert len(chromium_driver.find_elements("css selector", "#diff .change.added")) == 12


def test_api_key_prompt(chromium_driver: Any, repo: Path) -> None:
    with ladle_ui(repo, "--api-key", "browser-key") as keyed:
        chromium_driver.get(f"{keyed}/#/")
        until(chromium_driver, lambda d: d.find_element("id", "key-form").is_displayed(), "the key prompt")
        assert "Unauthorized" in chromium_driver.find_element("id", "app").text
        chromium_driver.find_element("id", "key-input").send_keys("browser-key\n")
        until(chromium_driver, lambda d: d.find_elements("css selector", ".cards .card"), "the overview with the key")
        chromium_driver.execute_script("sessionStorage.clear()")


# --- a repo with a history: three registry versions, published versions, saved datasets (ui_helpers) -------
@pytest.fixture(scope="module")
def history_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LADLE_USER", "ui-tester")
        repo = build_history(tmp_path_factory.mktemp("ui_browser_history"))
    with ladle_ui(repo) as served:
        yield served


def diff_fields(driver: Any) -> list[list[str]]:
    return [
        [td.text for td in tr.find_elements("tag name", "td")]
        for tr in driver.find_elements("css selector", "#diff .change tbody tr")
    ]


def test_history_page_shows_versions_diffs_and_compares(chromium_driver: Any, history_url: str, shots: Path) -> None:
    open_page(chromium_driver, history_url, "/history", "table tbody tr")
    rows = [
        [td.text for td in tr.find_elements("tag name", "td")]
        for tr in chromium_driver.find_elements("css selector", "table tbody tr")
    ]
    assert [r[0] for r in rows] == ["v3", "v2", "v1"]
    assert [r[2] for r in rows] == ["ui-tester"] * 3
    assert (rows[0][4], rows[0][5]) == ("+0 ~1 -0", "1 contract change")
    assert (rows[1][5], rows[2][4]) == ("—", "+12 ~0 -0")
    assert rows[0][6] == "changed feature_view 'driver_hourly_stats' (schema[2].dtype)"
    chromium_driver.save_screenshot(str(shots / "ui-history.png"))
    chromium_driver.find_element("link text", "v3").click()
    until(chromium_driver, lambda d: d.find_element("tag name", "h1").text == "Registry version 3", "version page")
    assert diff_fields(chromium_driver) == [["schema[2].dtype", "Float32", "Float64"]]
    assert texts(chromium_driver, "#diff .contract-badge") == ["contract change"]
    assert "ladle registry rollback 3" in " ".join(texts(chromium_driver, "pre.snippet-code"))
    chromium_driver.save_screenshot(str(shots / "ui-history-version.png"))
    open_page(chromium_driver, history_url, "/history/2", "#diff")
    assert diff_fields(chromium_driver) == [["ttl_seconds", "86400", "7200"]]
    assert texts(chromium_driver, "#diff .contract-badge") == ["cosmetic"]
    # compare any two versions from the form on the history page
    open_page(chromium_driver, history_url, "/history", "#compare-run")
    from selenium.webdriver.support.ui import Select

    Select(chromium_driver.find_element("id", "compare-a")).select_by_visible_text("v1")
    Select(chromium_driver.find_element("id", "compare-b")).select_by_visible_text("v3")
    chromium_driver.find_element("id", "compare-run").click()
    until(chromium_driver, lambda d: d.find_element("tag name", "h1").text == "Registry v1 → v3", "compare page")
    until(chromium_driver, lambda d: d.find_elements("css selector", "#diff .change"), "the comparison")
    assert diff_fields(chromium_driver) == [["schema[2].dtype", "Float32", "Float64"], ["ttl_seconds", "86400", "7200"]]


def test_saved_datasets_pages(chromium_driver: Any, history_url: str, shots: Path) -> None:
    open_page(chromium_driver, history_url, "/datasets", "table tbody tr")
    assert texts(chromium_driver, "table tbody tr td:first-child") == ["train_eta", "train_trips"]
    chromium_driver.find_element("link text", "train_eta").click()
    until(chromium_driver, lambda d: d.find_elements("css selector", "#dataset-sample table tbody tr"), "the sample")
    assert chromium_driver.find_element("tag name", "h1").text == "saved dataset train_eta"
    assert len(chromium_driver.find_elements("css selector", "#dataset-sample table tbody tr")) == 3
    assert texts(chromium_driver, ".contract-badge")[0].startswith("contract changed (now ")
    page = chromium_driver.find_element("id", "app").text
    assert "v2 (now v3)" in page and "files:" in page
    assert "ladle reproduce train_eta" in " ".join(texts(chromium_driver, "pre.snippet-code"))
    chromium_driver.save_screenshot(str(shots / "ui-saved-dataset.png"))


def test_a_view_page_shows_its_published_versions(chromium_driver: Any, history_url: str) -> None:
    open_page(chromium_driver, history_url, f"/obj/feature-views/{VIEW}", "#published-versions table tbody tr")
    assert chromium_driver.find_element("id", "latest-version").text == "v2"
    rows = [
        [td.text for td in tr.find_elements("tag name", "td")]
        for tr in chromium_driver.find_elements("css selector", "#published-versions table tbody tr")
    ]
    assert [(r[0], r[1], r[3], r[5]) for r in rows] == [
        ("v1", "", rows[0][3], "older contract"),
        ("v2", "latest", "10", "current"),
    ]
    assert "train_eta" in chromium_driver.find_element("id", "app").text
