/*
 * test_sig proves UserSig and JWT verification against an independent
 * implementation: every vector is produced at test time by /usr/bin/python3
 * using only its standard library (hmac, hashlib, zlib, base64, json), and
 * what lr_usersig_make / lr_jwt_make produce is checked by the same script.
 * A missing Python fails the test rather than skipping it: a skipped
 * signature test would let a broken verifier ship. It also proves the secret
 * file's creation, modes, reloading and newline stripping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/sig.h"

#define APP 1400000000ULL
#define T0 1700000000LL
#define EXPIRE 86400LL

/* The independent implementation. argv: mode args... */
static const char py_script[] =
    "import sys, hmac, hashlib, zlib, base64, json\n"
    "def tx(b):\n"
    "    return base64.b64encode(b).decode().replace('+','*').replace('/','-').replace('=','_')\n"
    "def untx(s):\n"
    "    return base64.b64decode(s.replace('*','+').replace('-','/').replace('_','='))\n"
    "def mac(key, content, h=hashlib.sha256):\n"
    "    return hmac.new(key.encode(), content.encode(), h).digest()\n"
    "def content(i, a, t, e):\n"
    "    return 'TLS.identifier:%s\\nTLS.sdkappid:%s\\nTLS.time:%s\\nTLS.expire:%s\\n' % (i, a, t, "
    "e)\n"
    "def usersig(key, user, app, t, e, v):\n"
    "    c = content(user, app, t, e)\n"
    "    m = {'TLS.ver':'2.0','TLS.identifier':user,'TLS.sdkappid':int(app),\n"
    "         'TLS.expire':int(e),'TLS.time':int(t)}\n"
    "    if v == 'userbuf':\n"
    "        m['TLS.userbuf'] = base64.b64encode(b'room-a').decode()\n"
    "        c += 'TLS.userbuf:' + m['TLS.userbuf'] + '\\n'\n"
    "    if v == 'wrongkey': key = key + 'x'\n"
    "    m['TLS.sig'] = base64.b64encode(mac(key, c)).decode()\n"
    "    if v == 'strings':\n"
    "        for k in ('TLS.sdkappid','TLS.time','TLS.expire'): m[k] = str(m[k])\n"
    "    if v == 'altertime': m['TLS.time'] = int(t) + 1\n"
    "    if v == 'badver': m['TLS.ver'] = '1.0'\n"
    "    if v == 'float': m['TLS.time'] = float(t) + 0.5\n"
    "    if v == 'negative': m['TLS.expire'] = -1\n"
    "    if v.startswith('no:'): del m[v[3:]]\n"
    "    raw = json.dumps(m).encode()\n"
    "    if v == 'dup': raw = raw[:-1] + b', \"TLS.identifier\": \"someone-else\"}'\n"
    "    if v == 'notjson': raw = b'this is not json'\n"
    "    if v == 'array': raw = json.dumps([m]).encode()\n"
    "    z = zlib.compress(raw)\n"
    "    if v == 'badzlib': z = hashlib.sha512(raw).digest()\n"
    "    if v == 'truncated': z = z[:-5]\n"
    "    if v == 'trailing': z = z + b'\\x00\\x01'\n"
    "    if v == 'bomb': z = zlib.compress(raw[:-1] + b', \"pad\": \"' + b'a' * 200000 + b'\"}', "
    "9)\n"
    "    s = tx(z)\n"
    "    if v == 'std': s = base64.b64encode(z).decode()\n"
    "    if v == 'nopad': s = s.rstrip('_')\n"
    "    return s\n"
    "def b64u(b):\n"
    "    return base64.urlsafe_b64encode(b).decode().rstrip('=')\n"
    "def unb64u(s):\n"
    "    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))\n"
    "def jwt(key, user, iat, exp, v):\n"
    "    h = {'alg':'HS256','typ':'JWT'}\n"
    "    p = {'sub':user,'iat':int(iat),'exp':int(exp)}\n"
    "    if v.startswith('alg:'): h['alg'] = v[4:].split('+')[0]\n"
    "    if v == 'noalg': del h['alg']\n"
    "    if v == 'nosub': del p['sub']\n"
    "    if v == 'noexp': del p['exp']\n"
    "    if v == 'floatexp': p['exp'] = int(exp) + 0.75\n"
    "    if v == 'wrongkey': key = key + 'x'\n"
    "    hp = b64u(json.dumps(h).encode()) + '.' + b64u(json.dumps(p).encode())\n"
    "    hf = hashlib.sha512 if v == 'alg:HS512' else hashlib.sha256\n"
    "    sig = b64u(mac(key, hp, hf))\n"
    "    if v.startswith('alg:none'): sig = ''\n"
    "    if v == 'alg:none+mac': sig = b64u(mac(key, hp))\n"
    "    if v == 'tamper':\n"
    "        p['sub'] = user + '-evil'\n"
    "        hp = hp.split('.')[0] + '.' + b64u(json.dumps(p).encode())\n"
    "    if v == 'padded':\n"
    "        a, b = hp.split('.')\n"
    "        pad = lambda s: s + '=' * (-len(s) % 4)\n"
    "        return pad(a) + '.' + pad(b) + '.' + pad(sig)\n"
    "    return hp + '.' + sig\n"
    "def check_usersig(key, s):\n"
    "    m = json.loads(zlib.decompress(untx(s)))\n"
    "    c = content(m['TLS.identifier'], m['TLS.sdkappid'], m['TLS.time'], m['TLS.expire'])\n"
    "    if not hmac.compare_digest(base64.b64decode(m['TLS.sig']), mac(key, c)):\n"
    "        return 'bad-mac'\n"
    "    if m['TLS.ver'] != '2.0': return 'bad-ver'\n"
    "    ty = ' '.join(type(m[k]).__name__ for k in ('TLS.sdkappid','TLS.time','TLS.expire'))\n"
    "    return 'ok %s %s %s %s %s' % (m['TLS.identifier'], m['TLS.sdkappid'], m['TLS.time'],\n"
    "                                  m['TLS.expire'], ty)\n"
    "def check_jwt(key, t):\n"
    "    a, b, c = t.split('.')\n"
    "    if not hmac.compare_digest(unb64u(c), mac(key, a + '.' + b)): return 'bad-mac'\n"
    "    if '=' in t: return 'padded'\n"
    "    h = json.loads(unb64u(a)); p = json.loads(unb64u(b))\n"
    "    return 'ok %s %s %s %s' % (h['alg'], p['sub'], p['iat'], p['exp'])\n"
    "a = sys.argv[1:]\n"
    "if a[0] == 'usersig': r = usersig(a[1], a[2], a[3], a[4], a[5], a[6])\n"
    "elif a[0] == 'jwt': r = jwt(a[1], a[2], a[3], a[4], a[5])\n"
    "elif a[0] == 'check_usersig': r = check_usersig(a[1], a[2])\n"
    "elif a[0] == 'check_jwt': r = check_jwt(a[1], a[2])\n"
    "else: sys.exit(3)\n"
    "sys.stdout.write(r)\n";

static const char *python_path(void)
{
    const char *p = getenv("LR_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

/* Runs the script with args (NULL-terminated); returns its stdout. Any
 * failure to run it, or a non-zero exit, fails the calling test. */
static char *py(const char *mode, ...)
{
    const char *argv[16];
    size_t n = 0;
    argv[n++] = python_path();
    argv[n++] = "-I"; /* ignore PYTHON* env and user site: stdlib only */
    argv[n++] = "-c";
    argv[n++] = py_script;
    argv[n++] = mode;
    va_list ap;
    va_start(ap, mode);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(n < LR_ARRAY_LEN(argv) - 1);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "test_sig: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (;;) {
        ssize_t r = read(fds[0], out + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        assert_true(r >= 0);
        if (r == 0) break;
        len += (size_t)r;
        assert_true(len < cap - 1);
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(out);
        fail_msg("%s exited with status %d (missing or broken Python?)", argv[0], status);
    }
    out[len] = '\0';
    return out;
}

/* A per-run secret: the vectors must come from this run, not a fixture. */
static void make_secret(char *out, size_t cap)
{
    uint64_t s = lr_clock_us() ^ ((uint64_t)getpid() << 32);
    snprintf(out, cap, "%016llx%016llx", (unsigned long long)lr_rand_next(&s),
             (unsigned long long)lr_rand_next(&s));
}

static char *py_usersig(const char *key, const char *user, uint64_t app, int64_t t, int64_t e,
                        const char *variant)
{
    char app_s[24], t_s[24], e_s[24];
    snprintf(app_s, sizeof app_s, "%llu", (unsigned long long)app);
    snprintf(t_s, sizeof t_s, "%lld", (long long)t);
    snprintf(e_s, sizeof e_s, "%lld", (long long)e);
    return py("usersig", key, user, app_s, t_s, e_s, variant, NULL);
}

static char *py_jwt(const char *key, const char *user, int64_t iat, int64_t exp,
                    const char *variant)
{
    char i_s[24], e_s[24];
    snprintf(i_s, sizeof i_s, "%lld", (long long)iat);
    snprintf(e_s, sizeof e_s, "%lld", (long long)exp);
    return py("jwt", key, user, i_s, e_s, variant, NULL);
}

/* Both verifiers: the one-shot and the one a shard keeps (lr_sig_ctx),
 * which must give the same answer every time it is reused. */
static int verify(const char *key, uint64_t app, const char *user, const char *sig, int64_t now)
{
    int rc = lr_sig_verify(lr_str_c(key), app, lr_str_c(user), lr_str_c(sig), now);
    lr_sig_ctx *x = lr_sig_ctx_new(lr_str_c(key));
    assert_non_null(x);
    for (int i = 0; i < 2; i++)
        assert_int_equal(lr_sig_verify_with(x, app, lr_str_c(user), lr_str_c(sig), now), rc);
    lr_sig_ctx_free(x);
    return rc;
}

/* Verifies a python UserSig of the given variant for alice at T0 + 10. */
static int verify_variant(const char *variant)
{
    char key[40];
    make_secret(key, sizeof key);
    char *s = py_usersig(key, "alice", APP, T0, EXPIRE, variant);
    int rc = verify(key, APP, "alice", s, T0 + 10);
    free(s);
    return rc;
}

static int verify_jwt_variant(const char *variant)
{
    char key[40];
    make_secret(key, sizeof key);
    char *s = py_jwt(key, "alice", T0, T0 + EXPIRE, variant);
    int rc = verify(key, APP, "alice", s, T0 + 10);
    free(s);
    return rc;
}

/* ---- UserSig from the independent implementation ---------------------- */

static void test_usersig_from_python_verifies(void **state)
{
    (void)state;
    assert_int_equal(verify_variant("ok"), 0);
}

static void test_usersig_accepts_numeric_fields_written_as_strings(void **state)
{
    (void)state;
    assert_int_equal(verify_variant("strings"), 0);
}

static void test_usersig_accepts_standard_base64_and_missing_padding(void **state)
{
    (void)state;
    assert_int_equal(verify_variant("std"), 0);
    assert_int_equal(verify_variant("nopad"), 0);
}

static void test_usersig_userbuf_is_covered_by_the_mac(void **state)
{
    (void)state;
    assert_int_equal(verify_variant("userbuf"), 0);
}

static void test_usersig_expires_at_time_plus_expire(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    char *s = py_usersig(key, "bob", APP, T0, EXPIRE, "ok");
    assert_int_equal(verify(key, APP, "bob", s, T0), 0);
    assert_int_equal(verify(key, APP, "bob", s, T0 + EXPIRE - 1), 0);
    assert_int_equal(verify(key, APP, "bob", s, T0 + EXPIRE), LR_ERR_SIG_EXPIRED);
    assert_int_equal(verify(key, APP, "bob", s, T0 + EXPIRE * 100), LR_ERR_SIG_EXPIRED);
    free(s);
}

static void test_usersig_tampered_mac_fails_verification(void **state)
{
    (void)state;
    assert_int_equal(verify_variant("wrongkey"), LR_ERR_SIG_VERIFY);
    /* A field changed after signing: the MAC no longer covers it. */
    assert_int_equal(verify_variant("altertime"), LR_ERR_SIG_VERIFY);

    char key[40];
    make_secret(key, sizeof key);
    char *s = py_usersig(key, "alice", APP, T0, EXPIRE, "ok");
    char other[48];
    snprintf(other, sizeof other, "%sX", key);
    assert_int_equal(verify(other, APP, "alice", s, T0 + 1), LR_ERR_SIG_VERIFY);
    free(s);
}

static void test_usersig_for_another_user_is_rejected(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    char *s = py_usersig(key, "alice", APP, T0, EXPIRE, "ok");
    assert_int_equal(verify(key, APP, "mallory", s, T0 + 1), LR_ERR_SIG_USER);
    assert_int_equal(verify(key, APP, "alic", s, T0 + 1), LR_ERR_SIG_USER);
    assert_int_equal(verify(key, APP, "alice2", s, T0 + 1), LR_ERR_SIG_USER);
    free(s);
}

static void test_usersig_for_another_app_id_is_malformed(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    char *s = py_usersig(key, "alice", APP + 1, T0, EXPIRE, "ok");
    assert_int_equal(verify(key, APP, "alice", s, T0 + 1), LR_ERR_SIG_MALFORMED);
    assert_int_equal(verify(key, APP + 1, "alice", s, T0 + 1), 0);
    free(s);
}

static void test_usersig_checks_run_in_documented_order(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    char *s = py_usersig(key, "alice", APP, T0, EXPIRE, "wrongkey");
    /* Bad MAC wins over wrong user and expiry. */
    assert_int_equal(verify(key, APP, "bob", s, T0 + EXPIRE), LR_ERR_SIG_VERIFY);
    free(s);
    s = py_usersig(key, "alice", APP, T0, EXPIRE, "ok");
    /* Wrong user wins over expiry; wrong app id over everything. */
    assert_int_equal(verify(key, APP, "bob", s, T0 + EXPIRE), LR_ERR_SIG_USER);
    assert_int_equal(verify("other", APP + 1, "bob", s, T0 + EXPIRE), LR_ERR_SIG_MALFORMED);
    free(s);
}

static void test_usersig_undecodable_inputs_are_malformed(void **state)
{
    (void)state;
    static const char *const garbage[] = {"", "!!!!", "A", "AAAAA", "abc$def", "eJw_____", " "};
    for (size_t i = 0; i < LR_ARRAY_LEN(garbage); i++)
        assert_int_equal(verify("k", APP, "alice", garbage[i], T0), LR_ERR_SIG_MALFORMED);
    assert_int_equal(lr_sig_verify(LR_STR_LIT("k"), APP, LR_STR_LIT("a"), (lr_str){NULL, 0}, T0),
                     LR_ERR_SIG_MALFORMED);

    static const char *const variants[] = {
        "badzlib",    "truncated",   "trailing",      "bomb",
        "notjson",    "array",       "badver",        "float",
        "negative",   "dup",         "no:TLS.ver",    "no:TLS.identifier",
        "no:TLS.sig", "no:TLS.time", "no:TLS.expire", "no:TLS.sdkappid",
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(variants); i++) {
        int rc = verify_variant(variants[i]);
        if (rc != LR_ERR_SIG_MALFORMED) fail_msg("variant %s gave %d", variants[i], rc);
    }
}

/* A shard's verifier sees good and bad signatures in any order: a bomb,
 * a truncated stream or a bad MAC must leave nothing behind that changes
 * the next answer. */
static void test_kept_verifier_is_reset_between_signatures(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    static const char *const variants[] = {"", "bomb",    "", "truncated", "", "trailing",
                                           "", "badzlib", "", "dup",       "", "no:TLS.sig"};
    char *sigs[LR_ARRAY_LEN(variants)];
    for (size_t i = 0; i < LR_ARRAY_LEN(variants); i++)
        sigs[i] = py_usersig(key, "alice", APP, T0, EXPIRE, variants[i]);
    char *jwt = py_jwt(key, "alice", T0, T0 + EXPIRE, "");
    lr_sig_ctx *x = lr_sig_ctx_new(lr_str_c(key));
    assert_non_null(x);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < LR_ARRAY_LEN(variants); i++) {
            int want = variants[i][0] ? LR_ERR_SIG_MALFORMED : 0;
            assert_int_equal(
                lr_sig_verify_with(x, APP, LR_STR_LIT("alice"), lr_str_c(sigs[i]), T0 + 10), want);
            assert_int_equal(
                lr_sig_verify_with(x, APP, LR_STR_LIT("bob"), lr_str_c(sigs[i]), T0 + 10),
                want ? want : LR_ERR_SIG_USER);
        }
        assert_int_equal(lr_sig_verify_with(x, APP, LR_STR_LIT("alice"), lr_str_c(jwt), T0 + 10),
                         0);
    }
    /* another secret's signature fails the kept key */
    lr_sig_ctx *y = lr_sig_ctx_new(LR_STR_LIT("another secret"));
    assert_non_null(y);
    assert_int_equal(lr_sig_verify_with(y, APP, LR_STR_LIT("alice"), lr_str_c(sigs[0]), T0 + 10),
                     LR_ERR_SIG_VERIFY);
    lr_sig_ctx_free(y);
    lr_sig_ctx_free(x);
    assert_null(lr_sig_ctx_new(LR_STR_LIT("")));
    lr_sig_ctx_free(NULL);
    for (size_t i = 0; i < LR_ARRAY_LEN(variants); i++)
        free(sigs[i]);
    free(jwt);
}

static void test_usersig_longer_than_max_is_malformed_even_if_valid(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    /* A high-entropy id compresses badly, so the UserSig outgrows LR_MAX_SIG. */
    char user[2800];
    uint64_t seed = lr_clock_us();
    for (size_t i = 0; i < sizeof user - 1; i++)
        user[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[lr_rand_next(&seed) % 36];
    user[sizeof user - 1] = '\0';
    char *s = py_usersig(key, user, APP, T0, EXPIRE, "ok");
    assert_true(strlen(s) > LR_MAX_SIG);
    assert_int_equal(verify(key, APP, user, s, T0 + 1), LR_ERR_SIG_MALFORMED);
    free(s);

    char big[LR_MAX_SIG + 2];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(verify(key, APP, "alice", big, T0), LR_ERR_SIG_MALFORMED);
}

/* ---- UserSig made here, checked by the independent implementation ----- */

static void test_usersig_made_here_verifies_in_python(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    static const char *const users[] = {"alice", "administrator", "q\"uo\\te", "x"};
    for (size_t i = 0; i < LR_ARRAY_LEN(users); i++) {
        char sig[512];
        int n =
            lr_usersig_make(lr_str_c(key), APP, lr_str_c(users[i]), T0, EXPIRE, sig, sizeof sig);
        assert_true(n > 0);
        assert_int_equal((size_t)n, strlen(sig));
        assert_null(strpbrk(sig, "+/=.")); /* Tencent's URL-safe alphabet only */
        char *r = py("check_usersig", key, sig, NULL);
        char want[256];
        snprintf(want, sizeof want, "ok %s %llu %lld %lld int int int", users[i],
                 (unsigned long long)APP, T0, EXPIRE);
        assert_string_equal(r, want);
        free(r);
        assert_int_equal(verify(key, APP, users[i], sig, T0 + 5), 0);
    }
}

static void test_usersig_make_fits_max_user_in_512_and_reports_small_buffers(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    char user[LR_MAX_USER_ID + 1];
    uint64_t seed = lr_clock_us() | 1;
    for (size_t i = 0; i < LR_MAX_USER_ID; i++)
        user[i] = (char)(0x21 + lr_rand_next(&seed) % 94);
    user[LR_MAX_USER_ID] = '\0';
    char sig[512];
    int n = lr_usersig_make(lr_str_c(key), UINT64_MAX / 3, lr_str_c(user), INT32_MAX * 4LL,
                            INT32_MAX * 4LL, sig, sizeof sig);
    assert_true(n > 0 && n < 512);
    assert_int_equal(verify(key, UINT64_MAX / 3, user, sig, INT32_MAX * 4LL), 0);
    char small[16];
    assert_int_equal(
        lr_usersig_make(lr_str_c(key), APP, lr_str_c(user), T0, EXPIRE, small, sizeof small),
        LR_ELIMIT);
    assert_int_equal(
        lr_usersig_make(LR_STR_LIT(""), APP, lr_str_c(user), T0, EXPIRE, sig, sizeof sig),
        LR_EINVAL);
}

/* ---- JWT -------------------------------------------------------------- */

static void test_jwt_from_python_verifies(void **state)
{
    (void)state;
    assert_int_equal(verify_jwt_variant("ok"), 0);
    assert_int_equal(verify_jwt_variant("padded"), 0);
    assert_int_equal(verify_jwt_variant("floatexp"), 0);
}

static void test_jwt_with_alg_other_than_hs256_is_malformed(void **state)
{
    (void)state;
    static const char *const variants[] = {"alg:none",  "alg:none+mac", "alg:HS512",
                                           "alg:hs256", "alg:RS256",    "noalg"};
    for (size_t i = 0; i < LR_ARRAY_LEN(variants); i++) {
        int rc = verify_jwt_variant(variants[i]);
        if (rc != LR_ERR_SIG_MALFORMED) fail_msg("variant %s gave %d", variants[i], rc);
    }
}

static void test_jwt_with_bad_signature_fails_verification(void **state)
{
    (void)state;
    assert_int_equal(verify_jwt_variant("wrongkey"), LR_ERR_SIG_VERIFY);
    assert_int_equal(verify_jwt_variant("tamper"), LR_ERR_SIG_VERIFY);
}

static void test_jwt_expires_at_exp(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    char *s = py_jwt(key, "carol", T0, T0 + 60, "ok");
    assert_int_equal(verify(key, APP, "carol", s, T0 + 59), 0);
    assert_int_equal(verify(key, APP, "carol", s, T0 + 60), LR_ERR_SIG_EXPIRED);
    free(s);
}

static void test_jwt_for_another_sub_is_rejected(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    char *s = py_jwt(key, "carol", T0, T0 + 60, "ok");
    assert_int_equal(verify(key, APP, "dave", s, T0), LR_ERR_SIG_USER);
    /* The app id is not part of a JWT. */
    assert_int_equal(verify(key, APP + 7, "carol", s, T0), 0);
    free(s);
}

static void test_jwt_missing_claims_or_parts_are_malformed(void **state)
{
    (void)state;
    assert_int_equal(verify_jwt_variant("nosub"), LR_ERR_SIG_MALFORMED);
    assert_int_equal(verify_jwt_variant("noexp"), LR_ERR_SIG_MALFORMED);
    static const char *const bad[] = {".",        "..",          "a.b",         "a.b.c.d",
                                      "e30.e30.", "!!.e30.AAAA", "e30.e30.AAAA"};
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++)
        assert_int_equal(verify("k", APP, "alice", bad[i], T0), LR_ERR_SIG_MALFORMED);
}

static void test_jwt_made_here_verifies_in_python(void **state)
{
    (void)state;
    char key[40];
    make_secret(key, sizeof key);
    char tok[512];
    int n = lr_jwt_make(lr_str_c(key), LR_STR_LIT("erin"), T0, 3600, tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(tok));
    char *r = py("check_jwt", key, tok, NULL);
    char want[128];
    snprintf(want, sizeof want, "ok HS256 erin %lld %lld", T0, T0 + 3600);
    assert_string_equal(r, want);
    free(r);
    assert_int_equal(verify(key, APP, "erin", tok, T0 + 3599), 0);
    assert_int_equal(verify(key, APP, "erin", tok, T0 + 3600), LR_ERR_SIG_EXPIRED);
    char small[40];
    assert_int_equal(lr_jwt_make(lr_str_c(key), LR_STR_LIT("erin"), T0, 3600, small, sizeof small),
                     LR_ELIMIT);
}

/* ---- secret file ------------------------------------------------------ */

static char *temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/lr-auth-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *r = strdup(d);
    assert_non_null(r);
    return r;
}

/* Removes a tree this test made (two levels at most). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            if (unlink(sub) != 0) remove_tree(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_secret_is_created_0600_in_a_0700_dir_and_reloaded(void **state)
{
    (void)state;
    char *root = temp_dir();
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/data/nested", root);
    char key[128];
    int n = lr_secret_load_or_create(dir, key, sizeof key);
    assert_int_equal(n, 64);
    for (int i = 0; i < n; i++)
        assert_non_null(strchr("0123456789abcdef", key[i]));

    struct stat st;
    snprintf(path, sizeof path, "%s/secret", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    char again[128];
    assert_int_equal(lr_secret_load_or_create(dir, again, sizeof again), 64);
    assert_string_equal(again, key);

    /* Another directory gets another key. */
    char dir2[600], other[128];
    snprintf(dir2, sizeof dir2, "%s/data2", root);
    assert_int_equal(lr_secret_load_or_create(dir2, other, sizeof other), 64);
    assert_string_not_equal(other, key);

    char tiny[8];
    assert_int_equal(lr_secret_load_or_create(dir, tiny, sizeof tiny), LR_ELIMIT);
    remove_tree(root);
    free(root);
}

static void test_secret_load_strips_trailing_newline_and_refuses_empty(void **state)
{
    (void)state;
    char *root = temp_dir();
    char path[600], key[64];
    snprintf(path, sizeof path, "%s/secret", root);

    write_file(path, "my key\r\n");
    assert_int_equal(lr_secret_load_or_create(root, key, sizeof key), 6);
    assert_string_equal(key, "my key");
    write_file(path, "k2\n\n");
    assert_int_equal(lr_secret_load_or_create(root, key, sizeof key), 2);
    assert_string_equal(key, "k2");
    write_file(path, "no-newline");
    assert_int_equal(lr_secret_load_or_create(root, key, sizeof key), 10);
    assert_string_equal(key, "no-newline");

    write_file(path, "\n");
    assert_int_equal(lr_secret_load_or_create(root, key, sizeof key), LR_EINVAL);
    write_file(path, "");
    assert_int_equal(lr_secret_load_or_create(root, key, sizeof key), LR_EINVAL);
    assert_int_equal(lr_secret_load_or_create("", key, sizeof key), LR_EINVAL);
    remove_tree(root);
    free(root);
}

static void test_secret_concurrent_creators_agree_on_one_key(void **state)
{
    (void)state;
    enum { KIDS = 6 };
    char *root = temp_dir();
    char dir[600];
    snprintf(dir, sizeof dir, "%s/fresh", root);
    int fds[KIDS];
    pid_t pids[KIDS];
    for (int i = 0; i < KIDS; i++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(p[0]);
            char key[128];
            int n = lr_secret_load_or_create(dir, key, sizeof key);
            if (n != 64 || write(p[1], key, 64) != 64) _exit(1);
            _exit(0);
        }
        close(p[1]);
        fds[i] = p[0];
    }
    char first[65] = {0};
    for (int i = 0; i < KIDS; i++) {
        char key[65] = {0};
        ssize_t got = 0;
        while (got < 64) {
            ssize_t r = read(fds[i], key + got, (size_t)(64 - got));
            if (r <= 0) break;
            got += r;
        }
        close(fds[i]);
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(got, 64);
        if (i == 0) memcpy(first, key, sizeof first);
        assert_string_equal(key, first);
    }
    /* No temporary file is left behind. */
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))) {
            assert_string_equal(e->d_name, "secret");
            files++;
        }
    closedir(d);
    assert_int_equal(files, 1);
    remove_tree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usersig_from_python_verifies),
        cmocka_unit_test(test_usersig_accepts_numeric_fields_written_as_strings),
        cmocka_unit_test(test_usersig_accepts_standard_base64_and_missing_padding),
        cmocka_unit_test(test_usersig_userbuf_is_covered_by_the_mac),
        cmocka_unit_test(test_usersig_expires_at_time_plus_expire),
        cmocka_unit_test(test_usersig_tampered_mac_fails_verification),
        cmocka_unit_test(test_usersig_for_another_user_is_rejected),
        cmocka_unit_test(test_usersig_for_another_app_id_is_malformed),
        cmocka_unit_test(test_usersig_checks_run_in_documented_order),
        cmocka_unit_test(test_usersig_undecodable_inputs_are_malformed),
        cmocka_unit_test(test_kept_verifier_is_reset_between_signatures),
        cmocka_unit_test(test_usersig_longer_than_max_is_malformed_even_if_valid),
        cmocka_unit_test(test_usersig_made_here_verifies_in_python),
        cmocka_unit_test(test_usersig_make_fits_max_user_in_512_and_reports_small_buffers),
        cmocka_unit_test(test_jwt_from_python_verifies),
        cmocka_unit_test(test_jwt_with_alg_other_than_hs256_is_malformed),
        cmocka_unit_test(test_jwt_with_bad_signature_fails_verification),
        cmocka_unit_test(test_jwt_expires_at_exp),
        cmocka_unit_test(test_jwt_for_another_sub_is_rejected),
        cmocka_unit_test(test_jwt_missing_claims_or_parts_are_malformed),
        cmocka_unit_test(test_jwt_made_here_verifies_in_python),
        cmocka_unit_test(test_secret_is_created_0600_in_a_0700_dir_and_reloaded),
        cmocka_unit_test(test_secret_load_strips_trailing_newline_and_refuses_empty),
        cmocka_unit_test(test_secret_concurrent_creators_agree_on_one_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
