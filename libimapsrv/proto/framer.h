/* The framer cuts a byte stream into complete commands: lines plus the
 * literals they announce ({n}, {n+}, {n-}, and literal8 ~{n}).  It never
 * writes to the socket and never decides policy: at each literal it stops and
 * lets the session accept (sending "+" for a synchronizing one) or refuse.
 *
 * The bytes of a complete command (every line and literal, exactly as sent,
 * CRLFs included) are kept contiguous so the parser can work on them in one
 * pass.  Limits: one line (max_line), the whole command (max_command). */
#ifndef IMAPSRV_PROTO_FRAMER_H
#define IMAPSRV_PROTO_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum framer_event {
    FR_NEED_MORE,     /* all input consumed; feed more */
    FR_COMMAND,       /* a complete command: framer_command() */
    FR_LITERAL,       /* a literal was announced: framer_literal(); answer
                         with framer_accept_literal / framer_reject */
    FR_LINE_TOO_LONG, /* a line exceeded max_line, or the command
                         max_command (also: an accepted literal that does
                         not fit).  The command is dropped; the rest of it
                         is skipped up to the end of the line (and through
                         any non-synchronizing literal announced there);
                         framer_tag() may name the tag */
    FR_RAW_LINE,      /* raw mode: one line (SASL response, IDLE's DONE) */
};

struct framer_limits {
    size_t max_line;    /* bytes of one line, CRLF included */
    size_t max_command; /* all lines and literals of one command */
};

struct framer_literal_info {
    uint64_t size;
    bool sync;   /* {n}: the client waits for "+" */
    bool minus;  /* {n-} (LITERAL-) */
    bool binary; /* ~{n} */
};

/* Private: use the functions below. */
struct framer {
    struct framer_limits lim;
    char *buf; /* the command being assembled (+1 byte for NUL) */
    size_t len, cap;
    int state;
    size_t line_start; /* offset of the current line in buf */
    size_t raw_len;    /* FR_RAW_LINE: bytes without the line end */
    uint64_t lit_left; /* literal bytes still to read (or to skip) */
    struct framer_literal_info lit;
    bool raw;               /* set_raw() asked: the next line is raw */
    bool in_raw;            /* the line being read is raw */
    bool skip_raw;          /* the line being skipped was raw */
    bool out_raw;           /* the finished unit is a raw line */
    unsigned char id_phase; /* tag/name scan: 0 tag, 1 name, 2 done */
    size_t scan;            /* tag/name scan position in buf */
    size_t name_at;         /* where the name starts */
    unsigned char tail_len;
    char tail[24]; /* end of a skipped line: spots {n+} there */
    char tag[64];  /* tag of the current command if seen, else "" */
    char name[32]; /* command name if seen (upper case), else "" */
};

/* lim NULL or zero fields: defaults (8 KiB line, 64 KiB command). */
void framer_init(struct framer *f, const struct framer_limits *lim);
void framer_free(struct framer *f);

/* Consume bytes from data[0..len) until an event; *used_r says how many were
 * consumed.  Call again with the rest after handling the event. */
enum framer_event framer_feed(struct framer *f, const char *data, size_t len,
                              size_t *used_r);

/* After FR_COMMAND / FR_RAW_LINE: the bytes (for a raw line without CRLF).
 * Valid until the next framer_feed; call framer_next() before feeding. */
const char *framer_command(const struct framer *f, size_t *len_r);
void framer_next(struct framer *f);

/* After FR_LITERAL. */
const struct framer_literal_info *framer_literal(const struct framer *f);
void framer_accept_literal(struct framer *f);
/* Drop the command in progress (refused literal).  For a refused
 * non-synchronizing literal the session closes the connection instead. */
void framer_reject(struct framer *f);

/* The tag / command name of the command being framed ("" if not yet seen);
 * for "UID FETCH" the name is "UID". */
const char *framer_tag(const struct framer *f);
const char *framer_name(const struct framer *f);

/* Read the next line raw (no literal processing).  Used for AUTHENTICATE
 * continuation lines and IDLE. */
void framer_set_raw(struct framer *f);

/* Discard buffered state (after STARTTLS: nothing pipelined survives). */
void framer_discard(struct framer *f);

/* Free the buffer if no command is in progress (an idle connection then
 * holds no buffer at all); returns true if nothing is buffered.  Buffers
 * larger than FRAMER_KEEP_BUF are also freed after each command. */
#define FRAMER_KEEP_BUF 2048
bool framer_release(struct framer *f);

#endif
