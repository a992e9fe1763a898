// C access to zlib (Debian: zlib1g-dev). Not public API of aimc-dist: only AIMCTraining imports it.
#ifndef AIMC_CZLIB_SHIM_H
#define AIMC_CZLIB_SHIM_H
#include <zlib.h>
#endif
