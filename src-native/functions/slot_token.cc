// Slot and token management: lists and infos, token initialization and PINs.
#include <vector>

#include "call.h"
#include "functions/lists.h"
#include "marshal/values.h"

namespace p11 {

namespace {

struct Op_C_GetSlotList : OpBase {
  static constexpr Fn kFn = Fn::C_GetSlotList;
  bool present = false;
  std::vector<CK_ULONG> slots;
  bool Parse(Args& a) { return a.OptBool(0, "tokenPresent", &present, false); }
  CK_RV Run(const FunctionTable& f) {
    return FillUlongs(slots, detail, [&](CK_SLOT_ID_PTR p, CK_ULONG_PTR n) {
      return f.C_GetSlotList(present ? CK_TRUE : CK_FALSE, p, n);
    });
  }
  Napi::Value Result(Napi::Env env) { return UlongArrayToJs(env, slots.data(), slots.size()); }
};

struct Op_C_GetSlotInfo : OpBase {
  static constexpr Fn kFn = Fn::C_GetSlotInfo;
  CK_SLOT_ID slot = 0;
  CK_SLOT_INFO info{};
  bool Parse(Args& a) { return a.Ulong(0, "slotID", &slot); }
  CK_RV Run(const FunctionTable& f) { return f.C_GetSlotInfo(slot, &info); }
  Napi::Value Result(Napi::Env env) { return SlotInfoToJs(env, info); }
};

struct Op_C_GetTokenInfo : OpBase {
  static constexpr Fn kFn = Fn::C_GetTokenInfo;
  CK_SLOT_ID slot = 0;
  CK_TOKEN_INFO info{};
  bool Parse(Args& a) { return a.Ulong(0, "slotID", &slot); }
  CK_RV Run(const FunctionTable& f) { return f.C_GetTokenInfo(slot, &info); }
  Napi::Value Result(Napi::Env env) { return TokenInfoToJs(env, info); }
};

struct Op_C_GetMechanismList : OpBase {
  static constexpr Fn kFn = Fn::C_GetMechanismList;
  CK_SLOT_ID slot = 0;
  std::vector<CK_ULONG> mechs;
  bool Parse(Args& a) { return a.Ulong(0, "slotID", &slot); }
  CK_RV Run(const FunctionTable& f) {
    return FillUlongs(mechs, detail,
                      [&](CK_MECHANISM_TYPE_PTR p, CK_ULONG_PTR n) { return f.C_GetMechanismList(slot, p, n); });
  }
  Napi::Value Result(Napi::Env env) { return UlongArrayToJs(env, mechs.data(), mechs.size()); }
};

struct Op_C_GetMechanismInfo : OpBase {
  static constexpr Fn kFn = Fn::C_GetMechanismInfo;
  CK_SLOT_ID slot = 0;
  CK_MECHANISM_TYPE type = 0;
  CK_MECHANISM_INFO info{};
  bool Parse(Args& a) { return a.Ulong(0, "slotID", &slot) && a.Ulong(1, "type", &type); }
  CK_RV Run(const FunctionTable& f) { return f.C_GetMechanismInfo(slot, type, &info); }
  Napi::Value Result(Napi::Env env) { return MechanismInfoToJs(env, info); }
};

struct Op_C_InitToken : OpBase {
  static constexpr Fn kFn = Fn::C_InitToken;
  CK_SLOT_ID slot = 0;
  ByteSpan pin;
  CK_UTF8CHAR label[32];
  bool Parse(Args& a) {
    return a.Ulong(0, "slotID", &slot) && a.Secret(1, "soPin", &pin, true) && a.PaddedUtf8(2, "label", label, 32);
  }
  CK_RV Run(const FunctionTable& f) { return f.C_InitToken(slot, pin.p, pin.n, label); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_InitPIN : OpBase {
  static constexpr Fn kFn = Fn::C_InitPIN;
  ByteSpan pin;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Secret(1, "pin", &pin, true); }
  CK_RV Run(const FunctionTable& f) { return f.C_InitPIN(session, pin.p, pin.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_SetPIN : OpBase {
  static constexpr Fn kFn = Fn::C_SetPIN;
  ByteSpan oldPin, newPin;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Secret(1, "oldPin", &oldPin, true) && a.Secret(2, "newPin", &newPin, true);
  }
  CK_RV Run(const FunctionTable& f) { return f.C_SetPIN(session, oldPin.p, oldPin.n, newPin.p, newPin.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

}  // namespace

void RegisterSlotToken(Props& props) {
  P11_METHODS(props, C_GetSlotList);
  P11_METHODS(props, C_GetSlotInfo);
  P11_METHODS(props, C_GetTokenInfo);
  P11_METHODS(props, C_GetMechanismList);
  P11_METHODS(props, C_GetMechanismInfo);
  P11_METHODS(props, C_InitToken);
  P11_METHODS(props, C_InitPIN);
  P11_METHODS(props, C_SetPIN);
}

}  // namespace p11
