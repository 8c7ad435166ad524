"""The dashboard in a real browser: headless Chromium (Debian's package) loads ``/ui`` of a
gateway serving a policy with recorded traffic and a drift, behind a key; the figures on
the page are checked against the ledger; screenshots are kept as test artefacts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx2 as httpx
import pytest
from gateway_support import serve

from phaseroute.demo import DriftDemoResult, run_drift_demo
from phaseroute.gateway._access import AccessControl
from phaseroute.gateway._keys import KeyStore

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = Path(os.environ.get("PHASEROUTE_TEST_ARTEFACTS", "test-artefacts"))

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> DriftDemoResult:
    return run_drift_demo(tmp_path_factory.mktemp("ui"), calls=3000, drift_from=1000)


@pytest.fixture(scope="module")
def keys(drifted: DriftDemoResult) -> Iterator[tuple[str, str, AccessControl]]:
    db = drifted.workdir / "phaseroute.db"
    store = KeyStore.open(db)
    risk = store.create("risk-officer").secret
    other = store.create("other-team", workflows=["nothing_here"]).secret
    store.close()
    from phaseroute.policy import load_plan

    access = AccessControl.open(load_plan(drifted.workdir / "phaseroute.yaml"), db)
    yield risk, other, access
    access.close()


@pytest.fixture(scope="module")
def gateway(drifted: DriftDemoResult, keys: tuple[str, str, AccessControl]):  # type: ignore[no-untyped-def]
    with serve(drifted.workdir / "phaseroute.yaml", access=keys[2]) as served:
        yield served


def test_the_dashboard_needs_a_key(gateway) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(gateway.url + "/ui")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(gateway.url + "/ui", auth=("x", "not-a-key")).status_code == 401


def test_a_risk_officer_reads_the_drift_in_chromium(gateway, keys, drifted) -> None:  # type: ignore[no-untyped-def]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    ledger = gateway.ledger
    ledger.flush()
    (totals,) = [t for t in ledger.totals() if t.phase == "intake_screening"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                http_credentials={"username": "risk", "password": keys[0]},
            )
            page = context.new_page()
            response = page.goto(gateway.url + "/ui")
            assert response is not None
            assert response.status == 200
            page.screenshot(path=str(ARTEFACTS / "dashboard.png"), full_page=True)
            page.emulate_media(media="print")
            page.screenshot(path=str(ARTEFACTS / "dashboard-print.png"), full_page=True)
            page.emulate_media(media="screen")

            figures = page.locator("#spend .figure b").all_inner_texts()
            assert figures[0] == f"{totals.calls:,}"  # routed calls, as in the ledger
            assert (
                Decimal(figures[1].lstrip("$").replace(",", ""))
                == totals.cost.quantize(Decimal("0.0001"))
                or figures[1] == f"${totals.cost:,.2f}"
            )
            badge = page.locator("#quality .badge").first.inner_text()
            assert "drifted" in badge
            assert "reverted to the top tier" in badge
            row = page.locator("#spend table tr", has_text="intake_screening")
            assert "drift revert" in row.inner_text()
            assert page.locator("#quality svg rect.interval.drifted").count() == 1
            assert "Records" in page.locator("#audit").inner_text()
            body = page.locator("body").inner_text()
            assert "None" not in body
            assert "{" not in body
            # Nothing on the page came from outside the gateway.
            external = page.evaluate(
                "Array.from(document.querySelectorAll('[src],[href]'))"
                ".map(e => e.src || e.href).filter(u => u && !u.startsWith(location.origin))"
            )
            assert external == []
        finally:
            browser.close()


def test_a_scoped_key_sees_only_its_workflows(gateway, keys) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(gateway.url + "/ui", headers={"x-api-key": keys[1]})
    assert r.status_code == 200
    assert "intake_screening" not in r.text
