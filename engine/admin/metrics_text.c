/*
 * metrics_text.c owns the Prometheus text exposition format (0.0.4) that
 * /metrics serves: names and labels are validated, label values and help
 * texts escaped, numbers written so that they parse back to the same value.
 * It never does I/O and keeps no state: whether a family's # HELP / # TYPE
 * lines are already written is read back from the buffer itself, so callers
 * need no writer object and cannot forget to open a family.
 *
 * Cost: each sample looks backwards only as far as its family's # TYPE line;
 * a new family scans the buffer once to make sure it is not a family whose
 * samples were already closed by another (a second # TYPE line for a name
 * is invalid exposition). A scrape of a few hundred families stays a few
 * hundred passes over tens of kilobytes.
 *
 * Any failure truncates the buffer back to where the call started, so a
 * half-written sample can never reach a scraper.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "admin/metrics_text.h"
#include "net/ws.h"

#define PROM_MAX_NAME 200 /* bytes of a metric or label name */

static const char type_tag[] = "# TYPE ";

static bool name_valid(const char *s, bool metric)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > PROM_MAX_NAME) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (metric && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    /* Names starting with "__" are reserved for Prometheus itself. */
    return metric || !(s[0] == '_' && s[1] == '_');
}

static int put(lr_buf *out, const char *s, size_t n)
{
    return lr_buf_append(out, s, n);
}

static int puts_(lr_buf *out, const char *s)
{
    return put(out, s, strlen(s));
}

/* Help text escapes backslash and newline; label values also the quote. */
static int put_escaped(lr_buf *out, const char *s, bool quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = NULL;
        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (quote && *s == '"')
            esc = "\\\"";
        if (!esc) continue;
        if (put(out, run, (size_t)(s - run)) != 0 || puts_(out, esc) != 0) return LR_ENOMEM;
        run = s + 1;
    }
    return put(out, run, (size_t)(s - run));
}

#define DOUBLE_CHARS 32 /* "-2.2250738585072014e-308" and NUL fit */

/* The shorter of %.15g / %.17g that reads back as the same double. */
static void fmt_double(char tmp[DOUBLE_CHARS], double v)
{
    if (isnan(v)) {
        memcpy(tmp, "NaN", 4);
    } else if (isinf(v)) {
        memcpy(tmp, v > 0 ? "+Inf" : "-Inf", 5);
    } else {
        snprintf(tmp, DOUBLE_CHARS, "%.15g", v);
        if (strtod(tmp, NULL) != v) snprintf(tmp, DOUBLE_CHARS, "%.17g", v);
    }
}

static int put_double(lr_buf *out, double v)
{
    char tmp[DOUBLE_CHARS];
    fmt_double(tmp, v);
    return puts_(out, tmp);
}

static int put_u64(lr_buf *out, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
    return put(out, tmp, (size_t)n);
}

static int check_labels(const lr_prom_label *labels, bool histogram)
{
    for (size_t i = 0; labels && labels[i].name; i++) {
        if (!name_valid(labels[i].name, false) || !labels[i].value) return LR_EINVAL;
        if (histogram && strcmp(labels[i].name, "le") == 0) return LR_EINVAL;
        if (!lr_utf8_valid((const uint8_t *)labels[i].value, strlen(labels[i].value)))
            return LR_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i].name, labels[j].name) == 0) return LR_EINVAL;
    }
    return 0;
}

/* name{a="x",b="y",le="0.5"} -- le (may be NULL) is appended last. */
static int put_series(lr_buf *out, const char *name, const char *suffix,
                      const lr_prom_label *labels, const char *le)
{
    if (puts_(out, name) != 0 || puts_(out, suffix) != 0) return LR_ENOMEM;
    bool any = (labels && labels[0].name) || le;
    if (!any) return put(out, " ", 1);
    if (put(out, "{", 1) != 0) return LR_ENOMEM;
    size_t i = 0;
    for (; labels && labels[i].name; i++) {
        if ((i > 0 && put(out, ",", 1) != 0) || puts_(out, labels[i].name) != 0 ||
            put(out, "=\"", 2) != 0 || put_escaped(out, labels[i].value, true) != 0 ||
            put(out, "\"", 1) != 0)
            return LR_ENOMEM;
    }
    if (le && ((i > 0 && put(out, ",", 1) != 0) || put(out, "le=\"", 4) != 0 ||
               puts_(out, le) != 0 || put(out, "\"", 1) != 0))
        return LR_ENOMEM;
    return put(out, "} ", 2);
}

/* Does the line starting at p (within end) read "# TYPE <name> "? */
static bool type_line_is(const char *p, const char *end, const char *name, size_t nlen)
{
    size_t tl = sizeof(type_tag) - 1;
    if ((size_t)(end - p) < tl + nlen + 1 || memcmp(p, type_tag, tl) != 0) return false;
    return memcmp(p + tl, name, nlen) == 0 && p[tl + nlen] == ' ';
}

/*
 * 1 when name's # TYPE line (of this type) opens the family the buffer
 * ends with, 0 when name has no # TYPE line yet, LR_EINVAL otherwise.
 */
static int family_state(const lr_buf *out, const char *name, const char *type)
{
    const char *base = (const char *)out->p;
    const char *end = base + out->len;
    size_t nlen = strlen(name), tl = sizeof(type_tag) - 1;

    /* The last # TYPE line: walk back over line starts. */
    for (const char *p = end; p > base;) {
        const char *line = p - 1; /* p - 1 is the previous line's '\n' or last byte */
        while (line > base && line[-1] != '\n')
            line--;
        if ((size_t)(end - line) > tl && memcmp(line, type_tag, tl) == 0) {
            if (!type_line_is(line, end, name, nlen)) break;
            const char *t = line + tl + nlen + 1;
            size_t typelen = strlen(type);
            bool same =
                (size_t)(end - t) > typelen && memcmp(t, type, typelen) == 0 && t[typelen] == '\n';
            return same ? 1 : LR_EINVAL;
        }
        p = line;
    }
    /* Not the open family: it must not exist anywhere. */
    for (const char *p = base; p < end;) {
        if (type_line_is(p, end, name, nlen)) return LR_EINVAL;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

/* Validate and, when the family is new, write its # HELP and # TYPE lines. */
static int begin(lr_buf *out, const char *name, const char *help, const char *type,
                 const lr_prom_label *labels, bool histogram)
{
    if (!name_valid(name, true) || !help) return LR_EINVAL;
    if (!lr_utf8_valid((const uint8_t *)help, strlen(help))) return LR_EINVAL;
    int rc = check_labels(labels, histogram);
    if (rc != 0) return rc;
    rc = family_state(out, name, type);
    if (rc < 0) return rc;
    if (rc == 1) return 0;
    if (puts_(out, "# HELP ") != 0 || puts_(out, name) != 0 || put(out, " ", 1) != 0 ||
        put_escaped(out, help, false) != 0 || put(out, "\n", 1) != 0 || puts_(out, type_tag) != 0 ||
        puts_(out, name) != 0 || put(out, " ", 1) != 0 || puts_(out, type) != 0 ||
        put(out, "\n", 1) != 0)
        return LR_ENOMEM;
    return 0;
}

static int finish(lr_buf *out, size_t start, int rc)
{
    if (rc != 0) out->len = start;
    return rc;
}

int lr_prom_counter(lr_buf *out, const char *name, const char *help, const lr_prom_label *labels,
                    uint64_t value)
{
    size_t start = out->len;
    int rc = begin(out, name, help, "counter", labels, false);
    if (rc == 0) rc = put_series(out, name, "", labels, NULL);
    if (rc == 0 && (put_u64(out, value) != 0 || put(out, "\n", 1) != 0)) rc = LR_ENOMEM;
    return finish(out, start, rc);
}

int lr_prom_gauge(lr_buf *out, const char *name, const char *help, const lr_prom_label *labels,
                  double value)
{
    size_t start = out->len;
    int rc = begin(out, name, help, "gauge", labels, false);
    if (rc == 0) rc = put_series(out, name, "", labels, NULL);
    if (rc == 0 && (put_double(out, value) != 0 || put(out, "\n", 1) != 0)) rc = LR_ENOMEM;
    return finish(out, start, rc);
}

int lr_prom_histogram(lr_buf *out, const char *name, const char *help, const lr_prom_label *labels,
                      const double *bounds, size_t nbounds, const uint64_t *counts, double sum)
{
    size_t start = out->len;
    for (size_t i = 0; i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) return LR_EINVAL;
    int rc = begin(out, name, help, "histogram", labels, true);
    uint64_t cum = 0;
    for (size_t i = 0; rc == 0 && i <= nbounds; i++) {
        char le[DOUBLE_CHARS];
        fmt_double(le, i < nbounds ? bounds[i] : INFINITY);
        cum += counts[i];
        rc = put_series(out, name, "_bucket", labels, le);
        if (rc == 0 && (put_u64(out, cum) != 0 || put(out, "\n", 1) != 0)) rc = LR_ENOMEM;
    }
    if (rc == 0) rc = put_series(out, name, "_sum", labels, NULL);
    if (rc == 0 && (put_double(out, sum) != 0 || put(out, "\n", 1) != 0)) rc = LR_ENOMEM;
    if (rc == 0) rc = put_series(out, name, "_count", labels, NULL);
    if (rc == 0 && (put_u64(out, cum) != 0 || put(out, "\n", 1) != 0)) rc = LR_ENOMEM;
    return finish(out, start, rc);
}
