#ifndef CHORUS_CHIREDIS_SHIM_H
#define CHORUS_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
