/* wdmcheck.sh must refuse this: it reaches into the kernel's internals. */
#include <wdm.h>
#include "../../kernel/ke/ke_internal.h"
