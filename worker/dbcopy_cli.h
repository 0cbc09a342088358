/*
 * dbcopy_cli.h — `tenant-worker --migrate-copy FROM TO` and
 * `tenant-worker --db-checksum SRC` (the interface is in dbcopy_cli.c).
 */
#ifndef TENANT_WORKER_DBCOPY_CLI_H
#define TENANT_WORKER_DBCOPY_CLI_H

/* argv[1] is "--migrate-copy" or "--db-checksum"; returns the exit status. */
int dbcopy_cli(int argc, char **argv);

#endif
