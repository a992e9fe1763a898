// C access to OpenBLAS's cblas interface (Debian: libopenblas-dev; pkg-config openblas).
// Not public API of aimc-dist: only AIMCCore imports it. OpenBLAS also carries LAPACK; Debian ships no LAPACK header
// with it, so the one LAPACK routine used is declared here (Fortran interface, 32-bit integers as blasint).
#ifndef AIMC_CBLAS_SHIM_H
#define AIMC_CBLAS_SHIM_H
#include <cblas.h>

/// LAPACK dgelsd: minimum-norm solution of min ||A X - B||_F by divide-and-conquer SVD (numpy.linalg.lstsq's routine).
void dgelsd_(const blasint *m, const blasint *n, const blasint *nrhs, double *a, const blasint *lda, double *b,
             const blasint *ldb, double *s, const double *rcond, blasint *rank, double *work, const blasint *lwork,
             blasint *iwork, blasint *info);
#endif
