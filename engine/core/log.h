/*
 * log.h: one `key=value` line per event on stderr, with a level filter.
 * The level is the one piece of process-wide state outside lr_engine: it is
 * set once before the shards start and only read afterwards.
 */
#ifndef LR_CORE_LOG_H
#define LR_CORE_LOG_H

enum { LR_LOG_DEBUG = 0, LR_LOG_INFO = 1, LR_LOG_WARN = 2, LR_LOG_ERROR = 3, LR_LOG_OFF = 4 };

void lr_log_set_level(int level);
int lr_log_level(void);
int lr_log_parse_level(const char *s); /* level or -1 */
/* fmt is the rest of the line after "ts=… level=…", e.g. "event=accept shard=%u". */
void lr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LR_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= lr_log_level()) lr_log((level), __VA_ARGS__);                               \
    } while (0)
#define LR_DEBUG(...) LR_LOG(LR_LOG_DEBUG, __VA_ARGS__)
#define LR_INFO(...) LR_LOG(LR_LOG_INFO, __VA_ARGS__)
#define LR_WARN(...) LR_LOG(LR_LOG_WARN, __VA_ARGS__)
#define LR_ERROR(...) LR_LOG(LR_LOG_ERROR, __VA_ARGS__)

#endif
