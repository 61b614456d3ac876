/* Controls of the hostile test module (tests/hostile/hostile.c). A test
 * dlopens the module's file and looks these up with dlsym. */
#ifndef HW_HOSTILE_H
#define HW_HOSTILE_H

/* Comma-separated misbehaviours, "" for none (listed in hostile.c). */
void hostile_set(const char *mode);
/* "initialize", "finalize", "sessions" (open now), "overlaps" or
 * "blocked" (callers held by a block_* mode now). */
int hostile_stat(const char *what);
/* Wait until n callers are held by block_* modes, at most seconds; the
 * number held then. */
int hostile_wait_blocked(int n, int seconds);

typedef void (*hostile_set_fn)(const char *mode);
typedef int (*hostile_stat_fn)(const char *what);
typedef int (*hostile_wait_fn)(int n, int seconds);

#endif
