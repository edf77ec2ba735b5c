"""The adversarial page's Defences section in a real browser (issue #29).

Upload only (no corpus), on a tiny mel model trained at test time, in a server of its
own, with the measured result files of ``resnet18_mel`` relabelled for the tiny model
(or hand-made ones when they are missing): upload a tone, attack it through a defence,
read the three verdicts, see the test-set curves and the per-emotion figure; no
traceback in the server log.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
import soundfile as sf

from ser_core.attacks import defence_eval

from .conftest import full_screenshot, tiny_server_without_corpus, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser
VERDICT = re.compile(r"^Through the defence: ")


def _results(artifacts) -> None:
    """The shipped result files, their rows of resnet18_mel relabelled ``tiny_mel``."""
    from tests.pages.test_adversarial_defences import write_results
    from tests.tiny_model import TINY

    out = artifacts / "attacks"
    out.mkdir(exist_ok=True)
    measured = {p: defence_eval.defences_path().parent / p for p in ("defences.csv", "margin.csv")}
    if not all(p.exists() for p in measured.values()):
        write_results(artifacts)
        return
    for name, p in measured.items():
        df = pd.read_csv(p)
        df = df[df["model"] == "resnet18_mel"].assign(model=TINY)
        df.to_csv(out / name, index=False)


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    """``streamlit run app.py`` on a tiny mel model, without corpus; yields ``(url, log)``."""
    with tiny_server_without_corpus(tmp_path_factory.mktemp("defences"), prepare=_results) as served:
        yield served


def test_attack_through_a_defence(browser_page, tiny_server, tmp_path, tone_fn, output_dir):
    url, log = tiny_server
    page = browser_page
    page.goto(f"{url}/adversarial")
    wait_for_app(page)
    wav = tmp_path / "tone.wav"
    sf.write(wav, tone_fn(2.5), 16_000)
    page.locator("input[type=file]").set_input_files(str(wav))
    page.get_by_role("heading", name="Defences").wait_for(timeout=120_000)
    wait_for_app(page)
    assert not page.get_by_text(VERDICT).count()  # nothing runs before the button
    page.get_by_role("button", name="Attack through the defence").click()
    page.get_by_text(VERDICT).nth(2).wait_for(timeout=180_000)
    wait_for_app(page)
    assert page.get_by_text(re.compile(r"^Without the defence: ")).count() == 2
    page.get_by_text("A defence that stops your attack is not robustness.").wait_for()
    page.get_by_role("heading", name="Per emotion: success against the perceptual margin").wait_for()
    wait_for_plots(page)
    assert not page.locator('[data-testid="stException"]').count()
    assert not page.locator('[data-testid="stAlertContentError"]').count()
    full_screenshot(page, output_dir / "adversarial_defences.png")
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]
