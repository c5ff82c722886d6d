/*
 * procstat.c owns reading a process's CPU time and resident memory from
 * /proc (the engine's, by --server-pid) and the bench's own CPU time from
 * getrusage, and the bytes queued in the kernel on the engine's side of its
 * TCP connections (/proc/net/tcp), which its RSS does not show. It only
 * reads; a vanished process is reported as not ok, never as an error that
 * stops the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define PROC_STAT_UTIME_FIELD 14 /* proc(5): utime, then stime, in clock ticks */

static bool read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f) return false;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

bench_proc bench_proc_sample(pid_t pid)
{
    bench_proc r = {0};
    if (pid == 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) != 0) return r;
        r.cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        r.rss = (uint64_t)ru.ru_maxrss * 1024; /* peak, the best getrusage offers */
        r.ok = true;
        return r;
    }
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!read_small(path, buf, sizeof(buf))) return r;
    /* the command name may hold spaces and parentheses: fields start after
     * the last ')' with field 3 */
    char *p = strrchr(buf, ')');
    if (!p) return r;
    p++;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= PROC_STAT_UTIME_FIELD + 1; field++) {
        while (*p == ' ')
            p++;
        if (field == PROC_STAT_UTIME_FIELD)
            utime = strtoull(p, NULL, 10);
        else if (field == PROC_STAT_UTIME_FIELD + 1)
            stime = strtoull(p, NULL, 10);
        p = strchr(p, ' ');
        if (!p) return r;
    }
    long tck = sysconf(_SC_CLK_TCK);
    r.cpu_s = (double)(utime + stime) / (double)(tck > 0 ? tck : 100);

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (!read_small(path, buf, sizeof(buf))) return r;
    char *rss = strstr(buf, "\nVmRSS:");
    if (rss) r.rss = strtoull(rss + 7, NULL, 10) * 1024;
    r.ok = true;
    return r;
}

/* /proc/net/tcp: "sl local rem st tx_queue:rx_queue ...", addresses and
 * queues in hex. A socket whose local port is the engine's is the engine's
 * end of a client connection (or its listener, which queues nothing). */
bool bench_tcp_sendq(int port, uint64_t *bytes, uint32_t *socks)
{
    *bytes = 0;
    *socks = 0;
    FILE *f = fopen("/proc/net/tcp", "re");
    if (!f) return false;
    char line[512];
    bool header = true;
    while (fgets(line, sizeof(line), f)) {
        if (header) {
            header = false;
            continue;
        }
        char *p = strchr(line, ':'); /* after "sl" */
        if (!p) continue;
        p = strchr(p + 1, ':'); /* local address's port separator */
        if (!p) continue;
        char *end;
        unsigned long lport = strtoul(p + 1, &end, 16);
        if ((int)lport != port) continue;
        /* skip the remote address and the state */
        unsigned long st;
        char rem[64];
        unsigned long long tx;
        if (sscanf(end, " %63s %lx %llx", rem, &st, &tx) != 3) continue;
        *bytes += tx;
        (*socks)++;
    }
    fclose(f);
    return true;
}
