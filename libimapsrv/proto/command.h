/* The parsed form of one IMAP command (RFC 9051 / RFC 3501 and the
 * extensions libimapsrv speaks).  Produced by parser_parse() into an arena;
 * every pointer lives as long as the arena and the command buffer. */
#ifndef IMAPSRV_PROTO_COMMAND_H
#define IMAPSRV_PROTO_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string as sent (quoted strings unescaped, literals as-is).  Always
 * NUL-terminated; `len` counts bytes and may include NULs (literal8). */
struct imap_str {
    const char *s;
    size_t len;
};

enum imap_cmd_type {
    CMD_UNKNOWN = 0,
    /* any state */
    CMD_CAPABILITY,
    CMD_NOOP,
    CMD_LOGOUT,
    CMD_ID,
    /* not authenticated */
    CMD_STARTTLS,
    CMD_AUTHENTICATE,
    CMD_LOGIN,
    /* authenticated */
    CMD_ENABLE,
    CMD_SELECT,
    CMD_EXAMINE,
    CMD_CREATE,
    CMD_DELETE,
    CMD_RENAME,
    CMD_SUBSCRIBE,
    CMD_UNSUBSCRIBE,
    CMD_LIST,
    CMD_LSUB,
    CMD_NAMESPACE,
    CMD_STATUS,
    CMD_APPEND,
    CMD_IDLE,
    /* selected */
    CMD_CHECK,
    CMD_CLOSE,
    CMD_UNSELECT,
    CMD_EXPUNGE,
    CMD_SEARCH,
    CMD_FETCH,
    CMD_STORE,
    CMD_COPY,
    CMD_MOVE,
    CMD_COUNT_ /* number of types */
};

/* Sequence set.  0 stands for '*' (0 is never a valid number). */
struct imap_range {
    uint32_t lo, hi; /* as sent: lo may be > hi, either may be 0 ('*') */
};
struct imap_seqset {
    struct imap_range *ranges;
    size_t count;
    bool saved; /* "$" (SEARCHRES): the saved result; ranges empty */
};

/* System flags as bits; the same values as enum imapsrv_flag. */
enum imap_sysflag {
    FLAG_SEEN = 1u << 0,
    FLAG_ANSWERED = 1u << 1,
    FLAG_FLAGGED = 1u << 2,
    FLAG_DELETED = 1u << 3,
    FLAG_DRAFT = 1u << 4,
    FLAG_RECENT = 1u << 5,
};
struct imap_flags {
    unsigned sys;
    struct imap_str *keywords; /* atoms without a leading backslash */
    size_t keyword_count;
};

struct imap_date {        /* a date-text (SEARCH SINCE etc.) */
    int year, month, day; /* month 1-12 */
};

struct imap_datetime { /* a date-time (APPEND) */
    int64_t utc;       /* seconds since the epoch */
    int tz_min;        /* zone offset in minutes, e.g. +0200 -> 120 */
};

/* ---- SEARCH ---- */
enum search_key_type {
    SK_ALL,
    SK_ANSWERED,
    SK_DELETED,
    SK_DRAFT,
    SK_FLAGGED,
    SK_SEEN,
    SK_RECENT,
    SK_NEW,
    SK_OLD,
    SK_UNANSWERED,
    SK_UNDELETED,
    SK_UNDRAFT,
    SK_UNFLAGGED,
    SK_UNSEEN,
    SK_KEYWORD,
    SK_UNKEYWORD, /* u.str */
    SK_BCC,
    SK_BODY,
    SK_CC,
    SK_FROM,
    SK_SUBJECT,
    SK_TEXT,
    SK_TO,     /* u.str */
    SK_HEADER, /* u.header */
    SK_BEFORE,
    SK_ON,
    SK_SINCE, /* u.date */
    SK_SENTBEFORE,
    SK_SENTON,
    SK_SENTSINCE, /* u.date */
    SK_LARGER,
    SK_SMALLER, /* u.number */
    SK_UID,
    SK_SEQSET, /* u.seqset */
    SK_MODSEQ, /* u.modseq (u.number is its value) */
    SK_NOT,    /* u.sub[0] */
    SK_OR,     /* u.sub[0], u.sub[1] */
    SK_AND,    /* u.list (parentheses) */
};

enum search_modseq_entry { /* SEARCH MODSEQ entry-type-req (RFC 7162) */
                           SME_NONE,
                           SME_PRIV,
                           SME_SHARED,
                           SME_ALL,
};

struct search_key {
    enum search_key_type type;
    union {
        struct imap_str str;
        struct {
            struct imap_str field, value;
        } header;
        struct imap_date date;
        uint64_t number;
        struct imap_seqset seqset;
        struct {
            uint64_t value;        /* first: shares u.number's storage */
            struct imap_str entry; /* "/flags/\\Seen" unquoted; s NULL if
                                      absent */
            enum search_modseq_entry entry_type;
        } modseq;
        struct search_key *sub[2];
        struct {
            struct search_key *keys;
            size_t count;
        } list;
    } u;
};

enum search_return { /* ESEARCH RETURN options, bits */
                     SRET_MIN = 1u << 0,
                     SRET_MAX = 1u << 1,
                     SRET_ALL = 1u << 2,
                     SRET_COUNT = 1u << 3,
                     SRET_SAVE = 1u << 4,
};

struct cmd_search {
    bool has_return;         /* RETURN (...) given: answer with ESEARCH */
    unsigned ret;            /* enum search_return; RETURN () means ALL */
    struct imap_str charset; /* s == NULL when absent */
    struct search_key root;  /* SK_AND of the top-level keys */
};

/* ---- FETCH ---- */
enum fetch_att_type {
    FA_ENVELOPE,
    FA_FLAGS,
    FA_INTERNALDATE,
    FA_RFC822,        /* = BODY[] with \Seen */
    FA_RFC822_HEADER, /* = BODY.PEEK[HEADER] */
    FA_RFC822_SIZE,
    FA_RFC822_TEXT, /* = BODY[TEXT] */
    FA_BODY,        /* BODY without a section: non-extensible BODYSTRUCTURE */
    FA_BODYSTRUCTURE,
    FA_UID,
    FA_MODSEQ,
    FA_BODY_SECTION, /* BODY[...] / BODY.PEEK[...] */
    FA_BINARY,       /* BINARY[...] / BINARY.PEEK[...] */
    FA_BINARY_SIZE,  /* BINARY.SIZE[...] */
};

enum section_spec {
    SEC_ALL, /* BODY[] or BODY[1.2] */
    SEC_HEADER,
    SEC_HEADER_FIELDS,
    SEC_HEADER_FIELDS_NOT,
    SEC_TEXT,
    SEC_MIME, /* only after a part number */
};

struct fetch_section {
    uint32_t *parts; /* part numbers, e.g. 1.2.3 -> {1,2,3} */
    size_t part_count;
    enum section_spec spec;
    struct imap_str *fields; /* header field names (HEADER.FIELDS[.NOT]) */
    size_t field_count;
};

struct fetch_att {
    enum fetch_att_type type;
    bool peek;
    struct fetch_section section; /* BODY[...], BINARY[...] */
    bool partial;                 /* <offset.count> */
    uint64_t offset, count;       /* number64 / nz-number64 (RFC 9051) */
};

struct cmd_fetch {
    struct imap_seqset set;
    struct fetch_att *atts;
    size_t att_count;
    bool macro;            /* ALL / FAST / FULL were used (atts expanded) */
    uint64_t changedsince; /* CHANGEDSINCE modifier; 0 when absent */
    bool vanished;         /* VANISHED modifier */
};

/* ---- STORE ---- */
struct cmd_store {
    struct imap_seqset set;
    int op;      /* 0 = replace, 1 = add (+FLAGS), 2 = remove (-FLAGS) */
    bool silent; /* .SILENT */
    struct imap_flags flags;
    bool has_unchangedsince;
    uint64_t unchangedsince;
};

/* ---- mailbox commands ---- */
enum status_item { /* bits */
                   ST_MESSAGES = 1u << 0,
                   ST_UIDNEXT = 1u << 1,
                   ST_UIDVALIDITY = 1u << 2,
                   ST_UNSEEN = 1u << 3,
                   ST_DELETED = 1u << 4,
                   ST_SIZE = 1u << 5,
                   ST_RECENT = 1u << 6,
                   ST_HIGHESTMODSEQ = 1u << 7,
};

enum list_select_opt { /* bits */
                       LSEL_SUBSCRIBED = 1u << 0,
                       LSEL_REMOTE = 1u << 1,
                       LSEL_RECURSIVEMATCH = 1u << 2,
                       LSEL_SPECIAL_USE = 1u << 3,
};
enum list_return_opt { /* bits */
                       LRET_SUBSCRIBED = 1u << 0,
                       LRET_CHILDREN = 1u << 1,
                       LRET_SPECIAL_USE = 1u << 2,
                       LRET_STATUS = 1u << 3,
};

struct cmd_list {
    bool extended; /* selection options, several patterns or RETURN used */
    unsigned select_opts;
    struct imap_str reference;
    struct imap_str *patterns; /* list-mailbox strings, raw */
    size_t pattern_count;
    unsigned return_opts;
    unsigned status_items; /* with LRET_STATUS */
};

struct cmd_select {
    struct imap_str mailbox;
    bool condstore;
    bool qresync;
    uint32_t qr_uidvalidity;
    uint64_t qr_modseq;
    struct imap_seqset qr_known_uids; /* count 0 when absent */
    /* QRESYNC seq-match-data: (known-sequence-set known-uid-set); count 0
     * when absent */
    struct imap_seqset qr_match_seqs, qr_match_uids;
};

struct cmd_append {
    struct imap_str mailbox;
    bool has_flags;
    struct imap_flags flags;
    bool has_date;
    struct imap_datetime date;
    bool binary; /* sent as literal8 (~{n}) */
    /* The literal's bytes.  Unlike every other string this one points into
     * the command buffer (no copy of a big message) and is NOT
     * NUL-terminated. */
    struct imap_str message;
};

struct cmd_copy { /* COPY and MOVE */
    struct imap_seqset set;
    struct imap_str mailbox;
};

struct id_pair {
    struct imap_str key;
    struct imap_str value; /* s == NULL for NIL */
};

struct imap_command {
    struct imap_str tag;
    enum imap_cmd_type type;
    bool uid; /* UID FETCH / STORE / SEARCH / COPY / MOVE / EXPUNGE */
    union {
        struct {
            struct imap_str user, password;
        } login;
        struct {
            struct imap_str mechanism; /* upper-cased */
            bool has_initial;          /* SASL-IR given */
            struct imap_str initial;   /* base64 as sent; "=" -> len 0 */
        } authenticate;
        struct {
            struct imap_str *names; /* upper-cased capability names */
            size_t count;
        } enable;
        struct {
            struct id_pair *pairs;
            size_t count;
            bool nil;
        } id;
        struct cmd_select select; /* SELECT, EXAMINE */
        struct {
            struct imap_str mailbox;
            /* CREATE ... (USE (\Sent ...)): imapsrv_mailbox_attr bits */
            unsigned use;
            bool use_unknown; /* a use-attr-ext we don't know: NO [USEATTR] */
        } create;
        struct imap_str mailbox; /* DELETE, SUBSCRIBE, UNSUBSCRIBE */
        struct {
            struct imap_str from, to;
        } rename;
        struct cmd_list list; /* LIST, LSUB (LSUB: never extended) */
        struct {
            struct imap_str mailbox;
            unsigned items; /* enum status_item */
        } status;
        struct cmd_append append;
        struct cmd_search search;
        struct cmd_fetch fetch;
        struct cmd_store store;
        struct cmd_copy copy;           /* COPY, MOVE */
        struct imap_seqset expunge_set; /* UID EXPUNGE */
    } u;
};

#endif
