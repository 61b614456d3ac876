/* Per-thread call deadlines (deadline.h). */
#include "common/deadline.h"

#include <stdbool.h>
#include <time.h>

static _Thread_local double deadline_at;
static _Thread_local bool deadline_set;

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
