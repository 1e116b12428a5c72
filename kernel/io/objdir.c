/*
 * objdir.c - the I/O manager's object directory: where named device
 * objects ("\Device\Mica0", "\Device\Harddisk0\DR0") can be found by name.
 *
 * NT keeps names in the object manager's tree of directories. Mica has no
 * object manager, so the directory is one list of full paths, each device's
 * name stored in its DEVOBJ_EXTENSION; a path's directories exist as long as
 * a name uses them. Names compare without regard to case, as NT's
 * OBJ_CASE_INSENSITIVE lookups do. IopDatabaseLock guards the list.
 */
#include "iop.h"

static LIST_ENTRY IopDirectory = {&IopDirectory, &IopDirectory};

/* An absolute path: "\" then components separated by single "\", none empty. */
BOOLEAN IopIsValidObjectName(PCUNICODE_STRING Name)
{
    ULONG count = Name->Length / sizeof(WCHAR);

    if (Name->Buffer == NULL || count < 2 || (Name->Length & 1) != 0 || Name->Buffer[0] != '\\')
        return FALSE;
    for (ULONG i = 1; i < count; i++) {
        if (Name->Buffer[i] == 0)
            return FALSE;
        if (Name->Buffer[i] == '\\' && (Name->Buffer[i - 1] == '\\' || i == count - 1))
            return FALSE;
    }
    return TRUE;
}

PDEVICE_OBJECT IopLookupDeviceLocked(PCUNICODE_STRING Name)
{
    for (PLIST_ENTRY e = IopDirectory.Flink; e != &IopDirectory; e = e->Flink) {
        PDEVOBJ_EXTENSION doe = CONTAINING_RECORD(e, DEVOBJ_EXTENSION, DirectoryLink);

        if (RtlEqualUnicodeString(&doe->Name, Name, TRUE))
            return doe->DeviceObject;
    }
    return NULL;
}

VOID IopInsertDeviceLocked(PDEVICE_OBJECT DeviceObject)
{
    InsertTailList(&IopDirectory, &DeviceObject->DeviceObjectExtension->DirectoryLink);
}

VOID IopRemoveDeviceLocked(PDEVICE_OBJECT DeviceObject)
{
    PDEVOBJ_EXTENSION doe = DeviceObject->DeviceObjectExtension;

    if (doe->Name.Buffer == NULL)
        return;
    RemoveEntryList(&doe->DirectoryLink);
    doe->Name.Buffer = NULL;            /* the name is free for a new device now */
    doe->Name.Length = 0;
}
