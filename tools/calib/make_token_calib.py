#!/usr/bin/python3
"""Writes an .npz of BERT-style token-id samples for `hone quantize --calib` (docs/calibration.md).

Each sample is [CLS] w1 ... wn [SEP] followed by [PAD] up to --seq: n is drawn between a quarter
and all of the sequence, and the word ids follow a Zipf-like law over the WordPiece range of the
uncased BERT vocabulary (ids 1996.. are whole words and pieces; 101/102/0 are CLS/SEP/PAD), so
activations look like those of real text rather than uniform noise. Fixed seed: the same file on
every run.

  /usr/bin/python3 tools/calib/make_token_calib.py -o calib.npz --samples 1000 --seq 128 --name input
"""
import argparse

import numpy as np

CLS, SEP, PAD = 101, 102, 0
FIRST_WORD = 1996


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--name", default="input", help="model input name (the npz key)")
    ap.add_argument("--mask", default="", help="also write an attention mask under this name")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.samples <= 0 or a.seq < 4 or a.vocab <= FIRST_WORD:
        ap.error("need --samples > 0, --seq >= 4 and --vocab > %d" % FIRST_WORD)
    rng = np.random.default_rng(a.seed)
    ids = np.full((a.samples, a.seq), PAD, dtype=np.int64)
    mask = np.zeros((a.samples, a.seq), dtype=np.int64)
    words = a.vocab - FIRST_WORD
    for s in range(a.samples):
        n = int(rng.integers(max(1, (a.seq - 2) // 4), a.seq - 1))
        # Zipf(1.2) ranks folded into the word range: frequent words are few, the tail is long.
        ranks = (rng.zipf(1.2, size=n) - 1) % words
        ids[s, 0] = CLS
        ids[s, 1:n + 1] = FIRST_WORD + ranks
        ids[s, n + 1] = SEP
        mask[s, :n + 2] = 1
    arrays = {a.name: ids}
    if a.mask:
        arrays[a.mask] = mask
    np.savez(a.output, **arrays)


if __name__ == "__main__":
    main()
