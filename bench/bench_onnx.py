"""Benchmark for ONNX export and import on a ResNet-18-sized model (built here with NNabla's parametric
functions: 11.7 M parameters, 1x3x224x224 input), against NNabla's own converter classes in the same run.

- export: nnsurgeon's ``nnsurgeon.export`` (load, export, write, check against onnxruntime on 8 random
  samples) against NNabla's own path (``NnpImporter`` + ``OnnxExporter.execute``, no check); also the
  export part alone, without the check;
- import: nnsurgeon's ``load_model("m.onnx")`` (NNabla's importer, canonicalisation, check against
  onnxruntime on 2 random samples) against ``OnnxImporter(path).execute()`` alone.

    .venv/bin/python bench/bench_onnx.py [--repeat 2]
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile
from collections import OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nnsurgeon  # noqa: E402
from bench.timing import best  # noqa: E402
from nnsurgeon._nnabla import nnabla_quiet  # noqa: E402

nn = nnabla_quiet()


def resnet18(path):
    """ResNet-18 (basic blocks 2-2-2-2, widths 64-512, 1000 classes) at batch 1, random parameters."""
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    rng = np.random.RandomState(0)

    def cbr(h, c, k, s, name, relu=True):
        h = PF.convolution(h, c, (k, k), pad=(k // 2, k // 2), stride=(s, s), with_bias=False, name=name)
        h = PF.batch_normalization(h, batch_stat=False, name=name + "/bn")
        return F.relu(h) if relu else h

    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        x = nn.Variable((1, 3, 224, 224))
        h = cbr(x, 64, 7, 2, "conv1")
        h = F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))
        c_in = 64
        for stage, c in enumerate((64, 128, 256, 512)):
            for block in range(2):
                s = 2 if stage > 0 and block == 0 else 1
                name = f"layer{stage + 1}/{block}"
                r = cbr(h, c, 3, s, name + "/conv1")
                r = cbr(r, c, 3, 1, name + "/conv2", relu=False)
                skip = cbr(h, c, 1, s, name + "/down", relu=False) if (s != 1 or c != c_in) else h
                h = F.relu(F.add2(r, skip))
                c_in = c
        h = F.global_average_pooling(h)
        y = PF.affine(h, 1000, name="fc")
        for k, v in nn.get_parameters(grad_only=False).items():
            v.d = (rng.randn(*v.shape) * (0.05 if not k.endswith("var") else 0.1)).astype(np.float32)
            if k.endswith("var"):
                v.d = np.abs(v.d) + 1.0
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": x}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})
        n = sum(int(np.prod(v.shape)) for v in nn.get_parameters(grad_only=False).values())
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    from nnabla.utils.converter.nnabla import NnpImporter
    from nnabla.utils.converter.onnx import OnnxExporter, OnnxImporter

    from nnsurgeon.model import load_model
    from nnsurgeon.model.onnx_export import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        nnp = os.path.join(tmp, "resnet18.nnp")
        n = resnet18(nnp)
        ours_onnx = os.path.join(tmp, "ours.onnx")
        theirs_onnx = os.path.join(tmp, "theirs.onnx")

        def ours_export():
            nnsurgeon.export(nnp, ours_onnx, force=True)

        def ours_export_only():
            export_onnx(load_model(nnp))

        def nnabla_export():
            with contextlib.redirect_stdout(io.StringIO()):  # NnpImporter prints what it reads
                nnp_obj = NnpImporter(nnp, expand_network=False, executor_index=0).execute()
            OnnxExporter(nnp_obj, -1, -1, "13").execute(theirs_onnx)

        def ours_import():
            load_model(ours_onnx)

        def nnabla_import():
            OnnxImporter(ours_onnx).execute()

        rows = [("export + check (nnsurgeon export)", best(ours_export, args.repeat)),
                ("export without check (load + export_onnx)", best(ours_export_only, args.repeat)),
                ("NNabla: NnpImporter + OnnxExporter", best(nnabla_export, args.repeat)),
                ("import + canonicalise + check (load_model .onnx)", best(ours_import, args.repeat)),
                ("NNabla: OnnxImporter.execute", best(nnabla_import, args.repeat))]
        report = nnsurgeon.export(nnp, ours_onnx, force=True)
        size = os.path.getsize(ours_onnx)
    print(f"ResNet-18-sized model: {n:,} parameters, input 1x3x224x224, "
          f"{size / 2**20:.1f} MiB ONNX; check: {report['check']['summary']}")
    print("| what | seconds | vs NNabla |")
    print("| --- | ---: | ---: |")
    base_export, base_import = rows[2][1], rows[4][1]
    for what, t in rows:
        base = base_import if "import" in what.lower() and "Exporter" not in what else base_export
        print(f"| {what} | {t:.2f} | {t / base:.2f}x |")


if __name__ == "__main__":
    main()
