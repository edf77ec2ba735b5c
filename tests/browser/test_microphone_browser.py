"""Students' microphones over the room's network (issue #27).

The app serves on every interface, and Chromium opens it at this machine's network
address, as a student's laptop would: over plain http the predictor says why there is no
microphone; over https with the self-signed certificate of ``serve --https`` the recorder
works (Chromium's fake capture device plays a clip) and the recording gets a prediction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ser_core import models, serving

from .conftest import fake_microphone_browser, streamlit_server
from .test_predictor_browser import fake_microphone_wav, skip_first_use

pytestmark = pytest.mark.browser
NO_MIC = "Your browser gives no microphone to this page"


@pytest.fixture(scope="module")
def lan_address() -> str:
    addresses = serving.lan_addresses()
    if not addresses:
        pytest.skip("this machine has no network address other than loopback")
    return addresses[0]


@contextlib.contextmanager
def room_server(tmp_path: Path, *, https: bool) -> Iterator[int]:
    """The app on every interface, as ``serve`` starts it; yields its port."""
    cert = serving.self_signed_certificate(tmp_path, addresses=serving.lan_addresses()) if https else None
    with streamlit_server(tmp_path, address="0.0.0.0", cert=cert) as (url, _log):
        yield int(url.rsplit(":", 1)[1])


def open_recorder(page) -> None:
    skip_first_use(page)
    page.get_by_text("Record (up to", exact=False).first.click()


def test_plain_http_from_another_machine_says_why_there_is_no_microphone(browser_page, lan_address, tmp_path):
    if not models.shipped():
        pytest.skip("no shipped model in artifacts/models")
    with room_server(tmp_path, https=False) as port:
        page = browser_page
        page.goto(f"http://{lan_address}:{port}/predictor")
        open_recorder(page)
        alert = page.get_by_role("alert").filter(has_text=NO_MIC).last  # the recorder's
        alert.wait_for(timeout=60_000)
        assert "serve --https" in alert.inner_text()
        assert page.evaluate("() => !window.isSecureContext")


def test_https_with_the_self_signed_certificate_lets_the_recorder_work(
    browser, lan_address, tmp_path, output_dir
):
    if not models.shipped():
        pytest.skip("no shipped model in artifacts/models")
    with room_server(tmp_path, https=True) as port:
        student = fake_microphone_browser(browser, fake_microphone_wav(tmp_path / "mic.wav", seconds=6.0))
        try:  # the student leaves before the server stops (an open connection holds it)
            ctx = student.new_context(
                ignore_https_errors=True,  # the student clicked "Proceed" past the warning
                permissions=["microphone"],
                viewport={"width": 1400, "height": 1000},
            )
            page = ctx.new_page()
            page.set_default_timeout(90_000)
            page.goto(f"https://{lan_address}:{port}/predictor")
            open_recorder(page)
            assert page.evaluate("() => window.isSecureContext")
            assert not page.get_by_text(NO_MIC).count()
            recorder = page.locator('[data-testid="stAudioInput"]').last
            recorder.get_by_role("button", name="Record").click()
            page.wait_for_timeout(3000)
            recorder.get_by_role("button", name="Stop recording").click()
            page.locator(".st-key-predictor-verdict").get_by_text("Prediction:").wait_for()
            page.screenshot(path=str(output_dir / "predictor_https_recording.png"), full_page=True)
            assert not page.locator('[data-testid="stException"]').count()
        finally:
            student.close()
