/*
 * kd_internal.h - what the files of the kd> shell share: the command table,
 * argument parsing and the careful memory reads every command uses.
 *
 * A command is a KD_COMMAND in the "kd_commands" linker section
 * (KD_COMMAND(...) below), so each file of commands adds its own rows and
 * code outside kernel/kd (the test harness's `.test`) can add rows without
 * the kernel naming it. `help` lists them grouped by their Group string.
 *
 * A command prints its results with DbgPrint and returns STATUS_SUCCESS, or
 * returns a failure after printing nothing: the shell then prints the one
 * error line that says why (KdpError sets the text).
 */
#ifndef MICA_KD_INTERNAL_H
#define MICA_KD_INTERNAL_H

#include "../ke/ke_internal.h"
#include "../../mm/pool_internal.h"

#define KD_MAX_ARGS 8

typedef NTSTATUS (*PKD_COMMAND_ROUTINE)(ULONG Argc, PCHAR Argv[]);

typedef struct _KD_COMMAND {
    PCSTR Name;                 /* what is typed: "!pte", "db", ".alloc" */
    ULONG Flags;                /* KD_F_* */
    PCSTR Group;                /* help's heading */
    PCSTR Syntax;               /* arguments, for help */
    PCSTR Help;                 /* one line */
    PKD_COMMAND_ROUTINE Routine;
} KD_COMMAND, *PKD_COMMAND;

/* The command calls the Mm/Ex API or takes locks: only the shell thread
 * (PASSIVE_LEVEL) runs it, never the break-in or post-bug-check shell. */
#define KD_F_THREAD 0x1

#define KD_COMMAND_SECTION __attribute__((used, section("kd_commands"), aligned(8)))
#define KD_COMMAND_FLAGS(Name_, Flags_, Group_, Syntax_, Help_, Routine_)                     \
    static const KD_COMMAND KdCommand_##Routine_ KD_COMMAND_SECTION = {Name_, Flags_, Group_,  \
                                                                         Syntax_, Help_, Routine_}
#define KD_COMMAND(Name_, Group_, Syntax_, Help_, Routine_) \
    KD_COMMAND_FLAGS(Name_, 0, Group_, Syntax_, Help_, Routine_)
#define KD_THREAD_COMMAND(Name_, Group_, Syntax_, Help_, Routine_) \
    KD_COMMAND_FLAGS(Name_, KD_F_THREAD, Group_, Syntax_, Help_, Routine_)

/* Command groups, in the order help prints them. */
#define KD_GROUP_MM      "memory manager"
#define KD_GROUP_KERNEL  "kernel"
#define KD_GROUP_IO      "I/O"
#define KD_GROUP_TEACH   "teaching (call the API)"
#define KD_GROUP_SHELL   "shell"

/*
 * Numbers as WinDbg reads them: hexadecimal by default ("1000", "0x1000"),
 * "0n" for decimal, and a backtick may split a 64-bit address
 * ("fffff880`00000000"). FALSE (and the error line's text set) when Text is
 * not a number.
 */
BOOLEAN KdpParseNumber(PCSTR Text, PULONG64 Value);

/* Set the error line the shell prints when a command fails. */
NTSTATUS KdpError(NTSTATUS Status, PCSTR Format, ...) __attribute__((format(printf, 2, 3)));

/*
 * Is Address mapped? MmIsAddressValid's page walk without its IRQL rule
 * (at most DISPATCH_LEVEL, which it enforces): the break-in and
 * post-bug-check shells run at HIGH_LEVEL, the machine stopped.
 */
BOOLEAN KdpIsAddressValid(ULONG64 Address);

/*
 * Copy Length bytes at Address into Buffer only if every page they touch is
 * mapped (KdpIsAddressValid): a debugger must never fault on what it is
 * asked to show. FALSE, with nothing copied, otherwise.
 */
BOOLEAN KdpReadMemory(ULONG64 Address, PVOID Buffer, SIZE_T Length);

/* A pool tag typed as four characters ("Kdal"); FALSE if it is not 1-4 characters. */
BOOLEAN KdpParseTag(PCSTR Text, PULONG Tag);

/* Processor N's KPRCB from Argv[1] if given (default: the current one);
 * an error if N has not started (kdcmd_ke.c). */
NTSTATUS KdpProcessorArgument(ULONG Argc, PCHAR Argv[], PKPRCB *Prcb);

/* !analyze's explanation of a stop code and its four arguments (kdanalyze.c). */
VOID KdpExplainBugCheck(ULONG Code, const ULONG64 Args[4]);

/* Input (kdinput.c): the next line typed on COM1, edited and with history. */
VOID KdpReadLine(PCSTR Prompt, PCHAR Line, SIZE_T Size);
/* The PS/2 keyboard (kdps2.c), polled: the next byte it means, as a
 * terminal would send it; FALSE if none. Caller holds the input lock. */
BOOLEAN KdpKeyboardReadByte(PUCHAR Byte);

/* One key (0 if a break-in came meanwhile); one byte if it comes within
 * Milliseconds (PASSIVE_LEVEL; at a raised IRQL only what already waits). */
UCHAR KdpReadKey(VOID);
BOOLEAN KdpReadKeyTimeout(PUCHAR Byte, ULONG Milliseconds);

/* The pager (kdpage.c): a command's output stops at --More-- every screenful
 * when paging is on. Begin/End bracket one command; Detect asks the terminal
 * for its size at start-up (no answer: a program drives, paging stays off). */
VOID KdpPagerBegin(VOID);
VOID KdpPagerEnd(VOID);
VOID KdpPagerDetect(VOID);
extern BOOLEAN KdpInputEnabled;
extern volatile ULONG KdpBreakCount;

/* The shell's core: run one command line; the read-run loop (until `g`). */
VOID KdpExecuteLine(PCHAR Line);
VOID KdpShellLoop(PCSTR Prompt, BOOLEAN BreakIn);

/*
 * Where the shell runs (kdbreak.c). Active: the break-in or post-bug-check
 * shell, on Processor, at HIGH_LEVEL with the others frozen. Frame (may be
 * NULL), Rip/Rbp and SavedIrql describe the moment before the break.
 */
typedef struct _KD_CONTEXT {
    volatile BOOLEAN Active;
    BOOLEAN Continue;           /* `g` typed */
    ULONG Reason;               /* KD_REASON_* */
    ULONG Processor;
    PKTRAP_FRAME Frame;
    ULONG64 Rip, Rbp;
    KIRQL SavedIrql;
} KD_CONTEXT;
extern KD_CONTEXT KdpContext;
static inline BOOLEAN KdpDebuggerActive(VOID) { return KdpContext.Active; }

#endif
