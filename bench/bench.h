/*
 * bench.h: the load generator's shared types. A run (bench_run) owns the
 * configuration, the phase every worker follows, and the workers; a worker
 * (bench_worker, one thread, one io_uring) owns its connections and its
 * statistics. Workers write their own counters only; the run's main thread
 * reads them with relaxed atomic loads while the run goes on and reads
 * histograms only after the workers stopped.
 */
#ifndef LR_BENCH_H
#define LR_BENCH_H

#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/common.h"
#include "freqcheck.h"
#include "hist.h"
#include "net/ws.h"

/* The ring's fixed-file table may not exceed the open-file limit (20,000
 * here), so no worker holds more connections than this. */
#define BENCH_MAX_CONNS_PER_WORKER 19000
#define BENCH_PUB_TRACK 4096    /* publisher send times kept for ack latency; caps --window */
#define BENCH_PUB_TRACK_MIN 256 /* kept per publisher at least (rate mode) */
#define BENCH_MAX_PUBLISHERS 200000
#define BENCH_MAX_ROOMS 100000
#define BENCH_IVAL_US 1000000        /* the per-second series' interval */
#define BENCH_ERR_CODES 8            /* distinct error codes remembered per worker */
#define BENCH_MAX_MESSAGE (4u << 20) /* a join reply with full history fits */

typedef enum bench_target { BENCH_TARGET_ENGINE = 0, BENCH_TARGET_WS_RELAY = 1 } bench_target;

typedef enum bench_phase {
    BENCH_PH_SETUP = 0, /* workers build their rings */
    BENCH_PH_CONNECT,   /* open, log in and join every connection */
    BENCH_PH_PUBLISH,   /* publishers send */
    BENCH_PH_DRAIN,     /* publishers stopped; receivers still count */
    BENCH_PH_RESUME,    /* slow readers read again: what did they miss? */
    BENCH_PH_STOP,      /* workers exit */
} bench_phase;

/* Everything a run is told; 0 / NULL / negative means "scenario default"
 * for the fields the scenarios fill (see scenario.c). */
typedef struct bench_cfg {
    const char *scenario;
    bench_target target;
    lr_fmt enc;
    char host[64];         /* IPv4 literal of the server */
    int port;              /* WebSocket port (or raw-TCP port with --encoding tcp) */
    const char *path;      /* WebSocket path */
    const char *subscribe; /* ws-relay: text sent by every connection on open */
    const char *secret;
    uint64_t app_id;
    bool guests;    /* receivers join as guests (no UserSig) */
    uint32_t conns; /* receivers */
    uint32_t rooms;
    uint32_t members;    /* connections per room, publishers included (sets conns) */
    uint32_t publishers; /* per room */
    double rate;         /* messages per second per room; 0: unlimited (window) */
    uint32_t window;     /* unlimited mode: in-flight messages per publisher */
    uint32_t size;       /* body bytes */
    double duration;     /* publish (or idle sampling) seconds */
    double settle;       /* seconds between the last join and publishing */
    double drain;        /* seconds to wait for stragglers after publishing */
    lr_pri pri;
    uint32_t mix[LR_PRI_COUNT]; /* priority weights (overload); all 0: every send is pri */
    uint8_t mix_pattern[BENCH_MIX_MAX];
    uint32_t mix_len;        /* 0: no mix */
    uint32_t room_rate;      /* the engine's per-room rate, for the §6 checks */
    uint32_t rate_window_ms; /* the engine's rate window, for the §6 checks */
    bool check_freq;         /* log acks and seq times for the §6 checks */
    double slow_pct;         /* % of receivers that stop reading */
    double slow_after;       /* seconds into publishing when they stop */
    uint32_t slow_rcvbuf;    /* their SO_RCVBUF; 0: the kernel's default */
    double slow_resume;      /* after the drain, read what they were left for at most this */
    uint32_t pub_track;      /* send times kept per publisher (power of two) */
    uint32_t threads;
    uint32_t connect_window; /* connections being set up at once, per worker */
    double connect_timeout;
    uint32_t src_addrs; /* source addresses 127.0.0.1 .. 127.0.0.N */
    const char *room_prefix;
    uint32_t recv_bufs;     /* provided receive buffers per worker (power of 2) */
    uint32_t recv_buf_size; /* bytes each */
    double keepalive;       /* raw TCP: seconds between ping ops per connection */
    pid_t server_pid;
    int admin_port; /* the engine's admin port: /metrics before and after */
    const char *json_path;
    const char *svg_path;
    const char *baseline_path; /* an earlier --json report to compare p99 with */
    const char *cmdline;       /* the command, for titles */
    bool quiet;
    bool publish;      /* the scenario publishes */
    bool connect_only; /* the scenario ends once everyone joined */
} bench_cfg;

/* Counters of one worker. Single writer (the worker); see BENCH_ADD. */
typedef struct bench_stats {
    uint64_t connect_started, connect_failed, upgrade_failed, join_ok, join_failed;
    uint64_t closed_by_peer, conn_errors, protocol_errors;
    uint64_t delivered, dups, gaps, self_echo, pri[LR_PRI_COUNT], pri_unknown;
    uint64_t other_frames, bad_frames, pings, unmarked;
    uint64_t published, accepted, limited, send_errors, too_fast;
    uint64_t bytes_in, bytes_out, recv_cqes, enobufs, late_ticks;
    uint64_t pri_sent[LR_PRI_COUNT], pri_ok[LR_PRI_COUNT], pri_limited[LR_PRI_COUNT];
    uint64_t pri_errors[LR_PRI_COUNT];
    uint64_t slow_joined, slow_paused, slow_delivered, slow_dups, slow_gaps, slow_bytes;
    uint64_t slow_closed, slow_resumed;
    uint64_t acklog_full, seqlog_full;
    /* everything above is uint64_t and summed over workers field by field */
    uint64_t first_join_us, last_join_us;
    int err_code[BENCH_ERR_CODES];
    uint64_t err_count[BENCH_ERR_CODES];
    int last_close_code, last_http_status, last_errno;
} bench_stats;

#define BENCH_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define BENCH_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

typedef struct bench_conn {
    lr_ws_parser ws;
    lr_buf in;      /* bytes of an incomplete frame, kept between receives */
    lr_buf out;     /* queued, not yet handed to the kernel */
    lr_buf sending; /* handed to the kernel: owned until its completion */
    uint64_t t_start_us;
    uint64_t last_seq; /* last room seq seen (engine target) */
    uint32_t g;        /* global connection number */
    uint32_t room;
    uint32_t pub; /* index in the worker's pubs when a publisher */
    uint32_t send_off;
    uint16_t out_msgs, sending_msgs; /* published messages in out / sending */
    uint8_t state;
    uint16_t flags;
} bench_conn;

typedef struct bench_pub {
    uint32_t conn; /* local connection index */
    uint32_t id;   /* global publisher number, written into every body */
    uint32_t room;
    uint64_t next_ns; /* rate mode: when the next message is due */
    uint64_t period_ns;
    uint64_t seq;
    uint64_t req_id;
    uint32_t inflight;
    bool echo_acks; /* ws-relay: the relay echoes to the sender; echoes ack */
    uint64_t sent, accepted, limited, errors; /* accepted: read by run.c (atomic) */
    /* per request id modulo cfg.pub_track: send µs << 2 | priority sent */
    uint64_t *sent_at;
} bench_pub;

/* One second of the run's publish + drain, as one worker saw it. */
typedef struct bench_ival {
    bench_hist lat; /* deliveries (not slow readers') in this second */
    uint64_t published;
} bench_ival;

struct bench_run;

typedef struct bench_worker {
    struct bench_run *run;
    uint32_t id;
    pthread_t thread;
    int setup_err; /* negative errno when the ring could not be built */
    int ready;     /* atomic: 1 once set up (or failed) */
    bool started;  /* the thread was created */
    bool running;  /* the ring exists */

    struct io_uring ring;
    struct io_uring_buf_ring *br;
    uint8_t *bufs;
    uint32_t nbufs, buf_size, buf_pending;

    bench_conn *conns;
    uint32_t nconns;
    uint32_t next_connect; /* next local connection to open */
    uint32_t setting_up;   /* connections between connect and join */
    uint32_t *flushq;      /* connections with queued output */
    uint32_t nflush;
    uint32_t *rearmq; /* connections whose multishot receive ended */
    uint32_t nrearm;

    bench_pub *pubs;
    uint32_t npubs;
    uint64_t *sent_at; /* npubs x cfg.pub_track */
    uint32_t *pheap;   /* rate mode: publishers by next due time */
    uint32_t npheap;
    bool pheap_built;
    uint64_t *relay_last; /* ws-relay: last seq per (connection, publisher) */

    uint32_t *room_joined;    /* receivers open per room (atomic reads; slow readers not) */
    uint32_t *slow_joined;    /* slow readers open per room */
    uint64_t *room_delivered; /* deliveries per room (rooms > 1), read after stop */
    uint32_t *slowq;          /* local indexes of slow readers */
    uint32_t nslow;
    bool slow_stopped, slow_resumed;
    bench_ival *ivals; /* per second since the publish phase began */
    uint32_t nivals;
    bench_ival *ival_cur;
    uint64_t ival_end_us;
    bench_ack_ev *acklog; /* check_freq: every ack its publishers read */
    uint32_t nacklog, acklog_cap;
    bench_seq_time *seqlog; /* check_freq: the first receiver's (seq, time) */
    uint32_t nseqlog, seqlog_cap;
    struct sockaddr_in dst;
    char ws_key[32];
    char ws_accept[32];
    uint64_t rng;
    uint64_t keepalive_tick;
    uint64_t pub_t0_ns; /* when the publish phase began (the run's, for every worker) */
    lr_buf scratch;     /* one request being encoded */
    lr_buf sigs;        /* pre-made UserSigs, NUL-terminated, back to back */
    uint32_t *sig_off;  /* per connection: offset of its UserSig in sigs */

    bench_stats st;
    bench_hist lat;  /* publish to receive, µs */
    bench_hist join; /* connect to join reply, µs */
    bench_hist ack;  /* publisher send to ok, µs */
} bench_worker;

/* One point of the per-second series (publish + drain). */
typedef struct bench_point {
    double t;    /* seconds since publishing began, end of the interval */
    double secs; /* the interval's length: 1, less for the last one */
    uint64_t deliveries, published;
    uint64_t p50_us, p99_us, max_us;
    uint64_t engine_rss;   /* the sample nearest the interval's end; 0 if none */
    uint64_t engine_sendq; /* the same sample's kernel send queues (slow) */
} bench_point;

/* Engine counters read from the admin port's /metrics. */
typedef struct bench_metrics {
    bool ok;
    uint64_t slow_skipped, slow_overrun, slow_closed;
    uint64_t freq_dropped[LR_PRI_COUNT];
    uint64_t passed, deliveries, windows;
    uint64_t sends, send_bytes; /* socket sends submitted, and their bytes */
    uint32_t batch_delay_ms;    /* the longest of the shards' current batching delays */
} bench_metrics;

typedef struct bench_sample {
    double t; /* seconds since the run started */
    int phase;
    uint64_t joined, delivered, published;
    double engine_cpu;     /* seconds, cumulative; -1 when not sampled */
    uint64_t engine_rss;   /* bytes */
    double self_cpu;       /* seconds, cumulative */
    uint64_t engine_sendq; /* kernel send queues of the engine's sockets (slow); 0: not read */
} bench_sample;

/* Figures the report prints, computed by run.c. */
typedef struct bench_result {
    uint32_t total_conns, receivers, publishers, workers;
    double t_connect; /* seconds from the first connect to the last join */
    double joins_per_s;
    double t_window; /* publish + drain seconds actually used */
    double t_publish;
    uint64_t expected, receivers_at_start;
    double deliveries_per_s, published_per_s;
    double engine_cpu_window, engine_cpu_connect, engine_cpu_idle;
    double deliveries_per_cpu_s;
    uint64_t engine_rss_base, engine_rss_joined, engine_rss_end, engine_rss_peak;
    double engine_rss_per_conn;
    double self_cpu_window, self_cpu_connect, self_cpu_total;
    bool engine_sampled;
    uint64_t lost;
    bench_stats st; /* summed over workers */
    bench_hist lat, join, ack;
    /* rooms: how the loss spreads */
    uint32_t rooms_with_loss;
    uint64_t worst_room_lost;
    /* slow readers */
    uint32_t slow_readers;
    uint64_t slow_expected; /* accepted x slow readers per room, whole run */
    double t_slow_stop;     /* seconds since publishing began; -1 never */
    uint64_t engine_rss_slow_stop, engine_rss_after_stop_peak;
    uint64_t sendq_slow_stop, sendq_peak, sendq_end; /* kernel send queues, engine side */
    /* the per-second series */
    bench_point *series;
    size_t nseries;
    /* engine /metrics before and after (admin port) */
    bench_metrics m0, m1;
    bench_metrics mw0, mw1;      /* around the publish window: its sends */
    uint32_t batch_delay_max_ms; /* the longest batching delay seen, read once a second */
    /* overload */
    bool freq_checked;
    bench_freq_out freq;
    double offered_rate[LR_PRI_COUNT];
    /* --baseline */
    bool baseline_ok;
    uint64_t baseline_p99_us;
} bench_result;

typedef struct bench_run {
    bench_cfg cfg;
    int phase; /* atomic bench_phase */
    uint32_t nworkers;
    bench_worker *workers;
    uint32_t total_conns; /* receivers + publishers */
    uint32_t total_pubs;
    char room_tag[24];
    uint64_t t0_us;
    uint64_t progress_us;   /* last progress line */
    uint64_t t_connect0_us; /* the connect phase began */
    uint64_t t_pub0_us;     /* the publish phase began (written before the phase) */
    bench_sample *samples;
    size_t nsamples, samples_cap;
    bench_result res;
} bench_run;

/* scenario.c */
typedef struct bench_scenario {
    const char *name;
    const char *what;
    uint32_t conns, rooms;
    double rate;
    uint32_t window, size;
    double duration, settle, drain;
    bool publish, connect_only;
    uint32_t members;           /* connections per room (rooms) */
    double slow_pct;            /* slow */
    uint32_t mix[LR_PRI_COUNT]; /* overload */
    bool check_freq;
} bench_scenario;
const bench_scenario *bench_scenario_find(const char *name);
void bench_scenario_list(FILE *out);
/* Fill every unset field of cfg from the scenario and derive the rest. */
int bench_scenario_apply(bench_cfg *cfg, const bench_scenario *s, char *err, size_t errlen);

/* client.c */
int bench_workers_create(bench_run *run);
void bench_workers_join(bench_run *run);
void bench_workers_free(bench_run *run);
/* Room id of room r into out (NUL-terminated); returns its length. */
size_t bench_room_id(const bench_run *run, uint32_t r, char *out, size_t cap);

/* procstat.c */
typedef struct bench_proc {
    double cpu_s; /* user + system seconds */
    uint64_t rss; /* bytes */
    bool ok;
} bench_proc;
bench_proc bench_proc_sample(pid_t pid); /* pid 0: this process */
/* Bytes the kernel holds unsent or unacknowledged on sockets whose local
 * port is port (the engine's side of the bench's connections). */
bool bench_tcp_sendq(int port, uint64_t *bytes, uint32_t *socks);

/* metrics.c */
int bench_metrics_parse(const char *text, size_t n, bench_metrics *m);
int bench_metrics_fetch(const char *host, int port, double timeout_s, bench_metrics *m);

/* Whether receiver g is one of the slow readers (spread evenly). */
static inline bool bench_is_slow(const bench_cfg *cfg, uint32_t g)
{
    if (cfg->slow_pct <= 0 || g >= cfg->conns) return false;
    double f = cfg->slow_pct / 100.0;
    return (uint64_t)((double)(g + 1) * f) > (uint64_t)((double)g * f);
}

/* run.c */
int bench_run_execute(bench_run *run);

/* svg.c */
int bench_svg_write(const bench_run *run, const char *path);

/* report.c */
void bench_report_print(const bench_run *run, FILE *out);
int bench_report_json(const bench_run *run, const char *path);

#endif
