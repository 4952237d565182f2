// Body of the fused attention kernel, included once per ISA by attention_avx2.cc and
// attention_avx512.cc inside a namespace that defines `Ops` (vector type V, kLanes, load/store,
// set1, fmadd, mul, add, load_tail/store_tail, transpose_block), kTileRows and kTileVectors. Not a standalone header.
//
// Per (batch, head): K is transposed once into [head_dim][kv_cols] (zero-padded), so that a tile
// of kRows query rows times kTileVectors vectors of keys is a rank-1 update per d (broadcast
// q[i, d], FMA with a vector of K^T); the scores are scaled, masked and soft-maxed in a
// [kRows][kv_cols] buffer that stays in L1; then out rows are accumulated as rank-1 updates
// p[i, j] * v[j, :] reading V's rows in place (or from a zero-padded copy when v_head_dim is not a
// whole number of tiles).

inline constexpr int kRows = kTileRows;
static_assert(kRows <= kAttentionTileRows, "the scores buffer holds kAttentionTileRows rows");
inline constexpr int64_t kTileCols = kTileVectors * Ops::kLanes;

// kt[d][j] = k[j][d] for j < kv_len, 0 up to kv_cols. Whole kLanes x kLanes blocks go through
// registers (Ops::transpose_block); an element-by-element loop here cost as much as a sixth of
// the kernel (BERT-base: 64 x 128 floats per head, strided reads), the edges still go that way.
inline void pack_k_transposed(const float* k, int64_t k_row, int64_t kv_len, int64_t dim, int64_t kv_cols, float* kt) {
  constexpr int64_t L = Ops::kLanes;
  for (int64_t d = 0; d < dim; ++d) std::fill(kt + d * kv_cols + kv_len, kt + (d + 1) * kv_cols, 0.0f);
  const int64_t whole_keys = kv_len / L * L, whole_dims = dim / L * L;
  for (int64_t j0 = 0; j0 < whole_keys; j0 += L) {
    const float* kj = k + j0 * k_row;
    for (int64_t d0 = 0; d0 < whole_dims; d0 += L) Ops::transpose_block(kj + d0, k_row, kt + d0 * kv_cols + j0, kv_cols);
  }
  for (int64_t j = 0; j < kv_len; ++j) {
    const float* kj = k + j * k_row;
    float* col = kt + j;
    for (int64_t d = j < whole_keys ? whole_dims : 0; d < dim; ++d) col[d * kv_cols] = kj[d];
  }
}

// vp[j][0, v_cols) = v[j][0, dim) zero-padded.
inline void pack_v_padded(const float* v, int64_t v_row, int64_t kv_len, int64_t dim, int64_t v_cols, float* vp) {
  for (int64_t j = 0; j < kv_len; ++j) {
    std::copy(v + j * v_row, v + j * v_row + dim, vp + j * v_cols);
    std::fill(vp + j * v_cols + dim, vp + (j + 1) * v_cols, 0.0f);
  }
}

// s[r][j] = scale * (q[r] . kt[:, j]) for R rows and all kv_cols columns.
template <int R>
inline void scores_tile(const float* q, int64_t q_row, const float* kt, int64_t kv_cols, int64_t dim, float scale,
                        float* s) {
  using O = Ops;
  const O::V vscale = O::set1(scale);
  for (int64_t c0 = 0; c0 < kv_cols; c0 += kTileCols) {
    O::V acc[R][kTileVectors];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < kTileVectors; ++t) acc[r][t] = O::set1(0.0f);
    const float* kc = kt + c0;
    for (int64_t d = 0; d < dim; ++d) {
      O::V kv[kTileVectors];
      for (int t = 0; t < kTileVectors; ++t) kv[t] = O::load(kc + d * kv_cols + t * O::kLanes);
      for (int r = 0; r < R; ++r) {
        const O::V qb = O::set1(q[r * q_row + d]);
        for (int t = 0; t < kTileVectors; ++t) acc[r][t] = O::fmadd(qb, kv[t], acc[r][t]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < kTileVectors; ++t) O::store(s + r * kv_cols + c0 + t * O::kLanes, O::mul(acc[r][t], vscale));
  }
}

// s[j] += mask[j] for j < n.
inline void add_mask_row(float* s, const float* mask, int64_t n) {
  using O = Ops;
  int64_t j = 0;
  for (; j + O::kLanes <= n; j += O::kLanes) O::store(s + j, O::add(O::load(s + j), O::load(mask + j)));
  if (j < n) O::store_tail(s + j, O::add(O::load_tail(s + j, n - j, 0.0f), O::load_tail(mask + j, n - j, 0.0f)), n - j);
}

// out[r][0, dim) = sum_j p[r][j] * v[j][0, dim) for R rows; v rows have at least
// ceil(dim / kTileCols) * kTileCols readable floats.
template <int R>
inline void weighted_sum_tile(const float* p, int64_t p_row, int64_t kv_len, const float* v, int64_t v_row,
                              int64_t dim, float* out, int64_t out_row) {
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
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < kTileVectors; ++t) {
        const int64_t col = c0 + t * O::kLanes;
        if (col + O::kLanes <= dim) O::store(out + r * out_row + col, acc[r][t]);
        else if (col < dim) O::store_tail(out + r * out_row + col, acc[r][t], dim - col);
      }
  }
}

template <int R>
inline void attention_rows(const AttentionArgs& a, const float* q, const float* kt, int64_t kv_cols, const float* v,
                           int64_t v_row, const float* mask, float* out, float* s) {
  scores_tile<R>(q, a.q_row, kt, kv_cols, a.head_dim, a.scale, s);
  for (int r = 0; r < R; ++r) {
    float* sr = s + r * kv_cols;
    if (mask) add_mask_row(sr, mask + r * a.mask_row, a.kv_len);
    softmax_row(sr, a.kv_len);
  }
  weighted_sum_tile<R>(s, kv_cols, a.kv_len, v, v_row, a.v_head_dim, out, a.out_row);
}

// The last tile of a row block may hold fewer than kRows rows: the largest R <= n, at compile time.
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
  for (int64_t i = row_begin; i < row_end; i += kRows) {
    const float* qi = q + i * a.q_row;
    const float* mi = mask ? mask + i * a.mask_row : nullptr;
    float* oi = out + i * a.out_row;
    attention_partial_rows<kRows>(std::min<int64_t>(kRows, row_end - i), a, qi, kt, kv_cols, v, v_row, mi, oi, s);
  }
}
