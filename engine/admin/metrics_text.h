/*
 * metrics_text.h: writers for the Prometheus text exposition format
 * (version 0.0.4) that GET /metrics serves. Each call appends one sample
 * (or, for a histogram, one labelled series) of a metric family and writes
 * the family's # HELP and # TYPE lines before its first sample, so the
 * caller only has to emit a family's samples one after another.
 */
#ifndef LR_ADMIN_METRICS_TEXT_H
#define LR_ADMIN_METRICS_TEXT_H

#include "core/common.h"

/* Content-Type of the exposition format. */
#define LR_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One label; an array of them ends with an entry whose name is NULL. */
typedef struct lr_prom_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value; /* any UTF-8; escaped on output */
} lr_prom_label;

/*
 * Every writer takes the family name ([a-zA-Z_:][a-zA-Z0-9_:]*; counters
 * by convention end in _total), its help text (any UTF-8, escaped), and
 * labels (NULL for none). Returns 0, LR_ENOMEM, or LR_EINVAL for an invalid
 * name or label, a label value that is not UTF-8, a duplicate label name,
 * or a family whose samples would not be contiguous (its # TYPE line was
 * written earlier with other families in between, or with another type).
 * On error out holds what it held before.
 */
int lr_prom_counter(lr_buf *out, const char *name, const char *help, const lr_prom_label *labels,
                    uint64_t value);
int lr_prom_gauge(lr_buf *out, const char *name, const char *help, const lr_prom_label *labels,
                  double value);

/*
 * A histogram series: bounds[0..nbounds) strictly increasing finite upper
 * bounds; counts[0..nbounds] the number of observations in each bucket, NOT
 * cumulative (counts[i] for bounds[i-1] < v <= bounds[i], counts[nbounds]
 * for v above the last bound); sum the sum of all observations. The writer
 * emits cumulative name_bucket{le=...} lines ending in le="+Inf", then
 * name_sum and name_count (the total of counts). labels may not use "le".
 */
int lr_prom_histogram(lr_buf *out, const char *name, const char *help, const lr_prom_label *labels,
                      const double *bounds, size_t nbounds, const uint64_t *counts, double sum);

#endif
