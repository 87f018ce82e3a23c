/* libFuzzer target: bytes -> framer -> parser, plus the parser alone on the
 * raw bytes.  Checks beyond "no crash": framing is the same whole and in
 * pieces, every BAD reason is one short printable line, and every string of
 * a parsed command is readable and NUL-terminated.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilibimapsrv \
 *     fuzz/fuzz_parser.c libimapsrv/proto/parser.c \
 *     libimapsrv/proto/framer.c libimapsrv/core/arena.c -o fuzz_parser
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/framer.h"
#include "proto/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LITERAL 4096

static volatile unsigned sink;

static void touch(const struct imap_str *s)
{
    if (!s->s)
        return;
    for (size_t i = 0; i < s->len; i++)
        sink += (unsigned char)s->s[i];
    if (s->s[s->len] != '\0')
        abort();
}

static void touch_set(const struct imap_seqset *s)
{
    for (size_t i = 0; i < s->count; i++)
        sink += s->ranges[i].lo + s->ranges[i].hi;
}

static void touch_key(const struct search_key *k)
{
    switch (k->type) {
    case SK_KEYWORD:
    case SK_UNKEYWORD:
    case SK_BCC:
    case SK_BODY:
    case SK_CC:
    case SK_FROM:
    case SK_SUBJECT:
    case SK_TEXT:
    case SK_TO: touch(&k->u.str); break;
    case SK_HEADER:
        touch(&k->u.header.field);
        touch(&k->u.header.value);
        break;
    case SK_MODSEQ: touch(&k->u.modseq.entry); break;
    case SK_UID:
    case SK_SEQSET: touch_set(&k->u.seqset); break;
    case SK_NOT: touch_key(k->u.sub[0]); break;
    case SK_OR:
        touch_key(k->u.sub[0]);
        touch_key(k->u.sub[1]);
        break;
    case SK_AND:
        for (size_t i = 0; i < k->u.list.count; i++)
            touch_key(&k->u.list.keys[i]);
        break;
    default: break;
    }
}

static void touch_cmd(const struct imap_command *c)
{
    touch(&c->tag);
    switch (c->type) {
    case CMD_LOGIN:
        touch(&c->u.login.user);
        touch(&c->u.login.password);
        break;
    case CMD_AUTHENTICATE:
        touch(&c->u.authenticate.mechanism);
        touch(&c->u.authenticate.initial);
        break;
    case CMD_ENABLE:
        for (size_t i = 0; i < c->u.enable.count; i++)
            touch(&c->u.enable.names[i]);
        break;
    case CMD_ID:
        for (size_t i = 0; i < c->u.id.count; i++) {
            touch(&c->u.id.pairs[i].key);
            touch(&c->u.id.pairs[i].value);
        }
        break;
    case CMD_SELECT:
    case CMD_EXAMINE:
        touch(&c->u.select.mailbox);
        touch_set(&c->u.select.qr_known_uids);
        touch_set(&c->u.select.qr_match_seqs);
        touch_set(&c->u.select.qr_match_uids);
        break;
    case CMD_CREATE: touch(&c->u.create.mailbox); break;
    case CMD_DELETE:
    case CMD_SUBSCRIBE:
    case CMD_UNSUBSCRIBE: touch(&c->u.mailbox); break;
    case CMD_RENAME:
        touch(&c->u.rename.from);
        touch(&c->u.rename.to);
        break;
    case CMD_LIST:
    case CMD_LSUB:
        touch(&c->u.list.reference);
        for (size_t i = 0; i < c->u.list.pattern_count; i++)
            touch(&c->u.list.patterns[i]);
        break;
    case CMD_STATUS: touch(&c->u.status.mailbox); break;
    case CMD_APPEND:
        touch(&c->u.append.mailbox);
        for (size_t i = 0; i < c->u.append.flags.keyword_count; i++)
            touch(&c->u.append.flags.keywords[i]);
        for (size_t i = 0; i < c->u.append.message.len; i++)
            sink += (unsigned char)c->u.append.message.s[i];
        break;
    case CMD_SEARCH:
        touch(&c->u.search.charset);
        touch_key(&c->u.search.root);
        break;
    case CMD_FETCH:
        touch_set(&c->u.fetch.set);
        for (size_t i = 0; i < c->u.fetch.att_count; i++) {
            const struct fetch_section *s = &c->u.fetch.atts[i].section;
            for (size_t j = 0; j < s->part_count; j++)
                sink += s->parts[j];
            for (size_t j = 0; j < s->field_count; j++)
                touch(&s->fields[j]);
        }
        break;
    case CMD_STORE:
        touch_set(&c->u.store.set);
        for (size_t i = 0; i < c->u.store.flags.keyword_count; i++)
            touch(&c->u.store.flags.keywords[i]);
        break;
    case CMD_COPY:
    case CMD_MOVE:
        touch_set(&c->u.copy.set);
        touch(&c->u.copy.mailbox);
        break;
    case CMD_EXPUNGE: touch_set(&c->u.expunge_set); break;
    default: break;
    }
}

static void parse(const char *buf, size_t len, struct arena *a)
{
    static const struct parser_limits lim = {.max_depth = 8, .max_items = 64};
    struct imap_command c;
    const char *err;
    enum parse_result r = parser_parse(buf, len, &lim, a, &c, &err);
    if (r == PARSE_OK) {
        touch_cmd(&c);
    } else if (r != PARSE_NOMEM) {
        size_t n = strlen(err);
        if (n == 0 || n > 120)
            abort();
        for (size_t i = 0; i < n; i++)
            if (err[i] < 0x20 || err[i] > 0x7e)
                abort();
        if (r != PARSE_BAD_TAG && !c.tag.s)
            abort();
    }
    arena_reset(a);
}

/* A cheap digest of the event stream, to compare two framings. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211u;
    return h;
}

/* Frame data in pieces of `step` bytes (0: whole); parse each command. */
static uint64_t frame(const uint8_t *data, size_t size, size_t step,
                      const struct framer_limits *lim, bool raw_mode,
                      struct arena *a)
{
    struct framer f;
    uint64_t h = 14695981039346656037u;
    size_t pos = 0;
    framer_init(&f, lim);
    while (pos <= size) {
        size_t n = size - pos;
        if (step && n > step)
            n = step;
        const char *d = (const char *)data + pos;
        size_t left = n, used;
        for (;;) {
            enum framer_event ev = framer_feed(&f, d, left, &used);
            if (used > left || f.cap > f.lim.max_command + 1)
                abort();
            d += used;
            left -= used;
            if (ev == FR_NEED_MORE)
                break;
            h = mix(h, &ev, sizeof(ev));
            h = mix(h, framer_tag(&f), strlen(framer_tag(&f)));
            if (ev == FR_LITERAL) {
                if (framer_literal(&f)->size <= MAX_LITERAL)
                    framer_accept_literal(&f);
                else
                    framer_reject(&f);
            } else if (ev == FR_COMMAND || ev == FR_RAW_LINE) {
                size_t len;
                const char *cmd = framer_command(&f, &len);
                h = mix(h, cmd, len);
                if (ev == FR_COMMAND)
                    parse(cmd, len, a);
                bool raw = raw_mode && ev == FR_COMMAND &&
                           (!strcmp(framer_name(&f), "AUTHENTICATE") ||
                            !strcmp(framer_name(&f), "IDLE"));
                framer_next(&f);
                if (raw)
                    framer_set_raw(&f);
            }
        }
        if (pos == size)
            break;
        pos += n;
    }
    framer_free(&f);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena a;
    arena_init(&a, 256, 1 << 20);
    /* the parser alone, on anything */
    parse((const char *)data, size, &a);
    if (size) {
        /* first byte: options; the rest: the stream */
        unsigned opt = data[0];
        struct framer_limits lim = {.max_line = 16u + (opt & 7) * 40,
                                    .max_command = 64u + (opt >> 3 & 7) * 300};
        bool raw = opt & 64;
        size_t step = 1 + (opt >> 7) * 6;
        uint64_t whole = frame(data + 1, size - 1, 0, &lim, raw, &a);
        if (frame(data + 1, size - 1, step, &lim, raw, &a) != whole)
            abort(); /* framing must not depend on how input is cut */
    }
    arena_free(&a);
    return 0;
}
