"""nnabla.models names: read from NNabla's cache in its data home; clear errors when not downloadable.
No test touches the network: a generated model is put where NNabla caches MobileNet."""
import json
import os
import shutil

from .conftest import assert_user_error, run


def _home_with_mobilenet(tmp_path, examples):
    home = tmp_path / "home"
    cache = home / "nnabla_data" / "nnp_models" / "imagenet"
    cache.mkdir(parents=True)
    shutil.copy(examples[("residual", "nntxt+h5")], cache / "MobileNet.nnp")
    return home


def test_pretrained_name_loads_from_cache(examples, tmp_path):
    home = _home_with_mobilenet(tmp_path, examples)
    env = {"HOME": str(home), "NNABLA_MODELS_URL_BASE": "http://127.0.0.1:9/"}
    r = run("list-layers", "nnabla.models:imagenet/MobileNet", "--format", "json", env=env)
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(r.stdout)) == 10
    out = tmp_path / "q.nnp"
    r = run("quantize", "nnabla.models:imagenet/MobileNet", "--after", "ReLU", "-o", out, env=env)
    assert r.exit_code == 0, r.stderr
    assert out.exists()


def test_models_lists_cache_state(examples, tmp_path):
    home = _home_with_mobilenet(tmp_path, examples)
    r = run("models", "--format", "json", env={"HOME": str(home)})
    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert rows["nnabla.models:imagenet/MobileNet"]["cached"] is True
    assert rows["nnabla.models:imagenet/ResNet-18"]["cached"] is False
    assert rows["nnabla.models:imagenet/ResNet-18"]["path"].endswith(
        os.path.join("nnp_models", "imagenet", "Resnet-18.nnp"))


def test_not_cached_and_not_downloadable(tmp_path):
    env = {"HOME": str(tmp_path), "NNABLA_MODELS_URL_BASE": "http://127.0.0.1:9/"}
    r = run("info", "nnabla.models:imagenet/ResNet-18", env=env)
    want = os.path.join(str(tmp_path), "nnabla_data", "nnp_models", "imagenet", "Resnet-18.nnp")
    assert_user_error(r, want, "http://127.0.0.1:9/imagenet/Resnet-18/Resnet-18.nnp", "NNABLA_MODELS_URL_BASE")
    assert not os.path.exists(want)
