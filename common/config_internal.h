/*
 * config_internal.h — what the files of the config module share, and what no
 * other file includes: the row of a key table (struct key), the state of one
 * file's parse (struct pctx), and the helpers one file of the module calls in
 * another. The contract with the rest of tenantd stays config.h.
 *
 * The module, by file (a file is read by config_files.c through config_ini.c,
 * which stores each value with config_value.c by the row of config_keys.c):
 *   config.c         diagnostics; the whole configuration: listing the tenant
 *                    files, loading each, the cross-tenant checks; comparison
 *   config_files.c   the three files: read, parse, derive what depends on other
 *                    keys (tenantd.ini, plans.ini, tenants.d/<id>.ini)
 *   config_ini.c     the reader: pre-scan, inih through a counting reader, the
 *                    key handler, required keys and defaults, the messages
 *   config_value.c   one value: the scalar parsers (sizes, durations, integers,
 *                    listen addresses, port ranges), quoting, storing by type
 *   config_keys.c    every key: the three tables and the allowlists they name
 *   config_env.c     per-tenant paths and the worker's environment
 *   config_reuse.c   file stamps; a reload's reuse of unchanged tenant entries
 */
#ifndef TENANTD_CONFIG_INTERNAL_H
#define TENANTD_CONFIG_INTERNAL_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* inih reads into a 200-byte buffer: 199 bytes of line and the NUL. */
#define LINE_MAX_BYTES 199
/* A tenant file is a few hundred bytes; anything much larger is a mistake. */
#define FILE_MAX_BYTES (64 * 1024)
/* Values quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 60

#define KIB ((int64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define SEC ((int64_t)1000)
#define MIN_ (SEC * 60)
#define HOUR (MIN_ * 60)
#define DAY (HOUR * 24)

/* ---- character classes ------------------------------------------------------ */

static inline bool is_lower_digit(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static inline bool is_alnum(int c)
{
    return is_lower_digit(c) || (c >= 'A' && c <= 'Z');
}

static inline bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

#define U8_NO_C0 1u   /* refuse C0 controls and DEL */
#define U8_NO_C1 2u   /* refuse C1 controls and U+2028/U+2029 */
#define U8_NO_BIDI 4u /* refuse bidi controls (config_is_bidi_control) */

/* ---- the tables (the rows are in config_keys.c) ------------------------------ */

enum ktype {
    K_INT,       /* int, decimal, bounds min..max */
    K_I64,       /* int64_t, decimal */
    K_SIZE,      /* int64_t bytes: "256M" */
    K_DURATION,  /* int64_t milliseconds: "5s" */
    K_BOOL,      /* bool: true/false/yes/no/on/off/1/0 */
    K_ENUM,      /* an enum field, from `names` */
    K_STR,       /* ASCII string checked by `check` */
    K_TEXT,      /* free UTF-8 text without control characters */
    K_PATH,      /* a path of the global file, resolved against its folder */
    K_PROGRAM,   /* a bare program name (PATH) or a path, resolved when relative */
    K_CMDLINE,   /* a shell command line of the operator's, stored verbatim */
    K_ARGV,      /* quoted words without a shell (argv.h), verbatim; `check` on the program */
    K_LISTEN,    /* host:port into a string field and an int field (off2) */
    K_PORTRANGE, /* "low-high" into two int fields */
    K_THRESHOLD, /* a decimal 0..1 into a double and its text (off2) */
};

#define F_REQUIRED 1u /* a missing key is an error */
#define F_EMPTY_OK 2u /* an empty value is stored as "" (else "is empty") */
#define F_OFF_OK 4u   /* K_LISTEN: "off" means no listener (host "", port 0) */

struct check {
    bool (*ok)(const char *s);
    const char *what; /* completes `"v" is not ...` */
};

struct key {
    const char *section; /* NULL: any section (plans.ini: one per plan) */
    const char *name;
    enum ktype type;
    unsigned flags;
    size_t off, size;   /* the field; size bounds strings */
    size_t off2, size2; /* the second field of K_LISTEN, K_PORTRANGE, K_THRESHOLD */
    int64_t min, max;
    const char *def;           /* default, in file syntax; NULL: none or derived */
    const char *const *names;  /* K_ENUM, in enum order */
    const struct check *check; /* K_STR */
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* The most rows a table may have: the loaders' "seen on line" arrays are this
 * long, and config_keys.c checks at compile time that every table fits. */
#define CONFIG_KEYS_MAX 96

/* One file kind's table and its number of rows. */
struct key_table {
    const struct key *keys;
    size_t n;
};
extern const struct key_table config_global_table; /* tenantd.ini */
extern const struct key_table config_plan_table;   /* plans.ini */
extern const struct key_table config_tenant_table; /* tenants.d/<id>.ini */

/* ---- the parse of one file ----------------------------------------------------- */

/* The parse of one file: its text, where messages go, and what is filled. */
struct pctx {
    const char *display; /* the file as messages name it */
    struct config_diag *d;
    int nerr;
    struct config_diag local; /* this file's messages, sorted by line in flush() */
    int *msg_line;            /* the line of each message of `local` */
    size_t msg_cap;

    const struct key *keys;
    size_t nkeys;
    const char *base; /* folder that relative paths resolve against */

    /* The object a section fills and its per-key "seen on line" array. For
     * single-object files sections are checked against the table; for plans
     * every section is one plan. */
    void *obj;
    int *seen;
    struct config_plans *plans;
    int plan_seen[CONFIG_PLANS_MAX][CONFIG_KEYS_MAX];
    int plan_line[CONFIG_PLANS_MAX];

    /* The counting reader's state. */
    const char *text;
    size_t len, pos;
    int lineno;
    bool at_line_start;
    unsigned char *skip; /* per line (1-based): the pre-scan reported it */
    int nlines;
};

/* ---- config_keys.c: the allowlists the readers need too ----------------------- */

/* ^[a-z][a-z0-9-]{0,30}$ without the reserved-word check. */
bool config_id_form(const char *s);
/* An IPv4 or IPv6 address, or a domain name. */
bool config_valid_host(const char *s);
bool config_is_loopback(const char *host);

/* ---- config_value.c ------------------------------------------------------------- */

/* Valid UTF-8, and per `flags` (U8_NO_C0, U8_NO_C1) without control characters. */
bool config_utf8_check(const char *s, unsigned flags);
/* U+202A..U+202E, U+2066..U+2069, U+200E, U+200F. */
bool config_is_bidi_control(uint32_t cp);
/* A value quoted for a message, one printable line (buf: QUOTE_MAX * 4 + 16). */
void config_quote(char *buf, size_t n, const char *v);
/* Store value v of key k into obj, or explain in `why` why not; 0 or -1. */
int config_store(struct pctx *c, const struct key *k, void *obj, const char *v, char *why,
                 size_t wn);

/* ---- config_ini.c --------------------------------------------------------------- */

void config_perr(struct pctx *c, int line, const char *section, const char *key, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));
void config_flush(struct pctx *c);
int config_plan_index(const struct config_plans *p, const char *name);
void config_parse_text(struct pctx *c);
void config_finish_keys(struct pctx *c, void *obj, const int *seen, const char *section);
int config_seen_line(const struct pctx *c, const int *seen, const char *section, const char *name);

/* ---- config_net.c --------------------------------------------------------------- */

/* allow = host:port ... is well-formed (see config_net.c). */
bool config_valid_allow(const char *s);
/* [tenantd] port_range must not contain the admin, proxy or TLS port. */
void config_net_global(struct pctx *c, const struct config_global *g, const int *seen);
/* network and allow: the plan's or the command's default, the "host" alias,
 * the allow list parsed and checked; the port off tenantd's listeners. */
void config_net_tenant(struct pctx *c, const struct config_global *g, const struct config_plan *pl,
                       struct config_tenant *t, const int *seen);

/* ---- config_files.c ------------------------------------------------------------- */

const char *config_display_of(const struct config_global *g, const char *path);
void config_safe_name(char *buf, size_t n, const char *name);

/* config_reuse.c */
#define CONFIG_STAMP_SETTLE_NS (2LL * 1000 * 1000 * 1000)
/* How old a file's timestamps must be for its stamp to be trusted; the unit
 * test sets 0 (it changes sizes or inodes, never within one tick). */
void config_stamp_settle(int64_t ns);
int64_t config_now_ns(void);
void config_stamp_take(const char *path, int64_t now_ns, struct config_stamp *st);
bool config_stamp_same(const struct config_stamp *a, const struct config_stamp *b);
/* Fill e from prev's entry for the tenant file `name` ("<id>.ini") when its
 * stamp equals st; an invalid entry's messages go into one again. False when
 * there is none to reuse (then e is untouched). */
bool config_reuse_entry(const struct config *prev, const char *name, const struct config_stamp *st,
                        struct config_tenant_entry *e, struct config_diag *one);

#endif
