/*
 * kdcmd_dt.c - kd>'s `dt TYPE [ADDR]`: a kernel structure's layout, and the
 * values of its members at ADDR, in WinDbg's layout:
 *
 *   kd> dt MDL
 *   mica!_MDL
 *      +0x000 Next             : Ptr64 _MDL
 *      +0x008 Size             : Int2B
 *
 * The layout is not written here: struct _KD_DT_TYPES below lists the types
 * (a pointer member each, compiled against the real headers), and at build
 * time kernel/kd/mkdt.py turns this object's DWARF into the table kddt.h
 * describes (build/gen/kddt_table.c). Structures those types embed by value
 * (_LIST_ENTRY, _KDPC, ...) come along. To add a type, add a member here.
 */
#include "kd_internal.h"
#include "kddt.h"
#include "../io/io.h"
#include "../../mm/mm_internal.h"

/* The types dt knows; each member's name is the name it is typed as. */
struct _KD_DT_TYPES {
    MMPFN *MMPFN;
    MMPTE *MMPTE;
    MMPFNLIST *MMPFNLIST;
    MDL *MDL;
    POOL_HEADER *POOL_HEADER;
    NPAGED_LOOKASIDE_LIST *NPAGED_LOOKASIDE_LIST;
    KTHREAD *KTHREAD;
    KPRCB *KPRCB;
    KDPC *KDPC;
    KTIMER *KTIMER;
    KEVENT *KEVENT;
    KINTERRUPT *KINTERRUPT;
    KTRAP_FRAME *KTRAP_FRAME;
    IRP *IRP;
    IO_STACK_LOCATION *IO_STACK_LOCATION;
    DEVICE_OBJECT *DEVICE_OBJECT;
    DRIVER_OBJECT *DRIVER_OBJECT;
    UNICODE_STRING *UNICODE_STRING;
};
/* Referenced, so the compiler keeps the type in the object's DWARF. */
const struct _KD_DT_TYPES *const KdpDtTypeList __attribute__((used)) = NULL;

static int KdpLower(int C)
{
    return C >= 'A' && C <= 'Z' ? C - 'A' + 'a' : C;
}

static BOOLEAN KdpSameName(PCSTR A, PCSTR B)
{
    for (; *A && *B; A++, B++)
        if (KdpLower(*A) != KdpLower(*B))
            return FALSE;
    return *A == *B;
}

const KD_DT_TYPE *KdpDtLookup(PCSTR Name)
{
    for (PCSTR p = Name; *p; p++)
        if (*p == '!')                  /* "mica!_MMPFN", "nt!_MMPFN" */
            Name = p + 1;
    for (ULONG i = 0; i < KdpDtTypeCount; i++)
        if (KdpSameName(Name, KdpDtTypes[i].Name) || KdpSameName(Name, KdpDtTypes[i].Tag))
            return &KdpDtTypes[i];
    return NULL;
}

const KD_DT_FIELD *KdpDtField(const KD_DT_TYPE *Type, PCSTR Name)
{
    for (ULONG i = 0; i < Type->FieldCount; i++)
        if (strcmp(Type->Fields[i].Name, Name) == 0)
            return &Type->Fields[i];
    return NULL;
}

static ULONG64 KdpDtLoad(PUCHAR Base, ULONG Size, BOOLEAN Signed)
{
    switch (Size) {
    case 1: return Signed ? (ULONG64)(LONG64)*(CHAR *)Base : *Base;
    case 2: return Signed ? (ULONG64)(LONG64)*(SHORT *)Base : *(USHORT *)Base;
    case 4: return Signed ? (ULONG64)(LONG64)*(LONG *)Base : *(ULONG *)Base;
    default: return *(ULONG64 *)Base;
    }
}

/* A member's value as WinDbg shows it; Data is a copy of the whole structure. */
static VOID KdpDtShowValue(const KD_DT_FIELD *F, PUCHAR Data)
{
    PUCHAR p = Data + F->Offset;
    ULONG64 v;

    if (F->Count != 0 && F->Kind != KD_DT_STRUCT && F->Kind != KD_DT_OTHER && F->Kind != KD_DT_LIST) {
        /* An array: its size, then the first element, as WinDbg does. */
        DbgPrint("[%u] ", F->Count);
    } else if (F->Count != 0) {
        DbgPrint("%s\n", F->Type);
        return;
    }
    switch (F->Kind) {
    case KD_DT_UINT:
        v = KdpDtLoad(p, F->Size, FALSE);
        if (F->Size == 8)
            DbgPrint("0x%08llx`%08llx\n", v >> 32, v & 0xFFFFFFFFULL);
        else
            DbgPrint("0x%llx\n", v);
        break;
    case KD_DT_INT:
    case KD_DT_ENUM:
        DbgPrint("0n%lld\n", (LONG64)KdpDtLoad(p, F->Size, TRUE));
        break;
    case KD_DT_PTR:
        v = *(ULONG64 *)p;
        DbgPrint("0x%08llx`%08llx\n", v >> 32, v & 0xFFFFFFFFULL);
        break;
    case KD_DT_BITS:
        v = KdpDtLoad(p, F->Size, FALSE) >> F->BitPosition;
        DbgPrint("0y");
        for (ULONG b = F->BitLength; b-- > 0;)
            DbgPrint("%c", (v >> b) & 1 ? '1' : '0');
        DbgPrint("\n");
        break;
    case KD_DT_LIST:
        DbgPrint("%s [ 0x%016llx - 0x%016llx ]\n", F->Type, ((ULONG64 *)p)[0], ((ULONG64 *)p)[1]);
        break;
    default:
        DbgPrint("%s\n", F->Type);
        break;
    }
}

#define KD_DT_MAX_SIZE 0x1000           /* the largest structure dt reads at once */

static NTSTATUS KdpCmdDt(ULONG Argc, PCHAR Argv[])
{
    static UCHAR data[KD_DT_MAX_SIZE];  /* one shell at a time runs dt */
    const KD_DT_TYPE *type;
    ULONG64 address = 0;

    if (Argc < 2 || Argc > 3)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: dt TYPE [ADDR] (dt -l lists the types)");
    if (strcmp(Argv[1], "-l") == 0) {
        for (ULONG i = 0; i < KdpDtTypeCount; i++)
            DbgPrint("  %-24s size 0x%x\n", KdpDtTypes[i].Tag, KdpDtTypes[i].Size);
        return STATUS_SUCCESS;
    }
    type = KdpDtLookup(Argv[1]);
    if (type == NULL)
        return KdpError(STATUS_NOT_FOUND, "no type '%s' (dt -l lists them)", Argv[1]);
    if (Argc == 3) {
        if (!KdpParseNumber(Argv[2], &address))
            return STATUS_INVALID_PARAMETER;
        if (type->Size > sizeof(data))
            return KdpError(STATUS_BUFFER_TOO_SMALL, "%s is larger than 0x%x bytes", type->Tag,
                            KD_DT_MAX_SIZE);
        if (!KdpReadMemory(address, data, type->Size))
            return KdpError(STATUS_ACCESS_VIOLATION, "%llx is not mapped (0x%x bytes of %s)",
                            address, type->Size, type->Tag);
    }
    DbgPrint("mica!%s\n", type->Tag);
    for (ULONG i = 0; i < type->FieldCount; i++) {
        const KD_DT_FIELD *f = &type->Fields[i];
        DbgPrint("   +0x%03x %-16s : ", f->Offset, f->Name);
        if (Argc == 3)
            KdpDtShowValue(f, data);
        else
            DbgPrint("%s\n", f->Type);
    }
    return STATUS_SUCCESS;
}
KD_COMMAND("dt", KD_GROUP_KERNEL, "TYPE [ADDR] | -l", "a structure's members (and values at ADDR)",
           KdpCmdDt);
