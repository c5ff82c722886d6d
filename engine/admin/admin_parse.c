/*
 * admin_parse.c owns the validation of admin REST request bodies: it maps
 * /v4/<service>/<command> to one lr_admin_op and checks every field the
 * command reads against Tencent's names, types and limits (ADMIN_API.md
 * §2), so the code that executes a command never sees a value it would
 * have to doubt. It never does I/O, never looks at engine state (whether a
 * room exists is the executor's 10010), and never copies strings: they stay
 * in the parsed jansson tree the command holds.
 *
 * Strictness: numbers must be JSON integers (Tencent's SDKs send them so),
 * booleans JSON booleans, enumerations exactly as Tencent spells them.
 * Duplicate keys are malformed (10011) because either reading of them
 * would surprise someone. Unknown keys are ignored, so requests written for
 * Tencent's fuller API (ApplyJoinOption, ResponseFilter, ...) still work.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "admin/admin_cmd.h"

typedef struct pctx {
    const json_t *obj;
    lr_admin_cmd *cmd;
    char *err;
    size_t cap;
} pctx;

static int fail(pctx *c, int code, const char *fmt, ...)
{
    if (c->cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- field readers: each returns 0 or an ErrorCode ---------------------- */

static int get_str(pctx *c, const char *key, bool required, size_t maxlen, bool nonempty,
                   lr_str *out)
{
    *out = (lr_str){NULL, 0};
    const json_t *v = json_object_get(c->obj, key);
    if (!v) return required ? fail(c, LR_ERR_INVALID_PARAM, "%s: missing", key) : 0;
    if (!json_is_string(v)) return fail(c, LR_ERR_INVALID_PARAM, "%s: must be a string", key);
    size_t len = json_string_length(v);
    if (len > maxlen)
        return fail(c, LR_ERR_INVALID_PARAM, "%s: longer than %zu bytes", key, maxlen);
    if (nonempty && len == 0) return fail(c, LR_ERR_INVALID_PARAM, "%s: must not be empty", key);
    *out = (lr_str){json_string_value(v), len};
    return 0;
}

static int get_user(pctx *c, const char *key, bool required, lr_str *out)
{
    int rc = get_str(c, key, required, SIZE_MAX, false, out);
    if (rc != 0 || !out->p) return rc;
    if (!lr_id_valid(*out, LR_MAX_USER_ID))
        return fail(c, LR_ERR_INVALID_PARAM, "%s: not a user id (1..%d printable ASCII)", key,
                    LR_MAX_USER_ID);
    return 0;
}

static int check_group(pctx *c, const char *what, lr_str id)
{
    if (!lr_id_valid(id, LR_MAX_ROOM_ID))
        return fail(c, LR_ERR_BAD_ROOM_ID, "%s: invalid group id (1..%d printable ASCII)", what,
                    LR_MAX_ROOM_ID);
    return 0;
}

static int get_group(pctx *c, bool required)
{
    lr_str *out = &c->cmd->group_id;
    int rc = get_str(c, "GroupId", required, SIZE_MAX, false, out);
    if (rc != 0 || !out->p) return rc;
    return check_group(c, "GroupId", *out);
}

/* An integer in [min, max]; *out is untouched when absent and optional. */
static int get_int(pctx *c, const char *key, bool required, int64_t min, int64_t max, int64_t *out,
                   bool *present)
{
    const json_t *v = json_object_get(c->obj, key);
    if (present) *present = v != NULL;
    if (!v) return required ? fail(c, LR_ERR_INVALID_PARAM, "%s: missing", key) : 0;
    if (!json_is_integer(v)) return fail(c, LR_ERR_INVALID_PARAM, "%s: must be an integer", key);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return fail(c, LR_ERR_INVALID_PARAM, "%s: must be within %lld..%lld", key, (long long)min,
                    (long long)max);
    *out = i;
    return 0;
}

static int get_u32(pctx *c, const char *key, bool required, uint32_t min, uint32_t max,
                   uint32_t *out)
{
    int64_t v = 0;
    bool present = false;
    int rc = get_int(c, key, required, min, max, &v, &present);
    if (rc == 0 && present) *out = (uint32_t)v;
    return rc;
}

/* Optional boolean: 1, 0, or -1 when absent. */
static int get_bool(pctx *c, const char *key, int *out)
{
    *out = -1;
    const json_t *v = json_object_get(c->obj, key);
    if (!v) return 0;
    if (!json_is_boolean(v)) return fail(c, LR_ERR_INVALID_PARAM, "%s: must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

/* One of names[], returned as its index; -1 when absent and optional. */
static int get_enum(pctx *c, const char *key, bool required, const char *const *names,
                    size_t nnames, int *out)
{
    lr_str s;
    *out = -1;
    int rc = get_str(c, key, required, SIZE_MAX, false, &s);
    if (rc != 0 || !s.p) return rc;
    for (size_t i = 0; i < nnames; i++) {
        if (lr_str_eq_c(s, names[i])) {
            *out = (int)i;
            return 0;
        }
    }
    char allowed[128];
    size_t off = 0;
    allowed[0] = '\0';
    for (size_t i = 0; i < nnames && off < sizeof(allowed); i++)
        off += (size_t)snprintf(allowed + off, sizeof(allowed) - off, "%s\"%s\"", i ? ", " : "",
                                names[i]);
    return fail(c, LR_ERR_INVALID_PARAM, "%s: must be one of %s", key, allowed);
}

/* A non-empty array of at most max ids, user ids or group ids. */
static int get_list(pctx *c, const char *key, size_t max, bool groups, lr_admin_list *out)
{
    const json_t *v = json_object_get(c->obj, key);
    if (!v) return fail(c, LR_ERR_INVALID_PARAM, "%s: missing", key);
    if (!json_is_array(v)) return fail(c, LR_ERR_INVALID_PARAM, "%s: must be an array", key);
    size_t n = json_array_size(v);
    if (n == 0) return fail(c, LR_ERR_INVALID_PARAM, "%s: must not be empty", key);
    if (n > max) return fail(c, LR_ERR_INVALID_PARAM, "%s: more than %zu entries", key, max);
    lr_str *items = calloc(n, sizeof(*items));
    if (!items) return fail(c, LR_ERR_INTERNAL, "out of memory");
    /* Owned before validation so every exit path frees it. */
    c->cmd->owned = items;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return fail(c, LR_ERR_INVALID_PARAM, "%s[%zu]: must be a string", key, i);
        items[i] = (lr_str){json_string_value(e), json_string_length(e)};
        if (groups && !lr_id_valid(items[i], LR_MAX_ROOM_ID))
            return fail(c, LR_ERR_BAD_ROOM_ID, "%s[%zu]: invalid group id (1..%d printable ASCII)",
                        key, i, LR_MAX_ROOM_ID);
        if (!groups && !lr_id_valid(items[i], LR_MAX_USER_ID))
            return fail(c, LR_ERR_INVALID_PARAM, "%s[%zu]: not a user id (1..%d printable ASCII)",
                        key, i, LR_MAX_USER_ID);
    }
    *out = (lr_admin_list){items, n};
    return 0;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != 0) return rc_;                                                                  \
    } while (0)

/* ---- one parser per command -------------------------------------------- */

static const char *const on_off[] = {"Off", "On"};

static int p_create_group(pctx *c)
{
    static const char *const types[] = {"AVChatRoom"};
    int t;
    TRY(get_enum(c, "Type", true, types, LR_ARRAY_LEN(types), &t));
    TRY(get_group(c, false));
    TRY(get_str(c, "Name", false, LR_ADMIN_MAX_NAME, true, &c->cmd->u.create.name));
    TRY(get_user(c, "Owner_Account", false, &c->cmd->u.create.owner));
    TRY(get_str(c, "Introduction", false, LR_ADMIN_MAX_INTRODUCTION, false,
                &c->cmd->u.create.introduction));
    TRY(get_str(c, "Notification", false, LR_ADMIN_MAX_NOTIFICATION, false,
                &c->cmd->u.create.notification));
    TRY(get_str(c, "FaceUrl", false, LR_ADMIN_MAX_FACE_URL, false, &c->cmd->u.create.face_url));
    return 0;
}

static int p_group_only(pctx *c)
{
    return get_group(c, true);
}

static int p_get_group_info(pctx *c)
{
    return get_list(c, "GroupIdList", LR_ADMIN_MAX_GROUP_IDS, true, &c->cmd->u.info.ids);
}

static int p_modify_group_base_info(pctx *c)
{
    TRY(get_group(c, true));
    TRY(get_str(c, "Name", false, LR_ADMIN_MAX_NAME, true, &c->cmd->u.modify.name));
    TRY(get_str(c, "Introduction", false, LR_ADMIN_MAX_INTRODUCTION, false,
                &c->cmd->u.modify.introduction));
    TRY(get_str(c, "Notification", false, LR_ADMIN_MAX_NOTIFICATION, false,
                &c->cmd->u.modify.notification));
    TRY(get_str(c, "FaceUrl", false, LR_ADMIN_MAX_FACE_URL, false, &c->cmd->u.modify.face_url));
    TRY(get_enum(c, "MuteAllMember", false, on_off, LR_ARRAY_LEN(on_off),
                 &c->cmd->u.modify.mute_all));
    return 0;
}

/* Shared by send_group_msg and send_broadcast_msg. */
static int parse_msg(pctx *c, bool with_priority)
{
    static const char *const pris[] = {[LR_PRI_HIGH] = "High",
                                       [LR_PRI_NORMAL] = "Normal",
                                       [LR_PRI_LOW] = "Low",
                                       [LR_PRI_LOWEST] = "Lowest"};
    lr_admin_msg *m = &c->cmd->u.msg;
    m->pri = LR_PRI_HIGH;
    TRY(get_u32(c, "Random", true, 0, UINT32_MAX, &m->random));
    TRY(get_user(c, "From_Account", false, &m->from));
    if (with_priority) {
        int pri;
        TRY(get_enum(c, "MsgPriority", false, pris, LR_ARRAY_LEN(pris), &pri));
        if (pri >= 0) m->pri = (lr_pri)pri;
    }
    TRY(get_str(c, "CloudCustomData", false, SIZE_MAX, false, &m->cloud_custom_data));
    m->msg_body = json_object_get(c->obj, "MsgBody");
    size_t len;
    TRY(lr_admin_msg_convert(m->msg_body, m->cloud_custom_data, &m->type, &c->cmd->owned_body, &len,
                             c->err, c->cap));
    m->body = (lr_str){c->cmd->owned_body, len};
    return 0;
}

static int p_send_group_msg(pctx *c)
{
    TRY(get_group(c, true));
    return parse_msg(c, true);
}

static int p_send_broadcast_msg(pctx *c)
{
    return parse_msg(c, false);
}

static int p_send_group_system_notification(pctx *c)
{
    TRY(get_group(c, true));
    return get_str(c, "Content", true, LR_ADMIN_MAX_NOTICE, true, &c->cmd->u.notice.content);
}

static int p_forbid_send_msg(pctx *c)
{
    TRY(get_group(c, true));
    TRY(get_list(c, "Members_Account", LR_ADMIN_MAX_MUTE_ACCOUNTS, false, &c->cmd->u.forbid.users));
    return get_u32(c, "MuteTime", true, 0, UINT32_MAX, &c->cmd->u.forbid.mute_time);
}

static int p_ban_group_member(pctx *c)
{
    TRY(get_group(c, true));
    TRY(get_list(c, "Members_Account", LR_ADMIN_MAX_BAN_ACCOUNTS, false, &c->cmd->u.ban.users));
    TRY(get_u32(c, "Duration", true, 0, UINT32_MAX, &c->cmd->u.ban.duration));
    return get_str(c, "Description", false, LR_ADMIN_MAX_DESCRIPTION, false,
                   &c->cmd->u.ban.description);
}

static int p_unban_group_member(pctx *c)
{
    TRY(get_group(c, true));
    return get_list(c, "Members_Account", LR_ADMIN_MAX_BAN_ACCOUNTS, false, &c->cmd->u.unban.users);
}

static int p_get_group_ban_member(pctx *c)
{
    c->cmd->u.ban_list.offset = 0;
    c->cmd->u.ban_list.limit = LR_ADMIN_DEFAULT_BAN_LIMIT;
    TRY(get_group(c, true));
    TRY(get_u32(c, "Offset", false, 0, UINT32_MAX, &c->cmd->u.ban_list.offset));
    return get_u32(c, "Limit", false, 1, LR_ADMIN_MAX_BAN_LIMIT, &c->cmd->u.ban_list.limit);
}

static int p_delete_group_member(pctx *c)
{
    TRY(get_group(c, true));
    TRY(get_list(c, "MemberToDel_Account", LR_ADMIN_MAX_DEL_ACCOUNTS, false, &c->cmd->u.del.users));
    return get_str(c, "Reason", false, LR_ADMIN_MAX_REASON, false, &c->cmd->u.del.reason);
}

static int p_modify_group_member_info(pctx *c)
{
    static const char *const roles[] = {"Member", "Admin"};
    int role;
    TRY(get_group(c, true));
    TRY(get_user(c, "Member_Account", true, &c->cmd->u.role.user));
    TRY(get_enum(c, "Role", true, roles, LR_ARRAY_LEN(roles), &role));
    c->cmd->u.role.admin = role == 1;
    return 0;
}

static int p_get_members(pctx *c)
{
    c->cmd->u.members.limit = LR_ADMIN_DEFAULT_MEMBERS_LIMIT;
    TRY(get_group(c, true));
    return get_u32(c, "Limit", false, 1, LR_ADMIN_MAX_MEMBERS_LIMIT, &c->cmd->u.members.limit);
}

static int p_account_import(pctx *c)
{
    TRY(get_user(c, "UserID", true, &c->cmd->u.account.user));
    TRY(get_str(c, "Nick", false, LR_MAX_NICK, false, &c->cmd->u.account.nick));
    /* The avatar a push carries, so the client protocol's limit applies. */
    return get_str(c, "FaceUrl", false, LR_MAX_AVATAR, false, &c->cmd->u.account.face_url);
}

static int p_kick(pctx *c)
{
    return get_user(c, "UserID", true, &c->cmd->u.kick.user);
}

static int p_set_room_config(pctx *c)
{
    int64_t v = 0;
    bool present = false;
    c->cmd->u.config.rate = -1;
    c->cmd->u.config.history = -1;
    TRY(get_group(c, true));
    TRY(get_int(c, "Rate", false, LR_ADMIN_MIN_RATE, LR_ADMIN_MAX_RATE, &v, &present));
    if (present) c->cmd->u.config.rate = (int32_t)v;
    TRY(get_int(c, "History", false, 0, LR_MAX_HISTORY, &v, &present));
    if (present) c->cmd->u.config.history = (int32_t)v;
    TRY(get_bool(c, "AllowGuests", &c->cmd->u.config.allow_guests));
    TRY(get_bool(c, "MemberEvents", &c->cmd->u.config.member_events));
    return get_bool(c, "ReportLimited", &c->cmd->u.config.report_limited);
}

/* ---- the command table ------------------------------------------------- */

#define SVC_GROUP "group_open_http_svc"

static const struct {
    const char *service;
    const char *command;
    int (*parse)(pctx *c);
} cmds[LR_ADMIN_OP_COUNT] = {
    [LR_ADMIN_CREATE_GROUP] = {SVC_GROUP, "create_group", p_create_group},
    [LR_ADMIN_DESTROY_GROUP] = {SVC_GROUP, "destroy_group", p_group_only},
    [LR_ADMIN_GET_GROUP_INFO] = {SVC_GROUP, "get_group_info", p_get_group_info},
    [LR_ADMIN_MODIFY_GROUP_BASE_INFO] = {SVC_GROUP, "modify_group_base_info",
                                         p_modify_group_base_info},
    [LR_ADMIN_SEND_GROUP_MSG] = {SVC_GROUP, "send_group_msg", p_send_group_msg},
    [LR_ADMIN_SEND_GROUP_SYSTEM_NOTIFICATION] = {SVC_GROUP, "send_group_system_notification",
                                                 p_send_group_system_notification},
    [LR_ADMIN_SEND_BROADCAST_MSG] = {SVC_GROUP, "send_broadcast_msg", p_send_broadcast_msg},
    [LR_ADMIN_FORBID_SEND_MSG] = {SVC_GROUP, "forbid_send_msg", p_forbid_send_msg},
    [LR_ADMIN_GET_GROUP_MUTED_ACCOUNT] = {SVC_GROUP, "get_group_muted_account", p_group_only},
    [LR_ADMIN_BAN_GROUP_MEMBER] = {SVC_GROUP, "ban_group_member", p_ban_group_member},
    [LR_ADMIN_UNBAN_GROUP_MEMBER] = {SVC_GROUP, "unban_group_member", p_unban_group_member},
    [LR_ADMIN_GET_GROUP_BAN_MEMBER] = {SVC_GROUP, "get_group_ban_member", p_get_group_ban_member},
    [LR_ADMIN_DELETE_GROUP_MEMBER] = {SVC_GROUP, "delete_group_member", p_delete_group_member},
    [LR_ADMIN_MODIFY_GROUP_MEMBER_INFO] = {SVC_GROUP, "modify_group_member_info",
                                           p_modify_group_member_info},
    [LR_ADMIN_GET_ONLINE_MEMBER_NUM] = {SVC_GROUP, "get_online_member_num", p_group_only},
    [LR_ADMIN_GET_MEMBERS] = {"group_open_avchatroom_http_svc", "get_members", p_get_members},
    [LR_ADMIN_ACCOUNT_IMPORT] = {"im_open_login_svc", "account_import", p_account_import},
    [LR_ADMIN_KICK] = {"im_open_login_svc", "kick", p_kick},
    [LR_ADMIN_SET_ROOM_CONFIG] = {"liveroom_svc", "set_room_config", p_set_room_config},
};

const char *lr_admin_op_service(lr_admin_op op)
{
    return (unsigned)op < LR_ADMIN_OP_COUNT ? cmds[op].service : NULL;
}

const char *lr_admin_op_command(lr_admin_op op)
{
    return (unsigned)op < LR_ADMIN_OP_COUNT ? cmds[op].command : NULL;
}

void lr_admin_cmd_free(lr_admin_cmd *cmd)
{
    json_decref(cmd->json);
    free(cmd->owned);
    free(cmd->owned_body);
    cmd->json = NULL;
    cmd->owned = NULL;
    cmd->owned_body = NULL;
}

/* Printable ASCII only, so a hostile path cannot put bytes into ErrorInfo
 * that are not UTF-8. */
static void printable(char *dst, size_t cap, lr_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    dst[n] = '\0';
}

int lr_admin_parse(lr_str service, lr_str command, const char *body, size_t len, lr_admin_cmd *out,
                   char *errinfo, size_t cap)
{
    memset(out, 0, sizeof(*out));
    if (cap > 0) errinfo[0] = '\0';
    pctx c = {.cmd = out, .err = errinfo, .cap = cap};

    int op = -1;
    for (int i = 0; i < LR_ADMIN_OP_COUNT && op < 0; i++)
        if (lr_str_eq_c(service, cmds[i].service) && lr_str_eq_c(command, cmds[i].command)) op = i;
    if (op < 0) {
        char s[64], cm[64];
        printable(s, sizeof(s), service);
        printable(cm, sizeof(cm), command);
        return fail(&c, LR_ERR_UNKNOWN_OP, "unknown command %s/%s", s, cm);
    }
    out->op = (lr_admin_op)op;

    if (len > LR_ADMIN_MAX_REQ_BODY)
        return fail(&c, LR_ERR_BODY_TOO_LARGE, "request body larger than %d bytes",
                    LR_ADMIN_MAX_REQ_BODY);
    json_error_t jerr;
    if (!body) len = 0;
    out->json = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->json) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return fail(&c, LR_ERR_INTERNAL, "out of memory");
        /* jansson quotes the offending input, which may not be UTF-8. */
        char why[sizeof(jerr.text)];
        printable(why, sizeof(why), lr_str_c(jerr.text));
        return fail(&c, LR_ERR_MALFORMED, "malformed JSON: %s", why);
    }
    int rc;
    if (!json_is_object(out->json)) {
        rc = fail(&c, LR_ERR_MALFORMED, "request body must be a JSON object");
    } else {
        c.obj = out->json;
        rc = cmds[op].parse(&c);
    }
    if (rc != 0) {
        lr_admin_cmd_free(out);
        memset(&out->u, 0, sizeof(out->u));
        out->group_id = (lr_str){NULL, 0};
    }
    return rc;
}
