/* Built for i686 (32-bit) by scripts/wine-test.js: a DLL of the wrong architecture for a 64-bit
 * process, which the Windows loader refuses with ERROR_BAD_EXE_FORMAT (193) before any of its code
 * runs. It exports C_GetFunctionList so that the only thing wrong with it is the architecture; the
 * function is never called and answers CKR_FUNCTION_FAILED (6) if something ever did. */
__declspec(dllexport) unsigned long C_GetFunctionList(void** list) {
  if (list) *list = 0;
  return 6;
}
