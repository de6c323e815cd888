"""Remake the README's screenshots (docs/report.png, docs/featuremaps.png): run the README's commands in a
temporary folder, open the pages in headless Chromium, save small PNGs (256-colour palette).

    .venv/bin/python scripts/readme_screenshots.py
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.browser import console_errors, open_page, start  # noqa: E402
from tests.test_report import readme_block  # noqa: E402


def small_png(source: str, target: str) -> None:
    from PIL import Image

    with Image.open(source) as im:
        im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(f"{target}: {os.path.getsize(target) // 1024} KiB")


def main() -> None:
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        for line in readme_block("## Report, graph and feature maps").splitlines():
            if line.strip() and not line.startswith("#"):
                subprocess.run(line, shell=True, cwd=tmp, env=env, check=True)
        driver, why = start(1280, 760)
        if driver is None:
            sys.exit(why)
        try:
            open_page(driver, os.path.join(tmp, "report.html"))
            jump = driver.execute_script(
                "return JSON.parse(document.getElementById('nns-data').textContent).errors.jump_id")
            driver.execute_script("document.getElementById(arguments[0]).dispatchEvent(new MouseEvent('click', "
                                  "{bubbles: true}))", jump)
            driver.save_screenshot(os.path.join(tmp, "report.png"))
            open_page(driver, os.path.join(tmp, "maps", "index.html"))
            driver.save_screenshot(os.path.join(tmp, "featuremaps.png"))
            assert console_errors(driver) == []
        finally:
            driver.quit()
        os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
        for name in ("report.png", "featuremaps.png"):
            small_png(os.path.join(tmp, name), os.path.join(ROOT, "docs", name))


if __name__ == "__main__":
    main()
