/*
 * kddt.h - the type table behind kd>'s `dt`, generated at build time.
 *
 * kernel/kd/mkdt.py reads the debug information of kdcmd_dt.o (compiled
 * against the real headers) and writes build/gen/kddt_table.c: for each
 * type, every member's name, WinDbg's spelling of its type, its offset and
 * size as the compiler laid them out. No offset is written by hand.
 */
#ifndef MICA_KDDT_H
#define MICA_KDDT_H

#include "kernel/ntdef.h"

/* How `dt TYPE ADDR` shows a member's value. */
#define KD_DT_UINT   1          /* 0x1f */
#define KD_DT_INT    2          /* 0n-1 */
#define KD_DT_PTR    3          /* 0xfffff800`12345678 */
#define KD_DT_STRUCT 4          /* only the type's name */
#define KD_DT_BITS   5          /* 0y101 */
#define KD_DT_ENUM   6          /* 0n2 */
#define KD_DT_LIST   7          /* _LIST_ENTRY [ 0xflink - 0xblink ] */
#define KD_DT_OTHER  8          /* only the type's name */

typedef struct _KD_DT_FIELD {
    PCSTR Name;
    PCSTR Type;                 /* "Uint4B", "Ptr64 _MMPTE", "[4] UChar", "Pos 0, 3 Bits" */
    ULONG Offset;               /* bytes; a bit field's: its storage unit's */
    UCHAR Kind;                 /* KD_DT_*; an array's: its element's */
    UCHAR Size;                 /* bytes: of the element, of a bit field's unit */
    UCHAR BitPosition, BitLength;
    ULONG Count;                /* array elements; 0 when not an array */
} KD_DT_FIELD;

typedef struct _KD_DT_TYPE {
    PCSTR Name;                 /* as typed: "MMPFN" */
    PCSTR Tag;                  /* as WinDbg names it: "_MMPFN" */
    ULONG Size;
    ULONG FieldCount;
    const KD_DT_FIELD *Fields;
} KD_DT_TYPE;

extern const KD_DT_TYPE KdpDtTypes[];
extern const ULONG KdpDtTypeCount;

/* The type typed as "MMPFN", "_MMPFN" or "mica!_MMPFN" (case-insensitive), or NULL. */
const KD_DT_TYPE *KdpDtLookup(PCSTR Name);
/* Its member Name, or NULL. */
const KD_DT_FIELD *KdpDtField(const KD_DT_TYPE *Type, PCSTR Name);

#endif
