/* A shared library that kills the process that loads it (a constructor raising SIGSEGV). It exports
 * no PKCS#11 function: it stands for a broken vendor library, so `p11bridge doctor` can show that a
 * module crashing its probe process is reported ("crashed") instead of taking doctor down. */
#include <signal.h>

__attribute__((constructor)) static void crash_on_load(void) { raise(SIGSEGV); }
