/*
 * test_bugcheck_callback.c - KeRegisterBugCheckCallback and its record states.
 *
 * Every bug-check test already depends on a callback running with the
 * right KiBugCheckData (the test harness judges the stop from one); this
 * checks the API's own answers: a record registers once and deregisters
 * once, and its State says where it is.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

static ULONG TbBuffer[4];

static VOID TbCallback(PVOID Buffer, ULONG Length)
{
    UNREFERENCED_PARAMETER(Buffer);
    UNREFERENCED_PARAMETER(Length);
}

KTEST(bugcheck, callback_register_once_deregister_once)
{
    KBUGCHECK_CALLBACK_RECORD record;

    KeInitializeCallbackRecord(&record);
    KEXPECT_EQ(record.State, BufferEmpty);
    KEXPECT_TRUE(KeRegisterBugCheckCallback(&record, TbCallback, TbBuffer, sizeof(TbBuffer),
                                            (PUCHAR) "test"));
    KEXPECT_EQ(record.State, BufferInserted);
    KEXPECT_FALSE(KeRegisterBugCheckCallback(&record, TbCallback, TbBuffer, sizeof(TbBuffer),
                                             (PUCHAR) "test"));
    KEXPECT_TRUE(KeDeregisterBugCheckCallback(&record));
    KEXPECT_EQ(record.State, BufferEmpty);
    KEXPECT_FALSE(KeDeregisterBugCheckCallback(&record));
}
