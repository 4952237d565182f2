// Times ONNX Runtime (npm onnxruntime-node, CPU) on one model, as a worker of bench/models/run.py.
//
//   node ort_bench.mjs MODEL THREADS INPUT...     INPUT = NAME:DTYPE:DIMS, e.g. input:float32:1x3x224x224
//
// Loads the model once, prints "ready", then answers each stdin line "ITERS WARMUP" with one JSON
// line {"times_ms": [...]} (one entry per timed run), so that the driver can interleave it with the
// other runtimes without paying the load again. Like `hone bench`, runs cycle through a few distinct
// random input sets (floats in [-1, 1), integers in [0, 10)). onnxruntime-node is looked up in
// $ORT_NODE_MODULES, else ${HONE_PEERS:-~/.cache/hone/peers}/node_modules (`make peers`).
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const INPUT_SETS = 4;

function fail(msg) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(2);
}

const [modelPath, threadsArg, ...inputSpecs] = process.argv.slice(2);
if (!modelPath || !threadsArg || inputSpecs.length === 0) fail("usage: node ort_bench.mjs MODEL THREADS NAME:DTYPE:DIMS...");
const threads = Number(threadsArg);

const modules =
  process.env.ORT_NODE_MODULES || join(process.env.HONE_PEERS || join(homedir(), ".cache", "hone", "peers"), "node_modules");
let ort;
try {
  ort = createRequire(join(modules, "noop.js"))("onnxruntime-node");
} catch (e) {
  fail(`cannot load onnxruntime-node from ${modules} (${e.message}); run \`make peers\``);
}

// Seeded, so that every run of the benchmark sees the same data (xorshift32).
let state = 0x9e3779b9;
function next() {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 4294967296;
}

function randomTensor(dtype, dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (dtype) {
    case "float32":
      return new ort.Tensor("float32", Float32Array.from({ length: n }, () => next() * 2 - 1), dims);
    case "int64":
      return new ort.Tensor("int64", BigInt64Array.from({ length: n }, () => BigInt(Math.floor(next() * 10))), dims);
    case "int32":
      return new ort.Tensor("int32", Int32Array.from({ length: n }, () => Math.floor(next() * 10)), dims);
    default:
      fail(`input dtype ${dtype} is not supported here`);
  }
}

const specs = inputSpecs.map((s) => {
  const [name, dtype, dims] = s.split(":");
  if (!name || !dtype || dims === undefined) fail(`bad input '${s}': expected NAME:DTYPE:DIMS`);
  return { name, dtype, dims: dims === "" ? [] : dims.split("x").map(Number) };
});
const pool = Array.from({ length: INPUT_SETS }, () =>
  Object.fromEntries(specs.map((s) => [s.name, randomTensor(s.dtype, s.dims)])),
);

const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all",
});
process.stdout.write("ready\n");

let set = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const [iters, warmup] = line.trim().split(/\s+/).map(Number);
  const times = [];
  for (let i = 0; i < warmup + iters; ++i) {
    const feeds = pool[set++ % pool.length];
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= warmup) times.push(ms);
  }
  process.stdout.write(JSON.stringify({ times_ms: times }) + "\n");
}
