// C access to OpenMPI for Swift. Not public API of aimc-dist: only AIMCCluster imports it.
//
// OpenMPI defines its handles (MPI_COMM_WORLD, MPI_FLOAT, ...) as macros over addresses of
// globals, which Swift cannot import. Each handle used by AIMCCluster gets a static inline getter
// that Swift sees as a global read-only variable of the same name.
#ifndef AIMC_CMPI_SHIM_H
#define AIMC_CMPI_SHIM_H
#include <mpi.h>

#define AIMC_MPI_HANDLE(type, name) \
    static inline type aimc_get_##name(void) __attribute__((swift_name("getter:" #name "()"))); \
    static inline type aimc_get_##name(void) { return name; }

AIMC_MPI_HANDLE(MPI_Comm, MPI_COMM_WORLD)
AIMC_MPI_HANDLE(MPI_Comm, MPI_COMM_NULL)
AIMC_MPI_HANDLE(MPI_Datatype, MPI_FLOAT)
AIMC_MPI_HANDLE(MPI_Datatype, MPI_DOUBLE)
AIMC_MPI_HANDLE(MPI_Datatype, MPI_BYTE)
AIMC_MPI_HANDLE(MPI_Datatype, MPI_INT64_T)
AIMC_MPI_HANDLE(MPI_Datatype, MPI_UINT64_T)
AIMC_MPI_HANDLE(MPI_Op, MPI_SUM)
AIMC_MPI_HANDLE(MPI_Op, MPI_MAX)
AIMC_MPI_HANDLE(MPI_Op, MPI_MIN)
AIMC_MPI_HANDLE(MPI_Errhandler, MPI_ERRORS_RETURN)
AIMC_MPI_HANDLE(MPI_Info, MPI_INFO_NULL)
AIMC_MPI_HANDLE(MPI_Request, MPI_REQUEST_NULL)
AIMC_MPI_HANDLE(MPI_Group, MPI_GROUP_NULL)

static inline void *aimc_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *aimc_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }

/* Standard output in line-buffered mode (mpirun forwards rank 0's lines as they come). Here because
   Swift 6 rejects references to C's global `stdout`. */
#include <stdio.h>
static inline void aimc_line_buffered_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
/* Whether a write to standard output failed since the start (a full disk, /dev/full). */
static inline int aimc_stdout_failed(void) { fflush(stdout); return ferror(stdout); }

/* Timer slack of this thread (prctl is variadic, which Swift cannot call): short sleeps of the MPI wait loop wake
   near their time instead of up to 50 us late. */
#include <sys/prctl.h>
static inline void aimc_set_timer_slack(unsigned long nanoseconds) { prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0); }

/* Checkpoint-and-stop requests: SIGUSR1 and SIGTERM set a flag that training reads at step boundaries (the
   handler only stores the signal number, which is async-signal-safe). The flag is static to this header: call these
   from one Swift file only (TrainingRun.swift), so that there is one copy of it. */
#include <signal.h>
#include <string.h>
static volatile sig_atomic_t aimc_stop_request = 0;
static void aimc_on_stop_signal(int signal) { aimc_stop_request = signal; }
static inline void aimc_catch_stop_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = aimc_on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}
static inline int aimc_stop_signal(void) { return aimc_stop_request; }

#endif
