// Body of the fused attention kernel, included once per ISA by attention_avx2.cc and
// attention_avx512.cc inside a namespace that defines `Ops` (vector type V, kLanes, load/store,
// load_tail/store_tail/blend_tail, set1, add, sub, mul, max, fmadd, round, hsum, hmax,
// transpose_block, scale_pow2 and kExp2Floor), kTileRows and kTileVectors. Not a standalone header.
//
// Per (batch, head): K is transposed once (zero-padded to kv_cols keys, in panels), so that a tile
// of kRows query rows times kTileVectors vectors of keys is a rank-1 update per d (broadcast
// q[i, d], FMA with a vector of K^T). The tile's epilogue scales and masks the scores in registers
// and keeps each row's max; they land in a [kRows][kv_cols] buffer that stays in L1, where one pass
// per row turns them into unnormalized weights 2^(s - max) and their sum. Then out rows are
// accumulated as rank-1 updates p[i, j] * v[j, :] reading V's rows in place (or from a zero-padded
// copy when v_head_dim is not a whole number of tiles) and multiplied by 1 / sum on the way out.
// Before (scale in the tile, then separate mask, max, exp and normalize passes through
// f32_softmax), BERT-base's 12 heads with a padding mask spent 20 % of the kernel's samples in the
// softmax and 3.5 % in the mask pass.
//
// The scores are kept in base 2 (log2(e) folded into the scale and the mask), so the exponential
// is exp2_ps: softmax(x) is the same as 2^(x log2 e) normalized.

inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr int kRows = kTileRows;
static_assert(kRows <= kAttentionTileRows, "the scores buffer holds kAttentionTileRows rows");
inline constexpr int64_t kTileCols = kTileVectors * Ops::kLanes;

// K transposed in panels of kTileCols keys: key j's element d is kt[kt_index(j, d, dim)], so the
// [dim][kTileCols] panel one scores tile reads is contiguous. 1-2 % faster than one [dim][kv_cols]
// matrix on BERT-base's heads (one 16 KiB stream per tile instead of 256 of every 512 bytes).
inline int64_t kt_index(int64_t j, int64_t d, int64_t dim) {
  return j / kTileCols * dim * kTileCols + d * kTileCols + j % kTileCols;
}

// kt = K transposed for j < kv_len, 0 up to kv_cols. Whole kLanes x kLanes blocks go through
// registers (Ops::transpose_block); an element-by-element loop here cost as much as a sixth of
// the kernel (BERT-base: 64 x 128 floats per head, strided reads), the edges still go that way.
inline void pack_k_transposed(const float* k, int64_t k_row, int64_t kv_len, int64_t dim, int64_t kv_cols, float* kt) {
  constexpr int64_t L = Ops::kLanes;
  for (int64_t j = kv_len; j < kv_cols; ++j)
    for (int64_t d = 0; d < dim; ++d) kt[kt_index(j, d, dim)] = 0.0f;
  const int64_t whole_keys = kv_len / L * L, whole_dims = dim / L * L;
  for (int64_t j0 = 0; j0 < whole_keys; j0 += L) {
    const float* kj = k + j0 * k_row;
    for (int64_t d0 = 0; d0 < whole_dims; d0 += L)
      Ops::transpose_block(kj + d0, k_row, kt + kt_index(j0, d0, dim), kTileCols);
  }
  for (int64_t j = 0; j < kv_len; ++j) {
    const float* kj = k + j * k_row;
    for (int64_t d = j < whole_keys ? whole_dims : 0; d < dim; ++d) kt[kt_index(j, d, dim)] = kj[d];
  }
}

// vp[j][0, v_cols) = v[j][0, dim) zero-padded.
inline void pack_v_padded(const float* v, int64_t v_row, int64_t kv_len, int64_t dim, int64_t v_cols, float* vp) {
  for (int64_t j = 0; j < kv_len; ++j) {
    std::copy(v + j * v_row, v + j * v_row + dim, vp + j * v_cols);
    std::fill(vp + j * v_cols + dim, vp + (j + 1) * v_cols, 0.0f);
  }
}

// log2(e) * mask[col, col + kLanes) of one row (0 without a mask), with -inf in the lanes at or past
// kv_len: padded keys then neither raise the row's max nor weigh in its sum.
inline Ops::V score_bias(const float* mask, int64_t col, int64_t kv_len) {
  using O = Ops;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  if (col + O::kLanes <= kv_len) return mask ? O::mul(O::load(mask + col), O::set1(kLog2e)) : O::set1(0.0f);
  if (col >= kv_len) return O::set1(neg_inf);
  alignas(64) static constexpr float kZeros[O::kLanes] = {};
  return mask ? O::mul(O::load_tail(mask + col, kv_len - col, neg_inf), O::set1(kLog2e))
              : O::load_tail(kZeros, kv_len - col, neg_inf);
}

// s[r][j] = log2(e) * (scale * (q[r] . kt[:, j]) + mask[r][j]) for R rows and the columns of the
// tiles that hold keys (the scores in base 2, for exp2_ps; -inf past kv_len), and
// row_max[r] = max_j s[r][j]. The scale,
// the mask and the max are applied while the accumulators are still in registers: no extra passes
// over the scores.
template <int R>
inline void scores_tile(const float* q, int64_t q_row, const float* kt, int64_t kv_cols, int64_t kv_len, int64_t dim,
                        float scale, const float* mask, int64_t mask_row, float* s, float* row_max) {
  using O = Ops;
  const O::V vscale = O::set1(scale * kLog2e);
  O::V vmax[R];
  for (int r = 0; r < R; ++r) vmax[r] = O::set1(-std::numeric_limits<float>::infinity());
  for (int64_t c0 = 0; c0 < kv_len; c0 += kTileCols) {  // tiles wholly past kv_len are never read
    O::V acc[R][kTileVectors];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < kTileVectors; ++t) acc[r][t] = O::set1(0.0f);
    const float* kc = kt + c0 * dim;  // the panel of keys [c0, c0 + kTileCols)
    for (int64_t d = 0; d < dim; ++d) {
      O::V kv[kTileVectors];
      for (int t = 0; t < kTileVectors; ++t) kv[t] = O::load(kc + d * kTileCols + t * O::kLanes);
      for (int r = 0; r < R; ++r) {
        const O::V qb = O::set1(q[r * q_row + d]);
        for (int t = 0; t < kTileVectors; ++t) acc[r][t] = O::fmadd(qb, kv[t], acc[r][t]);
      }
    }
    // Straight-line epilogues: the bias vectors once per column when all rows share them.
    if (!mask || mask_row == 0) {  // one bias vector per column for all rows (none, or a padding mask)
      O::V bias[kTileVectors];
      for (int t = 0; t < kTileVectors; ++t) bias[t] = score_bias(mask, c0 + t * O::kLanes, kv_len);
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < kTileVectors; ++t) acc[r][t] = O::fmadd(acc[r][t], vscale, bias[t]);
    } else {
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < kTileVectors; ++t)
          acc[r][t] = O::fmadd(acc[r][t], vscale, score_bias(mask + r * mask_row, c0 + t * O::kLanes, kv_len));
    }
    for (int r = 0; r < R; ++r) {
      O::V m = acc[r][0];
      O::store(s + r * kv_cols + c0, acc[r][0]);
      for (int t = 1; t < kTileVectors; ++t) {
        O::store(s + r * kv_cols + c0 + t * O::kLanes, acc[r][t]);
        m = O::max(m, acc[r][t]);
      }
      vmax[r] = O::max(vmax[r], m);
    }
  }
  for (int r = 0; r < R; ++r) row_max[r] = O::hmax(vmax[r]);
}

// 2^x per lane for x <= 0 (a base-2 score minus its row's max): x = n + f with n integral and
// |f| <= 1/2, 2^f by a degree-6 polynomial fitted for relative error (2e-9 in exact arithmetic,
// ~1.2 ulp evaluated in float; constant term 1, so the row's max weighs exactly 1), times 2^n by
// Ops::scale_pow2. Cheaper than exp_ps's natural-base reduction: no multiply by log2(e) (folded
// into the scores' scale) and no two-part ln 2. x is floored at Ops::kExp2Floor (the weight of a
// masked key: exactly 0 on both AVX-512 and AVX2); a NaN stays NaN (max returns its second
// operand when either is NaN).
inline Ops::V exp2_ps(Ops::V x) {
  using O = Ops;
  x = O::max(O::set1(O::kExp2Floor), x);
  const O::V n = O::round(x);
  const O::V f = O::sub(x, n);
  O::V p = O::set1(1.5353350318036973e-4f);
  p = O::fmadd(p, f, O::set1(1.3398875016719103e-3f));
  p = O::fmadd(p, f, O::set1(9.618437848985195e-3f));
  p = O::fmadd(p, f, O::set1(5.5503323674201965e-2f));
  p = O::fmadd(p, f, O::set1(2.4022647738456726e-1f));
  p = O::fmadd(p, f, O::set1(6.931471824645996e-1f));
  p = O::fmadd(p, f, O::set1(1.0f));
  return O::scale_pow2(p, n);
}

// s[j] = 2^(s[j] - max) for j < n, in place (whole vectors up to the padded width are written);
// returns the sum of the first n. The division by the sum is left to weighted_sum_tile.
inline float exp2_row(float* s, int64_t n, float max) {
  using O = Ops;
  const O::V vmax = O::set1(max);
  O::V sum0 = O::set1(0.0f), sum1 = sum0;
  int64_t j = 0;
  for (; j + 2 * O::kLanes <= n; j += 2 * O::kLanes) {
    const O::V e0 = exp2_ps(O::sub(O::load(s + j), vmax)), e1 = exp2_ps(O::sub(O::load(s + j + O::kLanes), vmax));
    O::store(s + j, e0);
    O::store(s + j + O::kLanes, e1);
    sum0 = O::add(sum0, e0);
    sum1 = O::add(sum1, e1);
  }
  for (; j < n; j += O::kLanes) {
    const O::V e = exp2_ps(O::sub(O::load(s + j), vmax));
    O::store(s + j, e);
    sum0 = O::add(sum0, j + O::kLanes <= n ? e : O::blend_tail(e, n - j));
  }
  return O::hsum(O::add(sum0, sum1));
}

// out[r][0, dim) = inv_sum[r] * sum_j p[r][j] * v[j][0, dim) for R rows; v rows have at least
// ceil(dim / kTileCols) * kTileCols readable floats.
template <int R>
inline void weighted_sum_tile(const float* p, int64_t p_row, int64_t kv_len, const float* inv_sum, const float* v,
                              int64_t v_row, int64_t dim, float* out, int64_t out_row) {
  using O = Ops;
  for (int64_t c0 = 0; c0 < dim; c0 += kTileCols) {
    O::V acc[R][kTileVectors];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < kTileVectors; ++t) acc[r][t] = O::set1(0.0f);
    const float* vc = v + c0;
    for (int64_t j = 0; j < kv_len; ++j) {
      O::V vv[kTileVectors];
      for (int t = 0; t < kTileVectors; ++t) vv[t] = O::load(vc + j * v_row + t * O::kLanes);
      for (int r = 0; r < R; ++r) {
        const O::V pb = O::set1(p[r * p_row + j]);
        for (int t = 0; t < kTileVectors; ++t) acc[r][t] = O::fmadd(pb, vv[t], acc[r][t]);
      }
    }
    for (int r = 0; r < R; ++r) {
      const O::V scale = O::set1(inv_sum[r]);
      for (int t = 0; t < kTileVectors; ++t) {
        const int64_t col = c0 + t * O::kLanes;
        const O::V y = O::mul(acc[r][t], scale);
        if (col + O::kLanes <= dim) O::store(out + r * out_row + col, y);
        else if (col < dim) O::store_tail(out + r * out_row + col, y, dim - col);
      }
    }
  }
}

template <int R>
inline void attention_rows(const AttentionArgs& a, const float* q, const float* kt, int64_t kv_cols, const float* v,
                           int64_t v_row, const float* mask, float* out, float* s) {
  float row_max[R], inv_sum[R];
  scores_tile<R>(q, a.q_row, kt, kv_cols, a.kv_len, a.head_dim, a.scale, mask, a.mask_row, s, row_max);
  for (int r = 0; r < R; ++r) inv_sum[r] = 1.0f / exp2_row(s + r * kv_cols, a.kv_len, row_max[r]);
  weighted_sum_tile<R>(s, kv_cols, a.kv_len, inv_sum, v, v_row, a.v_head_dim, out, a.out_row);
}

// A tile of n < kRows rows (the last of a row block): the largest R <= n, at compile time.
template <int R>
inline void attention_partial_rows(int64_t n, const AttentionArgs& a, const float* q, const float* kt, int64_t kv_cols,
                                   const float* v, int64_t v_row, const float* mask, float* out, float* s) {
  if constexpr (R > 1) {
    if (n < R) return attention_partial_rows<R - 1>(n, a, q, kt, kv_cols, v, v_row, mask, out, s);
  }
  attention_rows<R>(a, q, kt, kv_cols, v, v_row, mask, out, s);
}

inline void attention_impl(const AttentionArgs& a, int64_t b, int64_t h, int64_t row_begin, int64_t row_end,
                           float* scratch) {
  if (row_end <= row_begin || a.kv_len <= 0) return;
  const int64_t kv_cols = attention_padded(a.kv_len), v_cols = attention_padded(a.v_head_dim);
  float* kt = scratch;
  float* vp = kt + a.head_dim * kv_cols;
  float* s = vp + a.kv_len * v_cols;
  const float* q = a.q + b * a.q_batch + h * a.q_head;
  const float* k = a.k + b * a.k_batch + h * a.k_head;
  const float* v = a.v + b * a.v_batch + h * a.v_head;
  float* out = a.out + b * a.out_batch + h * a.out_head;
  const float* mask = a.mask ? a.mask + b * a.mask_batch + h * a.mask_head : nullptr;
  pack_k_transposed(k, a.k_row, a.kv_len, a.head_dim, kv_cols, kt);
  int64_t v_row = a.v_row;
  if (a.v_head_dim % kTileCols != 0) {  // the last tile would read past a row of V: pad a copy
    pack_v_padded(v, a.v_row, a.kv_len, a.v_head_dim, v_cols, vp);
    v = vp;
    v_row = v_cols;
  }
  for (int64_t i = row_begin; i < row_end;) {
    // Between kRows and 2 kRows rows left: two near-equal tiles instead of a full one and a sliver
    // (BERT's 128 rows: 20 x 6 + 4 + 4, not 21 x 6 + 2), since a tile of few rows reloads the same
    // K^T and V vectors for little work.
    const int64_t left = row_end - i;
    const int64_t rows = left > kRows && left < 2 * kRows ? (left + 1) / 2 : std::min<int64_t>(kRows, left);
    const float* qi = q + i * a.q_row;
    const float* mi = mask ? mask + i * a.mask_row : nullptr;
    float* oi = out + i * a.out_row;
    attention_partial_rows<kRows>(rows, a, qi, kt, kv_cols, v, v_row, mi, oi, s);
    i += rows;
  }
}
