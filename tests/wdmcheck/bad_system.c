/* wdmcheck.sh must refuse this: only <wdm.h> comes from outside. */
#include <stdint.h>
