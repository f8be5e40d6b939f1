/*
 * bench/soak/arenas.h - the number of glibc malloc arenas, for csoak.c and mallinfo.c (both
 * report it next to mallinfo2(), which has no field for it): the <heap nr=…> elements of
 * malloc_info()'s XML. Arenas are what a multi-threaded process grows. -1 when it cannot tell.
 */
#ifndef SOAK_ARENAS_H
#define SOAK_ARENAS_H

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int malloc_arena_count(void) {
  char* buf = NULL;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (!f) return -1;
  int rc = malloc_info(0, f);
  fclose(f);
  if (rc != 0 || !buf) {
    free(buf);
    return -1;
  }
  int n = 0;
  for (const char* p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++) n++;
  free(buf);
  return n;
}

#endif /* SOAK_ARENAS_H */
