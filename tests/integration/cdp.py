"""Headless Chromium driven through the Chrome DevTools Protocol, for pages a test must use, not
only load: fill a field, choose a file, press a button, read what the page shows.

Chromium is started with ``--remote-debugging-port=0``; the port it picked is read from
``DevToolsActivePort`` in its profile, and the page's WebSocket is spoken with aiohttp's client
(no other dependency). Messages the browser logs (a Content-Security-Policy refusal among them)
are collected in :attr:`Browser.log`.
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


class Browser:
    """One headless Chromium with one page; ``async with Browser(binary, tmp) as page``."""

    def __init__(self, binary: str, workdir: Path, *, width: int = 390, height: int = 844) -> None:
        self.binary, self.width, self.height = binary, width, height
        self.profile = workdir / f"profile-{uuid.uuid4().hex[:6]}"
        self.log: list[str] = []
        self._ids = itertools.count(1)
        self._process: subprocess.Popen[bytes] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> Browser:
        self._process = subprocess.Popen(
            [
                self.binary,
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
                f"--window-size={self.width},{self.height}",
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = await self._port()
        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json(content_type=None)
        (page,) = [t for t in targets if t.get("type") == "page"][:1]
        self._ws = await self._session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self.call("Log.enable")
        await self.call("Runtime.enable")
        await self.call("Page.enable")
        # A phone's screen, as a phone reports it (a desktop window has a minimum width).
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=True,
        )
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
        shutil.rmtree(self.profile, ignore_errors=True)

    async def _port(self, timeout: float = 30.0) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and (lines := marker.read_text().splitlines()):
                return int(lines[0])
            assert self._process is not None and self._process.poll() is None, "chromium exited"
            await asyncio.sleep(0.1)
        raise AssertionError("chromium did not open its debugging port")

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One protocol command; its result (events that arrive meanwhile go to the log)."""
        assert self._ws is not None
        command_id = next(self._ids)
        await self._ws.send_str(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = await asyncio.wait_for(self._ws.receive(), timeout=30)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            data = json.loads(message.data)
            if data.get("id") == command_id:
                assert "error" not in data, data["error"]
                return dict(data.get("result", {}))
            self._note(data)

    def _note(self, event: dict[str, Any]) -> None:
        params = event.get("params", {})
        if event.get("method") == "Log.entryAdded":
            self.log.append(str(params.get("entry", {}).get("text", "")))
        elif event.get("method") == "Runtime.consoleAPICalled":
            self.log.extend(str(a.get("value", "")) for a in params.get("args", []))

    async def evaluate(self, expression: str) -> Any:
        """The value of a script expression in the page (promises awaited)."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    async def open(self, url: str) -> None:
        await self.call("Page.navigate", url=url)
        await self.wait_for(
            "document.readyState === 'complete' && location.href.startsWith('http')"
        )

    async def wait_for(self, condition: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not await self.evaluate(condition):
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never reached: {condition}")
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> None:
        """A PNG of the whole page as it is shown now."""
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    async def choose_file(self, selector: str, path: Path) -> None:
        """What a person does with the file dialog: ``path`` chosen in the file input."""
        root = await self.call("DOM.getDocument")
        found = await self.call(
            "DOM.querySelector", nodeId=root["root"]["nodeId"], selector=selector
        )
        await self.call("DOM.setFileInputFiles", files=[str(path)], nodeId=found["nodeId"])
