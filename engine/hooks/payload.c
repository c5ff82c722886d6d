/*
 * payload.c owns what a callback says: the CallbackCommand names, the
 * --callbacks list parser, and the body of every ADMIN_API.md §3 command
 * with Tencent's exact field names, built from plain C arguments so rooms
 * and sessions never spell a field name themselves.
 *
 * Must never: touch the hooks queue or thread (hooks.c does), or keep a
 * reference to a caller's jansson value: a body crosses threads, so
 * whatever it holds is a private copy.
 */
#include "hooks/hooks.h"

#include <ctype.h>
#include <string.h>

static const char *const command_names[] = {
    "Group.CallbackBeforeSendMsg",       "Group.CallbackAfterSendMsg",
    "Group.CallbackAfterNewMemberJoin",  "Group.CallbackAfterMemberExit",
    "Group.CallbackOnMemberStateChange", "Group.CallbackAfterCreateGroup",
    "Group.CallbackAfterGroupDestroyed", "State.StateChange",
};
_Static_assert(LR_ARRAY_LEN(command_names) == 8, "one name per LR_HOOK_* bit");
_Static_assert(LR_HOOK_ALL == (1 << LR_ARRAY_LEN(command_names)) - 1, "LR_HOOK_ALL");

#define GROUP_TYPE "AVChatRoom"

const char *lr_hooks_command_name(uint32_t hook)
{
    if (hook == 0 || (hook & (hook - 1)) != 0 || (hook & ~(uint32_t)LR_HOOK_ALL) != 0) return NULL;
    return command_names[__builtin_ctz(hook)];
}

static uint32_t command_bit(const char *p, size_t len)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(command_names); i++) {
        if (strlen(command_names[i]) == len && memcmp(command_names[i], p, len) == 0)
            return 1u << i;
    }
    return 0;
}

int lr_hooks_parse_commands(const char *list, uint32_t *mask)
{
    if (!list || !mask) return -1;
    uint32_t m = 0;
    size_t n = 0; /* names seen */
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e == b) return -1; /* empty list or empty item */
        if ((size_t)(e - b) == 3 && memcmp(b, "all", 3) == 0) {
            m |= LR_HOOK_ALL;
        } else {
            uint32_t bit = command_bit(b, (size_t)(e - b));
            if (!bit) return -1;
            m |= bit;
        }
        n++;
        if (!*end) break;
        p = end + 1;
    }
    *mask = m;
    return n ? 0 : -1;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* A list of {Member_Account} objects; NULL when out of memory. */
static json_t *member_list(const char *const *members, size_t n)
{
    json_t *a = json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_pack("{s:s}", "Member_Account", or_empty(members[i]));
        if (!m || json_array_append_new(a, m) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *send_body(const char *group, const char *from, const char *op, uint32_t random,
                         const char *pri_name, json_t *msg_body, const char *cloud_custom)
{
    json_t *copy = msg_body ? json_deep_copy(msg_body) : json_array();
    if (!copy) return NULL;
    /* "o" steals copy, also when json_pack fails (jansson ≥ 2.11) */
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:s}", "GroupId", or_empty(group), "Type",
                     GROUP_TYPE, "From_Account", or_empty(from), "Operator_Account",
                     or_empty(op ? op : from), "Random", (json_int_t)random, "MsgPriority",
                     pri_name ? pri_name : "High", "MsgBody", copy, "CloudCustomData",
                     or_empty(cloud_custom));
}

json_t *lr_hook_body_before_send(const char *group, const char *from, const char *op,
                                 uint32_t random, const char *pri_name, json_t *msg_body,
                                 const char *cloud_custom)
{
    return send_body(group, from, op, random, pri_name, msg_body, cloud_custom);
}

json_t *lr_hook_body_after_send(const char *group, const char *from, const char *op,
                                uint32_t random, const char *pri_name, json_t *msg_body,
                                const char *cloud_custom, uint64_t msg_seq, int64_t msg_time)
{
    json_t *b = send_body(group, from, op, random, pri_name, msg_body, cloud_custom);
    if (!b) return NULL;
    if (json_object_set_new(b, "MsgSeq", json_integer((json_int_t)msg_seq)) != 0 ||
        json_object_set_new(b, "MsgTime", json_integer((json_int_t)msg_time)) != 0 ||
        json_object_set_new(b, "OnlineOnlyFlag", json_integer(0)) != 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

json_t *lr_hook_body_member_join(const char *group, const char *op, const char *const *members,
                                 size_t n)
{
    json_t *list = member_list(members, n);
    if (!list) return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "GroupId", or_empty(group), "Type", GROUP_TYPE,
                     "JoinType", "Apply", "Operator_Account", or_empty(op), "NewMemberList", list);
}

json_t *lr_hook_body_member_exit(const char *group, bool kicked, const char *op,
                                 const char *const *members, size_t n)
{
    json_t *list = member_list(members, n);
    if (!list) return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "GroupId", or_empty(group), "Type", GROUP_TYPE,
                     "ExitType", kicked ? "Kicked" : "Quit", "Operator_Account", or_empty(op),
                     "ExitMemberList", list);
}

json_t *lr_hook_body_member_state(const char *group, bool online, const char *const *members,
                                  size_t n)
{
    json_t *list = member_list(members, n);
    if (!list) return NULL;
    return json_pack("{s:s, s:s, s:o}", "GroupId", or_empty(group), "EventType",
                     online ? "Online" : "Offline", "MemberList", list);
}

json_t *lr_hook_body_group(const char *group, const char *owner)
{
    return json_pack("{s:s, s:s, s:s}", "GroupId", or_empty(group), "Type", GROUP_TYPE,
                     "Owner_Account", or_empty(owner));
}

json_t *lr_hook_body_state_change(const char *user, lr_hook_state_action action, const char *reason,
                                  int64_t event_time_ms)
{
    static const char *const actions[] = {"Login", "Logout", "Disconnect"};
    if ((unsigned)action >= LR_ARRAY_LEN(actions)) return NULL;
    if (event_time_ms == 0) event_time_ms = lr_wall_ms();
    return json_pack("{s:I, s:{s:s, s:s, s:s}}", "EventTime", (json_int_t)event_time_ms, "Info",
                     "Action", actions[action], "To_Account", or_empty(user), "Reason",
                     or_empty(reason));
}
