/* good.h - a driver's own header (wdmcheck.sh test data). */
#include <wdm.h>
