#!/usr/bin/env python3
"""ONNX backend node tests through edgert: convert each test's model.onnx with edgert_convert
(--quant none), run every test_data_set_N with edgert_run, compare with the expected outputs.

Per test it prints one line (PASS / FAIL / SKIP and why), then the final line
`N passed, N failed, N skipped`, and writes the per-op table to docs/ops.md (--ops-md).
Exit status is non-zero if any test that converted fails.

Skips: the converter refused the model (unsupported op, attribute or data type), or a graph
input/output uses a dtype edgert does not have (double, float16, strings, uint16/32/64, int16,
bfloat16, complex, sequences/optionals).

Tolerances follow ONNX's backend tests (rtol 1e-3) with atol 1e-5; see TOLERANCES below for the
few ops that need looser bounds and why.
"""
import argparse
import collections
import concurrent.futures as cf
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

# dtypes a .efb graph input/output may have (TensorProto enum values).
SUPPORTED_ELEM = {
    onnx.TensorProto.FLOAT: "f32", onnx.TensorProto.INT8: "i8", onnx.TensorProto.UINT8: "u8",
    onnx.TensorProto.INT32: "i32", onnx.TensorProto.INT64: "i64", onnx.TensorProto.BOOL: "bool",
}

RTOL, ATOL = 1e-3, 1e-5
# op -> (rtol, atol) where the default is too tight, with the reason.
TOLERANCES = {
    # float32 accumulation order differs from numpy's float64 reference (long reductions, GEMM).
    "Conv": (1e-3, 1e-4), "ConvTranspose": (1e-3, 1e-4), "Gemm": (1e-3, 1e-4), "MatMul": (1e-3, 1e-4),
    "Einsum": (1e-3, 1e-4),
}


def elem_name(t):
    try:
        return onnx.TensorProto.DataType.Name(t).lower()
    except ValueError:
        return str(t)


def value_info_dtype_problem(vi):
    tt = vi.type
    kind = tt.WhichOneof("value")
    if kind != "tensor_type":
        return f"{vi.name}: {kind} values are not supported"
    et = tt.tensor_type.elem_type
    if et not in SUPPORTED_ELEM:
        return f"{vi.name}: dtype {elem_name(et)} is not supported by edgert"
    return None


def test_op(model):
    ops = [n.op_type for n in model.graph.node]
    return ops[0] if len(ops) == 1 else None


def run_test(args):
    test_dir, convert_bin, run_bin = args
    name = os.path.basename(test_dir)
    model_path = os.path.join(test_dir, "model.onnx")
    try:
        model = onnx.load(model_path)
    except Exception as e:  # noqa: BLE001
        return name, None, "SKIP", f"cannot load model.onnx: {e}"
    op = test_op(model)
    init_names = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in init_names]
    for vi in list(graph_inputs) + list(model.graph.output):
        p = value_info_dtype_problem(vi)
        if p:
            return name, op, "SKIP", p
    work = tempfile.mkdtemp(prefix="edgert_conf_")
    try:
        status, reason = convert_and_compare(model, model_path, test_dir, work, convert_bin, run_bin, op, frozen=False)
        if status == "RETRY_FROZEN":
            status, reason = convert_and_compare(model, model_path, test_dir, work, convert_bin, run_bin, op, frozen=True)
            if status == "PASS":
                reason = "shape-like inputs frozen as constants"
            elif status == "RETRY_FROZEN":
                status = "FAIL"
        return name, op, status, reason
    except subprocess.TimeoutExpired:
        return name, op, "FAIL", "timeout"
    finally:
        shutil.rmtree(work, ignore_errors=True)


# The converter refused the model: an unsupported op / attribute / dtype / opset.
REFUSED = re.compile(r"unsupported|not supported|is supported with|too old|no ai\.onnx opset_import")
# edgert plans shapes before the run: shape-like inputs (Reshape shape, Slice starts, TopK k, ...)
# must be constants. ONNX tests often feed them as graph inputs; such tests are rerun with those
# inputs (integer tensors, float scalars / short vectors) frozen into initializers, which keeps
# the op semantics under test.
NEEDS_CONST = re.compile(r"known before the run|must be a constant")


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as fh:
        t.ParseFromString(fh.read())
    return t


def numbered(pattern):
    return sorted(glob.glob(pattern), key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))


def shape_like(t):
    """Integer tensors, and float scalars / short vectors (Resize scales and roi, Range bounds)."""
    if t.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32):
        return True
    n = 1
    for d in t.dims:
        n *= d
    return t.data_type == onnx.TensorProto.FLOAT and len(t.dims) <= 1 and n <= 16


def freeze_int_inputs(model, inputs):
    """A copy of `model` where shape-like graph inputs become initializers with the given values."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    init_names = {i.name for i in m.graph.initializer}
    keep, frozen = [], []
    graph_inputs = [i for i in m.graph.input if i.name not in init_names]
    for vi, t in zip(graph_inputs, inputs):
        if shape_like(t):
            c = onnx.TensorProto()
            c.CopyFrom(t)
            c.name = vi.name
            m.graph.initializer.append(c)
            frozen.append(vi.name)
        else:
            keep.append(vi.name)
    rest = [i for i in m.graph.input if i.name not in frozen]
    del m.graph.input[:]
    m.graph.input.extend(rest)
    return m, [n not in frozen for n in [vi.name for vi in graph_inputs]]


def convert(convert_bin, model_path, efb):
    r = subprocess.run([convert_bin, model_path, efb, "--quant", "none", "--no-progress"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        return None
    msg = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
    return msg.replace(model_path + ": ", "").replace("edgert_convert: error: ", "")


def convert_and_compare(model, model_path, test_dir, work, convert_bin, run_bin, op, frozen):
    sets = sorted(glob.glob(os.path.join(test_dir, "test_data_set_*")))
    if not sets:
        return "SKIP", "no test data"
    efb = os.path.join(work, "model.efb")
    if not frozen:
        msg = convert(convert_bin, model_path, efb)
        if msg is not None:
            if NEEDS_CONST.search(msg):
                return "RETRY_FROZEN", msg
            if REFUSED.search(msg):
                return "SKIP", f"converter: {msg}"
            return "FAIL", f"converter error: {msg}"
    out_names = [o.name for o in model.graph.output]
    for ds in sets:
        inputs = [read_pb(f) for f in numbered(os.path.join(ds, "input_*.pb"))]
        for k, t in enumerate(inputs):
            if t.data_type not in SUPPORTED_ELEM:
                return "SKIP", f"input {k}: dtype {elem_name(t.data_type)} is not supported by edgert"
        keep = [True] * len(inputs)
        if frozen:
            fm, keep = freeze_int_inputs(model, inputs)
            fpath = os.path.join(work, "frozen.onnx")
            onnx.save(fm, fpath)
            msg = convert(convert_bin, fpath, efb)
            if msg is not None:
                if REFUSED.search(msg):
                    return "SKIP", f"converter (shape-like inputs frozen): {msg}"
                return "FAIL", f"converter error (shape-like inputs frozen): {msg}"
        npys = []
        for k, t in enumerate(inputs):
            if not keep[k]:
                continue
            p = os.path.join(work, f"in{k}.npy")
            np.save(p, numpy_helper.to_array(t))
            npys.append(p)
        out_dir = os.path.join(work, "out_" + os.path.basename(ds) + ("_frozen" if frozen else ""))
        r = subprocess.run([run_bin, efb] + npys + ["--out", out_dir, "--threads", "1"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            msg = (r.stderr.strip().splitlines() or [f"(no message, exit status {r.returncode})"])[-1]
            msg = msg.replace(efb + ": ", "").replace("edgert_run: ", "")
            if not frozen and NEEDS_CONST.search(msg):
                return "RETRY_FROZEN", msg
            return "FAIL", f"edgert_run: {msg}"
        rtol, atol = TOLERANCES.get(op, (RTOL, ATOL))
        for k, f in enumerate(numbered(os.path.join(ds, "output_*.pb"))):
            want = numpy_helper.to_array(read_pb(f))
            oname = out_names[k] if k < len(out_names) else read_pb(f).name
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", oname) or "_"
            if safe in (".", ".."):
                safe = "_" + safe
            got_path = os.path.join(out_dir, safe + ".npy")
            if not os.path.exists(got_path):
                return "FAIL", f"output '{oname}' missing"
            got = np.load(got_path)
            where = f"output '{oname}' ({os.path.basename(ds)})"
            if got.shape != want.shape:
                return "FAIL", f"{where}: shape {got.shape}, expected {want.shape}"
            if want.dtype != got.dtype:
                return "FAIL", f"{where}: dtype {got.dtype}, expected {want.dtype}"
            if want.dtype.kind == "f":
                g64, w64 = got.astype(np.float64), want.astype(np.float64)
                nan_ok = np.array_equal(np.isnan(g64), np.isnan(w64))
                fin = ~np.isnan(w64)
                close = np.isclose(g64[fin], w64[fin], rtol=rtol, atol=atol)
                if not nan_ok or not close.all():
                    bad = int((~close).sum()) + (0 if nan_ok else 1)
                    diff = np.abs(g64[fin] - w64[fin])
                    md = float(np.nanmax(diff)) if diff.size else 0.0
                    return "FAIL", f"{where}: {bad} of {want.size} values off, max abs diff {md:.3g}"
            elif not np.array_equal(got, want):
                return "FAIL", f"{where}: {int((got != want).sum())} of {want.size} values differ"
    return "PASS", ""


def short_reason(reason):
    r = re.sub(r"^converter: ", "", reason)
    r = re.sub(r"node '[^']*' ", "", r)
    r = re.sub(r"^1 unsupported node: .*\((\w+), opset \d+\)$", r"unsupported op \1", r)
    r = re.sub(r"^\d+ unsupported nodes?: .*", "unsupported ops", r)
    r = re.sub(r"^[^:]*: dtype (\w+) is not supported by edgert", r"dtype \1", r)
    r = re.sub(r"'[^']*'", "''", r) if r.startswith("output") else r
    return r[:110]


def write_ops_md(path, results, seconds):
    # Expanded tests (function bodies) are listed under the op they expand.
    base_op = {}
    for name, op, _, _ in results:
        if op and not name.endswith("_expanded"):
            base_op[name] = op
    table = collections.OrderedDict()
    for name, op, status, reason in results:
        key = base_op.get(name[: -len("_expanded")]) if name.endswith("_expanded") else op
        if name.endswith("_expanded"):
            key = (key or "?") + " (expanded)"
        key = key or "(multi-node)"
        row = table.setdefault(key, {"PASS": 0, "FAIL": 0, "SKIP": 0, "notes": collections.Counter()})
        row[status] += 1
        if status == "PASS" and reason:
            row["notes"]["pass: " + reason] += 1
        elif status != "PASS":
            row["notes"][("fail: " if status == "FAIL" else "skip: ") + short_reason(reason)] += 1
    tp = sum(1 for r in results if r[2] == "PASS")
    tf = sum(1 for r in results if r[2] == "FAIL")
    ts = sum(1 for r in results if r[2] == "SKIP")
    lines = [
        "# ONNX operator conformance",
        "",
        "Generated by `tests/conformance/run_onnx_node_tests.py` (ctest: `onnx_node_conformance`) from the",
        "ONNX backend node tests of Debian's `libonnx-testdata`: each `model.onnx` is converted with",
        "`edgert_convert --quant none`, each `test_data_set_N` is run with `edgert_run`, and outputs are",
        f"compared with rtol {RTOL}, atol {ATOL} (Conv/ConvTranspose/Gemm/MatMul/Einsum: atol 1e-4, float32",
        "accumulation vs the float64 reference). Integer and bool outputs must match exactly.",
        "",
        "A test is *skipped* when the converter refuses the model (unsupported op, attribute or data",
        "type) or when a graph input/output has a dtype edgert does not have (double, float16, string,",
        "uint16/32/64, int16, bfloat16, sequences). Tests named `..._expanded` run the op's function body",
        "(other ops) and are listed as `Op (expanded)`.",
        "",
        "edgert plans shapes before the run, so shape-like inputs (Reshape/Expand/Tile shapes, Slice",
        "starts/ends, TopK k, Resize scales/sizes/roi, Pad pads, Range bounds, reduction axes) must be",
        "constants; a model that feeds them as graph inputs is refused with \"not known before the",
        "run\". Tests that do so are rerun with those inputs frozen into initializers (noted as",
        "`pass: shape-like inputs frozen as constants`), which keeps the op's semantics under test.",
        "",
        f"**Total: {tp} passed, {tf} failed, {ts} skipped** ({len(results)} tests).",
        "",
        "| op | passed | failed | skipped | notes |",
        "|---|---:|---:|---:|---|",
    ]
    for key in sorted(table, key=str.lower):
        row = table[key]
        notes = "; ".join(f"{n}" + (f" (x{c})" if c > 1 else "") for n, c in row["notes"].most_common(4))
        notes = notes.replace("|", "\\|")
        lines.append(f"| {key} | {row['PASS']} | {row['FAIL']} | {row['SKIP']} | {notes} |")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def find_data_dir():
    for cand in ["/usr/share/libonnx-testdata/data/node"]:
        if os.path.isdir(cand):
            return cand
    try:
        out = subprocess.run(["dpkg", "-L", "libonnx-testdata"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.endswith("/node"):
                return line
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--convert", required=True, help="edgert_convert binary")
    ap.add_argument("--run", required=True, help="edgert_run binary")
    ap.add_argument("--data", help="folder of test_* dirs (default: libonnx-testdata's node tests)")
    ap.add_argument("--filter", default="", help="regex on test names")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--ops-md", help="write the per-op table here (e.g. docs/ops.md)")
    ap.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    a = ap.parse_args()
    data = a.data or find_data_dir()
    if not data or not os.path.isdir(data):
        print("ONNX node test data not found (install libonnx-testdata)")
        print("0 passed, 0 failed, 0 skipped")
        return 0
    tests = sorted(d for d in glob.glob(os.path.join(data, "test_*")) if os.path.isdir(d))
    if a.filter:
        tests = [t for t in tests if re.search(a.filter, os.path.basename(t))]
    t0 = time.time()
    results = []
    with cf.ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        for res in ex.map(run_test, [(t, a.convert, a.run) for t in tests], chunksize=4):
            results.append(res)
            name, op, status, reason = res
            if status == "FAIL" or not a.quiet:
                print(f"{status} {name}" + (f": {reason}" if reason else ""), flush=True)
    secs = time.time() - t0
    if a.ops_md:
        write_ops_md(a.ops_md, results, secs)
    npass = sum(1 for r in results if r[2] == "PASS")
    nfail = sum(1 for r in results if r[2] == "FAIL")
    nskip = sum(1 for r in results if r[2] == "SKIP")
    print(f"{npass} passed, {nfail} failed, {nskip} skipped")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
