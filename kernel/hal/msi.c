/*
 * msi.c - where a message-signalled interrupt goes (Hal), and the table
 * through which bus drivers reach it (HalPrivateDispatchTable).
 *
 * An MSI is a memory write by the device. On x86 (Intel SDM vol. 3,
 * "Message Signalled Interrupts") the write goes to 0xFEE0_0000 with the
 * destination local APIC's ID in address bits 19:12 (redirection hint and
 * destination mode bits 3 and 2 zero: physical destination, exactly that
 * processor), and the data holds the vector in bits 7:0, the delivery mode
 * in bits 10:8 (000 = fixed) and the trigger mode in bit 15 (0 = edge).
 * Mica sends every device interrupt to processor 0, as the I/O APIC
 * entries do (kernel/hal/ioapic.c).
 */
#include "../ke/ke_internal.h"

#define MSI_ADDRESS_BASE            0xFEE00000u
#define MSI_ADDRESS_DESTINATION_SHIFT 12
#define MSI_ADDRESS_DESTINATION_MASK  0xFFu          /* 8-bit xAPIC ID */
#define MSI_DATA_VECTOR_MASK        0xFFu
#define MSI_DATA_DELIVERY_FIXED     (0u << 8)
#define MSI_DATA_TRIGGER_EDGE       (0u << 15)

static VOID HalpGetMessageTarget(ULONG Vector, PPHYSICAL_ADDRESS MessageAddress,
                                 PULONG MessageData, PKAFFINITY Affinity)
{
    ULONG apicId = KiProcessorBlock[0]->ApicId & MSI_ADDRESS_DESTINATION_MASK;

    MessageAddress->QuadPart = MSI_ADDRESS_BASE | apicId << MSI_ADDRESS_DESTINATION_SHIFT;
    *MessageData = (Vector & MSI_DATA_VECTOR_MASK) | MSI_DATA_DELIVERY_FIXED | MSI_DATA_TRIGGER_EDGE;
    if (Affinity)
        *Affinity = AFFINITY_MASK(0);
}

HAL_PRIVATE_DISPATCH HalPrivateDispatchTable = {
    .Version = HAL_PRIVATE_DISPATCH_VERSION,
    .ReserveMessageVector = HalpReserveMessageVector,
    .ReleaseMessageVector = HalpReleaseMessageVector,
    .GetMessageTarget = HalpGetMessageTarget,
};
