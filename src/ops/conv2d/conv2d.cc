// 2-D convolution forward and both backward passes over oneDNN, in tfjs layouts: NHWC activations, HWIO filters.
// Filters and (see useBlocked) activations go to whatever blocked layouts oneDNN prefers, reordered on the way in or
// out of each call.
#include "common.h"
#include <memory>
#include <mutex>
#include <unordered_map>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
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

// Winograd F(4x4, 3x3): oneDNN 2.6 has it for AVX-512 only (jit_wino_4x3; elsewhere creating it fails and the
// plan stays direct). On a Zen 4 it took 0.2-0.65 of the direct kernel's time, forward and both gradients, on every
// 3x3 stride-1 layer of ResNet18 and the spiking models' patch stems with at least 32 channels in and out and 512
// output pixels over the batch (N OH OW), and up to 12x longer below that (its filter transform is paid per call,
// its savings per pixel: 512 channels at 4x4 need a batch of 32). Swept over batches 1-128 at those shapes. It
// rounds differently from the direct kernel (relative difference about 1e-6). GEOSPIKE_CONV_ALGO=direct turns it off
// (for comparisons).
bool winogradAllowed() {
  static const bool off = [] {
    const char* v = std::getenv("GEOSPIKE_CONV_ALGO");
    return v != nullptr && std::string(v) == "direct";
  }();
  return !off;
}
bool winogradPays(const ConvParams& p, int op) {
  const bool fits = p.KH == 3 && p.KW == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.pt <= 1 &&
                    p.pb <= 1 && p.pl <= 1 && p.pr <= 1 && p.C % 16 == 0 && p.O % 16 == 0;
  if (!fits || p.C < 32 || p.O < 32 || p.N * p.OH * p.OW < 512) return false;
  // A 4x4 output is one tile per image: forward and input gradient paid only at 512 channels (0.6-0.85 of direct
  // at batches 32-64; 1.0-1.7 at 128-256 channels), the filter gradient at every width (0.5-0.7).
  return op == 2 || p.OH * p.OW > 16 || (p.C >= 512 && p.O >= 512);
}

// A fused convolution's bias runs inside the primitive. Its ReLU does not: oneDNN's ReLU (a max with 0) turns NaN
// into 0, where tfjs's keeps NaN, and a NaN must reach the loss (a NaN running statistic must stop a run).
convolution_forward::primitive_desc forwardPd(const ConvParams& p, bool any, algorithm algo,
                                              const primitive_attr& attr = primitive_attr()) {
  auto src = any ? p.src(tag::any) : p.src(), dst = any ? p.dst(tag::any) : p.dst();
  const auto kind = prop_kind::forward_training;
  auto d = p.bias ? convolution_forward::desc(kind, algo, src, p.wei(tag::any), p.biasMd(), dst, p.strides(),
                                              p.dilates(), p.padL(), p.padR())
                  : convolution_forward::desc(kind, algo, src, p.wei(tag::any), dst, p.strides(), p.dilates(),
                                              p.padL(), p.padR());
  return convolution_forward::primitive_desc(d, attr, engine());
}

// The two backward primitive descriptors, hinted by the forward one; shared by the plans and the scratchpad query.
convolution_backward_data::primitive_desc backwardDataPd(const ConvParams& p, bool any, algorithm algo,
                                                         const convolution_forward::primitive_desc& fpd,
                                                         const primitive_attr& attr = primitive_attr()) {
  auto src = any ? p.src(tag::any) : p.src(), dst = any ? p.dst(tag::any) : p.dst();
  convolution_backward_data::desc d(algo, src, p.wei(tag::any), dst, p.strides(), p.dilates(), p.padL(), p.padR());
  return convolution_backward_data::primitive_desc(d, attr, engine(), fpd);
}
convolution_backward_weights::primitive_desc backwardWeightsPd(const ConvParams& p, bool any, algorithm algo,
                                                               const convolution_forward::primitive_desc& fpd,
                                                               const primitive_attr& attr = primitive_attr()) {
  auto src = any ? p.src(tag::any) : p.src(), dst = any ? p.dst(tag::any) : p.dst();
  convolution_backward_weights::desc d(algo, src, p.wei(tag::any), dst, p.strides(), p.dilates(), p.padL(),
                                       p.padR());
  return convolution_backward_weights::primitive_desc(d, attr, engine(), fpd);
}

// The scratchpad a Winograd plan would need (oneDNN keeps one, as large as the largest any primitive has needed, for
// the life of the process). It holds transformed copies of the filter: 93-131 MB for a 512-channel filter gradient,
// which alone put ResNet18's training peak RSS over PyTorch's. Plans that need more than this stay direct.
constexpr size_t kWinogradScratchpad = size_t(64) << 20;
size_t winogradScratchpad(const ConvParams& p, int op) {
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);  // so the primitive descriptor reports the size
  const auto algo = algorithm::convolution_winograd;
  auto fpd = forwardPd(p, true, algo, attr);
  if (op == 0) return fpd.scratchpad_desc().get_size();
  if (op == 1) return backwardDataPd(p, true, algo, fpd, attr).scratchpad_desc().get_size();
  return backwardWeightsPd(p, true, algo, fpd, attr).scratchpad_desc().get_size();
}

// Scratch arrays shared by every plan (calls run one at a time): the filter and the two activations in the
// primitive's layouts. Per-plan copies held a blocked filter per op and geometry (3x the parameters, 135 MB for
// ResNet18) and blocked activations per geometry, for nothing between calls.
// 64-byte aligned: the Winograd filter-gradient kernel faults on anything less (oneDNN 2.6; found with an offset
// buffer), and full cache lines suit every kernel.
template <typename T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <typename U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* q, size_t) { ::operator delete(q, std::align_val_t(64)); }
  bool operator==(const Aligned64&) const { return true; }
  bool operator!=(const Aligned64&) const { return false; }
};
using Buffer = std::vector<float, Aligned64<float>>;
bool aligned64(const void* q) { return reinterpret_cast<uintptr_t>(q) % 64 == 0; }

struct Scratch {
  Buffer wei, a, b;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}
float* room(Buffer& v, const memory::desc& md) {
  size_t n = md.get_size() / sizeof(float);
  if (v.size() < n) v.resize(n);
  return v.data();
}

// One cached plan per op and shape: the primitive, and reorders where its layouts differ from tfjs's.
// Activations: forward src -> dst, backward data diff_dst -> diff_src, backward filter src and diff_dst (both in).
struct Plan {
  primitive prim;
  bool winograd = false;  // every array it reads or writes must be 64-byte aligned
  memory::desc weiMd;  // the layout the primitive wants for its filter (or diff filter)
  bool reorderWei = false;
  reorder weiReorder;  // hwio -> weiMd (forward, backward data) or weiMd -> hwio (backward filter)
  bool reorderIn = false, reorderOut = false;  // the activation going in / coming out needs a reorder
  bool reorderIn2 = false;                     // backward filter's diff_dst needs one
  memory::desc inMd, outMd, in2Md;             // their layouts (in2: backward filter's diff_dst)
  reorder inReorder, outReorder, in2Reorder;
};

std::mutex cacheMutex;
std::unordered_map<std::string, std::unique_ptr<Plan>> cache;
std::unordered_map<std::string, std::unique_ptr<matmul>> pointwise;

// Whether a layout the primitive wants is the tfjs array byte for byte: NHWC itself, or a blocked layout whose one
// channel block holds every channel (nChw16c at 16 channels), where the reorder in or out was a plain copy (a fifth
// of resnet18-w16's reorder time, its 16-channel stage at 32x32).
bool sameBytes(const memory::desc& md, const memory::desc& nhwc) {
  if (md == nhwc) return true;
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.ndims != 4 || d.offset0 != 0 || d.extra.flags != 0) return false;
  for (int i = 0; i < 4; ++i)
    if (d.padded_dims[i] != d.dims[i] || d.padded_offsets[i] != 0) return false;
  const auto& b = d.format_desc.blocking;
  const int64_t C = d.dims[1], H = d.dims[2], W = d.dims[3];
  return nhwc.data.dims[1] == C && b.inner_nblks == 1 && b.inner_idxs[0] == 1 && b.inner_blks[0] == C &&
         b.strides[0] == C * H * W && b.strides[2] == W * C && b.strides[3] == C;
}

reorder reorderOf(const memory::desc& from, const memory::desc& to) {
  return reorder(reorder::primitive_desc(engine(), from, engine(), to));
}

std::unique_ptr<Plan> buildPlan(const ConvParams& p, int op, algorithm algo) {
  auto pl = std::make_unique<Plan>();
  pl->winograd = algo == algorithm::convolution_winograd;
  const bool any = useBlocked(p);
  auto fpd = forwardPd(p, any, algo);
  memory::desc user = p.wei(tag::hwio);
  memory::desc userIn = p.src(), userOut = p.dst();
  if (op == 0) {
    pl->prim = convolution_forward(fpd);
    pl->weiMd = fpd.weights_desc();
    pl->inMd = fpd.src_desc();
    pl->outMd = fpd.dst_desc();
  } else if (op == 1) {
    auto pd = backwardDataPd(p, any, algo, fpd);
    pl->prim = convolution_backward_data(pd);
    pl->weiMd = pd.weights_desc();
    pl->inMd = pd.diff_dst_desc();
    pl->outMd = pd.diff_src_desc();
    std::swap(userIn, userOut);
  } else {
    auto pd = backwardWeightsPd(p, any, algo, fpd);
    pl->prim = convolution_backward_weights(pd);
    pl->weiMd = pd.diff_weights_desc();
    pl->inMd = pd.src_desc();
    pl->in2Md = pd.diff_dst_desc();
    pl->reorderIn2 = !sameBytes(pl->in2Md, p.dst());
    if (pl->reorderIn2) pl->in2Reorder = reorderOf(p.dst(), pl->in2Md);
  }
  pl->reorderIn = !sameBytes(pl->inMd, userIn);
  if (pl->reorderIn) pl->inReorder = reorderOf(userIn, pl->inMd);
  pl->reorderOut = op != 2 && !sameBytes(pl->outMd, userOut);
  if (pl->reorderOut) pl->outReorder = reorderOf(pl->outMd, userOut);
  pl->reorderWei = pl->weiMd != user;
  if (pl->reorderWei) pl->weiReorder = op == 2 ? reorderOf(pl->weiMd, user) : reorderOf(user, pl->weiMd);
  return pl;
}

// A Winograd plan only where every array reaches it through our aligned scratch (tfjs's arrays are not aligned).
bool throughScratch(const Plan& pl, int op) {
  return pl.reorderIn && pl.reorderWei && (op == 2 ? pl.reorderIn2 : pl.reorderOut);
}

std::unique_ptr<Plan> choosePlan(const ConvParams& p, int op) {
  if (winogradAllowed() && useBlocked(p) && winogradPays(p, op)) {
    try {
      if (winogradScratchpad(p, op) > kWinogradScratchpad) return buildPlan(p, op, algorithm::convolution_direct);
      auto pl = buildPlan(p, op, algorithm::convolution_winograd);
      if (throughScratch(*pl, op)) return pl;
    } catch (const dnnl::error&) {
      // not on this CPU (oneDNN has it for AVX-512 only): direct below
    }
  }
  return buildPlan(p, op, algorithm::convolution_direct);
}

// Cache-key prefixes by op (0 forward, 1 input gradient, 2 filter gradient).
constexpr const char* kOpNames[] = {"fwd", "bwd_data", "bwd_wei"};

Plan& plan(const ConvParams& p, int op) {
  std::string k = p.key(kOpNames[op]);
  std::lock_guard<std::mutex> lock(cacheMutex);
  auto it = cache.find(k);
  if (it != cache.end()) return *it->second;
  return *cache.emplace(k, choosePlan(p, op)).first->second;
}

// Images per oneDNN call. A Winograd plan's scratchpad grows with the batch (its transformed activations), so a
// large batch can pass kWinogradScratchpad where a slice of it does not: then the batch runs in slices of the
// largest power of two images whose Winograd plan fits (the rest in one shorter slice), rather than direct in one
// call. The spiking models' patch stems meet this in training (T x batch = 256 images): on a Zen 4, slices of 16-64
// took 0.41-0.46 of the direct kernel's time for the input gradients and the dense filter gradient of
// spikformer-4-384's stem (`bench --profile shape`), which trained 16-18% faster for it, the SDT too.
int64_t sliceOf(const ConvParams& p, int op) {
  if (!winogradAllowed() || !useBlocked(p) || !winogradPays(p, op)) return p.N;
  static std::unordered_map<std::string, int64_t> slices;
  const std::string k = p.key(kOpNames[op]);
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = slices.find(k);
    if (it != slices.end()) return it->second;
  }
  int64_t n = p.N;
  try {
    ConvParams q = p;
    if (p.N > 1 && winogradScratchpad(q, op) > kWinogradScratchpad) {
      // from the largest power of two below the batch, halving while Winograd still pays
      for (q.N = int64_t(1) << (63 - __builtin_clzll(p.N - 1)); q.N > 1 && winogradPays(q, op); q.N /= 2) {
        if (winogradScratchpad(q, op) <= kWinogradScratchpad) {
          n = q.N;
          break;
        }
      }
    }
  } catch (const dnnl::error&) {
    n = p.N;  // no Winograd on this CPU
  }
  std::lock_guard<std::mutex> lock(cacheMutex);
  return slices.emplace(k, n).first->second;
}

// p with the batch of its first slice: the plan every full slice uses.
ConvParams firstSlice(const ConvParams& p, int op) {
  ConvParams q = p;
  q.N = sliceOf(p, op);
  return q;
}

// Runs f(q, first) over the batch in slices of sliceOf(p, op) images: q is p with N the slice's, first its first
// image.
template <typename F>
void bySlice(const ConvParams& p, int op, F f) {
  const int64_t s = sliceOf(p, op);
  for (int64_t n0 = 0; n0 < p.N; n0 += s) {
    ConvParams q = p;
    q.N = std::min(s, p.N - n0);
    f(q, n0);
  }
}

// An activation in the layout the plan wants: the tfjs array itself, or its reorder into a scratch array.
memory activationIn(bool reorderIt, reorder& r, const memory::desc& user, const memory::desc& md, float* data,
                    Buffer& buf) {
  if (!reorderIt) return memory(md, engine(), data);  // the same bytes (sameBytes), read as the plan's layout
  memory u(user, engine(), data);
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

// A filter from conv2dPackFilter, copied into aligned scratch where a Winograd plan needs it and it is not.
memory packedWeights(const Plan& pl, float* w, Buffer& buf) {
  if (!pl.winograd || aligned64(w)) return memory(pl.weiMd, engine(), w);
  float* copy = room(buf, pl.weiMd);
  std::copy(w, w + pl.weiMd.get_size() / sizeof(float), copy);
  return memory(pl.weiMd, engine(), copy);
}

// A packed filter reordered into another plan's layout, in scratch.
memory repacked(const memory::desc& from, const memory::desc& to, float* w, Buffer& buf) {
  memory src(from, engine(), w), dst(to, engine(), room(buf, to));
  reorderOf(from, to).execute(stream(), src, dst);
  return dst;
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
    Plan& pl = plan(firstSlice(p, 0), 0);
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
    // A packed filter is in the layout of the first slice's plan (conv2dPackFilter); a shorter last slice's plan
    // may want another, reordered into scratch from the packed one.
    const memory::desc* packedMd = nullptr;
    bySlice(p, 0, [&](const ConvParams& q, int64_t n0) {
      Plan& pl = plan(q, 0);
      Scratch& sc = scratch();
      packedMd = packedMd ? packedMd : &pl.weiMd;
      float* w = f32(info, 1, packed ? packedMd->get_size() / sizeof(float) : sz(p.KH, p.KW, p.C, p.O));
      memory wm = !packed                  ? plannedWeights(pl, q, w)
                  : *packedMd == pl.weiMd ? packedWeights(pl, w, sc.wei)
                                          : repacked(*packedMd, pl.weiMd, w, sc.wei);
      memory xm = activationIn(pl.reorderIn, pl.inReorder, q.src(), pl.inMd, x + n0 * p.H * p.W * p.C, sc.a);
      float* yq = y + n0 * p.OH * p.OW * p.O;
      memory yu(q.dst(), engine(), yq);
      memory ym(pl.outMd, engine(), pl.reorderOut ? room(sc.b, pl.outMd) : yq);
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
      if (b) args.emplace(DNNL_ARG_BIAS, memory(p.biasMd(), engine(), b));
      pl.prim.execute(stream(), args);
      if (pl.reorderOut) pl.outReorder.execute(stream(), ym, yu);
      stream().wait();
    });
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
    bySlice(p, 1, [&](const ConvParams& q, int64_t n0) {
      Plan& pl = plan(q, 1);
      memory wm = plannedWeights(pl, q, w);
      Scratch& sc = scratch();
      float* dyq = dy + n0 * p.OH * p.OW * p.O;
      float* dxq = dx + n0 * p.H * p.W * p.C;
      memory dym = activationIn(pl.reorderIn, pl.inReorder, q.dst(), pl.inMd, dyq, sc.a);
      memory dxu(q.src(), engine(), dxq);
      memory dxm(pl.outMd, engine(), pl.reorderOut ? room(sc.b, pl.outMd) : dxq);
      pl.prim.execute(stream(), {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dxm}});
      if (pl.reorderOut) pl.outReorder.execute(stream(), dxm, dxu);
      stream().wait();
    });
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
    const size_t nw = sz(p.KH, p.KW, p.C, p.O);
    thread_local Buffer part;  // a later slice's filter gradient, added into dw
    if (sliceOf(p, 2) < p.N && part.size() < nw) part.resize(nw);
    bySlice(p, 2, [&](const ConvParams& q, int64_t n0) {
      Plan& pl = plan(q, 2);
      Scratch& sc = scratch();
      float* out = n0 == 0 ? dw : part.data();
      memory xm = activationIn(pl.reorderIn, pl.inReorder, q.src(), pl.inMd, x + n0 * p.H * p.W * p.C, sc.a);
      memory dym =
          activationIn(pl.reorderIn2, pl.in2Reorder, q.dst(), pl.in2Md, dy + n0 * p.OH * p.OW * p.O, sc.b);
      memory wu(q.wei(tag::hwio), engine(), out);
      memory wm = pl.reorderWei ? memory(pl.weiMd, engine(), room(sc.wei, pl.weiMd)) : wu;
      pl.prim.execute(stream(), {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_DIFF_WEIGHTS, wm}});
      if (pl.reorderWei) pl.weiReorder.execute(stream(), wm, wu);
      stream().wait();
      if (n0 > 0)
        for (size_t i = 0; i < nw; ++i) dw[i] += out[i];
    });
  });
}

// The op argument at i: 0 forward, 1 input gradient, 2 filter gradient.
int opArg(const Napi::CallbackInfo& info, size_t i) {
  const int64_t op = num(info, i);
  if (op < 0 || op > 2) throw Napi::RangeError::New(info.Env(), "op must be 0, 1 or 2");
  return static_cast<int>(op);
}

// conv2dAlgorithm(params, op): "winograd" or "direct", the plan's algorithm for op (0 forward, 1 input gradient,
// 2 filter gradient); for tests and benchmarks.
Napi::Value Conv2DAlgorithm(const Napi::CallbackInfo& info) {
  ConvParams p(ints(info, 0, kParams));
  const int op = opArg(info, 1);
  std::string name;
  guarded(info, [&] { name = plan(firstSlice(p, op), op).winograd ? "winograd" : "direct"; });
  return Napi::String::New(info.Env(), name);
}

// conv2dSlice(params, op): images per oneDNN call for op (the batch, or the slice of it sliceOf chose).
Napi::Value Conv2DSlice(const Napi::CallbackInfo& info) {
  ConvParams p(ints(info, 0, kParams));
  const int op = opArg(info, 1);
  int64_t n = p.N;
  guarded(info, [&] { n = sliceOf(p, op); });
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

}  // namespace

static void initConv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2D));
  exports.Set("conv2dPackFilter", Napi::Function::New(env, Conv2DPackFilter));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2DBackpropInput));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2DBackpropFilter));
  exports.Set("conv2dAlgorithm", Napi::Function::New(env, Conv2DAlgorithm));
  exports.Set("conv2dSlice", Napi::Function::New(env, Conv2DSlice));
}

static const Register registered(initConv);

}  // namespace gs
