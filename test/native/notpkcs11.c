/* A Windows DLL that is not a PKCS#11 module (it exports neither C_GetInterface nor
 * C_GetFunctionList): load() must give NOT_A_PKCS11_MODULE and unload it (scripts/wine-run.js). */
__declspec(dllexport) int p11bridge_not_a_module(void) { return 42; }
