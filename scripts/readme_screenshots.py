"""Remake the README's screenshots (docs/report.png, docs/featuremaps.png): run the README's commands in a
temporary folder holding what they name (the classifier example without its training-only functions as
model.nnp, random calib.npz, check.npz, x.npz and labels.npy, as tests/test_readme.py builds them), open the
pages in headless Chromium, save small PNGs (128-colour palette).

    .venv/bin/python scripts/readme_screenshots.py
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.browser import console_errors, open_page, start  # noqa: E402

SECTION = "## Report, graph and feature maps"


def readme_block() -> str:
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return text.split(SECTION, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


def workspace(folder: str) -> None:
    import numpy as np

    import nnsurgeon
    from nnsurgeon.examples import build_example

    build_example("classifier", os.path.join(folder, "train.nnp"), batch=4, seed=2)
    model = nnsurgeon.load(os.path.join(folder, "train.nnp"))
    nnsurgeon.remove(model, types=["Dropout", "ImageAugmentation"])
    nnsurgeon.save(model, os.path.join(folder, "model.nnp"))
    rng = np.random.RandomState(0)
    np.savez(os.path.join(folder, "calib.npz"), x=rng.randn(128, 1, 8, 8).astype(np.float32))
    np.savez(os.path.join(folder, "check.npz"), x=rng.randn(32, 1, 8, 8).astype(np.float32))
    np.savez(os.path.join(folder, "x.npz"), x=rng.randn(8, 1, 8, 8).astype(np.float32))
    np.save(os.path.join(folder, "labels.npy"), rng.randint(0, 10, size=32))


def small_png(source: str, target: str) -> None:
    from PIL import Image

    with Image.open(source) as im:
        im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(f"{target}: {os.path.getsize(target) // 1024} KiB")


def main() -> None:
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        workspace(tmp)
        for line in readme_block().splitlines():
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
            open_page(driver, os.path.join(tmp, "pictures", "index.html"))
            driver.save_screenshot(os.path.join(tmp, "featuremaps.png"))
            assert console_errors(driver) == []
        finally:
            driver.quit()
        os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
        for name in ("report.png", "featuremaps.png"):
            small_png(os.path.join(tmp, name), os.path.join(ROOT, "docs", name))


if __name__ == "__main__":
    main()
