/* Per-thread call deadlines (deadline.h). */
#include "common/deadline.h"

#include <stdbool.h>
#include <time.h>

static _Thread_local double deadline_at;
static _Thread_local bool deadline_set;

/* The coarse clock: deadlines are seconds long, and every call to a slot
 * starts one, so it must cost next to nothing. The precise clock reads the
 * hypervisor's clock page under a virtual machine (measured at 0.4 % of an
 * hsm-slot ECDSA signature); the coarse one is the kernel's last tick
 * (a few ms of resolution), read from the vDSO without touching hardware. */
static double mono_now(void)
{
	struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double hw_mono_s(void)
{
	return mono_now();
}

int64_t hw_mono_ms(void)
{
	return (int64_t)(mono_now() * 1000.0);
}

void hw_deadline_set_ms(unsigned ms)
{
	deadline_at = mono_now() + (double)ms / 1000.0;
	deadline_set = true;
}

int hw_deadline_left_ms(int dflt)
{
	if (!deadline_set)
		return dflt;
	double left = (deadline_at - mono_now()) * 1000.0;
	return left <= 0.0 ? 0 : left > 2e9 ? 2000000000 : (int)left;
}
