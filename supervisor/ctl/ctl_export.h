/*
 * ctl_export.h — `tenantctl export k8s`: the Kubernetes manifests of the tenants, from the
 * same files tenantd reads (DESIGN.md "Beyond one machine"). Works offline, like `check`:
 * it reads the configuration, <run_dir>/uids and, with --include-secrets, each tenant's
 * <data_dir>/<id>/secret; it never talks to tenantd or to a cluster. The rendering is
 * k8s_render.h's; docs/kubernetes.md and tenantctl(8) describe the result.
 *
 *   tenantctl export k8s [--namespace N] [--image IMAGE] [--storage-class C]
 *                        [--ingress-class C] [--ingress-namespace N] [-o DIR]
 *                        [--include-secrets] [id...]
 *
 * Takes the command's own arguments with argv[0] = "export", and the global file's path.
 * All or nothing: when any selected tenant cannot be expressed (an invalid file, a command
 * outside the image without --image, ...), every reason is printed, nothing is written, and
 * the exit code is 1; 4 for an unknown id, 2 for a bad command line.
 */
#ifndef TENANTD_CTL_EXPORT_H
#define TENANTD_CTL_EXPORT_H

int ctl_export_cmd(int argc, char **argv, const char *config_path);

#endif
