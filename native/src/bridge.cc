// rankshield native bridge: the only C++ in the project.
//
// It exposes libtorch to JavaScript through a deliberately small surface:
//   * tensors live in a C++ table and JS holds integer handles (creating a JS
//     wrapper per result was measured as the main per-call cost, and JS-pinned
//     allocations between tensor buffers fragmented glibc's heap);
//   * ONE generic operator call: an op is looked up once in the dispatcher by
//     name + overload, JS arguments are converted to IValues by the op's
//     schema, and the op is called boxed (autograd included);
//   * autograd entry points, typed-array transfer, threads, seeding;
//   * ONE generic entry for TorchScript modules (load, call a method,
//     parameters/buffers as tensor handles, train/eval, save).
// Every libtorch exception becomes a JS Error carrying libtorch's message.

#include <napi.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#ifdef RANKSHIELD_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#endif
#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>
#include <ATen/ops/empty.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/version.h>
#ifdef RANKSHIELD_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <thread>
#endif
#ifdef RANKSHIELD_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cmath>
#include <sstream>

#include <cstring>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------- tensor table

std::vector<at::Tensor> g_slots;
std::vector<int32_t> g_free;
int64_t g_live = 0;

int32_t store(at::Tensor t) {
  int32_t h;
  if (!g_free.empty()) {
    h = g_free.back();
    g_free.pop_back();
    g_slots[h] = std::move(t);
  } else {
    h = static_cast<int32_t>(g_slots.size());
    g_slots.push_back(std::move(t));
  }
  ++g_live;
  return h;
}

const at::Tensor& fetch(int64_t h) {
  if (h < 0 || h >= static_cast<int64_t>(g_slots.size()) || !g_slots[h].defined()) {
    throw std::invalid_argument("invalid or disposed tensor handle " + std::to_string(h));
  }
  return g_slots[h];
}

int32_t handleOf(const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throw std::invalid_argument(what + ": expected a tensor");
  return v.As<Napi::Number>().Int32Value();
}

// ---------------------------------------------------------------- error bridge

// Runs `body`, turning libtorch / std exceptions into JS exceptions.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F body) {
  Napi::Env env = info.Env();
  try {
    return body(env);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// ---------------------------------------------------------------- op registry

std::vector<c10::OperatorHandle> g_ops;

// ---------------------------------------------------------------- JS -> IValue

int64_t toInt(const Napi::Value& v, const std::string& what) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) throw std::invalid_argument(what + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) {
    throw std::invalid_argument(what + ": expected an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

double toDouble(const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throw std::invalid_argument(what + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::vector<int64_t> toIntList(const Napi::Value& v, c10::optional<int32_t> n, const std::string& what) {
  if (v.IsNumber()) {  // like Python: a single number stands for int[N] filled with it
    return std::vector<int64_t>(n.value_or(1), toInt(v, what));
  }
  if (!v.IsArray()) throw std::invalid_argument(what + ": expected an int or an array of ints");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = toInt(a.Get(i), what);
  return out;
}

c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const c10::TypePtr& realType,
                     c10::optional<int32_t> n, const std::string& what) {
  using K = c10::TypeKind;
  switch (type->kind()) {
    case K::OptionalType: {
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      auto inner = type->castRaw<c10::OptionalType>()->getElementType();
      auto innerReal = realType->kind() == K::OptionalType
                           ? realType->castRaw<c10::OptionalType>()->getElementType()
                           : inner;
      return toIValue(v, inner, innerReal, n, what);
    }
    case K::TensorType:
      return fetch(handleOf(v, what));
    case K::IntType:
    case K::SymIntType:
      return toInt(v, what);
    case K::FloatType:
      return toDouble(v, what);
    case K::BoolType:
      if (!v.IsBoolean()) throw std::invalid_argument(what + ": expected a boolean");
      return v.As<Napi::Boolean>().Value();
    case K::NumberType:  // at::Scalar
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      if (v.IsNumber()) {
        double d = v.As<Napi::Number>().DoubleValue();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
          return c10::Scalar(static_cast<int64_t>(d));
        }
        return c10::Scalar(d);
      }
      throw std::invalid_argument(what + ": expected a number");
    case K::StringType:
      if (!v.IsString()) throw std::invalid_argument(what + ": expected a string");
      return v.As<Napi::String>().Utf8Value();
    case K::DeviceObjType:
      if (!v.IsString()) throw std::invalid_argument(what + ": expected a device string");
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case K::GeneratorType:
      return c10::IValue();  // the global default generator (seeded by manualSeed)
    case K::ListType: {
      auto elem = type->castRaw<c10::ListType>()->getElementType();
      switch (elem->kind()) {
        case K::IntType:
        case K::SymIntType:
          return toIntList(v, n, what);
        case K::FloatType: {
          if (v.IsNumber()) return std::vector<double>(n.value_or(1), toDouble(v, what));
          if (!v.IsArray()) throw std::invalid_argument(what + ": expected an array of numbers");
          auto a = v.As<Napi::Array>();
          std::vector<double> out(a.Length());
          for (uint32_t i = 0; i < a.Length(); ++i) out[i] = toDouble(a.Get(i), what);
          return out;
        }
        case K::BoolType: {
          if (!v.IsArray()) throw std::invalid_argument(what + ": expected an array of booleans");
          auto a = v.As<Napi::Array>();
          c10::List<bool> out;
          for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).ToBoolean().Value());
          return out;
        }
        case K::TensorType: {
          if (!v.IsArray()) throw std::invalid_argument(what + ": expected an array of tensors");
          auto a = v.As<Napi::Array>();
          std::vector<at::Tensor> out;
          out.reserve(a.Length());
          for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(fetch(handleOf(a.Get(i), what)));
          return out;
        }
        case K::OptionalType: {  // Tensor?[] (advanced indexing)
          if (!v.IsArray()) throw std::invalid_argument(what + ": expected an array of tensors or nulls");
          auto a = v.As<Napi::Array>();
          c10::List<c10::optional<at::Tensor>> out;
          for (uint32_t i = 0; i < a.Length(); ++i) {
            Napi::Value e = a.Get(i);
            if (e.IsNull() || e.IsUndefined()) {
              out.push_back(c10::nullopt);
            } else {
              out.push_back(fetch(handleOf(e, what)));
            }
          }
          return out;
        }
        default:
          break;
      }
      throw std::invalid_argument(what + ": unsupported list type " + type->str());
    }
    default:
      break;
  }
  throw std::invalid_argument(what + ": unsupported argument type " + type->str());
}

// ---------------------------------------------------------------- IValue -> JS

Napi::Value fromIValue(Napi::Env env, c10::IValue&& v) {
  if (v.isTensor()) {
    at::Tensor t = std::move(v).toTensor();
    if (!t.defined()) return env.Null();
    return Napi::Number::New(env, store(std::move(t)));
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto list = v.toTensorVector();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, Napi::Number::New(env, store(list[i])));
    return out;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(list[i])));
    return out;
  }
  if (v.isTuple()) {
    auto elems = v.toTupleRef().elements();
    auto out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) out.Set(i, fromIValue(env, c10::IValue(elems[i])));
    return out;
  }
  throw std::invalid_argument("unsupported return type " + v.tagKind());
}

// ---------------------------------------------------------------- exported functions

// opLookup(name, overload) -> op id
Napi::Value OpLookup(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!handle.has_value()) {
      throw std::invalid_argument("unknown operator " + name + (overload.empty() ? "" : "." + overload));
    }
    g_ops.push_back(*handle);
    return Napi::Number::New(env, static_cast<double>(g_ops.size() - 1));
  });
}

// opSchema(id) -> schema string (for error messages and docs)
Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    int64_t id = toInt(info[0], "op id");
    if (id < 0 || id >= static_cast<int64_t>(g_ops.size())) throw std::invalid_argument("unknown op id");
    std::ostringstream s;
    s << g_ops[id].schema();
    return Napi::String::New(env, s.str());
  });
}

// call(opId, args[]) -> result (handle, number, array, null)
Napi::Value Call(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    int64_t id = info[0].As<Napi::Number>().Int64Value();
    if (id < 0 || id >= static_cast<int64_t>(g_ops.size())) throw std::invalid_argument("unknown op id");
    const c10::OperatorHandle& op = g_ops[id];
    const c10::FunctionSchema& schema = op.schema();
    const auto& params = schema.arguments();
    auto args = info[1].As<Napi::Array>();
    if (args.Length() > params.size()) {
      throw std::invalid_argument(schema.name() + ": takes " + std::to_string(params.size()) + " arguments, got " +
                                  std::to_string(args.Length()));
    }
    torch::jit::Stack stack;
    stack.reserve(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const c10::Argument& p = params[i];
      Napi::Value v = i < args.Length() ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
      if (v.IsUndefined()) {
        if (p.default_value().has_value()) {
          stack.push_back(*p.default_value());
          continue;
        }
        if (p.type()->kind() == c10::TypeKind::OptionalType) {
          stack.emplace_back();
          continue;
        }
        throw std::invalid_argument(schema.name() + ": missing argument '" + p.name() + "'");
      }
      stack.push_back(toIValue(v, p.type(), p.real_type(), p.N(), schema.name() + " argument '" + p.name() + "'"));
    }
    op.callBoxed(&stack);
    if (stack.size() == 1) return fromIValue(env, std::move(stack[0]));
    auto out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); ++i) out.Set(i, fromIValue(env, std::move(stack[i])));
    return out;
  });
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    int32_t h = handleOf(info[0], "dispose");
    fetch(h);
    g_slots[h] = at::Tensor();
    g_free.push_back(h);
    --g_live;
    return env.Undefined();
  });
}

Napi::Value LiveCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_live));
}

// fromData(typedArray, shape[], dtype) -> handle (the data is copied)
Napi::Value FromData(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    auto arr = info[0].As<Napi::TypedArray>();
    std::vector<int64_t> shape = toIntList(info[1], c10::nullopt, "shape");
    auto dtype = static_cast<c10::ScalarType>(toInt(info[2], "dtype"));
    int64_t numel = 1;
    for (auto d : shape) {
      if (d < 0) throw std::invalid_argument("shape has a negative dimension");
      numel *= d;
    }
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t bytes = static_cast<size_t>(numel) * t.element_size();
    if (bytes != arr.ByteLength()) {
      throw std::invalid_argument("data has " + std::to_string(arr.ByteLength()) + " bytes but shape and dtype need " +
                                  std::to_string(bytes));
    }
    uint8_t* src = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
    if (bytes > 0) std::memcpy(t.data_ptr(), src, bytes);
    return Napi::Number::New(env, store(std::move(t)));
  });
}

// toData(handle) -> typed array copy of the (contiguous, cpu) values
Napi::Value ToData(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Tensor t = fetch(handleOf(info[0], "toData")).detach().to(at::kCPU).contiguous();
    size_t n = static_cast<size_t>(t.numel());
    size_t bytes = n * t.element_size();
    auto buf = Napi::ArrayBuffer::New(env, bytes);
    if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
    switch (t.scalar_type()) {
      case at::kFloat: return Napi::Float32Array::New(env, n, buf, 0);
      case at::kDouble: return Napi::Float64Array::New(env, n, buf, 0);
      case at::kInt: return Napi::Int32Array::New(env, n, buf, 0);
      case at::kLong: return Napi::TypedArrayOf<int64_t>::New(env, n, buf, 0, napi_bigint64_array);
      case at::kShort: return Napi::Int16Array::New(env, n, buf, 0);
      case at::kChar: return Napi::Int8Array::New(env, n, buf, 0);
      case at::kByte:
      case at::kBool: return Napi::Uint8Array::New(env, n, buf, 0);
      case at::kHalf:
      case at::kBFloat16: return Napi::Uint16Array::New(env, n, buf, 0);
      default: throw std::invalid_argument(std::string("toData: unsupported dtype ") + c10::toString(t.scalar_type()));
    }
  });
}

Napi::Value Meta(const Napi::CallbackInfo& info) {
  // meta(handle) -> [shape, dtype, device, requiresGrad]
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& t = fetch(handleOf(info[0], "meta"));
    auto sizes = t.sizes();
    auto shape = Napi::Array::New(env, sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) shape.Set(i, Napi::Number::New(env, static_cast<double>(sizes[i])));
    auto out = Napi::Array::New(env, 4);
    out.Set(0u, shape);
    out.Set(1u, Napi::Number::New(env, static_cast<int>(t.scalar_type())));
    out.Set(2u, Napi::String::New(env, t.device().str()));
    out.Set(3u, Napi::Boolean::New(env, t.requires_grad()));
    return out;
  });
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& t = fetch(handleOf(info[0], "item"));
    if (t.numel() != 1) {
      throw std::invalid_argument("item: tensor has " + std::to_string(t.numel()) + " elements, expected 1");
    }
    return Napi::Number::New(env, t.item().toDouble());
  });
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Tensor t = fetch(handleOf(info[0], "requiresGrad"));
    t.requires_grad_(info[1].ToBoolean().Value());
    return env.Undefined();
  });
}

// gradOf(handle) -> handle of .grad or null
Napi::Value GradOf(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& g = fetch(handleOf(info[0], "grad")).grad();
    if (!g.defined()) return env.Null();
    return Napi::Number::New(env, store(g));
  });
}

// setGrad(handle, gradHandle | null)
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Tensor t = fetch(handleOf(info[0], "setGrad"));
    if (info[1].IsNull() || info[1].IsUndefined()) {
      t.mutable_grad() = at::Tensor();
    } else {
      t.mutable_grad() = fetch(handleOf(info[1], "setGrad"));
    }
    return env.Undefined();
  });
}

std::vector<at::Tensor> tensorsOf(const Napi::Value& v, const std::string& what) {
  std::vector<at::Tensor> out;
  if (v.IsNull() || v.IsUndefined()) return out;
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    out.push_back(e.IsNull() ? at::Tensor() : fetch(handleOf(e, what)));
  }
  return out;
}

// backward(outputs[], gradOutputs[] | null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    auto outs = tensorsOf(info[0], "backward");
    auto grads = tensorsOf(info[1], "backward");
    bool create = info[3].ToBoolean().Value();
    c10::optional<bool> retain;
    if (info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
    torch::autograd::backward(outs, grads, retain, create);
    return env.Undefined();
  });
}

// grad(outputs[], inputs[], gradOutputs[] | null, retainGraph, createGraph, allowUnused) -> (handle|null)[]
Napi::Value Grad(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    auto outs = tensorsOf(info[0], "grad outputs");
    auto ins = tensorsOf(info[1], "grad inputs");
    auto gouts = tensorsOf(info[2], "grad gradOutputs");
    c10::optional<bool> retain;
    if (info[3].IsBoolean()) retain = info[3].As<Napi::Boolean>().Value();
    bool create = info[4].ToBoolean().Value();
    bool allowUnused = info[5].ToBoolean().Value();
    auto gs = torch::autograd::grad(outs, ins, gouts, retain, create, allowUnused);
    auto out = Napi::Array::New(env, gs.size());
    for (size_t i = 0; i < gs.size(); ++i) {
      out.Set(i, gs[i].defined() ? Napi::Value(Napi::Number::New(env, store(gs[i]))) : env.Null());
    }
    return out;
  });
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    int64_t n = toInt(info[0], "threads");
    if (n < 1) throw std::invalid_argument("threads must be >= 1");
    at::set_num_threads(static_cast<int>(n));
    return env.Undefined();
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::manual_seed(static_cast<uint64_t>(toInt(info[0], "seed")));
    return env.Undefined();
  });
}

// The default CPU generator's whole state as bytes, so a checkpoint taken in the
// middle of an epoch resumes with exactly the random stream the uninterrupted
// run would have drawn (mining, PGD random starts).
// An optional device string picks that device's default generator ("cuda:0": its seed and
// Philox offset), so a CUDA run resumes with the same stream too; without a CUDA build libtorch
// refuses a CUDA device with its own message.
at::Generator generatorOf(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return at::detail::getDefaultCPUGenerator();
  if (!info[i].IsString()) throw std::invalid_argument("generator: expected a device string");
  c10::Device device(info[i].As<Napi::String>().Utf8Value());
  if (device.is_cpu()) return at::detail::getDefaultCPUGenerator();
  return at::globalContext().defaultGenerator(device);
}

Napi::Value RngState(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    auto gen = generatorOf(info, 0);
    at::Tensor state;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      state = gen.get_state();
    }
    auto out = Napi::Uint8Array::New(env, static_cast<size_t>(state.numel()));
    if (state.numel() > 0) std::memcpy(out.Data(), state.data_ptr(), static_cast<size_t>(state.numel()));
    return out;
  });
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw std::invalid_argument("setRngState: expected a Uint8Array");
    }
    auto bytes = info[0].As<Napi::Uint8Array>();
    at::Tensor state = at::empty({static_cast<int64_t>(bytes.ElementLength())}, at::kByte);
    if (bytes.ElementLength() > 0) std::memcpy(state.data_ptr(), bytes.Data(), bytes.ElementLength());
    auto gen = generatorOf(info, 1);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);  // libtorch checks the size and throws on a wrong one
    return env.Undefined();
  });
}

// ---------------------------------------------------------------- process groups (c10d)
//
// libtorch's own collectives behind one entry, set up the way torch.distributed
// sets them up: pgCreate joins a TCPStore rendezvous and makes the group, pgRun
// runs a named collective on a list of tensors in place and waits for it,
// pgDestroy ends it. The backend follows the tensors, like PyTorch's default
// "cpu:gloo,cuda:nccl": CPU tensors (and barriers) go through ProcessGroupGloo;
// CUDA tensors through ProcessGroupNCCL when this libtorch has it (made on the
// first CUDA collective, over the same store under the prefix "nccl"; every rank
// runs the same sequence of collectives, so every rank makes it at the same point).
// A Gloo peer that dies closes its connections, so the others' next collective
// fails with Gloo's error instead of hanging; the group's timeout bounds everything
// else (NCCL: its watchdog aborts a collective that outlives the timeout).
#ifdef RANKSHIELD_C10D_GLOO
struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::chrono::milliseconds timeout;
  int rank;
  int world;
#ifdef RANKSHIELD_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
};
std::unordered_map<int32_t, Group> g_groups;
int32_t g_next_group = 1;

Group& groupOf(const Napi::Value& v) {
  auto it = g_groups.find(static_cast<int32_t>(toInt(v, "process group")));
  if (it == g_groups.end()) throw std::invalid_argument("invalid or destroyed process group");
  return it->second;
}

// pgCreate(masterAddr, masterPort, rank, worldSize, timeoutMs, deviceKind, deviceValue[, storeHost, storePrefix]) -> id
// deviceKind: "interface" (GLOO_SOCKET_IFNAME), "hostname" (an address to bind) or "default".
// storeHost: "rank0" (default: rank 0 serves the TCPStore) or "external" (every rank is a client of a
// store someone else serves, as torchelastic's agent does); storePrefix: keys go under it when not empty
// (torchelastic gives each restart of the group its own, so a restart never reads the last attempt's keys).
Napi::Value PgCreate(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    std::string addr = info[0].As<Napi::String>().Utf8Value();
    int64_t port = toInt(info[1], "port");
    int64_t rank = toInt(info[2], "rank");
    int64_t world = toInt(info[3], "world size");
    std::chrono::milliseconds timeout(toInt(info[4], "timeout"));
    std::string kind = info[5].As<Napi::String>().Utf8Value();
    std::string value = info[6].As<Napi::String>().Utf8Value();
    std::string storeHost = info.Length() > 7 && info[7].IsString() ? info[7].As<Napi::String>().Utf8Value() : "rank0";
    std::string prefix = info.Length() > 8 && info[8].IsString() ? info[8].As<Napi::String>().Utf8Value() : "";
    if (port < 1 || port > 65535) throw std::invalid_argument("port must be in [1, 65535]");
    if (world < 1 || rank < 0 || rank >= world) throw std::invalid_argument("rank must be in [0, world size)");
    if (storeHost != "rank0" && storeHost != "external") throw std::invalid_argument("store host must be \"rank0\" or \"external\"");
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = storeHost == "rank0" && rank == 0;
    so.numWorkers = storeHost == "rank0" ? c10::optional<std::size_t>(static_cast<std::size_t>(world)) : c10::nullopt;
    // Every rank counts itself in and waits for the rest below: libtorch's own waitWorkers gives up
    // silently at the timeout (1.13), and Gloo's set-up then waits a second timeout to fail vaguely.
    so.waitWorkers = false;
    so.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(addr, so);
    if (!prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
    const std::string joined = "rankshield/joined";
    const auto start = std::chrono::steady_clock::now();
    for (int64_t n = store->add(joined, 1); n < world; n = store->add(joined, 0)) {
      if (std::chrono::steady_clock::now() - start > timeout) {
        throw std::runtime_error("only " + std::to_string(n) + " of " + std::to_string(world) + " ranks reached the store within " +
                                 std::to_string(timeout.count()) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (kind == "interface") {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(value));
    } else if (kind == "hostname") {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(value));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    options->threads = 2;
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(rank), static_cast<int>(world), options);
    int32_t id = g_next_group++;
    Group g;
    g.store = store;
    g.pg = pg;
    g.timeout = timeout;
    g.rank = static_cast<int>(rank);
    g.world = static_cast<int>(world);
    g_groups.emplace(id, std::move(g));
    return Napi::Number::New(env, id);
  });
}

// One collective on one backend (ProcessGroupGloo and ProcessGroupNCCL have the same calls).
template <typename Backend>
c10::intrusive_ptr<c10d::Work> collective(Backend& pg, const std::string& what, std::vector<at::Tensor>& tensors,
                                          const Napi::CallbackInfo& info, std::chrono::milliseconds timeout) {
  if (what == "allreduce-sum") {
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    o.timeout = timeout;
    return pg.allreduce(tensors, o);
  }
  if (what == "broadcast") {
    c10d::BroadcastOptions o;
    o.rootRank = static_cast<int64_t>(toInt(info[3], "root"));
    o.timeout = timeout;
    return pg.broadcast(tensors, o);
  }
  if (what == "barrier") {
    c10d::BarrierOptions o;
    o.timeout = timeout;
    return pg.barrier(o);
  }
  throw std::invalid_argument("unknown collective '" + what + "' (allreduce-sum, broadcast, barrier)");
}

// pgRun(id, collective, [tensor handles], root) — "allreduce-sum", "broadcast" (from root), "barrier".
Napi::Value PgRun(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Group& g = groupOf(info[0]);
    std::string what = info[1].As<Napi::String>().Utf8Value();
    std::vector<at::Tensor> tensors;
    if (info.Length() > 2 && info[2].IsArray()) {
      auto a = info[2].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) tensors.push_back(fetch(handleOf(a.Get(i), what)));
    }
    size_t onCuda = 0;
    for (const auto& t : tensors) onCuda += t.is_cuda() ? 1 : 0;
    if (onCuda != 0 && onCuda != tensors.size()) {
      throw std::invalid_argument(what + ": the tensors of one collective must all be on the CPU or all on CUDA");
    }
    c10::intrusive_ptr<c10d::Work> work;
#ifdef RANKSHIELD_C10D_NCCL
    if (onCuda > 0) {
      if (!g.nccl) {
        auto o = c10d::ProcessGroupNCCL::Options::create();
        o->timeout = g.timeout;
        auto prefixed = c10::make_intrusive<c10d::PrefixStore>("nccl", g.store);
        g.nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, g.rank, g.world, o);
      }
      work = collective(*g.nccl, what, tensors, info, g.timeout);
    }
#endif
    if (!work) work = collective(*g.pg, what, tensors, info, g.timeout);
    work->wait(g.timeout);
    return env.Undefined();
  });
}

Napi::Value PgDestroy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    g_groups.erase(static_cast<int32_t>(toInt(info[0], "process group")));
    return env.Undefined();
  });
}
#endif

// ---------------------------------------------------------------- TorchScript modules
//
// A user's model saved by torch.jit.save, behind one entry:
//   scripted("load", bytes) -> id            torch::jit::load of an archive in memory, onto the CPU
//   scripted("call", id, method, args[])     runs a method; args converted by its schema;
//                                            it must return a tensor or a tuple of tensors
//   scripted("parameters" | "buffers", id)   [[name, handle], ...]: the module's own tensors
//                                            (aliases, so in-place updates reach the module)
//   scripted("train", id, on) / ("training", id)
//   scripted("save", id) -> bytes            torch::jit::save of the module as it is now
//   scripted("free", id)
// Nothing here knows a particular architecture.
std::unordered_map<int32_t, torch::jit::Module> g_modules;
int32_t g_next_module = 1;

torch::jit::Module& moduleOf(const Napi::Value& v) {
  auto it = g_modules.find(static_cast<int32_t>(toInt(v, "scripted module")));
  if (it == g_modules.end()) throw std::invalid_argument("invalid or freed scripted module");
  return it->second;
}

Napi::Value Scripted(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    if (!info[0].IsString()) throw std::invalid_argument("scripted: expected an action name");
    std::string action = info[0].As<Napi::String>().Utf8Value();
    auto str = [&](size_t i, const char* what) {
      if (!info[i].IsString()) throw std::invalid_argument(std::string("scripted ") + action + ": expected " + what);
      return info[i].As<Napi::String>().Utf8Value();
    };
    if (action == "load") {
      // From bytes the caller has already checked (no second read of a file that may have changed).
      if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw std::invalid_argument("scripted load: expected the archive as a Uint8Array");
      }
      auto bytes = info[1].As<Napi::Uint8Array>();
      std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.Data()), bytes.ElementLength()));
      torch::jit::Module m = torch::jit::load(in, c10::Device(c10::kCPU));
      int32_t id = g_next_module++;
      g_modules.emplace(id, std::move(m));
      return Napi::Number::New(env, id);
    }
    torch::jit::Module& m = moduleOf(info[1]);
    if (action == "call") {
      torch::jit::Method method = m.get_method(str(2, "a method name"));
      const auto& params = method.function().getSchema().arguments();  // params[0] is self
      auto args = info[3].IsArray() ? info[3].As<Napi::Array>() : Napi::Array::New(env);
      if (args.Length() + 1 > params.size()) {
        throw std::invalid_argument(method.name() + ": takes " + std::to_string(params.size() - 1) + " arguments, got " + std::to_string(args.Length()));
      }
      std::vector<c10::IValue> inputs;
      for (size_t i = 1; i < params.size(); ++i) {
        const c10::Argument& p = params[i];
        Napi::Value v = i - 1 < args.Length() ? args.Get(static_cast<uint32_t>(i - 1)) : env.Undefined();
        if (v.IsUndefined() && p.default_value().has_value()) {
          inputs.push_back(*p.default_value());
          continue;
        }
        if (v.IsUndefined()) throw std::invalid_argument(method.name() + ": missing argument '" + p.name() + "'");
        inputs.push_back(toIValue(v, p.type(), p.real_type(), p.N(), method.name() + " argument '" + p.name() + "'"));
      }
      c10::IValue out = method(std::move(inputs));
      // Only tensors come back (numbers would read as tensor handles on the JS side).
      bool tensors = out.isTensor() || out.isTensorList();
      if (out.isTuple()) {
        tensors = true;
        for (const auto& e : out.toTupleRef().elements()) tensors = tensors && e.isTensor();
      }
      if (!tensors) throw std::invalid_argument(method.name() + " returned " + out.tagKind() + ", not a tensor (or a tuple of tensors)");
      return fromIValue(env, std::move(out));
    }
    if (action == "parameters" || action == "buffers") {
      auto out = Napi::Array::New(env);
      uint32_t i = 0;
      auto add = [&](const std::string& name, const at::Tensor& t) {
        auto pair = Napi::Array::New(env, 2);
        pair.Set(0u, Napi::String::New(env, name));
        pair.Set(1u, Napi::Number::New(env, store(t)));
        out.Set(i++, pair);
      };
      if (action == "parameters") {
        for (const auto& p : m.named_parameters(true)) add(p.name, p.value);
      } else {
        for (const auto& b : m.named_buffers(true)) add(b.name, b.value);
      }
      return out;
    }
    if (action == "train") {
      m.train(info[2].ToBoolean().Value());
      return env.Undefined();
    }
    if (action == "training") return Napi::Boolean::New(env, m.is_training());
    if (action == "save") {  // the archive's bytes; the caller writes them (atomically)
      std::ostringstream out;
      m.save(out);
      std::string bytes = out.str();
      auto arr = Napi::Uint8Array::New(env, bytes.size());
      if (!bytes.empty()) std::memcpy(arr.Data(), bytes.data(), bytes.size());
      return arr;
    }
    if (action == "free") {
      g_modules.erase(static_cast<int32_t>(toInt(info[1], "scripted module")));
      return env.Undefined();
    }
    throw std::invalid_argument("scripted: unknown action '" + action + "' (load, call, parameters, buffers, train, training, save, free)");
  });
}

// Which optional parts this build has ("gloo" for c10d process groups, "cuda", "nccl").
Napi::Value Features(const Napi::CallbackInfo& info) {
  auto out = Napi::Array::New(info.Env());
  uint32_t n = 0;
#ifdef RANKSHIELD_C10D_GLOO
  out.Set(n++, Napi::String::New(info.Env(), "gloo"));
#endif
#ifdef RANKSHIELD_CUDA
  out.Set(n++, Napi::String::New(info.Env(), "cuda"));
#endif
#ifdef RANKSHIELD_C10D_NCCL
  out.Set(n++, Napi::String::New(info.Env(), "nccl"));
#endif
  (void)n;
  return out;
}

// setData(target, source): `target` takes `source`'s data (any device), keeping
// its identity — what `param.data = param.data.to(device)` does in PyTorch, so a
// module's parameters move without their owners (layers, optimizers) noticing.
Napi::Value SetData(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& target = fetch(handleOf(info[0], "setData"));
    target.set_data(fetch(handleOf(info[1], "setData")));
    return env.Undefined();
  });
}

// The CUDA devices libtorch sees (0 on a CPU-only build) and their names.
Napi::Value CudaDevices(const Napi::CallbackInfo& info) {
  auto out = Napi::Array::New(info.Env());
  int n = at::detail::getCUDAHooks().getNumGPUs();
  for (int i = 0; i < n; ++i) {
#ifdef RANKSHIELD_CUDA
    out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), at::cuda::getDeviceProperties(i)->name));
#else
    out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), "cuda:" + std::to_string(i)));
#endif
  }
  return out;
}

// libtorch's own description of its build (compiler, BLAS, CPU capability, CUDA) and threading.
Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  out.Set("config", Napi::String::New(info.Env(), at::show_config()));
  out.Set("parallel", Napi::String::New(info.Env(), at::get_parallel_info()));
  return out;
}

// synchronize(device): waits until the work queued on a CUDA device is done (timing, and
// before reading host memory that a non-blocking copy fills); a no-op for the CPU.
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    if (!info[0].IsString()) throw std::invalid_argument("synchronize: expected a device string");
    c10::Device device(info[0].As<Napi::String>().Utf8Value());
    if (device.is_cpu()) return env.Undefined();
#ifdef RANKSHIELD_CUDA
    if (!device.is_cuda()) throw std::invalid_argument("synchronize: unsupported device " + device.str());
    c10::cuda::CUDAGuard guard(device);
    c10::cuda::device_synchronize();
    return env.Undefined();
#else
    throw std::invalid_argument("synchronize " + device.str() + ": this build of the addon uses a libtorch without CUDA");
#endif
  });
}

Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::hasCUDA());
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), TORCH_VERSION);
}


// ---------------------------------------------------------------- caching CPU allocator
//
// Tensor buffers are large, short-lived and come in the same few sizes every
// training step. glibc mmaps each large one, page-faults it in and unmaps it
// again (measured: a c2f2 training step ~1.7x slower than PyTorch), and its heap
// fragments between freed buffers so RSS creeps up over thousands of steps.
// This allocator keeps freed blocks in per-size-class free lists and hands them
// back on the next request of that class: after warm-up no step touches malloc
// for tensor data, so time and memory stay flat. A 64-byte header before each
// block records its size class, so the deleter (also the raw_deleter oneDNN
// uses) needs no lookup table.

class CachingCpuAllocator final : public at::Allocator {
 public:
  static constexpr size_t kHeader = 64;  // keeps the data 64-byte aligned
  static constexpr size_t kMaxCached = size_t(4) << 30;

  // libtorch 1.13 declares `allocate(size_t) const`, 2.x (from 2.3) `allocate(size_t)` and a pure
  // `copy_data`: both signatures are defined without `override`, so whichever the base declares is
  // overridden (and the other is a plain member), with no version test.
  at::DataPtr allocate(size_t n) { return allocateBlock(n); }
  at::DataPtr allocate(size_t n) const { return allocateBlock(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const {
    if (count > 0) std::memcpy(dest, src, count);
  }

  at::DataPtr allocateBlock(size_t n) const {
    size_t cls = sizeClass(n);
    void* base = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        base = it->second.back();
        it->second.pop_back();
        cached_ -= cls;
      }
    }
    if (base == nullptr) {
      base = std::aligned_alloc(kHeader, cls + kHeader);
      if (base == nullptr) throw std::bad_alloc();
      *static_cast<size_t*>(base) = cls;
    }
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &release, at::Device(at::DeviceType::CPU)};
  }

  at::DeleterFnPtr raw_deleter() const override { return &release; }

  // Deliberately never destroyed: tensors still alive at process exit (the
  // handle table, libtorch's own statics) are released after function-local
  // statics are torn down, and must still find a working allocator.
  static CachingCpuAllocator& instance() {
    static CachingCpuAllocator* a = new CachingCpuAllocator();
    return *a;
  }

  /** Returns every cached block to the system; returns the bytes freed. */
  size_t emptyCache() {
    std::lock_guard<std::mutex> lock(mu_);
    size_t freed = cached_;
    for (auto& [cls, blocks] : free_) {
      for (void* b : blocks) std::free(b);
      blocks.clear();
    }
    cached_ = 0;
    return freed;
  }

  size_t cachedBytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

 private:
  // Power-of-two classes up to 1 MiB (small tensors vary in size), 1 MiB steps above
  // (large activations repeat exactly, so the waste stays under 1 MiB per block).
  static size_t sizeClass(size_t n) {
    if (n <= 64) return 64;
    if (n <= (size_t(1) << 20)) {
      size_t c = 128;
      while (c < n) c <<= 1;
      return c;
    }
    size_t mb = size_t(1) << 20;
    return (n + mb - 1) / mb * mb;
  }

  static void release(void* data) {
    if (data == nullptr) return;
    void* base = static_cast<char*>(data) - kHeader;
    size_t cls = *static_cast<size_t*>(base);
    CachingCpuAllocator& self = instance();
    {
      std::lock_guard<std::mutex> lock(self.mu_);
      if (self.cached_ + cls <= kMaxCached) {
        self.free_[cls].push_back(base);
        self.cached_ += cls;
        return;
      }
    }
    std::free(base);
  }

  mutable std::mutex mu_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;
  mutable size_t cached_ = 0;
};

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CachingCpuAllocator::instance().emptyCache()));
}

Napi::Value CachedBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CachingCpuAllocator::instance().cachedBytes()));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Priority 1 outranks libtorch's default CPU allocator (priority 0).
  c10::SetCPUAllocator(&CachingCpuAllocator::instance(), 1);
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache));
  exports.Set("cachedBytes", Napi::Function::New(env, CachedBytes));
  exports.Set("opLookup", Napi::Function::New(env, OpLookup));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  exports.Set("call", Napi::Function::New(env, Call));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("liveCount", Napi::Function::New(env, LiveCount));
  exports.Set("fromData", Napi::Function::New(env, FromData));
  exports.Set("toData", Napi::Function::New(env, ToData));
  exports.Set("meta", Napi::Function::New(env, Meta));
  exports.Set("item", Napi::Function::New(env, Item));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("gradOf", Napi::Function::New(env, GradOf));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("rngState", Napi::Function::New(env, RngState));
  exports.Set("setRngState", Napi::Function::New(env, SetRngState));
#ifdef RANKSHIELD_C10D_GLOO
  exports.Set("pgCreate", Napi::Function::New(env, PgCreate));
  exports.Set("pgRun", Napi::Function::New(env, PgRun));
  exports.Set("pgDestroy", Napi::Function::New(env, PgDestroy));
#endif
  exports.Set("scripted", Napi::Function::New(env, Scripted));
  exports.Set("features", Napi::Function::New(env, Features));
  exports.Set("setData", Napi::Function::New(env, SetData));
  exports.Set("cudaDevices", Napi::Function::New(env, CudaDevices));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  exports.Set("cudaAvailable", Napi::Function::New(env, CudaAvailable));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("version", Napi::Function::New(env, Version));
  return exports;
}

NODE_API_MODULE(rankshield_native, Init)
