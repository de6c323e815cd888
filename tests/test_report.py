"""report and draw: one offline HTML page per model, checked in headless Chromium: no console errors, nothing
fetched, one node per function and one badge per quantizer, panels on click; the diff and the per-layer
error agree with the files and with `compare --per-layer`; 10,000 functions stay usable."""
import json
import os
import shutil
import time

import numpy as np
import pytest

from nnsurgeon.examples import build_deep
from nnsurgeon.report.report import FLOOR

from .browser import browser, console_errors, open_page  # noqa: F401
from .conftest import assert_user_error, nnabla_outputs, run

LARGE_GRAPH_SECONDS = 20.0  # documented in README: the report of 10,000 functions opens well within this


def file_functions(path, network="Runtime"):
    """(name, type) of every function of ``network`` as NNabla's own loader reads the file."""
    from nnabla.utils.nnp_graph import NnpLoader

    return [(f.name, f.type) for f in NnpLoader(path).network_dict[network].functions.values()]


def page_data(driver):
    return driver.execute_script("return JSON.parse(document.getElementById('nns-data').textContent)")


def count(driver, selector):
    return driver.execute_script(f"return document.querySelectorAll({json.dumps(selector)}).length")


def click(driver, element_id):
    driver.execute_script("document.getElementById(arguments[0]).dispatchEvent(new MouseEvent('click', "
                          "{bubbles: true}))", element_id)
    return driver.find_element("id", "panel").text


def assert_offline_and_clean(driver):
    assert console_errors(driver) == []
    fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in fetched if not u.startswith("data:")] == []
    assert count(driver, "[src^=http],[href^=http],link[rel=stylesheet],script[src]") == 0


def test_report_of_an_original_model(browser, examples, tmp_path):  # noqa: F811
    model = examples[("residual", "nntxt+h5")]
    out = tmp_path / "report.html"
    r = run("report", model, "--random", "-o", out)
    assert r.exit_code == 0, r.stderr
    open_page(browser, str(out))
    assert_offline_and_clean(browser)
    functions = file_functions(model)
    assert count(browser, "g.node.fn") == len(functions) and count(browser, "g.node.badge") == 0
    data = page_data(browser)
    first = data["graph"]["nodes"][0]
    assert (first["name"], first["type"]) == functions[0]
    panel = click(browser, first["id"])
    assert panel.startswith("← summary\n" + first["type"] + "\n" + first["name"])
    assert "\narguments\n" in panel.lower() and "\nparameters\n" in panel.lower() and "stem/conv/W" in panel
    assert count(browser, "#panel svg.hist") == 1 and count(browser, "#panel img.thumb") == 1
    assert count(browser, "g.node.selected") == 1
    browser.save_screenshot(str(tmp_path / "original.png"))
    assert (tmp_path / "original.png").stat().st_size > 10000


def _quantized_pair(examples, tmp_path):
    """The residual example, quantized with calibrated (static) ranges, plus one changed argument."""
    from nnsurgeon.api import load, save

    original = examples[("residual", "nntxt+h5")]
    x = np.random.RandomState(3).randn(16, 1, 8, 8).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    q = tmp_path / "q.nnp"
    r = run("quantize", original, "--after", "ReLU,Affine", "--calibrate", tmp_path / "x.npy", "-o", q)
    assert r.exit_code == 0, r.stderr
    m = load(str(q))
    for f in m.network("Runtime").function:
        if f.name == "@Runtime/ReLU_3":
            f.relu_param.inplace = True
    save(m, str(tmp_path / "q2.nnp"))
    return original, str(tmp_path / "q2.nnp"), x


def test_report_of_a_quantized_model_against_its_original(browser, examples, tmp_path):  # noqa: F811
    from nnsurgeon.api import load

    original, quantized, x = _quantized_pair(examples, tmp_path)
    labels = nnabla_outputs(original, "Runtime", {"x": x}, batch_size=16)[1]["y"].argmax(1)
    labels[:5] = (labels[:5] + 1) % 10  # some wrong, so accuracy is not trivially 100%
    np.save(tmp_path / "labels.npy", labels)
    out = tmp_path / "report.html"
    r = run("report", quantized, "--against", original, "--input", tmp_path / "x.npy", "--labels",
            tmp_path / "labels.npy", "-o", out)
    assert r.exit_code == 0, r.stderr
    open_page(browser, str(out))
    assert_offline_and_clean(browser)
    functions = file_functions(quantized)
    quantizers = [n for n, t in functions if t == "MinMaxQuantize"]
    assert len(quantizers) == 6
    assert count(browser, "g.node.fn") == len(functions) - 6 and count(browser, "g.node.badge") == 6
    data = page_data(browser)
    # the diff: quantizers added, one argument changed, nothing removed
    assert sorted(a["name"] for a in data["diff"]["added"]) == sorted(quantizers)
    assert data["diff"]["removed"] == []
    assert data["diff"]["changed"] == [{"name": "@Runtime/ReLU_3",
                                        "changes": [{"arg": "inplace", "old": False, "new": True}]}]
    changed_id = next(n["id"] for n in data["graph"]["nodes"] if n["name"] == "@Runtime/ReLU_3")
    assert browser.execute_script("return document.getElementById(arguments[0]).classList.contains('changed')",
                                  changed_id)
    panel = click(browser, changed_id)
    assert "inplace" in panel and "False → True" in panel and "\nchanged\n" in panel
    # badges: static ranges as stored in the file
    model = load(quantized)
    for b in data["graph"]["badges"]:
        lo = float(model.parameters[b["name"] + "/qr_min"].data.min())
        hi = float(model.parameters[b["name"] + "/qr_max"].data.max())
        assert b["mode"] == "static" and b["bits"] == 8 and b["range"] == pytest.approx([lo, hi])
    panel = click(browser, data["graph"]["badges"][0]["id"])
    assert "calibration range against observed input values" in panel.lower() and "outside the range" in panel
    assert count(browser, "#panel svg.hist line") >= 2  # the range's two edges over the histogram
    # per-layer error: the numbers compare --per-layer prints, a colour per layer, one jump, a legend
    c = run("compare", original, quantized, "--input", tmp_path / "x.npy", "--per-layer", "--format", "json")
    compared = json.loads(c.stdout)
    expected = {row["function"]: 1 - row["cosine"] for row in compared["layers"]}
    expected["@Runtime/Affine_1"] = 1 - compared["outputs"][0]["cosine"]  # the example's output y
    by_id = {n["id"]: n["name"] for n in data["graph"]["nodes"]}
    got = {by_id[k]: 1 - v["cosine"] for k, v in data["errors"]["layers"].items()}
    assert got == pytest.approx(expected) and len(got) == len(functions) - 6
    fills = browser.execute_script(
        "return [...document.querySelectorAll('g.node.fn')].map(g => g.querySelector('path,polygon').getAttribute('fill'))")
    assert len(set(fills)) > 3  # coloured by error, not by type
    assert count(browser, "g.node.jump") == 1 and count(browser, "#legend") == 1
    jump = data["errors"]["jump"]  # the first layer whose error is 10x everything before it
    assert expected[jump] >= 10 * max([expected[n] for n in _before(data, jump)] + [FLOOR])
    # SQNR: compare's figure is 10 log10(sum a^2 / sum (a-b)^2) of the two models' outputs run by plain NNabla
    a = nnabla_outputs(original, "Runtime", {"x": x}, batch_size=16)[1]["y"].astype(np.float64)
    b = nnabla_outputs(quantized, "Runtime", {"x": x}, batch_size=16)[1]["y"].astype(np.float64)
    assert compared["outputs"][0]["sqnr_db"] == pytest.approx(10 * np.log10((a * a).sum() / ((a - b) ** 2).sum()))
    r = run("report", quantized, "--against", original, "--input", tmp_path / "x.npy", "--metric", "sqnr",
            "-o", tmp_path / "sqnr.html")
    assert r.exit_code == 0, r.stderr
    html = (tmp_path / "sqnr.html").read_text()
    payload = json.loads(html.split('id="nns-data">', 1)[1].split("</script>", 1)[0])
    sqnr = {row["function"]: row["sqnr_db"] for row in compared["layers"]}
    for k, v in payload["errors"]["layers"].items():
        if by_id[k] in sqnr:
            db = sqnr[by_id[k]]  # None: identical (the layers before the first quantizer)
            assert v["value"] == (0.0 if db is None else pytest.approx(10 ** (-db / 10)))  # noise/signal, log scale
    assert payload["errors"]["legend"]["title"].startswith("SQNR")
    assert all(t["label"].endswith(" dB") for t in payload["errors"]["legend"]["ticks"])
    # accuracy against the labels, recomputed with plain NNabla
    want = float((b.argmax(1) == labels).mean())
    assert data["accuracy"]["model"]["y"] == pytest.approx(want)
    click(browser, data["graph"]["nodes"][0]["id"])
    browser.find_element("link text", "← summary").click()
    summary = browser.find_element("id", "panel").text.lower()
    assert "accuracy against --labels" in summary and f"the error jumps first at {jump.lower()}" in summary
    browser.save_screenshot(str(tmp_path / "quantized.png"))
    assert (tmp_path / "quantized.png").stat().st_size > 10000


def _before(data, name):
    names = [n["name"] for n in data["graph"]["nodes"] if n["id"] in data["errors"]["layers"]]
    return names[:names.index(name)]


def test_ten_thousand_functions_stay_usable(browser, tmp_path):  # noqa: F811
    model = build_deep(str(tmp_path / "deep.nnp"), 10_000)
    out = tmp_path / "deep.html"
    t0 = time.perf_counter()
    r = run("report", model, "-o", out)
    assert r.exit_code == 0, r.stderr
    opened = open_page(browser, str(out), timeout=LARGE_GRAPH_SECONDS)
    total = time.perf_counter() - t0
    assert_offline_and_clean(browser)
    data = page_data(browser)
    groups = data["graph"]["groups"]
    assert sum(len(g["members"]) for g in groups) == 10_000 == len(data["graph"]["nodes"])
    assert count(browser, "g.node.group") == len(groups) <= 400
    assert all(g["kind"] == "scope" for g in groups)  # whole name scopes, never cut
    panel = click(browser, groups[5]["id"])
    assert groups[5]["name"] in panel and f"{len(groups[5]['members'])} functions" in panel
    browser.execute_script("document.getElementById(arguments[0]).dispatchEvent(new MouseEvent('dblclick', "
                           "{bubbles: true}))", groups[5]["id"])
    assert count(browser, "g.node.fn") == len(groups[5]["members"])
    assert browser.execute_script("return window.nnsReport.view") == groups[5]["id"]
    assert total < 3 * LARGE_GRAPH_SECONDS and opened < LARGE_GRAPH_SECONDS, (total, opened)
    browser.save_screenshot(str(tmp_path / "deep.png"))


def test_draw_html_dot_and_svg(browser, examples, tmp_path):  # noqa: F811
    model = examples[("zoo", "nntxt+h5")]
    functions = file_functions(model)
    r = run("draw", model, "-o", tmp_path / "g.html")
    assert r.exit_code == 0, r.stderr
    open_page(browser, str(tmp_path / "g.html"))
    assert_offline_and_clean(browser)
    assert count(browser, "g.node.fn") == len(functions)
    r = run("draw", model, "-o", tmp_path / "g.dot")
    assert r.exit_code == 0, r.stderr
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph") and dot.count('class="fn') == len(functions)
    r = run("draw", model, "-o", tmp_path / "g.svg")
    if shutil.which("dot"):
        assert r.exit_code == 0 and (tmp_path / "g.svg").read_text().count('class="node fn') == len(functions)
    else:
        assert_user_error(r, "needs Graphviz's 'dot' on PATH")
        assert not (tmp_path / "g.svg").exists()


def test_bad_report_inputs_write_nothing(examples, tmp_path):
    model = examples[("chain", "nntxt+h5")]
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.html").write_text("mine")
    np.save(tmp_path / "labels.npy", np.zeros(3))
    cases = [(["--labels", tmp_path / "labels.npy", "-o", out / "r.html"], "--labels needs --input"),
             (["--random", "-o", out / "kept.html"], "already exists"),
             (["--random", "-o", out / "r.txt"], "must end in .html"),
             (["--random", "-o", model], "must end in .html"),  # so the model is never overwritten
             (["--network", "Nope", "-o", out / "r.html"], "no network named 'Nope'"),
             (["--random", "-o", tmp_path / "missing" / "r.html"], "does not exist")]
    for args, fragment in cases:
        r = run("report", model, *args)
        assert_user_error(r, fragment)
        assert sorted(os.listdir(out)) == ["kept.html"] and (out / "kept.html").read_text() == "mine"
    r = run("draw", model, "-o", out / "g.png")
    assert_user_error(r, ".html, .svg or .dot")


def _qdq_model(path):
    """x -> Convolution -> QuantizeLinear/DequantizeLinear (per-channel scale, uint8) -> ReLU, saved by NNabla."""
    from collections import OrderedDict

    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((1, 1, 4, 4))
        h = PF.convolution(x, 4, (3, 3), pad=(1, 1), name="conv")
        scale = nn.parameter.get_parameter_or_create("qdq/scale", (1, 4, 1, 1), need_grad=False)
        zero = nn.parameter.get_parameter_or_create("qdq/zero_point", (1, 4, 1, 1), need_grad=False)
        scale.d = np.array([0.01, 0.02, 0.05, 0.1]).reshape(1, 4, 1, 1)
        zero.d = np.array([128, 100, 0, 255]).reshape(1, 4, 1, 1)
        nn.get_parameters()["conv/conv/W"].d = 1000.0  # outputs far outside every range: both ends clip
        q = F.quantize_linear(h, scale, zero, dtype=np.uint8)
        y = F.relu(F.dequantize_linear(q, scale, zero))
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": x}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})


def test_a_quantize_dequantize_pair_is_one_badge_with_its_range(tmp_path):
    from nnsurgeon.api import load
    from nnsurgeon.graph.network import Network
    from nnsurgeon.report.graph_page import graph_data

    path = str(tmp_path / "qdq.nnp")
    _qdq_model(path)
    m = load(path)
    data = graph_data(m, Network(m.network("Runtime"), m.source))
    assert [n["type"] for n in data["nodes"]] == ["Convolution", "ReLU"]
    [badge] = data["badges"]
    assert badge["type"] == "QuantizeLinear+DequantizeLinear" and badge["bits"] == 8 and badge["per_channel"]
    # what the pair lets through, measured by NNabla on inputs that clip at both ends of every channel
    x = np.concatenate([np.full((1, 1, 4, 4), 5.0), np.full((1, 1, 4, 4), -5.0)]).astype(np.float32)
    from nnabla.utils.nnp_graph import NnpLoader

    net = NnpLoader(path).get_network("Runtime", batch_size=2)
    dq = [v for k, v in net.variables.items() if "DequantizeLinear" in k]
    net.inputs["x"].d = x
    dq[0].forward()
    assert badge["range"] == pytest.approx([float(dq[0].d.min()), float(dq[0].d.max())])
    r = run("draw", path, "-o", tmp_path / "g.dot")
    assert r.exit_code == 0 and (tmp_path / "g.dot").read_text().count('class="badge"') == 1


def test_report_of_a_network_without_data_input(tmp_path):
    """Regression: a network that reads only parameters has an empty input batch (featuremaps and report
    used to fail looking for its batch size)."""
    from collections import OrderedDict

    import nnabla as nn
    import nnabla.functions as F
    from nnabla.utils.save import save

    path = str(tmp_path / "ponly.nnp")
    with nn.parameter_scope("", OrderedDict()):
        w = nn.parameter.get_parameter_or_create("w", (2, 3), initializer=np.ones((2, 3), np.float32))
        y = F.relu(F.mul_scalar(w, 2.0))
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {}}]})
    r = run("report", path, "--random", "-o", tmp_path / "r.html")
    assert r.exit_code == 0, r.stderr
    r = run("featuremaps", path, "--random", "-o", tmp_path / "maps")
    assert r.exit_code == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "maps" / "sample-000")) == ["000_Runtime_MulScalar.channel.png",
                                                                    "000_Runtime_MulScalar.layer.png",
                                                                    "001_Runtime_ReLU.channel.png",
                                                                    "001_Runtime_ReLU.layer.png"]
