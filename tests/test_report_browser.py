"""The demo reports as a reader sees them in headless Chromium: every figure and table loads.

A finished run of each demo programme (the session fixture ``demo_runs``) is opened page by
page (``index.html``, each notebook's HTML, the fieldwork dashboard) through ``file://`` in headless
Chromium, driven over the DevTools protocol (``websocket-client``; no chromedriver needed). For
each page the test waits for the load event and then asserts that every ``<img>`` is complete
with a natural width above zero, every table has body rows, the numbers of images and tables in
the browser equal the numbers in the HTML source and the numbers of figures and tables in the
executed notebook (so a missing figure fails), and the report's title is there in the config's
language.

Network access is cut inside the browser (every host name resolves to nothing), so the page
cannot lean on a CDN for anything the test checks, and a missing network cannot stall the load.
The test is skipped only when Chromium is absent and ``DOORSTEP_REQUIRE_BROWSER`` is unset;
``.ci/run`` sets it, so in CI a missing browser is a failure, not a silent skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest

from doorstep.config import load_config
from doorstep.report import text
from doorstep.run import CHAIN
from doorstep.run.runner import REPORT_NOTEBOOK

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
START_TIMEOUT = 60.0  # seconds for Chromium to open its DevTools port (slow on a loaded machine)
PAGE_TIMEOUT = 120.0  # seconds for one page to load and for its images to decode

#: Runs in the page once it has loaded: waits for every image to decode (or fail), then reports
#: what a reader would see. A broken image has ``complete`` true but a natural width of zero.
PAGE_PROBE = """
(async () => {
  const images = Array.from(document.images);
  await Promise.all(images.map(image => image.decode().catch(() => null)));
  const tables = Array.from(document.querySelectorAll('table'));
  return {
    readyState: document.readyState,
    title: document.title,
    text: document.body ? document.body.innerText : '',
    images: images.map(image => ({
      complete: image.complete, naturalWidth: image.naturalWidth,
      naturalHeight: image.naturalHeight, source: image.src.slice(0, 60)})),
    tables: tables.map(table => ({
      bodyRows: table.tBodies.length
        ? Array.from(table.tBodies).reduce((n, body) => n + body.rows.length, 0)
        : table.rows.length - (table.tHead ? table.tHead.rows.length : 0),
      cells: table.querySelectorAll('td, th').length})),
  };
})()
"""


def find_browser() -> str | None:
    """The path of a Chromium executable on ``PATH``, or None."""
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _TagCounter(HTMLParser):
    """Counts ``<img>`` and ``<table>`` start tags outside scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.counts = {"img": 0, "table": 0}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.counts:
            self.counts[tag] += 1


def count_tags(html: str) -> dict[str, int]:
    """The numbers of ``<img>`` and ``<table>`` elements in an HTML source.

    Examples
    --------
    >>> count_tags("<table><tr><td><img src='a.png'></td></tr></table><script>'<img>'</script>")
    {'img': 1, 'table': 1}
    """
    counter = _TagCounter()
    counter.feed(html)
    counter.close()
    return counter.counts


def count_notebook_outputs(notebook: Path) -> dict[str, int]:
    """The figures (``image/png`` outputs) and HTML tables an executed notebook displays."""
    counts = {"img": 0, "table": 0}
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            counts["img"] += "image/png" in data
            counts["table"] += count_tags(data.get("text/html", ""))["table"]
    return counts


class DevTools:
    """A minimal DevTools-protocol session with one page of a running Chromium."""

    def __init__(self, websocket_url: str) -> None:
        import websocket  # websocket-client, a dependency of jupyter_server

        self._socket = websocket.create_connection(websocket_url, timeout=PAGE_TIMEOUT,
                                                   suppress_origin=True)
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self._socket.close()

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        command_id = self._next_id
        self._socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == command_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method} failed: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for_event(self, method: str, deadline: float) -> dict[str, Any]:
        """Wait for (or find among the kept events) the first event called ``method``."""
        while True:
            for position, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(position)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} event within {PAGE_TIMEOUT:.0f} s")
            self._socket.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self._socket.recv())
            if "method" in message:
                self.events.append(message)


@contextmanager
def headless_chromium(browser: str) -> Iterator[DevTools]:
    """Start headless Chromium with a throw-away profile; yield a DevTools session to its page.

    ``--no-sandbox`` is added when running as root (CI containers), where Chromium refuses to
    start with its sandbox. Host names resolve to nothing, so no page can reach the network.
    """
    with tempfile.TemporaryDirectory(prefix="doorstep-chromium-") as profile:
        command = [
            browser, "--headless=new", f"--user-data-dir={profile}",
            "--remote-debugging-port=0", "--remote-allow-origins=*", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-gpu",
            "--disable-dev-shm-usage", "--disable-background-networking", "--mute-audio",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--no-sandbox")
        command.append("about:blank")
        log = Path(profile) / "chromium.log"
        with open(log, "wb") as log_handle:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_handle,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        session = None
        try:
            port = _devtools_port(Path(profile), process, log)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as reply:
                targets = json.loads(reply.read())
            page = next(target for target in targets if target["type"] == "page")
            session = DevTools(page["webSocketDebuggerUrl"])
            yield session
        finally:
            if session is not None:
                session.close()
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _devtools_port(profile: Path, process: subprocess.Popen, log: Path) -> int:
    """The port Chromium writes to ``<profile>/DevToolsActivePort`` once it listens."""
    deadline = time.monotonic() + START_TIMEOUT
    port_file = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with code {process.returncode} at start-up: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        lines = port_file.read_text().splitlines() if port_file.is_file() else []
        if lines and lines[0].strip().isdigit():
            return int(lines[0])
        time.sleep(0.1)
    raise TimeoutError(f"Chromium did not open its DevTools port within {START_TIMEOUT:.0f} s: "
                       f"{log.read_text(errors='replace')[-2000:]}")


def open_page(session: DevTools, page: Path) -> dict[str, Any]:
    """Load ``page`` through ``file://``, wait for its load event, and return the probe's view."""
    session.events.clear()
    session.call("Page.enable")
    session.call("Network.enable")
    deadline = time.monotonic() + PAGE_TIMEOUT
    navigation = session.call("Page.navigate", url=page.resolve().as_uri())
    if navigation.get("errorText"):
        raise RuntimeError(f"{page}: Chromium could not open it: {navigation['errorText']}")
    session.wait_for_event("Page.loadEventFired", deadline)
    result = session.call("Runtime.evaluate", expression=PAGE_PROBE, awaitPromise=True,
                          returnByValue=True, timeout=int(PAGE_TIMEOUT * 1000))
    if "exceptionDetails" in result:
        raise RuntimeError(f"{page}: the probe failed: {result['exceptionDetails']}")
    view = result["result"]["value"]
    failed_requests = {event["params"]["requestId"] for event in session.events
                       if event["method"] == "Network.loadingFailed"}
    view["failed_local"] = sorted(
        event["params"]["request"]["url"][:80] for event in session.events
        if event["method"] == "Network.requestWillBeSent"
        and event["params"]["requestId"] in failed_requests
        and not event["params"]["request"]["url"].startswith(("http://", "https://")))
    return view


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> str:
    """Chromium's path; a skip (with the reason) only when it is absent and not required.

    Session-scoped so that it is set up before (and a skip spares) the session's demo runs.
    """
    path = find_browser()
    if path is None:
        if os.environ.get("DOORSTEP_REQUIRE_BROWSER"):
            pytest.fail(f"DOORSTEP_REQUIRE_BROWSER is set but none of {list(BROWSER_NAMES)} is "
                        f"on PATH; install Debian's chromium (.ci/run does)")
        pytest.skip(f"no Chromium on PATH (looked for {list(BROWSER_NAMES)}); install Debian's "
                    f"chromium, or set DOORSTEP_REQUIRE_BROWSER=1 to make this a failure")
    return path


def _pages(run_dir: Path) -> list[tuple[Path, Path | None]]:
    """Every HTML page of a run, each with the executed notebook it was made from (if any)."""
    pages = []
    for name in CHAIN:
        html_name = "index.html" if name == REPORT_NOTEBOOK else f"{name}.html"
        pages.append((run_dir / html_name, run_dir / "notebooks" / f"{name}.ipynb"))
    pages += [(path, None) for path in sorted(run_dir.glob("*/*.html"))]  # fieldwork dashboard
    return pages


def check_page(view: dict[str, Any], source: str, expected: dict[str, int] | None,
               must_contain: list[str]) -> list[str]:
    """What is wrong with a page as the browser showed it (an empty list when nothing is).

    Parameters
    ----------
    view
        :func:`open_page`'s result.
    source
        The page's HTML source.
    expected
        The figures and tables of the executed notebook (``count_notebook_outputs``), or None.
    must_contain
        Texts the page must show.

    Examples
    --------
    >>> view = {"readyState": "complete", "text": "Impact report", "failed_local": [],
    ...         "images": [{"complete": True, "naturalWidth": 0, "source": "x.png"}],
    ...         "tables": [{"bodyRows": 0}]}
    >>> for problem in check_page(view, "<img src='x.png'><table></table>",
    ...                           {"img": 1, "table": 1}, ["Impact report"]):
    ...     print(problem)
    broken image 1 (x.png): complete=True, naturalWidth=0
    table 1 has no body rows
    """
    problems = []
    if view["readyState"] != "complete":
        problems.append(f"document.readyState is {view['readyState']!r}, expected 'complete'")
    for number, image in enumerate(view["images"], start=1):
        if not image["complete"] or image["naturalWidth"] <= 0:
            problems.append(f"broken image {number} ({image['source']}): complete="
                            f"{image['complete']}, naturalWidth={image['naturalWidth']}")
    for number, table in enumerate(view["tables"], start=1):
        if table["bodyRows"] < 1:
            problems.append(f"table {number} has no body rows")
    shown = {"img": len(view["images"]), "table": len(view["tables"])}
    in_source = count_tags(source)
    if shown != in_source:
        problems.append(f"the browser shows {shown}, the HTML source has {in_source}")
    if expected is not None and shown != expected:
        problems.append(f"the browser shows {shown}, the executed notebook displays {expected}")
    if view["failed_local"]:
        problems.append(f"local resources failed to load: {view['failed_local']}")
    problems += [f"the page does not show {phrase!r}" for phrase in must_contain
                 if phrase not in view["text"]]
    return problems


def test_every_figure_and_table_of_the_demo_reports_loads_in_chromium(browser, demo_runs):
    """Both demo programmes (zh and en), every page of the run, as Chromium renders it."""
    seen = {"img": 0, "table": 0, "pages": 0}
    with headless_chromium(browser) as session:
        for name, outcome in demo_runs.items():
            config = load_config(outcome.run_dir / "config.yaml")
            for page, notebook in _pages(outcome.run_dir):
                assert page.is_file(), f"{name}: {page.name} is missing from the run"
                view = open_page(session, page)
                expected = count_notebook_outputs(notebook) if notebook else None
                must_contain = [config.title_text]
                if page.name == "index.html":
                    must_contain.append(text("report_title", config.language))
                problems = check_page(view, page.read_text(encoding="utf-8"), expected,
                                      must_contain)
                assert not problems, f"{name}: {page.relative_to(outcome.run_dir)}: {problems}"
                seen["img"] += len(view["images"])
                seen["table"] += len(view["tables"])
                seen["pages"] += 1
    # the checks above ran on real content: each run has a report figure and several tables
    assert seen["pages"] >= 2 * (len(CHAIN) + 1)
    assert seen["img"] >= 2 * 2 and seen["table"] >= 2 * len(CHAIN), seen


def test_a_broken_or_missing_figure_fails_the_check(browser, demo_runs, tmp_path):
    """The check can fail: the report with its figure's data corrupted, and with it removed."""
    index = demo_runs["caring_mothers"].index_html
    source = index.read_text(encoding="utf-8")
    start = source.index('src="data:image/png;base64,') + len('src="data:image/png;base64,')
    broken = tmp_path / "broken.html"
    broken.write_text(source[:start] + "bm90IGEgcG5n" + source[source.index('"', start):],
                      encoding="utf-8")
    image_tag = source.rindex("<img", 0, start)
    missing = tmp_path / "missing.html"
    missing.write_text(source[:image_tag] + source[source.index(">", start) + 1:],
                       encoding="utf-8")
    notebook = index.parent / "notebooks" / f"{REPORT_NOTEBOOK}.ipynb"
    expected = count_notebook_outputs(notebook)
    with headless_chromium(browser) as session:
        broken_problems = check_page(open_page(session, broken), broken.read_text(), expected, [])
        missing_problems = check_page(open_page(session, missing), missing.read_text(),
                                      expected, ["no such phrase in the report"])
    assert any(problem.startswith("broken image 1") for problem in broken_problems), (
        broken_problems)
    assert any("the executed notebook displays" in problem for problem in missing_problems)
    assert "the page does not show 'no such phrase in the report'" in missing_problems
