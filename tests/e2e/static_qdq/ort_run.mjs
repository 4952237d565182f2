// ONNX Runtime (npm onnxruntime-node, CPU) side of static_qdq_test.py: runs MODEL on one float32
// input read from a raw little-endian file and writes the first output as raw float32.
//   node ort_run.mjs MODEL NAME DIMS IN.f32 OUT.f32        DIMS like 64x1x8x8
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const [modelPath, name, dims, inFile, outFile] = process.argv.slice(2);
const modules =
  process.env.ORT_NODE_MODULES || join(process.env.HONE_PEERS || join(homedir(), ".cache", "hone", "peers"), "node_modules");
const ort = createRequire(join(modules, "noop.js"))("onnxruntime-node");
const buf = readFileSync(inFile);
const data = Float32Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
const out = await session.run({ [name]: new ort.Tensor("float32", data, dims.split("x").map(Number)) });
const y = out[session.outputNames[0]].data;
writeFileSync(outFile, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
