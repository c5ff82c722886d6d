/*
 * svg.c owns --svg: a self-contained SVG drawing of the run's per-second
 * series (deliveries/s, p50 and p99 latency, engine RSS when sampled) as
 * stacked charts with a shared time axis, titled with the scenario and the
 * command that produced it. It writes plain SVG 1.1 by hand, so no plotting
 * library or script is needed to get a figure; every polyline carries an id
 * and one point per second so that a test (or a person) can read the data
 * back. It only formats what run.c computed.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define SVG_W 960
#define SVG_LEFT 90
#define SVG_RIGHT 30
#define SVG_TOP 78
#define SVG_PANEL_H 200
#define SVG_PANEL_GAP 66
#define SVG_Y_TICKS 5
#define SVG_X_TICKS 10
#define SVG_TITLE_CHARS 140 /* per title line; longer commands wrap */
#define SVG_TITLE_LINES 3

static void xml_text(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        switch (s[i]) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            /* control bytes are not allowed in XML 1.0 */
            fputc((unsigned char)s[i] < 0x20 ? ' ' : s[i], f);
        }
    }
}

/* The smallest 1, 2 or 5 x 10^k step that covers v in `ticks` steps. */
static double nice_step(double v, int ticks)
{
    if (v <= 0) return 1;
    double raw = v / ticks, mag = pow(10, floor(log10(raw))), m = raw / mag;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * mag;
}

static void fmt_num(char *out, size_t cap, double v)
{
    if (v >= 1e6)
        snprintf(out, cap, "%gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, cap, "%gk", v / 1e3);
    else
        snprintf(out, cap, "%g", v);
}

typedef struct series_def {
    const char *id, *label, *color, *dash;
    double (*get)(const bench_point *p);
} series_def;

static double get_dps(const bench_point *p)
{
    return p->secs > 0 ? (double)p->deliveries / p->secs : 0;
}
static double get_p99(const bench_point *p)
{
    return (double)p->p99_us / 1000.0;
}
static double get_p50(const bench_point *p)
{
    return (double)p->p50_us / 1000.0;
}
static double get_rss(const bench_point *p)
{
    return (double)p->engine_rss / (1024.0 * 1024.0);
}
static double get_sendq(const bench_point *p)
{
    return (double)p->engine_sendq / (1024.0 * 1024.0);
}

typedef struct panel {
    double y0;   /* top pixel */
    double xmax; /* seconds */
} panel;

static double px_x(const panel *pn, double t)
{
    return SVG_LEFT + (SVG_W - SVG_LEFT - SVG_RIGHT) * (pn->xmax > 0 ? t / pn->xmax : 0);
}

static void draw_panel(FILE *f, const bench_run *run, const panel *pn, const char *title,
                       const char *unit, const series_def *defs, int ndefs)
{
    const bench_result *r = &run->res;
    double ymax = 0;
    for (int d = 0; d < ndefs; d++)
        for (size_t k = 0; k < r->nseries; k++)
            if (defs[d].get(&r->series[k]) > ymax) ymax = defs[d].get(&r->series[k]);
    double step = nice_step(ymax, SVG_Y_TICKS), top = step * ceil(ymax / step);
    if (top <= 0) top = step;
    double x0 = SVG_LEFT, x1 = SVG_W - SVG_RIGHT, y0 = pn->y0, y1 = pn->y0 + SVG_PANEL_H;
    fprintf(f, "<g class=\"panel\">\n");
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" font-weight=\"bold\">", x0, y0 - 10);
    xml_text(f, title, strlen(title));
    fprintf(f, " (%s)</text>\n", unit);
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%d\" fill=\"none\" "
            "stroke=\"#888\"/>\n",
            x0, y0, x1 - x0, SVG_PANEL_H);
    for (double v = 0; v <= top + step / 2; v += step) {
        double y = y1 - (y1 - y0) * v / top;
        char num[32];
        fmt_num(num, sizeof(num), v);
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x0,
                y, x1, y);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
                x0 - 6, y + 4, num);
    }
    double xs = nice_step(pn->xmax, SVG_X_TICKS);
    for (double t = 0; t <= pn->xmax + xs / 2; t += xs) {
        double x = px_x(pn, t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#eee\"/>\n", x,
                y0, x, y1);
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%g</text>\n",
                x, y1 + 14, t);
    }
    /* when publishing ended, and when the slow readers stopped */
    double marks[2] = {r->t_publish, r->t_slow_stop};
    const char *mark_label[2] = {"publishing ends", "slow readers stop"};
    for (int m = 0; m < 2; m++) {
        if (marks[m] < 0 || marks[m] > pn->xmax || (m == 0 && marks[m] <= 0)) continue;
        double x = px_x(pn, marks[m]);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#c60\" "
                "stroke-dasharray=\"4 3\"/>\n",
                x, y0, x, y1);
        bool left = x > x1 - 120; /* near the right edge: label on the left */
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" fill=\"#c60\"%s>%s</text>\n",
                left ? x - 3 : x + 3, y0 + 12 + 12 * m, left ? " text-anchor=\"end\"" : "",
                mark_label[m]);
    }
    for (int d = 0; d < ndefs; d++) {
        fprintf(f,
                "<polyline id=\"%s\" data-unit=\"%s\" fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"2\"%s%s%s points=\"",
                defs[d].id, unit, defs[d].color, defs[d].dash ? " stroke-dasharray=\"" : "",
                defs[d].dash ? defs[d].dash : "", defs[d].dash ? "\"" : "");
        for (size_t k = 0; k < r->nseries; k++) {
            double v = defs[d].get(&r->series[k]);
            /* at the middle of its interval */
            const bench_point *pt = &r->series[k];
            fprintf(f, "%s%.1f,%.1f", k ? " " : "", px_x(pn, pt->t - pt->secs / 2),
                    y1 - (y1 - y0) * v / top);
        }
        fprintf(f, "\"/>\n");
        /* legend, above the chart on the right */
        double lx = x1 - 110 * (ndefs - d), ly = y0 - 10;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
                "stroke-width=\"2\"%s%s%s/>\n",
                lx, ly - 4, lx + 24, ly - 4, defs[d].color,
                defs[d].dash ? " stroke-dasharray=\"" : "", defs[d].dash ? defs[d].dash : "",
                defs[d].dash ? "\"" : "");
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">%s</text>\n", lx + 30, ly,
                defs[d].label);
    }
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">seconds "
            "since publishing began</text>\n",
            (x0 + x1) / 2, y1 + 30);
    fprintf(f, "</g>\n");
}

int bench_svg_write(const bench_run *run, const char *path)
{
    const bench_result *r = &run->res;
    bool rss = false;
    for (size_t k = 0; k < r->nseries; k++)
        rss |= r->series[k].engine_rss > 0 || r->series[k].engine_sendq > 0;
    int panels = r->nseries ? (rss ? 3 : 2) : 0;
    int height = SVG_TOP + panels * (SVG_PANEL_H + SVG_PANEL_GAP) + (panels ? 10 : 60);
    FILE *f = fopen(path, "we");
    if (!f) return LR_EIO;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
            SVG_W, height, SVG_W, height);
    fprintf(f, "<title>liveroom-bench %s: ", run->cfg.scenario);
    xml_text(f, run->cfg.cmdline, strlen(run->cfg.cmdline));
    fprintf(f, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f,
            "<text x=\"%d\" y=\"22\" font-size=\"16\" font-weight=\"bold\">liveroom-bench "
            "scenario ",
            SVG_LEFT - 70);
    xml_text(f, run->cfg.scenario, strlen(run->cfg.scenario));
    fprintf(f, ": %.0f deliveries/s, p99 %.1f ms, %llu lost</text>\n", r->deliveries_per_s,
            (double)bench_hist_quantile(&r->lat, 0.99) / 1000.0, (unsigned long long)r->lost);
    const char *cmd = run->cfg.cmdline;
    size_t len = strlen(cmd);
    for (int line = 0; line < SVG_TITLE_LINES && len; line++) {
        size_t n = len > SVG_TITLE_CHARS ? SVG_TITLE_CHARS : len;
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" font-family=\"monospace\">",
                SVG_LEFT - 70, 40 + 13 * line);
        xml_text(f, cmd, n);
        fprintf(f, "%s</text>\n", line == SVG_TITLE_LINES - 1 && len > n ? " ..." : "");
        cmd += n;
        len -= n;
    }
    if (!panels) {
        fprintf(f,
                "<text x=\"%d\" y=\"%d\" font-size=\"14\">no per-second series: this scenario "
                "does not publish</text>\n",
                SVG_LEFT, SVG_TOP + 20);
    } else {
        panel pn = {SVG_TOP + 20, r->series[r->nseries - 1].t};
        static const series_def dps[] = {
            {"deliveries_per_s", "deliveries/s", "#1f5fbf", NULL, get_dps}};
        static const series_def lat[] = {
            {"p99_ms", "p99", "#c0392b", NULL, get_p99},
            {"p50_ms", "p50", "#7f8c8d", "6 3", get_p50},
        };
        static const series_def mem[] = {
            {"engine_rss_mib", "engine RSS", "#27ae60", NULL, get_rss},
            {"engine_sendq_mib", "kernel sendq", "#8e44ad", "6 3", get_sendq},
        };
        draw_panel(f, run, &pn, "deliveries per second", "1/s", dps, 1);
        pn.y0 += SVG_PANEL_H + SVG_PANEL_GAP;
        draw_panel(f, run, &pn, "publish-to-receive latency per second", "ms", lat, 2);
        if (rss) {
            pn.y0 += SVG_PANEL_H + SVG_PANEL_GAP;
            /* the kernel's send queues only when they were read (slow) */
            draw_panel(f, run, &pn, "engine memory", "MiB", mem, run->cfg.slow_pct > 0 ? 2 : 1);
        }
    }
    fprintf(f, "</svg>\n");
    int rc = ferror(f) ? LR_EIO : 0;
    if (fclose(f) != 0) rc = LR_EIO;
    return rc;
}
