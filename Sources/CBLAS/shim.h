// C access to OpenBLAS's cblas interface (Debian: libopenblas-dev; pkg-config openblas).
// Not public API of aimc-dist: only AIMCCore imports it.
#ifndef AIMC_CBLAS_SHIM_H
#define AIMC_CBLAS_SHIM_H
#include <cblas.h>
#endif
