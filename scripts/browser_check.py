"""Open every page of the built book in headless Chromium (part of ``make test``).

    python scripts/browser_check.py _build/smoke/_build/html --screenshots _build/screenshots/smoke

Serves the site on 127.0.0.1, loads each page over the DevTools protocol and fails (exit 1)
on images that did not load, on JavaScript errors other than the known harmless ones
(``HARMLESS``), and on pages wider than the window (a table or figure cut off instead of
scrolling inside the column). Writes a full-page screenshot of every page, at 1400 px and
at 390 px (a phone), to the screenshot folder. Needs Debian's ``chromium``
(``apt-get install chromium``); says so and exits 2 when it is missing.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from tornado.websocket import websocket_connect

# Messages Jupyter Book 1.0.4's own pages log, which no chapter causes.
HARMLESS = [
    re.compile(r"Identifier 'THEBE_JS_URL' has already been declared"),  # sphinx-thebe loads its snippet twice
    re.compile(r"favicon\.ico"),
    re.compile(r"Got invalid theme mode: \. Resetting to auto"),  # pydata theme, first visit (empty storage)
    re.compile(r"Failed to load resource: the server responded with a status of 404.*favicon"),
]
WIDTHS = (1400, 390)
SKIP = {"search.html", "genindex.html"}

PAGE_STATE = """(() => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  const main = document.querySelector('main') || document.body;
  const wide = document.documentElement.scrollWidth > window.innerWidth + 2;
  return JSON.stringify({broken, wide, height: document.documentElement.scrollHeight,
                         images: document.images.length, scrollWidth: document.documentElement.scrollWidth});
})()"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class CDP:
    """A minimal DevTools-protocol client over tornado's websocket."""

    def __init__(self, ws):
        self.ws, self.n, self.events = ws, 0, []
        self.pending: dict[int, asyncio.Future] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        while True:
            msg = await self.ws.read_message()
            if msg is None:
                return
            data = json.loads(msg)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            else:
                self.events.append(data)

    async def call(self, method, timeout=60, **params):
        self.n += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.n] = fut
        await self.ws.write_message(json.dumps({"id": self.n, "method": method, "params": params}))
        data = await asyncio.wait_for(fut, timeout)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data.get("result", {})

    async def wait_event(self, name, timeout=60):
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == name:
                    return self.events.pop(i)
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no {name} within {timeout} s")


def errors_of(events) -> list[str]:
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"{p['entry'].get('text', '')} {p['entry'].get('url', '')}")
    return [x for x in out if not any(h.search(x) for h in HARMLESS)]


async def check_pages(ws_url: str, base: str, pages: list[str], shots: Path | None) -> list[str]:
    ws = await websocket_connect(ws_url, max_message_size=512 * 1024 * 1024)
    browser = CDP(ws)
    target = await browser.call("Target.createTarget", url="about:blank")
    ws.close()
    # Talk to the page directly, on its own websocket endpoint.
    page_ws = ws_url.rsplit("/devtools/", 1)[0] + f"/devtools/page/{target['targetId']}"
    page = CDP(await websocket_connect(page_ws, max_message_size=512 * 1024 * 1024))
    for domain in ("Page", "Runtime", "Log"):
        await page.call(f"{domain}.enable")
    problems = []
    for rel in pages:
        for width in WIDTHS:
            await page.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1,
                            mobile=width < 600)
            page.events.clear()
            await page.call("Page.navigate", url=f"{base}/{rel}")
            await page.wait_event("Page.loadEventFired")
            await asyncio.sleep(0.4)  # let deferred scripts run
            state = json.loads((await page.call("Runtime.evaluate", expression=PAGE_STATE,
                                                returnByValue=True))["result"]["value"])
            for src in state["broken"]:
                problems.append(f"{rel} ({width} px): image did not load: {src}")
            for err in errors_of(page.events):
                problems.append(f"{rel} ({width} px): JavaScript error: {err[:300]}")
            if state["wide"]:
                problems.append(f"{rel} ({width} px): page is {state['scrollWidth']} px wide: something is cut off "
                                "instead of scrolling in the column")
            if shots is not None:
                height = min(int(state["height"]), 30000)
                await page.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                                deviceScaleFactor=1, mobile=width < 600)
                await asyncio.sleep(0.2)
                shot = await page.call("Page.captureScreenshot", format="png", timeout=120)
                out = shots / f"{rel.replace('/', '__')[:-5]}-{width}.png"
                out.write_bytes(base64.b64decode(shot["data"]))
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("html", type=Path)
    ap.add_argument("--screenshots", type=Path, default=None, help="folder for one PNG per page and width")
    args = ap.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("browser_check: Chromium is not installed; install Debian's package: "
              "apt-get update && apt-get install -y chromium (.ci/run does this)", file=sys.stderr)
        return 2
    pages = sorted(str(p.relative_to(args.html)) for p in args.html.rglob("*.html")
                   if p.name not in SKIP and not {"_static", "_sources", "_downloads"} & set(p.relative_to(args.html).parts)
                   and 'http-equiv="refresh"' not in p.read_text(errors="replace")[:2000].lower())
    if args.screenshots:
        shutil.rmtree(args.screenshots, ignore_errors=True)
        args.screenshots.mkdir(parents=True)
    server, port = serve(args.html)
    profile = tempfile.mkdtemp(prefix="rexbench-chromium-")
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "about:blank"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        ws_url = None
        for line in proc.stderr:
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1)
                break
        if ws_url is None:
            print("browser_check: Chromium did not start (no DevTools address)", file=sys.stderr)
            return 2
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # drain its log
        problems = asyncio.run(check_pages(ws_url, f"http://127.0.0.1:{port}", pages, args.screenshots))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    for p in problems:
        print(p)
    where = f"; screenshots in {args.screenshots}" if args.screenshots else ""
    print(f"browser_check: {len(pages)} pages at {', '.join(map(str, WIDTHS))} px, {len(problems)} problems{where}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
