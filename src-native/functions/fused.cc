// One-shot operations in one trip to a call thread: C_XInit then C_X, for the typed layer's
// sign/verify/encrypt/decrypt/digest. Two trips per signature (C_SignInitAsync, then C_SignAsync)
// cost a fast token about half its throughput (bench/raw's "C_SignInitAsync too" row), and a sync
// C_SignInit on the JS thread would let a slow token stall the event loop. Not part of the raw
// layer's PKCS#11 surface: the typed layer reaches them through lib/fused.ts.
//
//   signOnceAsync(hSession, mechanism, hKey, data[, out])         → Buffer
//   verifyOnceAsync(hSession, mechanism, hKey, data, signature)   → boolean
//   encryptOnceAsync / decryptOnceAsync(hSession, mechanism, hKey, data[, out]) → Buffer
//   digestOnceAsync(hSession, mechanism, data[, out])             → Buffer
//
// Each is the raw op of the second call (functions/shapes.h) with its Init in front; a failure
// names the function that failed (C_SignInit or C_Sign), as the two calls would.
#include "functions/shapes.h"

namespace p11 {

namespace {

// (hSession, pMechanism, hKey, …the call's arguments): C_XInit, then CallOp's C call.
template <class CallOp, Fn InitF, CK_C_EncryptInit FunctionTable::*Init>
struct KeyedOnce : CallOp {
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE key = 0;
  bool Parse(Args& a) {
    return this->SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hKey", &key) && CallOp::ParseFrom(a, 3);
  }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.Has(InitF) ? (f.*Init)(this->session, mech, key) : CKR_FUNCTION_NOT_SUPPORTED;
    if (rv != CKR_OK) {
      this->failedFn = FunctionTable::Name(InitF);
      return rv;
    }
    return CallOp::Run(f);
  }
};

// (hSession, pMechanism, data[, out]): C_DigestInit, then C_Digest.
using DigestOp = DataOutOp<Fn::C_Digest, &FunctionTable::C_Digest>;
struct Op_DigestOnce : DigestOp {
  CK_MECHANISM_PTR mech = nullptr;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Mechanism(1, &mech) && ParseFrom(a, 2); }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.Has(Fn::C_DigestInit) ? f.C_DigestInit(session, mech) : CKR_FUNCTION_NOT_SUPPORTED;
    if (rv != CKR_OK) {
      failedFn = FunctionTable::Name(Fn::C_DigestInit);
      return rv;
    }
    return DigestOp::Run(f);
  }
};

using Op_SignOnce =
    KeyedOnce<DataOutOp<Fn::C_Sign, &FunctionTable::C_Sign>, Fn::C_SignInit, &FunctionTable::C_SignInit>;
using Op_VerifyOnce = KeyedOnce<VerifyOp, Fn::C_VerifyInit, &FunctionTable::C_VerifyInit>;
using Op_EncryptOnce =
    KeyedOnce<DataOutOp<Fn::C_Encrypt, &FunctionTable::C_Encrypt>, Fn::C_EncryptInit, &FunctionTable::C_EncryptInit>;
using Op_DecryptOnce =
    KeyedOnce<DataOutOp<Fn::C_Decrypt, &FunctionTable::C_Decrypt>, Fn::C_DecryptInit, &FunctionTable::C_DecryptInit>;

}  // namespace

void RegisterFused(Props& props) {
  props.push_back(Method<&ModuleObject::Async<Op_SignOnce>>("signOnceAsync"));
  props.push_back(Method<&ModuleObject::Async<Op_VerifyOnce>>("verifyOnceAsync"));
  props.push_back(Method<&ModuleObject::Async<Op_EncryptOnce>>("encryptOnceAsync"));
  props.push_back(Method<&ModuleObject::Async<Op_DecryptOnce>>("decryptOnceAsync"));
  props.push_back(Method<&ModuleObject::Async<Op_DigestOnce>>("digestOnceAsync"));
}

}  // namespace p11
