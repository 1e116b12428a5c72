/*
 * test_kd.c - the kd> shell's tables agree with the compiler.
 *
 * `dt` shows offsets from a table generated at build time from DWARF
 * (kernel/kd/mkdt.py); here the compiler's own offsetof and sizeof check a
 * sample of it, bit fields included, so a generator that misread the debug
 * information (or a stale table) fails.
 */
#include "../../kernel/kd/kd_internal.h"
#include "../../kernel/kd/kddt.h"
#include "../../kernel/io/io.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define KD_EXPECT_FIELD(Type, Name, Field, Member)                                  \
    do {                                                                            \
        const KD_DT_TYPE *t_ = KdpDtLookup(Name);                                   \
        const KD_DT_FIELD *f_ = t_ ? KdpDtField(t_, #Field) : NULL;                 \
        KEXPECT_TRUE(f_ != NULL);                                                   \
        if (f_ != NULL)                                                             \
            KEXPECT_EQ(f_->Offset, __builtin_offsetof(Type, Member));               \
    } while (0)

KTEST(kd, dt_table_offsets_match_the_compiler)
{
    static const struct { PCSTR Name; ULONG Size; } sizes[] = {
        {"MMPFN", sizeof(MMPFN)}, {"MMPTE", sizeof(MMPTE)}, {"MDL", sizeof(MDL)},
        {"POOL_HEADER", sizeof(POOL_HEADER)}, {"KTHREAD", sizeof(KTHREAD)},
        {"KPRCB", sizeof(KPRCB)}, {"KDPC", sizeof(KDPC)}, {"IRP", sizeof(IRP)},
        {"DEVICE_OBJECT", sizeof(DEVICE_OBJECT)}, {"DRIVER_OBJECT", sizeof(DRIVER_OBJECT)},
        {"_LIST_ENTRY", sizeof(LIST_ENTRY)}, {"mica!_KTIMER", sizeof(KTIMER)},
    };

    for (ULONG i = 0; i < ARRAYSIZE(sizes); i++) {
        const KD_DT_TYPE *t = KdpDtLookup(sizes[i].Name);
        KEXPECT_TRUE(t != NULL);
        if (t != NULL)
            KEXPECT_EQ(t->Size, sizes[i].Size);
    }
    KD_EXPECT_FIELD(MMPFN, "MMPFN", PteAddress, PteAddress);
    KD_EXPECT_FIELD(MMPFN, "_MMPFN", OriginalPte, OriginalPte);
    KD_EXPECT_FIELD(MMPFN, "mmpfn", PteFrame, PteFrame);
    KD_EXPECT_FIELD(MDL, "MDL", ByteOffset, ByteOffset);
    KD_EXPECT_FIELD(KPRCB, "KPRCB", CurrentIrql, CurrentIrql);
    KD_EXPECT_FIELD(KPRCB, "KPRCB", DpcListHead, DpcListHead);
    KD_EXPECT_FIELD(KTHREAD, "KTHREAD", State, State);
    KD_EXPECT_FIELD(KDPC, "KDPC", DeferredRoutine, DeferredRoutine);
    KD_EXPECT_FIELD(IRP, "IRP", MdlAddress, MdlAddress);
    KD_EXPECT_FIELD(DEVICE_OBJECT, "DEVICE_OBJECT", DriverObject, DriverObject);
    KD_EXPECT_FIELD(DRIVER_OBJECT, "DRIVER_OBJECT", MajorFunction, MajorFunction);
    KD_EXPECT_FIELD(POOL_HEADER, "POOL_HEADER", PoolTag, PoolTag);
    KEXPECT_TRUE(KdpDtLookup("NOSUCHTYPE") == NULL);
}

KTEST(kd, dt_table_bit_fields_are_where_the_compiler_put_them)
{
    const KD_DT_TYPE *t = KdpDtLookup("MMPTE_HARDWARE");
    const KD_DT_FIELD *f;
    MMPTE pte = {.Long = 0};

    KASSERT_TRUE(t != NULL);
    /* Set one field through the compiler, find it through the table. */
    pte.Hard.PageFrameNumber = 1;
    f = KdpDtField(t, "PageFrameNumber");
    KASSERT_TRUE(f != NULL);
    KEXPECT_EQ(pte.Long, 1ULL << (f->Offset * 8 + f->BitPosition));
    pte.Long = 0;
    pte.Hard.Valid = 1;
    f = KdpDtField(t, "Valid");
    KASSERT_TRUE(f != NULL);
    KEXPECT_EQ(f->BitLength, 1);
    KEXPECT_EQ(pte.Long, 1ULL << (f->Offset * 8 + f->BitPosition));
}
