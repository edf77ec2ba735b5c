"""The load harness's browserless sessions (``benchmarks/protocol_client.py``) against the
real app: two sessions upload different nEMO clips at the same moment and each gets the
verdict of its own clip, with its player's media served and no error on the page.

``class_load.py --client protocol`` measures a class with these sessions, so this keeps
the harness honest: if the app's widgets or Streamlit's protocol change, it fails here
rather than printing figures of sessions that never got an answer.
"""

from __future__ import annotations

import asyncio
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ser_core import data, models

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from protocol_client import StreamlitClient

pytestmark = pytest.mark.browser
VERDICT = re.compile(r"Prediction:|The model is unsure")


def test_two_protocol_sessions_upload_at_once_and_each_gets_its_own_verdict(app_server):
    if not models.shipped():
        pytest.skip("no shipped model in artifacts/models")
    if not data.corpus_available():
        pytest.skip("nEMO corpus not found: set NEMO_DIR (needed for real clips)")
    meta = data.load_metadata()
    paths = [Path(p) for p in meta.groupby("emotion")["path"].first().iloc[:2]]

    async def one(path: Path) -> StreamlitClient:
        c = StreamlitClient(app_server, "predictor")
        try:
            await c.open()
            assert c.session_id
            await c.click(key="predictor.first_use.skip")  # the first-use step, then the page's uploader
            await c.upload(path.read_bytes(), path.name, key="predictor.uploader")
        finally:
            await c.close()
        return c

    async def both() -> list[StreamlitClient]:
        return list(await asyncio.gather(*(one(p) for p in paths)))

    # a thread of its own: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        clients = pool.submit(lambda: asyncio.run(both())).result()
    assert clients[0].session_id != clients[1].session_id
    for c, path in zip(clients, paths):
        texts = "\n".join(c.page.texts())
        assert VERDICT.search(texts), texts[-500:]
        assert path.name in texts and paths[1 - paths.index(path)].name not in texts  # its own clip
        assert c.page.media() and not c.errors and not c.page.errors()
