"""The first screen as a reader sees it: the page opened in headless Chromium at 1400×1000 px.

Chromium is an optional system tool: the test skips, saying so, where it is absent. It builds the
report of the committed EPYC quick run (which timed the formula and autograd at the target),
takes a screenshot, and lets the browser itself report, from the laid-out page, whether anything
is wider than the window and which text lies within the first 1000 px.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from analysis.report.page import build_report

AMD = Path(__file__).parent / "data" / "quick-amd-epyc"
BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
WIDTH, HEIGHT = 1400, 1000
PROBE = f"""<script>
window.addEventListener("load", () => {{
  const seen = [...document.querySelectorAll("h1, p, td, th")]
    .filter(e => e.getBoundingClientRect().top < {HEIGHT}).map(e => e.textContent.trim());
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = "WIDTH=" + document.documentElement.scrollWidth + "\\n" + seen.join("\\n");
  document.body.appendChild(probe);
}});
</script></body>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--window-size={WIDTH},{HEIGHT}"]  # fmt: skip
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [BROWSER, *flags, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def first_screen(tmp_path_factory) -> tuple[str, Path]:
    if BROWSER is None:
        pytest.skip("no chromium on this machine (an optional tool: apt-get install chromium)")
    out = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as patch:  # the measured plots lie below the first screen
        patch.setattr("analysis.report.page.draw_figures", lambda analysis, out, history=None: {})
        page = build_report([AMD], out)
    probed = out / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE))
    shot = out / "first-screen.png"
    _chromium(f"--screenshot={shot}", page.as_uri())
    dom = _chromium("--dump-dom", "--virtual-time-budget=5000", probed.as_uri()).stdout
    probe = re.search(r"<pre id=\"probe\">(.*?)</pre>", dom, re.S)
    assert probe, f"the browser ran no probe: {dom[-300:]}"
    return probe.group(1).replace("&amp;", "&"), shot


def test_the_first_screen_is_no_wider_than_a_1400_px_window(first_screen):
    text, shot = first_screen
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert int(re.match(r"WIDTH=(\d+)", text).group(1)) <= WIDTH


def test_the_first_screen_shows_the_jacobian_sizes_the_formula_time_and_the_interval_coverage(first_screen):
    text, _ = first_screen
    assert "256.0 GiB" in text and "16.0 TiB" in text
    assert "3 of 3 measurements at the target inside their 90% interval" in text
    assert re.search(r"formula-torch\s+124 ms measured", text)
    assert "AMD EPYC" in text  # the machine line under the title
