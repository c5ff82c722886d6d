/*
 * main.c owns liveroom-bench's command line: it parses the flags into a
 * bench_cfg, lets the scenario fill what was not given, runs, and prints the
 * report (table on stdout, optional JSON file). Nothing here measures or
 * connects; see run.c and client.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: liveroom-bench [--scenario NAME] [options]\n"
                 "\n"
                 "scenarios:\n");
    bench_scenario_list(out);
    fprintf(
        out,
        "\n"
        "target:\n"
        "  --target engine|ws-relay   engine protocol (default) or any WebSocket server that\n"
        "                             relays each frame to all its clients\n"
        "  --host IPV4 (127.0.0.1)  --port N (7070; 7072 with --encoding tcp)  --path /ws\n"
        "  --encoding json|msgpack|tcp   engine wire format (tcp: raw TCP port)\n"
        "  --secret KEY | --secret-file PATH   sign UserSigs (the engine's --secret)\n"
        "  --app-id N (1400000000)   --guests (receivers join without logging in)\n"
        "  --subscribe TEXT           ws-relay: text frame every connection sends on open\n"
        "load:\n"
        "  --conns N   receivers          --rooms N        rooms (receivers spread evenly)\n"
        "  --members M connections per room, publishers included: receivers = rooms x\n"
        "              (M - publishers per room); instead of --conns\n"
        "  --publishers N  per room (default: one per 10 msg/s; the per-user limit is 20/s)\n"
        "  --rate R    msg/s per room (0 = unlimited, paced by --window)   --window W\n"
        "  --size B    body bytes (100)   --pri high|normal|low|lowest (high)\n"
        "  --mix H,N,L,LL  priority weights of the sends, spread evenly (overload: 10,20,30,40)\n"
        "  --room-rate N --rate-window-ms MS  the engine's --rate and --rate-window-ms, for the\n"
        "              PROTOCOL.md 6 checks of overload (40, 100)\n"
        "  --slow-pct P  receivers that stop reading (slow: 10; 0 = the baseline run)\n"
        "  --slow-after S  seconds into publishing when they stop (3)\n"
        "  --slow-rcvbuf B  their SO_RCVBUF (4096; 0 = kernel default, fills in minutes)\n"
        "  --slow-resume S  after the drain they read again for up to S to count what they\n"
        "              missed (3)\n"
        "  --duration S  --settle S  --drain S\n"
        "client:\n"
        "  --threads N   worker threads (default: one per CPU, up to 8, for paced runs;\n"
        "              1 for window runs; raised to hold 19,000 connections each)\n"
        "  --connect-window N  connections being set up at once per worker (512)\n"
        "  --connect-timeout S  give up when no connection progressed for S (30)\n"
        "  --src-addrs N  bind to 127.0.0.1..N (default: one per 4,000 connections)\n"
        "  --recv-bufs N --recv-buf-size B   provided receive buffers per worker\n"
        "  --keepalive S  raw TCP: ping op period per connection (25)\n"
        "report:\n"
        "  --server-pid PID   sample the engine's CPU and RSS from /proc\n"
        "  --admin-port N     the engine's admin port: its /metrics before and after\n"
        "  --json FILE        write every figure\n"
        "  --svg FILE         draw deliveries/s, p50/p99 latency and engine RSS per second\n"
        "  --baseline FILE    an earlier --json report: compare p99 with it\n"
        "  --room-prefix STR  room ids STR0, STR1... (default: fresh ids per run)\n"
        "  --quiet            no progress line\n");
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *s == '\0' || *end != '\0' || v < 0) return -1;
    *out = v;
    return 0;
}

/* "H,N,L,LL": four non-negative weights, one per priority from high down. */
static int parse_mix(const char *s, uint32_t mix[LR_PRI_COUNT])
{
    const char *p = s;
    for (int k = 0; k < LR_PRI_COUNT; k++) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (errno || end == p || v > BENCH_MIX_MAX || *p == '-') return -1;
        mix[k] = (uint32_t)v;
        if (k < LR_PRI_COUNT - 1) {
            if (*end != ',') return -1;
            p = end + 1;
        } else if (*end != '\0') {
            return -1;
        }
    }
    return 0;
}

/* The command line as one string (for titles); NULL when out of memory. */
static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n), *w = s;
    if (!s) return NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i == 0) {
            const char *slash = strrchr(a, '/');
            if (slash) a = slash + 1;
        }
        size_t l = strlen(a);
        memcpy(w, a, l);
        w += l;
        *w++ = i + 1 < argc ? ' ' : '\0';
    }
    if (argc == 0) *w = '\0';
    return s;
}

static char *read_secret_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return n ? strdup(buf) : NULL;
}

enum {
    OPT_SCENARIO = 256,
    OPT_TARGET,
    OPT_HOST,
    OPT_PORT,
    OPT_PATH,
    OPT_ENCODING,
    OPT_SECRET,
    OPT_SECRET_FILE,
    OPT_APP_ID,
    OPT_GUESTS,
    OPT_SUBSCRIBE,
    OPT_CONNS,
    OPT_ROOMS,
    OPT_PUBLISHERS,
    OPT_RATE,
    OPT_WINDOW,
    OPT_SIZE,
    OPT_PRI,
    OPT_DURATION,
    OPT_SETTLE,
    OPT_DRAIN,
    OPT_THREADS,
    OPT_CONNECT_WINDOW,
    OPT_CONNECT_TIMEOUT,
    OPT_SRC_ADDRS,
    OPT_RECV_BUFS,
    OPT_RECV_BUF_SIZE,
    OPT_KEEPALIVE,
    OPT_SERVER_PID,
    OPT_JSON,
    OPT_MEMBERS,
    OPT_MIX,
    OPT_ROOM_RATE,
    OPT_RATE_WINDOW_MS,
    OPT_SLOW_PCT,
    OPT_SLOW_AFTER,
    OPT_SLOW_RCVBUF,
    OPT_SLOW_RESUME,
    OPT_ADMIN_PORT,
    OPT_SVG,
    OPT_BASELINE,
    OPT_ROOM_PREFIX,
    OPT_QUIET,
    OPT_HELP,
};

static const struct option options[] = {
    {"scenario", required_argument, 0, OPT_SCENARIO},
    {"target", required_argument, 0, OPT_TARGET},
    {"host", required_argument, 0, OPT_HOST},
    {"port", required_argument, 0, OPT_PORT},
    {"path", required_argument, 0, OPT_PATH},
    {"encoding", required_argument, 0, OPT_ENCODING},
    {"secret", required_argument, 0, OPT_SECRET},
    {"secret-file", required_argument, 0, OPT_SECRET_FILE},
    {"app-id", required_argument, 0, OPT_APP_ID},
    {"guests", no_argument, 0, OPT_GUESTS},
    {"subscribe", required_argument, 0, OPT_SUBSCRIBE},
    {"conns", required_argument, 0, OPT_CONNS},
    {"rooms", required_argument, 0, OPT_ROOMS},
    {"publishers", required_argument, 0, OPT_PUBLISHERS},
    {"rate", required_argument, 0, OPT_RATE},
    {"window", required_argument, 0, OPT_WINDOW},
    {"size", required_argument, 0, OPT_SIZE},
    {"pri", required_argument, 0, OPT_PRI},
    {"duration", required_argument, 0, OPT_DURATION},
    {"settle", required_argument, 0, OPT_SETTLE},
    {"drain", required_argument, 0, OPT_DRAIN},
    {"threads", required_argument, 0, OPT_THREADS},
    {"connect-window", required_argument, 0, OPT_CONNECT_WINDOW},
    {"connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT},
    {"src-addrs", required_argument, 0, OPT_SRC_ADDRS},
    {"recv-bufs", required_argument, 0, OPT_RECV_BUFS},
    {"recv-buf-size", required_argument, 0, OPT_RECV_BUF_SIZE},
    {"keepalive", required_argument, 0, OPT_KEEPALIVE},
    {"server-pid", required_argument, 0, OPT_SERVER_PID},
    {"json", required_argument, 0, OPT_JSON},
    {"members", required_argument, 0, OPT_MEMBERS},
    {"mix", required_argument, 0, OPT_MIX},
    {"room-rate", required_argument, 0, OPT_ROOM_RATE},
    {"rate-window-ms", required_argument, 0, OPT_RATE_WINDOW_MS},
    {"slow-pct", required_argument, 0, OPT_SLOW_PCT},
    {"slow-after", required_argument, 0, OPT_SLOW_AFTER},
    {"slow-rcvbuf", required_argument, 0, OPT_SLOW_RCVBUF},
    {"slow-resume", required_argument, 0, OPT_SLOW_RESUME},
    {"admin-port", required_argument, 0, OPT_ADMIN_PORT},
    {"svg", required_argument, 0, OPT_SVG},
    {"baseline", required_argument, 0, OPT_BASELINE},
    {"room-prefix", required_argument, 0, OPT_ROOM_PREFIX},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"help", no_argument, 0, OPT_HELP},
    {0, 0, 0, 0},
};

static int parse_flags(int argc, char **argv, bench_cfg *cfg, char **owned_secret)
{
    int opt;
    uint32_t u;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        bool bad = false;
        switch (opt) {
        case OPT_SCENARIO:
            cfg->scenario = optarg;
            break;
        case OPT_TARGET:
            if (strcmp(optarg, "engine") == 0)
                cfg->target = BENCH_TARGET_ENGINE;
            else if (strcmp(optarg, "ws-relay") == 0)
                cfg->target = BENCH_TARGET_WS_RELAY;
            else
                bad = true;
            break;
        case OPT_HOST:
            bad = strlen(optarg) >= sizeof(cfg->host);
            if (!bad) strcpy(cfg->host, optarg);
            break;
        case OPT_PORT:
            bad = parse_u32(optarg, &u) != 0 || u == 0 || u > 65535;
            cfg->port = (int)u;
            break;
        case OPT_PATH:
            cfg->path = optarg;
            break;
        case OPT_ENCODING:
            if (strcmp(optarg, "json") == 0)
                cfg->enc = LR_FMT_JSON;
            else if (strcmp(optarg, "msgpack") == 0)
                cfg->enc = LR_FMT_MSGPACK;
            else if (strcmp(optarg, "tcp") == 0)
                cfg->enc = LR_FMT_TCP;
            else
                bad = true;
            break;
        case OPT_SECRET:
            cfg->secret = optarg;
            break;
        case OPT_SECRET_FILE:
            free(*owned_secret);
            *owned_secret = read_secret_file(optarg);
            cfg->secret = *owned_secret;
            bad = !cfg->secret;
            break;
        case OPT_APP_ID: {
            char *end;
            cfg->app_id = strtoull(optarg, &end, 10);
            bad = *end != '\0';
            break;
        }
        case OPT_GUESTS:
            cfg->guests = true;
            break;
        case OPT_SUBSCRIBE:
            cfg->subscribe = optarg;
            break;
        case OPT_CONNS:
            bad = parse_u32(optarg, &cfg->conns) != 0 || cfg->conns == 0;
            break;
        case OPT_ROOMS:
            bad = parse_u32(optarg, &cfg->rooms) != 0 || cfg->rooms == 0;
            break;
        case OPT_PUBLISHERS:
            bad = parse_u32(optarg, &cfg->publishers) != 0 || !cfg->publishers;
            break;
        case OPT_RATE:
            bad = parse_double(optarg, &cfg->rate) != 0;
            break;
        case OPT_WINDOW:
            bad = parse_u32(optarg, &cfg->window) != 0 || cfg->window == 0;
            break;
        case OPT_SIZE:
            bad = parse_u32(optarg, &cfg->size) != 0 || cfg->size == 0;
            break;
        case OPT_PRI: {
            int p = lr_pri_parse(lr_str_c(optarg));
            bad = p < 0;
            if (!bad) cfg->pri = (lr_pri)p;
            break;
        }
        case OPT_DURATION:
            bad = parse_double(optarg, &cfg->duration) != 0;
            break;
        case OPT_SETTLE:
            bad = parse_double(optarg, &cfg->settle) != 0;
            break;
        case OPT_DRAIN:
            bad = parse_double(optarg, &cfg->drain) != 0;
            break;
        case OPT_THREADS:
            bad = parse_u32(optarg, &cfg->threads) != 0 || cfg->threads == 0;
            break;
        case OPT_CONNECT_WINDOW:
            bad = parse_u32(optarg, &cfg->connect_window) != 0 || cfg->connect_window == 0;
            break;
        case OPT_CONNECT_TIMEOUT:
            bad = parse_double(optarg, &cfg->connect_timeout) != 0;
            break;
        case OPT_SRC_ADDRS:
            bad = parse_u32(optarg, &cfg->src_addrs) != 0 || cfg->src_addrs > 1u << 20;
            break;
        case OPT_RECV_BUFS:
            bad = parse_u32(optarg, &cfg->recv_bufs) != 0;
            break;
        case OPT_RECV_BUF_SIZE:
            bad = parse_u32(optarg, &cfg->recv_buf_size) != 0 || cfg->recv_buf_size < 256 ||
                  cfg->recv_buf_size > (1u << 20);
            break;
        case OPT_KEEPALIVE:
            bad = parse_double(optarg, &cfg->keepalive) != 0;
            break;
        case OPT_SERVER_PID:
            bad = parse_u32(optarg, &u) != 0 || u == 0;
            cfg->server_pid = (pid_t)u;
            break;
        case OPT_JSON:
            cfg->json_path = optarg;
            break;
        case OPT_MEMBERS:
            bad = parse_u32(optarg, &cfg->members) != 0 || cfg->members < 2;
            break;
        case OPT_MIX:
            bad = parse_mix(optarg, cfg->mix) != 0;
            break;
        case OPT_ROOM_RATE:
            bad = parse_u32(optarg, &cfg->room_rate) != 0 || cfg->room_rate == 0;
            break;
        case OPT_RATE_WINDOW_MS:
            bad = parse_u32(optarg, &cfg->rate_window_ms) != 0 || cfg->rate_window_ms == 0;
            break;
        case OPT_SLOW_PCT:
            bad = parse_double(optarg, &cfg->slow_pct) != 0 || cfg->slow_pct > 100;
            break;
        case OPT_SLOW_AFTER:
            bad = parse_double(optarg, &cfg->slow_after) != 0;
            break;
        case OPT_SLOW_RCVBUF:
            bad = parse_u32(optarg, &cfg->slow_rcvbuf) != 0 || cfg->slow_rcvbuf == UINT32_MAX;
            break;
        case OPT_SLOW_RESUME:
            bad = parse_double(optarg, &cfg->slow_resume) != 0;
            break;
        case OPT_ADMIN_PORT:
            bad = parse_u32(optarg, &u) != 0 || u == 0 || u > 65535;
            cfg->admin_port = (int)u;
            break;
        case OPT_SVG:
            cfg->svg_path = optarg;
            break;
        case OPT_BASELINE:
            cfg->baseline_path = optarg;
            break;
        case OPT_ROOM_PREFIX:
            cfg->room_prefix = optarg;
            break;
        case OPT_QUIET:
            cfg->quiet = true;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "liveroom-bench: bad value for --%s: %s\n",
                    options[opt - OPT_SCENARIO].name, optarg ? optarg : "");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "liveroom-bench: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_run run;
    memset(&run, 0, sizeof(run));
    bench_cfg *cfg = &run.cfg;
    char *owned_secret = NULL;
    cfg->scenario = "stadium";
    strcpy(cfg->host, "127.0.0.1");
    cfg->app_id = 1400000000ull;
    cfg->pri = LR_PRI_HIGH;
    cfg->rate = cfg->duration = cfg->settle = cfg->drain = cfg->keepalive = -1;
    cfg->slow_pct = cfg->slow_after = cfg->slow_resume = -1;
    cfg->slow_rcvbuf = UINT32_MAX;
    cfg->src_addrs = UINT32_MAX;
    char *cmdline = join_args(argc, argv);
    cfg->cmdline = cmdline ? cmdline : "liveroom-bench";
    if (parse_flags(argc, argv, cfg, &owned_secret) != 0) {
        free(owned_secret);
        free(cmdline);
        return 2;
    }

    const bench_scenario *sc = bench_scenario_find(cfg->scenario);
    if (!sc) {
        fprintf(stderr, "liveroom-bench: unknown scenario %s; known:\n", cfg->scenario);
        bench_scenario_list(stderr);
        free(owned_secret);
        free(cmdline);
        return 2;
    }
    char err[256];
    if (bench_scenario_apply(cfg, sc, err, sizeof(err)) != 0) {
        fprintf(stderr, "liveroom-bench: %s\n", err);
        free(owned_secret);
        free(cmdline);
        return 2;
    }
    run.total_pubs = cfg->rooms * cfg->publishers;
    run.total_conns = cfg->conns + run.total_pubs;
    run.nworkers = cfg->threads;
    /* fresh room and user ids per run: no history from earlier runs rides on
     * the join replies, and no earlier session counts against device limits */
    snprintf(run.room_tag, sizeof(run.room_tag), "b%05x",
             (unsigned)((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 4)) & 0xfffff);

    int rc = bench_run_execute(&run);
    if (rc != 0 && rc != LR_EAGAIN && rc != LR_ENOENT) {
        fprintf(stderr, "liveroom-bench: the run failed (%d)\n", rc);
        bench_workers_free(&run);
        free(run.samples);
        free(run.res.series);
        free(owned_secret);
        free(cmdline);
        return 1;
    }
    bench_report_print(&run, stdout);
    if (cfg->json_path && bench_report_json(&run, cfg->json_path) != 0) {
        fprintf(stderr, "liveroom-bench: cannot write %s\n", cfg->json_path);
        rc = 1;
    }
    if (cfg->svg_path && bench_svg_write(&run, cfg->svg_path) != 0) {
        fprintf(stderr, "liveroom-bench: cannot write %s\n", cfg->svg_path);
        rc = 1;
    }
    bench_workers_free(&run);
    free(run.samples);
    free(run.res.series);
    free(owned_secret);
    free(cmdline);
    return rc == 0 ? 0 : 1;
}
