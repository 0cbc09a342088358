/*
 * k8s_render.h — `tenantctl export k8s`, the pure part: the Kubernetes manifests that run
 * one tenant as described by its files (DESIGN.md "Beyond one machine"), as YAML text.
 *
 * This module builds each object as a jansson tree and prints it as block YAML in which
 * every string is double-quoted (YAML's double-quoted style is a superset of JSON's, so a
 * hostile value — quotes, colons, '#', newlines, unicode — is always one valid YAML string),
 * every key is either a plain identifier or quoted too, and numbers and booleans are bare.
 * It does no I/O: the caller reads the files (config, run/uids, the secret) and writes the
 * text; unit tests call it directly. docs/kubernetes.md states every mapping it makes.
 *
 * What it does not do: talk to a cluster, read a tenant's data, or import anything back.
 */
#ifndef TENANTD_K8S_RENDER_H
#define TENANTD_K8S_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* What a pod gets when the tenant file and its plan set no storage size. */
#define K8S_DEFAULT_STORAGE_BYTES (1024LL * 1024 * 1024)
/* The image of the bundled worker (deploy/k8s/build-image.sh) unless --image names one. */
#define K8S_DEFAULT_IMAGE "tenant-worker:" TENANTD_VERSION
/* The namespace the manifests go into unless --namespace names one. */
#define K8S_DEFAULT_NAMESPACE "tenantd"
/* The namespace of the ingress controller whose pods may reach the tenants. */
#define K8S_DEFAULT_INGRESS_NAMESPACE "ingress-nginx"
/* Where the image keeps the worker's pages and rules, and where the data volume goes. */
#define K8S_TEMPLATES_DIR "/usr/local/share/tenantd/templates/worker"
#define K8S_DATA_DIR "/data"
/* The name of the TLS Secret the Ingress rules use when [proxy] has a certificate. */
#define K8S_TLS_SECRET "tenantd-tls"
/* The first uid tenantd hands out (UIDMAP_FIRST in supervisor/tenantd/uidmap.h). */
#define K8S_UID_FIRST 200000u

/* Options of one export, from the command line. Strings are borrowed. */
struct k8s_opts {
    const char *namespace_;        /* a DNS label */
    const char *image;             /* the container image of every exported tenant */
    bool image_given;              /* --image: also runs tenants with their own command */
    const char *storage_class;     /* "" = the cluster's default class */
    const char *ingress_class;     /* "" = the cluster's default class */
    const char *ingress_namespace; /* NetworkPolicy: who may connect (a namespace name) */
    bool include_secrets;          /* a Secret object with the value (else only a reference) */
};

/* One tenant as the renderer needs it. Pointers are borrowed. */
struct k8s_tenant {
    const struct config_tenant *t;
    uint32_t uid;          /* runAsUser, runAsGroup and fsGroup */
    bool uid_assigned;     /* false: not in run/uids yet, the uid tenantd would give it next */
    int64_t storage_bytes; /* 0 = K8S_DEFAULT_STORAGE_BYTES */
    const char *secret;    /* the SECRET_KEY value, used only with include_secrets */
};

/*
 * Check that the options and the tenant can be expressed; on failure write one sentence
 * (without the tenant id, which the caller prefixes) to err and return -EINVAL.
 */
int k8s_check_opts(const struct k8s_opts *o, char *err, size_t errlen);
int k8s_check_tenant(const struct k8s_opts *o, const struct k8s_tenant *kt, char *err,
                     size_t errlen);

/*
 * The manifests shared by every tenant (the Namespace, with the "restricted" Pod Security
 * level the tenants' pods meet). Returns a new NUL-terminated string the caller frees, or
 * NULL with errno set.
 */
char *k8s_render_shared(const struct k8s_opts *o, const struct config_global *g);

/*
 * The manifests of one tenant: [Secret,] Service, StatefulSet (its PVC in
 * volumeClaimTemplates), Ingress, NetworkPolicy, as YAML documents each starting with
 * "---". The tenant must have passed k8s_check_tenant. Returns a new string the caller
 * frees, or NULL with errno set (EINVAL when the tenant cannot be expressed).
 */
char *k8s_render_tenant(const struct k8s_opts *o, const struct config_global *g,
                        const struct config_plans *p, const struct k8s_tenant *kt);

/* Print one string as a YAML double-quoted scalar into buf (always NUL-terminated);
 * returns the length it needed, like snprintf. Exposed for the unit test. */
size_t k8s_yaml_quote(const char *s, char *buf, size_t n);

/* A byte count as a Kubernetes quantity: "1Gi", "256Mi", "64Ki" or plain bytes. */
void k8s_quantity(int64_t bytes, char *buf, size_t n);

#endif
