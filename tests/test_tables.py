"""Tables that fit: golden outputs of list-layers at 80 columns, with --wide, and in the vertical format
(whole outputs compared exactly), and the shortening rule."""
import pytest

from nnsurgeon.cli.render import fit_widths, shorten

from .conftest import run

AT_80 = (
    'network  index  name           type         inputs    outputs   args      params\n'
    '-------  -----  -------------  -----------  --------  --------  --------  ------\n'
    'Runtime  0      @Runt...ution  Convolution  x(2...8)  @Ru...8)  bas...se  40\n'
    'Runtime  1      @Runtime/ReLU  ReLU         @Ru...8)  @Ru...8)  inp...se  0\n'
    'Runtime  2      @Runt...ion_1  Convolution  @Ru...8)  @Ru...8)  bas...se  148\n'
    'Runtime  3      @Runt...eLU_1  ReLU         @Ru...8)  @Ru...8)  inp...se  0\n'
    'Runtime  4      @Runt...ffine  Affine       @Ru...8)  y(2,10)   bas...=1  2570\n'
)

AT_80_SHAPES = (
    'network  index  name                    type         inputs         outputs\n'
    '-------  -----  ----------------------  -----------  -------------  ------------\n'
    'Runtime  0      @Runtime/Convolution    Convolution  x(2,1,8,8)     @Runt...8,8)\n'
    'Runtime  1      @Runtime/ReLU           ReLU         @Runt...,8,8)  @Runt...8,8)\n'
    'Runtime  2      @Runtime/Convolution_1  Convolution  @Runt...,8,8)  @Runt...8,8)\n'
    'Runtime  3      @Runtime/ReLU_1         ReLU         @Runt...,8,8)  @Runt...8,8)\n'
    'Runtime  4      @Runtime/Affine         Affine       @Runt...,8,8)  y(2,10)\n'
)

WIDE = (
    'network  index  name                    type         inputs                               outputs                              args                                                                          params\n'
    '-------  -----  ----------------------  -----------  -----------------------------------  -----------------------------------  ----------------------------------------------------------------------------  ------\n'
    'Runtime  0      @Runtime/Convolution    Convolution  x(2,1,8,8)                           @Runtime/Convolution_out(2,4,8,8)    base_axis=1 pad=(1,1) stride=(1,1) dilation=(1,1) group=1 channel_last=False  40\n'
    'Runtime  1      @Runtime/ReLU           ReLU         @Runtime/Convolution_out(2,4,8,8)    @Runtime/ReLU_out(2,4,8,8)           inplace=False                                                                 0\n'
    'Runtime  2      @Runtime/Convolution_1  Convolution  @Runtime/ReLU_out(2,4,8,8)           @Runtime/Convolution_out_1(2,4,8,8)  base_axis=1 pad=(1,1) stride=(1,1) dilation=(1,1) group=1 channel_last=False  148\n'
    'Runtime  3      @Runtime/ReLU_1         ReLU         @Runtime/Convolution_out_1(2,4,8,8)  @Runtime/ReLU_out_1(2,4,8,8)         inplace=False                                                                 0\n'
    'Runtime  4      @Runtime/Affine         Affine       @Runtime/ReLU_out_1(2,4,8,8)         y(2,10)                              base_axis=1                                                                   2570\n'
)

VERTICAL = (
    '[Runtime 0] @Runtime/Convolution (Convolution)\n'
    '    inputs:  x(2,1,8,8)\n'
    '    outputs: @Runtime/Convolution_out(2,4,8,8)\n'
    '    args:    base_axis=1 pad=(1,1) stride=(1,1) dilation=(1,1) group=1 channel_last=False\n'
    '    params:  40 (conv1/conv/W(4,1,3,3) conv1/conv/b(4))\n'
    '\n'
    '[Runtime 1] @Runtime/ReLU (ReLU)\n'
    '    inputs:  @Runtime/Convolution_out(2,4,8,8)\n'
    '    outputs: @Runtime/ReLU_out(2,4,8,8)\n'
    '    args:    inplace=False\n'
    '    params:  0\n'
    '\n'
    '[Runtime 2] @Runtime/Convolution_1 (Convolution)\n'
    '    inputs:  @Runtime/ReLU_out(2,4,8,8)\n'
    '    outputs: @Runtime/Convolution_out_1(2,4,8,8)\n'
    '    args:    base_axis=1 pad=(1,1) stride=(1,1) dilation=(1,1) group=1 channel_last=False\n'
    '    params:  148 (conv2/conv/W(4,4,3,3) conv2/conv/b(4))\n'
    '\n'
    '[Runtime 3] @Runtime/ReLU_1 (ReLU)\n'
    '    inputs:  @Runtime/Convolution_out_1(2,4,8,8)\n'
    '    outputs: @Runtime/ReLU_out_1(2,4,8,8)\n'
    '    args:    inplace=False\n'
    '    params:  0\n'
    '\n'
    '[Runtime 4] @Runtime/Affine (Affine)\n'
    '    inputs:  @Runtime/ReLU_out_1(2,4,8,8)\n'
    '    outputs: y(2,10)\n'
    '    args:    base_axis=1\n'
    '    params:  2570 (fc/affine/W(256,10) fc/affine/b(10))\n'
)


@pytest.fixture()
def chain(examples):
    return examples[("chain", "nntxt+h5")]


def test_80_columns(chain):
    r = run("list-layers", chain, env={"COLUMNS": "80"})
    assert r.exit_code == 0 and r.stdout == AT_80
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert r.stderr == ("5 function(s); long cells shortened to fit the terminal (--wide prints them whole; "
                        "--format vertical or --show args,shapes,params narrows)\n")
    r = run("list-layers", chain, "--show", "shapes", env={"COLUMNS": "80"})
    assert r.exit_code == 0 and r.stdout == AT_80_SHAPES


def test_wide_and_piped_print_everything(chain):
    assert run("list-layers", chain, "--wide", env={"COLUMNS": "80"}).stdout == WIDE
    r = run("list-layers", chain, env={"COLUMNS": None})  # piped, COLUMNS unset: no limit
    assert r.stdout == WIDE and r.stderr == "5 function(s)\n"


def test_vertical(chain):
    r = run("list-layers", chain, "--format", "vertical", env={"COLUMNS": "40"})
    assert r.exit_code == 0 and r.stdout == VERTICAL


def test_show_picks_columns_and_refuses_unknown(chain):
    r = run("list-layers", chain, "--show", "params", "--type", "Affine")
    assert r.stdout.splitlines()[0].split() == ["network", "index", "name", "type", "inputs", "outputs", "params"]
    assert r.stdout.splitlines()[2].split() == ["Runtime", "4", "@Runtime/Affine", "Affine", "@Runtime/ReLU_out_1",
                                                "y", "2570"]
    r = run("list-layers", chain, "--show", "colour")
    assert r.exit_code == 2 and "'colour': choose from args,params,shapes" in r.stderr


def test_shorten_keeps_both_ends():
    assert shorten("abcdefghij", 10) == "abcdefghij"
    assert shorten("abcdefghij", 9) == "abc...hij"
    assert shorten("abcdefghij", 8) == "abc...ij"
    assert shorten("abcdefghij", 4) == "a..."
    assert shorten("abcdefghij", 2) == "ab"


def test_fit_widths_shrinks_the_groups_in_turn():
    # total 10+20+30 + 2 gaps of 2 = 64; limit 50 takes 14 from the first group (column 2) first
    assert fit_widths(["a", "b", "c"], [10, 20, 30], 50, order=[[2], [0, 1, 2]]) == [10, 20, 16]
    assert fit_widths(["a", "b", "c"], [10, 20, 30], 30, order=[[2], [0, 1, 2]]) == [9, 9, 8]  # ties: the rightmost first
    assert fit_widths(["a", "b", "c"], [10, 20, 30], None) == [10, 20, 30]
