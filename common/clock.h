/* The clocks the daemons time things with. */
#ifndef BRSKI_CLOCK_H
#define BRSKI_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds: intervals and deadlines that a change
 * of the wall clock must not move. */
uint64_t brski_monotonic_ms(void);

/* The CLOCK_REALTIME instant ms from now: the absolute timeout that
 * pthread_mutex_timedlock and a condition variable on the default clock
 * take. */
struct timespec brski_realtime_in(unsigned ms);

#endif
