// The fp32 kernel bodies, written once over a vector type: each ISA's translation unit
// (f32_kernels_avx2.cc, f32_kernels_avx512.cc) defines `struct Ops` (V, kLanes, load/store with
// a tail mask, arithmetic, horizontal reductions) inside its own namespace and then includes this
// file, so every function here is compiled for exactly one ISA and no symbol is shared between
// them (an inline function emitted with AVX-512 code must never be picked for an AVX2 caller).
// No include guard: included once per ISA translation unit.

// exp(x) for float lanes, Cephes' expf: x = n ln2 + r with |r| <= ln2/2, a degree-5 polynomial
// for exp(r) and 2^n put in the exponent bits; relative error ~2 ulp. x is clamped to
// [-87, 88] so that 2^n stays a normal float (exp(-87) ~ 1.6e-38 stands in for smaller results);
// NaN stays NaN.
inline Ops::V exp_ps(Ops::V x) {
  using O = Ops;
  x = O::min(O::set1(88.0f), O::max(O::set1(-87.0f), x));
  const O::V n = O::round(O::mul(x, O::set1(1.44269504088896341f)));
  O::V r = O::fmadd(n, O::set1(-0.693359375f), x);
  r = O::fmadd(n, O::set1(2.12194440e-4f), r);
  O::V p = O::set1(1.9875691500e-4f);
  p = O::fmadd(p, r, O::set1(1.3981999507e-3f));
  p = O::fmadd(p, r, O::set1(8.3334519073e-3f));
  p = O::fmadd(p, r, O::set1(4.1665795894e-2f));
  p = O::fmadd(p, r, O::set1(1.6666665459e-1f));
  p = O::fmadd(p, r, O::set1(5.0000001201e-1f));
  p = O::fmadd(p, O::mul(r, r), O::add(r, O::set1(1.0f)));
  return O::mul(p, O::pow2n(n));
}

// erf(x): x P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf(4) rounds to 1 in float), the rational
// approximation XLA and Eigen use; max relative error 4.2e-7 against a double erf.
inline Ops::V erf_ps(Ops::V x) {
  using O = Ops;
  x = O::min(O::set1(4.0f), O::max(O::set1(-4.0f), x));
  const O::V x2 = O::mul(x, x);
  O::V p = O::set1(-2.72614225801306e-10f);
  p = O::fmadd(p, x2, O::set1(2.77068142495902e-08f));
  p = O::fmadd(p, x2, O::set1(-2.10102402082508e-06f));
  p = O::fmadd(p, x2, O::set1(-5.69250639462346e-05f));
  p = O::fmadd(p, x2, O::set1(-7.34990630326855e-04f));
  p = O::fmadd(p, x2, O::set1(-2.95459980854025e-03f));
  p = O::fmadd(p, x2, O::set1(-1.60960333262415e-02f));
  O::V q = O::set1(-1.45660718464996e-05f);
  q = O::fmadd(q, x2, O::set1(-2.13374055278905e-04f));
  q = O::fmadd(q, x2, O::set1(-1.68282697438203e-03f));
  q = O::fmadd(q, x2, O::set1(-7.37332916720468e-03f));
  q = O::fmadd(q, x2, O::set1(-1.42647390514189e-02f));
  return O::div(O::mul(x, p), q);
}

// GELU(x) = h + h erf(x / sqrt 2), h = x / 2, with erf_ps's rational function rewritten for the
// unscaled argument: with z = x / sqrt 2, z^2 = x^2 / 2, so P's and Q's coefficient of z^2k is
// multiplied by 2^-k (exact), and P's by 1 / sqrt 2 as well (erf = z P / Q = x (P / sqrt 2) / Q).
// Three multiplies fewer than erf_ps(x / sqrt 2) then 0.5 x (1 + e): the function is bound by
// its count of vector operations (the division overlaps them, and a division-free reciprocal
// with a Newton step was slower), and this cut 12.6 -> 11.2 TSC cycles per 16 floats on the
// Zen 4 development machine (AVX-512, data in L1), with the same accuracy against a double
// GELU. z's clamp to [-4, 4] becomes x's to [-B, B], B = 0x1.6a09dp+2 (5.6568489, the largest
// float <= 4 sqrt 2 at which these float operations give erf = +-1 exactly): beyond it
// h + h erf is then exactly 0 for negative x, where an erf one ulp past -1 would leave
// |h| * 2^-23 (6e-6 at x = -100).
inline Ops::V gelu_erf_ps(Ops::V x) {
  using O = Ops;
  const O::V xc = O::min(O::set1(0x1.6a09dp+2f), O::max(O::set1(-0x1.6a09dp+2f), x));
  const O::V x2 = O::mul(xc, xc);
  O::V p = O::set1(-3.011990120500377e-12f);
  p = O::fmadd(p, x2, O::set1(6.122398825300404e-10f));
  p = O::fmadd(p, x2, O::set1(-9.285302078507751e-08f));
  p = O::fmadd(p, x2, O::set1(-5.031512341982542e-06f));
  p = O::fmadd(p, x2, O::set1(-1.299292147031735e-04f));
  p = O::fmadd(p, x2, O::set1(-1.044608780155643e-03f));
  p = O::fmadd(p, x2, O::set1(-1.138161431519002e-02f));
  O::V q = O::set1(-9.103794904062250e-07f);
  q = O::fmadd(q, x2, O::set1(-2.667175690986312e-05f));
  q = O::fmadd(q, x2, O::set1(-4.207067435955075e-04f));
  q = O::fmadd(q, x2, O::set1(-3.686664583602340e-03f));
  q = O::fmadd(q, x2, O::set1(-1.426473905141890e-02f));
  const O::V erf = O::div(O::mul(xc, p), q);
  const O::V h = O::mul(O::set1(0.5f), x);
  return O::fmadd(h, erf, h);
}

// 0.5 x (1 + tanh(u)) == x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3).
inline Ops::V gelu_tanh_ps(Ops::V x) {
  using O = Ops;
  const O::V x3 = O::mul(O::mul(x, x), x);
  const O::V u = O::mul(O::set1(0.79788456080286536f), O::fmadd(x3, O::set1(0.044715f), x));
  const O::V e = exp_ps(O::mul(u, O::set1(-2.0f)));
  return O::div(x, O::add(O::set1(1.0f), e));
}

template <class F>
inline void map_ps(const float* x, float* y, int64_t n, F f) {
  using O = Ops;
  int64_t i = 0;
  for (; i + 2 * O::kLanes <= n; i += 2 * O::kLanes) {
    const O::V a = f(O::load(x + i)), b = f(O::load(x + i + O::kLanes));
    O::store(y + i, a);
    O::store(y + i + O::kLanes, b);
  }
  for (; i + O::kLanes <= n; i += O::kLanes) O::store(y + i, f(O::load(x + i)));
  if (i < n) O::store_tail(y + i, f(O::load_tail(x + i, n - i, 0.0f)), n - i);
}

inline void softmax_impl(const float* x, float* y, int64_t rows, int64_t n) {
  using O = Ops;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const float neg_inf = -std::numeric_limits<float>::infinity();
    O::V m0 = O::set1(neg_inf), m1 = m0;
    int64_t i = 0;
    for (; i + 2 * O::kLanes <= n; i += 2 * O::kLanes) {
      m0 = O::max(m0, O::load(xr + i));
      m1 = O::max(m1, O::load(xr + i + O::kLanes));
    }
    for (; i + O::kLanes <= n; i += O::kLanes) m0 = O::max(m0, O::load(xr + i));
    if (i < n) m1 = O::max(m1, O::load_tail(xr + i, n - i, neg_inf));
    const O::V max = O::set1(O::hmax(O::max(m0, m1)));
    O::V s0 = O::set1(0.0f), s1 = s0;
    for (i = 0; i + O::kLanes <= n; i += O::kLanes) {
      const O::V e = exp_ps(O::sub(O::load(xr + i), max));
      O::store(yr + i, e);
      s0 = O::add(s0, e);
    }
    if (i < n) {
      // Lanes past the end read -inf - max: exp gives ~0 there, and they are not stored.
      const O::V e = exp_ps(O::sub(O::load_tail(xr + i, n - i, neg_inf), max));
      O::store_tail(yr + i, e, n - i);
      s1 = O::add(s1, O::blend_tail(e, n - i));
    }
    const O::V inv = O::set1(1.0f / O::hsum(O::add(s0, s1)));
    for (i = 0; i + O::kLanes <= n; i += O::kLanes) O::store(yr + i, O::mul(O::load(yr + i), inv));
    if (i < n) O::store_tail(yr + i, O::mul(O::load_tail(yr + i, n - i, 0.0f), inv), n - i);
  }
}

inline void layernorm_impl(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
                           float eps) {
  using O = Ops;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    // Two passes (mean, then the squared deviations) keep the variance accurate when |mean| is
    // large against the spread; a row of BERT-base (768 floats) stays in L1 between them.
    O::V s0 = O::set1(0.0f), s1 = s0;
    int64_t i = 0;
    for (; i + 2 * O::kLanes <= n; i += 2 * O::kLanes) {
      s0 = O::add(s0, O::load(xr + i));
      s1 = O::add(s1, O::load(xr + i + O::kLanes));
    }
    for (; i + O::kLanes <= n; i += O::kLanes) s0 = O::add(s0, O::load(xr + i));
    if (i < n) s1 = O::add(s1, O::load_tail(xr + i, n - i, 0.0f));
    const float mean_s = O::hsum(O::add(s0, s1)) / static_cast<float>(n);
    const O::V mean = O::set1(mean_s);
    O::V q0 = O::set1(0.0f), q1 = q0;
    for (i = 0; i + 2 * O::kLanes <= n; i += 2 * O::kLanes) {
      const O::V d0 = O::sub(O::load(xr + i), mean), d1 = O::sub(O::load(xr + i + O::kLanes), mean);
      q0 = O::fmadd(d0, d0, q0);
      q1 = O::fmadd(d1, d1, q1);
    }
    for (; i + O::kLanes <= n; i += O::kLanes) {
      const O::V d = O::sub(O::load(xr + i), mean);
      q0 = O::fmadd(d, d, q0);
    }
    if (i < n) {
      const O::V d = O::blend_tail(O::sub(O::load_tail(xr + i, n - i, 0.0f), mean), n - i);
      q1 = O::fmadd(d, d, q1);
    }
    const float var = O::hsum(O::add(q0, q1)) / static_cast<float>(n);
    const O::V inv_std = O::set1(1.0f / std::sqrt(var + eps));
    auto norm = [&](O::V xv, O::V sv) { return O::mul(O::mul(O::sub(xv, mean), inv_std), sv); };
    for (i = 0; i + O::kLanes <= n; i += O::kLanes) {
      O::V v = norm(O::load(xr + i), O::load(scale + i));
      if (bias) v = O::add(v, O::load(bias + i));
      O::store(yr + i, v);
    }
    if (i < n) {
      const int64_t t = n - i;
      O::V v = norm(O::load_tail(xr + i, t, 0.0f), O::load_tail(scale + i, t, 0.0f));
      if (bias) v = O::add(v, O::load_tail(bias + i, t, 0.0f));
      O::store_tail(yr + i, v, t);
    }
  }
}

// y = a op b with a or b possibly a scalar (stride 0).
template <class Op>
inline void binary_impl(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n, Op op) {
  using O = Ops;
  int64_t i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + O::kLanes <= n; i += O::kLanes) O::store(y + i, op(O::load(a + i), O::load(b + i)));
    if (i < n) O::store_tail(y + i, op(O::load_tail(a + i, n - i, 1.0f), O::load_tail(b + i, n - i, 1.0f)), n - i);
  } else if (sa == 1) {
    const O::V bv = O::set1(*b);
    for (; i + O::kLanes <= n; i += O::kLanes) O::store(y + i, op(O::load(a + i), bv));
    if (i < n) O::store_tail(y + i, op(O::load_tail(a + i, n - i, 1.0f), bv), n - i);
  } else if (sb == 1) {
    const O::V av = O::set1(*a);
    for (; i + O::kLanes <= n; i += O::kLanes) O::store(y + i, op(av, O::load(b + i)));
    if (i < n) O::store_tail(y + i, op(av, O::load_tail(b + i, n - i, 1.0f)), n - i);
  } else {
    const O::V v = op(O::set1(*a), O::set1(*b));
    for (; i + O::kLanes <= n; i += O::kLanes) O::store(y + i, v);
    if (i < n) O::store_tail(y + i, v, n - i);
  }
}
