/*
 * liveroom-sig prints a UserSig (or, with --jwt, a JWT HS256) for one user,
 * signed with the engine's secret (PROTOCOL.md §10), so that tests and
 * business backends can log users in without a Tencent SDK. It owns only
 * argument handling: the formats live in engine/auth/sig.c. It never prints
 * the secret, and exits 2 on any bad flag so scripts notice.
 */
#include "auth/sig.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_EXPIRE (86400 * 180)
#define DEFAULT_APP_ID 1400000000ULL

static void usage(FILE *f)
{
    fprintf(f,
            "usage: liveroom-sig (--secret KEY | --data-dir DIR) --user ID\n"
            "                    [--expire SECS] [--app-id N] [--jwt]\n"
            "  --secret KEY    signing key (default: the text of DIR/secret)\n"
            "  --data-dir DIR  read the key from DIR/secret when --secret is absent\n"
            "  --user ID       user id, 1-%d printable ASCII characters\n"
            "  --expire SECS   validity in seconds (default %d)\n"
            "  --app-id N      SDKAppID (default %llu)\n"
            "  --jwt           print a JWT HS256 instead of a UserSig\n",
            LR_MAX_USER_ID, DEFAULT_EXPIRE, DEFAULT_APP_ID);
}

static int bad(const char *fmt, const char *arg)
{
    fputs("liveroom-sig: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    usage(stderr);
    return 2;
}

/* Whole-string unsigned decimal; rejects signs, spaces and overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s || *s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"secret", required_argument, NULL, 's'}, {"user", required_argument, NULL, 'u'},
        {"expire", required_argument, NULL, 'e'}, {"app-id", required_argument, NULL, 'a'},
        {"jwt", no_argument, NULL, 'j'},          {"data-dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *secret = NULL, *user = NULL, *data_dir = NULL;
    uint64_t expire = DEFAULT_EXPIRE, app_id = DEFAULT_APP_ID;
    bool jwt = false;

    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            secret = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'd':
            data_dir = optarg;
            break;
        case 'j':
            jwt = true;
            break;
        case 'e':
            if (!parse_u64(optarg, &expire) || expire == 0 || expire > (uint64_t)INT64_MAX / 2)
                return bad("--expire wants a positive number of seconds, not '%s'", optarg);
            break;
        case 'a':
            if (!parse_u64(optarg, &app_id))
                return bad("--app-id wants an unsigned number, not '%s'", optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return bad("%s needs a value", argv[optind - 1]);
        default:
            return bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return bad("unexpected argument '%s'", argv[optind]);
    if (!user) return bad("%s", "--user is required");
    if (!lr_id_valid(lr_str_c(user), LR_MAX_USER_ID))
        return bad("invalid user id '%s' (1-32 printable ASCII, no space)", user);
    if (secret && !*secret) return bad("%s", "--secret must not be empty");
    if (!secret && !data_dir) return bad("%s", "give --secret KEY or --data-dir DIR");

    char key[4096];
    if (!secret) {
        int n = lr_secret_load_or_create(data_dir, key, sizeof key);
        if (n < 0) {
            fprintf(stderr, "liveroom-sig: cannot read the secret in %s (error %d)\n", data_dir, n);
            return 1;
        }
        secret = key;
    }

    int64_t now = lr_wall_ms() / 1000;
    char out[4096];
    int n =
        jwt ? lr_jwt_make(lr_str_c(secret), lr_str_c(user), now, (int64_t)expire, out, sizeof out)
            : lr_usersig_make(lr_str_c(secret), app_id, lr_str_c(user), now, (int64_t)expire, out,
                              sizeof out);
    if (n < 0) {
        fprintf(stderr, "liveroom-sig: cannot make the signature (error %d)\n", n);
        return 1;
    }
    printf("%s\n", out);
    return fflush(stdout) == 0 ? 0 : 1;
}
