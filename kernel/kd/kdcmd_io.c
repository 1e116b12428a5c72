/*
 * kdcmd_io.c - the kd> shell's I/O commands, in WinDbg's layout:
 *
 *   !drvobj [ADDR | NAME] [FLAGS]  a driver: its devices (1), entry points (2),
 *                                  dispatch routines (4); no argument: every driver
 *   !devobj ADDR | NAME            a device object: driver, flags, the stack around it
 *   !irp ADDR                      an IRP and its stack locations, '>' on the current one
 *   !pcitree                       the PCI functions the bus driver found, by bus
 *
 * They only read. Every object reached through a pointer is read with
 * KdpReadMemory and checked for its Type first, so a wrong address is an
 * error line, never a fault; the I/O manager's lists are read without its
 * lock (a debugger may run with the machine stopped), so a device being
 * created at that moment may be missed.
 */
#include "kd_internal.h"
#include "../io/iop.h"
#include "../../drivers/pci/pcidrv.h"

#define KD_NAME_MAX 64

/* A UNICODE_STRING's (ASCII) characters, read carefully, into Text. */
static PCSTR KdpUnicodeText(PCUNICODE_STRING String, PCHAR Text, ULONG Size)
{
    ULONG n = 0, count = String->Length / sizeof(WCHAR);
    WCHAR c;

    for (ULONG i = 0; i < count && n + 1 < Size; i++) {
        if (!KdpReadMemory((ULONG64)&String->Buffer[i], &c, sizeof(c)))
            break;
        Text[n++] = c < 0x80 && c >= 0x20 ? (char)c : '?';
    }
    Text[n] = 0;
    return Text;
}

static BOOLEAN KdpIsObject(ULONG64 Address, SIZE_T Size, CSHORT Type)
{
    CSHORT type;

    /* The whole object mapped (first and last byte's pages), its Type the one expected. */
    return Address != 0 && KdpReadMemory(Address, &type, sizeof(type)) && type == Type &&
           KdpReadMemory(Address + Size - 1, &type, 1);
}

static PCSTR KdpDriverName(PDRIVER_OBJECT Driver, PCHAR Text, ULONG Size)
{
    if (!KdpIsObject((ULONG64)Driver, sizeof(DRIVER_OBJECT), IO_TYPE_DRIVER))
        return "?";
    return KdpUnicodeText(&Driver->DriverName, Text, Size);
}

static PCSTR KdpDeviceName(PDEVICE_OBJECT Device, PCHAR Text, ULONG Size)
{
    PDEVOBJ_EXTENSION doe = Device->DeviceObjectExtension;

    Text[0] = 0;
    if (doe != NULL && KdpIsAddressValid((ULONG64)doe) && doe->Name.Buffer != NULL)
        KdpUnicodeText(&doe->Name, Text, Size);
    return Text;
}

static BOOLEAN KdpSameText(PCSTR A, PCSTR B)
{
    for (; *A && *B; A++, B++) {
        char a = *A >= 'A' && *A <= 'Z' ? *A - 'A' + 'a' : *A;
        char b = *B >= 'A' && *B <= 'Z' ? *B - 'A' + 'a' : *B;
        if (a != b)
            return FALSE;
    }
    return *A == *B;
}

/* ---- !drvobj --------------------------------------------------------------------------- */

static const PCSTR KdpMajorNames[IRP_MJ_MAXIMUM_FUNCTION + 1] = {
    "IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ", "IRP_MJ_WRITE",
    "IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
    "IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
    "IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
    "IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
    "IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
    "IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA",
    "IRP_MJ_PNP",
};

static VOID KdpPrintRoutine(PCSTR Label, PVOID Routine)
{
    char where[96];

    if (Routine == NULL || !KeSymbolizeAddress((ULONG_PTR)Routine, where, sizeof(where)))
        where[0] = 0;
    DbgPrint("%s%016llx\t%s\n", Label, (ULONG64)Routine, where);
}

static VOID KdpShowDriver(PDRIVER_OBJECT Driver, ULONG Flags)
{
    char name[KD_NAME_MAX];
    ULONG n = 0;

    DbgPrint("Driver object (%016llx) is for:\n %s\n\n", (ULONG64)Driver,
             KdpDriverName(Driver, name, sizeof(name)));
    DbgPrint("Driver Extension List: (id , addr)\n\n");
    DbgPrint("Device Object list:\n");
    for (PDEVICE_OBJECT d = Driver->DeviceObject; d != NULL && n < 256; d = d->NextDevice, n++) {
        if (!KdpIsObject((ULONG64)d, sizeof(DEVICE_OBJECT), IO_TYPE_DEVICE)) {
            DbgPrint("%016llx  (not a device object)\n", (ULONG64)d);
            break;
        }
        DbgPrint("%016llx%s", (ULONG64)d, n % 4 == 3 ? "\n" : "  ");
    }
    if (n % 4 != 0 || n == 0)
        DbgPrint("\n");
    if (Flags & 2) {
        DbgPrint("\n");
        KdpPrintRoutine("DriverEntry:   ", Driver->DriverInit);
        KdpPrintRoutine("DriverStartIo: ", Driver->DriverStartIo);
        KdpPrintRoutine("DriverUnload:  ", Driver->DriverUnload);
        KdpPrintRoutine("AddDevice:     ", Driver->DriverExtension ? Driver->DriverExtension->AddDevice : NULL);
    }
    if (Flags & 4) {
        DbgPrint("\nDispatch routines:\n");
        for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++) {
            char label[48];
            RtlSnprintf(label, sizeof(label), "[%02x] %-35s", i, KdpMajorNames[i]);
            KdpPrintRoutine(label, (PVOID)Driver->MajorFunction[i]);
        }
    }
}

/* The driver named Name ("\Driver\pci" or "pci"), or NULL. */
static PDRIVER_OBJECT KdpFindDriver(PCSTR Name)
{
    char text[KD_NAME_MAX];

    for (ULONG i = 0; i < IOP_MAX_BUILTIN_DRIVERS; i++) {
        PDRIVER_OBJECT d = IopGetBuiltinDriver(i);
        if (d == NULL)
            continue;
        KdpDriverName(d, text, sizeof(text));
        if (KdpSameText(text, Name) ||
            (strlen(text) > 8 && KdpSameText(text + 8, Name)))    /* after "\Driver\" */
            return d;
    }
    return NULL;
}

static NTSTATUS KdpCmdDrvobj(ULONG Argc, PCHAR Argv[])
{
    ULONG64 a, flags = 1;
    PDRIVER_OBJECT driver;

    if (Argc > 3)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !drvobj [ADDR | NAME] [FLAGS]");
    if (Argc == 1) {
        char name[KD_NAME_MAX];
        for (ULONG i = 0; i < IOP_MAX_BUILTIN_DRIVERS; i++) {
            PDRIVER_OBJECT d = IopGetBuiltinDriver(i);
            if (d != NULL)
                DbgPrint("%016llx  %s\n", (ULONG64)d, KdpDriverName(d, name, sizeof(name)));
        }
        return STATUS_SUCCESS;
    }
    if (Argc == 3 && !KdpParseNumber(Argv[2], &flags))
        return STATUS_INVALID_PARAMETER;
    driver = KdpFindDriver(Argv[1]);
    if (driver == NULL) {
        if (Argv[1][0] == '\\' || !KdpParseNumber(Argv[1], &a))
            return KdpError(STATUS_NOT_FOUND, "no driver '%s' (!drvobj lists them)", Argv[1]);
        if (!KdpIsObject(a, sizeof(DRIVER_OBJECT), IO_TYPE_DRIVER))
            return KdpError(STATUS_INVALID_PARAMETER, "%llx is not a driver object", a);
        driver = (PDRIVER_OBJECT)a;
    }
    KdpShowDriver(driver, (ULONG)flags);
    return STATUS_SUCCESS;
}
KD_COMMAND("!drvobj", KD_GROUP_IO, "[ADDR|NAME] [flags]", "a driver object: devices (1), entry points (2), dispatch (4)",
           KdpCmdDrvobj);

/* ---- !devobj --------------------------------------------------------------------------- */

/* The device named Name ("\Device\Harddisk0\DR0"), found through the drivers' lists. */
static PDEVICE_OBJECT KdpFindDevice(PCSTR Name)
{
    char text[KD_NAME_MAX];

    for (ULONG i = 0; i < IOP_MAX_BUILTIN_DRIVERS; i++) {
        PDRIVER_OBJECT drv = IopGetBuiltinDriver(i);
        for (PDEVICE_OBJECT d = drv ? drv->DeviceObject : NULL; d != NULL; d = d->NextDevice)
            if (KdpSameText(KdpDeviceName(d, text, sizeof(text)), Name))
                return d;
    }
    return NULL;
}

static NTSTATUS KdpCmdDevobj(ULONG Argc, PCHAR Argv[])
{
    char name[KD_NAME_MAX], drv[KD_NAME_MAX];
    PDEVICE_OBJECT d;
    PDEVOBJ_EXTENSION doe;
    ULONG64 a;

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !devobj ADDR | \\Device\\NAME");
    d = KdpFindDevice(Argv[1]);
    if (d == NULL) {
        if (Argv[1][0] == '\\' || !KdpParseNumber(Argv[1], &a))
            return KdpError(STATUS_NOT_FOUND, "no device named '%s'", Argv[1]);
        if (!KdpIsObject(a, sizeof(DEVICE_OBJECT), IO_TYPE_DEVICE))
            return KdpError(STATUS_INVALID_PARAMETER, "%llx is not a device object", a);
        d = (PDEVICE_OBJECT)a;
    }
    doe = d->DeviceObjectExtension;
    KdpDeviceName(d, name, sizeof(name));
    DbgPrint("Device object (%016llx) is for:\n %s %s DriverObject %016llx\n", (ULONG64)d,
             name[0] ? name : "", KdpDriverName(d->DriverObject, drv, sizeof(drv)),
             (ULONG64)d->DriverObject);
    DbgPrint("Current Irp %016llx RefCount %d Type %08x Flags %08x\n", (ULONG64)d->CurrentIrp,
             d->ReferenceCount, d->DeviceType, d->Flags);
    DbgPrint("DevExt %016llx DevObjExt %016llx\n", (ULONG64)d->DeviceExtension, (ULONG64)doe);
    if (doe != NULL && KdpIsAddressValid((ULONG64)doe))
        DbgPrint("ExtensionFlags (0x%08x)%s\n", doe->ExtensionFlags,
                 doe->ExtensionFlags & DOE_DELETE_PENDING ? "  DOE_DELETE_PENDING" : "");
    DbgPrint("Characteristics (0x%08x)%s\n", d->Characteristics,
             d->Characteristics & FILE_DEVICE_SECURE_OPEN ? "  FILE_DEVICE_SECURE_OPEN" : "");
    if (d->AttachedDevice != NULL)
        DbgPrint("AttachedDevice (Upper) %016llx %s\n", (ULONG64)d->AttachedDevice,
                 KdpIsObject((ULONG64)d->AttachedDevice, sizeof(DEVICE_OBJECT), IO_TYPE_DEVICE)
                     ? KdpDriverName(d->AttachedDevice->DriverObject, drv, sizeof(drv)) : "?");
    if (doe != NULL && KdpIsAddressValid((ULONG64)doe) && doe->AttachedTo != NULL)
        DbgPrint("AttachedTo (Lower) %016llx %s\n", (ULONG64)doe->AttachedTo,
                 KdpIsObject((ULONG64)doe->AttachedTo, sizeof(DEVICE_OBJECT), IO_TYPE_DEVICE)
                     ? KdpDriverName(doe->AttachedTo->DriverObject, drv, sizeof(drv)) : "?");
    DbgPrint("Device queue is %s.\n", d->DeviceQueue.Busy ? "busy" : "not busy");
    return STATUS_SUCCESS;
}
KD_COMMAND("!devobj", KD_GROUP_IO, "ADDR | \\Device\\NAME", "a device object and its stack",
           KdpCmdDevobj);

/* ---- !irp ------------------------------------------------------------------------------ */

static NTSTATUS KdpCmdIrp(ULONG Argc, PCHAR Argv[])
{
    IRP irp;
    ULONG64 a;
    PIO_STACK_LOCATION stack;

    if (Argc != 2 || !KdpParseNumber(Argv[1], &a))
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !irp ADDR");
    if (!KdpReadMemory(a, &irp, sizeof(irp)) || irp.Type != IO_TYPE_IRP ||
        irp.StackCount < 1 || irp.Size < sizeof(IRP) + irp.StackCount * sizeof(IO_STACK_LOCATION))
        return KdpError(STATUS_INVALID_PARAMETER, "%llx is not an IRP", a);
    stack = (PIO_STACK_LOCATION)(a + sizeof(IRP));
    DbgPrint("Irp is active with %d stacks %d is current (= %#llx)\n", irp.StackCount,
             irp.CurrentLocation, (ULONG64)irp.Tail.Overlay.CurrentStackLocation);
    DbgPrint(" Mdl=%016llx: ", (ULONG64)irp.MdlAddress);
    if (irp.AssociatedIrp.SystemBuffer != NULL)
        DbgPrint("System buffer=%016llx: ", (ULONG64)irp.AssociatedIrp.SystemBuffer);
    else
        DbgPrint("No System Buffer: ");
    DbgPrint("Thread %016llx:  Irp stack trace.\n", (ULONG64)irp.Tail.Overlay.Thread);
    DbgPrint("     cmd  flg cl Device           File             Completion-Context\n");
    for (CHAR i = 1; i <= irp.StackCount; i++) {
        IO_STACK_LOCATION s;
        char drv[KD_NAME_MAX], where[96];
        if (!KdpReadMemory((ULONG64)&stack[i - 1], &s, sizeof(s)))
            return KdpError(STATUS_ACCESS_VIOLATION, "stack location %d is not mapped", i);
        DbgPrint("%c[%s(%x), N/A(%x)]\n", i == irp.CurrentLocation ? '>' : ' ',
                 s.MajorFunction <= IRP_MJ_MAXIMUM_FUNCTION ? KdpMajorNames[s.MajorFunction] : "?",
                 s.MajorFunction, s.MinorFunction);
        DbgPrint("           %2x %2x %016llx %016llx %016llx-%016llx %s%s%s%s\n", s.Flags, s.Control,
                 (ULONG64)s.DeviceObject, (ULONG64)s.FileObject, (ULONG64)s.CompletionRoutine,
                 (ULONG64)s.Context, s.Control & SL_PENDING_RETURNED ? "pending " : "",
                 s.Control & SL_INVOKE_ON_SUCCESS ? "Success " : "",
                 s.Control & SL_INVOKE_ON_ERROR ? "Error " : "",
                 s.Control & SL_INVOKE_ON_CANCEL ? "Cancel " : "");
        if (s.DeviceObject != NULL || s.CompletionRoutine != NULL) {
            if (s.CompletionRoutine == NULL ||
                !KeSymbolizeAddress((ULONG_PTR)s.CompletionRoutine, where, sizeof(where)))
                where[0] = 0;
            DbgPrint("\t       %s\t%s\n",
                     KdpIsObject((ULONG64)s.DeviceObject, sizeof(DEVICE_OBJECT), IO_TYPE_DEVICE)
                         ? KdpDriverName(s.DeviceObject->DriverObject, drv, sizeof(drv)) : "",
                     where);
        }
        DbgPrint("\t\t\tArgs: %016llx %016llx %016llx %016llx\n",
                 (ULONG64)s.Parameters.Others.Argument1, (ULONG64)s.Parameters.Others.Argument2,
                 (ULONG64)s.Parameters.Others.Argument3, (ULONG64)s.Parameters.Others.Argument4);
    }
    DbgPrint("IoStatus: Status %08x Information %llx%s%s\n", (ULONG)irp.IoStatus.Status,
             (ULONG64)irp.IoStatus.Information, irp.PendingReturned ? "  PendingReturned" : "",
             irp.Cancel ? "  Cancel" : "");
    return STATUS_SUCCESS;
}
KD_COMMAND("!irp", KD_GROUP_IO, "ADDR", "an IRP and its stack locations", KdpCmdIrp);

/* ---- !pcitree -------------------------------------------------------------------------- */

static PCSTR KdpPciClassName(UCHAR Base, UCHAR Sub)
{
    /* Sub KD_ANY_SUBCLASS: any subclass of the base class not listed before it. */
#define KD_ANY_SUBCLASS 0x100
    static const struct { UCHAR Base; USHORT Sub; PCSTR Name; } names[] = {
        {0x00, 0x00, "Pre-2.0 Device"}, {0x01, 0x01, "IDE Controller"},
        {0x01, 0x06, "SATA Controller"}, {0x01, 0x08, "NVMe Controller"},
        {0x01, KD_ANY_SUBCLASS, "Mass Storage Controller"}, {0x02, 0x00, "Ethernet"},
        {0x02, KD_ANY_SUBCLASS, "Network Controller"}, {0x03, 0x00, "VGA Compatible Controller"},
        {0x03, KD_ANY_SUBCLASS, "Display Controller"}, {0x06, 0x00, "Host Bridge"},
        {0x06, 0x01, "ISA Bridge"}, {0x06, 0x04, "PCI-PCI Bridge"},
        {0x06, KD_ANY_SUBCLASS, "Bridge"}, {0x0C, 0x03, "USB Controller"},
        {0x0C, 0x05, "SMBus Controller"}, {0x10, KD_ANY_SUBCLASS, "Encryption/Decryption Controller"},
    };

    for (ULONG i = 0; i < ARRAYSIZE(names); i++)
        if (names[i].Base == Base && (names[i].Sub == Sub || names[i].Sub == KD_ANY_SUBCLASS))
            return names[i].Name;
    return "Other";
}

static NTSTATUS KdpCmdPcitree(ULONG Argc, PCHAR Argv[])
{
    ULONG count = 0, lastBus = ~0u;

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !pcitree");
    if (PciFunctionList.Flink == NULL)
        return KdpError(STATUS_NOT_FOUND, "the PCI bus has not been scanned yet");
    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        ULONG depth = 0;
        PVOID devext = NULL;
        PDEVICE_OBJECT top = f->Pdo;

        for (PPCI_FUNCTION b = f->Bridge; b != NULL && depth < 16; b = b->Bridge)
            depth++;
        if (f->Bus != lastBus) {
            DbgPrint("%*sBus 0x%x\n", (int)(2 * depth), "", f->Bus);
            lastBus = f->Bus;
        }
        if (f->Pdo != NULL) {
            devext = f->Pdo->DeviceExtension;
            while (top->AttachedDevice != NULL)
                top = top->AttachedDevice;
        }
        char slot[8];

        RtlSnprintf(slot, sizeof(slot), "d=%x,", f->Device);
        DbgPrint("%*s(%-5s f=%x) %04x%04x devext %016llx devstack %016llx %02x%02x %s\n",
                 (int)(2 * depth + 2), "", slot, f->Function, f->VendorID, f->DeviceID,
                 (ULONG64)devext, (ULONG64)top, f->BaseClass, f->SubClass,
                 KdpPciClassName(f->BaseClass, f->SubClass));
        count++;
    }
    DbgPrint("\nTotal PCI Root busses processed = 1\n");
    DbgPrint("Total PCI Segments processed = 1\n");
    DbgPrint("Total PCI functions = %u\n", count);
    return STATUS_SUCCESS;
}
KD_COMMAND("!pcitree", KD_GROUP_IO, "", "the PCI functions, by bus, with their device stacks",
           KdpCmdPcitree);
