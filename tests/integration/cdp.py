"""Headless Chromium driven through the Chrome DevTools Protocol, the one driver the page tests
share: open a page, read it with a script, tap an element at its place on the screen as a finger
would, type, choose a file, take a screenshot, measure whether the page fits the screen, and
collect what the browser complains about (script errors, console errors, refused content such
as a Content-Security-Policy refusal) in :attr:`Browser.complaints`.

Chromium is started with ``--remote-debugging-port=0``; the port it picked is read from
``DevToolsActivePort`` in its fresh profile (its stderr is not read, so it cannot fill a pipe and
stall the browser), and the page's WebSocket is spoken with aiohttp's client. The one tab emulates
a screen of ``width`` x ``height`` CSS pixels; not as a "mobile" device, which zooms a page wider
than the screen out to fit it, so that a tap would land beside its target and an overflow would
hide: the narrow viewport is what counts.

Use: ``async with Browser(chromium(), tmp_path, width=360) as page: await page.open(url)``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from tooling import require

__all__ = ["HEADLESS", "Browser", "chromium"]

#: Chromium's switches for a test: headless, no sandbox (containers), nothing fetched in the
#: background, Dutch as the language a visitor asks for.
HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--lang=nl-NL",
)


def chromium() -> str:
    """The ``chromium`` binary (:func:`tooling.require`: skips on a developer's machine, fails
    where ``CI`` is set)."""
    return require("chromium")


# JavaScript: how wide the page is against the screen, and every shown element whose box ends
# right of the screen (tag#id.class), the first 20.
_OVERFLOW = """(() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter((n) => n.getClientRects().length)
    .filter((n) => n.getBoundingClientRect().right > width + 0.5)
    .map((n) => n.tagName + (n.id ? "#" + n.id : "") + "." + n.className);
  return { width, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 20) };
})()"""


class Browser:
    """One headless Chromium with one tab; ``async with Browser(binary, workdir) as page``."""

    def __init__(
        self, binary: str, workdir: Path, *, width: int = 390, height: int = 844, scale: int = 1
    ) -> None:
        self.binary, self.width, self.height, self.scale = binary, width, height, scale
        self.profile = workdir / f"profile-{uuid.uuid4().hex[:6]}"
        self.complaints: list[str] = []
        #: Requests held back by :meth:`hold`, oldest first: ``{"id", "method", "url"}``.
        self.held: list[dict[str, str]] = []
        self._ids = itertools.count(1)
        self._process: subprocess.Popen[bytes] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> Browser:
        self._process = subprocess.Popen(
            [
                self.binary,
                *HEADLESS,
                f"--window-size={self.width},{self.height}",
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = await self._port()
            self._session = aiohttp.ClientSession()
            async with self._session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json(content_type=None)
            page = next(t for t in targets if t.get("type") == "page")
            self._ws = await self._session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
            for domain in ("Page", "Runtime", "Log"):
                await self.send(f"{domain}.enable")
            await self.send(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=self.height,
                deviceScaleFactor=self.scale,
                mobile=False,
            )
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    async def _port(self, timeout: float = 60.0) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and (lines := marker.read_text().splitlines()):
                return int(lines[0])
            assert self._process is not None and self._process.poll() is None, "chromium exited"
            await asyncio.sleep(0.1)
        raise AssertionError("chromium did not open its DevTools port")

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One protocol command and its result; events that arrive meanwhile are noted."""
        assert self._ws is not None
        ident = next(self._ids)
        await self._ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await self._ws.receive(timeout=30)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"the browser's websocket closed: {message.type}")
            data = json.loads(message.data)
            if data.get("id") == ident:
                if "error" in data:
                    raise AssertionError(f"{method}: {data['error']}")
                return dict(data.get("result", {}))
            self._note(data)

    def unexpected(self, expected: dict[str, str]) -> list[str]:
        """The complaints other than those ``expected``: an address ending (``"/favicon.ico)"``,
        as the complaint names it) and what its complaint says (``"404 (Not Found) (http"``)."""
        return [
            c
            for c in self.complaints
            if not any(c.endswith(end) and said in c for end, said in expected.items())
        ]

    def _note(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.complaints.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            where = f" ({entry['url']})" if entry.get("url") else ""
            self.complaints.append(f"{entry.get('text', '')}{where}"[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.complaints.append(json.dumps(params.get("args", []))[:500])
        elif method == "Fetch.requestPaused":
            request = params.get("request", {})
            self.held.append(
                {
                    "id": params["requestId"],
                    "method": request.get("method", ""),
                    "url": request["url"],
                }
            )

    async def evaluate(self, expression: str) -> Any:
        """The value of a script expression in the page (a promise is awaited)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:200]}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    async def open(self, url: str) -> None:
        """Go to ``url`` and wait until its document has loaded."""
        await self.send("Page.navigate", url=url)
        await self.wait_for(
            "document.readyState === 'complete' && location.href.startsWith('http')"
        )

    async def wait_for(self, expression: str, timeout: float = 30.0, show: str = "") -> Any:
        """The value of ``expression`` once it is true; on a timeout the error shows the element
        ``show`` (a selector) as the page has it then."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                shown = ""
                if show:
                    query = f"document.querySelector({json.dumps(show)})?.outerHTML"
                    shown = "\n" + str(await self.evaluate(query))[:3000]
                raise AssertionError(f"the page never reached: {expression}{shown}")
            await asyncio.sleep(0.1)

    async def tap(self, selector: str) -> None:
        """A click at the middle of the element, after scrolling it into view: what a finger on
        a phone does, and it fails when the element is hidden or covered."""
        box = await self.evaluate(
            f"""(() => {{
                const node = document.querySelector({json.dumps(selector)});
                if (!node) return null;
                node.scrollIntoView({{block: "center", inline: "center"}});
                const r = node.getBoundingClientRect();
                const x = r.left + r.width / 2, y = r.top + r.height / 2;
                const hit = document.elementFromPoint(x, y);
                const visible = !!hit && (hit === node || node.contains(hit));
                return {{x, y, width: r.width, visible}};
            }})()"""
        )
        assert box is not None, f"no element {selector}"
        assert box["width"] > 0 and box["visible"], f"{selector} cannot be tapped: {box}"
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                clickCount=1,
            )

    async def hold(self, url_pattern: str, *, answered: bool = True) -> None:
        """Hold back the page's requests whose URL matches ``url_pattern`` (``*`` and ``?`` as
        wildcards) until :meth:`release`: a slow network on demand. ``answered``: held once the
        server has answered (the page gets that answer on release, however late), else before
        the request leaves the browser."""
        stage = "Response" if answered else "Request"
        await self.send(
            "Fetch.enable", patterns=[{"urlPattern": url_pattern, "requestStage": stage}]
        )

    async def wait_held(self, count: int, timeout: float = 30.0) -> list[dict[str, str]]:
        """The requests held back so far, once there are at least ``count``."""
        deadline = time.monotonic() + timeout
        while len(self.held) < count:
            assert time.monotonic() < deadline, f"{len(self.held)} requests held, not {count}"
            await self.evaluate("0")  # reads the events that came in meanwhile
            await asyncio.sleep(0.05)
        return list(self.held)

    async def release(self, request: dict[str, str], *, fail: bool = False) -> None:
        """Let a held request go on (``fail``: as if the connection was refused)."""
        self.held.remove(request)
        if fail:
            await self.send("Fetch.failRequest", requestId=request["id"], errorReason="Failed")
        else:
            await self.send("Fetch.continueRequest", requestId=request["id"])

    async def stop_holding(self) -> None:
        """Hold nothing back any more; the requests still held go on."""
        for request in list(self.held):
            await self.release(request)
        await self.send("Fetch.disable")

    async def type(self, selector: str, text: str) -> None:
        """Tap the field, then type ``text`` into it."""
        await self.tap(selector)
        await self.send("Input.insertText", text=text)

    async def choose_file(self, selector: str, path: Path) -> None:
        """What a person does with the file dialog: ``path`` chosen in the file input."""
        root = await self.send("DOM.getDocument")
        found = await self.send(
            "DOM.querySelector", nodeId=root["root"]["nodeId"], selector=selector
        )
        await self.send("DOM.setFileInputFiles", files=[str(path)], nodeId=found["nodeId"])

    async def overflow(self) -> dict[str, Any]:
        """``{"width", "scroll", "wide"}``: the screen's width, the page's scroll width and the
        shown elements that stick out on the right (empty when the page fits)."""
        found = await self.evaluate(_OVERFLOW)
        assert isinstance(found, dict)
        return found

    async def screenshot(self, path: Path) -> None:
        """A PNG of the whole page as it is shown now."""
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
