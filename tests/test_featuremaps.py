"""featuremaps: pictures whose pixels follow the activations, labelled and ordered as the network, for several
samples, from a model or from an .npz written elsewhere; index.html checked in headless Chromium."""
import json
import os
from collections import OrderedDict

import numpy as np
from PIL import Image

from nnsurgeon.examples import build_deep
from nnsurgeon.report.featuremaps import GAP, LABEL_H, colour_lut

from .browser import browser, console_errors, open_page  # noqa: F401
from .conftest import assert_user_error, nnabla_outputs, run
from .test_extract import _zero_channel_model

LUT = colour_lut()


def files_in(folder):
    """What a user sees in ``folder`` (the writer's hidden marker file left out)."""
    return sorted(f for f in os.listdir(folder) if not f.startswith(".")) if os.path.isdir(folder) else []


def tile_at(im, row, col, tile, cell=None, per_row=2):
    """The pixels of tile (row, col) of a grid whose tiles are ``tile`` pixels square."""
    cell = cell or tile
    x0 = GAP + col * (cell + GAP) + (cell - tile) // 2
    y0 = GAP + row * (tile + LABEL_H + GAP) + LABEL_H
    return im[y0:y0 + tile, x0:x0 + tile]


def test_tiles_follow_activation_in_both_normalisations(tmp_path):
    model = str(tmp_path / "z.nnp")
    _zero_channel_model(model)  # channels: 0, x, -x
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6) / 35.0  # increasing left-right, top-bottom
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "maps"
    r = run("featuremaps", model, "--input", tmp_path / "x.npy", "-o", out, "--layers", "@Runtime/Convolution")
    assert r.exit_code == 0, r.stderr
    assert files_in(out / "sample-000") == ["000_x.png", "001_Runtime_Convolution.channel.png",
                                            "001_Runtime_Convolution.layer.png"]
    tile = 6 * 6  # ceil(32 / 6) = 6: the smallest integer zoom giving at least 32 pixels
    per_channel = np.asarray(Image.open(out / "sample-000" / "001_Runtime_Convolution.channel.png"))
    zero, pos, neg = (tile_at(per_channel, *rc, tile) for rc in ((0, 0), (0, 1), (1, 0)))
    assert (zero == LUT[0]).all()  # a constant channel: the dark end
    assert (pos[0, 0] == LUT[0]).all() and (pos[-1, -1] == LUT[255]).all()
    assert (neg[0, 0] == LUT[255]).all() and (neg[-1, -1] == LUT[0]).all()
    gap = per_channel[GAP + LABEL_H + 3, GAP + tile + GAP // 2]
    assert (gap == 255).all()  # white separators: no colour of the map is white
    assert (per_channel[GAP:GAP + LABEL_H, GAP:GAP + tile] < 128).any()  # the channel number is written
    per_layer = np.asarray(Image.open(out / "sample-000" / "001_Runtime_Convolution.layer.png"))
    zero, pos, neg = (tile_at(per_layer, *rc, tile) for rc in ((0, 0), (0, 1), (1, 0)))
    assert (zero == LUT[128]).all()  # 0 in the layer's range [-1, 1]: the dead channel shows as such
    assert (pos[-1, -1] == LUT[255]).all() and (neg[-1, -1] == LUT[0]).all()
    page = (out / "index.html").read_text()
    assert "sample-000/001_Runtime_Convolution.channel.png" in page and "per layer" in page and model in page


def _wide_output_model(path, classes=1000):
    import nnabla as nn
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((1, 8))
        y = PF.affine(x, classes, name="fc")
        rng = np.random.RandomState(0)
        for p in nn.get_parameters().values():
            p.d = rng.randn(*p.shape)
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": x}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})


def test_1d_outputs_draw_the_top_k_values_labelled_by_index(tmp_path):
    model = str(tmp_path / "wide.nnp")
    _wide_output_model(model)
    x = np.random.RandomState(1).randn(1, 8).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    _, outs = nnabla_outputs(model, "Runtime", {"x": x})
    y = outs["y"][0]
    r = run("featuremaps", model, "--input", tmp_path / "x.npy", "--max-channels", 5, "-o", tmp_path / "m")
    assert r.exit_code == 0, r.stderr
    im = np.asarray(Image.open(tmp_path / "m" / "sample-000" / "001_Runtime_Affine.layer.png"))
    assert im.shape[1] < 400 and im.shape[0] < 120  # 5 cells, not a 1000-cell strip
    top = np.argsort(-y)[:5]
    lo, hi = float(y.min()), float(y.max())
    for k, i in enumerate(top):
        cell = tile_at(im, 0, k, 32)
        expected = LUT[int(np.clip(np.round((y[i] - lo) / (hi - lo) * 255), 0, 255))]
        assert (np.abs(cell.astype(int) - expected.astype(int)) <= 1).all(), (k, i)
    assert (tile_at(im, 0, 0, 32) == LUT[255]).all()  # the largest value first


def test_file_names_sort_in_network_order(tmp_path):
    model = build_deep(str(tmp_path / "deep.nnp"), 120)  # block0 .. block11: 'block10' < 'block2' as text
    r = run("featuremaps", model, "--random", "--max-channels", 4, "-o", tmp_path / "m")
    assert r.exit_code == 0, r.stderr
    layers = json.loads(run("list-layers", model, "--format", "json").stdout)
    names = [row["name"] for row in (layers["layers"] if isinstance(layers, dict) else layers)]
    listed = [f for f in sorted(os.listdir(tmp_path / "m" / "sample-000")) if not f.endswith(".layer.png")]
    assert len(listed) == 1 + 120
    assert listed[0] == "0000_x.png" if len(listed) > 1000 else listed[0] == "000_x.png"
    keys = [f.split("_", 1)[1].rsplit(".channel.png", 1)[0] for f in listed[1:]]
    assert keys == [n.replace("/", "_") for n in names]
    assert [int(f.split("_", 1)[0]) for f in listed] == list(range(121))


def test_from_npz_draws_arrays_made_elsewhere(tmp_path):
    ramp = np.linspace(-1, 1, 25, dtype=np.float32).reshape(5, 5)
    conv = np.stack([np.stack([ramp * (c + 1) for c in range(4)])] * 2)  # (2, 4, 5, 5), as PyTorch names them
    np.savez(tmp_path / "acts.npz", **{"layer1.0.conv1": conv, "fc": np.random.RandomState(0).randn(2, 100)})
    out = tmp_path / "m"
    r = run("featuremaps", "--from-npz", tmp_path / "acts.npz", "--samples", 2, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert files_in(out) == ["index.html", "sample-000", "sample-001"]
    assert files_in(out / "sample-001") == ["000_layer1.0.conv1.channel.png", "000_layer1.0.conv1.layer.png",
                                            "001_fc.channel.png", "001_fc.layer.png"]
    im = np.asarray(Image.open(out / "sample-000" / "000_layer1.0.conv1.layer.png"))
    tile = 5 * 7  # ceil(32 / 5) = 7
    first, last = tile_at(im, 0, 0, tile), tile_at(im, 1, 1, tile)
    assert (last[0, 0] == LUT[0]).all() and (last[-1, -1] == LUT[255]).all()  # channel 3 spans the layer
    assert (first[-1, -1] == LUT[int(round((1 + 4) / 8 * 255))]).all()  # channel 0 reaches 1 of [-4, 4]
    assert str(tmp_path / "acts.npz") in (out / "index.html").read_text()
    r = run("featuremaps", "--from-npz", tmp_path / "acts.npz", "-o", out)
    assert_user_error(r, "already exists")
    r = run("featuremaps", "--from-npz", tmp_path / "acts.npz", "-o", out, "--force")  # replaces what it wrote
    assert r.exit_code == 0, r.stderr
    assert files_in(out) == ["index.html", "sample-000"]


def test_bad_featuremaps_inputs_write_nothing(examples, tmp_path):
    path = examples[("chain", "nntxt+h5")]
    np.savez(tmp_path / "flat.npz", a=np.zeros(3))
    (tmp_path / "junk.npz").write_text("not a zip")
    out = tmp_path / "out"
    out.mkdir()
    cases = [(["--from-npz", tmp_path / "flat.npz"], "samples first"),
             (["--from-npz", tmp_path / "junk.npz"], "cannot read"),
             (["--from-npz", tmp_path / "none.npz"], "no such file"),
             ([path, "--random", "--samples", 2, "--sample", 5], "--sample 5")]
    for args, fragment in cases:
        r = run("featuremaps", *args, "-o", out / "m")
        assert_user_error(r, fragment)
        assert files_in(out) == []
    r = run("featuremaps", path, "--from-npz", tmp_path / "flat.npz", "-o", out / "m")
    assert r.exit_code == 2 and "--from-npz" in r.stderr and files_in(out) == []


def test_index_page_in_chromium(browser, examples, tmp_path):  # noqa: F811
    out = tmp_path / "m"
    r = run("featuremaps", examples[("residual", "nntxt+h5")], "--random", "--samples", 3, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert files_in(out) == ["index.html", "sample-000", "sample-001", "sample-002"]
    open_page(browser, str(out / "index.html"))
    assert console_errors(browser) == []
    heads = browser.execute_script("return [...document.querySelectorAll('th')].map(t => t.textContent)")
    assert heads[-3:] == ["sample 0", "sample 1", "sample 2"]
    first_row = browser.execute_script("return document.querySelector('tr:nth-child(2) img').getAttribute('src')")
    assert first_row == "sample-000/000_x.png"  # the input comes first
    loaded = browser.execute_script("return [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert loaded
    browser.find_element("css selector", "input[value=layer]").click()
    srcs = browser.execute_script("return [...document.querySelectorAll('img[data-channel]')].map(i => i.src)")
    assert srcs and all(s.endswith(".layer.png") for s in srcs)
    browser.save_screenshot(str(tmp_path / "featuremaps.png"))
    assert (tmp_path / "featuremaps.png").stat().st_size > 0
