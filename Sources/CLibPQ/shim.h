#ifndef CHORUS_CLIBPQ_SHIM_H
#define CHORUS_CLIBPQ_SHIM_H
// Debian and Ubuntu install libpq's headers under /usr/include/postgresql; naming the
// directory here means no extra include path is needed.
#include <postgresql/libpq-fe.h>
#endif
