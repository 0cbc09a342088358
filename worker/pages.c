/*
 * pages.c — see pages.h.
 *
 * Templates use {{key}} placeholders from a fixed list; an unknown key is an
 * error at start-up, so a typo in a template never reaches a browser as text.
 * Static files are opened one path segment at a time with O_NOFOLLOW below a
 * folder opened once, so neither ".." nor a symbolic link can lead outside.
 */
#include "pages.h"
#include "brand.h"
#include "invoice_page.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define TEMPLATE_MAX (512 * 1024)
#define STATIC_MAX (4 * 1024 * 1024)

static const struct wenv *env;
static struct pages_buf index_page, app_css, app_js, brand_css;
static char static_dir[PATH_MAX];

int pages_buf_add(struct pages_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_str(struct pages_buf *b, const char *s)
{
    return pages_buf_add(b, s, strlen(s));
}

int pages_buf_escape(struct pages_buf *b, const char *s)
{
    const char *run = s;
    int r = 0;

    for (; *s && r == 0; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        }
        if (rep != NULL) {
            r = pages_buf_add(b, run, (size_t)(s - run));
            if (r == 0)
                r = buf_str(b, rep);
            run = s + 1;
        }
    }
    if (r == 0)
        r = pages_buf_add(b, run, strlen(run));
    return r;
}

/* The value of one placeholder, written escaped into b. */
static int put_key(struct pages_buf *b, const char *key, size_t klen)
{
    char initial[16];
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
    if (KEY("lang"))
        return pages_buf_escape(b, env->language);
    if (KEY("name"))
        return pages_buf_escape(b, env->client_name);
    if (KEY("color"))
        return pages_buf_escape(b, env->color);
    if (KEY("client_id"))
        return pages_buf_escape(b, env->client_id);
    if (KEY("siret"))
        return pages_buf_escape(b, env->siret);
    if (KEY("address"))
        return pages_buf_escape(b, env->address);
    if (KEY("phone"))
        return pages_buf_escape(b, env->phone);
    if (KEY("email"))
        return pages_buf_escape(b, env->email);
    if (KEY("plan"))
        return pages_buf_escape(b, brand_plan_label(env->plan_label, env->language));
    if (KEY("model"))
        return pages_buf_escape(b, env->ai_model);
    if (KEY("initial")) {
        brand_monogram(env->client_name, initial, sizeof initial);
        return pages_buf_escape(b, initial);
    }
    if (KEY("timezone"))
        return pages_buf_escape(b, env->timezone ? env->timezone : "");
    if (KEY("logo")) {
        /* The logo is shown only when it exists, so a tenant without one gets
         * the monogram instead of a broken image. */
        struct pages_blob f;
        int show = 0;
        if (strncmp(env->logo, "https://", 8) == 0) {
            show = 1;
        } else if (strncmp(env->logo, "/static/", 8) == 0 && pages_static(env->logo + 8, &f) == 0) {
            free((void *)f.data);
            show = 1;
        }
        if (!show)
            return 0;
        int r = buf_str(b, "<img class=\"logo\" alt=\"\" src=\"");
        if (r == 0)
            r = pages_buf_escape(b, env->logo);
        return r ? r : buf_str(b, "\">");
    }
#undef KEY
    return -EINVAL;
}

static int render(const char *path, const char *text, struct pages_buf *out, char *err,
                  size_t errlen)
{
    const char *p = text;
    int r = 0;

    while (r == 0) {
        const char *open = strstr(p, "{{");
        if (open == NULL)
            return buf_str(out, p);
        const char *close = strstr(open + 2, "}}");
        if (close == NULL) {
            snprintf(err, errlen, "%s: unclosed {{ placeholder", path);
            return -EINVAL;
        }
        r = pages_buf_add(out, p, (size_t)(open - p));
        if (r == 0) {
            r = put_key(out, open + 2, (size_t)(close - open - 2));
            if (r == -EINVAL)
                snprintf(err, errlen, "%s: unknown placeholder {{%.*s}}", path,
                         (int)(close - open - 2 < 40 ? close - open - 2 : 40), open + 2);
        }
        p = close + 2;
    }
    return r;
}

static int load(const char *name, int substitute, struct pages_buf *out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    char *text = NULL;
    size_t len;
    int r;

    if (util_path_join(path, sizeof path, env->templates_dir, name) < 0) {
        snprintf(err, errlen, "TEMPLATES_DIR: path too long");
        return -ENAMETOOLONG;
    }
    r = util_read_file(path, TEMPLATE_MAX, &text, &len);
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
        return r;
    }
    if (substitute)
        r = render(path, text, out, err, errlen);
    else
        r = pages_buf_add(out, text, len);
    free(text);
    return r;
}

int pages_init(const struct wenv *e, char *err, size_t errlen)
{
    int r;

    env = e;
    if (util_path_join(static_dir, sizeof static_dir, e->templates_dir, "static") < 0)
        return -ENAMETOOLONG;
    r = load("index.html", 1, &index_page, err, errlen);
    if (r == 0)
        r = load("app.css", 0, &app_css, err, errlen);
    if (r == 0)
        r = load("app.js", 0, &app_js, err, errlen);
    /* The brand colour reaches the page as a stylesheet, not an inline
     * style, so the page's CSP can forbid inline styles altogether. */
    if (r == 0)
        r = buf_str(&brand_css, ":root{--brand:");
    if (r == 0)
        r = pages_buf_escape(&brand_css, e->color);
    if (r == 0)
        r = buf_str(&brand_css, "}\n");
    if (r < 0)
        pages_free();
    return r;
}

void pages_free(void)
{
    struct pages_buf *all[] = {&index_page, &app_css, &app_js, &brand_css};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(all[i]->p);
        *all[i] = (struct pages_buf){0};
    }
}

int pages_get(const char *name, struct pages_blob *out)
{
    const struct pages_buf *b;

    if (strcmp(name, "/") == 0) {
        b = &index_page;
        out->content_type = "text/html; charset=utf-8";
    } else if (strcmp(name, "/app.css") == 0) {
        b = &app_css;
        out->content_type = "text/css; charset=utf-8";
    } else if (strcmp(name, "/brand.css") == 0) {
        b = &brand_css;
        out->content_type = "text/css; charset=utf-8";
    } else if (strcmp(name, "/app.js") == 0) {
        b = &app_js;
        out->content_type = "text/javascript; charset=utf-8";
    } else {
        return -ENOENT;
    }
    if (b->p == NULL)
        return -ENOENT;
    out->data = b->p;
    out->len = b->len;
    return 0;
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".pdf", "application/pdf"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int valid_segment(const char *s, size_t n)
{
    if (n == 0 || n > 128 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int pages_static(const char *rel, struct pages_blob *out)
{
    char seg[129];
    int dfd, fd = -1, ret = -ENOENT;
    struct stat st;
    char *buf = NULL;
    size_t used = 0;

    if (strlen(rel) > 512)
        return -ENOENT;
    dfd = open(static_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -ENOENT;
    for (;;) {
        const char *slash = strchr(rel, '/');
        size_t n = slash ? (size_t)(slash - rel) : strlen(rel);
        if (!valid_segment(rel, n))
            goto out;
        memcpy(seg, rel, n);
        seg[n] = '\0';
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (slash ? O_DIRECTORY : 0);
        fd = openat(dfd, seg, flags);
        if (fd < 0)
            goto out;
        if (slash == NULL)
            break;
        close(dfd);
        dfd = fd;
        fd = -1;
        rel = slash + 1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX)
        goto out;
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        ret = -EIO;
        goto out;
    }
    while (used < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + used, (size_t)st.st_size - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        used += (size_t)r;
    }
    if (used != (size_t)st.st_size) {
        ret = -EIO;
        goto out;
    }
    out->data = buf;
    out->len = used;
    out->content_type = content_type(seg);
    buf = NULL;
    ret = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    close(dfd);
    return ret;
}

/* ---- printable invoice ---------------------------------------------------- */

char *pages_invoice(const json_t *inv, size_t *len)
{
    return invoice_html(inv, env, len);
}
