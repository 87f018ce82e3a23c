/* FETCH body sections: see section.h.
 *
 * Numbering: a message (the root, or the child of a message/rfc822 part)
 * numbers its children when it is multipart; otherwise its body is part 1
 * and that part is the message node itself.  A part reached by a number
 * has sub-parts when it is multipart (its children) or message/rfc822
 * (the parts of the message it holds). */
#include "mail/section.h"

#include <string.h>

static bool is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* ASCII only: field names are ASCII, and locale rules must not apply */
static bool ascii_caseeq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

static const struct mime_part *nth_child(const struct mime_part *p, uint32_t n)
{
    const struct mime_part *c;

    if (n == 0)
        return NULL;
    for (c = p->children; c != NULL && n > 1; c = c->next)
        n--;
    return c;
}

/* part n of the message m */
static const struct mime_part *msg_part(const struct mime_part *m, uint32_t n)
{
    if (m->multipart)
        return nth_child(m, n);
    return n == 1 ? m : NULL;
}

/* part n inside part p */
static const struct mime_part *sub_part(const struct mime_part *p, uint32_t n)
{
    if (p->multipart)
        return nth_child(p, n);
    if (p->message && p->children != NULL)
        return msg_part(p->children, n);
    return NULL;
}

static void set(struct section_loc *loc, enum section_kind kind,
                const struct mime_part *part, uint64_t start, uint64_t end)
{
    loc->kind = kind;
    loc->part = part;
    loc->start = start;
    loc->end = end;
}

/* Keep the range inside the body of every part that encloses it and
 * inside the message.  mime.c ends a header cut by a boundary at the
 * boundary line, so an encapsulated message's header can take the line
 * break that belongs to the boundary and reach past its part's body. */
static void clamp(struct section_loc *loc, const struct mime_part *root)
{
    for (const struct mime_part *a = loc->part->parent; a != NULL;
         a = a->parent) {
        if (loc->end > a->body_end)
            loc->end = a->body_end;
        if (loc->start < a->body_start)
            loc->start = a->body_start;
    }
    if (loc->end > root->body_end)
        loc->end = root->body_end;
    if (loc->start > loc->end)
        loc->start = loc->end;
}

void section_locate(const struct mime_part *root,
                    const struct fetch_section *sec, struct section_loc *loc_r)
{
    const struct mime_part *p = NULL, *m = root;

    set(loc_r, SECTION_NIL, NULL, 0, 0);
    if (root == NULL)
        return;
    if (sec->part_count > 0) {
        p = msg_part(root, sec->parts[0]);
        for (size_t i = 1; p != NULL && i < sec->part_count; i++)
            p = sub_part(p, sec->parts[i]);
        if (p == NULL)
            return;
        /* HEADER/TEXT after a number address the message p holds */
        m = p->message ? p->children : NULL;
    }
    switch (sec->spec) {
    case SEC_ALL:
        if (p == NULL)
            set(loc_r, SECTION_RANGE, root, root->header_start, root->body_end);
        else
            set(loc_r, SECTION_RANGE, p, p->body_start, p->body_end);
        break;
    case SEC_MIME:
        if (p != NULL)
            set(loc_r, SECTION_RANGE, p, p->header_start, p->header_end);
        break;
    case SEC_HEADER:
        if (m != NULL)
            set(loc_r, SECTION_RANGE, m, m->header_start, m->header_end);
        break;
    case SEC_HEADER_FIELDS:
    case SEC_HEADER_FIELDS_NOT:
        if (m != NULL)
            set(loc_r, SECTION_FILTER, m, m->header_start, m->header_end);
        break;
    case SEC_TEXT:
        if (m != NULL)
            set(loc_r, SECTION_RANGE, m, m->body_start, m->body_end);
        break;
    }
    if (loc_r->kind != SECTION_NIL)
        clamp(loc_r, root);
}

static bool name_listed(const char *name, size_t len,
                        const struct imap_str *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fields[i].len == len && ascii_caseeq(fields[i].s, name, len))
            return true;
    return false;
}

size_t section_filter_header(const char *hdr, size_t len,
                             const struct imap_str *fields, size_t n, bool not,
                             char *out)
{
    size_t pos = 0, o = 0;
    /* a continuation line before any field, or a line that is no field,
     * has no name: it matches no listed name */
    bool keep = not ;

    while (pos < len) {
        const char *nl = memchr(hdr + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - hdr) + 1 : len;

        if (hdr[pos] == '\n' ||
            (hdr[pos] == '\r' && (pos + 1 == len || hdr[pos + 1] == '\n')))
            break; /* the blank line: we write our own */
        if (!is_wsp(hdr[pos])) {
            const char *colon = memchr(hdr + pos, ':', end - pos);
            if (colon == NULL) {
                keep = not ;
            } else {
                size_t k = (size_t)(colon - hdr);
                while (k > pos && is_wsp(hdr[k - 1]))
                    k--; /* obsolete "Name : value" */
                keep = name_listed(hdr + pos, k - pos, fields, n) != not ;
            }
        }
        if (keep) {
            memcpy(out + o, hdr + pos, end - pos);
            o += end - pos;
            if (nl == NULL) { /* header cut without a line end */
                if (out[o - 1] != '\r')
                    out[o++] = '\r';
                out[o++] = '\n';
            }
        }
        pos = end;
    }
    out[o++] = '\r';
    out[o++] = '\n';
    return o;
}

void section_partial(uint64_t size, uint64_t offset, uint64_t count,
                     uint64_t *start_r, uint64_t *len_r)
{
    if (offset >= size) {
        *start_r = size;
        *len_r = 0;
        return;
    }
    *start_r = offset;
    *len_r = size - offset < count ? size - offset : count;
}

static const char *const spec_names[] = {
    [SEC_ALL] = "",
    [SEC_HEADER] = "HEADER",
    [SEC_HEADER_FIELDS] = "HEADER.FIELDS",
    [SEC_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
    [SEC_TEXT] = "TEXT",
    [SEC_MIME] = "MIME",
};

static void write_section(struct wbuf *w, const struct fetch_section *sec)
{
    wbuf_putc(w, '[');
    for (size_t i = 0; i < sec->part_count; i++) {
        if (i > 0)
            wbuf_putc(w, '.');
        wbuf_u32(w, sec->parts[i]);
    }
    if (sec->spec != SEC_ALL &&
        (size_t)sec->spec < sizeof(spec_names) / sizeof(spec_names[0])) {
        if (sec->part_count > 0)
            wbuf_putc(w, '.');
        wbuf_puts(w, spec_names[sec->spec]);
    }
    if (sec->spec == SEC_HEADER_FIELDS || sec->spec == SEC_HEADER_FIELDS_NOT) {
        wbuf_puts(w, " (");
        for (size_t i = 0; i < sec->field_count; i++) {
            if (i > 0)
                wbuf_putc(w, ' ');
            wbuf_astring(w, sec->fields[i].s, sec->fields[i].len, 0);
        }
        wbuf_putc(w, ')');
    }
    wbuf_putc(w, ']');
}

void section_write_name(struct wbuf *w, const struct fetch_att *att)
{
    static const char *const plain[] = {
        [FA_ENVELOPE] = "ENVELOPE",
        [FA_FLAGS] = "FLAGS",
        [FA_INTERNALDATE] = "INTERNALDATE",
        [FA_RFC822] = "RFC822",
        [FA_RFC822_HEADER] = "RFC822.HEADER",
        [FA_RFC822_SIZE] = "RFC822.SIZE",
        [FA_RFC822_TEXT] = "RFC822.TEXT",
        [FA_BODY] = "BODY",
        [FA_BODYSTRUCTURE] = "BODYSTRUCTURE",
        [FA_UID] = "UID",
        [FA_MODSEQ] = "MODSEQ",
    };

    switch (att->type) {
    case FA_BODY_SECTION: wbuf_puts(w, "BODY"); break;
    case FA_BINARY: wbuf_puts(w, "BINARY"); break;
    case FA_BINARY_SIZE:
        /* never has a partial (RFC 9051: BINARY.SIZE takes none) */
        wbuf_puts(w, "BINARY.SIZE");
        write_section(w, &att->section);
        return;
    default:
        if ((size_t)att->type < sizeof(plain) / sizeof(plain[0]) &&
            plain[att->type] != NULL)
            wbuf_puts(w, plain[att->type]);
        return;
    }
    write_section(w, &att->section);
    if (att->partial) {
        wbuf_putc(w, '<');
        wbuf_u64(w, att->offset);
        wbuf_putc(w, '>');
    }
}

bool section_binary_ok(const char *encoding)
{
    static const char *const ok[] = {"7BIT", "8BIT", "BINARY", "BASE64",
                                     "QUOTED-PRINTABLE"};

    if (encoding == NULL)
        return true;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t n = strlen(ok[i]);
        if (strlen(encoding) == n && ascii_caseeq(encoding, ok[i], n))
            return true;
    }
    return false;
}
