"""Headless Chromium driven over the Chrome DevTools Protocol (a websocket, aiohttp's client):
navigate, evaluate, click at an element's place on the screen as a finger would, type, and
collect what the browser complains about (console errors, refused content, exceptions)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["Browser", "browser"]

_LISTENING = re.compile(r"DevTools listening on (ws://[^\s]+)")


class Browser:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next = 0
        self.complaints: list[str] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        await self._ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await self._ws.receive(timeout=30)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"the browser's websocket closed: {message.type}")
            data = json.loads(message.data)
            if data.get("id") == ident:
                if "error" in data:
                    raise AssertionError(f"{method}: {data['error']}")
                result: dict[str, Any] = data.get("result", {})
                return result
            self._event(data)

    def _event(self, data: dict[str, Any]) -> None:
        method, params = data.get("method"), data.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.complaints.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            where = f" ({entry['url']})" if entry.get("url") else ""
            self.complaints.append(f"{entry.get('text', '')}{where}"[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.complaints.append(json.dumps(params.get("args", []))[:500])

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:200]}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float = 20.0, show: str = "") -> Any:
        """The value of ``expression`` once it is true; on a timeout the error shows the
        element ``show`` (a selector), as the page has it then."""
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
                raise AssertionError(f"timed out waiting for: {expression}{shown}")
            await asyncio.sleep(0.2)

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

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

    async def type(self, selector: str, text: str) -> None:
        await self.tap(selector)
        await self.send("Input.insertText", text=text)

    async def screenshot(self, path: Path) -> None:
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def browser(
    binary: str, profile_root: Path, *, width: int, height: int
) -> AsyncIterator[Browser]:
    """Chromium headless with a fresh profile, its one tab emulating a screen of ``width`` x
    ``height`` CSS pixels (a phone's width)."""
    profile = profile_root / f"profile-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen(
        [
            binary,
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
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        endpoint = None
        seen = []
        while endpoint is None and time.monotonic() < deadline:
            line = await asyncio.to_thread(proc.stderr.readline)
            if not line:
                break
            seen.append(line)
            found = _LISTENING.search(line)
            endpoint = found.group(1) if found else None
        assert endpoint is not None, "chromium did not open its DevTools port:\n" + "".join(seen)
        http = endpoint.replace("ws://", "http://").split("/devtools/")[0]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{http}/json/list") as answer:
                targets = await answer.json()
            page = next(t for t in targets if t.get("type") == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                tab = Browser(ws)
                for domain in ("Page", "Runtime", "Log"):
                    await tab.send(f"{domain}.enable")
                await tab.send(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=2,
                    # Not "mobile": that zooms a page wider than the screen out to fit, and
                    # taps would land beside their target; the narrow viewport is what counts.
                    mobile=False,
                )
                yield tab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
