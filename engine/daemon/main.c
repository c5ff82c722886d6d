/*
 * main.c: liveroomd. Flags, config file, LIVEROOM_* environment variables
 * (flags win over the environment, which wins over the file), signals, the
 * `ready` line, and nothing else: everything the daemon does is the
 * library's, so an embedding application gets the same engine.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "liveroom/liveroom.h"

/* jemalloc's tuning for a daemon that holds many small long-lived objects:
 * freed pages go back to the kernel from jemalloc's background thread within
 * a second (never on a shard's loop), so RSS follows live connections. */
const char *malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

static void usage(FILE *f)
{
    fprintf(f, "usage: liveroomd [--config FILE] [--option value ...]\n"
               "options (also as `option = value` in the config file, or LIVEROOM_OPTION):\n");
    lr_config_usage(f);
}

/* Split "--key=value" or "--key value"; returns the number of argv used. */
static int flag_at(int argc, char **argv, int i, char *key, size_t keycap, const char **value)
{
    const char *a = argv[i] + 2;
    const char *eq = strchr(a, '=');
    if (eq) {
        snprintf(key, keycap, "%.*s", (int)(eq - a), a);
        *value = eq + 1;
        return 1;
    }
    snprintf(key, keycap, "%s", a);
    if (i + 1 >= argc) return -1;
    *value = argv[i + 1];
    return 2;
}

int main(int argc, char **argv)
{
    lr_config cfg;
    lr_config_defaults(&cfg);
    char err[512], key[64];
    const char *value;

    /* the config file first, then the environment, then the flags */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "liveroomd: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        int used = flag_at(argc, argv, i, key, sizeof(key), &value);
        if (used < 0) {
            fprintf(stderr, "liveroomd: --%s needs a value\n", key);
            return 2;
        }
        if (!strcmp(key, "config") && lr_config_load_file(&cfg, value, err, sizeof(err)) != 0) {
            fprintf(stderr, "liveroomd: %s\n", err);
            return 2;
        }
        i += used - 1;
    }
    if (lr_config_load_env(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "liveroomd: environment: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        int used = flag_at(argc, argv, i, key, sizeof(key), &value);
        if (strcmp(key, "config") != 0 && lr_config_set(&cfg, key, value, err, sizeof(err)) != 0) {
            fprintf(stderr, "liveroomd: %s\n", err);
            return 2;
        }
        i += used - 1;
    }

    /* signals are taken by this thread only: the shards inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    lr_engine *e = lr_engine_create(&cfg, err, sizeof(err));
    if (!e) {
        fprintf(stderr, "liveroomd: %s\n", err);
        return 1;
    }
    if (lr_engine_start(e, err, sizeof(err)) != 0) {
        fprintf(stderr, "liveroomd: %s\n", err);
        lr_engine_destroy(e);
        return 1;
    }
    LR_INFO("event=ready msg=\"liveroomd ready\" port=%u tcp_port=%u admin_port=%u shards=%u "
            "data_dir=%s",
            lr_engine_port(e), lr_engine_tcp_port(e), cfg.admin_port, lr_engine_shards(e),
            cfg.data_dir);
    if (lr_log_level() > LR_LOG_INFO)
        fprintf(stderr, "liveroomd ready port=%u\n", lr_engine_port(e));

    int sig = 0;
    do {
        sigwait(&set, &sig);
    } while (sig == SIGPIPE);
    LR_INFO("event=stopping signal=%d", sig);
    lr_engine_stop(e);
    lr_engine_wait(e);
    lr_engine_destroy(e);
    LR_INFO("event=stopped");
    return 0;
}
