// Runs a model on ONNX Runtime (npm onnxruntime-node, CPU) with float32 inputs read from raw
// little-endian files and writes each output as raw float32: the ORT side of nbits_vs_ort.py.
//   node ort_run.mjs MODEL OUTDIR NAME:DIMS:FILE...
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const [modelPath, outDir, ...specs] = process.argv.slice(2);
const modules =
  process.env.ORT_NODE_MODULES || join(process.env.HONE_PEERS || join(homedir(), ".cache", "hone", "peers"), "node_modules");
const ort = createRequire(join(modules, "noop.js"))("onnxruntime-node");
const feeds = {};
for (const spec of specs) {
  const [name, dims, file] = spec.split(":");
  const buf = readFileSync(file);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  feeds[name] = new ort.Tensor("float32", Float32Array.from(data), dims.split("x").map(Number));
}
const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
const out = await session.run(feeds);
for (const [name, t] of Object.entries(out)) writeFileSync(join(outDir, name + ".f32"), Buffer.from(t.data.buffer));
