#!/usr/bin/python3
"""Reliability of `hone quantize` as a process (docs/cli.md "Files"):

  kill     SIGKILL at >= 50 seeded random moments spread over an uninterrupted run's duration: the
           input (and its external-data file) stays byte-identical; the output is absent, or the old
           file it was about to replace, or complete and byte-equal to an uninterrupted run's
           output; leftover temporaries are hidden "._NAME_.tmp-XXXXXX" files that no one can take
           for the output (reported, then removed).
  fulldisk RLIMIT_FSIZE (SIGXFSZ ignored, so write() fails with EFBIG) and, when running as root
           with mount allowed, a small tmpfs: a clear one-line error, a non-zero exit, no output and
           no temporary left, an existing output untouched, the input untouched.
  samepath an output path equal to the input, to a symlink or hard link to it, or to one of its external-data
           files is refused with exit 2 and the input is untouched.
  determinism  every mode gives byte-identical output with --threads 1 and --threads 2, twice; variants
           (per-channel, awq, gptq, --symmetric, int8 weight-only, each static calibration method) with --threads 1 and 2.
  swap     (--case swap) a kill placed exactly between the rename of the output's external-data file
           and the rename of the model file (an LD_PRELOAD shim, kill_after_data_rename.c), while
           replacing an older output: the old (model, data) pair must survive, not old model + new data.

Exit 77 (skipped) when the hone binary has no `quantize` command.
usage: reliability_test.py --hone PATH [--kills N] [--seed N] [--modes a,b] [--case all|swap]
"""
import argparse
import glob
import hashlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

failures = []
notes = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def mlp(path, layers=4, n=512, external=False, seed=0):
    """A `layers`-deep MLP of n x n MatMul + Add + Relu: about layers * n * n * 4 bytes of weights."""
    rng = np.random.default_rng(seed)
    nodes, inits, x = [], [], "X"
    for i in range(layers):
        w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
        b = rng.uniform(-0.1, 0.1, n).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"B{i}")]
        nodes.append(helper.make_node("MatMul", [x, f"W{i}"], [f"mm{i}"], name=f"fc{i}"))
        last = i == layers - 1
        nodes.append(helper.make_node("Add", [f"mm{i}", f"B{i}"], ["Y" if last else f"z{i}"], name=f"bias{i}"))
        if not last:
            nodes.append(helper.make_node("Relu", [f"z{i}"], [f"a{i}"], name=f"relu{i}"))
            x = f"a{i}"
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", n])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", n])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="reliability_test")
    m.ir_version = 8
    if external:
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data", size_threshold=1024)
    else:
        onnx.save_model(m, path)


def input_files(model):
    """The model file and its external-data files."""
    m = onnx.load(model, load_external_data=False)
    files = {model}
    for t in m.graph.initializer:
        for kv in t.external_data:
            if kv.key == "location":
                files.add(os.path.join(os.path.dirname(model), kv.value))
    return sorted(files)


def hashes(files):
    return {f: sha(f) for f in files}


def data_files_of(out):
    """The external-data files the output model at `out` reads (hone names them after their content:
    "<model>.<16 hex>.data"); [] when the model is absent or has none."""
    if not os.path.exists(out):
        return []
    try:
        return [f for f in input_files(out) if f != out]
    except Exception:  # a model that does not parse has no data files we could name
        return []


def content_data_files(out):
    """Every file in out's folder that hone's writer would name as out's external data."""
    return sorted(glob.glob(glob.escape(out) + ".????????????????.data"))


def output_files(out):
    """The output model and, when it has one, the external-data files it reads."""
    return ([out] if os.path.exists(out) else []) + data_files_of(out)


def remove_outputs(out):
    for f in set(output_files(out) + content_data_files(out)):
        os.remove(f)


class Quantize:
    def __init__(self, hone, calib):
        self.hone, self.calib = hone, calib

    # A variant is "mode[/option]...": pc = --per-channel, awq / gptq = --algo awq / gptq, int8 =
    # --bits 8, sym = --symmetric, and a static calibration method by name (percentile, entropy, mse).
    OPTIONS = {"pc": ["--per-channel"], "awq": ["--algo", "awq"], "gptq": ["--algo", "gptq"], "int8": ["--bits", "8"],
               "sym": ["--symmetric"],
               "percentile": ["--method", "percentile"], "entropy": ["--method", "entropy"], "mse": ["--method", "mse"]}

    def args(self, model, out, variant, threads):
        mode, *opts = variant.split("/")
        a = [self.hone, "quantize", model, "-o", out, "--mode", mode, "--threads", str(threads)]
        for o in opts:
            a += self.OPTIONS[o]
        if mode == "static" or "awq" in opts or "gptq" in opts:
            a += ["--calib", self.calib]
        return a

    def run(self, model, out, mode, threads=1, **kw):
        return subprocess.run(self.args(model, out, mode, threads), capture_output=True, text=True, timeout=120, **kw)


def one_line(r, what):
    lines = r.stderr.strip().splitlines()
    check(len(lines) == 1 and lines[0].startswith("hone: quantize: "), f"{what}: stderr should be one line: {r.stderr!r}")


def leftovers(folder, known):
    return sorted(set(os.listdir(folder)) - set(known))


def temp_like(name, outputs):
    """A leftover nobody can take for an output: hidden, marked .tmp-, not ending in .onnx/.data."""
    return name.startswith(".") and ".tmp-" in name and not name.endswith((".onnx", ".data")) and name not in outputs


def determinism(q, d, model, modes):
    """Each mode 4 times (--threads 1, 2, 1, 2); variants of a mode (mode/option) twice (1, 2)."""
    outs = {}
    for mode in modes:
        got = []
        runs = (1, 2, 1, 2) if "/" not in mode else (1, 2)
        for threads in runs:
            out = os.path.join(d, f"det_{mode.replace('/', '_')}_{threads}_{len(got)}.onnx")
            r = q.run(model, out, mode, threads)
            if not check(r.returncode == 0, f"determinism {mode} --threads {threads}: exit {r.returncode}: {r.stderr}"):
                break
            got.append(b"".join(read(f) for f in output_files(out)))
            outs[mode] = out
        same = len(got) == len(runs) and all(g == got[0] for g in got)
        check(same, f"determinism {mode}: outputs differ between --threads 1/2 runs ({[hashlib.sha256(g).hexdigest()[:12] for g in got]})")
        print(f"determinism {mode}: {len(runs)} runs (--threads {', '.join(map(str, runs))}) byte-identical: {same}")
    return outs


def snapshot(out):
    """(model bytes or None, bytes of the external data it reads or None) of an output path. When the
    model is absent, the second item is the bytes of any orphan data file a killed run left."""
    model = read(out) if os.path.exists(out) else None
    files = data_files_of(out) if model is not None else content_data_files(out)
    data = b"".join(read(f) for f in files if os.path.exists(f)) if files else None
    return model, data


def save_files(out):
    """{path: bytes} of the output and its data files, to put back later."""
    return {f: read(f) for f in output_files(out)}


def kill_test(q, d, models, kills, seed):
    """SIGKILL `hone quantize --mode dynamic` at seeded random moments. Every other run replaces an
    existing output (a weight-only output of the same model at the same path, with its own external
    data when the model has some): afterwards the pair (model, data) must be the old pair or the
    new pair, never a mix."""
    rng = random.Random(seed)
    stats = {"killed": 0, "finished": 0, "absent": 0, "old": 0, "new": 0, "orphan_data": 0, "temps": set()}
    out = os.path.join(d, "kill_out.onnx")
    for model in models:
        ins = input_files(model)
        before = hashes(ins)
        # The old output, then the reference (an uninterrupted run, timed to spread the kills over it).
        check(q.run(model, out, "weight-only").returncode == 0, f"kill: weight-only run of {model}")
        old = snapshot(out)
        old_files = save_files(out)
        remove_outputs(out)
        # The shortest of 3 uninterrupted runs: on a loaded machine one slow run would otherwise
        # put most kill moments after the end of the next, faster runs.
        times = []
        for _ in range(3):
            remove_outputs(out)
            t0 = time.monotonic()
            r = q.run(model, out, "dynamic")
            times.append(time.monotonic() - t0)
            check(r.returncode == 0, f"kill: uninterrupted run of {model}: {r.stderr}")
        duration = min(times)
        print(f"kill: uninterrupted dynamic runs of {os.path.basename(model)}: {', '.join(f'{t:.3f}' for t in times)} s; "
              f"kills spread over 0 .. {duration:.3f} s")
        new = snapshot(out)
        check(new != old, "kill: the old and the new output should differ")
        remove_outputs(out)
        known = set(os.listdir(d))
        # Runs that finish before their kill moment still get every check but do not count: go on
        # (same seeded sequence of moments) until `kills / models` runs were really killed.
        want = kills // len(models) + (1 if models.index(model) < kills % len(models) else 0)
        killed_here, k = 0, -1
        while killed_here < want and k < 4 * want:
            k += 1
            replace = k % 2 == 1
            if replace:
                for f, b in old_files.items():
                    with open(f, "wb") as fh:
                        fh.write(b)
            delay = rng.uniform(0, duration)
            p = subprocess.Popen(q.args(model, out, "dynamic", 1), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                stats["killed"] += 1
                killed_here += 1
            else:
                stats["finished"] += 1
            p.wait()
            where = f"kill {k} of {os.path.basename(model)} at {delay:.3f}s ({'replacing' if replace else 'no'} old output)"
            check(hashes(ins) == before, f"{where}: the input changed")
            now = snapshot(out)
            if now == new:
                stats["new"] += 1
            elif replace and now == old:
                stats["old"] += 1
            elif not replace and now[0] is None:
                stats["absent"] += 1
                stats["orphan_data"] += now[1] is not None
            else:
                check(False, f"{where}: the output is neither {'the old one' if replace else 'absent'} nor complete "
                             f"(model {None if now[0] is None else len(now[0])} bytes, data "
                             f"{None if now[1] is None else len(now[1])} bytes; "
                             f"{'model old' if now[0] == old[0] else 'model new' if now[0] == new[0] else 'model other'}, "
                             f"{'data old' if now[1] == old[1] else 'data new' if now[1] == new[1] else 'data other'})")
            # Data files of the output (referenced, or orphans of a run killed before its model's rename,
            # named so that the next save removes them) are accounted for above.
            for name in leftovers(d, known | {os.path.basename(out)} | {os.path.basename(f) for f in content_data_files(out)}):
                check(temp_like(name, {os.path.basename(out)}), f"{where}: leftover {name!r} could be taken for an output")
                stats["temps"].add(name.split(".tmp-")[0] + ".tmp-XXXXXX" if ".tmp-" in name else name)
                os.remove(os.path.join(d, name))
            remove_outputs(out)
    return stats


def full_disk(q, d, model, ref_size):
    ins = input_files(model)
    before = hashes(ins)
    out = os.path.join(d, "full.onnx")
    limit = max(4096, ref_size // 4)

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    known = set(os.listdir(d))
    r = subprocess.run(q.args(model, out, "dynamic", 1), capture_output=True, text=True, timeout=120, preexec_fn=limited)
    check(r.returncode != 0, f"fulldisk (RLIMIT_FSIZE {limit}): exit 0 although the output cannot be written")
    check(r.returncode in (2, 3), f"fulldisk: exit {r.returncode} (want 2 or 3, never a signal)")
    one_line(r, "fulldisk")
    check(not os.path.exists(out), "fulldisk: a partial output file was left")
    check(leftovers(d, known) == [], f"fulldisk: files left behind: {leftovers(d, known)}")
    check(hashes(ins) == before, "fulldisk: the input changed")
    print(f"fulldisk RLIMIT_FSIZE={limit}: exit {r.returncode}: {r.stderr.strip()}")
    # Replacing an existing output when the disk fills: the old one stays as it was.
    with open(out, "wb") as f:
        f.write(b"old output")
    r = subprocess.run(q.args(model, out, "dynamic", 1), capture_output=True, text=True, timeout=120, preexec_fn=limited)
    check(r.returncode != 0 and read(out) == b"old output", "fulldisk: the existing output was not left untouched")
    os.remove(out)

    # A real full file system: a small tmpfs (root with mount rights only).
    mnt = os.path.join(d, "tmpfs")
    os.mkdir(mnt)
    size_kb = max(8, ref_size // 4 // 1024)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", mnt], capture_output=True, text=True) \
        if os.geteuid() == 0 and shutil.which("mount") else None
    if m is None or m.returncode != 0:
        notes.append("tmpfs full-disk case skipped (not root or mount not allowed): " + (m.stderr.strip() if m else "not root"))
        return
    try:
        out = os.path.join(mnt, "q.onnx")
        r = q.run(model, out, "dynamic")
        check(r.returncode in (2, 3), f"tmpfs {size_kb} KiB: exit {r.returncode} (want 2 or 3)")
        one_line(r, "tmpfs full")
        check(os.listdir(mnt) == [], f"tmpfs full: files left behind: {os.listdir(mnt)}")
        check(hashes(ins) == before, "tmpfs full: the input changed")
        print(f"fulldisk tmpfs {size_kb} KiB: exit {r.returncode}: {r.stderr.strip()}")
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


def same_path(q, d, inline, ext):
    for model in (inline, ext):
        ins = input_files(model)
        before = hashes(ins)
        link = os.path.join(d, "link_to_" + os.path.basename(model))
        os.symlink(model, link)
        hard = os.path.join(d, "hardlink_to_" + os.path.basename(model))
        os.link(model, hard)
        for target in ins + [link, hard]:
            r = q.run(model, target, "dynamic")
            check(r.returncode == 2, f"samepath: -o {os.path.basename(target)} for {os.path.basename(model)}: exit {r.returncode} (want 2)")
            one_line(r, f"samepath {os.path.basename(target)}")
            check(hashes(ins) == before, f"samepath: -o {os.path.basename(target)} changed the input")
        os.remove(link)
        os.remove(hard)
    # An output whose own ".data" companion would be the input's external-data file: b.onnx for an
    # input whose weights live in b.onnx.data. Either refused or written without touching that file.
    sub = os.path.join(d, "renamed")
    os.mkdir(sub)
    a = os.path.join(sub, "a.onnx")
    m = onnx.load(ext, load_external_data=True)
    onnx.save_model(m, a, save_as_external_data=True, all_tensors_to_one_file=True, location="b.onnx.data", size_threshold=1024)
    ins = input_files(a)
    before = hashes(ins)
    r = q.run(a, os.path.join(sub, "b.onnx"), "dynamic")
    check(r.returncode in (0, 2), f"samepath companion: exit {r.returncode}: {r.stderr}")
    check(hashes(ins) == before, "samepath companion: writing b.onnx changed the input's external data b.onnx.data")
    print(f"samepath: -o b.onnx for an input with data in b.onnx.data: exit {r.returncode} {r.stderr.strip()}")


def data_swap(q, d, ext, shim_src):
    """Deterministic kill between the external-data file's rename and the model file's rename,
    while replacing an older output that has its own external data (LD_PRELOAD shim)."""
    shim = os.path.join(d, "kill_after_data_rename.so")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or subprocess.run([cc, "-shared", "-fPIC", "-o", shim, shim_src, "-ldl"], capture_output=True).returncode:
        notes.append("data-swap case skipped: no C compiler to build the LD_PRELOAD shim")
        return
    out = os.path.join(d, "swap.onnx")
    check(q.run(ext, out, "weight-only").returncode == 0, "swap: weight-only run")
    old = snapshot(out)
    check(q.run(ext, out + ".new.onnx", "dynamic").returncode == 0, "swap: dynamic run")
    r = subprocess.run(q.args(ext, out, "dynamic", 1), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, LD_PRELOAD=shim))
    now = snapshot(out)
    print(f"swap: killed by the shim (exit {r.returncode}); model file {'old' if now[0] == old[0] else 'changed'}, "
          f"data file {'old' if now[1] == old[1] else 'changed'}")
    check(r.returncode == -signal.SIGKILL, f"swap: the shim did not kill hone (exit {r.returncode}): does it still write external data?")
    check(now == old or now[0] is None,
          "swap: killed between the data file's rename and the model's, the output is the OLD model file with the NEW "
          "data file: it loads and runs and computes garbage (src/onnx/export.cc save_model renames the .data first)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hone", required=True)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--modes", default="dynamic,dynamic/pc,weight-only,weight-only/sym,weight-only/int8,weight-only/awq,"
                                         "weight-only/gptq,weight-only/gptq/sym,"
                                         "static,static/pc,static/percentile,static/entropy,static/mse",
                    help="quantize variants checked for determinism (mode[/pc|awq|gptq|int8|sym|percentile|entropy|mse])")
    ap.add_argument("--case", choices=["all", "swap"], default="all",
                    help="all: kill/fulldisk/samepath/determinism; swap: the deterministic kill between two renames")
    a = ap.parse_args()
    h = subprocess.run([a.hone, "quantize", "--help"], capture_output=True, text=True)
    if h.returncode != 0:
        print("SKIP: this hone has no quantize command")
        return 77
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hone-reliability-") as d:
        inline, ext = os.path.join(d, "mlp.onnx"), os.path.join(d, "mlp_ext.onnx")
        mlp(inline)
        mlp(ext, external=True, seed=1)
        calib = os.path.join(d, "calib.npz")
        np.savez(calib, X=np.random.default_rng(3).uniform(-1, 1, (8, 512)).astype(np.float32))
        q = Quantize(a.hone, calib)
        modes = a.modes.split(",")
        if a.case == "swap":
            data_swap(q, d, ext, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kill_after_data_rename.c"))
            for n in notes:
                print("note:", n)
            if failures:
                return 1
            print("swap check passed")
            return 0

        outs = determinism(q, d, inline, modes)
        if "dynamic" not in outs:
            print("dynamic quantization failed; nothing else to test", file=sys.stderr)
            return 1
        for mode, out in outs.items():
            r = subprocess.run([a.hone, "inspect", out], capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, f"inspect of the {mode} output: {r.stderr}")
        stats = kill_test(q, d, [inline, ext], a.kills, a.seed)
        print(f"kill: {stats['killed']} killed mid-run, {stats['finished']} finished first; output afterwards: "
              f"{stats['absent']} absent ({stats['orphan_data']} of them with a complete .data file beside), "
              f"{stats['old']} old output intact, {stats['new']} complete; "
              f"temp names seen: {sorted(stats['temps']) or 'none'}")
        check(stats["killed"] >= a.kills, f"only {stats['killed']} of {a.kills} runs were killed mid-run")
        ref_size = os.path.getsize(outs["dynamic"])
        full_disk(q, d, inline, ref_size)
        same_path(q, d, inline, ext)
    for n in notes:
        print("note:", n)
    print(f"{time.monotonic() - start:.1f} s")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("reliability checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
