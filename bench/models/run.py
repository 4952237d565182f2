#!/usr/bin/python3
"""hone against ONNX Runtime and PyTorch on every model of the zoo: median latency and ratios.

usage: /usr/bin/python3 bench/models/run.py [--hone PATH] [--zoo DIR] [--models A,B] [--threads N]
                                            [--rounds N] [--seconds S] [--out FILE.json]
       (`make bench` runs it with the build's hone; needs `make zoo` and `make peers`)

Per model, the runtimes take turns (round robin, the order rotating every round) so that the
machine's noise hits them alike: each round, each runtime runs about --seconds worth of timed runs
after one warmup run, and its median for the round is kept. A runtime's figure is the median of its
round medians. Batch 1 (symbolic dims = 1), --threads threads everywhere, fresh inputs every run
(each runtime cycles through a few distinct random input sets).

  hone         `hone bench MODEL --json` (a new process each round: it loads the model each time)
  ORT          ONNX Runtime 1.30 via node and npm onnxruntime-node (bench/models/ort_bench.mjs), all
               graph optimizations
  torch        PyTorch fp32 on the model rebuilt from tools/zoo/make_zoo.py (bench/models/torch_bench.py)
  torch int8   the same after torch's quantize_dynamic on nn.Linear (MLP and BERT models only)

Before each round, bench/core_link (built with the benchmarks) measures how far apart the two CPUs
are (a cache line's round trip between them); each round's log line and the JSON
(cpu_link_per_round) carry it. On a VM whose vCPUs the host moves between near and distant cores,
this tells which rounds ran in which state.

Only the Python standard library is used. A runtime that is missing is reported and left out.
"""
import argparse
import datetime
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
INT8_MODELS = {"mlp", "bert_mini", "bert_base"}
MAX_ITERS = 1000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Worker:
    """A peer process that loaded its model once and answers "ITERS WARMUP" with run times."""

    def __init__(self, label, cmd):
        self.label = label
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def wait_ready(self):
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"{self.label} did not start (exit {self.proc.returncode})")

    def times(self, iters, warmup):
        self.proc.stdin.write(f"{iters} {warmup}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.label} exited (code {self.proc.wait()})")
        return json.loads(line)["times_ms"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class HoneRunner:
    def __init__(self, hone, model_path, threads):
        self.label = "hone"
        self.cmd = [hone, "bench", model_path, "--threads", str(threads), "--json"]

    def median(self, iters, warmup):
        r = subprocess.run(self.cmd + ["--iters", str(iters), "--warmup", str(warmup)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"hone bench exited {r.returncode}: {r.stderr.strip()}")
        return json.loads(r.stdout)["median_ms"]


class WorkerRunner:
    def __init__(self, worker):
        self.label = worker.label
        self.worker = worker

    def median(self, iters, warmup):
        return statistics.median(self.worker.times(iters, warmup))


def input_specs(entry):
    """Manifest inputs -> [(name, dtype, dims)] with symbolic dims = 1 (batch 1)."""
    return [(i["name"], i["dtype"], [d if isinstance(d, int) else 1 for d in i["shape"]]) for i in entry["inputs"]]


def bench_model(entry, args, have_ort, have_torch):
    name = entry["name"]
    path = os.path.join(args.zoo, entry["file"])
    runners, workers, errors = [HoneRunner(args.hone, path, args.threads)], [], {}
    if have_ort:
        specs = [f"{n}:{dt}:{'x'.join(map(str, dims))}" for n, dt, dims in input_specs(entry)]
        workers.append(Worker("ort", ["node", os.path.join(HERE, "ort_bench.mjs"), path, str(args.threads), *specs]))
    if have_torch:
        torch_cmd = ["/usr/bin/python3", os.path.join(HERE, "torch_bench.py"), name, str(args.threads)]
        workers.append(Worker("torch", torch_cmd + ["fp32"]))
        if name in INT8_MODELS:
            workers.append(Worker("torch_int8", torch_cmd + ["int8"]))
    for w in workers:
        try:
            w.wait_ready()
            runners.append(WorkerRunner(w))
        except RuntimeError as e:
            errors[w.label] = str(e)
            log(f"  {e}")

    result = {"model": name}
    try:
        # Calibration: one warmup and one timed run each, to size every runtime's rounds.
        estimate = {}
        for r in list(runners):
            try:
                estimate[r.label] = max(r.median(1, 1), 1e-3)
            except RuntimeError as e:
                errors[r.label] = str(e)
                log(f"  {r.label}: {e}")
                runners.remove(r)
        rounds = {r.label: [] for r in runners}
        links = []
        for k in range(args.rounds):
            links.append(core_link(args.hone))
            order = runners[k % len(runners):] + runners[:k % len(runners)] if runners else []
            for r in order:
                if r.label in errors:
                    continue
                iters = min(MAX_ITERS, max(args.min_iters, math.ceil(args.seconds * 1000 / estimate[r.label])))
                try:
                    rounds[r.label].append(r.median(iters, 1))
                except RuntimeError as e:
                    errors[r.label] = str(e)
                    log(f"  {r.label}: {e}")
            log(f"  round {k + 1}/{args.rounds}: " +
                "  ".join(f"{lbl} {v[-1]:.3f} ms" for lbl, v in rounds.items() if v and lbl not in errors) +
                link_note(links[-1]))
        for lbl, v in rounds.items():
            if v and lbl not in errors:
                result[lbl] = {"median_ms": statistics.median(v), "round_medians_ms": v}
        result["cpu_link_per_round"] = links
    finally:
        for w in workers:
            w.close()
    for lbl, e in errors.items():
        result[lbl] = {"error": e}
    return result


def core_link(hone):
    """bench/core_link's measure of how far apart the first two CPUs are now ({"roundtrip_ns": ..,
    "remote_read_us_per_mib": ..}), or None where it is not built. Looked for beside the hone
    binary's build (bench/core_link), then in this checkout's build/."""
    for path in (os.path.join(os.path.dirname(os.path.abspath(hone)), "bench", "core_link"),
                 os.path.join(ROOT, "build", "bench", "core_link")):
        if os.access(path, os.X_OK):
            try:
                r = subprocess.run([path], capture_output=True, text=True, timeout=120)
                return json.loads(r.stdout) if r.returncode == 0 else None
            except (subprocess.TimeoutExpired, ValueError):
                return None
    return None


def link_note(link):
    return f"  [CPU link {link['roundtrip_ns']:.0f} ns]" if link and link.get("roundtrip_ns") is not None else ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def fmt_ms(r, key):
    v = r.get(key, {}).get("median_ms")
    return "n/a" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.1f}")


def fmt_ratio(r, a, b):
    x, y = r.get(a, {}).get("median_ms"), r.get(b, {}).get("median_ms")
    return "n/a" if x is None or y is None else f"{x / y:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hone", default=os.environ.get("HONE", os.path.join(ROOT, "build", "hone")))
    ap.add_argument("--zoo", default=os.environ.get("HONE_ZOO", os.path.expanduser("~/.cache/hone/zoo")))
    ap.add_argument("--models", help="comma-separated zoo model names (default: every model in the manifest)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per runtime per round (about)")
    ap.add_argument("--min-iters", type=int, default=2, help="timed runs per runtime per round, at least")
    ap.add_argument("--out", help="JSON results (default: bench_models.json beside the hone binary)")
    args = ap.parse_args()

    if not os.access(args.hone, os.X_OK):
        log(f"bench: no hone binary at {args.hone} (build first, or pass --hone)")
        return 2
    manifest_path = os.path.join(args.zoo, "manifest.json")
    try:
        with open(manifest_path) as f:
            entries = json.load(f)["models"]
    except (OSError, ValueError, KeyError) as e:
        log(f"bench: cannot read the zoo's manifest {manifest_path} ({e}); run `make zoo`")
        return 2
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = sorted(set(wanted) - {e["name"] for e in entries})
        if unknown:
            log(f"bench: not in the zoo: {', '.join(unknown)}")
            return 2
        entries = [e for e in entries if e["name"] in wanted]

    have_ort = shutil.which("node") is not None
    if not have_ort:
        log("bench: node not found: ONNX Runtime left out (`make peers`)")
    have_torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
    if not have_torch:
        log("bench: /usr/bin/python3 cannot import torch: PyTorch left out (`make peers`)")
    version = subprocess.run([args.hone, "--version"], capture_output=True, text=True).stdout.splitlines()
    load_before = os.getloadavg()

    results = []
    for e in entries:
        log(f"bench: {e['name']}")
        results.append(bench_model(e, args, have_ort, have_torch))

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "threads": args.threads,
        "batch": 1,
        "rounds": args.rounds,
        "hone_version": version[0] if version else "unknown",
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "models": results,
    }
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.hone)), "bench_models.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    print(f"{report['date']}  {report['cpu']}  {args.threads} threads, batch 1, median of {args.rounds} round medians (ms)")
    print(f"{report['hone_version']}")
    header = ["model", "hone", "ORT", "torch", "torch int8", "hone/ORT", "hone/torch"]
    rows = [[r["model"], fmt_ms(r, "hone"), fmt_ms(r, "ort"), fmt_ms(r, "torch"), fmt_ms(r, "torch_int8"),
             fmt_ratio(r, "hone", "ort"), fmt_ratio(r, "hone", "torch")] for r in results]
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    for r in results:
        for lbl in ("hone", "ort", "torch", "torch_int8"):
            if "error" in r.get(lbl, {}):
                print(f"{r['model']}: {lbl}: {r[lbl]['error']}")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
