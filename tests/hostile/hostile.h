/* Controls of the hostile test module (tests/hostile/hostile.c). A test
 * dlopens the module's file and looks these up with dlsym. */
#ifndef HW_HOSTILE_H
#define HW_HOSTILE_H

/* Comma-separated misbehaviours, "" for none (listed in hostile.c). */
void hostile_set(const char *mode);
/* "initialize", "finalize", "sessions" (open now) or "overlaps". */
int hostile_stat(const char *what);

typedef void (*hostile_set_fn)(const char *mode);
typedef int (*hostile_stat_fn)(const char *what);

#endif
