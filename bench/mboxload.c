/* mboxload: fills an IMAP mailbox with generated messages and times
 * mailbox commands against it.  Plain TCP, plaintext IMAP, libc only.
 *
 *   gcc -std=c11 -O2 -Wall -Wextra -Werror bench/mboxload.c -o /tmp/mboxload
 *
 *   mboxload fill --port P --user U:P [--mailbox Bench] [--messages N]
 *                 [--seed S] [--batch B] [--window W]
 *                 [--literal auto|plus|sync] [--session K] [--hold]
 *   mboxload time --port P --user U:P [--mailbox Bench] [--messages N]
 *                 [--repeat R] [--ops select,fetch_flags,...] [--hold]
 *   mboxload gen  [--seed S] [--index I | --messages N]
 *
 * Common options: --host (default 127.0.0.1), --server NAME (a label for
 * the output), --timeout SECONDS (every socket read and write, default 600).
 *
 * fill   LOGIN, CREATE the mailbox (a NO, e.g. "already exists", is fine),
 *        then APPEND messages 1..N.  With MULTIAPPEND in the capability
 *        list (after login) one APPEND carries B messages (default 1).
 *        With LITERAL+ the APPENDs are pipelined, at most W (default 64)
 *        commands unanswered at a time, with {n+} literals; otherwise each
 *        literal waits for the "+" continuation.  --literal plus/sync
 *        overrides the capability.  --session K: a new session (LOGOUT,
 *        connect, LOGIN) every K messages.  The first NO or BAD stops the
 *        sending.  Then STATUS (MESSAGES) as a check.
 *        --hold: after the result line, print "HOLD server=S" and wait
 *        for EOF on stdin before LOGOUT (so that a script can measure the
 *        server while the session is still open).
 * time   LOGIN, then each operation R times (default 5) in one session:
 *          select          SELECT mailbox            check: EXISTS
 *          fetch_flags     FETCH 1:* (UID FLAGS)     check: "* n FETCH" count
 *          fetch_envelope  FETCH 1:* (ENVELOPE BODYSTRUCTURE)     (same)
 *          search_header   UID SEARCH SUBJECT <word> check: UIDs returned
 *          search_body     UID SEARCH BODY <word>    check: UIDs returned
 *        Without select in --ops, an untimed SELECT comes first.  An
 *        operation answered NO/BAD is not repeated.  --hold as for fill.
 * gen    the generator alone: message I on stdout, or a summary of 1..N
 *        that also checks where the needle words occur.
 *
 * Output: one line per measurement on stdout, key=value:
 *   RESULT server=S op=fill messages=N ms=T rate=MSG_PER_S bytes_sent=B
 *          literal=plus|sync batch=B sessions=K check=MESSAGES expect=N
 *          match=yes|no status=OK
 *   RESULT server=S op=OP runs=R best_ms=T median_ms=T first_ms=T bytes=B
 *          check=C expect=E match=yes|no status=OK cmd="..."
 * fill: messages = those answered OK, ms from the first APPEND to the last
 * reply; after a connection error only messages= and status=.
 * bytes = bytes received for one run of the command (the last one), from
 * the first byte after sending to the end of the tagged reply.  Times are
 * wall clock (CLOCK_MONOTONIC) from sending the command to reading the end
 * of its tagged reply.  status: OK, NO, BAD, EOF, TIMEOUT, or why the
 * session did not start: CONNECT, GREETING, LOGIN, CAPABILITY.  Progress
 * and diagnostics go to stderr.
 * Exit status: 0 all OK and checks matched; 2 a command failed or a check
 * did not match; 1 connection or usage error.
 *
 * Responses are read as IMAP defines them: a line ending in {n} (also
 * ~{n}) is followed by n bytes of literal, skipped unread, then the rest of
 * the response.  A tag inside a message body can therefore never be taken
 * for the tagged reply.
 *
 * The generated messages (deterministic from the seed and the message
 * number, 1-based): From/To/Cc/Subject/Date/Message-ID and a Received line,
 * sizes 1-20 KB, message i % 3 == 0 text/plain, == 1
 * multipart/alternative (text + HTML), == 2 multipart/mixed (text + a small
 * base64 attachment).  Every 100th message has the word HEADER_NEEDLE in
 * its Subject, every 1000th the word BODY_NEEDLE in its body text; neither
 * word occurs anywhere else.  So for N messages the searches must find
 * N/100 and N/1000 messages.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define HEADER_NEEDLE "quillbrook"
#define BODY_NEEDLE "zanzibarite"
#define HEADER_EVERY 100
#define BODY_EVERY 1000
#define MIN_SIZE 1024
#define MAX_SIZE 20480
#define MAX_RESPONSE (256u << 20) /* text of one response, literals excluded */
#define MAX_REPEAT 1000

/* ------------------------------------------------------------------ */
/* Utilities                                                           */
/* ------------------------------------------------------------------ */

static void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
    va_list ap;

    fputs("mboxload: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
    size_t need = b->len + extra + 1; /* room for a NUL */

    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        fatal("out of memory");
    b->p = p;
    b->cap = cap;
}

static void sb_add(struct sbuf *b, const void *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_adds(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_addc(struct sbuf *b, char c) { sb_add(b, &c, 1); }

static void sb_addf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_addf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[512];

    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        fatal("vsnprintf failed");
    if ((size_t)n < sizeof tmp) {
        sb_add(b, tmp, (size_t)n);
        return;
    }
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_clear(struct sbuf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static unsigned long parse_ulong(const char *s, const char *what,
                                 unsigned long min, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        fatal("%s: '%s' is not a number in %lu..%lu", what, s, min, max);
    return v;
}

/* ------------------------------------------------------------------ */
/* The message generator                                               */
/* ------------------------------------------------------------------ */

/* splitmix64: small, fast, and good enough to make text look varied. */
struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rng_below(struct rng *r, unsigned n)
{
    return (unsigned)(rng_next(r) % n);
}

#define PICK(r, arr) ((arr)[rng_below((r), sizeof(arr) / sizeof((arr)[0]))])

/* Neither needle may be a substring of anything below (gen checks). */
static const char *const words[] = {
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was",
    "with", "be", "by", "on", "not", "he", "this", "are", "or", "his",
    "from", "at", "which", "but", "have", "an", "had", "they", "you",
    "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no",
    "meeting", "schedule", "project", "budget", "review", "report",
    "quarter", "customer", "release", "deadline", "invoice", "contract",
    "proposal", "team", "update", "agenda", "feedback", "draft", "server",
    "migration", "backup", "storage", "network", "latency", "throughput",
    "deployment", "rollout", "milestone", "estimate", "forecast", "revenue",
    "expenses", "travel", "conference", "workshop", "training", "office",
    "holiday", "weekend", "morning", "afternoon", "tomorrow", "yesterday",
    "please", "thanks", "regards", "attached", "document", "spreadsheet",
    "presentation", "summary", "details", "question", "answer", "issue",
    "ticket", "priority", "status", "pending", "approved", "rejected",
    "shipping", "warehouse", "supplier", "order", "payment", "account",
    "password", "security", "policy", "compliance", "audit", "analysis",
    "results", "numbers", "chart", "figure", "table", "section", "chapter",
    "version", "change", "request", "support", "service", "product",
    "feature", "design", "prototype", "testing", "quality", "performance",
    "colleague", "manager", "director", "partner", "vendor", "client",
    "morning", "coffee", "lunch", "dinner", "flight", "hotel", "train",
    "river", "mountain", "garden", "window", "kitchen", "library",
    "quickly", "carefully", "probably", "certainly", "again", "still",
    "already", "soon", "later", "early", "late", "new", "old", "large",
    "small", "important", "final", "initial", "current", "previous",
};

static const char *const subject_words[] = {
    "Quarterly", "Weekly", "Project", "Budget", "Meeting", "Invoice",
    "Contract", "Release", "Update", "Question", "Reminder", "Draft",
    "Review", "Schedule", "Proposal", "Report", "Notes", "Status",
    "Follow-up", "Request", "Agenda", "Summary", "Plan", "Results",
    "planning", "numbers", "for", "about", "the", "next", "week", "team",
    "offsite", "migration", "launch", "approval", "needed", "urgent",
    "minor", "changes", "feedback", "on", "Q3", "2024", "customer",
    "visit", "server", "outage", "postmortem", "hiring", "travel",
};

static const char *const first_names[] = {
    "Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi",
    "Ivan", "Judy", "Karl", "Laura", "Mallory", "Nina", "Oscar", "Peggy",
    "Quentin", "Rupert", "Sybil", "Trent", "Ursula", "Victor", "Walter",
    "Xena", "Yusuf", "Zoe", "Amelia", "Bruno", "Chloe", "Dmitri", "Elena",
    "Farid", "Greta", "Hiro", "Ingrid", "Jonas", "Keiko", "Lars", "Mina",
    "Nils",
};

static const char *const last_names[] = {
    "Anderson", "Baker", "Clark", "Dubois", "Evans", "Fischer", "Garcia",
    "Hansen", "Ito", "Jensen", "Kowalski", "Lopez", "Meyer", "Nakamura",
    "Olsen", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka", "Ueda",
    "Varga", "Weber", "Xu", "Young", "Zimmermann", "Novak", "Silva",
    "Moreau", "Larsen",
};

/* Names that need an RFC 2047 encoded word, as real mail has them. */
static const char *const encoded_names[] = {
    "=?UTF-8?Q?Ren=C3=A9e_M=C3=BCller?=",
    "=?UTF-8?Q?Bj=C3=B6rn_=C3=85str=C3=B6m?=",
    "=?UTF-8?B?Sm9zw6kgR2FyY8OtYQ==?=",
    "=?ISO-8859-1?Q?Fran=E7ois_L=E9ger?=",
};

static const char *const domains[] = {
    "example.com", "example.org", "example.net", "mail.example.com",
    "corp.example", "lists.example.org", "acme.example", "globex.example",
    "initech.example", "umbrella.example", "hooli.example",
    "stark.example", "wayne.example", "wonka.example", "tyrell.example",
};

static const char *const zones[] = {"+0000", "+0100", "+0200", "-0500",
                                    "-0800", "+0530", "+0900", "-0300"};

static const char *const mailers[] = {
    "Mozilla Thunderbird 115.6", "Apple Mail (2.3731)",
    "Microsoft Outlook 16.0", "mutt 2.2.9", "Roundcube Webmail 1.6.5",
};

static const char *const wday_names[] = {"Sun", "Mon", "Tue", "Wed",
                                         "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr",
                                          "May", "Jun", "Jul", "Aug",
                                          "Sep", "Oct", "Nov", "Dec"};

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct msginfo {
    int type;        /* 0 plain, 1 alternative, 2 mixed */
    bool header_hit; /* HEADER_NEEDLE in the Subject */
    bool body_hit;   /* BODY_NEEDLE in the body text */
    const char *flags;
    char internal_date[32]; /* "dd-Mon-yyyy hh:mm:ss +0000" for APPEND */
};

static void add_address(struct rng *r, struct sbuf *b, bool with_name)
{
    const char *first = PICK(r, first_names), *last = PICK(r, last_names);
    const char *dom = PICK(r, domains);
    char local[64];

    snprintf(local, sizeof local, "%s.%s", first, last);
    for (char *p = local; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (!with_name)
        sb_addf(b, "<%s@%s>", local, dom);
    else if (rng_below(r, 20) == 0)
        sb_addf(b, "%s <%s@%s>", PICK(r, encoded_names), local, dom);
    else if (rng_below(r, 5) == 0) /* "Last, First" must be quoted */
        sb_addf(b, "\"%s, %s\" <%s@%s>", last, first, local, dom);
    else
        sb_addf(b, "%s %s <%s@%s>", first, last, local, dom);
}

static void add_address_list(struct rng *r, struct sbuf *b, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        if (k)
            sb_adds(b, ",\r\n ");
        add_address(r, b, true);
    }
}

/* RFC 5322 date of `t` seen in time zone `zone` ("+0530"). */
static void add_rfc5322_date(struct sbuf *b, time_t t, const char *zone)
{
    int sign = zone[0] == '-' ? -1 : 1;
    int off = sign * ((zone[1] - '0') * 600 + (zone[2] - '0') * 60 +
                      (zone[3] - '0') * 10 + (zone[4] - '0'));
    time_t local = t + (time_t)off * 60;
    struct tm tm;

    gmtime_r(&local, &tm);
    sb_addf(b, "%s, %d %s %d %02d:%02d:%02d %s", wday_names[tm.tm_wday],
            tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
            tm.tm_min, tm.tm_sec, zone);
}

/* Paragraphs, one per line of `pars` (LF separated, unwrapped), about
 * `want` bytes in all; the needle sentence, if any, is the second. */
static void gen_paragraphs(struct rng *r, size_t want, bool needle,
                           struct sbuf *pars)
{
    unsigned npar = 0;

    sb_clear(pars);
    sb_addf(pars, "Hi %s,\n", PICK(r, first_names));
    while (pars->len < want || npar < 1) {
        unsigned nsent = 1 + rng_below(r, 5);
        for (unsigned s = 0; s < nsent && (pars->len < want || s == 0); s++) {
            unsigned nw = 5 + rng_below(r, 12);
            for (unsigned w = 0; w < nw; w++) {
                const char *word = PICK(r, words);
                if (w == 0) {
                    sb_addc(pars, (char)(word[0] - 'a' + 'A'));
                    sb_adds(pars, word + 1);
                } else {
                    sb_addc(pars, ' ');
                    sb_adds(pars, word);
                    if (w + 1 < nw && rng_below(r, 12) == 0)
                        sb_addc(pars, ',');
                }
            }
            sb_adds(pars, rng_below(r, 8) == 0 ? "? " : ". ");
        }
        pars->p[pars->len - 1] = '\n'; /* the last sentence's space */
        npar++;
        if (npar == 1 && needle)
            sb_adds(pars, "Please quote the reference " BODY_NEEDLE
                          " when you reply to this message.\n");
    }
    sb_addf(pars, "Best regards,\n%s\n", PICK(r, first_names));
}

/* The paragraphs as text/plain: lines of at most 72 columns, a blank line
 * between paragraphs (not after a line ending in a comma: the greeting
 * and the closing stay together with what follows). */
static void emit_text(struct sbuf *out, const struct sbuf *pars)
{
    const char *p = pars->p, *end = pars->p + pars->len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        while (eol - p > 72) {
            const char *cut = p + 72;
            while (cut > p && *cut != ' ')
                cut--;
            if (cut == p)
                cut = p + 72;
            sb_add(out, p, (size_t)(cut - p));
            sb_adds(out, "\r\n");
            p = *cut == ' ' ? cut + 1 : cut;
        }
        sb_add(out, p, (size_t)(eol - p));
        sb_adds(out, "\r\n");
        if (eol < end && eol + 1 < end && eol[-1] != ',')
            sb_adds(out, "\r\n");
        p = eol + 1;
    }
}

static void emit_html(struct sbuf *out, const struct sbuf *pars)
{
    struct sbuf tmp = {0};

    sb_adds(out, "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\">"
                 "</head>\r\n<body style=\"font-family: sans-serif\">\r\n");
    for (const char *p = pars->p, *end = pars->p + pars->len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        sb_clear(&tmp);
        sb_adds(&tmp, "<p>");
        sb_add(&tmp, p, (size_t)(eol - p));
        sb_adds(&tmp, "</p>\n");
        emit_text(out, &tmp);
        p = eol + 1;
    }
    sb_adds(out, "</body></html>\r\n");
    free(tmp.p);
}

/* `raw` random bytes, base64 in lines of 76. */
static void emit_base64(struct rng *r, struct sbuf *out, size_t raw)
{
    unsigned col = 0, have = 0;
    uint64_t bits = 0;

    for (size_t k = 0; k < raw; k += 3) {
        size_t n = raw - k < 3 ? raw - k : 3;
        uint32_t v;
        if (have < 24) {
            bits = rng_next(r);
            have = 64;
        }
        v = (uint32_t)(bits & 0xffffff);
        bits >>= 24;
        have -= 24;
        if (n < 3)
            v &= n == 1 ? 0xff0000u : 0xffff00u;
        char q[4] = {b64chars[(v >> 18) & 63], b64chars[(v >> 12) & 63],
                     n > 1 ? b64chars[(v >> 6) & 63] : '=',
                     n > 2 ? b64chars[v & 63] : '='};
        sb_add(out, q, 4);
        col += 4;
        if (col == 76) {
            sb_adds(out, "\r\n");
            col = 0;
        }
    }
    if (col)
        sb_adds(out, "\r\n");
}

/* One attempt at message `i`; `adjust` corrects the size of its text. */
static void gen_attempt(uint64_t seed, unsigned long i, struct sbuf *out,
                        struct msginfo *info, long adjust)
{
    struct rng r = {seed * 0x2545f4914f6cdd1dULL ^
                    (uint64_t)i * 0x9e3779b97f4a7c15ULL};
    static struct sbuf pars, subject;
    size_t target = MIN_SIZE + rng_below(&r, MAX_SIZE - MIN_SIZE + 1);
    time_t date = (time_t)1704067200 /* 2024-01-01 UTC */ +
                  (time_t)i * 300 + (time_t)rng_below(&r, 300);
    const char *zone = PICK(&r, zones);
    const char *from_dom;
    char boundary[48], msgid[80];
    struct tm tm;

    rng_next(&r); /* decorrelate from the seed a little more */
    memset(info, 0, sizeof *info);
    info->type = (int)(i % 3);
    info->header_hit = i % HEADER_EVERY == 0;
    info->body_hit = i % BODY_EVERY == 0;
    switch (rng_below(&r, 10)) {
    case 0: case 1: case 2: info->flags = ""; break;
    case 3: info->flags = "\\Seen \\Flagged"; break;
    case 4: info->flags = "\\Seen \\Answered"; break;
    default: info->flags = "\\Seen"; break;
    }
    gmtime_r(&date, &tm);
    snprintf(info->internal_date, sizeof info->internal_date,
             "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
             month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);

    sb_clear(out);
    from_dom = PICK(&r, domains);
    snprintf(msgid, sizeof msgid, "%016" PRIx64 ".%lu@%s", rng_next(&r), i,
             from_dom);
    snprintf(boundary, sizeof boundary, "=_b%012" PRIx64 "_%lu",
             rng_next(&r) & (uint64_t)0xffffffffffff, i);

    /* Headers */
    sb_adds(out, "Return-Path: ");
    add_address(&r, out, false);
    sb_addf(out, "\r\nReceived: from mail.%s (mail.%s [10.%u.%u.%u])\r\n"
                 "\tby mx.example.com with ESMTPS id %08" PRIx64 ";\r\n\t",
            from_dom, from_dom, rng_below(&r, 256), rng_below(&r, 256),
            1 + rng_below(&r, 254), rng_next(&r) & (uint64_t)0xffffffff);
    add_rfc5322_date(out, date + 2, "+0000");
    sb_addf(out, "\r\nMessage-ID: <%s>\r\nDate: ", msgid);
    add_rfc5322_date(out, date, zone);
    sb_adds(out, "\r\nFrom: ");
    add_address(&r, out, true);
    sb_adds(out, "\r\nTo: ");
    add_address_list(&r, out, 1 + rng_below(&r, 3));
    if (rng_below(&r, 10) < 6) {
        sb_adds(out, "\r\nCc: ");
        add_address_list(&r, out, 1 + rng_below(&r, 2));
    }
    sb_clear(&subject);
    unsigned pre = rng_below(&r, 20);
    if (pre < 5)
        sb_adds(&subject, "Re: ");
    else if (pre == 5)
        sb_adds(&subject, "Fwd: ");
    for (unsigned k = 0, n = 2 + rng_below(&r, 6); k < n; k++) {
        if (k)
            sb_addc(&subject, ' ');
        sb_adds(&subject, PICK(&r, subject_words));
    }
    if (info->header_hit)
        sb_adds(&subject, " (" HEADER_NEEDLE ")");
    sb_addf(out, "\r\nSubject: %s\r\n", subject.p);
    if (pre < 5)
        sb_addf(out, "In-Reply-To: <%016" PRIx64 ".%lu@%s>\r\n", rng_next(&r),
                i > 1 ? i - 1 : i, PICK(&r, domains));
    if (rng_below(&r, 2))
        sb_addf(out, "X-Mailer: %s\r\n", PICK(&r, mailers));
    sb_adds(out, "MIME-Version: 1.0\r\n");

    long room_l = (long)target - (long)out->len - 300 + adjust;
    size_t room = room_l > 200 ? (size_t)room_l : 200;

    switch (info->type) {
    case 0:
        sb_adds(out, "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 7bit\r\n\r\n");
        gen_paragraphs(&r, room, info->body_hit, &pars);
        emit_text(out, &pars);
        break;
    case 1:
        sb_addf(out, "Content-Type: multipart/alternative;\r\n"
                     "\tboundary=\"%s\"\r\n\r\n"
                     "This is a multi-part message in MIME format.\r\n"
                     "--%s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 7bit\r\n\r\n",
                boundary, boundary);
        /* the HTML copy is about 1.15 times the text */
        gen_paragraphs(&r, room * 100 / 215, info->body_hit, &pars);
        emit_text(out, &pars);
        sb_addf(out, "\r\n--%s\r\n"
                     "Content-Type: text/html; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 7bit\r\n\r\n",
                boundary);
        emit_html(out, &pars);
        sb_addf(out, "\r\n--%s--\r\n", boundary);
        break;
    default: {
        /* a small attachment: 300 B - 4 KB raw, at most 3/8 of the room */
        size_t raw = 300 + rng_below(&r, 3800);
        if (raw > room * 3 / 8)
            raw = room * 3 / 8 > 60 ? room * 3 / 8 : 60;
        size_t enc = (raw + 2) / 3 * 4 * 78 / 76;
        size_t text = room > enc + 250 ? room - enc - 250 : 150;
        static const char *const att[][2] = {
            {"application/pdf", "pdf"},
            {"image/png", "png"},
            {"application/octet-stream", "bin"},
            {"application/zip", "zip"},
        };
        unsigned a = rng_below(&r, 4);
        sb_addf(out, "Content-Type: multipart/mixed;\r\n"
                     "\tboundary=\"%s\"\r\n\r\n"
                     "This is a multi-part message in MIME format.\r\n"
                     "--%s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 7bit\r\n\r\n",
                boundary, boundary);
        gen_paragraphs(&r, text, info->body_hit, &pars);
        emit_text(out, &pars);
        sb_addf(out, "\r\n--%s\r\n"
                     "Content-Type: %s; name=\"file-%lu.%s\"\r\n"
                     "Content-Disposition: attachment; filename=\"file-%lu.%s\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n",
                boundary, att[a][0], i, att[a][1], i, att[a][1]);
        emit_base64(&r, out, raw);
        sb_addf(out, "\r\n--%s--\r\n", boundary);
        break;
    }
    }
}

/* Message `i` (1-based) for `seed`: the same bytes on every call, 1 KB to
 * 20 KB.  The body sizes are estimates, so a message that misses the range
 * is made again, the same but for the length of its text. */
static void gen_message(uint64_t seed, unsigned long i, struct sbuf *out,
                        struct msginfo *info)
{
    long adjust = 0;

    for (int attempt = 0; attempt < 4; attempt++) {
        gen_attempt(seed, i, out, info, adjust);
        if (out->len < MIN_SIZE)
            adjust += MIN_SIZE + 64 - (long)out->len;
        else if (out->len > MAX_SIZE)
            adjust -= (long)out->len - (MAX_SIZE - 64);
        else
            return;
    }
}

/* ------------------------------------------------------------------ */
/* IMAP connection                                                     */
/* ------------------------------------------------------------------ */

struct conn {
    int fd;
    char *buf;
    size_t off, len, cap;
    uint64_t rx, tx;
    unsigned long tagno;
    bool timed_out;
    const char *fail; /* why the session did not start, for status= */
};

struct resp {
    struct sbuf text; /* the response without literal bytes and CRLF */
    unsigned nlit;
};

static int conn_connect(struct conn *c, const char *host, const char *port,
                        int timeout_s)
{
    struct addrinfo hints = {0}, *ai, *a;
    struct timeval tv = {timeout_s, 0};
    int one = 1, rc;

    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->cap = 1 << 18;
    c->buf = malloc(c->cap);
    if (!c->buf)
        fatal("out of memory");
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "mboxload: %s:%s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    for (a = ai; a; a = a->ai_next) {
        c->fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (c->fd < 0)
            continue;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(ai);
    if (c->fd < 0) {
        fprintf(stderr, "mboxload: connect %s:%s: %s\n", host, port,
                strerror(errno));
        return -1;
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

static int conn_write(struct conn *c, const void *data, size_t n)
{
    const char *p = data;

    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                c->timed_out = true;
            fprintf(stderr, "mboxload: send: %s\n",
                    c->timed_out ? "timed out" : strerror(errno));
            return -1;
        }
        p += w;
        n -= (size_t)w;
        c->tx += (uint64_t)w;
    }
    return 0;
}

/* More bytes into the buffer: >0 read, 0 EOF, -1 error or timeout. */
static int conn_fill(struct conn *c)
{
    if (c->off == c->len) {
        c->off = c->len = 0;
    } else if (c->off > c->cap / 2) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            c->rx += (uint64_t)n;
            return 1;
        }
        if (n == 0) {
            fprintf(stderr, "mboxload: connection closed by the server\n");
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            c->timed_out = true;
        fprintf(stderr, "mboxload: recv: %s\n",
                c->timed_out ? "timed out" : strerror(errno));
        return -1;
    }
}

/* Does the text end in a literal announcement {n}, {n+} or ~{n}? */
static bool literal_at_end(const struct sbuf *t, uint64_t *n)
{
    size_t k = t->len;
    uint64_t v = 0, mul = 1;

    if (k < 3 || t->p[k - 1] != '}')
        return false;
    k--;
    if (t->p[k - 1] == '+')
        k--;
    size_t digits_end = k;
    while (k > 0 && t->p[k - 1] >= '0' && t->p[k - 1] <= '9')
        k--;
    if (k == digits_end || k == 0 || t->p[k - 1] != '{' ||
        digits_end - k > 18)
        return false;
    for (size_t d = digits_end; d > k; d--) {
        v += (uint64_t)(t->p[d - 1] - '0') * mul;
        mul *= 10;
    }
    *n = v;
    return true;
}

/* One complete server response.  0 on success, -1 on EOF or error. */
static int read_resp(struct conn *c, struct resp *r)
{
    sb_clear(&r->text);
    r->nlit = 0;
    for (;;) {
        /* one line, up to LF */
        for (;;) {
            char *start = c->buf + c->off;
            char *nl = memchr(start, '\n', c->len - c->off);
            if (nl) {
                sb_add(&r->text, start, (size_t)(nl - start));
                c->off += (size_t)(nl - start) + 1;
                break;
            }
            sb_add(&r->text, start, c->len - c->off);
            c->off = c->len;
            if (r->text.len > MAX_RESPONSE) {
                fprintf(stderr, "mboxload: response longer than %u bytes\n",
                        MAX_RESPONSE);
                return -1;
            }
            if (conn_fill(c) <= 0)
                return -1;
        }
        if (r->text.len && r->text.p[r->text.len - 1] == '\r')
            r->text.p[--r->text.len] = '\0';
        uint64_t n;
        if (!literal_at_end(&r->text, &n))
            return 0;
        /* skip the literal's bytes without looking at them */
        r->nlit++;
        while (n) {
            if (c->off == c->len && conn_fill(c) <= 0)
                return -1;
            size_t have = c->len - c->off;
            size_t take = have < n ? have : (size_t)n;
            c->off += take;
            n -= take;
        }
    }
}

/* "* <digits> <word>" with word (case-insensitive): the number, else -1. */
static long untagged_number(const char *t, const char *word)
{
    char *end;
    long v;
    size_t wl = strlen(word);

    if (t[0] != '*' || t[1] != ' ' || t[2] < '0' || t[2] > '9')
        return -1;
    v = strtol(t + 2, &end, 10);
    if (*end != ' ' || strncasecmp(end + 1, word, wl) != 0 ||
        (end[1 + wl] != '\0' && end[1 + wl] != ' ' && end[1 + wl] != '('))
        return -1;
    return v;
}

/* "* SEARCH n n n ...": how many numbers, else -1. */
static long search_count(const char *t)
{
    long n = 0;

    if (strncasecmp(t, "* SEARCH", 8) != 0 || (t[8] != '\0' && t[8] != ' '))
        return -1;
    for (const char *p = t + 8; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ' ')
            p++;
        bool digits = true;
        for (const char *q = s; q < p; q++)
            if (*q < '0' || *q > '9')
                digits = false;
        if (digits)
            n++;
    }
    return n;
}

enum status { ST_OK, ST_NO, ST_BAD, ST_IO };

static const char *status_name(enum status s, const struct conn *c)
{
    switch (s) {
    case ST_OK: return "OK";
    case ST_NO: return "NO";
    case ST_BAD: return "BAD";
    default:
        if (c && c->fail)
            return c->fail;
        return c && c->timed_out ? "TIMEOUT" : "EOF";
    }
}

struct result {
    enum status st;
    long fetches, exists, search_hits;
    bool have_exists, have_search, literal_plus, multiappend;
    uint64_t rx;
    double ms;
    char tagged[256]; /* the tagged line, for messages */
};

static enum status tagged_status(const char *t, const char *tag)
{
    const char *s = t + strlen(tag) + 1;

    if (strncasecmp(s, "OK", 2) == 0 && (s[2] == ' ' || !s[2]))
        return ST_OK;
    if (strncasecmp(s, "NO", 2) == 0 && (s[2] == ' ' || !s[2]))
        return ST_NO;
    return ST_BAD;
}

static bool is_tagged(const char *t, const char *tag)
{
    size_t tl = strlen(tag);
    return strncmp(t, tag, tl) == 0 && t[tl] == ' ';
}

static void note_untagged(const char *t, struct result *res)
{
    long v;

    if ((v = untagged_number(t, "FETCH")) >= 0) {
        res->fetches++;
    } else if ((v = untagged_number(t, "EXISTS")) >= 0) {
        res->exists = v;
        res->have_exists = true;
    } else if ((v = search_count(t)) >= 0) {
        res->search_hits += v;
        res->have_search = true;
    } else if (strncasecmp(t, "* CAPABILITY ", 13) == 0) {
        for (const char *p = t + 12; *p;) {
            while (*p == ' ')
                p++;
            const char *s = p;
            while (*p && *p != ' ')
                p++;
            if (p - s == 8 && strncasecmp(s, "LITERAL+", 8) == 0)
                res->literal_plus = true;
            if (p - s == 11 && strncasecmp(s, "MULTIAPPEND", 11) == 0)
                res->multiappend = true;
        }
    }
}

/* Send "TAG command" and read up to the tagged reply. */
static enum status run_cmd(struct conn *c, struct resp *r, const char *cmd,
                           struct result *res)
{
    char tag[24];
    struct sbuf line = {0};
    uint64_t rx0;
    double t0;

    memset(res, 0, sizeof *res);
    snprintf(tag, sizeof tag, "T%lu", ++c->tagno);
    sb_addf(&line, "%s %s\r\n", tag, cmd);
    /* bytes already buffered belong to earlier responses */
    rx0 = c->rx - (c->len - c->off);
    t0 = now_ms();
    if (conn_write(c, line.p, line.len) != 0) {
        free(line.p);
        return res->st = ST_IO;
    }
    free(line.p);
    for (;;) {
        if (read_resp(c, r) != 0)
            return res->st = ST_IO;
        const char *t = r->text.p;
        if (is_tagged(t, tag)) {
            res->ms = now_ms() - t0;
            res->rx = c->rx - (c->len - c->off) - rx0;
            snprintf(res->tagged, sizeof res->tagged, "%s", t);
            return res->st = tagged_status(t, tag);
        }
        if (t[0] == '+') {
            fprintf(stderr, "mboxload: unexpected continuation to %s\n", cmd);
            return res->st = ST_IO;
        }
        if (strncasecmp(t, "* BYE", 5) == 0 && strcmp(cmd, "LOGOUT") != 0)
            fprintf(stderr, "mboxload: server said: %s\n", t);
        note_untagged(t, res);
    }
}

/* An IMAP astring: an atom when it can be, else quoted (the names used
 * here are plain ASCII). */
static void add_quoted(struct sbuf *b, const char *s)
{
    bool atom = *s != '\0';

    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-'))
            atom = false;
    if (atom) { /* as a client would send it (and no quotes in cmd="...") */
        sb_adds(b, s);
        return;
    }
    sb_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sb_addc(b, '\\');
        sb_addc(b, *s);
    }
    sb_addc(b, '"');
}

struct options {
    const char *host, *port, *user, *pass, *mailbox, *server, *ops;
    unsigned long messages, window, repeat, index, session_size, batch;
    uint64_t seed;
    int timeout_s;
    int literal; /* 0 auto, 1 plus, 2 sync */
    bool hold, have_messages, have_index;
};

/* Connect, greeting, LOGIN, CAPABILITY.  0 or -1. */
static int session_start(struct conn *c, struct resp *r,
                         const struct options *o, bool *literal_plus,
                         bool *multiappend)
{
    struct result res;
    struct sbuf cmd = {0};

    if (conn_connect(c, o->host, o->port, o->timeout_s) != 0) {
        c->fail = "CONNECT";
        return -1;
    }
    if (read_resp(c, r) != 0)
        return -1;
    if (strncasecmp(r->text.p, "* OK", 4) != 0 &&
        strncasecmp(r->text.p, "* PREAUTH", 9) != 0) {
        fprintf(stderr, "mboxload: greeting: %s\n", r->text.p);
        c->fail = "GREETING";
        return -1;
    }
    if (strncasecmp(r->text.p, "* OK", 4) == 0) {
        sb_adds(&cmd, "LOGIN ");
        add_quoted(&cmd, o->user);
        sb_addc(&cmd, ' ');
        add_quoted(&cmd, o->pass);
        if (run_cmd(c, r, cmd.p, &res) != ST_OK) {
            fprintf(stderr, "mboxload: LOGIN failed: %s\n", res.tagged);
            if (res.st != ST_IO)
                c->fail = "LOGIN";
            free(cmd.p);
            return -1;
        }
        free(cmd.p);
    }
    if (run_cmd(c, r, "CAPABILITY", &res) != ST_OK) {
        fprintf(stderr, "mboxload: CAPABILITY failed: %s\n", res.tagged);
        if (res.st != ST_IO)
            c->fail = "CAPABILITY";
        return -1;
    }
    *literal_plus = res.literal_plus;
    *multiappend = res.multiappend;
    return 0;
}

static void session_end(struct conn *c, struct resp *r)
{
    struct result res;

    if (c->fd >= 0 && !c->timed_out)
        run_cmd(c, r, "LOGOUT", &res);
    conn_close(c);
    free(r->text.p);
    r->text = (struct sbuf){0};
}

/* --hold: say so on stdout, then wait for EOF on stdin (the session stays
 * open meanwhile, so that its server side can be measured). */
static void hold(const struct options *o)
{
    char tmp[256];

    if (!o->hold)
        return;
    printf("HOLD server=%s\n", o->server);
    fflush(stdout);
    while (fread(tmp, 1, sizeof tmp, stdin) > 0)
        ;
}

/* ------------------------------------------------------------------ */
/* fill                                                                */
/* ------------------------------------------------------------------ */

struct fill_state {
    unsigned long next;   /* the next message to send */
    unsigned long ok;     /* messages whose APPEND was answered OK */
    unsigned long batch;  /* messages per APPEND (MULTIAPPEND when > 1) */
    uint64_t bytes;       /* message bytes sent */
    bool plus, failed;
    char firsterr[256];   /* the first refusal */
    double t0, last_progress;
    struct sbuf msg, cmd;
};

static void note_refusal(struct fill_state *st, const char *line)
{
    if (!st->failed) {
        st->failed = true;
        snprintf(st->firsterr, sizeof st->firsterr, "%s", line);
    }
}

/* One APPEND command with messages first .. first+n-1 (RFC 3502
 * MULTIAPPEND when n > 1).  With LITERAL+ it is written without waiting;
 * otherwise each literal waits for "+".  0: sent, 1: refused before the
 * end (synchronizing literals only), -1: I/O error. */
static int send_append(struct conn *c, struct resp *r, const struct options *o,
                       struct fill_state *st, const char *tag,
                       unsigned long first, unsigned long n)
{
    struct msginfo mi;
    struct result ignored;

    sb_clear(&st->cmd);
    sb_addf(&st->cmd, "%s APPEND ", tag);
    add_quoted(&st->cmd, o->mailbox);
    for (unsigned long k = 0; k < n; k++) {
        gen_message(o->seed, first + k, &st->msg, &mi);
        sb_addf(&st->cmd, " (%s) \"%s\" {%zu%s}\r\n", mi.flags,
                mi.internal_date, st->msg.len, st->plus ? "+" : "");
        if (st->plus) {
            sb_add(&st->cmd, st->msg.p, st->msg.len);
            if (st->cmd.len >= (1u << 18)) { /* write in pieces of ~256 KB */
                if (conn_write(c, st->cmd.p, st->cmd.len) != 0)
                    return -1;
                sb_clear(&st->cmd);
            }
        } else {
            if (conn_write(c, st->cmd.p, st->cmd.len) != 0)
                return -1;
            sb_clear(&st->cmd);
            for (;;) {
                if (read_resp(c, r) != 0)
                    return -1;
                if (r->text.p[0] == '+' || is_tagged(r->text.p, tag))
                    break;
                note_untagged(r->text.p, &ignored);
            }
            if (r->text.p[0] != '+') { /* refused before this literal */
                note_refusal(st, r->text.p);
                return 1;
            }
            if (conn_write(c, st->msg.p, st->msg.len) != 0)
                return -1;
        }
        st->bytes += st->msg.len;
        st->next++;
    }
    sb_adds(&st->cmd, "\r\n");
    return conn_write(c, st->cmd.p, st->cmd.len) != 0 ? -1 : 0;
}

/* APPEND messages st->next .. last in this session: with LITERAL+ up to
 * o->window commands in flight, otherwise one at a time.  The first
 * refusal stops the sending.  0, or -1 on an I/O error. */
static int append_range(struct conn *c, struct resp *r,
                        const struct options *o, unsigned long last,
                        struct fill_state *st)
{
    unsigned long window = st->plus ? o->window : 1;
    unsigned long *inflight = calloc(window, sizeof *inflight); /* counts */
    unsigned long head = 0, queued = 0;
    int rc = 0;

    if (!inflight)
        fatal("out of memory");
    while (st->next <= last || queued > 0) {
        while (!st->failed && st->next <= last && queued < window) {
            unsigned long n = last - st->next + 1;
            char tag[24];
            if (n > st->batch)
                n = st->batch;
            snprintf(tag, sizeof tag, "A%lu", st->next);
            int w = send_append(c, r, o, st, tag, st->next, n);
            if (w < 0) {
                rc = -1;
                goto done;
            }
            if (w > 0)
                break;
            inflight[(head + queued++) % window] = n;
        }
        if (queued == 0)
            break; /* refused, or all done */
        if (read_resp(c, r) != 0) {
            rc = -1;
            goto done;
        }
        const char *t = r->text.p;
        if (t[0] == 'A' && t[1] >= '0' && t[1] <= '9') {
            const char *sp = strchr(t, ' ');
            char tag[24];
            size_t tl = sp ? (size_t)(sp - t) : 0;
            if (tl && tl < sizeof tag) {
                unsigned long n = inflight[head];
                head = (head + 1) % window;
                queued--;
                memcpy(tag, t, tl);
                tag[tl] = '\0';
                if (tagged_status(t, tag) == ST_OK)
                    st->ok += n;
                else
                    note_refusal(st, t);
            }
        } else if (t[0] == '+') {
            fprintf(stderr, "mboxload: unexpected continuation: %s\n", t);
        } else if (strncasecmp(t, "* BYE", 5) == 0) {
            fprintf(stderr, "mboxload: server said: %s\n", t);
        }
        double now = now_ms();
        if (now - st->last_progress > 5000) {
            fprintf(stderr, "mboxload: (%s) %lu/%lu appended, %.0f msg/s\n",
                    o->server, st->ok, o->messages,
                    st->ok / ((now - st->t0) / 1e3));
            st->last_progress = now;
        }
    }
done:
    free(inflight);
    return rc;
}

/* STATUS mailbox (MESSAGES): the count, or -1. */
static long status_messages(struct conn *c, struct resp *r,
                            const struct options *o)
{
    struct sbuf cmd = {0};
    char tag[24];
    long n = -1;

    snprintf(tag, sizeof tag, "T%lu", ++c->tagno);
    sb_addf(&cmd, "%s STATUS ", tag);
    add_quoted(&cmd, o->mailbox);
    sb_adds(&cmd, " (MESSAGES)\r\n");
    if (conn_write(c, cmd.p, cmd.len) == 0) {
        while (read_resp(c, r) == 0) {
            const char *t = r->text.p, *m;
            if (is_tagged(t, tag))
                break;
            if (strncasecmp(t, "* STATUS ", 9) == 0 &&
                (m = strstr(t, "MESSAGES ")) != NULL)
                n = strtol(m + 9, NULL, 10);
        }
    }
    free(cmd.p);
    return n;
}

static int do_fill(const struct options *o)
{
    struct conn c;
    struct resp r = {0};
    struct result res;
    struct fill_state st = {.next = 1};
    bool lp = false, ma = false;
    unsigned long sessions = 0;
    const char *io = NULL;
    int rc;

    for (;;) {
        if (session_start(&c, &r, o, &lp, &ma) != 0) {
            io = status_name(ST_IO, &c);
            break;
        }
        if (++sessions == 1) {
            st.plus = o->literal == 1 || (o->literal == 0 && lp);
            st.batch = ma ? o->batch : 1;
            if (o->literal == 1 && !lp)
                fprintf(stderr, "mboxload: warning: LITERAL+ forced but not "
                                "advertised\n");
            sb_clear(&st.cmd);
            sb_adds(&st.cmd, "CREATE ");
            add_quoted(&st.cmd, o->mailbox);
            if (run_cmd(&c, &r, st.cmd.p, &res) == ST_IO) {
                io = status_name(ST_IO, &c);
                break;
            }
            if (res.st != ST_OK)
                fprintf(stderr, "mboxload: (%s) CREATE: %s\n", o->server,
                        res.tagged);
            st.t0 = st.last_progress = now_ms();
        }
        unsigned long last = o->messages;
        if (o->session_size && o->messages - st.next >= o->session_size)
            last = st.next + o->session_size - 1;
        if (append_range(&c, &r, o, last, &st) != 0) {
            io = status_name(ST_IO, &c);
            break;
        }
        if (st.failed || st.next > o->messages)
            break;
        session_end(&c, &r); /* the next session continues */
    }
    double ms = sessions ? now_ms() - st.t0 : 0;
    if (st.failed)
        fprintf(stderr, "mboxload: (%s) APPEND refused after %lu messages: %s\n",
                o->server, st.ok, st.firsterr);
    if (io) {
        printf("RESULT server=%s op=fill messages=%lu status=%s\n", o->server,
               st.ok, io);
        rc = 1;
    } else {
        /* check: what the server says it holds now */
        long check = status_messages(&c, &r, o);
        char checkbuf[32] = "n/a";
        const char *why = st.firsterr + strcspn(st.firsterr, " ");
        if (check >= 0)
            snprintf(checkbuf, sizeof checkbuf, "%ld", check);
        printf("RESULT server=%s op=fill messages=%lu ms=%.1f rate=%.1f "
               "bytes_sent=%" PRIu64 " literal=%s batch=%lu sessions=%lu "
               "check=%s expect=%lu match=%s status=%s\n",
               o->server, st.ok, ms, ms > 0 ? st.ok / (ms / 1e3) : 0.0,
               st.bytes, st.plus ? "plus" : "sync", st.batch, sessions,
               checkbuf, o->messages,
               check == (long)o->messages ? "yes" : "no",
               !st.failed ? "OK"
               : strncasecmp(why, " NO", 3) == 0 ? "NO" : "BAD");
        fflush(stdout);
        rc = st.failed || check != (long)o->messages ? 2 : 0;
        hold(o);
    }
    if (c.fd >= 0)
        session_end(&c, &r);
    else
        conn_close(&c);
    free(r.text.p);
    free(st.msg.p);
    free(st.cmd.p);
    return rc;
}

/* ------------------------------------------------------------------ */
/* time                                                                */
/* ------------------------------------------------------------------ */

struct op {
    const char *name;
    const char *cmd;     /* %s: the mailbox */
    int check;           /* 0 EXISTS, 1 FETCH count, 2 SEARCH count */
    unsigned long every; /* expected: messages / every */
};

static const struct op all_ops[] = {
    {"select", "SELECT %s", 0, 1},
    {"fetch_flags", "FETCH 1:* (UID FLAGS)", 1, 1},
    {"fetch_envelope", "FETCH 1:* (ENVELOPE BODYSTRUCTURE)", 1, 1},
    {"search_header", "UID SEARCH SUBJECT " HEADER_NEEDLE, 2, HEADER_EVERY},
    {"search_body", "UID SEARCH BODY " BODY_NEEDLE, 2, BODY_EVERY},
};
#define NOPS (sizeof all_ops / sizeof all_ops[0])

static bool op_wanted(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, name, n) == 0)
            return true;
        p += l + (e ? 1 : 0);
    }
    return false;
}

static int do_time(const struct options *o)
{
    struct conn c;
    struct resp r = {0};
    struct result res;
    struct sbuf cmd = {0}, quoted = {0};
    bool lp, ma, dead = false;
    int rc = 0;
    double *times = calloc(o->repeat, sizeof *times);

    if (!times)
        fatal("out of memory");
    for (const char *p = o->ops; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        bool known = false;
        for (size_t k = 0; k < NOPS; k++)
            if (strlen(all_ops[k].name) == l &&
                strncmp(all_ops[k].name, p, l) == 0)
                known = true;
        if (!known)
            fatal("--ops: unknown operation '%.*s'", (int)l, p);
        p += l + (e ? 1 : 0);
    }
    add_quoted(&quoted, o->mailbox);
    if (session_start(&c, &r, o, &lp, &ma) != 0) {
        dead = true;
    } else if (!op_wanted(o->ops, "select")) {
        sb_clear(&cmd);
        sb_addf(&cmd, "SELECT %s", quoted.p);
        if (run_cmd(&c, &r, cmd.p, &res) == ST_IO)
            dead = true;
        else if (res.st != ST_OK)
            fprintf(stderr, "mboxload: (%s) untimed SELECT: %s\n", o->server,
                    res.tagged);
    }

    for (size_t k = 0; k < NOPS; k++) {
        const struct op *op = &all_ops[k];
        unsigned long runs = 0;
        double first = 0;
        struct result last = {0};
        enum status st = ST_IO;
        char expect[32] = "?", check[32] = "n/a", best[32] = "n/a",
             median[32] = "n/a", firsts[32] = "n/a", bytes[32] = "n/a";

        if (!op_wanted(o->ops, op->name))
            continue;
        sb_clear(&cmd);
        sb_addf(&cmd, op->cmd, quoted.p);
        if (o->have_messages)
            snprintf(expect, sizeof expect, "%lu", o->messages / op->every);
        while (!dead && runs < o->repeat) {
            st = run_cmd(&c, &r, cmd.p, &res);
            if (st == ST_IO) {
                dead = true;
                break;
            }
            if (st != ST_OK) {
                fprintf(stderr, "mboxload: (%s) %s: %s\n", o->server, cmd.p,
                        res.tagged);
                break;
            }
            if (runs == 0)
                first = res.ms;
            times[runs++] = res.ms;
            last = res;
        }
        if (dead)
            st = ST_IO;
        if (runs > 0 && st == ST_OK) {
            long v = op->check == 0 ? (last.have_exists ? last.exists : -1)
                   : op->check == 1 ? last.fetches
                   : (last.have_search ? last.search_hits : -1);
            if (v >= 0)
                snprintf(check, sizeof check, "%ld", v);
            qsort(times, runs, sizeof *times, cmp_double);
            double med = runs % 2 ? times[runs / 2]
                                  : (times[runs / 2 - 1] + times[runs / 2]) / 2;
            snprintf(best, sizeof best, "%.3f", times[0]);
            snprintf(median, sizeof median, "%.3f", med);
            snprintf(firsts, sizeof firsts, "%.3f", first);
            snprintf(bytes, sizeof bytes, "%" PRIu64, last.rx);
        }
        bool match = st == ST_OK && strcmp(check, expect) == 0;
        if (!match && rc == 0)
            rc = 2;
        printf("RESULT server=%s op=%s runs=%lu best_ms=%s median_ms=%s "
               "first_ms=%s bytes=%s check=%s expect=%s match=%s status=%s "
               "cmd=\"%s\"\n",
               o->server, op->name, runs, best, median, firsts, bytes, check,
               expect, match ? "yes" : "no", status_name(st, &c), cmd.p);
        fflush(stdout);
    }
    if (dead)
        rc = 1;
    else
        hold(o);
    if (c.fd >= 0)
        session_end(&c, &r);
    else
        conn_close(&c);
    free(r.text.p);
    free(cmd.p);
    free(quoted.p);
    free(times);
    return rc;
}

/* ------------------------------------------------------------------ */
/* gen                                                                 */
/* ------------------------------------------------------------------ */

/* Case-insensitive substring test; `needle` is lower case ASCII. */
static bool contains_ci(const char *hay, size_t n, const char *needle)
{
    size_t l = strlen(needle);
    char c0 = needle[0], c1 = (char)(needle[0] - 'a' + 'A');

    for (size_t k = 0; k + l <= n; k++)
        if ((hay[k] == c0 || hay[k] == c1) &&
            strncasecmp(hay + k + 1, needle + 1, l - 1) == 0)
            return true;
    return false;
}

static int do_gen(const struct options *o)
{
    struct sbuf msg = {0};
    struct msginfo mi;

    if (o->have_index) {
        gen_message(o->seed, o->index, &msg, &mi);
        fwrite(msg.p, 1, msg.len, stdout);
        free(msg.p);
        return 0;
    }
    /* a summary, and the promises about sizes and needles checked */
    unsigned long types[3] = {0}, hh = 0, bh = 0, bad = 0;
    size_t min = SIZE_MAX, max = 0;
    uint64_t total = 0;
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (strstr(words[k], BODY_NEEDLE) || strstr(words[k], HEADER_NEEDLE))
            fatal("the word list contains a needle");
    for (unsigned long i = 1; i <= o->messages; i++) {
        gen_message(o->seed, i, &msg, &mi);
        types[mi.type]++;
        total += msg.len;
        if (msg.len < min)
            min = msg.len;
        if (msg.len > max)
            max = msg.len;
        const char *body = strstr(msg.p, "\r\n\r\n");
        size_t hlen = (size_t)(body - msg.p);
        bool h = contains_ci(msg.p, hlen, HEADER_NEEDLE);
        bool b = contains_ci(body, msg.len - hlen, BODY_NEEDLE);
        if (contains_ci(msg.p, hlen, BODY_NEEDLE) ||
            contains_ci(body, msg.len - hlen, HEADER_NEEDLE) ||
            h != mi.header_hit || b != mi.body_hit ||
            memchr(msg.p, 0, msg.len) || msg.len < MIN_SIZE ||
            msg.len > MAX_SIZE)
            bad++;
        hh += h;
        bh += b;
    }
    printf("messages=%lu plain=%lu alternative=%lu mixed=%lu min=%zu max=%zu "
           "avg=%.0f total=%" PRIu64 " header_hits=%lu body_hits=%lu bad=%lu\n",
           o->messages, types[0], types[1], types[2], o->messages ? min : 0,
           max, o->messages ? (double)total / o->messages : 0.0, total, hh, bh,
           bad);
    free(msg.p);
    return bad ? 2 : 0;
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
    fputs("usage: mboxload fill|time|gen [--host H] [--port P] [--user U:P]\n"
          "         [--server NAME] [--mailbox M] [--messages N] [--seed S]\n"
          "         [--batch B] [--window W] [--literal auto|plus|sync]\n"
          "         [--session K] [--hold] [--repeat R] [--ops LIST]\n"
          "         [--index I] [--timeout SEC]\n"
          "ops: select,fetch_flags,fetch_envelope,search_header,search_body\n",
          stderr);
    exit(1);
}

int main(int argc, char **argv)
{
    struct options o = {
        .host = "127.0.0.1",
        .mailbox = "Bench",
        .server = "server",
        .ops = "select,fetch_flags,fetch_envelope,search_header,search_body",
        .messages = 100000,
        .window = 64,
        .repeat = 5,
        .batch = 1,
        .seed = 1,
        .timeout_s = 600,
    };
    static char userbuf[512];

    if (argc < 2)
        usage();
    const char *mode = argv[1];
    for (int k = 2; k < argc; k++) {
        const char *a = argv[k];
        if (strcmp(a, "--hold") == 0) {
            o.hold = true;
            continue;
        }
        if (k + 1 >= argc)
            usage();
        const char *v = argv[++k];
        if (strcmp(a, "--host") == 0) {
            o.host = v;
        } else if (strcmp(a, "--port") == 0) {
            o.port = v;
        } else if (strcmp(a, "--user") == 0) {
            snprintf(userbuf, sizeof userbuf, "%s", v);
            char *colon = strchr(userbuf, ':');
            if (!colon)
                fatal("--user wants NAME:PASSWORD");
            *colon = '\0';
            o.user = userbuf;
            o.pass = colon + 1;
        } else if (strcmp(a, "--server") == 0) {
            o.server = v;
        } else if (strcmp(a, "--mailbox") == 0) {
            o.mailbox = v;
        } else if (strcmp(a, "--messages") == 0) {
            o.messages = parse_ulong(v, a, 0, 100000000);
            o.have_messages = true;
        } else if (strcmp(a, "--seed") == 0) {
            o.seed = parse_ulong(v, a, 0, ULONG_MAX);
        } else if (strcmp(a, "--window") == 0) {
            o.window = parse_ulong(v, a, 1, 100000);
        } else if (strcmp(a, "--batch") == 0) {
            o.batch = parse_ulong(v, a, 1, 100000);
        } else if (strcmp(a, "--session") == 0) {
            o.session_size = parse_ulong(v, a, 0, ULONG_MAX);
        } else if (strcmp(a, "--repeat") == 0) {
            o.repeat = parse_ulong(v, a, 1, MAX_REPEAT);
        } else if (strcmp(a, "--index") == 0) {
            o.index = parse_ulong(v, a, 1, ULONG_MAX);
            o.have_index = true;
        } else if (strcmp(a, "--timeout") == 0) {
            o.timeout_s = (int)parse_ulong(v, a, 1, 86400);
        } else if (strcmp(a, "--ops") == 0) {
            o.ops = v;
        } else if (strcmp(a, "--literal") == 0) {
            if (strcmp(v, "auto") == 0)
                o.literal = 0;
            else if (strcmp(v, "plus") == 0)
                o.literal = 1;
            else if (strcmp(v, "sync") == 0)
                o.literal = 2;
            else
                usage();
        } else {
            usage();
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(mode, "gen") == 0)
        return do_gen(&o);
    if (!o.port || !o.user)
        fatal("%s needs --port and --user", mode);
    if (strcmp(mode, "fill") == 0)
        return do_fill(&o);
    if (strcmp(mode, "time") == 0)
        return do_time(&o);
    usage();
}
