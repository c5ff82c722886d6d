/*
 * sig.h: user authentication. UserSig in the TLSSigAPIv2 format (zlib +
 * HMAC-SHA256 + Tencent's URL-safe base64) and JWT HS256, both signed with
 * the engine's one secret (ADMIN_API.md §4). Verification compares MACs in
 * constant time and never allocates more than the input bounds allow.
 */
#ifndef LR_AUTH_SIG_H
#define LR_AUTH_SIG_H

#include "core/common.h"

/*
 * Verify `sig` (a UserSig, or a JWT when it has the form xxx.yyy.zzz) for
 * `user` and app id `app_id` at wall time `now_s` (unix seconds).
 * Returns 0, or a protocol error code:
 *   LR_ERR_SIG_MALFORMED (70003) undecodable, wrong version, missing fields,
 *                                 wrong sdkappid, or longer than LR_MAX_SIG
 *   LR_ERR_SIG_VERIFY    (70009) the MAC does not match
 *   LR_ERR_SIG_USER      (70013) signed for another user (identifier / sub)
 *   LR_ERR_SIG_EXPIRED   (70001) now >= time + expire (JWT: now >= exp)
 * The order of checks is: malformed, verify, user, expired.
 */
int lr_sig_verify(lr_str secret, uint64_t app_id, lr_str user, lr_str sig, int64_t now_s);

/*
 * A verifier for one secret that keeps its HMAC key schedule and its
 * inflate state from one call to the next: for a thread that checks many
 * logins (a shard, the admin loop). Same results as lr_sig_verify, about
 * 40 % less CPU per UserSig. One thread at a time; NULL on ENOMEM or an
 * empty secret.
 */
typedef struct lr_sig_ctx lr_sig_ctx;
lr_sig_ctx *lr_sig_ctx_new(lr_str secret);
void lr_sig_ctx_free(lr_sig_ctx *x);
int lr_sig_verify_with(lr_sig_ctx *x, uint64_t app_id, lr_str user, lr_str sig, int64_t now_s);

/* Make a UserSig valid from now_s for expire_s seconds. Returns its length,
 * or LR_ELIMIT when out[0..cap) is too small (512 bytes always suffice for
 * ids within LR_MAX_USER_ID). The result is NUL-terminated. */
int lr_usersig_make(lr_str secret, uint64_t app_id, lr_str user, int64_t now_s, int64_t expire_s,
                    char *out, size_t cap);

/* Make a JWT HS256 {"sub":user,"iat":now,"exp":now+expire}. Same return. */
int lr_jwt_make(lr_str secret, lr_str user, int64_t now_s, int64_t expire_s, char *out, size_t cap);

/*
 * Load the secret from <dir>/secret (trailing newline stripped), creating
 * the directory and a random 32-byte hex key (file mode 0600) when absent.
 * Returns the key length or a negative LR_E… code; the key is
 * NUL-terminated in out.
 */
int lr_secret_load_or_create(const char *dir, char *out, size_t cap);

#endif
