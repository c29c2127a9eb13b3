"""A web page opened in a browser cannot write to the inference log: headless Chromium loads a page from another
origin whose script POSTs to a real ``driftloop serve`` what a page may send without asking (``text/plain``, as a
form can) and what needs a CORS preflight (``application/json``); no label and no prediction reaches the log."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from driftloop.data.inference_log import log_summary, read_inference_log
from tests.local_servers import free_port

CHROMIUM = Path("/usr/bin/chromium")

PAGE = """<!doctype html><html><body><script>
const target = "%(target)s";
const labels = JSON.stringify([{"id": "%(row_id)s", "label": 1}]);
const rows = JSON.stringify({"dataframe_records": [%(record)s]});
Promise.allSettled([
  fetch(target + "/feedback", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: labels}),
  fetch(target + "/predict", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: rows}),
  fetch(target + "/invocations", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: rows}),
  fetch(target + "/feedback", {method: "POST", mode: "no-cors", body: new Blob([labels])}),
  fetch(target + "/feedback", {method: "POST", headers: {"Content-Type": "application/json"}, body: labels}),
]).then(() => { document.body.setAttribute("data-sent", "yes"); });
</script></body></html>"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (Debian's chromium package)")
def test_a_page_in_a_browser_cannot_write_labels_or_predictions(start_server, wine_uri: str, wine_rows: list,
                                                                tmp_path: Path) -> None:
    log_path = tmp_path / "log.db"
    server = start_server("--model", "wine-quality@champion", "--tracking-uri", wine_uri, "--log", str(log_path))
    row_id = httpx.post(server.url + "/predict", json={"dataframe_records": wine_rows[:1]}).json()["ids"][0]
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(PAGE % {"target": server.url, "row_id": row_id,
                                                          "record": json.dumps(wine_rows[1])})
    port = free_port()
    handler = lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(tmp_path / "site"))  # noqa: E731
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
                   f"http://127.0.0.1:{port}/index.html"]
        dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False).stdout
    finally:
        site.shutdown()
    assert 'data-sent="yes"' in dom, "the page's requests did not complete"
    assert log_summary(log_path) == {"predictions": 1, "labels": 0, "orphans": 0}
    assert read_inference_log(log_path)["label"].isna().all()
    metrics = httpx.get(server.url + "/metrics").text
    assert 'driftloop_requests_total{endpoint="/feedback",status="415"} 2.0' in metrics  # the browser did send them
    assert 'driftloop_requests_total{endpoint="/predict",status="415"} 1.0' in metrics
    assert 'driftloop_requests_total{endpoint="/invocations",status="415"} 1.0' in metrics
    assert 'endpoint="/feedback",status="200"' not in metrics
