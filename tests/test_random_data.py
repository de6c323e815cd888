"""--random inputs: drawn batch by batch from the seeded generator (memory flat in the number of samples)."""
import numpy as np

from nnsurgeon.runtime.data import RandomSource


def test_one_input_gets_the_values_of_one_whole_draw():
    shapes = {"x": (3, 4)}
    got = np.concatenate([b["x"] for b in RandomSource(shapes, samples=10, seed=7).batches(4)])
    want = np.random.RandomState(7).randn(10, 3, 4).astype(np.float32)
    assert got.dtype == np.float32 and got.tobytes() == want.tobytes()


def test_batches_are_drawn_as_needed():
    source = RandomSource({"x": (8,), "y": (2,)}, samples=10 ** 9, seed=0)
    batches = source.batches(16)  # a billion samples: drawn whole this would need gigabytes
    first = next(batches)
    assert first["x"].shape == (16, 8) and first["y"].shape == (16, 2)
    assert [len(b["x"]) for b in RandomSource({"x": (1,)}, samples=10, seed=0).batches(4)] == [4, 4, 2]
