/*
 * wdm.h - the one header a driver includes, as in the Windows Driver Kit.
 *
 * It gathers the NT types and the driver-facing API of every component:
 * Rtl (lists, strings, formatted output), Hal (ports, registers, interrupt
 * vectors, DMA adapters), Ke (IRQL, spin locks, DPCs, dispatcher objects,
 * threads, time), Kd (DbgPrint), Mm and Ex (pools, lookaside lists,
 * contiguous memory, I/O space, MDLs) and Io (driver and device objects,
 * IRPs, interrupts, work items).
 *
 * Everything under drivers/ is built so that it can include this header and
 * nothing else (the Makefile refuses a driver that tries): if a driver needs
 * more, the public API grows, as it would in NT.
 */
#ifndef MICA_WDM_H
#define MICA_WDM_H

#include "ntdef.h"
#include "rtl/rtl.h"
#include "hal/hal.h"
#include "kd/kd.h"
#include "ke/ke.h"
#include "../mm/mm.h"
#include "io/io.h"
#include "hal/dma.h"
#include "io/ntdddisk.h"
#include "io/ntddnet.h"

#endif
