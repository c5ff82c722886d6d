/*
 * admin_auth.c owns the credential check of an admin REST request: the
 * sdkappid / identifier / usersig triple of its query string (ADMIN_API.md
 * §1). It never does I/O and never allocates; every value is decoded into a
 * bounded stack buffer, so an oversized query costs nothing but a refusal.
 *
 * Which code for which failure. The page names 10008 for absent
 * credentials and 70001/70003/70009/70013 for "anything else", and says the
 * sdkappid "must match" without a code of its own. A signature is bound to
 * an app: lr_sig_verify already calls a UserSig for another app malformed
 * (70003), so a request that names another app is refused the same way,
 * rather than with 10004, which Tencent uses for bad body fields. An
 * identifier that is not an app admin is 70013 ("the signature's user may
 * not act here"): it is refused before its signature is checked, so the
 * endpoint does not tell an outsider whether a guessed UserSig is valid.
 */

#include "admin/admin_cmd.h"
#include "auth/sig.h"
#include "net/http.h"

/* Longest decimal uint64. */
#define APPID_DIGITS 20

void lr_admin_auth_cfg_init(lr_admin_auth_cfg *cfg, lr_str secret, uint64_t app_id)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->secret = secret;
    cfg->app_id = app_id;
    cfg->nadmins = 1;
    cfg->admins[0] = LR_STR_LIT(LR_ADMIN_DEFAULT_ADMIN);
}

bool lr_admin_is_admin(const lr_admin_auth_cfg *cfg, lr_str user)
{
    if (cfg->nadmins == 0) return lr_str_eq_c(user, LR_ADMIN_DEFAULT_ADMIN);
    size_t n = cfg->nadmins < LR_ADMIN_MAX_ADMINS ? cfg->nadmins : LR_ADMIN_MAX_ADMINS;
    for (size_t i = 0; i < n; i++)
        if (lr_str_eq(cfg->admins[i], user)) return true;
    return false;
}

/* Strict decimal, no sign, no overflow. */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int lr_admin_auth(const lr_str query, const lr_admin_auth_cfg *cfg, int64_t now_s, char *who,
                  size_t whocap)
{
    char app[APPID_DIGITS + 2];
    char id[LR_MAX_USER_ID + 2];
    char sig[LR_MAX_SIG + 2];
    int applen = lr_http_query_get(query, "sdkappid", app, sizeof(app));
    int idlen = lr_http_query_get(query, "identifier", id, sizeof(id));
    int siglen = lr_http_query_get(query, "usersig", sig, sizeof(sig));

    /* Absent and empty are the same to a caller that forgot a parameter. */
    if (applen == -1 || applen == 0 || idlen == -1 || idlen == 0 || siglen == -1 || siglen == 0)
        return LR_ERR_ADMIN_MISSING;

    uint64_t app_id;
    if (applen < 0 || !parse_u64(app, (size_t)applen, &app_id) || app_id != cfg->app_id)
        return LR_ERR_SIG_MALFORMED;
    /* An undecodable or over-long identifier cannot name an admin. */
    if (idlen < 0 || !lr_admin_is_admin(cfg, (lr_str){id, (size_t)idlen})) return LR_ERR_SIG_USER;
    if (siglen < 0) return LR_ERR_SIG_MALFORMED;

    lr_str user = {id, (size_t)idlen}, us = {sig, (size_t)siglen};
    int rc = cfg->sig ? lr_sig_verify_with(cfg->sig, cfg->app_id, user, us, now_s)
                      : lr_sig_verify(cfg->secret, cfg->app_id, user, us, now_s);
    if (rc != 0) return rc;

    if (who) {
        if ((size_t)idlen >= whocap) return LR_ERR_INTERNAL;
        memcpy(who, id, (size_t)idlen);
        who[idlen] = '\0';
    }
    return 0;
}
