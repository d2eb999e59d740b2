#!/usr/bin/env python3
"""Writes small FP32 ONNX models, calibration samples and onnxruntime reference outputs for the
converter's end-to-end tests.

usage: make_e2e.py OUT_DIR
OUT_DIR/<model>/model.onnx, calib/sample_NN/<input>.npy, test/<input>.npy, test/expected_<i>.npy
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
import onnxruntime as ort

rng = np.random.default_rng(1234)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def save(dirname, graph, inputs, n_calib=8, opset=17):
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(dirname, exist_ok=True)
    onnx.save(m, os.path.join(dirname, "model.onnx"))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    for s in range(n_calib):
        sd = os.path.join(dirname, "calib", "sample_%02d" % s)
        os.makedirs(sd, exist_ok=True)
        for name, make in inputs.items():
            np.save(os.path.join(sd, name + ".npy"), make())
    td = os.path.join(dirname, "test")
    os.makedirs(td, exist_ok=True)
    feeds = {name: make() for name, make in inputs.items()}
    for name, v in feeds.items():
        np.save(os.path.join(td, name + ".npy"), v)
    for i, out in enumerate(sess.run(None, feeds)):
        np.save(os.path.join(td, "expected_%d.npy" % i), out.astype(np.float32))


def mlp(d):
    K, H, N = 64, 128, 32
    W1, b1, W2, b2 = f32(K, H, scale=0.15), f32(H, scale=0.1), f32(H, N, scale=0.1), f32(N, scale=0.1)
    g, be = f32(N, scale=0.2) + 1, f32(N, scale=0.1)
    W3 = f32(N, 16, scale=0.2)
    nodes = [
        h.make_node("MatMul", ["x", "W1"], ["m1"], name="fc1"),
        h.make_node("Add", ["m1", "b1"], ["a1"], name="fc1_bias"),
        h.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        h.make_node("MatMul", ["r1", "W2"], ["m2"], name="fc2"),
        h.make_node("Add", ["m2", "b2"], ["a2"], name="fc2_bias"),
        # decomposed LayerNorm
        h.make_node("ReduceMean", ["a2"], ["mu"], axes=[-1], name="ln_mean"),
        h.make_node("Sub", ["a2", "mu"], ["d"], name="ln_sub"),
        h.make_node("Pow", ["d", "two"], ["p"], name="ln_pow"),
        h.make_node("ReduceMean", ["p"], ["v"], axes=[-1], name="ln_var"),
        h.make_node("Add", ["v", "eps"], ["ve"], name="ln_eps"),
        h.make_node("Sqrt", ["ve"], ["sd"], name="ln_sqrt"),
        h.make_node("Div", ["d", "sd"], ["n"], name="ln_div"),
        h.make_node("Mul", ["n", "g"], ["ng"], name="ln_scale"),
        h.make_node("Add", ["ng", "be"], ["ln"], name="ln_bias"),
        # exact GELU pattern
        h.make_node("Div", ["ln", "sqrt2"], ["t1"], name="gelu_div"),
        h.make_node("Erf", ["t1"], ["t2"], name="gelu_erf"),
        h.make_node("Add", ["t2", "one"], ["t3"], name="gelu_add"),
        h.make_node("Mul", ["ln", "t3"], ["t4"], name="gelu_mul"),
        h.make_node("Mul", ["t4", "half"], ["ge"], name="gelu_half"),
        h.make_node("MatMul", ["ge", "W3"], ["m3"], name="fc3"),
        h.make_node("Sigmoid", ["m3"], ["s3"], name="silu_sig"),
        h.make_node("Mul", ["m3", "s3"], ["y"], name="silu_mul"),
    ]
    inits = [nh.from_array(v, n) for n, v in [("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2), ("g", g), ("be", be), ("W3", W3)]]
    inits += [nh.from_array(np.array(v, np.float32), n) for n, v in [("two", 2.0), ("eps", 1e-5), ("sqrt2", np.sqrt(2.0)), ("one", 1.0), ("half", 0.5)]]
    graph = h.make_graph(nodes, "mlp", [h.make_tensor_value_info("x", T.FLOAT, ["batch", K])],
                         [h.make_tensor_value_info("y", T.FLOAT, ["batch", 16])], inits)
    save(d, graph, {"x": lambda: f32(4, K)})


def cnn(d):
    C, M = 3, 8
    W1, b1 = f32(M, C, 3, 3, scale=0.3), f32(M, scale=0.1)
    gm, bt, mu, var = f32(M, scale=0.1) + 1, f32(M, scale=0.1), f32(M, scale=0.1), np.abs(f32(M)) + 0.5
    W2 = f32(M, M, 3, 3, scale=0.15)
    b2 = f32(1, M, 1, 1, scale=0.1)
    Wf, bf = f32(10, M, scale=0.3), f32(10, scale=0.1)
    nodes = [
        h.make_node("Conv", ["x", "W1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        h.make_node("BatchNormalization", ["c1", "gm", "bt", "mu", "var"], ["bn1"], name="bn1"),
        h.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        h.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
        h.make_node("Conv", ["p1", "W2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        h.make_node("Add", ["c2", "b2"], ["a2"], name="conv2_bias"),
        h.make_node("Clip", ["a2", "zero", "six"], ["r2"], name="relu6"),
        h.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        h.make_node("Flatten", ["g"], ["f"], axis=1, name="flatten"),
        h.make_node("Gemm", ["f", "Wf", "bf"], ["y"], transB=1, name="classifier"),
    ]
    inits = [nh.from_array(v, n) for n, v in [("W1", W1), ("b1", b1), ("gm", gm), ("bt", bt), ("mu", mu), ("var", var.astype(np.float32)),
                                              ("W2", W2), ("b2", b2), ("Wf", Wf), ("bf", bf)]]
    inits += [nh.from_array(np.array(0, np.float32), "zero"), nh.from_array(np.array(6, np.float32), "six")]
    graph = h.make_graph(nodes, "cnn", [h.make_tensor_value_info("x", T.FLOAT, [1, C, 16, 16])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 10])], inits)
    save(d, graph, {"x": lambda: f32(1, C, 16, 16)})


def attention(d):
    S, E = 6, 32
    Wq, Wk, Wv, Wo = (f32(E, E, scale=0.2) for _ in range(4))
    g, be = f32(E, scale=0.1) + 1, f32(E, scale=0.1)
    nodes = [
        h.make_node("MatMul", ["x", "Wq"], ["q"], name="q_proj"),
        h.make_node("MatMul", ["x", "Wk"], ["k"], name="k_proj"),
        h.make_node("MatMul", ["x", "Wv"], ["v"], name="v_proj"),
        h.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1], name="k_t"),
        h.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
        h.make_node("Mul", ["s", "scale"], ["ss"], name="scale"),
        h.make_node("Softmax", ["ss"], ["a"], axis=-1, name="softmax"),
        h.make_node("MatMul", ["a", "v"], ["o"], name="context"),
        h.make_node("MatMul", ["o", "Wo"], ["po"], name="o_proj"),
        h.make_node("Add", ["po", "x"], ["res"], name="residual"),
        h.make_node("LayerNormalization", ["res", "g", "be"], ["y"], axis=-1, epsilon=1e-5, name="ln"),
    ]
    inits = [nh.from_array(v, n) for n, v in [("Wq", Wq), ("Wk", Wk), ("Wv", Wv), ("Wo", Wo), ("g", g), ("be", be)]]
    inits.append(nh.from_array(np.array(1 / np.sqrt(E), np.float32), "scale"))
    graph = h.make_graph(nodes, "attn", [h.make_tensor_value_info("x", T.FLOAT, ["batch", "seq", E])],
                         [h.make_tensor_value_info("y", T.FLOAT, ["batch", "seq", E])], inits)
    save(d, graph, {"x": lambda: f32(2, S, E)})


def mha(d):
    """Multi-head self-attention as PyTorch exports BERT's: q/k/v projections with bias, head
    split by Reshape to a target built from Shape/Gather/Unsqueeze/Concat (dynamic sequence),
    Transpose (k with perm 0,2,3,1), scores Div sqrt(D) + mask, Softmax, context MatMul, heads
    merged by Transpose + Reshape (target again from Shape), output projection, residual, LayerNorm."""
    S, H, D = 7, 4, 8
    E = H * D
    nodes, inits = [], []

    def const(name, v):
        inits.append(nh.from_array(np.asarray(v), name))
        return name

    const("idx0", np.array(0, np.int64))
    const("idx1", np.array(1, np.int64))
    const("ax0", np.array([0], np.int64))
    const("heads", np.array([H], np.int64))
    const("hdim", np.array([D], np.int64))
    const("all_heads", np.array([E], np.int64))
    const("sqrt_d", np.array(np.sqrt(D), np.float32))
    const("one", np.array(1.0, np.float32))
    const("neg", np.array(-10000.0, np.float32))
    const("ax12", np.array([1, 2], np.int64))

    def two_dims(src, tag):
        out = []
        for i in (0, 1):
            nodes.append(h.make_node("Shape", [src], ["%s_shape%d" % (tag, i)], name="%s_shape%d" % (tag, i)))
            nodes.append(h.make_node("Gather", ["%s_shape%d" % (tag, i), "idx%d" % i], ["%s_d%d" % (tag, i)], axis=0,
                                     name="%s_gather%d" % (tag, i)))
            nodes.append(h.make_node("Unsqueeze", ["%s_d%d" % (tag, i), "ax0"], ["%s_u%d" % (tag, i)],
                                     name="%s_unsq%d" % (tag, i)))
            out.append("%s_u%d" % (tag, i))
        return out

    for p, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        const("W" + p, f32(E, E, scale=0.3))
        const("b" + p, f32(E, scale=0.1))
        nodes.append(h.make_node("MatMul", ["x", "W" + p], [p + "_mm"], name=p + "_proj"))
        nodes.append(h.make_node("Add", ["b" + p, p + "_mm"], [p], name=p + "_bias"))
        dims = two_dims(p, p)
        nodes.append(h.make_node("Concat", dims + ["heads", "hdim"], [p + "_shape"], axis=0, name=p + "_target"))
        nodes.append(h.make_node("Reshape", [p, p + "_shape"], [p + "_split"], name=p + "_split"))
        nodes.append(h.make_node("Transpose", [p + "_split"], [p + "_heads"], perm=perm, name=p + "_heads"))
    nodes += [
        h.make_node("Unsqueeze", ["mask", "ax12"], ["mask4"], name="mask_unsq"),
        h.make_node("Sub", ["one", "mask4"], ["inv_mask"], name="mask_inv"),
        h.make_node("Mul", ["inv_mask", "neg"], ["bias_mask"], name="mask_bias"),
        h.make_node("MatMul", ["q_heads", "k_heads"], ["scores"], name="scores"),
        h.make_node("Div", ["scores", "sqrt_d"], ["scaled"], name="scale"),
        h.make_node("Add", ["scaled", "bias_mask"], ["masked"], name="mask_add"),
        h.make_node("Softmax", ["masked"], ["probs"], axis=-1, name="softmax"),
        h.make_node("MatMul", ["probs", "v_heads"], ["ctx"], name="context"),
        h.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3], name="merge_t"),
    ]
    dims = two_dims("ctx_t", "m")
    const("Wo", f32(E, E, scale=0.3))
    const("g", f32(E, scale=0.1) + 1)
    const("be", f32(E, scale=0.1))
    nodes += [
        h.make_node("Concat", dims + ["all_heads"], ["m_shape"], axis=0, name="merge_target"),
        h.make_node("Reshape", ["ctx_t", "m_shape"], ["merged"], name="merge"),
        h.make_node("MatMul", ["merged", "Wo"], ["po"], name="o_proj"),
        h.make_node("Add", ["po", "x"], ["res"], name="residual"),
        h.make_node("LayerNormalization", ["res", "g", "be"], ["y"], axis=-1, epsilon=1e-5, name="ln"),
    ]
    graph = h.make_graph(nodes, "mha", [h.make_tensor_value_info("x", T.FLOAT, ["batch", "seq", E]),
                                        h.make_tensor_value_info("mask", T.FLOAT, ["batch", "seq"])],
                         [h.make_tensor_value_info("y", T.FLOAT, ["batch", "seq", E])], inits)

    def mask():
        m = np.ones((2, S), np.float32)
        m[1, 5:] = 0  # the second sequence is padded
        return m

    save(d, graph, {"x": lambda: f32(2, S, E), "mask": mask})


def mha_static(d):
    """The same attention block exported with fixed shapes: constant Reshape targets
    [B, S, H, D] and [B, S, H*D] instead of Shape/Gather/Concat, no mask, Mul by 1/sqrt(D)."""
    B, S, H, D = 2, 5, 2, 8
    E = H * D
    inits = [nh.from_array(np.array([B, S, H, D], np.int64), "split"),
             nh.from_array(np.array([B, S, E], np.int64), "merge"),
             nh.from_array(np.array(1 / np.sqrt(D), np.float32), "inv_sqrt_d")]
    nodes = []
    for p, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        inits.append(nh.from_array(f32(E, E, scale=0.3), "W" + p))
        nodes += [h.make_node("MatMul", ["x", "W" + p], [p], name=p + "_proj"),
                  h.make_node("Reshape", [p, "split"], [p + "_split"], name=p + "_split"),
                  h.make_node("Transpose", [p + "_split"], [p + "_heads"], perm=perm, name=p + "_heads")]
    nodes += [
        h.make_node("MatMul", ["q_heads", "k_heads"], ["scores"], name="scores"),
        h.make_node("Mul", ["scores", "inv_sqrt_d"], ["scaled"], name="scale"),
        h.make_node("Softmax", ["scaled"], ["probs"], axis=-1, name="softmax"),
        h.make_node("MatMul", ["probs", "v_heads"], ["ctx"], name="context"),
        h.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3], name="merge_t"),
        h.make_node("Reshape", ["ctx_t", "merge"], ["y"], name="merge"),
    ]
    graph = h.make_graph(nodes, "mha_static", [h.make_tensor_value_info("x", T.FLOAT, [B, S, E])],
                         [h.make_tensor_value_info("y", T.FLOAT, [B, S, E])], inits)
    save(d, graph, {"x": lambda: f32(B, S, E)})


def deep(d):
    """Mixed precision test model: four residual blocks h += 0.1 * W_b tanh(W_a h) (their
    quantization errors are damped ten times: INT4 is fine there) and an output projection that
    sees the whole error (it needs INT8)."""
    E, H, N = 64, 128, 32
    nodes, inits, cur = [], [nh.from_array(np.array(0.1, np.float32), "damp")], "x"
    for i in range(4):
        wa, wb = f32(E, H, scale=1.0 / np.sqrt(E)), f32(H, E, scale=1.0 / np.sqrt(H))
        inits += [nh.from_array(wa, "Wa%d" % i), nh.from_array(wb, "Wb%d" % i)]
        nodes += [h.make_node("MatMul", [cur, "Wa%d" % i], ["u%d" % i], name="block%d_up" % i),
                  h.make_node("Tanh", ["u%d" % i], ["t%d" % i], name="block%d_tanh" % i),
                  h.make_node("MatMul", ["t%d" % i, "Wb%d" % i], ["v%d" % i], name="block%d_down" % i),
                  h.make_node("Mul", ["v%d" % i, "damp"], ["s%d" % i], name="block%d_damp" % i),
                  h.make_node("Add", [cur, "s%d" % i], ["h%d" % i], name="block%d_residual" % i)]
        cur = "h%d" % i
    inits.append(nh.from_array(f32(E, N, scale=1.0 / np.sqrt(E)), "Wout"))
    nodes.append(h.make_node("MatMul", [cur, "Wout"], ["y"], name="out_proj"))
    graph = h.make_graph(nodes, "deep", [h.make_tensor_value_info("x", T.FLOAT, ["batch", E])],
                         [h.make_tensor_value_info("y", T.FLOAT, ["batch", N])], inits)
    save(d, graph, {"x": lambda: f32(8, E)}, n_calib=16)


def gemm_ln(d):
    """Gemm forms that lower to Transpose/MatMul/Mul/Add (transA=1, run-time B with transB=1,
    alpha/beta, run-time [M, N] C; constant B with transA=1) and a LayerNormalization whose
    Mean / InvStdDev outputs nobody reads."""
    M, K, N = 3, 5, 4
    g, be, Wc = f32(N, scale=0.2) + 1, f32(N, scale=0.1), f32(K, N, scale=0.5)
    nodes = [
        h.make_node("Gemm", ["a", "b", "c"], ["g1"], transA=1, transB=1, alpha=0.7, beta=1.3, name="gemm_runtime"),
        h.make_node("Gemm", ["a", "Wc"], ["g2"], transA=1, name="gemm_const"),
        h.make_node("Add", ["g1", "g2"], ["s"], name="sum"),
        h.make_node("LayerNormalization", ["s", "g", "be"], ["y", "mean", "inv_std"], axis=-1, epsilon=1e-5, name="ln"),
    ]
    inits = [nh.from_array(v, n) for n, v in [("g", g), ("be", be), ("Wc", Wc)]]
    graph = h.make_graph(nodes, "gemm_ln",
                         [h.make_tensor_value_info("a", T.FLOAT, [K, M]), h.make_tensor_value_info("b", T.FLOAT, [N, K]),
                          h.make_tensor_value_info("c", T.FLOAT, [M, N])],
                         [h.make_tensor_value_info("y", T.FLOAT, [M, N])], inits)
    save(d, graph, {"a": lambda: f32(K, M), "b": lambda: f32(N, K), "c": lambda: f32(M, N)}, n_calib=2)


def qdq(d):
    K, N = 32, 16
    Wq = rng.integers(-127, 128, size=(K, N), dtype=np.int8)
    ws = (np.abs(f32(N)) * 0.01 + 0.002).astype(np.float32)
    nodes = [
        h.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q_x"),
        h.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq_x"),
        h.make_node("DequantizeLinear", ["Wq", "ws", "wz"], ["W"], axis=1, name="dq_w"),
        h.make_node("MatMul", ["xd", "W"], ["y"], name="fc"),
    ]
    inits = [nh.from_array(Wq, "Wq"), nh.from_array(ws, "ws"), nh.from_array(np.zeros(N, np.int8), "wz"),
             nh.from_array(np.array(0.02, np.float32), "xs"), nh.from_array(np.array(128, np.uint8), "xz")]
    graph = h.make_graph(nodes, "qdq", [h.make_tensor_value_info("x", T.FLOAT, [3, K])],
                         [h.make_tensor_value_info("y", T.FLOAT, [3, N])], inits)
    save(d, graph, {"x": lambda: f32(3, K)}, opset=13)


if __name__ == "__main__":
    out = sys.argv[1]
    for name, fn in [("mlp", mlp), ("cnn", cnn), ("attention", attention), ("mha", mha), ("mha_static", mha_static), ("qdq", qdq), ("deep", deep), ("gemm_ln", gemm_ln)]:
        fn(os.path.join(out, name))
