// 2-D convolution forward and both backward passes over oneDNN, in tfjs layouts: NHWC activations, HWIO filters.
// Filters and (see useBlocked) activations go to whatever blocked layouts oneDNN prefers, reordered on the way in or
// out of each call.
#include "common.h"
#include <memory>
#include <mutex>
#include <unordered_map>
#include <algorithm>
#include <cstdlib>
#include <vector>

namespace gs {
namespace {

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

// The 17 geometry numbers, then two forward-only flags: add a per-channel bias, apply ReLU (FusedConv2D).
constexpr size_t kParams = 19;

struct ConvParams {
  int64_t N, H, W, C, O, KH, KW, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr, bias, relu;
  explicit ConvParams(const int32_t* p)
      : N(p[0]), H(p[1]), W(p[2]), C(p[3]), O(p[4]), KH(p[5]), KW(p[6]), OH(p[7]), OW(p[8]), sh(p[9]), sw(p[10]),
        dh(p[11]), dw(p[12]), pt(p[13]), pb(p[14]), pl(p[15]), pr(p[16]), bias(p[17]), relu(p[18]) {}
  memory::desc src(tag t = tag::nhwc) const { return {{N, C, H, W}, dt::f32, t}; }
  memory::desc dst(tag t = tag::nhwc) const { return {{N, O, OH, OW}, dt::f32, t}; }
  memory::desc wei(tag t) const { return {{O, C, KH, KW}, dt::f32, t}; }
  memory::desc biasMd() const { return {{O}, dt::f32, tag::a}; }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }  // oneDNN counts dilation from 0
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
  std::string key(const char* op) const {
    std::string k(op);
    for (int64_t v : {N, H, W, C, O, KH, KW, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr, bias})
      k += "," + std::to_string(v);
    return k;
  }
};

// Activation layouts. NHWC in tfjs; oneDNN's AVX2 kernels run 5-15% faster (CPU time, Zen 3, ResNet18's 3x3
// convolutions at batch 64, forward and both gradients) on its blocked layouts (nChw8c) even counting the reorders
// of the activations in and out on every call, and 2.4x faster on tiny outputs (4x4 with 512 channels). So every
// convolution with enough channels runs blocked; few input channels (an RGB stem) stay NHWC, where blocking loses.
// GEOSPIKE_CONV_LAYOUT=nhwc turns blocking off but for tiny outputs (the layout before; for comparisons).
bool tinyOutput(const ConvParams& p) { return p.OH * p.OW <= 16 && p.C >= 16 && p.O >= 16; }
bool useBlocked(const ConvParams& p) {
  static const bool nhwcOnly = [] {
    const char* v = std::getenv("GEOSPIKE_CONV_LAYOUT");
    return v != nullptr && std::string(v) == "nhwc";
  }();
  return nhwcOnly ? tinyOutput(p) : p.C >= 16 && p.O >= 16;
}

// A fused convolution's bias runs inside the primitive. Its ReLU does not: oneDNN's ReLU (a max with 0) turns NaN
// into 0, where tfjs's keeps NaN, and a NaN must reach the loss (a NaN running statistic must stop a run).
convolution_forward::primitive_desc forwardPd(const ConvParams& p, bool any) {
  auto src = any ? p.src(tag::any) : p.src(), dst = any ? p.dst(tag::any) : p.dst();
  const auto kind = prop_kind::forward_training;
  const auto algo = algorithm::convolution_direct;
  auto d = p.bias ? convolution_forward::desc(kind, algo, src, p.wei(tag::any), p.biasMd(), dst, p.strides(),
                                              p.dilates(), p.padL(), p.padR())
                  : convolution_forward::desc(kind, algo, src, p.wei(tag::any), dst, p.strides(), p.dilates(),
                                              p.padL(), p.padR());
  return convolution_forward::primitive_desc(d, engine());
}

// Scratch arrays shared by every plan (calls run one at a time): the filter and the two activations in the
// primitive's layouts. Per-plan copies held a blocked filter per op and geometry (3x the parameters, 135 MB for
// ResNet18) and blocked activations per geometry, for nothing between calls.
struct Scratch {
  std::vector<float> wei, a, b;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}
float* room(std::vector<float>& v, const memory::desc& md) {
  size_t n = md.get_size() / sizeof(float);
  if (v.size() < n) v.resize(n);
  return v.data();
}

// One cached plan per op and shape: the primitive, and reorders where its layouts differ from tfjs's.
// Activations: forward src -> dst, backward data diff_dst -> diff_src, backward filter src and diff_dst (both in).
struct Plan {
  primitive prim;
  memory::desc weiMd;  // the layout the primitive wants for its filter (or diff filter)
  bool reorderWei = false;
  reorder weiReorder;  // hwio -> weiMd (forward, backward data) or weiMd -> hwio (backward filter)
  bool reorderIn = false, reorderOut = false;  // the activation going in / coming out needs a reorder
  memory::desc inMd, outMd, in2Md;             // their layouts (in2: backward filter's diff_dst)
  reorder inReorder, outReorder, in2Reorder;
};

std::mutex cacheMutex;
std::unordered_map<std::string, std::unique_ptr<Plan>> cache;
std::unordered_map<std::string, std::unique_ptr<matmul>> pointwise;

reorder reorderOf(const memory::desc& from, const memory::desc& to) {
  return reorder(reorder::primitive_desc(engine(), from, engine(), to));
}

Plan& plan(const ConvParams& p, int op) {
  static const char* names[] = {"fwd", "bwd_data", "bwd_wei"};
  std::string k = p.key(names[op]);
  std::lock_guard<std::mutex> lock(cacheMutex);
  auto it = cache.find(k);
  if (it != cache.end()) return *it->second;
  auto pl = std::make_unique<Plan>();
  const bool any = useBlocked(p);
  auto fpd = forwardPd(p, any);
  memory::desc user = p.wei(tag::hwio);
  memory::desc src = any ? p.src(tag::any) : p.src(), dst = any ? p.dst(tag::any) : p.dst();
  memory::desc userIn = p.src(), userOut = p.dst();
  if (op == 0) {
    pl->prim = convolution_forward(fpd);
    pl->weiMd = fpd.weights_desc();
    pl->inMd = fpd.src_desc();
    pl->outMd = fpd.dst_desc();
  } else if (op == 1) {
    convolution_backward_data::desc d(algorithm::convolution_direct, src, p.wei(tag::any), dst, p.strides(),
                                      p.dilates(), p.padL(), p.padR());
    convolution_backward_data::primitive_desc pd(d, engine(), fpd);
    pl->prim = convolution_backward_data(pd);
    pl->weiMd = pd.weights_desc();
    pl->inMd = pd.diff_dst_desc();
    pl->outMd = pd.diff_src_desc();
    std::swap(userIn, userOut);
  } else {
    convolution_backward_weights::desc d(algorithm::convolution_direct, src, p.wei(tag::any), dst, p.strides(),
                                         p.dilates(), p.padL(), p.padR());
    convolution_backward_weights::primitive_desc pd(d, engine(), fpd);
    pl->prim = convolution_backward_weights(pd);
    pl->weiMd = pd.diff_weights_desc();
    pl->inMd = pd.src_desc();
    pl->in2Md = pd.diff_dst_desc();
    if (pl->in2Md != p.dst()) pl->in2Reorder = reorderOf(p.dst(), pl->in2Md);
  }
  pl->reorderIn = pl->inMd != userIn;
  if (pl->reorderIn) pl->inReorder = reorderOf(userIn, pl->inMd);
  pl->reorderOut = op != 2 && pl->outMd != userOut;
  if (pl->reorderOut) pl->outReorder = reorderOf(pl->outMd, userOut);
  pl->reorderWei = pl->weiMd != user;
  if (pl->reorderWei) pl->weiReorder = op == 2 ? reorderOf(pl->weiMd, user) : reorderOf(user, pl->weiMd);
  auto& ref = *pl;
  cache.emplace(k, std::move(pl));
  return ref;
}

// An activation in the layout the plan wants: the tfjs array itself, or its reorder into a scratch array.
memory activationIn(bool reorderIt, reorder& r, const memory::desc& user, const memory::desc& md, float* data,
                    std::vector<float>& buf) {
  memory u(user, engine(), data);
  if (!reorderIt) return u;
  memory m(md, engine(), room(buf, md));
  r.execute(stream(), u, m);
  return m;
}

size_t sz(int64_t a, int64_t b, int64_t c, int64_t d) { return static_cast<size_t>(a * b * c * d); }

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN convolution failed: ") + e.what());
  }
  return info.Env().Undefined();
}

// The filter as the plan's primitive wants it: the HWIO array itself, or its reorder into the scratch filter.
memory plannedWeights(Plan& pl, const ConvParams& p, float* w) {
  memory wu(p.wei(tag::hwio), engine(), w);
  if (!pl.reorderWei) return wu;
  memory wm(pl.weiMd, engine(), room(scratch().wei, pl.weiMd));
  pl.weiReorder.execute(stream(), wu, wm);
  return wm;
}

// As the Relu kernel: NaN stays, -0 becomes +0.
void reluInPlace(float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] <= 0.f ? 0.f : y[i];
}

// conv2dPackFilter(filter, params): the HWIO filter reordered into the layout the forward primitive for params
// wants, as a new Float32Array to pass to conv2d as packed; null when the primitive takes HWIO as it is.
Napi::Value Conv2DPackFilter(const Napi::CallbackInfo& info) {
  ConvParams p(ints(info, 1, kParams));
  float* w = f32(info, 0, sz(p.KH, p.KW, p.C, p.O));
  Napi::Value result = info.Env().Null();
  guarded(info, [&] {
    Plan& pl = plan(p, 0);
    if (!pl.reorderWei) return;
    auto packed = Napi::Float32Array::New(info.Env(), pl.weiMd.get_size() / sizeof(float));
    memory from(p.wei(tag::hwio), engine(), w), to(pl.weiMd, engine(), packed.Data());
    pl.weiReorder.execute(stream(), from, to);
    stream().wait();
    result = packed;
  });
  return result;
}

// conv2d(x, filter, y, params, packed, bias): packed = true when filter came from conv2dPackFilter with the same
// params; bias (O values) when params ask for one.
Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  ConvParams p(ints(info, 3, kParams));
  const bool packed = flag(info, 4);
  float* b = p.bias ? f32(info, 5, static_cast<size_t>(p.O)) : nullptr;
  float* x = f32(info, 0, sz(p.N, p.H, p.W, p.C));
  float* y = f32(info, 2, sz(p.N, p.OH, p.OW, p.O));
  return guarded(info, [&] {
    Plan& pl = plan(p, 0);
    memory wm = packed ? memory(pl.weiMd, engine(), f32(info, 1, pl.weiMd.get_size() / sizeof(float)))
                       : plannedWeights(pl, p, f32(info, 1, sz(p.KH, p.KW, p.C, p.O)));
    Scratch& sc = scratch();
    memory xm = activationIn(pl.reorderIn, pl.inReorder, p.src(), pl.inMd, x, sc.a);
    memory yu(p.dst(), engine(), y);
    memory ym = pl.reorderOut ? memory(pl.outMd, engine(), room(sc.b, pl.outMd)) : yu;
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
    if (b) args.emplace(DNNL_ARG_BIAS, memory(p.biasMd(), engine(), b));
    pl.prim.execute(stream(), args);
    if (pl.reorderOut) pl.outReorder.execute(stream(), ym, yu);
    stream().wait();
    if (p.relu) reluInPlace(y, p.N * p.OH * p.OW * p.O);
  });
}

// conv2dBackpropInput(dy, filter, dx, params)
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  ConvParams p(ints(info, 3, kParams));
  float* dy = f32(info, 0, sz(p.N, p.OH, p.OW, p.O));
  float* w = f32(info, 1, sz(p.KH, p.KW, p.C, p.O));
  float* dx = f32(info, 2, sz(p.N, p.H, p.W, p.C));
  return guarded(info, [&] {
    Plan& pl = plan(p, 1);
    memory wm = plannedWeights(pl, p, w);
    Scratch& sc = scratch();
    memory dym = activationIn(pl.reorderIn, pl.inReorder, p.dst(), pl.inMd, dy, sc.a);
    memory dxu(p.src(), engine(), dx);
    memory dxm = pl.reorderOut ? memory(pl.outMd, engine(), room(sc.b, pl.outMd)) : dxu;
    pl.prim.execute(stream(), {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dxm}});
    if (pl.reorderOut) pl.outReorder.execute(stream(), dxm, dxu);
    stream().wait();
  });
}

// oneDNN 2.6's jit_1x1 backward-weights kernel overruns its scratchpad for strided 1x1 convolutions with few input
// channels (found with guard bytes: N1 H32 C8 O16 stride 2 writes ~4 KB past it). Those layers (ResNet shortcuts)
// take this route instead: gather the strided input pixels Xs [P, C], then dW[C, O] = Xs^T dY, one matmul.
bool stridedPointwise(const ConvParams& p) { return p.KH == 1 && p.KW == 1 && (p.sh > 1 || p.sw > 1); }

void pointwiseFilterGrad(const ConvParams& p, const float* x, const float* dy, float* dw) {
  const int64_t P = p.N * p.OH * p.OW;
  std::vector<float> xs(static_cast<size_t>(P * p.C));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < P; ++i) {
    int64_t n = i / (p.OH * p.OW), oy = i / p.OW % p.OH, ox = i % p.OW;
    int64_t y = oy * p.sh - p.pt, xx = ox * p.sw - p.pl;
    float* row = xs.data() + i * p.C;
    if (y < 0 || y >= p.H || xx < 0 || xx >= p.W) {
      std::fill(row, row + p.C, 0.f);  // a padded pixel contributes nothing
    } else {
      const float* src = x + ((n * p.H + y) * p.W + xx) * p.C;
      std::copy(src, src + p.C, row);
    }
  }
  memory::desc a({p.C, P}, dt::f32, memory::dims{1, p.C}), b({P, p.O}, dt::f32, memory::dims{p.O, 1}),
      c({p.C, p.O}, dt::f32, memory::dims{p.O, 1});
  std::string k = p.key("pointwise_wei");
  matmul* mm;
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = pointwise.find(k);
    if (it == pointwise.end())
      it = pointwise.emplace(k, std::make_unique<matmul>(matmul::primitive_desc(matmul::desc(a, b, c), engine())))
               .first;
    mm = it->second.get();
  }
  mm->execute(stream(), {{DNNL_ARG_SRC, memory(a, engine(), xs.data())},
                         {DNNL_ARG_WEIGHTS, memory(b, engine(), const_cast<float*>(dy))},
                         {DNNL_ARG_DST, memory(c, engine(), dw)}});
  stream().wait();
}

// conv2dBackpropFilter(x, dy, dw, params)
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  ConvParams p(ints(info, 3, kParams));
  float* x = f32(info, 0, sz(p.N, p.H, p.W, p.C));
  float* dy = f32(info, 1, sz(p.N, p.OH, p.OW, p.O));
  float* dw = f32(info, 2, sz(p.KH, p.KW, p.C, p.O));
  return guarded(info, [&] {
    if (stridedPointwise(p)) return pointwiseFilterGrad(p, x, dy, dw);
    Plan& pl = plan(p, 2);
    Scratch& sc = scratch();
    memory xm = activationIn(pl.reorderIn, pl.inReorder, p.src(), pl.inMd, x, sc.a);
    memory dym = activationIn(pl.in2Md != p.dst(), pl.in2Reorder, p.dst(), pl.in2Md, dy, sc.b);
    memory wu(p.wei(tag::hwio), engine(), dw);
    memory wm = pl.reorderWei ? memory(pl.weiMd, engine(), room(sc.wei, pl.weiMd)) : wu;
    pl.prim.execute(stream(), {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_DIFF_WEIGHTS, wm}});
    if (pl.reorderWei) pl.weiReorder.execute(stream(), wm, wu);
    stream().wait();
  });
}

}  // namespace

static void initConv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2D));
  exports.Set("conv2dPackFilter", Napi::Function::New(env, Conv2DPackFilter));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2DBackpropInput));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2DBackpropFilter));
}

static const Register registered(initConv);

}  // namespace gs
