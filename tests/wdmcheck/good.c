/* A driver source wdmcheck.sh accepts: wdm.h and a header beside it. */
#include <wdm.h>
#include "good.h"
