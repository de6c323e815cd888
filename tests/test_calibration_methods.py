"""Each calibration method against a numpy reference written here, on fixed data fed in batches of several
sizes (the whole-set methods must not depend on the batch size), and end to end through a model."""
import json

import numpy as np
import pytest

from nnsurgeon.runtime.calibrate import NBINS, make_stat

from .conftest import nnabla_outputs, run


def _data():
    rng = np.random.RandomState(0)
    # a skewed, heavy-tailed tensor with a few outliers: clipping methods must clip them
    x = np.concatenate([rng.standard_t(3, 20000) * 0.7 + 0.3, rng.uniform(8, 12, 20), [-9.0]])
    return rng.permutation(x).astype(np.float32)


def _run(method, x, batch, **kw):
    stat = make_stat(method, **kw)
    batches = [x[i:i + batch] for i in range(0, len(x), batch)]
    for b in batches:
        stat.update_range(float(b.min()), float(b.max()))
    if method not in ("minmax", "ema"):
        for b in batches:
            stat.update(b)
    return stat.range()


def test_minmax():
    x = _data()
    assert _run("minmax", x, 333) == (float(x.min()), float(x.max()))


def test_ema_follows_the_batches():
    x = _data()
    lo, hi = float(x[:500].min()), float(x[:500].max())
    for i in range(500, len(x), 500):
        b = x[i:i + 500]
        lo, hi = 0.9 * lo + 0.1 * float(b.min()), 0.9 * hi + 0.1 * float(b.max())
    assert _run("ema", x, 500, decay=0.9) == pytest.approx((lo, hi), rel=1e-9)


@pytest.mark.parametrize("p", [99.99, 99.0, 90.0])
def test_percentile_of_the_whole_set_whatever_the_batch_size(p):
    x = _data()
    width = (float(x.max()) - float(x.min())) / NBINS
    # the sample at rank ceil(q N) (numpy's inverted_cdf) lies in the bin the histogram reads
    want = np.percentile(x.astype(np.float64), [100 - p, p], method="inverted_cdf")
    results = [_run("percentile", x, batch, percentile=p) for batch in (64, 1000, len(x))]
    assert results[0] == results[1] == results[2]
    assert abs(results[0][0] - want[0]) <= width and abs(results[0][1] - want[1]) <= width


def _fake_quant_error(x, t, levels, signed):
    """Squared error of quantizing x on the symmetric grid clipped at t (numpy, on every value)."""
    step = (2 * t if signed else t) / levels
    q = np.clip(np.round(x / step) * step, -t if signed else 0, t)
    return float(np.sum((x - q) ** 2))


@pytest.mark.parametrize("bits", [8, 4])
def test_mse_threshold_is_as_good_as_a_brute_force_search(bits):
    x = _data().astype(np.float64)
    levels = 2 ** bits - 2  # symmetric narrow signed grid: ql_max - ql_min
    lo, hi = _run("mse", x.astype(np.float32), 1000, grid=(-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1))
    t = max(-lo, hi)
    amax = np.abs(x).max()
    brute = min(_fake_quant_error(x, c, levels, True) for c in np.linspace(amax / 200, amax, 400))
    assert _fake_quant_error(x, t, levels, True) <= brute * 1.03
    assert t < amax  # the outliers are clipped
    assert _run("mse", x.astype(np.float32), 64, grid=(-127, 127)) == _run("mse", x.astype(np.float32), 999,
                                                                             grid=(-127, 127))


def _reference_entropy(x, bits, nbins=2048, unsigned=False):
    """TensorRT's entropy calibration written out directly (after NVIDIA's pytorch-quantization)."""
    hist, edges = np.histogram(np.abs(x), bins=nbins, range=(0, np.abs(x).max()))
    hist[0] = hist[1]  # pytorch-quantization's treatment of the zero spike
    nq = 2 ** (bits - 1 + int(unsigned))
    best, best_i = None, None
    for i in range(nq, nbins + 1):
        ref = hist[:i].astype(np.float64).copy()
        ref[-1] += hist[i:].sum()
        space = np.linspace(0, i, num=nq + 1)
        which = np.digitize(range(i), space) - 1
        which[hist[:i] == 0] = -1
        merged = np.zeros(nq + 1)  # slot nq collects the empty bins (which == -1)
        count = np.zeros(nq + 1)
        np.add.at(merged, which, hist[:i])
        np.add.at(count, which, 1)
        cand = np.where(which >= 0, merged[which] / np.maximum(count[which], 1), 0.0)
        p, q = ref / ref.sum(), cand / cand.sum()
        m = p > 0
        kl = np.inf if np.any(q[m] == 0) else float(np.sum(p[m] * np.log(p[m] / q[m])))
        if best is None or kl < best:
            best, best_i = kl, i
    return float(edges[best_i])


def test_entropy_matches_tensorrts_algorithm():
    x = _data()
    want = _reference_entropy(x.astype(np.float64), 8)
    lo, hi = _run("entropy", x, 777, grid=(-127, 127))
    # the range is the threshold clipped to the data: [max(min x, -t), min(max x, t)]
    assert hi == pytest.approx(min(want, float(x.max())), rel=1e-6) and lo == pytest.approx(-want, rel=1e-6)
    assert want < float(np.abs(x).max())


def test_entropy_after_relu_ignores_the_spike_of_zeros():
    """Regression: half the values of a ReLU output are exactly 0; counted as such, that one bin dominated the
    divergence and the threshold fell far below the data (8-bit cosine 0.84 on the classifier)."""
    x = np.maximum(_data(), 0)
    want = _reference_entropy(x.astype(np.float64), 8, unsigned=True)
    lo, hi = _run("entropy", x, 500, grid=(0, 255))
    assert lo == 0 and hi == pytest.approx(want, rel=1e-6)
    assert hi > np.percentile(x, 99)


@pytest.mark.parametrize("method", ["percentile", "mse", "entropy"])
def test_methods_end_to_end(examples, tmp_path, method):
    """Through a model: the stored range of the network output against the method run on the float outputs."""
    src = examples[("chain", "nntxt+h5")]
    calib = tmp_path / "calib.npy"
    data = np.random.RandomState(1).randn(200, 1, 8, 8).astype(np.float32)
    np.save(calib, data)
    out = tmp_path / "q.nnp"
    r = run("quantize", src, "--after", "Affine", "--calibrate", calib, "--method", method, "--batch-size", 16,
            "--percentile", "99", "-o", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    (rec,) = json.loads(r.stdout)["quantizers"]
    y = nnabla_outputs(src, "Runtime", inputs={"x": data}, batch_size=200)[1]["y"].ravel()
    if method == "percentile":
        width = (y.max() - y.min()) / NBINS
        want = np.percentile(y, [1, 99], method="inverted_cdf")
        assert rec["range"][0] == pytest.approx(min(want[0], 0), abs=width * 1.01)
        assert rec["range"][1] == pytest.approx(max(want[1], 0), abs=width * 1.01)
    else:
        assert rec["range"][0] < 0 < rec["range"][1]
        assert -rec["range"][0] <= np.abs(y).max() + 1e-4 and rec["range"][1] <= np.abs(y).max() + 1e-4
