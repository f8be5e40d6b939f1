// Session management, login, operation state, and the legacy parallel-function calls.
#include "functions/shapes.h"
#include "marshal/values.h"

namespace p11 {

namespace {

struct Op_C_OpenSession : OpBase {
  static constexpr Fn kFn = Fn::C_OpenSession;
  CK_SLOT_ID slot = 0;
  CK_FLAGS flags = CKF_SERIAL_SESSION;
  CK_SESSION_HANDLE handle = 0;
  // Notification callbacks are not offered: a module may call them from any thread.
  bool Parse(Args& a) { return a.Ulong(0, "slotID", &slot) && a.OptUlong(1, "flags", &flags, CKF_SERIAL_SESSION); }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.C_OpenSession(slot, flags, nullptr, nullptr, &handle);
    // Tracked here, under the share the call runs under: whatever ends that share (C_Finalize,
    // close(), a worker's exit) closes it, however late this result reaches JS.
    if (rv == CKR_OK) flights->TrackSession(handle, slot);
    return rv;
  }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, handle)); }
};

struct Op_C_CloseSession : OpBase {
  static constexpr Fn kFn = Fn::C_CloseSession;
  bool Parse(Args& a) { return SessionArg(a, 0); }
  CK_RV Run(const FunctionTable& f) {
    flights->WaitForEarlier(ticket, true, session);
    CK_RV rv = f.C_CloseSession(session);
    if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) flights->UntrackSession(session);
    return rv;
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_CloseAllSessions : OpBase {
  static constexpr Fn kFn = Fn::C_CloseAllSessions;
  CK_SLOT_ID slot = 0;
  bool Parse(Args& a) { return a.Ulong(0, "slotID", &slot); }
  CK_RV Run(const FunctionTable& f) {
    flights->WaitForEarlier(ticket, false, 0);
    CK_RV rv = f.C_CloseAllSessions(slot);
    if (rv == CKR_OK) flights->UntrackSlot(slot);
    return rv;
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_GetSessionInfo : OpBase {
  static constexpr Fn kFn = Fn::C_GetSessionInfo;
  CK_SESSION_INFO info{};
  bool Parse(Args& a) { return SessionArg(a, 0); }
  CK_RV Run(const FunctionTable& f) { return f.C_GetSessionInfo(session, &info); }
  Napi::Value Result(Napi::Env env) { return SessionInfoToJs(env, info); }
};

struct Op_C_GetOperationState : OpBase {
  static constexpr Fn kFn = Fn::C_GetOperationState;
  OutBuf out;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Output(1, "out", &out); }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) { return f.C_GetOperationState(session, p, n); });
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, "C_GetOperationState"); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

struct Op_C_SetOperationState : OpBase {
  static constexpr Fn kFn = Fn::C_SetOperationState;
  ByteSpan state;
  CK_OBJECT_HANDLE encKey = 0, authKey = 0;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Bytes(1, "state", &state) && a.OptUlong(2, "hEncryptionKey", &encKey, 0) &&
           a.OptUlong(3, "hAuthenticationKey", &authKey, 0);
  }
  CK_RV Run(const FunctionTable& f) { return f.C_SetOperationState(session, state.p, state.n, encKey, authKey); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_Login : OpBase {
  static constexpr Fn kFn = Fn::C_Login;
  CK_USER_TYPE user = CKU_USER;
  ByteSpan pin;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Ulong(1, "userType", &user) && a.Secret(2, "pin", &pin, true); }
  CK_RV Run(const FunctionTable& f) { return f.C_Login(session, user, pin.p, pin.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// 3.0: login with a user name (PIN and name both UTF-8).
struct Op_C_LoginUser : OpBase {
  static constexpr Fn kFn = Fn::C_LoginUser;
  CK_USER_TYPE user = CKU_USER;
  ByteSpan pin, name;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Ulong(1, "userType", &user) && a.Secret(2, "pin", &pin, true) &&
           a.Secret(3, "username", &name, false);
  }
  CK_RV Run(const FunctionTable& f) { return f.C_LoginUser(session, user, pin.p, pin.n, name.p, name.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// 3.0: cancels the operations named by flags (CKF_ENCRYPT, CKF_SIGN …) on a session.
struct Op_C_SessionCancel : OpBase {
  static constexpr Fn kFn = Fn::C_SessionCancel;
  CK_FLAGS flags = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Ulong(1, "flags", &flags); }
  CK_RV Run(const FunctionTable& f) { return f.C_SessionCancel(session, flags); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

using Op_C_Logout = SessionOnlyOp<Fn::C_Logout, &FunctionTable::C_Logout>;

using Op_C_GetFunctionStatus = SessionOnlyOp<Fn::C_GetFunctionStatus, &FunctionTable::C_GetFunctionStatus>;

using Op_C_CancelFunction = SessionOnlyOp<Fn::C_CancelFunction, &FunctionTable::C_CancelFunction>;

}  // namespace

void RegisterSession(Props& props) {
  P11_METHODS(props, C_OpenSession);
  P11_METHODS(props, C_CloseSession);
  P11_METHODS(props, C_CloseAllSessions);
  P11_METHODS(props, C_GetSessionInfo);
  P11_METHODS(props, C_GetOperationState);
  P11_METHODS(props, C_SetOperationState);
  P11_METHODS(props, C_Login);
  P11_METHODS(props, C_Logout);
  P11_METHODS(props, C_LoginUser);
  P11_METHODS(props, C_SessionCancel);
  P11_METHODS(props, C_GetFunctionStatus);
  P11_METHODS(props, C_CancelFunction);
}

}  // namespace p11
