/*
 * exitcode.h — the exit statuses that are a protocol between the programs
 * (s6's idea: an exit code says "restart me" or "do not"). tenantd reads
 * them in supervisor/tenantd/supervisor.c (on_exit_readable); the jail and
 * the worker produce them. Any other status, or a signal, is a crash and is
 * restarted with backoff; 0 after SIGTERM is a clean stop.
 *
 * Only constants: nothing to link.
 */
#ifndef TENANTD_EXITCODE_H
#define TENANTD_EXITCODE_H

/* EX_CONFIG of sysexits.h: the worker's configuration is unusable. tenantd
 * does not restart it until the tenant's file changes (state failed). */
#define EXITCODE_CONFIG 78

/* tenant-jail: an isolation step failed and nothing of the worker ran; the
 * step and the reason were written to the status fd first. tenantd also uses
 * it in a child that could not exec the jail at all. */
#define EXITCODE_JAIL 111

/* A worker given IDLE_AFTER_MS (scale to zero) that exits after that long
 * without a request, having stopped accepting: not a crash. tenantd keeps the
 * listening socket, records the state `idle`, and starts a worker again on
 * the next connection. Any other use of the code is a crash. */
#define EXITCODE_IDLE 112

#endif
