"""Whole outputs of the main commands, compared exactly (the CLI's contract with scripts and eyes)."""
import numpy as np
import pytest

import nnsurgeon

from .conftest import run

LIST_LAYERS = 'network  index  name                    type         inputs                               outputs                              args                                                                          params\n-------  -----  ----------------------  -----------  -----------------------------------  -----------------------------------  ----------------------------------------------------------------------------  ------\nRuntime  0      @Runtime/Convolution    Convolution  x(2,1,8,8)                           @Runtime/Convolution_out(2,4,8,8)    base_axis=1 pad=(1,1) stride=(1,1) dilation=(1,1) group=1 channel_last=False  40\nRuntime  1      @Runtime/ReLU           ReLU         @Runtime/Convolution_out(2,4,8,8)    @Runtime/ReLU_out(2,4,8,8)           inplace=False                                                                 0\nRuntime  2      @Runtime/Convolution_1  Convolution  @Runtime/ReLU_out(2,4,8,8)           @Runtime/Convolution_out_1(2,4,8,8)  base_axis=1 pad=(1,1) stride=(1,1) dilation=(1,1) group=1 channel_last=False  148\nRuntime  3      @Runtime/ReLU_1         ReLU         @Runtime/Convolution_out_1(2,4,8,8)  @Runtime/ReLU_out_1(2,4,8,8)         inplace=False                                                                 0\nRuntime  4      @Runtime/Affine         Affine       @Runtime/ReLU_out_1(2,4,8,8)         y(2,10)                              base_axis=1                                                                   2570\n'

QUANTIZE = 'network  after            type    output               consumers               range\n-------  ---------------  ------  -------------------  ----------------------  -------\nRuntime  @Runtime/ReLU    ReLU    @Runtime/ReLU_out    @Runtime/Convolution_1  dynamic\nRuntime  @Runtime/ReLU_1  ReLU    @Runtime/ReLU_out_1  @Runtime/Affine         dynamic\nRuntime  @Runtime/Affine  Affine  y                    (network output)        dynamic\n'

COMPARE = ('kind    name  max_abs  mean_abs  median_abs  q99_abs  cosine    sqnr_db  top1    ok\n'
           '------  ----  -------  --------  ----------  -------  --------  -------  ------  ---\n'
           'output  y     0.5      0.5       0.5         0.5      0.999414  29.17    1.0000  yes\n')


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("golden")
    assert run("example", "chain", "-o", folder / "g.nnp", "--batch-size", "2").exit_code == 0
    return folder


def test_list_layers_table(chain):
    r = run("list-layers", chain / "g.nnp")
    assert (r.exit_code, r.stdout, r.stderr) == (0, LIST_LAYERS, "5 function(s)\n")


def test_quantize_table(chain):
    out = chain / "q.nnp"
    r = run("quantize", chain / "g.nnp", "--after", "ReLU,Affine", "-o", out, "--force")
    assert (r.exit_code, r.stdout) == (0, QUANTIZE)
    assert r.stderr == ("inserted 3 MinMaxQuantize(s), 8-bit levels [0, 255], dynamic ranges (min/max of each batch; "
                        f"calibrate for fixed ranges); wrote {out}\n")


def test_compare_table(chain):
    m = nnsurgeon.load(str(chain / "g.nnp"))
    name = [k for k in m.parameters if k.endswith("fc/affine/b")][0]
    m.parameters[name] = nnsurgeon.model.Parameter(m.parameters[name].data + np.float32(0.5), True)
    nnsurgeon.save(m, str(chain / "b.nnp"), force=True)
    r = run("compare", chain / "g.nnp", chain / "b.nnp", "--random", "--samples", "4")
    assert (r.exit_code, r.stdout, r.stderr) == (0, COMPARE, "PASSED: 1 output(s) compared on 4 sample(s)\n")
