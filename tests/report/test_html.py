"""The HTML report in a real headless browser (Chromium from the Debian packages, driven by selenium).

`make test` installs chromium and chromium-driver when it can (root, apt); otherwise these tests skip
with the reason. Nothing is downloaded at run time.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def test_html_is_self_contained(report_run):
    run, written = report_run
    page = written["html"].read_text()
    # nothing fetched: no external script, stylesheet, image or font
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert "<script src" not in page and "@import" not in page
    assert page.count('class="section') == 1 + len(run.systems)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e .[dev])")
    if not CHROMIUM or not DRIVER:
        pytest.skip("chromium/chromedriver not installed (make test installs them as root: apt-get install "
                    "chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1300,1000", "--allow-file-access-from-files"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    except Exception as exc:  # noqa: BLE001 - a browser that cannot start is a skip, with its reason
        pytest.skip(f"headless chromium did not start: {exc}")
    # offline: the page must not need the network
    drv.execute_cdp_cmd("Network.enable", {})
    drv.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
    )
    yield drv
    drv.quit()


def test_report_opens_offline_and_the_plots_respond(report_run, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    run, written = report_run
    browser.get(Path(written["html"]).resolve().as_uri())
    logs = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert not logs, logs
    # every section rendered, with its tables
    sections = browser.find_elements(By.CSS_SELECTOR, "section.section")
    assert len(sections) == 1 + len(run.systems)
    assert all(s.is_displayed() and s.find_elements(By.TAG_NAME, "table") for s in sections)
    assert "La" in sections[1].text and "Zr" in sections[1].text and "±" in sections[1].text
    # the interactive plot drew the whole scan
    canvas = browser.find_element(By.CSS_SELECTOR, ".pattern canvas")
    x0, x1 = float(canvas.get_attribute("data-xmin")), float(canvas.get_attribute("data-xmax"))
    assert x0 == pytest.approx(10, abs=0.5) and x1 == pytest.approx(80, abs=0.5)
    assert canvas.size["width"] > 600 and canvas.size["height"] > 300
    # something is drawn: the canvas is not blank
    ink = browser.execute_script(
        "const c=arguments[0], d=c.getContext('2d').getImageData(0,0,c.width,c.height).data;"
        "let n=0; for (let i=3;i<d.length;i+=4) if (d[i]>0) n++; return n;",
        canvas,
    )
    assert ink > 5000
    # wheel over the middle zooms in: the visible 2θ range shrinks around the pointer
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, -400).perform()
    z0, z1 = float(canvas.get_attribute("data-xmin")), float(canvas.get_attribute("data-xmax"))
    assert (z1 - z0) < 0.8 * (x1 - x0) and x0 <= z0 < z1 <= x1
    # hover shows the values under the pointer
    ActionChains(browser).move_to_element_with_offset(canvas, 40, -50).perform()
    readout = browser.find_element(By.CSS_SELECTOR, ".pattern .readout").text
    assert re.search(r"2θ \d+\.\d{3}° · observed [\d.]+ · calculated [\d.]+", readout), readout
    # double click returns to the whole range; another scan can be chosen
    ActionChains(browser).double_click(canvas).perform()
    assert float(canvas.get_attribute("data-xmax")) - float(canvas.get_attribute("data-xmin")) == pytest.approx(
        x1 - x0, rel=1e-3
    )
    from selenium.webdriver.support.ui import Select

    sel = Select(browser.find_element(By.CSS_SELECTOR, ".pattern select"))
    assert len(sel.options) == 3
    sel.select_by_index(2)
    assert "900" in browser.find_element(By.CSS_SELECTOR, ".pattern .scan-title").text
    logs = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert not logs, logs
    # the Raman spectra with the bands the fit found: hover reads the shift
    raman = browser.find_element(By.CSS_SELECTOR, "#raman-0 canvas")
    browser.execute_script("arguments[0].scrollIntoView()", raman)
    ActionChains(browser).move_to_element_with_offset(raman, 0, -40).perform()
    assert re.search(r"shift \d+\.\d cm⁻¹ · intensity", browser.find_element(By.CSS_SELECTOR, "#raman-0 .readout").text)
    logs = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert not logs, logs


def _decode(v):
    """What plot.js makes of an encoded array (f32 in the page), in numpy."""
    import base64

    import numpy as np

    if isinstance(v, str):
        return np.frombuffer(base64.b64decode(v), "<f4").astype(float)
    if "step" in v:
        return (v["x0"] + np.arange(v["n"]) * v["step"]).astype("<f4").astype(float)
    r = np.frombuffer(base64.b64decode(v["q"]), "<u2") / 65535.0
    return (v["lo"] + r * r * v["span"]).astype("<f4").astype(float)


def test_page_arrays_are_compact_and_below_the_counting_noise(report_run):
    import numpy as np

    from phasetrace.report.figures import profiles_by_file
    from phasetrace.report.html import _axis, _b64, _curve

    run, _ = report_run
    prof = next(iter(profiles_by_file(run.records).values()))
    x = prof["two_theta"]
    ax = _axis(x)
    assert isinstance(ax, dict)  # a simulated scan is evenly spaced: first value and step
    assert np.max(np.abs(_decode(ax) - x)) <= 1e-4
    uneven = x.copy()
    uneven[len(x) // 2] += 0.3 * (x[1] - x[0])
    assert isinstance(_axis(uneven), str)  # not even: the values themselves
    for key in ("observed", "calculated", "background"):
        c = prof[key]
        enc = _curve(c)
        err = np.abs(_decode(enc) - c)
        # the code's error is far below the counting noise sqrt(h) of a count rate at every height
        h = c - c.min()
        assert np.all(err <= 0.01 * np.sqrt(np.maximum(h, 1.0))), key
        assert len(enc["q"]) < 0.55 * len(_b64(c))
    flat = _curve(np.full(10, 3.0))
    assert np.all(_decode(flat) == 3.0)
    assert isinstance(_curve(np.array([1.0, np.nan])), str)
