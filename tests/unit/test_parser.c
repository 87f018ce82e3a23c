/* Check suite for the command parser.  Valid commands are asserted through a
 * canonical dump of the AST (every field the parser fills), malformed ones
 * through a table of result kinds and reasons.  Every valid case is also
 * re-framed one byte at a time through the framer and must give the same
 * AST. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/framer.h"
#include "proto/parser.h"

/* ---- AST dump ---- */

struct out {
    char s[16384];
    size_t n;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(o->s + o->n, sizeof(o->s) - o->n, fmt, ap);
    va_end(ap);
    if (r > 0)
        o->n += (size_t)r < sizeof(o->s) - o->n ? (size_t)r
                                                : sizeof(o->s) - o->n - 1;
}

static void put_str(struct out *o, const struct imap_str *s)
{
    if (!s->s) {
        put(o, "NIL");
        return;
    }
    ck_assert_msg(s->s[s->len] == '\0', "string not NUL-terminated");
    put(o, "\"");
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->s[i];
        if (c == '"' || c == '\\')
            put(o, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            put(o, "%c", c);
        else
            put(o, "\\x%02x", c);
    }
    put(o, "\"");
}

static void put_num(struct out *o, uint32_t n)
{
    if (n)
        put(o, "%u", n);
    else
        put(o, "*");
}

static void put_set(struct out *o, const struct imap_seqset *s)
{
    if (s->saved) {
        ck_assert_uint_eq(s->count, 0);
        put(o, "$");
        return;
    }
    ck_assert_uint_gt(s->count, 0);
    for (size_t i = 0; i < s->count; i++) {
        if (i)
            put(o, ",");
        put_num(o, s->ranges[i].lo);
        if (s->ranges[i].hi != s->ranges[i].lo) {
            put(o, ":");
            put_num(o, s->ranges[i].hi);
        }
    }
}

static void put_bits(struct out *o, unsigned bits, const char *const *names,
                     size_t n)
{
    bool first = true;
    put(o, "(");
    for (size_t i = 0; i < n; i++) {
        if (bits & (1u << i)) {
            put(o, "%s%s", first ? "" : " ", names[i]);
            first = false;
        }
    }
    put(o, ")");
}

static void put_flags(struct out *o, const struct imap_flags *f)
{
    static const char *const names[] = {"\\Seen", "\\Answered", "\\Flagged",
                                        "\\Deleted", "\\Draft"};
    bool first = true;
    put(o, "(");
    for (size_t i = 0; i < 5; i++) {
        if (f->sys & (1u << i)) {
            put(o, "%s%s", first ? "" : " ", names[i]);
            first = false;
        }
    }
    for (size_t i = 0; i < f->keyword_count; i++) {
        put(o, "%s%s", first ? "" : " ", f->keywords[i].s);
        first = false;
    }
    put(o, ")");
}

static const char *const skey_names[] = {
    "ALL",       "ANSWERED", "DELETED", "DRAFT",      "FLAGGED",   "SEEN",
    "RECENT",    "NEW",      "OLD",     "UNANSWERED", "UNDELETED", "UNDRAFT",
    "UNFLAGGED", "UNSEEN",   "KEYWORD", "UNKEYWORD",  "BCC",       "BODY",
    "CC",        "FROM",     "SUBJECT", "TEXT",       "TO",        "HEADER",
    "BEFORE",    "ON",       "SINCE",   "SENTBEFORE", "SENTON",    "SENTSINCE",
    "LARGER",    "SMALLER",  "UID",     "SEQSET",     "MODSEQ",    "NOT",
    "OR",        "AND"};

static void put_key(struct out *o, const struct search_key *k)
{
    static const char *const etype[] = {"", "PRIV", "SHARED", "ALL"};
    switch (k->type) {
    case SK_KEYWORD:
    case SK_UNKEYWORD:
    case SK_BCC:
    case SK_BODY:
    case SK_CC:
    case SK_FROM:
    case SK_SUBJECT:
    case SK_TEXT:
    case SK_TO:
        put(o, "%s ", skey_names[k->type]);
        put_str(o, &k->u.str);
        break;
    case SK_HEADER:
        put(o, "HEADER ");
        put_str(o, &k->u.header.field);
        put(o, " ");
        put_str(o, &k->u.header.value);
        break;
    case SK_BEFORE:
    case SK_ON:
    case SK_SINCE:
    case SK_SENTBEFORE:
    case SK_SENTON:
    case SK_SENTSINCE:
        put(o, "%s %04d-%02d-%02d", skey_names[k->type], k->u.date.year,
            k->u.date.month, k->u.date.day);
        break;
    case SK_LARGER:
    case SK_SMALLER:
        put(o, "%s %llu", skey_names[k->type], (unsigned long long)k->u.number);
        break;
    case SK_MODSEQ:
        ck_assert_uint_eq(k->u.number, k->u.modseq.value);
        put(o, "MODSEQ ");
        if (k->u.modseq.entry.s) {
            put_str(o, &k->u.modseq.entry);
            put(o, " %s ", etype[k->u.modseq.entry_type]);
        } else {
            ck_assert_int_eq(k->u.modseq.entry_type, SME_NONE);
        }
        put(o, "%llu", (unsigned long long)k->u.modseq.value);
        break;
    case SK_UID:
        put(o, "UID ");
        put_set(o, &k->u.seqset);
        break;
    case SK_SEQSET: put_set(o, &k->u.seqset); break;
    case SK_NOT:
        put(o, "NOT ");
        put_key(o, k->u.sub[0]);
        break;
    case SK_OR:
        put(o, "OR ");
        put_key(o, k->u.sub[0]);
        put(o, " ");
        put_key(o, k->u.sub[1]);
        break;
    case SK_AND:
        ck_assert_uint_gt(k->u.list.count, 0);
        put(o, "(");
        for (size_t i = 0; i < k->u.list.count; i++) {
            if (i)
                put(o, " ");
            put_key(o, &k->u.list.keys[i]);
        }
        put(o, ")");
        break;
    default: put(o, "%s", skey_names[k->type]);
    }
}

static void put_att(struct out *o, const struct fetch_att *a)
{
    static const char *const names[] = {
        "ENVELOPE",      "FLAGS",       "INTERNALDATE", "RFC822",
        "RFC822.HEADER", "RFC822.SIZE", "RFC822.TEXT",  "BODY",
        "BODYSTRUCTURE", "UID",         "MODSEQ",       "BODY",
        "BINARY",        "BINARY.SIZE"};
    static const char *const specs[] = {
        "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"};
    put(o, "%s%s", names[a->type], a->peek ? ".PEEK" : "");
    if (a->type < FA_BODY_SECTION) {
        ck_assert(!a->peek && !a->partial);
        return;
    }
    const struct fetch_section *s = &a->section;
    put(o, "[");
    for (size_t i = 0; i < s->part_count; i++)
        put(o, "%s%u", i ? "." : "", s->parts[i]);
    if (s->spec != SEC_ALL)
        put(o, "%s%s", s->part_count ? "." : "", specs[s->spec]);
    if (s->field_count) {
        put(o, " (");
        for (size_t i = 0; i < s->field_count; i++) {
            if (i)
                put(o, " ");
            put_str(o, &s->fields[i]);
        }
        put(o, ")");
    }
    put(o, "]");
    if (a->partial)
        put(o, "<%llu.%llu>", (unsigned long long)a->offset,
            (unsigned long long)a->count);
}

static const char *const cmd_names[] = {
    "UNKNOWN",     "CAPABILITY",   "NOOP",   "LOGOUT",    "ID",
    "STARTTLS",    "AUTHENTICATE", "LOGIN",  "ENABLE",    "SELECT",
    "EXAMINE",     "CREATE",       "DELETE", "RENAME",    "SUBSCRIBE",
    "UNSUBSCRIBE", "LIST",         "LSUB",   "NAMESPACE", "STATUS",
    "APPEND",      "IDLE",         "CHECK",  "CLOSE",     "UNSELECT",
    "EXPUNGE",     "SEARCH",       "FETCH",  "STORE",     "COPY",
    "MOVE"};

static const char *const status_names[] = {
    "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
    "DELETED",  "SIZE",    "RECENT",      "HIGHESTMODSEQ"};

static void put_cmd(struct out *o, const struct imap_command *c)
{
    static const char *const sel[] = {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH",
                                      "SPECIAL-USE"};
    static const char *const ret[] = {"SUBSCRIBED", "CHILDREN", "SPECIAL-USE",
                                      "STATUS"};
    static const char *const use[] = {"\\All",     "\\Archive", "\\Drafts",
                                      "\\Flagged", "\\Junk",    "\\Sent",
                                      "\\Trash"};
    static const char *const sret[] = {"MIN", "MAX", "ALL", "COUNT", "SAVE"};
    static const char *const ops[] = {"", "+", "-"};

    put(o, "%s%s", c->uid ? "UID " : "", cmd_names[c->type]);
    switch (c->type) {
    case CMD_LOGIN:
        put(o, " ");
        put_str(o, &c->u.login.user);
        put(o, " ");
        put_str(o, &c->u.login.password);
        break;
    case CMD_AUTHENTICATE:
        put(o, " %s", c->u.authenticate.mechanism.s);
        if (c->u.authenticate.has_initial) {
            put(o, " ");
            put_str(o, &c->u.authenticate.initial);
        }
        break;
    case CMD_ENABLE:
        for (size_t i = 0; i < c->u.enable.count; i++)
            put(o, " %s", c->u.enable.names[i].s);
        break;
    case CMD_ID:
        if (c->u.id.nil) {
            put(o, " NIL");
            break;
        }
        put(o, " (");
        for (size_t i = 0; i < c->u.id.count; i++) {
            put(o, i ? " " : "");
            put_str(o, &c->u.id.pairs[i].key);
            put(o, " ");
            put_str(o, &c->u.id.pairs[i].value);
        }
        put(o, ")");
        break;
    case CMD_SELECT:
    case CMD_EXAMINE: {
        const struct cmd_select *s = &c->u.select;
        put(o, " ");
        put_str(o, &s->mailbox);
        if (s->condstore)
            put(o, " CONDSTORE");
        if (s->qresync) {
            put(o, " QRESYNC(%u %llu", s->qr_uidvalidity,
                (unsigned long long)s->qr_modseq);
            if (s->qr_known_uids.count) {
                put(o, " ");
                put_set(o, &s->qr_known_uids);
            }
            if (s->qr_match_seqs.count) {
                put(o, " (");
                put_set(o, &s->qr_match_seqs);
                put(o, " ");
                put_set(o, &s->qr_match_uids);
                put(o, ")");
            }
            put(o, ")");
        }
        break;
    }
    case CMD_CREATE:
        put(o, " ");
        put_str(o, &c->u.create.mailbox);
        if (c->u.create.use || c->u.create.use_unknown) {
            put(o, " USE=");
            put_bits(o, c->u.create.use >> 8, use, 7);
        }
        if (c->u.create.use_unknown)
            put(o, " USE-UNKNOWN");
        break;
    case CMD_DELETE:
    case CMD_SUBSCRIBE:
    case CMD_UNSUBSCRIBE:
        put(o, " ");
        put_str(o, &c->u.mailbox);
        break;
    case CMD_RENAME:
        put(o, " ");
        put_str(o, &c->u.rename.from);
        put(o, " ");
        put_str(o, &c->u.rename.to);
        break;
    case CMD_LIST:
    case CMD_LSUB: {
        const struct cmd_list *l = &c->u.list;
        if (l->extended)
            put(o, " EXT");
        if (l->select_opts) {
            put(o, " SEL=");
            put_bits(o, l->select_opts, sel, 4);
        }
        put(o, " ");
        put_str(o, &l->reference);
        put(o, " (");
        for (size_t i = 0; i < l->pattern_count; i++) {
            put(o, i ? " " : "");
            put_str(o, &l->patterns[i]);
        }
        put(o, ")");
        if (l->return_opts) {
            put(o, " RET=");
            put_bits(o, l->return_opts, ret, 4);
        }
        if (l->status_items) {
            put(o, " STATUS=");
            put_bits(o, l->status_items, status_names, 8);
        }
        break;
    }
    case CMD_STATUS:
        put(o, " ");
        put_str(o, &c->u.status.mailbox);
        put(o, " ");
        put_bits(o, c->u.status.items, status_names, 8);
        break;
    case CMD_APPEND: {
        const struct cmd_append *a = &c->u.append;
        put(o, " ");
        put_str(o, &a->mailbox);
        if (a->has_flags) {
            put(o, " ");
            put_flags(o, &a->flags);
        }
        if (a->has_date)
            put(o, " DATE=%lld/%d", (long long)a->date.utc, a->date.tz_min);
        if (a->binary)
            put(o, " BINARY");
        /* the message is not NUL-terminated: dump a copy */
        char *m = malloc(a->message.len + 1);
        memcpy(m, a->message.s, a->message.len);
        m[a->message.len] = '\0';
        struct imap_str ms = {m, a->message.len};
        put(o, " ");
        put_str(o, &ms);
        free(m);
        break;
    }
    case CMD_SEARCH: {
        const struct cmd_search *s = &c->u.search;
        if (s->has_return) {
            put(o, " RETURN=");
            put_bits(o, s->ret, sret, 5);
        }
        if (s->charset.s) {
            put(o, " CHARSET=");
            put_str(o, &s->charset);
        }
        ck_assert_int_eq(s->root.type, SK_AND);
        put(o, " ");
        put_key(o, &s->root);
        break;
    }
    case CMD_FETCH: {
        const struct cmd_fetch *f = &c->u.fetch;
        put(o, " ");
        put_set(o, &f->set);
        put(o, " (");
        for (size_t i = 0; i < f->att_count; i++) {
            put(o, i ? " " : "");
            put_att(o, &f->atts[i]);
        }
        put(o, ")");
        if (f->macro)
            put(o, " MACRO");
        if (f->changedsince)
            put(o, " CHANGEDSINCE=%llu", (unsigned long long)f->changedsince);
        if (f->vanished)
            put(o, " VANISHED");
        break;
    }
    case CMD_STORE: {
        const struct cmd_store *s = &c->u.store;
        put(o, " ");
        put_set(o, &s->set);
        if (s->has_unchangedsince)
            put(o, " UNCHANGEDSINCE=%llu",
                (unsigned long long)s->unchangedsince);
        put(o, " %sFLAGS%s ", ops[s->op], s->silent ? ".SILENT" : "");
        put_flags(o, &s->flags);
        break;
    }
    case CMD_COPY:
    case CMD_MOVE:
        put(o, " ");
        put_set(o, &c->u.copy.set);
        put(o, " ");
        put_str(o, &c->u.copy.mailbox);
        break;
    case CMD_EXPUNGE:
        if (c->uid) {
            put(o, " ");
            put_set(o, &c->u.expunge_set);
        }
        break;
    default: break;
    }
}

/* ---- helpers ---- */

static struct arena arena;

static void setup(void)
{
    arena_init(&arena, 512, 0);
}

static void teardown(void)
{
    arena_free(&arena);
}

static enum parse_result parse_n(const char *in, size_t len,
                                 const struct parser_limits *lim,
                                 struct imap_command *c, const char **err)
{
    /* a private copy so that ASan catches any read past the end */
    char *buf = malloc(len ? len : 1);
    memcpy(buf, in, len);
    enum parse_result r = parser_parse(buf, len, lim, &arena, c, err);
    if (r == PARSE_OK && c->type == CMD_APPEND) {
        /* the message points into buf: keep it alive in the arena */
        char *keep = arena_alloc(&arena, len ? len : 1);
        memcpy(keep, buf, len);
        c->u.append.message.s = keep + (c->u.append.message.s - buf);
    }
    free(buf);
    if (r != PARSE_OK) {
        ck_assert_ptr_nonnull(*err);
        for (const char *e = *err; *e; e++)
            ck_assert_msg(*e >= 0x20 && *e < 0x7f, "unprintable in reason");
        ck_assert_uint_le(strlen(*err), 120);
    }
    return r;
}

static char dumped[sizeof(((struct out *)0)->s)];

/* Parse and dump; the dump of a failure is "BAD: <reason>". */
static const char *dump_n(const char *in, size_t len)
{
    struct imap_command c;
    const char *err;
    struct out o = {.n = 0};
    o.s[0] = '\0';
    enum parse_result r = parse_n(in, len, NULL, &c, &err);
    if (r != PARSE_OK)
        put(&o, "BAD(%d): %s", r, err);
    else
        put_cmd(&o, &c);
    memcpy(dumped, o.s, o.n + 1);
    return dumped;
}

/* ---- valid commands ---- */

struct valid_case {
    const char *in;
    size_t len; /* 0: strlen */
    const char *dump;
};

#define L(s) s, sizeof(s) - 1

static const struct valid_case valid[] = {
    /* any state */
    {"a CAPABILITY\r\n", 0, "CAPABILITY"},
    {"a capability\n", 0, "CAPABILITY"},
    {"a NOOP\r\n", 0, "NOOP"},
    {"a noop\r\n", 0, "NOOP"},
    {"a LOGOUT\r\n", 0, "LOGOUT"},
    {"a STARTTLS\r\n", 0, "STARTTLS"},
    {"a NAMESPACE\r\n", 0, "NAMESPACE"},
    {"a IDLE\r\n", 0, "IDLE"},
    {"a Check\r\n", 0, "CHECK"},
    {"a CLOSE\r\n", 0, "CLOSE"},
    {"a UNSELECT\r\n", 0, "UNSELECT"},
    {"a EXPUNGE\r\n", 0, "EXPUNGE"},
    {"a uid expunge 1:5,7\r\n", 0, "UID EXPUNGE 1:5,7"},
    {"a UID EXPUNGE $\r\n", 0, "UID EXPUNGE $"},
    /* LOGIN */
    {"a LOGIN joe secret\r\n", 0, "LOGIN \"joe\" \"secret\""},
    {"a login \"joe smith\" \"se\\\"cr\\\\et\"\r\n", 0,
     "LOGIN \"joe smith\" \"se\\\"cr\\\\et\""},
    {"a LOGIN {3}\r\njoe {6+}\r\nsecret\r\n", 0, "LOGIN \"joe\" \"secret\""},
    {"a LOGIN joe] pa]ss\r\n", 0, "LOGIN \"joe]\" \"pa]ss\""},
    {"a LOGIN \"\" \"\"\r\n", 0, "LOGIN \"\" \"\""},
    {"a LOGIN ~ ~x\r\n", 0, "LOGIN \"~\" \"~x\""},
    {"a LOGIN {0}\r\n {5-}\r\na\r\nb\"\r\n", 0,
     "LOGIN \"\" \"a\\x0d\\x0ab\\\"\""},
    {"a LOGIN \"j\xc3\xa9\" x\r\n", 0, "LOGIN \"j\\xc3\\xa9\" \"x\""},
    {"a LOGIN {4}\r\n{5}\r {3}\r\n\xff\x01\x7f\r\n", 0,
     "LOGIN \"{5}\\x0d\" \"\\xff\\x01\\x7f\""},
    {"a LOGIN joe secret\n", 0, "LOGIN \"joe\" \"secret\""},
    {"a LOGIN {3}\njoe x\n", 0, "LOGIN \"joe\" \"x\""},
    /* AUTHENTICATE */
    {"a AUTHENTICATE plain\r\n", 0, "AUTHENTICATE PLAIN"},
    {"a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n", 0,
     "AUTHENTICATE PLAIN \"AGpvZQBzZWNyZXQ=\""},
    {"a authenticate plain =\r\n", 0, "AUTHENTICATE PLAIN \"\""},
    {"a AUTHENTICATE scram-sha-256 dGVzdA==\r\n", 0,
     "AUTHENTICATE SCRAM-SHA-256 \"dGVzdA==\""},
    {"a AUTHENTICATE XOAUTH2 dGVzdHM=\r\n", 0,
     "AUTHENTICATE XOAUTH2 \"dGVzdHM=\""},
    {"a AUTHENTICATE external\r\n", 0, "AUTHENTICATE EXTERNAL"},
    /* ENABLE */
    {"a ENABLE condstore\r\n", 0, "ENABLE CONDSTORE"},
    {"a ENABLE QRESYNC utf8=accept IMAP4rev2\r\n", 0,
     "ENABLE QRESYNC UTF8=ACCEPT IMAP4REV2"},
    /* ID */
    {"a ID NIL\r\n", 0, "ID NIL"},
    {"a id nil\r\n", 0, "ID NIL"},
    {"a ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)\r\n", 0,
     "ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)"},
    {"a ID ()\r\n", 0, "ID ()"},
    {"a ID ({4}\r\nname {3}\r\nabc)\r\n", 0, "ID (\"name\" \"abc\")"},
    {"a ID (\"k\" nil)\r\n", 0, "ID (\"k\" NIL)"},
    /* SELECT / EXAMINE */
    {"a SELECT inbox\r\n", 0, "SELECT \"INBOX\""},
    {"a select INBOX.Sent\r\n", 0, "SELECT \"INBOX.Sent\""},
    {"a EXAMINE \"Inbox\"\r\n", 0, "EXAMINE \"INBOX\""},
    {"a SELECT {5}\r\niNbOx\r\n", 0, "SELECT \"INBOX\""},
    {"a SELECT &AOQ-t\r\n", 0, "SELECT \"&AOQ-t\""},
    {"a SELECT ~peter/mail\r\n", 0, "SELECT \"~peter/mail\""},
    {"a SELECT \"Sent Items\"\r\n", 0, "SELECT \"Sent Items\""},
    {"a SELECT foo (CONDSTORE)\r\n", 0, "SELECT \"foo\" CONDSTORE"},
    {"a SELECT foo (QRESYNC (67890007 20050715194045000 "
     "41,43:211,214:541))\r\n",
     0,
     "SELECT \"foo\" QRESYNC(67890007 20050715194045000 "
     "41,43:211,214:541)"},
    {"a EXAMINE foo (QRESYNC (67890007 90060115194045000 41:211,214:541 "
     "(1:10 101:110)))\r\n",
     0,
     "EXAMINE \"foo\" QRESYNC(67890007 90060115194045000 41:211,214:541 "
     "(1:10 101:110))"},
    {"a SELECT foo (QRESYNC (1 2 (1 5)))\r\n", 0,
     "SELECT \"foo\" QRESYNC(1 2 (1 5))"},
    {"a SELECT foo (condstore qresync (1 2))\r\n", 0,
     "SELECT \"foo\" CONDSTORE QRESYNC(1 2)"},
    {"a SELECT foo (QRESYNC (4294967295 9223372036854775807))\r\n", 0,
     "SELECT \"foo\" QRESYNC(4294967295 9223372036854775807)"},
    /* CREATE / DELETE / RENAME / (UN)SUBSCRIBE */
    {"a CREATE foo\r\n", 0, "CREATE \"foo\""},
    {"a CREATE inbox\r\n", 0, "CREATE \"INBOX\""},
    {"a CREATE MySpecial (USE (\\Drafts \\Sent))\r\n", 0,
     "CREATE \"MySpecial\" USE=(\\Drafts \\Sent)"},
    {"a create x (use (\\all \\ARCHIVE \\Flagged \\junk \\Trash))\r\n", 0,
     "CREATE \"x\" USE=(\\All \\Archive \\Flagged \\Junk \\Trash)"},
    {"a CREATE x (USE ())\r\n", 0, "CREATE \"x\""},
    {"a CREATE x (USE (\\Important \\Sent))\r\n", 0,
     "CREATE \"x\" USE=(\\Sent) USE-UNKNOWN"},
    {"a DELETE foo/bar\r\n", 0, "DELETE \"foo/bar\""},
    {"a RENAME foo \"bar baz\"\r\n", 0, "RENAME \"foo\" \"bar baz\""},
    {"a RENAME inbox old-inbox\r\n", 0, "RENAME \"INBOX\" \"old-inbox\""},
    {"a SUBSCRIBE #news.comp\r\n", 0, "SUBSCRIBE \"#news.comp\""},
    {"a UNSUBSCRIBE \"x\"\r\n", 0, "UNSUBSCRIBE \"x\""},
    {"a SUBSCRIBE INBOX/sub\r\n", 0, "SUBSCRIBE \"INBOX/sub\""},
    /* LIST / LSUB */
    {"a LIST \"\" *\r\n", 0, "LIST \"\" (\"*\")"},
    {"a LIST \"\" \"\"\r\n", 0, "LIST \"\" (\"\")"},
    {"a list ~/Mail/ %\r\n", 0, "LIST \"~/Mail/\" (\"%\")"},
    {"a LIST \"\" INBOX]%*\r\n", 0, "LIST \"\" (\"INBOX]%*\")"},
    {"a LIST inbox inbox\r\n", 0, "LIST \"inbox\" (\"inbox\")"},
    {"a LIST (SUBSCRIBED) \"\" \"*\"\r\n", 0,
     "LIST EXT SEL=(SUBSCRIBED) \"\" (\"*\")"},
    {"a LIST () \"\" %\r\n", 0, "LIST EXT \"\" (\"%\")"},
    {"a LIST (subscribed recursivematch remote) \"\" (\"%\" foo/*) "
     "RETURN (children)\r\n",
     0,
     "LIST EXT SEL=(SUBSCRIBED REMOTE RECURSIVEMATCH) \"\" (\"%\" "
     "\"foo/*\") RET=(CHILDREN)"},
    {"a LIST \"\" % RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n", 0,
     "LIST EXT \"\" (\"%\") RET=(SPECIAL-USE STATUS) "
     "STATUS=(MESSAGES UNSEEN)"},
    {"a LIST (SPECIAL-USE) \"\" *\r\n", 0,
     "LIST EXT SEL=(SPECIAL-USE) \"\" (\"*\")"},
    {"a LIST \"\" % RETURN ()\r\n", 0, "LIST EXT \"\" (\"%\")"},
    {"a LIST \"\" (%)\r\n", 0, "LIST EXT \"\" (\"%\")"},
    {"a LIST \"\" % return (subscribed children)\r\n", 0,
     "LIST EXT \"\" (\"%\") RET=(SUBSCRIBED CHILDREN)"},
    {"a LIST {0}\r\n {1}\r\n*\r\n", 0, "LIST \"\" (\"*\")"},
    {"a LSUB \"#news.\" \"comp.mail.*\"\r\n", 0,
     "LSUB \"#news.\" (\"comp.mail.*\")"},
    {"a lsub \"\" %\r\n", 0, "LSUB \"\" (\"%\")"},
    /* STATUS */
    {"a STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", 0,
     "STATUS \"blurdybloop\" (MESSAGES UIDNEXT)"},
    {"a status inbox (messages uidnext uidvalidity unseen deleted size recent "
     "highestmodseq)\r\n",
     0,
     "STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE "
     "RECENT HIGHESTMODSEQ)"},
    /* APPEND */
    {"a APPEND saved-messages (\\Seen) {5}\r\nhello\r\n", 0,
     "APPEND \"saved-messages\" (\\Seen) \"hello\""},
    {"a APPEND INBOX {5+}\r\nhello\r\n", 0, "APPEND \"INBOX\" \"hello\""},
    {"a APPEND inbox \"17-Jul-1996 02:44:25 -0700\" {3}\r\nabc\r\n", 0,
     "APPEND \"INBOX\" DATE=837596665/-420 \"abc\""},
    {L("a APPEND x (\\Seen \\Draft $Forwarded) \" 5-Jan-2021 10:00:00 +0100\""
       " ~{4}\r\na\0bc\r\n"),
     "APPEND \"x\" (\\Seen \\Draft $Forwarded) DATE=1609837200/60 BINARY "
     "\"a\\x00bc\""},
    {"a APPEND x () {0}\r\n\r\n", 0, "APPEND \"x\" () \"\""},
    {"a append x {2}\r\n\r\n\r\n", 0, "APPEND \"x\" \"\\x0d\\x0a\""},
    {"a APPEND x \"01-Jan-1970 00:00:00 +0000\" {1-}\r\nz\r\n", 0,
     "APPEND \"x\" DATE=0/0 \"z\""},
    {"a APPEND x \"29-Feb-2000 23:59:60 -0530\" ~{1+}\r\nz\r\n", 0,
     "APPEND \"x\" DATE=951888600/-330 BINARY \"z\""},
    {"a APPEND x (\\answered \\FLAGGED \\deleted) {1}\r\nz\r\n", 0,
     "APPEND \"x\" (\\Answered \\Flagged \\Deleted) \"z\""},
    {"a APPEND {5}\r\nDraft (\\Seen) {3}\r\nabc\r\n", 0,
     "APPEND \"Draft\" (\\Seen) \"abc\""},
    {"a APPEND {0}\r\n {1}\r\nz\r\n", 0, "APPEND \"\" \"z\""},
    {L("a APPEND {3+}\r\nx y \"01-Jan-1970 00:00:00 +0000\" ~{2}\r\n\0\0\r\n"),
     "APPEND \"x y\" DATE=0/0 BINARY \"\\x00\\x00\""},
    {"a APPEND {5}\ninbox {2}\nhi\n", 0, "APPEND \"INBOX\" \"hi\""},
    /* SEARCH */
    {"a SEARCH ALL\r\n", 0, "SEARCH (ALL)"},
    {"a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n", 0,
     "SEARCH (FLAGGED SINCE 1994-02-01 NOT FROM \"Smith\")"},
    {"a search or body hello text \"x y\"\r\n", 0,
     "SEARCH (OR BODY \"hello\" TEXT \"x y\")"},
    {"a UID SEARCH 1:100 UID 443:557\r\n", 0, "UID SEARCH (1:100 UID 443:557)"},
    {"a SEARCH CHARSET UTF-8 TEXT {4}\r\nXXXX\r\n", 0,
     "SEARCH CHARSET=\"UTF-8\" (TEXT \"XXXX\")"},
    {"a SEARCH charset \"iso-8859-1\" subject x\r\n", 0,
     "SEARCH CHARSET=\"iso-8859-1\" (SUBJECT \"x\")"},
    {"a SEARCH RETURN (MIN MAX) UNSEEN\r\n", 0,
     "SEARCH RETURN=(MIN MAX) (UNSEEN)"},
    {"a SEARCH RETURN () ALL\r\n", 0, "SEARCH RETURN=(ALL) (ALL)"},
    {"a SEARCH RETURN (SAVE) CHARSET UTF-8 DELETED\r\n", 0,
     "SEARCH RETURN=(SAVE) CHARSET=\"UTF-8\" (DELETED)"},
    {"a SEARCH RETURN (count all) $\r\n", 0, "SEARCH RETURN=(ALL COUNT) ($)"},
    {"a UID SEARCH UID $ SMALLER 1000\r\n", 0,
     "UID SEARCH (UID $ SMALLER 1000)"},
    {"a SEARCH (OR (SEEN) (NEW OLD)) RECENT\r\n", 0,
     "SEARCH ((OR (SEEN) (NEW OLD)) RECENT)"},
    {"a SEARCH HEADER Message-ID \"<x@y>\"\r\n", 0,
     "SEARCH (HEADER \"Message-ID\" \"<x@y>\")"},
    {"a SEARCH HEADER X-Foo \"\"\r\n", 0, "SEARCH (HEADER \"X-Foo\" \"\")"},
    {"a SEARCH LARGER 9223372036854775807\r\n", 0,
     "SEARCH (LARGER 9223372036854775807)"},
    {"a SEARCH BEFORE \"01-Jan-2000\" ON 29-Feb-2000 SENTBEFORE 1-mar-2000 "
     "SENTON 31-DEC-1999 SENTSINCE 5-Jun-2001\r\n",
     0,
     "SEARCH (BEFORE 2000-01-01 ON 2000-02-29 SENTBEFORE 2000-03-01 "
     "SENTON 1999-12-31 SENTSINCE 2001-06-05)"},
    {"a SEARCH KEYWORD $Junk UNKEYWORD foo\r\n", 0,
     "SEARCH (KEYWORD \"$Junk\" UNKEYWORD \"foo\")"},
    {"a SEARCH ANSWERED DELETED DRAFT FLAGGED SEEN RECENT NEW OLD UNANSWERED "
     "UNDELETED UNDRAFT UNFLAGGED UNSEEN\r\n",
     0,
     "SEARCH (ANSWERED DELETED DRAFT FLAGGED SEEN RECENT NEW OLD UNANSWERED "
     "UNDELETED UNDRAFT UNFLAGGED UNSEEN)"},
    {"a SEARCH BCC a CC b FROM c TO d SUBJECT e TEXT f BODY g\r\n", 0,
     "SEARCH (BCC \"a\" CC \"b\" FROM \"c\" TO \"d\" SUBJECT \"e\" TEXT \"f\" "
     "BODY \"g\")"},
    {"a SEARCH MODSEQ 20010715194045007\r\n", 0,
     "SEARCH (MODSEQ 20010715194045007)"},
    {"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n", 0,
     "SEARCH (MODSEQ \"/flags/\\\\draft\" ALL 620162338)"},
    {"a SEARCH modseq \"/flags/$Junk\" Priv 5 modseq 0\r\n", 0,
     "SEARCH (MODSEQ \"/flags/$Junk\" PRIV 5 MODSEQ 0)"},
    {"a SEARCH 2,4:7,9,12:*\r\n", 0, "SEARCH (2,4:7,9,12:*)"},
    {"a SEARCH * 4294967295\r\n", 0, "SEARCH (* 4294967295)"},
    {"a SEARCH NOT (OR FROM x TO y)\r\n", 0,
     "SEARCH (NOT (OR FROM \"x\" TO \"y\"))"},
    {"a SEARCH OR OR SEEN DRAFT FLAGGED\r\n", 0,
     "SEARCH (OR OR SEEN DRAFT FLAGGED)"},
    {"a SEARCH SUBJECT \"\xc3\xa9t\xc3\xa9\"\r\n", 0,
     "SEARCH (SUBJECT \"\\xc3\\xa9t\\xc3\\xa9\")"},
    {"a SEARCH (((ALL)))\r\n", 0, "SEARCH ((((ALL))))"},
    {"a SEARCH SUBJECT a] FROM b\r\n", 0, "SEARCH (SUBJECT \"a]\" FROM \"b\")"},
    {"a search since 1-jan-2020 larger 0\n", 0,
     "SEARCH (SINCE 2020-01-01 LARGER 0)"},
    /* FETCH */
    {"a FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n", 0,
     "FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (\"DATE\" \"FROM\")])"},
    {"a FETCH 1 ALL\r\n", 0,
     "FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE) MACRO"},
    {"a FETCH 1 fast\r\n", 0, "FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE) MACRO"},
    {"a FETCH 1 FULL\r\n", 0,
     "FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY) MACRO"},
    {"a FETCH 1:* flags\r\n", 0, "FETCH 1:* (FLAGS)"},
    {"a fetch 1 (envelope flags internaldate rfc822 rfc822.header rfc822.size "
     "rfc822.text body bodystructure uid modseq)\r\n",
     0,
     "FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE "
     "RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ)"},
    {"a FETCH 1 BODY[]\r\n", 0, "FETCH 1 (BODY[])"},
    {"a FETCH 1 BODY.PEEK[]<0.2048>\r\n", 0, "FETCH 1 (BODY.PEEK[]<0.2048>)"},
    {"a FETCH 1 (BODY[1.2.3] BODY[1.MIME] BODY[2.TEXT] BODY[3.HEADER] "
     "body.peek[4.header.fields.not (x-a \"X-B\")])\r\n",
     0,
     "FETCH 1 (BODY[1.2.3] BODY[1.MIME] BODY[2.TEXT] BODY[3.HEADER] "
     "BODY.PEEK[4.HEADER.FIELDS.NOT (\"x-a\" \"X-B\")])"},
    {"a FETCH 1 (BINARY[1.2]<5.10> BINARY.PEEK[] BINARY.SIZE[3])\r\n", 0,
     "FETCH 1 (BINARY[1.2]<5.10> BINARY.PEEK[] BINARY.SIZE[3])"},
    {"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n", 0,
     "UID FETCH 1:* (FLAGS) CHANGEDSINCE=12345 VANISHED"},
    {"a FETCH 1 (UID) (changedsince 1)\r\n", 0, "FETCH 1 (UID) CHANGEDSINCE=1"},
    {"a FETCH $ (UID)\r\n", 0, "FETCH $ (UID)"},
    {"a FETCH 4294967295:1 BODY[TEXT]<9223372036854775807.1>\r\n", 0,
     "FETCH 4294967295:1 (BODY[TEXT]<9223372036854775807.1>)"},
    {"a FETCH 1 BODY[HEADER.FIELDS ({4}\r\nDate Subject)]\r\n", 0,
     "FETCH 1 (BODY[HEADER.FIELDS (\"Date\" \"Subject\")])"},
    {"a FETCH 1 (BODY[HEADER] BODY[TEXT])\r\n", 0,
     "FETCH 1 (BODY[HEADER] BODY[TEXT])"},
    {"a FETCH 1 (BODY[1.HEADER.FIELDS (A)]<00.1>)\r\n", 0,
     "FETCH 1 (BODY[1.HEADER.FIELDS (\"A\")]<0.1>)"},
    {"a FETCH 1 binary.size[]\r\n", 0, "FETCH 1 (BINARY.SIZE[])"},
    {"a UID FETCH 1,2,3:5 (UID MODSEQ) (VANISHED CHANGEDSINCE 7)\r\n", 0,
     "UID FETCH 1,2,3:5 (UID MODSEQ) CHANGEDSINCE=7 VANISHED"},
    {"a FETCH *:3 RFC822.SIZE\r\n", 0, "FETCH *:3 (RFC822.SIZE)"},
    /* STORE */
    {"a STORE 2:4 +FLAGS (\\Deleted)\r\n", 0, "STORE 2:4 +FLAGS (\\Deleted)"},
    {"a store 1 flags.silent ()\r\n", 0, "STORE 1 FLAGS.SILENT ()"},
    {"a STORE 1 -FLAGS \\Seen \\Flagged $Label1\r\n", 0,
     "STORE 1 -FLAGS (\\Seen \\Flagged $Label1)"},
    {"a STORE 1 (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Answered \\draft)\r\n",
     0, "STORE 1 UNCHANGEDSINCE=12345 +FLAGS.SILENT (\\Answered \\Draft)"},
    {"a UID STORE 1:* FLAGS (\\SEEN foo bar)\r\n", 0,
     "UID STORE 1:* FLAGS (\\Seen foo bar)"},
    {"a STORE 1 (UNCHANGEDSINCE 0) FLAGS ()\r\n", 0,
     "STORE 1 UNCHANGEDSINCE=0 FLAGS ()"},
    {"a STORE $ -flags.silent foo\r\n", 0, "STORE $ -FLAGS.SILENT (foo)"},
    /* COPY / MOVE */
    {"a COPY 2:4 MEETING\r\n", 0, "COPY 2:4 \"MEETING\""},
    {"a UID COPY 1,3 inbox\r\n", 0, "UID COPY 1,3 \"INBOX\""},
    {"a MOVE 1:* \"Trash\"\r\n", 0, "MOVE 1:* \"Trash\""},
    {"a uid move $ {5}\r\nTrash\r\n", 0, "UID MOVE $ \"Trash\""},
};

START_TEST(test_valid)
{
    const struct valid_case *v = &valid[_i];
    size_t len = v->len ? v->len : strlen(v->in);
    const char *d = dump_n(v->in, len);
    ck_assert_msg(strcmp(d, v->dump) == 0, "input %s\n  got  %s\n  want %s",
                  v->in, d, v->dump);
    arena_reset(&arena);
}
END_TEST

/* The same bytes fed one at a time through the framer (every literal
 * accepted) come out whole and parse to the same AST. */
START_TEST(test_valid_framed)
{
    const struct valid_case *v = &valid[_i];
    size_t len = v->len ? v->len : strlen(v->in);
    struct framer f;
    struct framer_limits lim = {.max_line = 1024, .max_command = 4096};
    framer_init(&f, &lim);
    size_t pos = 0, used, clen = 0;
    const char *cmd = NULL;
    while (pos < len && !cmd) {
        enum framer_event ev = framer_feed(&f, v->in + pos, 1, &used);
        pos += used;
        if (ev == FR_LITERAL)
            framer_accept_literal(&f);
        else if (ev == FR_COMMAND)
            cmd = framer_command(&f, &clen);
        else
            ck_assert_int_eq(ev, FR_NEED_MORE);
    }
    ck_assert_ptr_nonnull(cmd);
    ck_assert_uint_eq(pos, len);
    ck_assert_uint_eq(clen, len);
    ck_assert(memcmp(cmd, v->in, len) == 0);
    ck_assert_str_eq(framer_tag(&f), "a");
    char whole[sizeof(dumped)];
    strcpy(whole, dump_n(v->in, len));
    ck_assert_str_eq(dump_n(cmd, clen), whole);
    framer_free(&f);
    arena_reset(&arena);
}
END_TEST

/* ---- malformed commands ---- */

struct bad_case {
    const char *in;
    size_t len;
    enum parse_result r;
    const char *reason;
};

#define B PARSE_BAD
#define T PARSE_BAD_TAG
#define U PARSE_UNKNOWN

static const struct bad_case bad[] = {
    /* tags */
    {"\r\n", 0, T, "Empty command"},
    {"\n", 0, T, "Empty command"},
    {" NOOP\r\n", 0, T, "Invalid tag"},
    {"+ NOOP\r\n", 0, T, "Invalid tag"},
    {"a+ NOOP\r\n", 0, T, "Invalid tag"},
    {"* NOOP\r\n", 0, T, "Invalid tag"},
    {"a*b NOOP\r\n", 0, T, "Invalid tag"},
    {"a%b NOOP\r\n", 0, T, "Invalid tag"},
    {"a(b NOOP\r\n", 0, T, "Invalid tag"},
    {"a)b NOOP\r\n", 0, T, "Invalid tag"},
    {"a\"b NOOP\r\n", 0, T, "Invalid tag"},
    {"a\\b NOOP\r\n", 0, T, "Invalid tag"},
    {"a{b NOOP\r\n", 0, T, "Invalid tag"},
    {"\xc3\xa9 NOOP\r\n", 0, T, "Invalid tag"},
    {"a\x01 NOOP\r\n", 0, T, "Invalid tag"},
    {"a\tNOOP\r\n", 0, T, "Invalid tag"},
    {"a\x7f NOOP\r\n", 0, T, "Invalid tag"},
    {"", 0, T, "Invalid tag"},
    {L("a\0 NOOP\r\n"), T, "Invalid tag"},
    /* command name */
    {"a\r\n", 0, B, "Missing command name"},
    {"a", 0, B, "Missing CRLF"},
    {"a \r\n", 0, B, "Missing command name"},
    {"a  NOOP\r\n", 0, B, "Missing command name"},
    {"a (NOOP)\r\n", 0, B, "Invalid command name"},
    {"a FOO\r\n", 0, U, "Unknown command FOO"},
    {"a XLIST \"\" *\r\n", 0, U, "Unknown command XLIST"},
    {"a NOOPX\r\n", 0, U, "Unknown command NOOPX"},
    {"a GETQUOTAROOT INBOX\r\n", 0, U, "Unknown command GETQUOTAROOT"},
    {"a NO\xffOP\r\n", 0, U, "Unknown command NO"},
    {"a UID\r\n", 0, B, "Missing UID command"},
    {"a UID FOO 1\r\n", 0, B, "Unknown UID command FOO"},
    {"a UID NOOP\r\n", 0, B, "Unknown UID command NOOP"},
    {"a UID EXPUNGE\r\n", 0, B, "Missing UID set"},
    {"a UID  FETCH 1 FLAGS\r\n", 0, B, "Missing UID command"},
    /* line ends, trailing data */
    {"a NOOP", 0, B, "Missing CRLF"},
    {"a NOOP\r", 0, B, "Missing CRLF"},
    {"a NOOP \r\n", 0, B, "Trailing space"},
    {"a NOOP x\r\n", 0, B, "Unexpected characters after command"},
    {"a NOOP\r\nb NOOP\r\n", 0, B, "Unexpected characters after command"},
    {"a NOOP\rx\n", 0, B, "Unexpected characters after command"},
    {"a CAPABILITY\r\r\n", 0, B, "Unexpected characters after command"},
    {"a LOGOUT now\r\n", 0, B, "Unexpected characters after command"},
    {"a IDLE \r\n", 0, B, "Trailing space"},
    {"a STARTTLS x\r\n", 0, B, "Unexpected characters after command"},
    {"a EXPUNGE 1\r\n", 0, B, "Unexpected characters after command"},
    {"a CLOSE\n\n", 0, B, "Unexpected characters after command"},
    /* LOGIN and strings */
    {"a LOGIN\r\n", 0, B, "Missing user name"},
    {"a LOGIN joe\r\n", 0, B, "Missing password"},
    {"a LOGIN joe \r\n", 0, B, "Missing password"},
    {"a LOGIN joe secret extra\r\n", 0, B, "Unexpected characters after"},
    {"a LOGIN (joe) x\r\n", 0, B, "Invalid user name"},
    {"a LOGIN \"joe x\r\n", 0, B, "Unterminated quoted string"},
    {"a LOGIN \"jo\\e\" x\r\n", 0, B, "Invalid escape"},
    {"a LOGIN \"jo\\\r\n", 0, B, "Invalid escape"},
    {L("a LOGIN \"a\0b\" x\r\n"), B, "NUL in quoted string"},
    {L("a LOGIN {3}\r\na\0b x\r\n"), B, "NUL in literal"},
    {"a LOGIN {10}\r\nabc\r\n", 0, B, "Literal extends past end"},
    {"a LOGIN {3} x\r\n", 0, B, "Literal announcement not at end of line"},
    {"a LOGIN {x}\r\nabc x\r\n", 0, B, "Invalid literal size"},
    {"a LOGIN {}\r\n x\r\n", 0, B, "literal size"},
    {"a LOGIN {99999999999999999999}\r\nx y\r\n", 0, B, "Number too large"},
    {"a LOGIN {9223372036854775808}\r\nx y\r\n", 0, B, "Number too large"},
    {"a LOGIN ~{3}\r\nabc x\r\n", 0, B, "literal8 not allowed"},
    {"a LOGIN {3+\r\nabc x\r\n", 0, B, "Invalid literal"},
    {"a LOGIN {3}}\r\nabc x\r\n", 0, B, "Literal announcement not at end"},
    {"a LOGIN joe  secret\r\n", 0, B, "Missing password"},
    {"a LOGIN joe\tsecret\r\n", 0, B, "Unexpected characters before password"},
    {"a LOGIN jo%e x\r\n", 0, B, "Unexpected characters before password"},
    {"a LOGIN \xff x\r\n", 0, B, "Invalid user name"},
    {"a LOGIN ~{x x\r\n", 0, B, "literal8 not allowed"},
    {"a LOGIN joe \"x\r\ny\"\r\n", 0, B, "Unterminated quoted string"},
    /* AUTHENTICATE */
    {"a AUTHENTICATE\r\n", 0, B, "Missing authentication mechanism"},
    {"a AUTHENTICATE PLAIN \r\n", 0, B, "Missing initial response"},
    {"a AUTHENTICATE PLAIN abc\r\n", 0, B, "not base64"},
    {"a AUTHENTICATE PLAIN ab=c\r\n", 0, B, "not base64"},
    {"a AUTHENTICATE PLAIN ====\r\n", 0, B, "not base64"},
    {"a AUTHENTICATE PLAIN dGVzdA== x\r\n", 0, B, "Unexpected characters"},
    {"a AUTHENTICATE \"PLAIN\"\r\n", 0, B, "Invalid authentication mechanism"},
    {"a AUTHENTICATE PLAIN a*==\r\n", 0, B, "not base64"},
    {"a AUTHENTICATE PLAIN {4}\r\nAAAA\r\n", 0, B, "Invalid initial response"},
    /* ENABLE */
    {"a ENABLE\r\n", 0, B, "Missing capability name"},
    {"a ENABLE \r\n", 0, B, "Missing capability name"},
    {"a ENABLE CONDSTORE \r\n", 0, B, "Missing capability name"},
    {"a ENABLE (CONDSTORE)\r\n", 0, B, "Invalid capability name"},
    {"a ENABLE \"X\"\r\n", 0, B, "Invalid capability name"},
    /* ID */
    {"a ID\r\n", 0, B, "Missing ID parameter list"},
    {"a ID foo\r\n", 0, B, "Invalid ID parameter list"},
    {"a ID (\"a\")\r\n", 0, B, "ID field value"},
    {"a ID (\"a\" \"b\" \"c\")\r\n", 0, B, "ID field value"},
    {"a ID (a b)\r\n", 0, B, "Invalid ID field name"},
    {"a ID (\"a\" b)\r\n", 0, B, "Invalid ID field value"},
    {"a ID (\"a\" \"b\"\r\n", 0, B, "Missing ID field"},
    {"a ID (\"0123456789012345678901234567890\" NIL)\r\n", 0, B,
     "ID field name too long"},
    {"a ID NIL x\r\n", 0, B, "Unexpected characters after command"},
    {"a ID NILX\r\n", 0, B, "Invalid ID parameter list"},
    {"a ID () \r\n", 0, B, "Trailing space"},
    {"a ID (\"a\"  \"b\")\r\n", 0, B, "ID field value"},
    /* SELECT / EXAMINE */
    {"a SELECT\r\n", 0, B, "Missing mailbox name"},
    {"a SELECT \r\n", 0, B, "Missing mailbox name"},
    {"a SELECT INBOX extra\r\n", 0, B, "Invalid SELECT parameters"},
    {"a SELECT INBOX ()\r\n", 0, B, "SELECT parameter"},
    {"a SELECT INBOX (FOO)\r\n", 0, B,
     "Unknown or repeated SELECT parameter FOO"},
    {"a SELECT INBOX (CONDSTORE CONDSTORE)\r\n", 0, B, "repeated"},
    {"a SELECT INBOX (CONDSTORE\r\n", 0, B, "Invalid SELECT parameters"},
    {"a SELECT INBOX (QRESYNC)\r\n", 0, B, "QRESYNC parameters"},
    {"a SELECT INBOX (QRESYNC (0 5))\r\n", 0, B, "Invalid UIDVALIDITY"},
    {"a SELECT INBOX (QRESYNC (1 0))\r\n", 0, B, "Invalid mod-sequence 0"},
    {"a SELECT INBOX (QRESYNC (1))\r\n", 0, B, "mod-sequence"},
    {"a SELECT INBOX (QRESYNC (1 2 *))\r\n", 0, B, "'*' not allowed"},
    {"a SELECT INBOX (QRESYNC (1 2 1:5 (1:5)))\r\n", 0, B, "known UID set"},
    {"a SELECT INBOX (QRESYNC (1 2 1:5 (1 2) 3))\r\n", 0, B,
     "Invalid QRESYNC parameters"},
    {"a SELECT INBOX (QRESYNC (4294967296 2))\r\n", 0, B, "Number too large"},
    {"a SELECT INBOX (QRESYNC (1 9223372036854775808))\r\n", 0, B,
     "Number too large"},
    {"a SELECT INBOX (QRESYNC (1 2 $))\r\n", 0, B, "Invalid sequence set"},
    {"a EXAMINE\r\n", 0, B, "Missing mailbox name"},
    {"a SELECT (x)\r\n", 0, B, "Invalid mailbox name"},
    /* CREATE / DELETE / RENAME / (UN)SUBSCRIBE */
    {"a CREATE\r\n", 0, B, "Missing mailbox name"},
    {"a CREATE x (FOO)\r\n", 0, B, "Unknown or repeated CREATE parameter FOO"},
    {"a CREATE x (USE)\r\n", 0, B, "USE attributes"},
    {"a CREATE x (USE (Sent))\r\n", 0, B, "Invalid USE attribute"},
    {"a CREATE x (USE (\\Sent)\r\n", 0, B, "Invalid CREATE parameters"},
    {"a CREATE x (USE () USE ())\r\n", 0, B, "repeated"},
    {"a CREATE x (USE (\\Sent  \\Junk))\r\n", 0, B, "USE attribute"},
    {"a CREATE x y\r\n", 0, B, "Invalid CREATE parameters"},
    {"a DELETE\r\n", 0, B, "Missing mailbox name"},
    {"a DELETE a b\r\n", 0, B, "Unexpected characters after command"},
    {"a RENAME a\r\n", 0, B, "Missing new mailbox name"},
    {"a RENAME a b c\r\n", 0, B, "Unexpected characters after command"},
    {"a RENAME \"a\"b c\r\n", 0, B, "before new mailbox name"},
    {"a SUBSCRIBE\r\n", 0, B, "Missing mailbox name"},
    {"a UNSUBSCRIBE (a)\r\n", 0, B, "Invalid mailbox name"},
    {"a DELETE a%\r\n", 0, B, "Unexpected characters after command"},
    /* LIST / LSUB */
    {"a LIST\r\n", 0, B, "Missing reference name"},
    {"a LIST \"\"\r\n", 0, B, "Missing mailbox pattern"},
    {"a LIST \"\" \r\n", 0, B, "Missing mailbox pattern"},
    {"a LIST (FOO) \"\" *\r\n", 0, B, "Unknown LIST selection option FOO"},
    {"a LIST (RECURSIVEMATCH) \"\" *\r\n", 0, B,
     "RECURSIVEMATCH requires SUBSCRIBED"},
    {"a LIST (REMOTE RECURSIVEMATCH) \"\" *\r\n", 0, B,
     "RECURSIVEMATCH requires"},
    {"a LIST (SUBSCRIBED)\"\" *\r\n", 0, B, "reference name"},
    {"a LIST \"\" * RETURN (FOO)\r\n", 0, B, "Unknown LIST return option FOO"},
    {"a LIST \"\" * RETURN\r\n", 0, B, "Missing LIST return options"},
    {"a LIST \"\" * RETURN (STATUS)\r\n", 0, B, "STATUS items"},
    {"a LIST \"\" * RETURN (STATUS ())\r\n", 0, B, "STATUS item"},
    {"a LIST \"\" * FOO\r\n", 0, B, "Unexpected characters after LIST"},
    {"a LIST \"\" ()\r\n", 0, B, "mailbox pattern"},
    {"a LIST \"\" (* %\r\n", 0, B, "mailbox pattern"},
    {"a LIST \"\" * RETURN (CHILDREN\r\n", 0, B, "Missing return option"},
    {"a LSUB \"\"\r\n", 0, B, "Missing mailbox pattern"},
    {"a LSUB \"\" * x\r\n", 0, B, "Unexpected characters after command"},
    {"a LSUB () \"\" *\r\n", 0, B, "Invalid reference name"},
    {"a LIST \"\" a(b\r\n", 0, B, "Unexpected characters after command"},
    /* STATUS */
    {"a STATUS INBOX\r\n", 0, B, "Missing STATUS items"},
    {"a STATUS INBOX ()\r\n", 0, B, "STATUS item"},
    {"a STATUS INBOX (MESSAGES FOO)\r\n", 0, B, "Unknown STATUS item FOO"},
    {"a STATUS INBOX MESSAGES\r\n", 0, B, "Invalid STATUS item list"},
    {"a STATUS INBOX (MESSAGES\r\n", 0, B, "Invalid STATUS item list"},
    {"a STATUS (MESSAGES)\r\n", 0, B, "Invalid mailbox name"},
    /* APPEND */
    {"a APPEND\r\n", 0, B, "Missing mailbox name"},
    {"a APPEND INBOX\r\n", 0, B, "Missing message literal"},
    {"a APPEND INBOX \"hello\"\r\n", 0, B, "Invalid date-time"},
    {"a APPEND INBOX hello\r\n", 0, B, "Invalid message literal"},
    {"a APPEND INBOX (\\Seen)\r\n", 0, B, "Missing message literal"},
    {"a APPEND INBOX (\\Recent) {1}\r\nx\r\n", 0, B, "\\Recent can't be set"},
    {"a APPEND INBOX (\\Foo) {1}\r\nx\r\n", 0, B, "Unknown system flag \\Foo"},
    {"a APPEND INBOX (\\Seen {1}\r\nx\r\n", 0, B, "Invalid flag"},
    {"a APPEND INBOX \"32-Jan-2020 00:00:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"29-Feb-2021 00:00:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"31-Apr-2021 00:00:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"01-Foo-2020 00:00:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"01-Jan-2020 24:00:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"01-Jan-2020 00:60:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"01-Jan-2020 00:00:61 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"01-Jan-2020 00:00:00 0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"1-Jan-2020 00:00:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"01-Jan-2020 00:00:00 +0060\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"01-Jan-20 00:00:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"00-Jan-2020 00:00:00 +0000\" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX \"01-Jan-2020 00:00:00 +0000 \" {1}\r\nx\r\n", 0, B,
     "Invalid date-time"},
    {"a APPEND INBOX {1}\r\nx {1}\r\ny\r\n", 0, B,
     "Unexpected characters after command"},
    {L("a APPEND INBOX {3}\r\na\0b\r\n"), B, "NUL in literal"},
    {"a APPEND INBOX {5}\r\nab\r\n", 0, B, "Literal extends past end"},
    {"a APPEND INBOX () \"01-Jan-2020 00:00:00 +0000\"\r\n", 0, B,
     "Missing message literal"},
    {"a APPEND INBOX \"01-Jan-2020 00:00:00 +0000\" (\\Seen) {1}\r\nx\r\n", 0,
     B, "Invalid message literal"},
    {"a APPEND INBOX (\\Seen)(\\Seen) {1}\r\nx\r\n", 0, B,
     "Unexpected characters before message literal"},
    {"a APPEND INBOX (foo]) {1}\r\nx\r\n", 0, B,
     "Unexpected characters before flag"},
    {"a APPEND INBOX {1}\r\nx \r\n", 0, B, "Trailing space"},
    /* SEARCH */
    {"a SEARCH\r\n", 0, B, "Missing search criteria"},
    {"a SEARCH \r\n", 0, B, "Missing search criteria"},
    {"a SEARCH FOO\r\n", 0, B, "Unknown search key FOO"},
    {"a SEARCH SINCE\r\n", 0, B, "Missing argument to SINCE"},
    {"a SEARCH SINCE 1-Foo-2020\r\n", 0, B, "Invalid date"},
    {"a SEARCH SINCE 32-Jan-2020\r\n", 0, B, "Invalid date"},
    {"a SEARCH SINCE 1-Jan-20\r\n", 0, B, "Invalid date"},
    {"a SEARCH SINCE 1-Jan-20201\r\n", 0, B, "Invalid date"},
    {"a SEARCH SINCE \"1-Jan-2020\r\n", 0, B, "Invalid date"},
    {"a SEARCH SINCE 0-Jan-2020\r\n", 0, B, "Invalid date"},
    {"a SEARCH SINCE 123-Jan-2020\r\n", 0, B, "Invalid date"},
    {"a SEARCH SINCE 29-Feb-1900\r\n", 0, B, "Invalid date"},
    {"a SEARCH LARGER\r\n", 0, B, "Missing argument to LARGER"},
    {"a SEARCH LARGER x\r\n", 0, B, "Invalid size"},
    {"a SEARCH LARGER 9223372036854775808\r\n", 0, B, "Number too large"},
    {"a SEARCH UID\r\n", 0, B, "Missing argument to UID"},
    {"a SEARCH UID x\r\n", 0, B, "Invalid sequence set"},
    {"a SEARCH 0\r\n", 0, B, "sequence set"},
    {"a SEARCH 01\r\n", 0, B, "sequence set"},
    {"a SEARCH 4294967296\r\n", 0, B, "Number too large"},
    {"a SEARCH 1:\r\n", 0, B, "Invalid sequence set"},
    {"a SEARCH 1,\r\n", 0, B, "Invalid sequence set"},
    {"a SEARCH 1::2\r\n", 0, B, "Invalid sequence set"},
    {"a SEARCH $,1\r\n", 0, B, "Invalid sequence set"},
    {"a SEARCH 1:2:3\r\n", 0, B, "Invalid sequence set"},
    {"a SEARCH NOT\r\n", 0, B, "Missing argument to NOT"},
    {"a SEARCH OR SEEN\r\n", 0, B, "Missing search key"},
    {"a SEARCH (SEEN\r\n", 0, B, "Missing ')'"},
    {"a SEARCH ()\r\n", 0, B, "Invalid search key"},
    {"a SEARCH SEEN)\r\n", 0, B, "Unexpected characters after command"},
    {"a SEARCH SEEN  DELETED\r\n", 0, B, "Missing search key"},
    {"a SEARCH SEEN \r\n", 0, B, "Missing search key"},
    {"a SEARCH HEADER Subject\r\n", 0, B, "Missing header value"},
    {"a SEARCH KEYWORD \\Seen\r\n", 0, B, "Invalid keyword"},
    {"a SEARCH CHARSET\r\n", 0, B, "Missing charset"},
    {"a SEARCH CHARSET UTF-8\r\n", 0, B, "Missing search criteria"},
    {"a SEARCH RETURN (FOO) ALL\r\n", 0, B, "Unknown SEARCH RETURN option FOO"},
    {"a SEARCH RETURN ALL\r\n", 0, B, "Invalid SEARCH RETURN options"},
    {"a SEARCH RETURN (MIN)\r\n", 0, B, "Missing search criteria"},
    {"a SEARCH MODSEQ\r\n", 0, B, "Missing argument to MODSEQ"},
    {"a SEARCH MODSEQ \"/flags/\\\\Seen\" 5\r\n", 0, B,
     "Invalid MODSEQ entry type"},
    {"a SEARCH MODSEQ \"/foo\" all 5\r\n", 0, B, "Invalid MODSEQ entry name"},
    {"a SEARCH MODSEQ x\r\n", 0, B, "Invalid mod-sequence"},
    {"a SEARCH SUBJECT\r\n", 0, B, "Missing argument to SUBJECT"},
    {"a SEARCH SUBJECT ~{1}\r\nx\r\n", 0, B, "literal8 not allowed"},
    {"a SEARCH (((((((((((((((((ALL)))))))))))))))))\r\n", 0, B,
     "Too deeply nested"},
    {"a SEARCH NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT"
     " NOT ALL\r\n",
     0, B, "Too deeply nested"},
    {"a UID SEARCH UID 1:5 \r\n", 0, B, "Missing search key"},
    {"a SEARCH SINCE 1-Jan-2020x\r\n", 0, B, "Invalid date"},
    {"a SEARCH ALL RETURN (MIN)\r\n", 0, B, "Unknown search key RETURN"},
    /* FETCH */
    {"a FETCH\r\n", 0, B, "Missing sequence set"},
    {"a FETCH 1\r\n", 0, B, "Missing FETCH attributes"},
    {"a FETCH 1 FOO\r\n", 0, B, "Unknown FETCH attribute FOO"},
    {"a FETCH 1 (FLAGS FOO)\r\n", 0, B, "Unknown FETCH attribute FOO"},
    {"a FETCH 1 ()\r\n", 0, B, "Invalid FETCH attribute"},
    {"a FETCH 1 (FLAGS\r\n", 0, B, "Missing FETCH attribute"},
    {"a FETCH 1 (ALL)\r\n", 0, B, "FETCH macros can't be in a list"},
    {"a FETCH 1 BODY[\r\n", 0, B, "Invalid section"},
    {"a FETCH 1 BODY[FOO]\r\n", 0, B, "Invalid section FOO"},
    {"a FETCH 1 BODY[MIME]\r\n", 0, B, "Invalid section MIME"},
    {"a FETCH 1 BODY[0]\r\n", 0, B, "section part number"},
    {"a FETCH 1 BODY[1.]\r\n", 0, B, "Invalid section"},
    {"a FETCH 1 BODY[1..2]\r\n", 0, B, "Invalid section"},
    {"a FETCH 1 BODY[HEADER.FIELDS]\r\n", 0, B, "header field list"},
    {"a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", 0, B, "header field name"},
    {"a FETCH 1 BODY[HEADER.FIELDS (From]\r\n", 0, B,
     "Invalid header field list"},
    {"a FETCH 1 BODY[TEXT]<>\r\n", 0, B, "partial offset"},
    {"a FETCH 1 BODY[]<0>\r\n", 0, B, "Invalid partial"},
    {"a FETCH 1 BODY[]<0.0>\r\n", 0, B, "partial length"},
    {"a FETCH 1 BODY[]<0.1\r\n", 0, B, "Invalid partial"},
    {"a FETCH 1 BODY.PEEK\r\n", 0, B, "Missing section after BODY.PEEK"},
    {"a FETCH 1 BINARY\r\n", 0, B, "Missing section after BINARY"},
    {"a FETCH 1 BINARY[HEADER]\r\n", 0, B, "Invalid section"},
    {"a FETCH 1 BINARY[1.TEXT]\r\n", 0, B, "Invalid section"},
    {"a FETCH 1 BINARY.SIZE[1]<0.5>\r\n", 0, B, "No partial allowed"},
    {"a FETCH 1 FLAGS[]\r\n", 0, B, "No section allowed after FLAGS"},
    {"a FETCH 1 RFC822.FOO\r\n", 0, B, "Unknown FETCH attribute RFC822.FOO"},
    {"a FETCH 1 (FLAGS) (FOO)\r\n", 0, B,
     "Unknown or repeated FETCH modifier FOO"},
    {"a FETCH 1 (FLAGS) (CHANGEDSINCE)\r\n", 0, B, "mod-sequence"},
    {"a FETCH 1 (FLAGS) (CHANGEDSINCE 0)\r\n", 0, B, "Invalid mod-sequence 0"},
    {"a FETCH 1 (FLAGS) (VANISHED)\r\n", 0, B, "VANISHED requires UID FETCH"},
    {"a UID FETCH 1 (FLAGS) (VANISHED)\r\n", 0, B, "VANISHED requires"},
    {"a FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n", 0, B,
     "VANISHED requires"},
    {"a UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n", 0, B,
     "repeated"},
    {"a FETCH 1 FLAGS UID\r\n", 0, B, "Invalid FETCH modifiers"},
    {"a FETCH * \r\n", 0, B, "Missing FETCH attribute"},
    {"a FETCH 1 ALLX\r\n", 0, B, "Unknown FETCH attribute ALLX"},
    {"a FETCH 1 body[header.fields.not ]\r\n", 0, B,
     "Invalid header field list"},
    {"a FETCH 1 BODY[]<9223372036854775808.1>\r\n", 0, B, "Number too large"},
    {"a FETCH 1 BODY[4294967296]\r\n", 0, B, "Number too large"},
    {"a FETCH 1 BODY[1.01]\r\n", 0, B, "section part number"},
    {"a FETCH 1,2 (FLAGS) \r\n", 0, B, "Invalid FETCH modifiers"},
    /* STORE */
    {"a STORE\r\n", 0, B, "Missing sequence set"},
    {"a STORE 1\r\n", 0, B, "Missing STORE item"},
    {"a STORE 1 FLAGS\r\n", 0, B, "Missing flags"},
    {"a STORE 1 FOO (\\Seen)\r\n", 0, B, "Unknown STORE item FOO"},
    {"a STORE 1 +FLAGS.LOUD (\\Seen)\r\n", 0, B, "Unknown STORE item"},
    {"a STORE 1 FLAGS (\\Recent)\r\n", 0, B, "\\Recent can't be set"},
    {"a STORE 1 FLAGS \\Bogus\r\n", 0, B, "Unknown system flag \\Bogus"},
    {"a STORE 1 FLAGS (\\Seen\r\n", 0, B, "Missing flag"},
    {"a STORE 1 FLAGS (\"Seen\")\r\n", 0, B, "Invalid flag"},
    {"a STORE 1 FLAGS \\\r\n", 0, B, "Missing flag"},
    {"a STORE 1 FLAGS \\Seen \r\n", 0, B, "Missing flag"},
    {"a STORE 1 (UNCHANGEDSINCE) FLAGS ()\r\n", 0, B, "mod-sequence"},
    {"a STORE 1 (FOO 1) FLAGS ()\r\n", 0, B,
     "Unknown or repeated STORE modifier FOO"},
    {"a STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()\r\n", 0, B,
     "repeated"},
    {"a STORE 1 (UNCHANGEDSINCE 1)FLAGS ()\r\n", 0, B, "STORE item"},
    {"a STORE 1 FLAGS () x\r\n", 0, B, "Unexpected characters after command"},
    {"a STORE 1 FLAGS (\\Seen)(\\Deleted)\r\n", 0, B,
     "Unexpected characters after command"},
    {"a STORE 1 FLAGS (*)\r\n", 0, B, "Invalid flag"},
    {"a STORE 1 FLAGS.SILENT+ ()\r\n", 0, B, "Unknown STORE item"},
    /* COPY / MOVE / UID EXPUNGE */
    {"a COPY\r\n", 0, B, "Missing sequence set"},
    {"a COPY 1\r\n", 0, B, "Missing mailbox name"},
    {"a COPY 1 \r\n", 0, B, "Missing mailbox name"},
    {"a MOVE x INBOX\r\n", 0, B, "Invalid sequence set"},
    {"a UID MOVE 1:* \r\n", 0, B, "Missing mailbox name"},
    {"a COPY 1 a b\r\n", 0, B, "Unexpected characters after command"},
    {"a UID EXPUNGE x\r\n", 0, B, "Invalid sequence set"},
    {"a UID EXPUNGE 1 2\r\n", 0, B, "Unexpected characters after command"},
    {"a COPY 1:0 x\r\n", 0, B, "sequence set"},
    {"a COPY -1 x\r\n", 0, B, "Invalid sequence set"},
    {"a COPY 1,,2 x\r\n", 0, B, "Invalid sequence set"},
    {"a COPY 1.5 x\r\n", 0, B, "Invalid sequence set"},
};

START_TEST(test_bad)
{
    const struct bad_case *b = &bad[_i];
    size_t len = b->len ? b->len : strlen(b->in);
    struct imap_command c;
    const char *err;
    enum parse_result r = parse_n(b->in, len, NULL, &c, &err);
    ck_assert_msg(r == b->r, "input %s: result %d want %d (%s)", b->in, r, b->r,
                  err ? err : "");
    ck_assert_msg(strstr(err, b->reason),
                  "input %s: reason \"%s\" lacks "
                  "\"%s\"",
                  b->in, err, b->reason);
    if (r == PARSE_BAD_TAG)
        ck_assert_ptr_null(c.tag.s);
    else
        ck_assert_str_eq(c.tag.s, "a");
    if (r == PARSE_UNKNOWN)
        ck_assert_int_eq(c.type, CMD_UNKNOWN);
    arena_reset(&arena);
}
END_TEST

/* ---- details not covered by the tables ---- */

START_TEST(test_tags)
{
    static const char *const tags[] = {"A",  "1A", "a001", "a.b]c", "A_1-2",
                                       "~x", "$",  "&",    "x!#'",  "0"};
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        char in[64];
        struct imap_command c;
        const char *err;
        snprintf(in, sizeof(in), "%s NOOP\r\n", tags[i]);
        ck_assert_int_eq(parse_n(in, strlen(in), NULL, &c, &err), PARSE_OK);
        ck_assert_str_eq(c.tag.s, tags[i]);
        ck_assert_uint_eq(c.tag.len, strlen(tags[i]));
        ck_assert_int_eq(c.type, CMD_NOOP);
    }
    arena_reset(&arena);
}
END_TEST

START_TEST(test_bad_sets_type)
{
    struct imap_command c;
    const char *err;
    ck_assert_int_eq(parse_n(L("t1 uid fetch x\r\n"), NULL, &c, &err),
                     PARSE_BAD);
    ck_assert_int_eq(c.type, CMD_FETCH);
    ck_assert(c.uid);
    ck_assert_int_eq(parse_n(L("t2 login"), NULL, &c, &err), PARSE_BAD);
    ck_assert_int_eq(c.type, CMD_LOGIN);
    ck_assert_str_eq(err, "Missing CRLF at end of command");
    arena_reset(&arena);
}
END_TEST

START_TEST(test_echo_truncated)
{
    char in[300];
    struct imap_command c;
    const char *err;
    memcpy(in, "a ", 2);
    memset(in + 2, 'X', 200);
    memcpy(in + 202, "\r\n", 2);
    ck_assert_int_eq(parse_n(in, 204, NULL, &c, &err), PARSE_UNKNOWN);
    ck_assert_uint_eq(strlen(err), strlen("Unknown command ") + 40);
    memcpy(in, "a FETCH 1 ", 10);
    memset(in + 10, 'Y', 200);
    memcpy(in + 210, "\r\n", 2);
    ck_assert_int_eq(parse_n(in, 212, NULL, &c, &err), PARSE_BAD);
    ck_assert_uint_eq(strlen(err), strlen("Unknown FETCH attribute ") + 40);
    arena_reset(&arena);
}
END_TEST

/* Build "a <prefix><n times rep><suffix>\r\n" */
static char *build(const char *prefix, const char *rep, size_t n,
                   const char *suffix)
{
    size_t pl = strlen(prefix), rl = strlen(rep), sl = strlen(suffix);
    char *s = malloc(2 + pl + rl * n + sl + 3);
    char *q = s;
    memcpy(q, "a ", 2), q += 2;
    memcpy(q, prefix, pl), q += pl;
    for (size_t i = 0; i < n; i++)
        memcpy(q, rep, rl), q += rl;
    memcpy(q, suffix, sl), q += sl;
    memcpy(q, "\r\n", 3);
    return s;
}

static enum parse_result parse_s(const char *s, const struct parser_limits *lim,
                                 struct imap_command *c, const char **err)
{
    return parse_n(s, strlen(s), lim, c, err);
}

START_TEST(test_depth_limit)
{
    struct imap_command c;
    const char *err;
    /* 16 levels pass by default, 17 do not */
    char *s = build("SEARCH ", "NOT ", 16, "ALL");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_OK);
    free(s);
    s = build("SEARCH ", "(", 16, "ALL))))))))))))))))");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_OK);
    free(s);
    s = build("SEARCH ", "OR ALL ", 17, "ALL");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_BAD);
    ck_assert_str_eq(err, "Too deeply nested");
    free(s);
    /* a custom limit; a huge nesting fails cleanly (no recursion blow-up) */
    struct parser_limits lim = {.max_depth = 3};
    ck_assert_int_eq(parse_s("a SEARCH NOT (NOT ALL)\r\n", &lim, &c, &err),
                     PARSE_OK);
    ck_assert_int_eq(parse_s("a SEARCH NOT (NOT (ALL))\r\n", &lim, &c, &err),
                     PARSE_BAD);
    s = build("SEARCH ", "(", 100000, "ALL");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_BAD);
    ck_assert_str_eq(err, "Too deeply nested");
    free(s);
    s = build("SEARCH ", "NOT ", 100000, "ALL");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_BAD);
    free(s);
    arena_reset(&arena);
}
END_TEST

START_TEST(test_items_limit)
{
    struct imap_command c;
    const char *err;
    struct parser_limits lim = {.max_items = 5};
    ck_assert_int_eq(parse_s("a FETCH 1,2,3,4,5 FLAGS\r\n", &lim, &c, &err),
                     PARSE_OK);
    ck_assert_uint_eq(c.u.fetch.set.count, 5);
    ck_assert_int_eq(parse_s("a FETCH 1,2,3,4,5,6 FLAGS\r\n", &lim, &c, &err),
                     PARSE_BAD);
    ck_assert_str_eq(err, "Too many items in list");
    ck_assert_int_eq(parse_s("a SEARCH 1 2 3 4 5 6\r\n", &lim, &c, &err),
                     PARSE_BAD);
    ck_assert_str_eq(err, "Too many items in list");
    ck_assert_int_eq(
        parse_s("a STORE 1 FLAGS (a b c d e f)\r\n", &lim, &c, &err),
        PARSE_BAD);
    ck_assert_int_eq(
        parse_s("a FETCH 1 (UID UID UID UID UID UID)\r\n", &lim, &c, &err),
        PARSE_BAD);
    ck_assert_int_eq(parse_s("a ENABLE A B C D E F\r\n", &lim, &c, &err),
                     PARSE_BAD);
    ck_assert_int_eq(parse_s("a FETCH 1 BODY[1.2.3.4.5.6]\r\n", &lim, &c, &err),
                     PARSE_BAD);
    /* the default allows 10000 */
    char *s = build("FETCH 1", ",1", 9999, " UID");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_OK);
    ck_assert_uint_eq(c.u.fetch.set.count, 10000);
    free(s);
    s = build("FETCH 1", ",1", 10000, " UID");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_BAD);
    free(s);
    arena_reset(&arena);
}
END_TEST

START_TEST(test_id_limits)
{
    struct imap_command c;
    const char *err;
    char *s = build("ID (", "\"k\" \"v\" ", 29, "\"k\" NIL)");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_OK);
    ck_assert_uint_eq(c.u.id.count, 30);
    ck_assert_ptr_null(c.u.id.pairs[29].value.s);
    free(s);
    s = build("ID (", "\"k\" \"v\" ", 30, "\"k\" NIL)");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_BAD);
    ck_assert_str_eq(err, "Too many ID fields (at most 30)");
    free(s);
    s = build("ID (\"012345678901234567890123456789\" \"", "v", 1024, "\")");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_OK);
    ck_assert_uint_eq(c.u.id.pairs[0].key.len, 30);
    ck_assert_uint_eq(c.u.id.pairs[0].value.len, 1024);
    free(s);
    s = build("ID (\"k\" \"", "v", 1025, "\")");
    ck_assert_int_eq(parse_s(s, NULL, &c, &err), PARSE_BAD);
    ck_assert_str_eq(err, "ID field value too long (at most 1024 bytes)");
    free(s);
    arena_reset(&arena);
}
END_TEST

START_TEST(test_fields)
{
    /* fields the dump shows indirectly, asserted directly */
    struct imap_command c;
    const char *err;
    ck_assert_int_eq(parse_s("x1 UID FETCH 5:*,7 (BODY.PEEK[1.2.HEADER.FIELDS"
                             " (From To)]<10.20>)\r\n",
                             NULL, &c, &err),
                     PARSE_OK);
    ck_assert(c.uid);
    ck_assert_int_eq(c.type, CMD_FETCH);
    ck_assert_uint_eq(c.u.fetch.set.count, 2);
    ck_assert_uint_eq(c.u.fetch.set.ranges[0].lo, 5);
    ck_assert_uint_eq(c.u.fetch.set.ranges[0].hi, 0);
    const struct fetch_att *a = &c.u.fetch.atts[0];
    ck_assert_int_eq(a->type, FA_BODY_SECTION);
    ck_assert(a->peek && a->partial);
    ck_assert_uint_eq(a->offset, 10);
    ck_assert_uint_eq(a->count, 20);
    ck_assert_uint_eq(a->section.part_count, 2);
    ck_assert_uint_eq(a->section.parts[1], 2);
    ck_assert_int_eq(a->section.spec, SEC_HEADER_FIELDS);
    ck_assert_str_eq(a->section.fields[1].s, "To");

    ck_assert_int_eq(parse_s("x2 APPEND a ~{3}\r\n\0\0\0\r\n", NULL, &c, &err),
                     PARSE_BAD); /* strlen cuts it */
    static const char app[] = "x3 APPEND a ~{3}\r\n\0\0\0\r\n";
    ck_assert_int_eq(parse_n(app, sizeof(app) - 1, NULL, &c, &err), PARSE_OK);
    ck_assert(c.u.append.binary);
    ck_assert_uint_eq(c.u.append.message.len, 3);

    ck_assert_int_eq(parse_s("x4 SEARCH OR 1:3 UID 2\r\n", NULL, &c, &err),
                     PARSE_OK);
    const struct search_key *k = &c.u.search.root.u.list.keys[0];
    ck_assert_int_eq(k->type, SK_OR);
    ck_assert_int_eq(k->u.sub[0]->type, SK_SEQSET);
    ck_assert_uint_eq(k->u.sub[0]->u.seqset.ranges[0].hi, 3);
    ck_assert_int_eq(k->u.sub[1]->type, SK_UID);

    ck_assert_int_eq(parse_s("x5 AUTHENTICATE PLAIN =\r\n", NULL, &c, &err),
                     PARSE_OK);
    ck_assert(c.u.authenticate.has_initial);
    ck_assert_uint_eq(c.u.authenticate.initial.len, 0);
    ck_assert_str_eq(c.u.authenticate.initial.s, "");
    arena_reset(&arena);
}
END_TEST

START_TEST(test_datetime)
{
    struct imap_datetime dt;
    struct imap_date d;
    ck_assert(parser_datetime(L("17-Jul-1996 02:44:25 -0700"), &dt));
    ck_assert_int_eq(dt.utc, 837596665);
    ck_assert_int_eq(dt.tz_min, -420);
    ck_assert(parser_datetime(L("\" 1-Mar-1900 12:00:00 +0000\""), &dt));
    ck_assert_int_eq(dt.utc, -2203848000LL);
    ck_assert(parser_datetime(L("1-Jan-1970"), &dt));
    ck_assert_int_eq(dt.utc, 0);
    ck_assert(!parser_datetime(L("17-Jul-1996 02:44:25"), &dt));
    ck_assert(!parser_datetime(L("17-Jul-1996 02:44:25 -07000"), &dt));
    ck_assert(!parser_datetime("", 0, &dt));
    ck_assert(!parser_datetime(L("\""), &dt));
    ck_assert(parser_date(L("29-feb-2024"), &d));
    ck_assert_int_eq(d.year, 2024);
    ck_assert_int_eq(d.month, 2);
    ck_assert_int_eq(d.day, 29);
    ck_assert(!parser_date(L("29-Feb-2023"), &d));
    ck_assert(!parser_date(L("1-Jan-2020 "), &d));
    ck_assert(!parser_date(L("1-Ja-2020"), &d));
}
END_TEST

START_TEST(test_nomem)
{
    /* an arena with a tiny limit: PARSE_NOMEM, never a crash */
    struct arena small;
    struct imap_command c;
    const char *err;
    arena_init(&small, 64, 64);
    static const char in[] = "a LOGIN \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" b\r\n";
    ck_assert_int_eq(parser_parse(in, sizeof(in) - 1, NULL, &small, &c, &err),
                     PARSE_NOMEM);
    arena_free(&small);
}
END_TEST

/* ---- APPEND head (streamed message) ---- */

/* Every valid APPEND again, framed one byte at a time with its message
 * streamed: the head parsed at the message's announcement plus the streamed
 * bytes must give the same AST, and the command must end right after the
 * announcement with an empty line. */
START_TEST(test_valid_streamed)
{
    const struct valid_case *v = &valid[_i];
    size_t len = v->len ? v->len : strlen(v->in);
    struct imap_command c;
    const char *err;
    if (parse_n(v->in, len, NULL, &c, &err) != PARSE_OK ||
        c.type != CMD_APPEND) {
        arena_reset(&arena);
        return;
    }
    char whole[sizeof(dumped)];
    strcpy(whole, dump_n(v->in, len));

    struct framer f;
    struct framer_limits lim = {.max_line = 1024, .max_command = 4096};
    framer_init(&f, &lim);
    char *msg = malloc(len);
    size_t pos = 0, used, mlen = 0, hlen = 0, clen = 0;
    const char *cmd = NULL;
    int mores = 0;
    bool ok = false;
    while (pos < len && !cmd) {
        enum framer_event ev = framer_feed(&f, v->in + pos, 1, &used);
        pos += used;
        if (ev == FR_LITERAL) {
            ck_assert(!ok); /* nothing after the message */
            const char *h = framer_command_so_far(&f, &hlen);
            char *hc = malloc(hlen);
            memcpy(hc, h, hlen);
            enum parse_result r =
                parser_parse_append_head(hc, hlen, NULL, &arena, &c, &err);
            free(hc);
            ck_assert_str_eq(c.tag.s, "a");
            if (r == PARSE_MORE) {
                ck_assert_ptr_null(err);
                mores++;
                framer_accept_literal(&f);
                continue;
            }
            ck_assert_msg(r == PARSE_OK, "%s: %d %s", v->in, r, err);
            ck_assert_ptr_null(err);
            ck_assert_int_eq(c.type, CMD_APPEND);
            ck_assert_ptr_null(c.u.append.message.s);
            ck_assert_uint_eq(c.u.append.message.len, framer_literal(&f)->size);
            ck_assert(c.u.append.binary == framer_literal(&f)->binary);
            ok = true;
            framer_stream_literal(&f);
        } else if (ev == FR_LITERAL_DATA) {
            size_t n;
            const char *d = framer_literal_data(&f, &n);
            memcpy(msg + mlen, d, n);
            mlen += n;
        } else if (ev == FR_COMMAND) {
            cmd = framer_command(&f, &clen);
        } else {
            ck_assert_int_eq(ev, FR_NEED_MORE);
        }
    }
    ck_assert(ok);
    ck_assert_ptr_nonnull(cmd);
    ck_assert_uint_eq(pos, len);
    ck_assert_uint_eq(mlen, c.u.append.message.len);
    /* the head, then just a line end */
    ck_assert_uint_eq(clen, len - mlen);
    ck_assert(clen == hlen + 2 || clen == hlen + 1);
    ck_assert(!memcmp(cmd + hlen, "\r\n", clen - hlen) ||
              (clen == hlen + 1 && cmd[hlen] == '\n'));
    ck_assert_int_eq(mores, v->in[strlen("a APPEND ")] == '{');
    c.u.append.message.s = msg;
    struct out o = {.n = 0};
    o.s[0] = '\0';
    put_cmd(&o, &c);
    ck_assert_str_eq(o.s, whole);
    free(msg);
    framer_free(&f);
    arena_reset(&arena);
}
END_TEST

/* Parse a head from a private copy (ASan sees any read past it). */
static enum parse_result head_n(const char *in, size_t len,
                                struct imap_command *c, const char **err)
{
    char *buf = malloc(len ? len : 1);
    memcpy(buf, in, len);
    enum parse_result r =
        parser_parse_append_head(buf, len, NULL, &arena, c, err);
    free(buf);
    if (r == PARSE_OK || r == PARSE_MORE) {
        ck_assert_ptr_null(*err);
    } else {
        ck_assert_ptr_nonnull(*err);
        for (const char *e = *err; *e; e++)
            ck_assert_msg(*e >= 0x20 && *e < 0x7f, "unprintable in reason");
    }
    return r;
}

struct head_case {
    const char *in;
    size_t len; /* 0: strlen */
    enum parse_result r;
    const char *dump; /* PARSE_OK: the AST, with the message as its size;
                         else the reason (a part of it) */
};

static const struct head_case heads[] = {
    /* mailbox as atom, quoted string, literal (then asked again) */
    {"A1 APPEND INBOX {5}\r\n", 0, PARSE_OK, "APPEND \"INBOX\" {5}"},
    {"A1 APPEND inBox {5}\r\n", 0, PARSE_OK, "APPEND \"INBOX\" {5}"},
    {"A1 APPEND Sent]x {5}\r\n", 0, PARSE_OK, "APPEND \"Sent]x\" {5}"},
    {"A1 APPEND \"Sent Items\" {5}\r\n", 0, PARSE_OK,
     "APPEND \"Sent Items\" {5}"},
    {"A1 APPEND \"\" {5}\r\n", 0, PARSE_OK, "APPEND \"\" {5}"},
    {"A1 APPEND {5}\r\n", 0, PARSE_MORE, NULL},
    {"A1 APPEND {5+}\r\n", 0, PARSE_MORE, NULL},
    {"A1 APPEND {0}\r\n", 0, PARSE_MORE, NULL},
    {"A1 APPEND {5}\r\nDraft {12}\r\n", 0, PARSE_OK, "APPEND \"Draft\" {12}"},
    {"A1 APPEND {0}\r\n {1}\r\n", 0, PARSE_OK, "APPEND \"\" {1}"},
    {"A1 APPEND {10-}\r\nMy\r\nDrafts (\\Draft) {2}\r\n", 0, PARSE_OK,
     "APPEND \"My\\x0d\\x0aDrafts\" (\\Draft) {2}"},
    /* flags, date, both */
    {"A1 APPEND INBOX (\\Seen $Junk) {5}\r\n", 0, PARSE_OK,
     "APPEND \"INBOX\" (\\Seen $Junk) {5}"},
    {"A1 APPEND INBOX () {5}\r\n", 0, PARSE_OK, "APPEND \"INBOX\" () {5}"},
    {"A1 APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" {5}\r\n", 0, PARSE_OK,
     "APPEND \"INBOX\" DATE=837596665/-420 {5}"},
    {"A1 APPEND INBOX (\\Flagged) \" 5-Jan-2021 10:00:00 +0100\" {5}\r\n", 0,
     PARSE_OK, "APPEND \"INBOX\" (\\Flagged) DATE=1609837200/60 {5}"},
    {"A1 APPEND {3}\r\nabc (\\Seen) \"01-Jan-1970 00:00:00 +0000\" {7}\r\n", 0,
     PARSE_OK, "APPEND \"abc\" (\\Seen) DATE=0/0 {7}"},
    /* literal8, non-synchronizing, LITERAL-, bare LF, sizes */
    {"A1 APPEND INBOX ~{5}\r\n", 0, PARSE_OK, "APPEND \"INBOX\" BINARY {5}"},
    {"A1 APPEND INBOX ~{5+}\r\n", 0, PARSE_OK, "APPEND \"INBOX\" BINARY {5}"},
    {"A1 APPEND INBOX {5+}\r\n", 0, PARSE_OK, "APPEND \"INBOX\" {5}"},
    {"A1 APPEND INBOX {5-}\r\n", 0, PARSE_OK, "APPEND \"INBOX\" {5}"},
    {"A1 APPEND INBOX {5}\n", 0, PARSE_OK, "APPEND \"INBOX\" {5}"},
    {"A1 APPEND INBOX {0}\r\n", 0, PARSE_OK, "APPEND \"INBOX\" {0}"},
    {"A1 APPEND INBOX {0052428800}\r\n", 0, PARSE_OK,
     "APPEND \"INBOX\" {52428800}"},
    {"a append x {4294967296}\r\n", 0, PARSE_OK, "APPEND \"x\" {4294967296}"},
    /* errors already visible */
    {"A1 APPEND INBOX (\\Bogus(x) {5}\r\n", 0, PARSE_BAD,
     "Unknown system flag \\Bogus"},
    {"A1 APPEND INBOX (\\Recent) {5}\r\n", 0, PARSE_BAD,
     "\\Recent can't be set"},
    {"A1 APPEND INBOX (\\Seen {5}\r\n", 0, PARSE_BAD, "Invalid flag"},
    {"A1 APPEND INBOX (\\Seen)(\\Seen) {5}\r\n", 0, PARSE_BAD,
     "Unexpected characters before message literal"},
    {"A1 APPEND {3}\r\nabc (\\Foo) {5}\r\n", 0, PARSE_BAD,
     "Unknown system flag \\Foo"},
    {"A1 APPEND INBOX \"32-Jan-2020 00:00:00 +0000\" {5}\r\n", 0, PARSE_BAD,
     "Invalid date-time"},
    {"A1 APPEND INBOX \"01-Jan-2020 00:00:00\" {5}\r\n", 0, PARSE_BAD,
     "Invalid date-time"},
    {"A1 APPEND INBOX \"01-Jan-2020 00:00:00 +0000\"(\\Seen) {5}\r\n", 0,
     PARSE_BAD, "message literal"},
    {"A1 APPEND  {5}\r\n", 0, PARSE_BAD, "Missing mailbox name"},
    {"A1 APPEND (\\Seen) {5}\r\n", 0, PARSE_BAD, "Invalid mailbox name"},
    {"A1 APPEND ~{5}\r\n", 0, PARSE_BAD, "literal8 not allowed"},
    {"A1 APPEND \"INBOX {5}\r\n", 0, PARSE_BAD, "Unterminated quoted"},
    {"A1 APPEND\r\n", 0, PARSE_BAD, "Missing mailbox name"},
    {"A1 APPEND INBOX\r\n", 0, PARSE_BAD, "Missing message literal"},
    {"A1 APPEND INBOX hello {5}\r\n", 0, PARSE_BAD, "Invalid message literal"},
    {"A1 APPEND INBOX {5}x\r\n", 0, PARSE_BAD, "not at end of line"},
    {"A1 APPEND INBOX {9223372036854775808}\r\n", 0, PARSE_BAD,
     "Number too large"},
    {"A1 APPEND INBOX {5}", 0, PARSE_BAD, "Missing CRLF"},
    {L("A1 APPEND {3}\r\na\0b {5}\r\n"), PARSE_BAD, "NUL in literal"},
    /* not what the framer gives here: the head must end at the message */
    {"A1 APPEND INBOX {5}\r\nhello\r\n", 0, PARSE_BAD,
     "Message literal not at end"},
    {"A1 APPEND {9}\r\nINBOX\r\n", 0, PARSE_BAD, "Literal extends past end"},
    /* other commands */
    {"A1 LOGIN {3}\r\n", 0, PARSE_BAD, "Not an APPEND command"},
    {"A1 UID APPEND x {3}\r\n", 0, PARSE_BAD, "Unknown UID command"},
    {"A1 XAPPEND x {3}\r\n", 0, PARSE_UNKNOWN, "Unknown command XAPPEND"},
    {"* APPEND x {3}\r\n", 0, PARSE_BAD_TAG, "Invalid tag"},
};

START_TEST(test_append_head)
{
    const struct head_case *h = &heads[_i];
    size_t len = h->len ? h->len : strlen(h->in);
    struct imap_command c;
    const char *err;
    enum parse_result r = head_n(h->in, len, &c, &err);
    ck_assert_msg(r == h->r, "input %s: result %d want %d (%s)", h->in, r, h->r,
                  err ? err : "");
    if (r == PARSE_BAD_TAG)
        ck_assert_ptr_null(c.tag.s);
    else
        ck_assert_str_eq(c.tag.s, h->in[0] == 'a' ? "a" : "A1");
    if (r == PARSE_OK) {
        ck_assert_int_eq(c.type, CMD_APPEND);
        ck_assert(!c.uid);
        ck_assert_ptr_null(c.u.append.message.s);
        /* dump it with the size in place of the message */
        size_t n = c.u.append.message.len;
        c.u.append.message.s = "";
        c.u.append.message.len = 0;
        struct out o = {.n = 0};
        o.s[0] = '\0';
        put_cmd(&o, &c);
        o.n -= 3; /* the empty message, ' ""' */
        put(&o, " {%zu}", n);
        ck_assert_msg(!strcmp(o.s, h->dump), "input %s: got %s want %s", h->in,
                      o.s, h->dump);
    } else if (r == PARSE_MORE) {
        ck_assert_int_eq(c.type, CMD_APPEND);
    } else {
        ck_assert_msg(strstr(err, h->dump),
                      "input %s: reason \"%s\" lacks \"%s\"", h->in, err,
                      h->dump);
        if (r == PARSE_BAD && !strncmp(h->in, "A1 APPEND", 9))
            ck_assert_int_eq(c.type, CMD_APPEND);
    }
    arena_reset(&arena);
}
END_TEST

/* The full command still parses as before, message pointing into it; the
 * head of the same command agrees with it. */
START_TEST(test_append_full_and_head)
{
    static const char in[] =
        "t APPEND {5}\r\nDraft (\\Seen kw) \"01-Jan-1970 00:00:00 +0000\" "
        "~{6+}\r\nab\0\r\nc\r\n";
    size_t hlen = sizeof(in) - 1 - 8;
    struct imap_command c, h;
    const char *err;
    ck_assert_int_eq(parser_parse(in, sizeof(in) - 1, NULL, &arena, &c, &err),
                     PARSE_OK);
    ck_assert_int_eq(c.type, CMD_APPEND);
    ck_assert_ptr_eq(c.u.append.message.s, in + hlen);
    ck_assert_uint_eq(c.u.append.message.len, 6);
    ck_assert(c.u.append.binary);
    /* the head alone, as the framer would give it at each literal */
    ck_assert_int_eq(parser_parse_append_head(in, 14, NULL, &arena, &h, &err),
                     PARSE_MORE);
    ck_assert_int_eq(parser_parse_append_head(in, hlen, NULL, &arena, &h, &err),
                     PARSE_OK);
    ck_assert_str_eq(h.u.append.mailbox.s, c.u.append.mailbox.s);
    ck_assert(h.u.append.has_flags && h.u.append.has_date);
    ck_assert_uint_eq(h.u.append.flags.sys, c.u.append.flags.sys);
    ck_assert_uint_eq(h.u.append.flags.keyword_count, 1);
    ck_assert_str_eq(h.u.append.flags.keywords[0].s, "kw");
    ck_assert_int_eq(h.u.append.date.utc, 0);
    ck_assert(h.u.append.binary);
    ck_assert_ptr_null(h.u.append.message.s);
    ck_assert_uint_eq(h.u.append.message.len, 6);
    /* out of memory in the head */
    struct arena tiny;
    arena_init(&tiny, 16, 16);
    static const char big[] =
        "t APPEND {40}\r\n"
        "0123456789012345678901234567890123456789 {1}\r\n";
    ck_assert_int_eq(
        parser_parse_append_head(big, sizeof(big) - 1, NULL, &tiny, &h, &err),
        PARSE_NOMEM);
    arena_free(&tiny);
    arena_reset(&arena);
}
END_TEST

static Suite *parser_suite(void)
{
    Suite *s = suite_create("parser");
    TCase *tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_valid, 0, sizeof(valid) / sizeof(valid[0]));
    tcase_add_loop_test(tc, test_valid_framed, 0,
                        sizeof(valid) / sizeof(valid[0]));
    tcase_add_loop_test(tc, test_valid_streamed, 0,
                        sizeof(valid) / sizeof(valid[0]));
    tcase_add_test(tc, test_tags);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_datetime);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, test_bad_sets_type);
    tcase_add_test(tc, test_echo_truncated);
    suite_add_tcase(s, tc);

    tc = tcase_create("append_head");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_append_head, 0,
                        sizeof(heads) / sizeof(heads[0]));
    tcase_add_test(tc, test_append_full_and_head);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_depth_limit);
    tcase_add_test(tc, test_items_limit);
    tcase_add_test(tc, test_id_limits);
    tcase_add_test(tc, test_nomem);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parser_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
