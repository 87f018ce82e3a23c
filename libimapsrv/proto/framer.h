/* The framer cuts a byte stream into complete commands: lines plus the
 * literals they announce ({n}, {n+}, {n-}, and literal8 ~{n}).  It never
 * writes to the socket and never decides policy: at each literal it stops and
 * lets the session accept (sending "+" for a synchronizing one), stream or
 * refuse it.
 *
 * The bytes of a complete command (every line and literal, exactly as sent,
 * CRLFs included) are kept contiguous so the parser can work on them in one
 * pass.  Limits: one line (max_line), the whole command (max_command).
 *
 * A streamed literal (APPEND's message) is the exception: its bytes are
 * handed to the caller piece by piece, straight from the caller's input, and
 * are left out of the command buffer, so a message of any size costs no
 * memory here and does not count against either limit. */
#ifndef IMAPSRV_PROTO_FRAMER_H
#define IMAPSRV_PROTO_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum framer_event {
    FR_NEED_MORE,     /* all input consumed; feed more */
    FR_COMMAND,       /* a complete command: framer_command() */
    FR_LITERAL,       /* a literal was announced: framer_literal(); answer
                         with framer_accept_literal, framer_stream_literal
                         or framer_reject */
    FR_LINE_TOO_LONG, /* a line exceeded max_line, or the command
                         max_command (also: an accepted literal that does
                         not fit).  The command is dropped; the rest of it
                         is skipped up to the end of the line (and through
                         any non-synchronizing literal announced there);
                         framer_tag() may name the tag */
    FR_RAW_LINE,      /* raw mode: one line (SASL response, IDLE's DONE) */
    FR_LITERAL_DATA,  /* a piece of a streamed literal (framer_stream_literal):
                         framer_literal_data() */
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
    uint64_t lit_left; /* literal bytes still to read, stream or skip */
    struct framer_literal_info lit;
    const char *data; /* FR_LITERAL_DATA: the piece, in the caller's input */
    size_t data_len;
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
/* After FR_LITERAL, instead of framer_accept_literal(): stream the literal.
 * The session sends "+" itself for a synchronizing one, as for an accepted
 * literal.  framer_feed() then returns FR_LITERAL_DATA for each piece of the
 * literal's bytes (a zero-length literal gives none); their concatenation is
 * exactly the literal, however the input is cut.  After the last byte
 * (framer_literal_left() == 0) the framer reads the rest of the command as
 * usual; the final command buffer holds the announcement ("{n}\r\n" stays)
 * but not the streamed bytes.  No limit applies to the streamed bytes: the
 * session checks the size announced (framer_literal()) first. */
void framer_stream_literal(struct framer *f);

/* After FR_LITERAL_DATA: the piece.  It points into the input given to the
 * framer_feed() call that returned the event (its bytes count in *used_r as
 * consumed) and is valid as long as that input is; the caller may stop
 * feeding after any piece and go on later with the rest of its input.  NULL
 * (*len_r 0) when the last framer_feed() gave no piece. */
const char *framer_literal_data(const struct framer *f, size_t *len_r);

/* Bytes of the streamed literal still to come (0 when not streaming: after
 * the last piece, the framer has gone back to reading the line). */
uint64_t framer_literal_left(const struct framer *f);

/* At FR_LITERAL: the bytes of the command received so far, i.e. every line
 * up to and including the one announcing the literal ("...{n}\r\n"), with
 * the accepted literals before it (streamed ones left out), so that the head
 * of a command can be parsed before its last literal arrives.  Also usable
 * while a command is being read (then possibly ending mid-line).  Valid until
 * the next framer_feed; "" (length 0) when no command is in progress or one
 * is complete (use framer_command()). */
const char *framer_command_so_far(const struct framer *f, size_t *len_r);

/* Drop the command in progress: at FR_LITERAL (refused literal) and also in
 * the middle of a command, e.g. while a literal is streamed, in which case
 * the rest of the literal and of the command is skipped and nothing of it
 * is reported (framer_tag() still names it meanwhile).  At FR_LITERAL the
 * tag and name are forgotten at once: read framer_tag() first.  For a
 * refused non-synchronizing literal the session closes the connection
 * instead. */
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
