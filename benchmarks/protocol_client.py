"""A Streamlit session without a browser: the app's own WebSocket protocol, from Python.

A student's tab costs the server what it asks over the WebSocket (reruns with widget
states, file uploads, media fetches); drawing the answer costs the student's own laptop.
On one machine, thirty Chromium tabs take the cores the server is measured on, so
``class_load.py --client protocol`` drives the sessions with this client instead: it
sends the same messages a browser sends (``BackMsg`` protobufs: reruns, the file-URL
request before an upload, button triggers), uploads through the same HTTP route with the
same XSRF token, fetches the media the page refers to, and reads the same ``ForwardMsg``
deltas.  It draws nothing, so its own CPU is a small fraction of a tab's.

What it does not do: run JavaScript, send the widget states of widgets it never touched
(they keep their defaults, as in a tab nobody has clicked yet), or fetch the page's static
bundle after the first load (a browser caches it too).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.Common_pb2 import FileUploaderState, FileURLsRequest, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from yarl import URL

#: ``ForwardMsg.script_finished`` values that end a whole run (not one ended early for a
#: rerun, which another run follows).
RUN_ENDED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}
XSRF_COOKIE = "_streamlit_xsrf"


@dataclass
class Page:
    """What the session shows now: its elements by delta path (the run's latest)."""

    elements: dict[tuple[int, ...], object] = field(default_factory=dict)

    def texts(self) -> list[str]:
        """Every markdown, alert, caption, heading and code body on the page."""
        out = []
        for el in self.elements.values():
            kind = el.WhichOneof("type")
            body = getattr(getattr(el, kind), "body", None) if kind else None
            if isinstance(body, str) and body:
                out.append(body)
        return out

    def find(self, kind: str, *, key: str | None = None, label: str | None = None):
        """The first element of ``kind`` (``button``, ``file_uploader``) whose id ends with the
        widget ``key`` or whose label is ``label``; None when there is none."""
        for el in self.elements.values():
            if el.WhichOneof("type") != kind:
                continue
            w = getattr(el, kind)
            if (key and w.id.endswith(f"-{key}")) or (label and w.label == label):
                return w
        return None

    def errors(self) -> list[str]:
        """The bodies of error boxes and the messages of exceptions on the page."""
        out = []
        for el in self.elements.values():
            kind = el.WhichOneof("type")
            if kind == "alert" and el.alert.format == el.alert.ERROR:
                out.append(el.alert.body)
            elif kind == "exception":
                out.append(f"{el.exception.type}: {el.exception.message}")
        return out

    def media(self) -> list[str]:
        """URLs of the media the page plays or shows (a browser fetches them)."""
        urls = []
        for el in self.elements.values():
            kind = el.WhichOneof("type")
            url = getattr(getattr(el, kind), "url", "") if kind in ("audio", "video") else ""
            if url.startswith("/media/"):
                urls.append(url)
        return urls


class StreamlitClient:
    """One session of a Streamlit app over its WebSocket.

    Parameters
    ----------
    url : str
        The app's address (``http://127.0.0.1:8501``).
    page : str
        The page's URL path (``predictor``; ``""``: the home page).
    """

    def __init__(self, url: str, page: str = "") -> None:
        self.url, self.page_name = url.rstrip("/"), page
        self.page = Page()
        self.session_id = ""
        self.errors: list[str] = []
        self._http: aiohttp.ClientSession | None = None
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._ended = asyncio.Event()
        self._file_urls: dict[str, asyncio.Future] = {}
        self._widgets: dict[str, WidgetState] = {}

    # ------------------------------------------------------------------ connection
    async def open(self) -> None:
        """Load the page, ask for its health as the frontend does (which sets the XSRF
        cookie), connect, and wait for the first run to end."""
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        for path in (self.page_name, "_stcore/health"):
            async with self._http.get(f"{self.url}/{path}") as r:
                await r.read()
        ws_url = self.url.replace("http", "ws", 1) + "/_stcore/stream"
        self._ws = await self._http.ws_connect(
            ws_url,
            protocols=("streamlit", self._xsrf() or "PLACEHOLDER"),
            headers={"Origin": self.url},
            max_msg_size=0,
        )
        self._reader = asyncio.create_task(self._read())
        await self.rerun()

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()

    def _xsrf(self) -> str:
        cookie = self._http.cookie_jar.filter_cookies(URL(self.url)).get(XSRF_COOKIE)
        return cookie.value if cookie else ""

    async def _read(self) -> None:
        async for frame in self._ws:
            if frame.type != aiohttp.WSMsgType.BINARY:
                continue
            msg = ForwardMsg()
            msg.ParseFromString(frame.data)
            self._handle(msg)

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            if msg.new_session.initialize.session_id:
                self.session_id = msg.new_session.initialize.session_id
            self.page = Page()  # a new run redraws the page
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self.page.elements[tuple(msg.metadata.delta_path)] = msg.delta.new_element
        elif kind == "script_finished" and msg.script_finished in RUN_ENDED:
            self._ended.set()
        elif kind == "file_urls_response":
            fut = self._file_urls.pop(msg.file_urls_response.response_id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.file_urls_response)

    async def _send(self, back: BackMsg) -> None:
        await self._ws.send_bytes(back.SerializeToString())

    # ------------------------------------------------------------------ interactions
    async def rerun(self, *changed: WidgetState, timeout: float = 300, wait: bool = True) -> None:
        """Rerun the page with the widget states set so far plus ``changed`` (a trigger,
        such as a button click, counts for this run only); ``wait``: until the run ends
        (else :meth:`finished` waits)."""
        states = dict(self._widgets)
        for w in changed:
            states[w.id] = w
            if not w.HasField("trigger_value"):
                self._widgets[w.id] = w
        back = BackMsg(
            rerun_script=ClientState(
                query_string="",
                page_name=self.page_name,
                widget_states=WidgetStates(widgets=list(states.values())),
                context_info=ContextInfo(timezone="Europe/Warsaw", timezone_offset=-60, locale="en-GB"),
            )
        )
        self._ended.clear()
        await self._send(back)
        if wait:
            await self.finished(timeout=timeout)

    async def finished(self, *, timeout: float = 300) -> None:
        """Wait for the current run to end, then fetch its media."""
        await asyncio.wait_for(self._ended.wait(), timeout)
        await self.fetch_media()

    async def click(self, *, label: str | None = None, key: str | None = None) -> bool:
        """Click a button (by label or widget key); False when the page shows none."""
        button = self.page.find("button", label=label, key=key)
        if button is None:
            return False
        await self.rerun(WidgetState(id=button.id, trigger_value=True))
        return True

    async def choose(self, pattern, *, key: str) -> bool:
        """Pick the option matching the compiled regex ``pattern`` in the radio with widget
        ``key``; False when the page shows no such radio."""
        radio = self.page.find("radio", key=key)
        if radio is None:
            return False
        option = next(o for o in radio.options if pattern.search(o))
        await self.rerun(WidgetState(id=radio.id, string_value=option))
        return True

    async def upload(
        self, data: bytes, name: str, *, key: str, timeout: float = 300, wait: bool = True
    ) -> None:
        """Upload ``data`` as file ``name`` into the uploader with widget ``key``, as a
        browser does (file URLs, PUT with the XSRF token, then the rerun with the file's
        state); ``wait``: until the run ends."""
        uploader = self.page.find("file_uploader", key=key)
        if uploader is None:
            raise LookupError(f"no file uploader with key {key!r} on the page")
        request_id = uuid.uuid4().hex
        fut = asyncio.get_running_loop().create_future()
        self._file_urls[request_id] = fut
        await self._send(
            BackMsg(
                file_urls_request=FileURLsRequest(
                    request_id=request_id, file_names=[name], session_id=self.session_id
                )
            )
        )
        urls = (await asyncio.wait_for(fut, timeout)).file_urls[0]
        form = aiohttp.FormData()
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
        async with self._http.put(
            self.url + urls.upload_url, data=form, headers={"X-Xsrftoken": self._xsrf()}
        ) as r:
            if r.status >= 300:
                raise RuntimeError(f"upload of {name} failed: HTTP {r.status}")
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)
        state = FileUploaderState(uploaded_file_info=[info])
        await self.rerun(
            WidgetState(id=uploader.id, file_uploader_state_value=state), timeout=timeout, wait=wait
        )

    async def fetch_media(self) -> None:
        """Fetch the page's media as a browser's players do (errors are recorded)."""
        for url in self.page.media():
            async with self._http.get(self.url + url) as r:
                await r.read()
                if r.status >= 400:
                    self.errors.append(f"media {url}: HTTP {r.status}")

    async def wait_for_text(self, pattern, *, timeout: float = 300) -> float:
        """Seconds until a text on the page matches the compiled regex ``pattern``."""
        t0 = time.perf_counter()
        while not any(pattern.search(t) for t in self.page.texts()):
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"no text matching {pattern.pattern!r} within {timeout:.0f} s")
            await asyncio.sleep(0.02)
        return time.perf_counter() - t0
