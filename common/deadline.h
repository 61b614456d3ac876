/*
 * The deadline of the PKCS#11 call a thread is in. The engine starts one
 * from the slot's timeout_ms when a call reaches a slot; whatever waits
 * below (a busy store, a D-Bus reply, a network request) bounds its wait
 * with what is left, so that no call hangs forever on a backend.
 */
#ifndef HW_DEADLINE_H
#define HW_DEADLINE_H

#include <stdint.h>

void hw_deadline_set_ms(unsigned ms);
/* The monotonic clock the deadlines use, in seconds or milliseconds: cheap
 * enough for every call, precise to a few milliseconds (the kernel's tick),
 * which is all that timeouts, retry windows and refresh ages need. */
double hw_mono_s(void);
int64_t hw_mono_ms(void);
/* Milliseconds left (0 once passed); dflt when this thread's call set none. */
int hw_deadline_left_ms(int dflt);

#endif
