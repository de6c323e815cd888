"""remove, replace, fold-batchnorm, cut, rename: structure and numbers, against hand-built NNabla references."""
from collections import OrderedDict

import numpy as np
import pytest

from nnsurgeon import cut, fold_batchnorm, remove, rename, replace
from nnsurgeon.errors import NnsurgeonError
from nnsurgeon.examples import build_example, classifier_body
from nnsurgeon.graph.network import Network
from nnsurgeon.model import load_model, read_nnp, write_nnp

from .conftest import assert_user_error, count_type, nnabla_outputs, run


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cls") / "classifier.nnp")
    build_example("classifier", path, batch=4, seed=2)
    return path


def _reference(path, x, **body_options):
    """The classifier rebuilt by hand with NNabla, with the parameters stored in ``path``."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF

    m = read_nnp(path)
    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        xv = nn.Variable(x.shape)
        y = classifier_body(F, PF, xv, **body_options)
        for k, v in nn.get_parameters(grad_only=False).items():
            v.d = m.parameters[k].data
        xv.d = x
        y.forward()
        return np.array(y.d)


def _save(model, tmp_path, name="out.nnp"):
    path = str(tmp_path / name)
    write_nnp(model, path)
    return path


def test_remove_training_only_gives_the_inference_graph(classifier, tmp_path):
    m = load_model(classifier)
    result = remove(m, types=["Dropout", "ImageAugmentation"])
    assert len(result.records) == 2
    out = _save(m, tmp_path)
    assert count_type(out, "Runtime", "Dropout") == 0 and count_type(out, "Runtime", "ImageAugmentation") == 0
    x = np.random.RandomState(0).randn(4, 1, 8, 8).astype(np.float32)
    _, got = nnabla_outputs(out, "Runtime", inputs={"x": x})
    want = _reference(classifier, x, training_only=False)
    assert got["y"].tobytes() == want.tobytes()  # identical to the hand-built inference network
    net = Network(read_nnp(out).network("Runtime"))
    assert net.inputs == ["x"] and net.outputs == ["y"]


def test_remove_network_output_keeps_its_name(examples, tmp_path):
    src = examples[("zoo", "nntxt+h5")]
    m = load_model(src)
    remove(m, types=["Softmax"])  # the last function: its input takes the output's name
    out = _save(m, tmp_path)
    net = Network(read_nnp(out).network("Runtime"))
    assert net.outputs == ["y"] and net.producer("y")[0].type == "Affine"
    x = np.random.RandomState(4).randn(2, 3, 8, 8).astype(np.float32)
    _, got = nnabla_outputs(out, "Runtime", inputs={"x": x})
    _, orig = nnabla_outputs(src, "Runtime", inputs={"x": x})
    e = np.exp(got["y"] - got["y"].max(1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(1, keepdims=True), orig["y"], rtol=1e-5, atol=1e-6)


def test_remove_refuses_shape_changes(examples):
    m = load_model(examples[("zoo", "nntxt+h5")])
    with pytest.raises(NnsurgeonError) as e:
        remove(m, types=["Reshape"])
    assert "changes the shape" in str(e.value)


def test_replace_matches_hand_built_reference(classifier, tmp_path):
    import nnabla.functions as F

    m = load_model(classifier)
    remove(m, types=["Dropout", "ImageAugmentation"])
    replace(m, types=["ReLU"], to="LeakyReLU", args={"alpha": 0.2})
    out = _save(m, tmp_path)
    assert count_type(out, "Runtime", "LeakyReLU") == 3 and count_type(out, "Runtime", "ReLU") == 0
    x = np.random.RandomState(1).randn(4, 1, 8, 8).astype(np.float32)
    _, got = nnabla_outputs(out, "Runtime", inputs={"x": x})
    want = _reference(classifier, x, training_only=False, activation=lambda h: F.leaky_relu(h, alpha=0.2))
    assert got["y"].tobytes() == want.tobytes()
    f = [f for f in read_nnp(out).network("Runtime").function if f.type == "LeakyReLU"][0]
    assert f.leaky_relu_param.alpha == pytest.approx(0.2)


def test_replace_args_only_keeps_type(examples, tmp_path):
    m = load_model(examples[("chain", "nntxt+h5")])
    replace(m, names=["@Runtime/Convolution"], args={"dilation": [1, 1], "pad": [1, 1]})
    f = Network(m.network("Runtime")).functions["@Runtime/Convolution"]
    assert f.type == "Convolution" and list(f.convolution_param.pad.dim) == [1, 1]
    assert list(f.convolution_param.stride.dim) == [1, 1]  # other args kept


def test_replace_that_nnabla_cannot_build_changes_nothing(examples, tmp_path):
    """Defect: a replace whose result NNabla cannot build (a smaller convolution output feeding an Affine sized
    for the old one; a pooling without its pad) was written and exit 0."""
    m = load_model(examples[("chain", "nntxt+h5")])
    with pytest.raises(NnsurgeonError, match="NNabla cannot build network 'Runtime'"):
        replace(m, names=["@Runtime/Convolution"], args={"pad": [0, 0]})
    src = examples[("chain", "nntxt+h5")]
    r = run("apply", _recipe_file(tmp_path, "version: 1\nsteps:\n  - replace: {types: [Convolution], to: Affine}\n"),
            src, "-o", tmp_path / "o.nnp")
    assert_user_error(r, "NNabla cannot build network 'Runtime'")
    assert not (tmp_path / "o.nnp").exists()


def test_replace_pooling_gets_nnabla_defaults_for_unset_arguments(tmp_path):
    """Defect: AveragePooling -> MaxPooling with kernel and stride but no pad saved an empty pad."""
    import nnabla as nn
    import nnabla.functions as F
    from nnabla.utils.save import save

    path = str(tmp_path / "pool.nnp")
    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((2, 1, 4, 4))
        y = F.average_pooling(x, (2, 2))
        save(path, {"networks": [{"name": "Runtime", "batch_size": 2, "outputs": {"y": y}, "names": {"x": x}}]})
    r = run("apply", _recipe_file(tmp_path, "version: 1\nsteps:\n  - replace: {types: [AveragePooling], to: MaxPooling,"
                                            " args: {kernel: [2, 2], stride: [2, 2]}}\n"), path, "-o", tmp_path / "o.nnp")
    assert r.exit_code == 0, r.stderr
    xs = np.random.RandomState(0).randn(2, 1, 4, 4).astype(np.float32)
    _, got = nnabla_outputs(str(tmp_path / "o.nnp"), "Runtime", inputs={"x": xs})
    np.testing.assert_array_equal(got["y"], xs.reshape(2, 1, 2, 2, 2, 2).max(axis=(3, 5)))


def _recipe_file(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_fold_batchnorm(classifier, tmp_path):
    m = load_model(classifier)
    remove(m, types=["Dropout", "ImageAugmentation"])
    result = fold_batchnorm(m)
    assert len(result.records) == 2 and not result.notes
    out = _save(m, tmp_path)
    assert count_type(out, "Runtime", "BatchNormalization") == 0
    x = np.random.RandomState(2).randn(4, 1, 8, 8).astype(np.float32)
    _, got = nnabla_outputs(out, "Runtime", inputs={"x": x})
    want = _reference(classifier, x, training_only=False)
    np.testing.assert_allclose(got["y"], want, rtol=1e-5, atol=1e-5)
    params = read_nnp(out).parameters
    assert "@Runtime/Convolution/folded/W" in params and "bn1/bn/mean" not in params


def test_fold_batchnorm_skips_forks(tmp_path):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    path = str(tmp_path / "fork.nnp")
    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((2, 1, 4, 4))
        c = PF.convolution(x, 2, (1, 1), name="c")
        y = F.add2(PF.batch_normalization(c, batch_stat=False, name="bn"), c)  # conv output feeds BN and Add2
        save(path, {"networks": [{"name": "Runtime", "batch_size": 2, "outputs": {"y": y}, "names": {"x": x}}]})
    m = load_model(path)
    result = fold_batchnorm(m)
    assert result.records == [] and "fork" in result.notes[0]


def test_cut_outputs_equal_original_intermediates(classifier, tmp_path):
    m = load_model(classifier)
    remove(m, types=["Dropout", "ImageAugmentation"])
    base = _save(m, tmp_path, "base.nnp")
    feature_var = Network(m.network("Runtime")).functions["@Runtime/ReLU_2"].output[0]
    cut(m, names=["@Runtime/ReLU_2"])
    out = _save(m, tmp_path)
    net = Network(read_nnp(out).network("Runtime"))
    assert net.outputs == [feature_var] and "@Runtime/Affine_1" not in net.functions
    assert [o.variable_name for o in read_nnp(out).proto.executor[0].output_variable] == [feature_var]
    x = np.random.RandomState(3).randn(4, 1, 8, 8).astype(np.float32)
    _, got = nnabla_outputs(out, "Runtime", inputs={"x": x})
    import nnabla as nn
    from nnabla.utils.nnp_graph import NnpLoader

    with nn.parameter_scope("", OrderedDict()):
        full = NnpLoader(base).get_network("Runtime", batch_size=4)
        full.variables[feature_var].persistent = True
        full.inputs["x"].d = x
        full.outputs["y"].forward()
        want = np.array(full.variables[feature_var].d)
    assert got[feature_var].tobytes() == want.tobytes()
    assert "fc2/affine/W" not in read_nnp(out).parameters


def test_cut_refuses_to_break_an_optimizer(examples):
    m = load_model(examples[("multi-network", "nntxt+h5")])
    with pytest.raises(NnsurgeonError) as e:
        cut(m, types=["ReLU"], networks=["Training"])
    assert "optimizer 'optimizer'" in str(e.value)


def test_rename(examples, tmp_path):
    m = load_model(examples[("chain", "nntxt+h5")])
    rename(m, functions={"@Runtime/Affine": "classifier"}, variables={"y": "logits", "x": "image"})
    out = _save(m, tmp_path)
    mm = read_nnp(out)
    net = Network(mm.network("Runtime"))
    assert "classifier" in net.functions and net.outputs == ["logits"] and net.inputs == ["image"]
    assert [d.variable_name for d in mm.proto.executor[0].data_variable] == ["image"]
    x = np.random.RandomState(0).randn(2, 1, 8, 8).astype(np.float32)
    _, a = nnabla_outputs(examples[("chain", "nntxt+h5")], "Runtime", inputs={"x": x})
    _, b = nnabla_outputs(out, "Runtime", inputs={"image": x})
    assert a["y"].tobytes() == b["logits"].tobytes()
    with pytest.raises(NnsurgeonError) as e:
        rename(m, variables={"nope": "x2"})
    assert "no function or variable named 'nope'" in str(e.value)
