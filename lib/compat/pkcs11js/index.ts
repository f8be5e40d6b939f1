// `p11bridge/pkcs11js`: the API of pkcs11js 2.1.7 (its PKCS11 class, error classes, constants and
// types) on p11bridge's native core, for code and libraries written against pkcs11js (graphene-pk11,
// node-webcrypto-p11). docs/migrating.md lists what differs and why.
import { PKCS11 } from './pkcs11';
import './crypto';

export { PKCS11 };
export { NativeError, Pkcs11Error } from './errors';
export { handleToUlong, ulongToHandle } from './handles';
export * from './constants';
export {
  CK_PARAMS_BUFFER,
  CK_PARAMS_AES_CBC,
  CK_PARAMS_AES_CCM,
  CK_PARAMS_AES_GCM,
  CK_PARAMS_RSA_OAEP,
  CK_PARAMS_RSA_PSS,
  CK_PARAMS_EC_DH,
  CK_PARAMS_AES_GCM_v240,
  CK_PARAMS_ECDH2_DERIVE,
  CK_PARAMS_ECMQV_DERIVE,
  CK_PARAMS_X9_42_DH1_DERIVE,
  CK_PARAMS_X9_42_DH2_DERIVE,
  CK_PARAMS_X9_42_MQV_DERIVE,
  CK_PARAMS_KEA_DERIVE,
  CK_PARAMS_RC2,
  CK_PARAMS_RC2_CBC,
  CK_PARAMS_RC2_MAC_GENERAL,
  CK_PARAMS_RC5,
  CK_PARAMS_RC5_CBC,
  CK_PARAMS_RC5_MAC_GENERAL,
  CK_PARAMS_DES_CBC_ENCRYPT_DATA,
  CK_PARAMS_SKIPJACK_PRIVATE_WRAP,
  CK_PARAMS_SKIPJACK_RELAYX,
  CK_PARAMS_PBE,
  CK_PARAMS_KEY_WRAP_SET_OAEP,
  CK_PARAMS_GCM,
  CK_PARAMS_CCM,
  CK_PARAM_GOSTR3410_DERIVE,
  CK_PARAM_GOSTR3410_KEY_WRAP,
} from './mechanism';
export type * from './types';
