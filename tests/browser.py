"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by selenium, for page tests and the
report benchmark. :func:`start` returns a driver or the reason there is none."""
import os
import shutil
import time
from typing import Optional, Tuple

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver",)


def _which(names) -> Optional[str]:
    for n in names:
        path = shutil.which(n) or (f"/usr/bin/{n}" if os.path.exists(f"/usr/bin/{n}") else None)
        if path:
            return path
    return None


def start(width: int = 1400, height: int = 900) -> Tuple[Optional[object], str]:
    """(driver, "") or (None, why not)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "selenium is not installed (pip install -e '.[test]')"
    browser, driver = _which(CHROMIUM), _which(DRIVER)
    if not browser or not driver:
        return None, ("Chromium and its driver are not installed; as root run 'apt-get install -y chromium "
                      "chromium-driver' (scripts/bootstrap.sh does this when it can)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(driver), options=options), ""
    except Exception as e:  # a driver that does not match the browser, no display libraries, ...
        return None, f"Chromium did not start: {str(e).splitlines()[0]}"


def open_page(driver, path: str, timeout: float = 60.0) -> float:
    """Open ``path`` (file://) and wait for the report page to finish its layout (or for any page to load);
    returns the seconds it took. Raises on a page error."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what earlier pages logged
    t0 = time.perf_counter()
    driver.get("file://" + os.path.abspath(path))
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script("return document.readyState === 'complete' && "
                                   "(!document.getElementById('nns-data') || "
                                   "!!(window.nnsReport && (window.nnsReport.ready || window.nnsReport.error)))"))
    elapsed = time.perf_counter() - t0
    error = driver.execute_script("return window.nnsReport ? window.nnsReport.error || null : null")
    if error:
        raise AssertionError(f"the page could not lay out its graph: {error}")
    return elapsed


def console_errors(driver):
    """Console messages at level SEVERE since the last call."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


try:
    import pytest

    @pytest.fixture(scope="module")
    def browser():
        """One headless Chromium per test module; skips the module's page tests when there is none."""
        driver, why = start()
        if driver is None:
            pytest.skip(why)
        yield driver
        driver.quit()
except ImportError:  # the benchmark imports this module without pytest
    pass
