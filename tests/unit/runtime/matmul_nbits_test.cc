// com.microsoft.MatMulNBits and GatherBlockQuantized through a Session: one-node models built
// here, expected values from a dequantization written in this file from ORT's layout (packed
// zero points included), and malformed nodes failing cleanly with the right error code.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/session_impl.h"
#include "../random_data.h"

namespace hone {
namespace {

ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

template <class T>
Tensor tensor(DType dtype, Shape shape, const std::vector<T>& v) {
  Tensor t = Tensor::create(dtype, std::move(shape)).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<T>()[i] = v[i];
  return t;
}

// One com.microsoft node. Inputs: (tensor, constant?) — constants become initializers, the others
// graph inputs fed at run time; an undefined tensor is an omitted input ("").
struct In {
  Tensor t;
  bool constant = true;
};

struct OneNode {
  ir::Model model;
  std::vector<Tensor> feeds;
};

OneNode one_node(const std::string& op, const std::vector<In>& inputs, std::vector<ir::Attribute> attrs) {
  OneNode o;
  ir::Model& m = o.model;
  m.ir_version = 8;
  m.opsets.push_back({"", 17});
  m.opsets.push_back({"com.microsoft", 1});
  ir::Node n;
  n.op_type = op;
  n.domain = "com.microsoft";
  n.name = "q";
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].t.defined()) {
      n.inputs.push_back("");
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    n.inputs.push_back(name);
    if (inputs[i].constant) {
      m.graph.initializers.push_back({name, inputs[i].t, {}, std::nullopt});
    } else {
      m.graph.inputs.push_back({name, {}, {}});
      o.feeds.push_back(inputs[i].t);
    }
  }
  n.outputs.push_back("y");
  m.graph.outputs.push_back({"y", {}, {}});
  m.graph.nodes.push_back(std::move(n));
  return o;
}

Result<std::vector<Tensor>> run_one(OneNode o, int threads = 2) {
  SessionOptions opts;
  opts.threads = threads;
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(o.model), opts));
  return s.run(o.feeds);
}

// A quantized matrix in ORT's MatMulNBits layout, with the logical codes kept for the oracle.
struct QMatrix {
  int bits;
  int64_t k, n, block, kb, blob;
  std::vector<int> codes;     // [n][k]
  std::vector<float> scales;  // [n][kb]
  std::vector<int> zps;       // [n][kb]; empty: default
  Tensor b, scales_t, zp_packed;

  QMatrix(int bits_, int64_t k_, int64_t n_, int64_t block_, bool with_zp, uint32_t seed)
      : bits(bits_), k(k_), n(n_), block(block_) {
    std::mt19937 rng(seed);
    kb = (k + block - 1) / block;
    blob = block * bits / 8;
    const int top = (1 << bits) - 1;
    codes.resize(static_cast<size_t>(n * k));
    for (auto& c : codes) c = static_cast<int>(rng() % static_cast<uint32_t>(top + 1));
    scales.resize(static_cast<size_t>(n * kb));
    for (auto& s : scales) s = 0.01f + static_cast<float>(rng() % 100) * 0.001f;
    if (with_zp) {
      zps.resize(scales.size());
      for (auto& z : zps) z = static_cast<int>(rng() % static_cast<uint32_t>(top + 1));
    }
    // Pack by hand: element i of a block at bits (i % per_byte) * bits of byte i / per_byte.
    const int per_byte = 8 / bits;
    b = Tensor::create(DType::kUInt8, {n, kb, blob}).value();
    uint8_t* bp = b.data<uint8_t>();
    for (int64_t col = 0; col < n; ++col)
      for (int64_t kk = 0; kk < k; ++kk) {
        const int64_t blk = kk / block, i = kk % block;
        bp[(col * kb + blk) * blob + i / per_byte] |=
            static_cast<uint8_t>(codes[static_cast<size_t>(col * k + kk)] << ((i % per_byte) * bits));
      }
    scales_t = tensor<float>(DType::kFloat32, {n * kb}, scales);
    if (with_zp) {
      const int64_t row = (kb * bits + 7) / 8;
      zp_packed = Tensor::create(DType::kUInt8, {n * row}).value();
      for (int64_t col = 0; col < n; ++col)
        for (int64_t blk = 0; blk < kb; ++blk)
          zp_packed.data<uint8_t>()[col * row + blk / per_byte] |=
              static_cast<uint8_t>(zps[static_cast<size_t>(col * kb + blk)] << ((blk % per_byte) * bits));
    }
  }

  double w(int64_t kk, int64_t col) const {
    const size_t s = static_cast<size_t>(col * kb + kk / block);
    const int zp = zps.empty() ? (1 << (bits - 1)) : zps[s];
    return (codes[static_cast<size_t>(col * k + kk)] - zp) * static_cast<double>(scales[s]);
  }

  std::vector<ir::Attribute> attrs() const {
    return {int_attr("K", k), int_attr("N", n), int_attr("bits", bits), int_attr("block_size", block),
            int_attr("accuracy_level", 0)};
  }
};

void expect_matmul(const QMatrix& q, const std::vector<float>& a, int64_t m, const Tensor& y,
                   const std::vector<float>& bias = {}) {
  ASSERT_EQ(y.dtype(), DType::kFloat32);
  ASSERT_EQ(y.numel(), m * q.n);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t col = 0; col < q.n; ++col) {
      double s = bias.empty() ? 0.0 : bias[static_cast<size_t>(col)], mag = 0;
      for (int64_t kk = 0; kk < q.k; ++kk) {
        s += a[static_cast<size_t>(r * q.k + kk)] * q.w(kk, col);
        mag += std::fabs(a[static_cast<size_t>(r * q.k + kk)]) * 0.11 * (1 << q.bits);  // scales < 0.11
      }
      ASSERT_NEAR(y.data<float>()[r * q.n + col], s, 2e-5 * mag + 1e-6) << "row " << r << " col " << col;
    }
}

TEST(NbitsMatMulNBits, FourBitsPackedZeroPointsBatchedA) {
  QMatrix q(4, 100, 7, 32, true, 1);  // K=100: the last block is partly padding
  const auto a = test_data::uniform_floats(2 * 3 * 100, 2);
  auto out = run_one(one_node("MatMulNBits", {{tensor<float>(DType::kFloat32, {2, 3, 100}, a), false}, {q.b}, {q.scales_t},
                                              {q.zp_packed}},
                              q.attrs()));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 3, 7}));
  expect_matmul(q, a, 6, (*out)[0]);
}

TEST(NbitsMatMulNBits, EightBitsDefaultZeroPointWithBias) {
  QMatrix q(8, 70, 9, 16, false, 3);
  const auto a = test_data::uniform_floats(70, 4);
  const auto bias = test_data::uniform_floats(9, 5);
  auto out = run_one(one_node("MatMulNBits",
                              {{tensor<float>(DType::kFloat32, {1, 70}, a), false}, {q.b}, {q.scales_t}, {Tensor()},
                               {Tensor()}, {tensor<float>(DType::kFloat32, {9}, bias)}},
                              q.attrs()));
  ASSERT_TRUE(out.ok()) << out.status().message();
  expect_matmul(q, a, 1, (*out)[0], bias);
}

TEST(NbitsMatMulNBits, TwoBitsAndScalesAsMatrix) {
  QMatrix q(2, 90, 5, 64, true, 6);
  q.scales_t = tensor<float>(DType::kFloat32, {q.n, q.kb}, q.scales);
  const auto a = test_data::uniform_floats(3 * 90, 7);
  auto out = run_one(one_node("MatMulNBits", {{tensor<float>(DType::kFloat32, {3, 90}, a), false}, {q.b}, {q.scales_t},
                                              {q.zp_packed}},
                              q.attrs()));
  ASSERT_TRUE(out.ok()) << out.status().message();
  expect_matmul(q, a, 3, (*out)[0]);
}

TEST(NbitsMatMulNBits, FloatZeroPointsAndRunTimeWeights) {
  QMatrix q(4, 64, 6, 32, true, 8);
  std::vector<float> zf(q.zps.begin(), q.zps.end());
  const auto a = test_data::uniform_floats(5 * 64, 9);
  // Every weight a graph input: checked and prepared on each run.
  auto out = run_one(one_node("MatMulNBits",
                              {{tensor<float>(DType::kFloat32, {5, 64}, a), false}, {q.b, false}, {q.scales_t, false},
                               {tensor<float>(DType::kFloat32, {q.n * q.kb}, zf), false}},
                              q.attrs()));
  ASSERT_TRUE(out.ok()) << out.status().message();
  expect_matmul(q, a, 5, (*out)[0]);
}

TEST(NbitsMatMulNBits, ManyRowsTakeTheDequantizedGemmPath) {
  QMatrix q(4, 96, 70, 32, true, 10);
  const int64_t m = 130;  // past the switch to dequantize + oneDNN (128 rows with VNNI, 48 without)
  const auto a = test_data::uniform_floats(m * 96, 11);
  const auto bias = test_data::uniform_floats(70, 12);
  auto out = run_one(one_node("MatMulNBits",
                              {{tensor<float>(DType::kFloat32, {m, 96}, a), false}, {q.b}, {q.scales_t}, {q.zp_packed},
                               {Tensor()}, {tensor<float>(DType::kFloat32, {70}, bias)}},
                              q.attrs()));
  ASSERT_TRUE(out.ok()) << out.status().message();
  expect_matmul(q, a, m, (*out)[0], bias);
}

// accuracy_level 4: ORT's licence to compute with int8 activations; hone does where VNNI is.
// Each a_k moves by at most half its block's int8 step (max|a| / 127 / 2 <= 1 / 254 here).
TEST(NbitsMatMulNBits, AccuracyLevel4StaysWithinTheInt8Bound) {
  QMatrix q(4, 200, 37, 32, true, 30);
  const int64_t m = 3;
  const auto a = test_data::uniform_floats(m * 200, 31);
  auto attrs = q.attrs();
  attrs[4] = int_attr("accuracy_level", 4);
  auto out = run_one(one_node("MatMulNBits", {{tensor<float>(DType::kFloat32, {m, 200}, a), false}, {q.b}, {q.scales_t},
                                              {q.zp_packed}},
                              attrs));
  ASSERT_TRUE(out.ok()) << out.status().message();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t col = 0; col < q.n; ++col) {
      double s = 0, bound = 1e-5;
      for (int64_t kk = 0; kk < q.k; ++kk) {
        s += a[static_cast<size_t>(r * q.k + kk)] * q.w(kk, col);
        bound += std::fabs(q.w(kk, col)) / 254.0 * 1.01;
      }
      ASSERT_NEAR((*out)[0].data<float>()[r * q.n + col], s, bound) << "row " << r << " col " << col;
    }
}

TEST(NbitsMatMulNBits, Float16Activations) {
  QMatrix q(4, 32, 3, 32, false, 13);
  std::vector<uint16_t> ah(32);
  std::vector<float> a(32);
  for (int i = 0; i < 32; ++i) {
    ah[static_cast<size_t>(i)] = float_to_half(static_cast<float>(i % 5) - 2.0f);
    a[static_cast<size_t>(i)] = static_cast<float>(i % 5) - 2.0f;
  }
  auto out = run_one(one_node("MatMulNBits", {{tensor<uint16_t>(DType::kFloat16, {1, 32}, ah), false}, {q.b}, {q.scales_t}},
                              q.attrs()));
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dtype(), DType::kFloat16);
  for (int64_t col = 0; col < 3; ++col) {
    double s = 0;
    for (int64_t kk = 0; kk < 32; ++kk) s += a[static_cast<size_t>(kk)] * q.w(kk, col);
    EXPECT_NEAR(half_to_float((*out)[0].data<uint16_t>()[col]), s, 2e-3 * std::fabs(s) + 1e-3);
  }
}

TEST(NbitsMatMulNBits, TrivialGIdxIsAcceptedAndAReorderingOneRefused) {
  QMatrix q(4, 64, 2, 32, false, 14);
  std::vector<int32_t> g(64);
  for (int i = 0; i < 64; ++i) g[static_cast<size_t>(i)] = i / 32;
  const auto a = test_data::uniform_floats(64, 15);
  auto ok = run_one(one_node("MatMulNBits", {{tensor<float>(DType::kFloat32, {1, 64}, a), false}, {q.b}, {q.scales_t},
                                             {Tensor()}, {tensor<int32_t>(DType::kInt32, {64}, g)}},
                             q.attrs()));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  expect_matmul(q, a, 1, (*ok)[0]);
  std::swap(g[0], g[63]);
  auto bad = run_one(one_node("MatMulNBits", {{tensor<float>(DType::kFloat32, {1, 64}, a), false}, {q.b}, {q.scales_t},
                                              {Tensor()}, {tensor<int32_t>(DType::kInt32, {64}, g)}},
                              q.attrs()));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(bad.status().message().find("g_idx"), std::string::npos) << bad.status().message();
}

// Malformed constant weights fail at session creation (exit 2), naming the node and the input.
TEST(NbitsMatMulNBits, BadShapesFailAtCreation) {
  QMatrix q(4, 64, 4, 32, true, 16);
  const Tensor a = tensor<float>(DType::kFloat32, {1, 64}, test_data::uniform_floats(64, 17));
  auto expect_load_error = [&](std::vector<In> in, std::vector<ir::Attribute> attrs, ErrorCode code,
                               const std::string& needle) {
    auto out = run_one(one_node("MatMulNBits", in, attrs));
    ASSERT_FALSE(out.ok()) << needle;
    EXPECT_EQ(out.status().code(), code) << out.status().message();
    EXPECT_NE(out.status().message().find(needle), std::string::npos) << out.status().message();
    EXPECT_NE(out.status().message().find("node 'q'"), std::string::npos) << out.status().message();
  };
  const Tensor wrong_b = Tensor::create(DType::kUInt8, {4, 2, 8}).value();
  expect_load_error({{a, false}, {wrong_b}, {q.scales_t}}, q.attrs(), ErrorCode::kInvalidModel, "B has shape");
  expect_load_error({{a, false}, {q.b}, {Tensor::create(DType::kFloat32, {7}).value()}}, q.attrs(),
                    ErrorCode::kInvalidModel, "scales has shape");
  expect_load_error({{a, false}, {q.b}, {q.scales_t}, {Tensor::create(DType::kUInt8, {3}).value()}}, q.attrs(),
                    ErrorCode::kInvalidModel, "zero_points");
  expect_load_error({{a, false}, {q.b}, {q.scales_t}, {Tensor()}, {Tensor()}, {Tensor::create(DType::kFloat32, {5}).value()}},
                    q.attrs(), ErrorCode::kInvalidModel, "bias");
  auto attrs = q.attrs();
  attrs[2] = int_attr("bits", 3);
  expect_load_error({{a, false}, {q.b}, {q.scales_t}}, attrs, ErrorCode::kUnsupported, "bits=3");
  attrs = q.attrs();
  attrs[3] = int_attr("block_size", 24);
  expect_load_error({{a, false}, {q.b}, {q.scales_t}}, attrs, ErrorCode::kInvalidModel, "block_size");
  attrs = q.attrs();
  attrs.erase(attrs.begin());  // no K
  expect_load_error({{a, false}, {q.b}, {q.scales_t}}, attrs, ErrorCode::kInvalidModel, "attribute K");
  attrs = q.attrs();
  attrs[1] = int_attr("N", int64_t{1} << 62);  // N * k_blocks * blob_size overflows
  expect_load_error({{a, false}, {q.b}, {q.scales_t}}, attrs, ErrorCode::kInvalidModel, "overflows");
}

// Problems only the run can see are run-time errors (exit 3).
TEST(NbitsMatMulNBits, BadRunTimeInputsFailCleanly) {
  QMatrix q(4, 64, 4, 32, false, 18);
  auto wrong_k = run_one(one_node("MatMulNBits", {{tensor<float>(DType::kFloat32, {1, 63}, test_data::uniform_floats(63, 1)), false},
                                                  {q.b}, {q.scales_t}},
                                  q.attrs()));
  ASSERT_FALSE(wrong_k.ok());
  EXPECT_EQ(wrong_k.status().code(), ErrorCode::kRuntimeError);
  EXPECT_NE(wrong_k.status().message().find("K=64"), std::string::npos) << wrong_k.status().message();
  const Tensor wrong_b = Tensor::create(DType::kUInt8, {4, 2, 15}).value();
  auto run_b = run_one(one_node("MatMulNBits", {{tensor<float>(DType::kFloat32, {1, 64}, test_data::uniform_floats(64, 2)), false},
                                                {wrong_b, false}, {q.scales_t}},
                                q.attrs()));
  ASSERT_FALSE(run_b.ok());
  EXPECT_EQ(run_b.status().code(), ErrorCode::kRuntimeError);
  EXPECT_NE(run_b.status().message().find("B has shape"), std::string::npos) << run_b.status().message();
}

// ---- GatherBlockQuantized ----

// data [rows, packed] (uint8, codes along the last axis), one line per row.
struct QTable {
  int bits;
  int64_t rows, cols, block, nblk;
  std::vector<int> codes, zps;
  std::vector<float> scales;
  Tensor data, scales_t, zp_t;

  QTable(int bits_, int64_t rows_, int64_t cols_, int64_t block_, bool with_zp, uint32_t seed)
      : bits(bits_), rows(rows_), cols(cols_), block(block_) {
    std::mt19937 rng(seed);
    const int per_byte = 8 / bits, top = (1 << bits) - 1;
    nblk = (cols + block - 1) / block;
    codes.resize(static_cast<size_t>(rows * cols));
    for (auto& c : codes) c = static_cast<int>(rng() % static_cast<uint32_t>(top + 1));
    scales.resize(static_cast<size_t>(rows * nblk));
    for (auto& s : scales) s = 0.5f + static_cast<float>(rng() % 8) * 0.25f;
    data = Tensor::create(DType::kUInt8, {rows, cols / per_byte}).value();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        data.data<uint8_t>()[r * (cols / per_byte) + c / per_byte] |=
            static_cast<uint8_t>(codes[static_cast<size_t>(r * cols + c)] << ((c % per_byte) * bits));
    scales_t = tensor<float>(DType::kFloat32, {rows, nblk}, scales);
    if (with_zp) {
      zps.resize(scales.size());
      for (auto& z : zps) z = static_cast<int>(rng() % static_cast<uint32_t>(top + 1));
      const int64_t zrow = (nblk + per_byte - 1) / per_byte;
      zp_t = Tensor::create(DType::kUInt8, {rows, zrow}).value();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t b = 0; b < nblk; ++b)
          zp_t.data<uint8_t>()[r * zrow + b / per_byte] |=
              static_cast<uint8_t>(zps[static_cast<size_t>(r * nblk + b)] << ((b % per_byte) * bits));
    }
  }
  float value(int64_t r, int64_t c) const {
    const size_t s = static_cast<size_t>(r * nblk + c / block);
    const int zp = zps.empty() ? (1 << (bits - 1)) : zps[s];
    return static_cast<float>(codes[static_cast<size_t>(r * cols + c)] - zp) * scales[s];
  }
  std::vector<ir::Attribute> attrs() const { return {int_attr("bits", bits), int_attr("block_size", block)}; }
};

void expect_gathered(const QTable& t, const std::vector<int64_t>& idx, const Tensor& y) {
  ASSERT_EQ(y.numel(), static_cast<int64_t>(idx.size()) * t.cols);
  for (size_t i = 0; i < idx.size(); ++i) {
    const int64_t r = idx[i] < 0 ? idx[i] + t.rows : idx[i];
    for (int64_t c = 0; c < t.cols; ++c)
      ASSERT_EQ(y.data<float>()[static_cast<int64_t>(i) * t.cols + c], t.value(r, c)) << "index " << i << " col " << c;
  }
}

TEST(NbitsGatherBlockQuantized, FourBitsWithZeroPointsAndNegativeIndices) {
  QTable t(4, 5, 48, 16, true, 20);  // 3 blocks per row: packed zero points end in half a byte
  const std::vector<int64_t> idx{4, 0, -1, 2};
  auto out = run_one(one_node("GatherBlockQuantized",
                              {{t.data}, {tensor<int64_t>(DType::kInt64, {2, 2}, idx), false}, {t.scales_t}, {t.zp_t}},
                              t.attrs()));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2, 48}));
  expect_gathered(t, idx, (*out)[0]);
}

TEST(NbitsGatherBlockQuantized, EightAndTwoBitsDefaultZeroPoint) {
  for (int bits : {8, 2}) {
    QTable t(bits, 3, 64, 32, false, 21);
    const std::vector<int32_t> idx{1, 1, 0};
    auto out = run_one(one_node("GatherBlockQuantized",
                                {{t.data}, {tensor<int32_t>(DType::kInt32, {3}, idx), false}, {t.scales_t}}, t.attrs()));
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ((*out)[0].shape(), (Shape{3, 64}));
    expect_gathered(t, {1, 1, 0}, (*out)[0]);
  }
}

TEST(NbitsGatherBlockQuantized, BadInputsFailCleanly) {
  QTable t(4, 5, 32, 16, false, 22);
  auto oob = run_one(one_node("GatherBlockQuantized",
                              {{t.data}, {tensor<int64_t>(DType::kInt64, {1}, {5}), false}, {t.scales_t}}, t.attrs()));
  ASSERT_FALSE(oob.ok());
  EXPECT_EQ(oob.status().code(), ErrorCode::kRuntimeError);
  EXPECT_NE(oob.status().message().find("out of range"), std::string::npos) << oob.status().message();
  auto bad_scales = run_one(one_node("GatherBlockQuantized",
                                     {{t.data}, {tensor<int64_t>(DType::kInt64, {1}, {0}), false},
                                      {Tensor::create(DType::kFloat32, {5, 3}).value()}},
                                     t.attrs()));
  ASSERT_FALSE(bad_scales.ok());
  EXPECT_EQ(bad_scales.status().code(), ErrorCode::kInvalidModel);
  EXPECT_NE(bad_scales.status().message().find("scales has shape"), std::string::npos) << bad_scales.status().message();
  auto attrs = t.attrs();
  attrs.push_back(int_attr("gather_axis", 1));
  auto bad_axis = run_one(one_node("GatherBlockQuantized",
                                   {{t.data}, {tensor<int64_t>(DType::kInt64, {1}, {0}), false}, {t.scales_t}}, attrs));
  ASSERT_FALSE(bad_axis.ok());
  EXPECT_EQ(bad_axis.status().code(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace hone
