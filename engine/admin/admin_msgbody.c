/*
 * admin_msgbody.c owns the translation of a Tencent MsgBody (the element
 * array of send_group_msg, send_broadcast_msg and a before-send callback's
 * reply) into the one body a client-protocol `msg` carries. It never
 * does I/O and never keeps what it was given: the result is a fresh string.
 *
 * Why this mapping: a room full of web clients mostly shows plain text, so
 * the common case of one TIMTextElem becomes a `text` message whose body is
 * exactly what the client's own `send` would have carried. Everything else
 * (several elements, custom elements, CloudCustomData) cannot be flattened
 * without loss, so it travels as a `custom` message whose body is the
 * Tencent shape itself, which a client ported from Tencent's SDK already
 * knows how to render. Each MsgContent is rebuilt from its known fields in
 * a fixed order, so the same request always yields the same bytes (the
 * body is encoded once and shared by every recipient, and history replays
 * must match live delivery).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "admin/admin_cmd.h"

static int fail(char *errinfo, size_t cap, int code, const char *fmt, ...)
{
    if (cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errinfo, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const char *const custom_fields[] = {"Data", "Desc", "Ext"};

/* Copy the known string fields of one element's MsgContent into dst. */
static int copy_content(const json_t *content, const char *const *fields, size_t nfields,
                        bool first_required, json_t *dst, size_t idx, char *errinfo, size_t cap)
{
    for (size_t f = 0; f < nfields; f++) {
        const json_t *v = json_object_get(content, fields[f]);
        if (!v) {
            if (f == 0 && first_required)
                return fail(errinfo, cap, LR_ERR_INVALID_PARAM,
                            "MsgBody[%zu].MsgContent.%s: missing", idx, fields[f]);
            continue;
        }
        if (!json_is_string(v))
            return fail(errinfo, cap, LR_ERR_INVALID_PARAM,
                        "MsgBody[%zu].MsgContent.%s: must be a string", idx, fields[f]);
        json_t *copy = json_stringn_nocheck(json_string_value(v), json_string_length(v));
        if (!copy || json_object_set_new_nocheck(dst, fields[f], copy) != 0)
            return fail(errinfo, cap, LR_ERR_INTERNAL, "out of memory");
    }
    return 0;
}

int lr_admin_msg_convert(const json_t *msg_body, lr_str cloud_custom_data, lr_msg_type *type,
                         char **body, size_t *len, char *errinfo, size_t cap)
{
    *body = NULL;
    *len = 0;
    if (cap > 0) errinfo[0] = '\0';
    if (!msg_body) return fail(errinfo, cap, LR_ERR_INVALID_PARAM, "MsgBody: missing");
    if (!json_is_array(msg_body))
        return fail(errinfo, cap, LR_ERR_INVALID_PARAM, "MsgBody: must be an array");
    size_t n = json_array_size(msg_body);
    if (n == 0) return fail(errinfo, cap, LR_ERR_INVALID_PARAM, "MsgBody: must not be empty");

    int rc = 0;
    json_t *elems = json_array();
    if (!elems) return fail(errinfo, cap, LR_ERR_INTERNAL, "out of memory");
    bool single_text = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *el = json_array_get(msg_body, i);
        if (!json_is_object(el)) {
            rc = fail(errinfo, cap, LR_ERR_INVALID_PARAM, "MsgBody[%zu]: must be an object", i);
            goto out;
        }
        const json_t *mt = json_object_get(el, "MsgType");
        const json_t *mc = json_object_get(el, "MsgContent");
        if (!json_is_string(mt)) {
            rc = fail(errinfo, cap, LR_ERR_INVALID_PARAM,
                      "MsgBody[%zu].MsgType: missing or not a string", i);
            goto out;
        }
        if (!json_is_object(mc)) {
            rc = fail(errinfo, cap, LR_ERR_INVALID_PARAM,
                      "MsgBody[%zu].MsgContent: missing or not an object", i);
            goto out;
        }
        static const char *const text_fields[] = {"Text"};
        lr_str t = {json_string_value(mt), json_string_length(mt)};
        const char *const *fields;
        size_t nfields;
        bool is_text = lr_str_eq_c(t, "TIMTextElem");
        if (is_text) {
            fields = text_fields;
            nfields = LR_ARRAY_LEN(text_fields);
        } else if (lr_str_eq_c(t, "TIMCustomElem")) {
            fields = custom_fields;
            nfields = LR_ARRAY_LEN(custom_fields);
        } else {
            rc = fail(errinfo, cap, LR_ERR_INVALID_PARAM,
                      "MsgBody[%zu].MsgType: unsupported (TIMTextElem or TIMCustomElem)", i);
            goto out;
        }
        json_t *content = json_object();
        json_t *norm = json_object();
        if (!content || !norm ||
            json_object_set_new_nocheck(
                norm, "MsgType", json_string(is_text ? "TIMTextElem" : "TIMCustomElem")) != 0 ||
            json_object_set_nocheck(norm, "MsgContent", content) != 0 ||
            json_array_append(elems, norm) != 0) {
            json_decref(content);
            json_decref(norm);
            rc = fail(errinfo, cap, LR_ERR_INTERNAL, "out of memory");
            goto out;
        }
        rc = copy_content(mc, fields, nfields, is_text, content, i, errinfo, cap);
        json_decref(content);
        json_decref(norm);
        if (rc != 0) goto out;
        single_text = n == 1 && is_text;
    }

    if (single_text && cloud_custom_data.len == 0) {
        const json_t *text =
            json_object_get(json_object_get(json_array_get(elems, 0), "MsgContent"), "Text");
        size_t tl = json_string_length(text);
        char *s = malloc(tl + 1);
        if (!s) {
            rc = fail(errinfo, cap, LR_ERR_INTERNAL, "out of memory");
            goto out;
        }
        memcpy(s, json_string_value(text), tl);
        s[tl] = '\0';
        *type = LR_TYPE_TEXT;
        *body = s;
        *len = tl;
        goto out;
    }

    json_t *obj = json_object();
    if (!obj || json_object_set_nocheck(obj, "MsgBody", elems) != 0) {
        json_decref(obj);
        rc = fail(errinfo, cap, LR_ERR_INTERNAL, "out of memory");
        goto out;
    }
    if (cloud_custom_data.p) {
        /* Checked: the caller's bytes may come from anywhere. */
        json_t *ccd = json_stringn(cloud_custom_data.p, cloud_custom_data.len);
        if (!ccd) {
            json_decref(obj);
            rc = fail(errinfo, cap, LR_ERR_INVALID_PARAM, "CloudCustomData: not UTF-8 text");
            goto out;
        }
        if (json_object_set_new_nocheck(obj, "CloudCustomData", ccd) != 0) {
            json_decref(obj);
            rc = fail(errinfo, cap, LR_ERR_INTERNAL, "out of memory");
            goto out;
        }
    }
    /* Objects keep insertion order in jansson >= 2.8, so this is stable. */
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!s) {
        rc = fail(errinfo, cap, LR_ERR_INTERNAL, "out of memory");
        goto out;
    }
    *type = LR_TYPE_CUSTOM;
    *body = s;
    *len = strlen(s);
out:
    json_decref(elems);
    return rc;
}
