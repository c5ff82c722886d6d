/*
 * admin_reply.c owns the bytes of every admin-port HTTP response: the
 * Tencent-style JSON envelope of /v4 replies and the plain responses of
 * /metrics, /healthz, /readyz and the error statuses. It never does I/O and
 * never leaves a half-written response in the caller's buffer: the whole
 * response is sized first and appended in one reservation, so a failure
 * leaves the buffer as it was and the server can fall back to closing.
 *
 * /v4 replies are always HTTP 200, whatever the ErrorCode, because
 * Tencent's REST clients look only at the JSON (ADMIN_API.md §1).
 */
#include <stdio.h>
#include <stdlib.h>

#include "admin/admin_cmd.h"
#include "net/http.h"

/* Status line and our headers; never near this size. */
#define HEAD_MAX 512

static const char oom_body[] =
    "{\"ActionStatus\":\"FAIL\",\"ErrorCode\":10002,\"ErrorInfo\":\"out of memory\"}";

static int append_response(lr_buf *out, int status, const char *content_type, const char *allow,
                           const void *body, size_t len, bool keep_alive)
{
    char head[HEAD_MAX];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s%s%s"
                     "Connection: %s\r\n"
                     "\r\n",
                     status, lr_http_reason(status), content_type, len, allow ? "Allow: " : "",
                     allow ? allow : "", allow ? "\r\n" : "", keep_alive ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof(head)) return LR_EINVAL;
    if (lr_buf_reserve(out, (size_t)n + len) != 0) return LR_ENOMEM;
    /* Cannot fail after the reservation. */
    lr_buf_append(out, head, (size_t)n);
    if (len > 0) lr_buf_append(out, body, len);
    return 0;
}

int lr_admin_http_response(lr_buf *out, int status, const char *content_type, const void *body,
                           size_t len, bool keep_alive)
{
    return append_response(out, status, content_type, NULL, body, len, keep_alive);
}

int lr_admin_http_error(lr_buf *out, int status, const char *allow, bool keep_alive)
{
    char body[96];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, lr_http_reason(status));
    if (n < 0 || (size_t)n >= sizeof(body)) return LR_EINVAL;
    return append_response(out, status, "text/plain; charset=utf-8", allow, body, (size_t)n,
                           keep_alive);
}

/* ErrorInfo as a JSON string even when the caller's text is not UTF-8. */
static json_t *info_string(const char *info)
{
    if (!info) info = "";
    json_t *s = json_string(info);
    if (s) return s;
    size_t n = strlen(info);
    char *copy = malloc(n + 1);
    if (!copy) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)info[i];
        copy[i] = c < 0x80 ? (char)c : '?';
    }
    copy[n] = '\0';
    s = json_string(copy);
    free(copy);
    return s;
}

static char *reply_body(int error_code, const char *error_info, json_t *extra)
{
    json_t *o = json_object();
    if (!o) return NULL;
    char *text = NULL;
    if (json_object_set_new_nocheck(o, "ActionStatus", json_string(error_code ? "FAIL" : "OK")) !=
            0 ||
        json_object_set_new_nocheck(o, "ErrorCode", json_integer(error_code)) != 0 ||
        json_object_set_new_nocheck(o, "ErrorInfo", info_string(error_info)) != 0)
        goto out;
    if (json_is_object(extra)) {
        const char *key;
        json_t *v;
        json_object_foreach(extra, key, v)
        {
            if (json_object_get(o, key)) continue;
            if (json_object_set_nocheck(o, key, v) != 0) goto out;
        }
    }
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(o);
    return text;
}

int lr_admin_reply(lr_buf *out, int error_code, const char *error_info, json_t *extra_fields,
                   bool keep_alive)
{
    static const char ctype[] = "application/json; charset=utf-8";
    char *text = reply_body(error_code, error_info, extra_fields);
    json_decref(extra_fields);
    if (!text)
        return append_response(out, 200, ctype, NULL, oom_body, sizeof(oom_body) - 1, keep_alive);
    int rc = append_response(out, 200, ctype, NULL, text, strlen(text), keep_alive);
    free(text);
    return rc;
}
