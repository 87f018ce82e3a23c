/* libFuzzer target for what a message's bytes reach: the streaming MIME
 * parser (fed whole and in pieces cut by the input itself), ENVELOPE and
 * BODYSTRUCTURE, section location and header filtering, and the SEARCH
 * text matcher.  Besides memory errors it checks the invariants FETCH
 * relies on: the tree does not depend on how the bytes were cut, every
 * part's offsets lie inside the message, and a section range is inside it.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -Iinclude -Ilibimapsrv fuzz/fuzz_mime.c libimapsrv/mail/{mime,envelope,section,search,view,\
 *       seqset,rfc2047}.c libimapsrv/core/arena.c \
 *       libimapsrv/proto/{writer,parser,base64,mutf7}.c -o fuzz_mime
 *
 * Build with -DFUZZ_STANDALONE (no libFuzzer) to replay files given as
 * arguments. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/envelope.h"
#include "mail/mime.h"
#include "mail/search.h"
#include "mail/section.h"
#include "proto/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

static void check_part(const struct mime_part *p, uint64_t size)
{
    for (; p; p = p->next) {
        CHECK(p->header_start <= p->header_end);
        CHECK(p->body_start <= p->body_end);
        CHECK(p->body_end <= size);
        check_part(p->children, size);
    }
}

/* Same shape and offsets. */
static void same_tree(const struct mime_part *a, const struct mime_part *b)
{
    for (; a || b; a = a->next, b = b->next) {
        CHECK(a && b);
        CHECK(a->header_start == b->header_start);
        CHECK(a->body_start == b->body_start && a->body_end == b->body_end);
        CHECK(a->lines == b->lines && a->nchildren == b->nchildren);
        CHECK(strcmp(a->type, b->type) == 0);
        same_tree(a->children, b->children);
    }
}

/* Commands whose sections are located in every message. */
static const char *const fetches[] = {
    "a FETCH 1 (BODY[1] BODY[2.1] BODY[1.MIME] BODY[TEXT] BODY[HEADER])\r\n",
    "a FETCH 1 (BODY[HEADER.FIELDS (From Subject)] BODY[1.2.3.HEADER])\r\n",
    "a FETCH 1 (BODY[2.HEADER.FIELDS.NOT (To)] BINARY[1] BODY[3.TEXT])\r\n",
};

static void fuzz_sections(const struct mime_part *root, const char *msg,
                          size_t size, struct arena *a)
{
    for (size_t i = 0; i < sizeof(fetches) / sizeof(*fetches); i++) {
        struct imap_command cmd;
        const char *err;
        CHECK(parser_parse(fetches[i], strlen(fetches[i]), NULL, a, &cmd,
                           &err) == PARSE_OK);
        for (size_t k = 0; k < cmd.u.fetch.att_count; k++) {
            struct section_loc loc;
            section_locate(root, &cmd.u.fetch.atts[k].section, &loc);
            if (loc.kind == SECTION_NIL)
                continue;
            CHECK(loc.start <= loc.end && loc.end <= size);
            if (loc.kind == SECTION_FILTER) {
                char *out = malloc(loc.end - loc.start + 4);
                const struct fetch_section *sec =
                    &cmd.u.fetch.atts[k].section;
                size_t n = section_filter_header(
                    msg + loc.start, loc.end - loc.start, sec->fields,
                    sec->field_count, sec->spec == SEC_HEADER_FIELDS_NOT,
                    out);
                CHECK(n <= loc.end - loc.start + 4);
                free(out);
            }
        }
    }
}

static void fuzz_search(const struct mime_part *root, const char *msg,
                        size_t size, struct arena *a)
{
    static const char cmd_text[] =
        "a SEARCH OR BODY \"hello\" TEXT \"\xc3\xa4rger\" FROM x\r\n";
    struct imap_command cmd;
    const char *err;
    struct view v;
    view_init(&v, 1, 2);
    struct view_msg m = {.uid = 1, .size = size};
    CHECK(view_append(&v, &m) == IMAPSRV_OK);
    CHECK(parser_parse(cmd_text, sizeof(cmd_text) - 1, NULL, a, &cmd, &err) ==
          PARSE_OK);
    struct search_prog *prog;
    CHECK(search_compile(&cmd.u.search.root, NULL, &v, NULL, 0, a, &prog,
                         &err) == IMAPSRV_OK);
    struct search_text *t = search_text_new(prog, a);
    CHECK(t != NULL);
    search_text_begin(t, root);
    search_text_feed(t, msg, size);
    search_text_end(t);
    struct search_msg sm = {&v, 0, msg, root->body_start, t};
    CHECK(search_eval(prog, &sm, a) != SEARCH_UNKNOWN);
    view_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *msg = (const char *)data;
    struct arena a1, a2;
    arena_init(&a1, 4096, 64u << 20);
    arena_init(&a2, 4096, 64u << 20);
    struct mime_part *whole, *pieces;
    if (mime_parse(msg, size, NULL, &a1, &whole) != IMAPSRV_OK)
        goto out;
    check_part(whole, size);

    /* Cut points come from the data, so the fuzzer explores them. */
    struct mime_parser p;
    mime_parser_init(&p, NULL, &a2);
    size_t off = 0, step = size ? (data[0] % 61) + 1 : 1;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        mime_feed(&p, msg + off, n);
        off += n;
        step = (step * 7 + 3) % 97 + 1;
    }
    CHECK(mime_finish(&p, &pieces) == IMAPSRV_OK);
    same_tree(whole, pieces);

    struct wbuf w;
    wbuf_init(&w);
    env_write_envelope(&w, whole->header ? whole->header : "",
                       whole->header_len, &a2, 0);
    env_write_body(&w, whole, true, &a2, WSTR_UTF8);
    wbuf_free(&w);
    fuzz_sections(whole, msg, size, &a2);
    fuzz_search(whole, msg, size, &a2);
out:
    arena_free(&a1);
    arena_free(&a2);
    return 0;
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        static uint8_t buf[1 << 20];
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
}
#endif
