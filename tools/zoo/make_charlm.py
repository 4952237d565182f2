#!/usr/bin/python3
"""Trains hone's demo language model: a small character-level transformer on the fortune cookie
texts Debian's `fortunes` package ships (/usr/share/games/fortunes; nothing is downloaded), and
exports it to ONNX.

usage: /usr/bin/python3 tools/zoo/make_charlm.py [--steps N] [OUTDIR]   (default OUTDIR: models)

Writes
  OUTDIR/charlm.onnx        input `tokens` int64 [batch, 64], output `logits` float32 [batch, 64, 98];
                            opset 17. logits[:, t] predicts token t+1 from tokens 0..t (causal).
                            Every Linear layer is a MatMul with a constant weight initializer (so
                            hone's quantizers apply to it); the vocabulary is stored in the model's
                            metadata (`vocab`).
  OUTDIR/charlm_test.npz    the held-out split: `tokens` [N, 64] int64 (windows of held-out fortunes)
  OUTDIR/charlm_calib.npz   64 windows of the *training* split (`tokens`): calibration data for
                            static quantization and AWQ, so the test split is never seen while quantizing
and prints the test perplexity of the model and of a unigram model of the same corpus (character
frequencies of the training split, add-one smoothed), both over the same predicted positions
(tokens 1..63 of every test window).

Vocabulary (98): 0 = unknown, 1 = newline, 2 = tab, 3..97 = ASCII 32..126.
Fortunes are split (seeded shuffle) 95 % train / 5 % test before any window is cut, so no test
text is seen in training. Deterministic: fixed seeds, one thread.
"""
import argparse
import glob
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

SEED = 0
OPSET = 17
T = 64            # context length (fixed: the exported model's second input dim)
D = 128           # model width
HEADS = 4
LAYERS = 2
FF = 512
TEST_WINDOWS = 256
CALIB_WINDOWS = 64
CORPUS = "/usr/share/games/fortunes"
# ascii-art is pictures, not language.
SKIP = {"ascii-art", "art"}


def vocab_chars():
    return ["<unk>", "\n", "\t"] + [chr(c) for c in range(32, 127)]


def encode(text):
    table = np.zeros(128, np.int64)
    table[ord("\n")] = 1
    table[ord("\t")] = 2
    for c in range(32, 127):
        table[c] = c - 29
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    out = np.zeros(len(codes), np.int64)
    ascii_mask = codes < 128
    out[ascii_mask] = table[codes[ascii_mask]]
    return out


def read_fortunes():
    files = sorted(f for f in glob.glob(os.path.join(CORPUS, "*"))
                   if "." not in os.path.basename(f) and os.path.basename(f) not in SKIP
                   and os.path.isfile(f))
    if not files:
        sys.exit(f"make_charlm: error: no fortune files in {CORPUS}; apt-get install fortunes")
    fortunes = []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            for item in fh.read().split("\n%\n"):
                item = item.strip("\n%")
                if item.strip():
                    fortunes.append(item + "\n\n")
    return files, fortunes


class Block(nn.Module):
    """Pre-LN transformer block with causal self-attention. Linear layers on 3-D activations export
    as MatMul (+ Add) with constant weights; the reshapes use -1 for the batch and constants for
    the rest, so the graph needs no Shape arithmetic."""

    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.proj = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.fc1 = nn.Linear(D, FF)
        self.fc2 = nn.Linear(FF, D)
        self.act = nn.GELU()

    def forward(self, x, mask):
        h = self.ln1(x)
        dh = D // HEADS
        q = self.q(h).reshape(-1, T, HEADS, dh).transpose(1, 2)
        k = self.k(h).reshape(-1, T, HEADS, dh).transpose(1, 2)
        v = self.v(h).reshape(-1, T, HEADS, dh).transpose(1, 2)
        att = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(dh)) + mask
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(-1, T, D)
        x = x + self.proj(y)
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


class CharLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, D)
        self.pos = nn.Parameter(torch.zeros(1, T, D))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln = nn.LayerNorm(D)
        self.head = nn.Linear(D, vocab)
        # Additive causal mask: -1e4 (not -inf) above the diagonal, so softmax stays finite in any runtime.
        self.register_buffer("mask", torch.triu(torch.full((T, T), -1e4), diagonal=1))

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos
        for b in self.blocks:
            x = b(x, self.mask)
        return self.head(self.ln(x))


def windows(ids, n, rng=None):
    """n windows of T tokens: evenly spaced when rng is None, else at random offsets."""
    if rng is None:
        starts = np.arange(n) * T
    else:
        starts = rng.integers(0, len(ids) - T, n)
    return np.stack([ids[s:s + T] for s in starts])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("out", nargs="?", default="models")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # the build machine is shared
    rng = np.random.default_rng(SEED)

    files, fortunes = read_fortunes()
    order = rng.permutation(len(fortunes))
    n_test = len(fortunes) // 20
    test_text = "".join(fortunes[i] for i in order[:n_test])
    train_text = "".join(fortunes[i] for i in order[n_test:])
    train_ids, test_ids = encode(train_text), encode(test_text)
    vocab = len(vocab_chars())
    if len(test_ids) < TEST_WINDOWS * T:
        sys.exit("make_charlm: error: test split too small")
    test = windows(test_ids, TEST_WINDOWS)
    calib = windows(train_ids, CALIB_WINDOWS, np.random.default_rng(SEED + 1))

    # Unigram baseline over the same predicted positions as the model (tokens 1..T-1).
    counts = np.bincount(train_ids, minlength=vocab).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    unigram_ppl = float(np.exp(-logp[test[:, 1:]].mean()))

    model = CharLM(vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = 100
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    train_t = torch.from_numpy(train_ids)
    t0 = time.time()
    for step in range(args.steps):
        starts = torch.from_numpy(rng.integers(0, len(train_ids) - T - 1, 32))
        idx = starts[:, None] + torch.arange(T + 1)[None, :]
        batch = train_t[idx]
        logits = model(batch[:, :T])
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0:
            print(f"  step {step} loss {loss.item():.3f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(test))
        logp_m = torch.log_softmax(logits[:, :-1], dim=-1)
        nll = -logp_m.gather(2, torch.from_numpy(test[:, 1:, None])).mean().item()
    ppl = math.exp(nll)
    params = sum(p.numel() for p in model.parameters())
    print(f"charlm: {params} parameters, {args.steps} steps in {time.time() - t0:.0f} s; "
          f"corpus {len(files)} files, {len(fortunes)} fortunes, train {len(train_ids)} chars, "
          f"test {TEST_WINDOWS}x{T} tokens")
    print(f"charlm: fp32 test perplexity {ppl:.3f}; unigram {unigram_ppl:.3f}; "
          f"ratio {ppl / unigram_ppl:.3f}")
    if ppl > 0.6 * unigram_ppl:
        print("make_charlm: error: perplexity above 0.6x the unigram model's", file=sys.stderr)
        sys.exit(1)

    path = os.path.join(args.out, "charlm.onnx")
    torch.onnx.export(model, torch.from_numpy(test[:1]), path, opset_version=OPSET,
                      input_names=["tokens"], output_names=["logits"],
                      dynamic_axes={"tokens": {0: "batch"}, "logits": {0: "batch"}})
    import onnx
    m = onnx.load(path)
    meta = m.metadata_props.add()
    meta.key = "vocab"
    meta.value = "0=<unk> 1=\\n 2=\\t 3..97=ASCII 32..126"
    meta = m.metadata_props.add()
    meta.key = "fp32_test_perplexity"
    meta.value = f"{ppl:.4f}"
    onnx.checker.check_model(m)
    onnx.save(m, path)
    np.savez(os.path.join(args.out, "charlm_test.npz"), tokens=test)
    np.savez(os.path.join(args.out, "charlm_calib.npz"), tokens=calib)
    print(f"charlm: wrote {path} ({os.path.getsize(path)} bytes); "
          f"ops {sorted({n.op_type for n in m.graph.node})}")


if __name__ == "__main__":
    main()
