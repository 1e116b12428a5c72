/*
 * pool_host_env.h - the host page provider's extras for the pool bench
 * (pool_host_env.c): set the pools up, and read the peak of pool pages
 * in use (small-block pages, whole-page allocations and the big-page
 * table together) for the fragmentation figure.
 */
#ifndef MICA_POOL_HOST_ENV_H
#define MICA_POOL_HOST_ENV_H

void HostPoolInitialize(void);
unsigned long long HostPoolPeakPages(void);
/* Start a new peak from the pages in use now. */
void HostPoolResetPeak(void);

#endif
