/* Unit tests of the in-memory example store, through its hooks.
 *
 * The library is not linked: the two emit sinks are faked below and collect
 * what the store hands over; the `imapsrv_op *` the hooks get is a pointer
 * to that collector. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memstore/memstore.h"

#define MAXE 64

struct fake_op {
    size_t nbox;
    char *box[MAXE];
    unsigned attrs[MAXE];
    size_t nmsg;
    imapsrv_message_info msg[MAXE];
    char kw[MAXE][128]; /* the keywords of msg[i], joined by ' ' */
    size_t calls;
    size_t fail_at; /* 1-based emit call that answers NOMEM; 0 = none */
};

imapsrv_status imapsrv_emit_mailbox(imapsrv_op *op,
                                    const imapsrv_mailbox_info *mb)
{
    struct fake_op *f = (struct fake_op *)op;

    if (++f->calls == f->fail_at)
        return IMAPSRV_E_NOMEM;
    ck_assert_uint_lt(f->nbox, MAXE);
    f->box[f->nbox] = strdup(mb->name);
    f->attrs[f->nbox++] = mb->attrs;
    return IMAPSRV_OK;
}

imapsrv_status imapsrv_emit_message(imapsrv_op *op,
                                    const imapsrv_message_info *msg)
{
    struct fake_op *f = (struct fake_op *)op;
    char *kw;

    if (++f->calls == f->fail_at)
        return IMAPSRV_E_NOMEM;
    ck_assert_uint_lt(f->nmsg, MAXE);
    kw = f->kw[f->nmsg];
    kw[0] = '\0';
    for (size_t i = 0; i < msg->keyword_count; i++) {
        if (i > 0)
            strcat(kw, " ");
        strcat(kw, msg->keywords[i]);
    }
    f->msg[f->nmsg] = *msg;
    f->msg[f->nmsg++].keywords = NULL; /* not valid after the call */
    return IMAPSRV_OK;
}

/* ------------------------------------------------------------------ */
/* Fixture and helpers                                                 */

static memstore *ms;
static imapsrv_store_hooks H;
static void *U; /* the session's user "u" */
static struct fake_op F;
#define OP ((imapsrv_op *)&F)

static void fake_reset(void)
{
    for (size_t i = 0; i < F.nbox; i++)
        free(F.box[i]);
    memset(&F, 0, sizeof F);
}

static void setup(void)
{
    ms = memstore_new();
    ck_assert_ptr_nonnull(ms);
    memstore_hooks(ms, &H);
    ck_assert_int_eq(H.user_open(H.userdata, OP, "u", &U), IMAPSRV_OK);
}

static void teardown(void)
{
    H.user_close(H.userdata, U);
    fake_reset();
    memstore_free(&ms);
    ck_assert_ptr_null(ms);
}

/* The attributes LIST shows for `name`; ~0u if it is not listed. */
static unsigned attrs_of(const char *name)
{
    unsigned attrs = ~0u;

    fake_reset();
    ck_assert_int_eq(H.list(H.userdata, OP, U, "*"), IMAPSRV_OK);
    for (size_t i = 0; i < F.nbox; i++)
        if (strcmp(F.box[i], name) == 0)
            attrs = F.attrs[i];
    return attrs;
}

/* Every listed name, comma-separated, in the store's order. */
static const char *names(void)
{
    static char buf[1024];

    fake_reset();
    ck_assert_int_eq(H.list(H.userdata, OP, U, "*"), IMAPSRV_OK);
    buf[0] = '\0';
    for (size_t i = 0; i < F.nbox; i++) {
        if (i > 0)
            strcat(buf, ",");
        strcat(buf, F.box[i]);
    }
    return buf;
}

static imapsrv_status create(const char *name)
{
    return H.create(H.userdata, OP, U, name, 0);
}

static void *open_box(const char *name, int readonly)
{
    imapsrv_mailbox_status st;
    void *h = NULL;

    ck_assert_int_eq(H.open(H.userdata, OP, U, name, readonly, &h, &st),
                     IMAPSRV_OK);
    return h;
}

static imapsrv_mailbox_status status_of(const char *name)
{
    imapsrv_mailbox_status st;

    ck_assert_int_eq(H.status(H.userdata, OP, U, name, &st), IMAPSRV_OK);
    return st;
}

/* The UIDs of a mailbox, space-separated. */
static const char *uids(void *h)
{
    static char buf[1024];

    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 1), IMAPSRV_OK);
    buf[0] = '\0';
    for (size_t i = 0; i < F.nmsg; i++)
        sprintf(buf + strlen(buf), "%s%u", i ? " " : "", F.msg[i].uid);
    return buf;
}

/* One message's info (its keywords are in F.kw[0]). */
static imapsrv_message_info info(void *h, uint32_t uid)
{
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, uid), IMAPSRV_OK);
    ck_assert_uint_ge(F.nmsg, 1);
    ck_assert_uint_eq(F.msg[0].uid, uid);
    return F.msg[0];
}

static uint32_t append_kw(const char *box, const char *text, unsigned flags,
                          const char *const *kw, size_t nkw)
{
    void *a = NULL;
    uint32_t uidv = 0, uid = 0;
    size_t len = strlen(text);

    ck_assert_int_eq(H.append_begin(H.userdata, OP, U, box, flags, kw, nkw,
                                    1700000000, 60, len, &a),
                     IMAPSRV_OK);
    /* In two chunks, as the library streams it. */
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, text, len / 2),
                     IMAPSRV_OK);
    ck_assert_int_eq(
        H.append_data(H.userdata, OP, a, text + len / 2, len - len / 2),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &uid),
                     IMAPSRV_OK);
    ck_assert_uint_eq(uidv, status_of(box).uidvalidity);
    return uid;
}

static uint32_t append(const char *box, const char *text, unsigned flags)
{
    return append_kw(box, text, flags, NULL, 0);
}

static imapsrv_status store(void *h, uint32_t uid, imapsrv_flag_op how,
                            unsigned flags, const char *kw)
{
    const char *list[1] = {kw};

    return H.set_flags(H.userdata, OP, h, &uid, 1, how, flags, list,
                       kw ? 1 : 0);
}

static const char *read_all(void *h, uint32_t uid)
{
    static char buf[4096];
    size_t got = 0;

    ck_assert_int_eq(
        H.read(H.userdata, OP, h, uid, 0, buf, sizeof buf - 1, &got),
        IMAPSRV_OK);
    buf[got] = '\0';
    return buf;
}

#define MSG1 "Subject: one\r\n\r\nfirst\r\n"
#define MSG2 "Subject: two\r\n\r\nsecond body\r\n"
#define MSG3 "Subject: three\r\n\r\n3\r\n"

/* ------------------------------------------------------------------ */
/* Users and hook table                                                */

START_TEST(test_hooks_table)
{
    ck_assert_uint_eq(H.size, sizeof H);
    ck_assert_ptr_eq(H.userdata, ms);
    ck_assert(H.user_open && H.user_close && H.list && H.create &&
              H.delete_mailbox && H.rename && H.subscribe && H.status &&
              H.open && H.close && H.messages && H.read && H.set_flags &&
              H.copy && H.move && H.expunge && H.append_begin &&
              H.append_data && H.append_end);
}
END_TEST

START_TEST(test_user_open)
{
    void *again, *other;

    ck_assert_str_eq(names(), "INBOX");
    ck_assert_int_eq(H.user_open(H.userdata, OP, "u", &again), IMAPSRV_OK);
    ck_assert_ptr_eq(again, U);
    ck_assert_int_eq(H.user_open(H.userdata, OP, "v", &other), IMAPSRV_OK);
    ck_assert_ptr_ne(other, U);
    ck_assert_int_eq(create("OnlyU"), IMAPSRV_OK);
    fake_reset();
    ck_assert_int_eq(H.list(H.userdata, OP, other, "*"), IMAPSRV_OK);
    ck_assert_uint_eq(F.nbox, 1); /* users do not share mailboxes */
    ck_assert_str_eq(F.box[0], "INBOX");
    H.user_close(H.userdata, again);
    H.user_close(H.userdata, other);
}
END_TEST

START_TEST(test_host_api)
{
    ck_assert_int_eq(memstore_add_user(ms, "u"), IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(memstore_add_user(ms, ""), IMAPSRV_E_INVALID);
    ck_assert_int_eq(memstore_add_user(ms, "w"), IMAPSRV_OK);
    ck_assert_int_eq(memstore_create_mailbox(ms, "nobody", "X", 0),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(memstore_create_mailbox(ms, "u", "a//b", 0),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(
        memstore_create_mailbox(ms, "u", "Junk", IMAPSRV_MBOX_JUNK),
        IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Junk"), IMAPSRV_MBOX_JUNK);
    ck_assert_int_eq(memstore_add_message(ms, "u", "Nope", "x", 1, 0, 0),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(memstore_add_message(ms, "nobody", "INBOX", "x", 1, 0, 0),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(memstore_add_message(
                         ms, "u", "inbox", MSG1, strlen(MSG1),
                         IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_RECENT, 1234567890),
                     IMAPSRV_OK);
    {
        void *h = open_box("INBOX", 1);
        imapsrv_message_info mi = info(h, 1);

        ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_SEEN); /* no \Recent */
        ck_assert_int_eq(mi.internaldate, 1234567890);
        ck_assert_int_eq(mi.tz_offset_min, 0);
        ck_assert_uint_eq(mi.size, strlen(MSG1));
        ck_assert_str_eq(read_all(h, 1), MSG1);
        H.close(H.userdata, h);
    }
    memstore_free(NULL); /* harmless */
}
END_TEST

/* ------------------------------------------------------------------ */
/* Mailbox set                                                         */

START_TEST(test_create)
{
    ck_assert_int_eq(create("Work"), IMAPSRV_OK);
    ck_assert_int_eq(create("Work"), IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(create("INBOX"), IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(create("inBox"), IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(create("a/b/c"), IMAPSRV_OK); /* parents created */
    ck_assert_int_eq(create("x/"), IMAPSRV_OK);    /* trailing '/' dropped */
    ck_assert_int_eq(create("inbox/Sub"), IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX,INBOX/Sub,Work,a,a/b,a/b/c,x");
    ck_assert_uint_eq(attrs_of("a/b"), 0); /* real, selectable mailboxes */
    status_of("a");
    ck_assert_int_eq(create(""), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("/a"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("a//b"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("x//"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("st*r"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("per%"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("ctl\x01"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("Gr\xc3\xbc\xc3\x9f"
                            "e"),
                     IMAPSRV_OK); /* UTF-8 */
}
END_TEST

START_TEST(test_create_special_use)
{
    ck_assert_int_eq(H.create(H.userdata, OP, U, "Sent",
                              IMAPSRV_MBOX_SENT | IMAPSRV_MBOX_NOSELECT |
                                  IMAPSRV_MBOX_SUBSCRIBED),
                     IMAPSRV_OK);
    /* Only special-use bits are taken from the caller. */
    ck_assert_uint_eq(attrs_of("Sent"), IMAPSRV_MBOX_SENT);
    ck_assert_int_eq(H.create(H.userdata, OP, U, "Both",
                              IMAPSRV_MBOX_TRASH | IMAPSRV_MBOX_JUNK),
                     IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Both"), IMAPSRV_MBOX_TRASH | IMAPSRV_MBOX_JUNK);
}
END_TEST

START_TEST(test_delete)
{
    imapsrv_mailbox_status st;
    void *h;

    ck_assert_int_eq(create("Leaf"), IMAPSRV_OK);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Leaf"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Leaf"), ~0u);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Leaf"),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "INBOX"),
                     IMAPSRV_E_CANNOT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Inbox"),
                     IMAPSRV_E_CANNOT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "a//"),
                     IMAPSRV_E_NONEXISTENT);

    /* RFC 9051 6.3.4: with children the name stays, as \Noselect. */
    ck_assert_int_eq(create("foo/bar"), IMAPSRV_OK);
    append("foo", MSG1, 0);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "foo"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("foo"), IMAPSRV_MBOX_NOSELECT);
    ck_assert_uint_eq(attrs_of("foo/bar"), 0);
    ck_assert_int_eq(H.status(H.userdata, OP, U, "foo", &st),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.open(H.userdata, OP, U, "foo", 0, &h, &st),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "foo"),
                     IMAPSRV_E_CANNOT);
    /* Without children left, the \Noselect name can go too. */
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "foo/bar"),
                     IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("foo"), IMAPSRV_MBOX_NOSELECT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "foo"), IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX");
}
END_TEST

START_TEST(test_create_over_noselect)
{
    uint32_t old;

    ck_assert_int_eq(create("p/c"), IMAPSRV_OK);
    old = status_of("p").uidvalidity;
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "p"), IMAPSRV_OK);
    ck_assert_int_eq(H.create(H.userdata, OP, U, "p", IMAPSRV_MBOX_ARCHIVE),
                     IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("p"), IMAPSRV_MBOX_ARCHIVE);
    ck_assert_uint_ne(status_of("p").uidvalidity, old);
    ck_assert_uint_eq(status_of("p").messages, 0);
    ck_assert_int_eq(create("p"), IMAPSRV_E_ALREADYEXISTS);
}
END_TEST

START_TEST(test_uidvalidity_on_recreate)
{
    uint32_t a, b, c;

    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    a = status_of("Box").uidvalidity;
    ck_assert_uint_ne(a, 0);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Box"), IMAPSRV_OK);
    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    b = status_of("Box").uidvalidity;
    ck_assert_uint_gt(b, a); /* same second, still different */
    ck_assert_int_eq(create("Other"), IMAPSRV_OK);
    c = status_of("Other").uidvalidity;
    ck_assert_uint_gt(c, b);
    ck_assert_uint_eq(status_of("Box").uidnext, 1);
}
END_TEST

START_TEST(test_rename)
{
    uint32_t uidv;

    ck_assert_int_eq(create("old/kid/grandkid"), IMAPSRV_OK);
    ck_assert_int_eq(create("older"), IMAPSRV_OK); /* same prefix, no child */
    append("old", MSG1, 0);
    uidv = status_of("old").uidvalidity;
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "old", "new/place"),
                     IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX,new,new/place,new/place/kid,"
                              "new/place/kid/grandkid,older");
    ck_assert_uint_eq(status_of("new/place").uidvalidity, uidv);
    ck_assert_uint_eq(status_of("new/place").messages, 1);

    ck_assert_int_eq(H.rename(H.userdata, OP, U, "gone", "x"),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "new"),
                     IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "INBOX"),
                     IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "inbox"),
                     IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "new", "new/sub"),
                     IMAPSRV_E_CANNOT);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "a//b"),
                     IMAPSRV_E_CANNOT);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "older"),
                     IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "new/place/kid", "kid"),
                     IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX,kid,kid/grandkid,new,new/place,older");
}
END_TEST

START_TEST(test_rename_inbox)
{
    uint32_t next;
    void *inbox;

    append("INBOX", MSG1, IMAPSRV_FLAG_SEEN);
    append("INBOX", MSG2, 0);
    ck_assert_int_eq(create("INBOX/child"), IMAPSRV_OK);
    next = status_of("INBOX").uidnext;
    inbox = open_box("INBOX", 0);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "INBOX", "Old/Inbox"),
                     IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX,INBOX/child,Old,Old/Inbox");
    ck_assert_uint_eq(status_of("INBOX").messages, 0);
    ck_assert_uint_eq(status_of("Old/Inbox").messages, 2);
    ck_assert_uint_eq(status_of("Old/Inbox").unseen, 1);
    ck_assert_str_eq(uids(inbox), ""); /* the open INBOX sees them gone */
    /* UIDs are not reused in INBOX. */
    ck_assert_uint_ge(append("INBOX", MSG3, 0), next);
    H.close(H.userdata, inbox);
    /* Into its own hierarchy is fine for INBOX: nothing below moves. */
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "INBOX", "INBOX/old"),
                     IMAPSRV_OK);
    ck_assert_uint_eq(status_of("INBOX/old").messages, 1);
}
END_TEST

START_TEST(test_rename_keeps_handle)
{
    void *h;

    ck_assert_int_eq(create("A"), IMAPSRV_OK);
    append("A", MSG1, 0);
    h = open_box("A", 0);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "A", "B"), IMAPSRV_OK);
    ck_assert_str_eq(read_all(h, 1), MSG1);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_FLAGGED, NULL),
                     IMAPSRV_OK);
    H.close(H.userdata, h);
    h = open_box("B", 1);
    ck_assert_uint_eq(info(h, 1).flags, IMAPSRV_FLAG_FLAGGED);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_subscribe)
{
    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 1), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 1), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Box"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_uint_eq(attrs_of("INBOX"), 0);
    /* Independent of existence: nonexistent names can be subscribed, and
     * DELETE does not drop a subscription (RFC 9051 6.3.9). */
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Later", 1), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Later"), IMAPSRV_MBOX_SUBSCRIBED |
                                             IMAPSRV_MBOX_NOSELECT |
                                             IMAPSRV_MBOX_NONEXISTENT);
    ck_assert_int_eq(create("Later"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Later"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Box"), IMAPSRV_OK);
    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Box"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 0), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 0), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Box"), 0);
    ck_assert_uint_eq(attrs_of("Later"), IMAPSRV_MBOX_SUBSCRIBED);
    /* INBOX in any case is INBOX. */
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "inbox", 1), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("INBOX"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "", 1), IMAPSRV_E_CANNOT);
}
END_TEST

START_TEST(test_list_emit_error)
{
    ck_assert_int_eq(create("A"), IMAPSRV_OK);
    ck_assert_int_eq(create("B"), IMAPSRV_OK);
    fake_reset();
    F.fail_at = 2;
    ck_assert_int_eq(H.list(H.userdata, OP, U, "*"), IMAPSRV_E_NOMEM);
    ck_assert_uint_eq(F.nbox, 1); /* stopped at the failure */
}
END_TEST

START_TEST(test_status)
{
    imapsrv_mailbox_status st;
    uint32_t u1, u2, u3;

    u1 = append("INBOX", MSG1, IMAPSRV_FLAG_SEEN);
    u2 = append("INBOX", MSG2, IMAPSRV_FLAG_DELETED);
    u3 = append("INBOX", MSG3, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_DELETED);
    ck_assert_uint_eq(u1, 1);
    ck_assert_uint_eq(u2, 2);
    ck_assert_uint_eq(u3, 3);
    st = status_of("INBOX");
    ck_assert_uint_eq(st.messages, 3);
    ck_assert_uint_eq(st.unseen, 1);
    ck_assert_uint_eq(st.deleted, 2);
    ck_assert_uint_eq(st.size, strlen(MSG1) + strlen(MSG2) + strlen(MSG3));
    ck_assert_uint_eq(st.uidnext, 4);
    ck_assert_uint_eq(st.recent, 0);
    ck_assert_uint_gt(st.highestmodseq, 0);
    ck_assert_int_eq(H.status(H.userdata, OP, U, "Nope", &st),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_uint_eq(status_of("inbox").messages, 3);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Messages                                                            */

START_TEST(test_open)
{
    imapsrv_mailbox_status st;
    void *h = NULL;

    append("INBOX", MSG1, 0);
    ck_assert_int_eq(H.open(H.userdata, OP, U, "INBOX", 0, &h, &st),
                     IMAPSRV_OK);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(st.uidvalidity, status_of("INBOX").uidvalidity);
    ck_assert_uint_eq(st.uidnext, 2);
    ck_assert_uint_eq(st.messages, 1);
    ck_assert_uint_eq(st.unseen, 1);
    H.close(H.userdata, h);
    ck_assert_int_eq(H.open(H.userdata, OP, U, "Missing", 0, &h, &st),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.open(H.userdata, OP, U, "", 0, &h, &st),
                     IMAPSRV_E_NONEXISTENT);
}
END_TEST

START_TEST(test_messages)
{
    static const char *const kw[] = {"$Label1", "Work"};
    imapsrv_message_info mi;
    void *h;

    append("INBOX", MSG1, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_RECENT);
    append_kw("INBOX", MSG2, IMAPSRV_FLAG_ANSWERED, kw, 2);
    append("INBOX", MSG3, 0);
    h = open_box("INBOX", 1);
    ck_assert_str_eq(uids(h), "1 2 3");
    mi = info(h, 2);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_ANSWERED);
    ck_assert_str_eq(F.kw[0], "$Label1 Work");
    ck_assert_uint_eq(mi.keyword_count, 2);
    ck_assert_int_eq(mi.internaldate, 1700000000);
    ck_assert_int_eq(mi.tz_offset_min, 60);
    ck_assert_uint_eq(mi.size, strlen(MSG2));
    ck_assert_uint_gt(mi.modseq, 0);
    ck_assert_uint_eq(info(h, 1).flags, IMAPSRV_FLAG_SEEN);
    /* min_uid: only UIDs >= it, in order. */
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 2), IMAPSRV_OK);
    ck_assert_uint_eq(F.nmsg, 2);
    ck_assert_uint_eq(F.msg[0].uid, 2);
    ck_assert_uint_eq(F.msg[1].uid, 3);
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 4), IMAPSRV_OK);
    ck_assert_uint_eq(F.nmsg, 0);
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 0), IMAPSRV_OK);
    ck_assert_uint_eq(F.nmsg, 3);
    fake_reset();
    F.fail_at = 2;
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 1), IMAPSRV_E_NOMEM);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_read)
{
    char buf[64];
    size_t got = 99;
    void *h;

    append("INBOX", MSG2, 0);
    h = open_box("INBOX", 1);
    ck_assert_str_eq(read_all(h, 1), MSG2);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 1, 9, buf, 4, &got), IMAPSRV_OK);
    ck_assert_uint_eq(got, 4);
    ck_assert(memcmp(buf, "two\r", 4) == 0);
    /* Short at the end only. */
    ck_assert_int_eq(
        H.read(H.userdata, OP, h, 1, strlen(MSG2) - 3, buf, sizeof buf, &got),
        IMAPSRV_OK);
    ck_assert_uint_eq(got, 3);
    ck_assert(memcmp(buf, "y\r\n", 3) == 0);
    ck_assert_int_eq(
        H.read(H.userdata, OP, h, 1, strlen(MSG2), buf, sizeof buf, &got),
        IMAPSRV_OK);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(
        H.read(H.userdata, OP, h, 1, UINT64_MAX, buf, sizeof buf, &got),
        IMAPSRV_OK);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 7, 0, buf, sizeof buf, &got),
                     IMAPSRV_E_EXPUNGED);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_set_flags)
{
    imapsrv_message_info mi;
    uint64_t ms1, ms2;
    void *h;

    append("INBOX", MSG1, 0);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD,
                           IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_RECENT, "Work"),
                     IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_SEEN);
    ck_assert_str_eq(F.kw[0], "Work");
    ms1 = mi.modseq;
    /* Keywords are case-insensitive: no duplicate, no change, no modseq. */
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, "WORK"),
                     IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_str_eq(F.kw[0], "Work");
    ck_assert_uint_eq(mi.modseq, ms1);
    ck_assert_int_eq(
        store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_FLAGGED, "$Label2"),
        IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_FLAGGED);
    ck_assert_str_eq(F.kw[0], "Work $Label2");
    ms2 = mi.modseq;
    ck_assert_uint_gt(ms2, ms1);
    ck_assert_uint_ge(status_of("INBOX").highestmodseq, ms2);
    ck_assert_int_eq(
        store(h, 1, IMAPSRV_FLAGS_REMOVE, IMAPSRV_FLAG_SEEN, "work"),
        IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_FLAGGED);
    ck_assert_str_eq(F.kw[0], "$Label2");
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_SET, IMAPSRV_FLAG_DRAFT, "Only"),
                     IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_DRAFT);
    ck_assert_str_eq(F.kw[0], "Only");
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_SET, 0, NULL), IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, 0);
    ck_assert_uint_eq(mi.keyword_count, 0);
    /* Expunged UIDs are skipped; bad keywords and operations refused. */
    ck_assert_int_eq(store(h, 42, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_OK);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, 0, ""), IMAPSRV_E_INVALID);
    ck_assert_int_eq(store(h, 1, (imapsrv_flag_op)7, 0, NULL),
                     IMAPSRV_E_INVALID);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_set_flags_many)
{
    uint32_t list[] = {3, 1, 99};
    void *h;

    append("INBOX", MSG1, 0);
    append("INBOX", MSG2, 0);
    append("INBOX", MSG3, 0);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.set_flags(H.userdata, OP, h, list, 3, IMAPSRV_FLAGS_ADD,
                                 IMAPSRV_FLAG_DELETED, NULL, 0),
                     IMAPSRV_OK);
    ck_assert_uint_eq(status_of("INBOX").deleted, 2);
    ck_assert_uint_eq(info(h, 2).flags, 0);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_readonly)
{
    imapsrv_copy_result res;
    uint32_t uid = 1, out[1];
    void *h;

    append("INBOX", MSG1, 0);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    h = open_box("INBOX", 1);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_E_NOPERM);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, &uid, 1), IMAPSRV_E_NOPERM);
    res = (imapsrv_copy_result){0, out, 1};
    ck_assert_int_eq(H.move(H.userdata, OP, h, &uid, 1, "Dest", &res),
                     IMAPSRV_E_NOPERM);
    /* COPY only reads the source: allowed. */
    ck_assert_int_eq(H.copy(H.userdata, OP, h, &uid, 1, "Dest", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(info(h, 1).flags, 0);
    ck_assert_uint_eq(status_of("INBOX").messages, 1);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_copy)
{
    static const char *const kw[] = {"$Forwarded"};
    uint32_t src[] = {3, 1}, out[2] = {0, 0};
    imapsrv_copy_result res = {0, out, 2};
    imapsrv_message_info mi;
    void *h, *d;

    append("INBOX", MSG1, IMAPSRV_FLAG_SEEN);
    append("INBOX", MSG2, 0);
    append_kw("INBOX", MSG3, IMAPSRV_FLAG_FLAGGED, kw, 1);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    append("Dest", MSG2, 0); /* Dest's UIDs continue from 2 */
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(res.uidvalidity, status_of("Dest").uidvalidity);
    ck_assert_uint_eq(res.count, 2);
    ck_assert_uint_eq(out[0], 2); /* in the order of the source UIDs */
    ck_assert_uint_eq(out[1], 3);
    ck_assert_str_eq(uids(h), "1 2 3"); /* source unchanged */
    d = open_box("Dest", 1);
    mi = info(d, 2);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_FLAGGED);
    ck_assert_str_eq(F.kw[0], "$Forwarded");
    ck_assert_int_eq(mi.internaldate, 1700000000);
    ck_assert_str_eq(read_all(d, 2), MSG3);
    ck_assert_uint_eq(info(d, 3).flags, IMAPSRV_FLAG_SEEN);
    ck_assert_str_eq(read_all(d, 3), MSG1);
    H.close(H.userdata, d);
    /* Into the same mailbox. */
    res.count = 1;
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src + 1, 1, "INBOX", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(out[0], 4);
    ck_assert_str_eq(read_all(h, 4), MSG1);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_copy_errors)
{
    uint32_t src[] = {1, 5}, out[2];
    imapsrv_copy_result res = {0, out, 2};
    void *h;

    append("INBOX", MSG1, 0);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    ck_assert_int_eq(create("P/C"), IMAPSRV_OK);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "P"), IMAPSRV_OK);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 1, "Missing", &res),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 1, "P", &res),
                     IMAPSRV_E_NONEXISTENT); /* \Noselect */
    /* An expunged source UID: nothing is copied. */
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_E_EXPUNGED);
    ck_assert_uint_eq(status_of("Dest").messages, 0);
    ck_assert_int_eq(H.move(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_E_EXPUNGED);
    ck_assert_uint_eq(status_of("INBOX").messages, 1);
    res.count = 1;
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_E_INVALID); /* result array too small */
    res.count = 0;
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 0, "Dest", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(res.uidvalidity, status_of("Dest").uidvalidity);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_move)
{
    uint32_t src[] = {2, 1}, out[2];
    imapsrv_copy_result res = {0, out, 2};
    void *h, *d;

    append("INBOX", MSG1, 0);
    append("INBOX", MSG2, IMAPSRV_FLAG_SEEN);
    append("INBOX", MSG3, 0);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.move(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(res.uidvalidity, status_of("Dest").uidvalidity);
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[1], 2);
    ck_assert_str_eq(uids(h), "3");
    d = open_box("Dest", 1);
    ck_assert_str_eq(read_all(d, 1), MSG2);
    ck_assert_uint_eq(info(d, 1).flags, IMAPSRV_FLAG_SEEN);
    ck_assert_str_eq(read_all(d, 2), MSG1);
    H.close(H.userdata, d);
    /* Within one mailbox: new UID, old one gone. */
    res.count = 1;
    ck_assert_int_eq(
        H.move(H.userdata, OP, h, (uint32_t[]){3}, 1, "INBOX", &res),
        IMAPSRV_OK);
    ck_assert_uint_eq(out[0], 4);
    ck_assert_str_eq(uids(h), "4");
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_expunge)
{
    uint32_t list[] = {4, 2, 77};
    uint64_t before;
    void *h;

    for (int i = 0; i < 5; i++)
        append("INBOX", MSG1, 0);
    h = open_box("INBOX", 0);
    before = status_of("INBOX").highestmodseq;
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, list, 3), IMAPSRV_OK);
    ck_assert_str_eq(uids(h), "1 3 5");
    ck_assert_uint_gt(status_of("INBOX").highestmodseq, before);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, NULL, 0), IMAPSRV_OK);
    ck_assert_str_eq(uids(h), "1 3 5");
    /* UIDs are never reused, even for the last one. */
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, (uint32_t[]){5}, 1),
                     IMAPSRV_OK);
    ck_assert_uint_eq(append("INBOX", MSG2, 0), 6);
    ck_assert_str_eq(uids(h), "1 3 6");
    H.close(H.userdata, h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* APPEND                                                              */

START_TEST(test_append)
{
    static const char *const kw[] = {"$Junk", "$junk", "Blue"};
    imapsrv_message_info mi;
    uint32_t uid;
    void *h;

    uid = append_kw(
        "inbox", MSG2,
        IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_DRAFT | IMAPSRV_FLAG_RECENT, kw, 3);
    ck_assert_uint_eq(uid, 1);
    h = open_box("INBOX", 1);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_DRAFT);
    ck_assert_str_eq(F.kw[0], "$Junk Blue"); /* deduplicated */
    ck_assert_int_eq(mi.internaldate, 1700000000);
    ck_assert_int_eq(mi.tz_offset_min, 60);
    ck_assert_uint_eq(mi.size, strlen(MSG2));
    ck_assert_str_eq(read_all(h, 1), MSG2);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_append_size_enforced)
{
    uint32_t uidv = 0, uid = 0;
    void *a;

    /* More than announced. */
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, 4, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "abc", 3), IMAPSRV_OK);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "de", 2),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 0, &uidv, &uid),
                     IMAPSRV_OK);
    /* Fewer than announced. */
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, 10, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "abc", 3), IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &uid),
                     IMAPSRV_E_INVALID);
    /* Aborted after data (freed: valgrind checks). */
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, 3, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "abc", 3), IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 0, &uidv, &uid),
                     IMAPSRV_OK);
    ck_assert_uint_eq(status_of("INBOX").messages, 0);
    ck_assert_uint_eq(status_of("INBOX").uidnext, 1);
}
END_TEST

START_TEST(test_append_errors_and_edges)
{
    static const char *const bad[] = {"ok", ""};
    uint32_t uidv = 0, uid = 0;
    void *a = NULL, *h;

    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "Missing", 0, NULL, 0, 0, 0, 3, &a),
        IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, bad, 2, 0, 0, 3, &a),
        IMAPSRV_E_INVALID);
    ck_assert_int_eq(create("P/C"), IMAPSRV_OK);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "P"), IMAPSRV_OK);
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "P", 0, NULL, 0, 0, 0, 3, &a),
        IMAPSRV_E_NONEXISTENT);
    /* A zero-length message is stored as such. */
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, 0, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &uid),
                     IMAPSRV_OK);
    ck_assert_uint_eq(uid, 1);
    h = open_box("INBOX", 1);
    ck_assert_uint_eq(info(h, 1).size, 0);
    ck_assert_str_eq(read_all(h, 1), "");
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_append_large_streamed)
{
    size_t total = 300000, chunk = 7919, sent = 0;
    char *big = malloc(total), *back = malloc(total);
    uint32_t uidv, uid;
    size_t got, off = 0;
    void *a, *h;

    for (size_t i = 0; i < total; i++)
        big[i] = (char)('a' + i % 26);
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, total, &a),
        IMAPSRV_OK);
    while (sent < total) {
        size_t n = total - sent < chunk ? total - sent : chunk;

        ck_assert_int_eq(H.append_data(H.userdata, OP, a, big + sent, n),
                         IMAPSRV_OK);
        sent += n;
    }
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &uid),
                     IMAPSRV_OK);
    h = open_box("INBOX", 1);
    do {
        ck_assert_int_eq(
            H.read(H.userdata, OP, h, uid, off, back + off, 4096, &got),
            IMAPSRV_OK);
        off += got;
    } while (got == 4096);
    ck_assert_uint_eq(off, total);
    ck_assert(memcmp(big, back, total) == 0);
    H.close(H.userdata, h);
    free(big);
    free(back);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Handles across another session's DELETE                             */

START_TEST(test_deleted_mailbox_handle)
{
    uint32_t uid = 1, out[1], uidv, nuid;
    imapsrv_copy_result res = {0, out, 1};
    char buf[8];
    size_t got;
    void *h, *a;

    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    append("Box", MSG1, 0);
    h = open_box("Box", 0);
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "Box", 0, NULL, 0, 0, 0, 3, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Box"), IMAPSRV_OK);
    ck_assert_int_eq(create("Box"), IMAPSRV_OK); /* a new one, same name */
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 1), IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 1, 0, buf, sizeof buf, &got),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.copy(H.userdata, OP, h, &uid, 1, "Dest", &res),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.move(H.userdata, OP, h, &uid, 1, "Dest", &res),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, &uid, 1),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "abc", 3), IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &nuid),
                     IMAPSRV_E_NONEXISTENT);
    H.close(H.userdata, h);
    ck_assert_uint_eq(status_of("Box").messages, 0);
    ck_assert_uint_eq(status_of("Dest").messages, 0);
}
END_TEST

START_TEST(test_handle_after_delete_with_children)
{
    char buf[8];
    size_t got;
    void *h;

    ck_assert_int_eq(create("Top/Sub"), IMAPSRV_OK);
    append("Top", MSG1, 0);
    h = open_box("Top", 0);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Top"), IMAPSRV_OK);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 1, 0, buf, sizeof buf, &got),
                     IMAPSRV_E_NONEXISTENT);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_free_with_open_user)
{
    /* memstore_free with users and mailboxes present frees everything;
     * the teardown does it, valgrind checks. */
    ck_assert_int_eq(create("a/b/c"), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "a", 1), IMAPSRV_OK);
    append("a/b", MSG1, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Demo data                                                           */

START_TEST(test_load_demo)
{
    void *d, *h;
    char subjects[3][128];

    ck_assert_int_eq(memstore_load_demo(ms, "demo"), IMAPSRV_OK);
    ck_assert_int_eq(H.user_open(H.userdata, OP, "demo", &d), IMAPSRV_OK);
    U = d;
    ck_assert_str_eq(names(), "INBOX,Archive,Drafts,Sent,Trash");
    ck_assert_uint_eq(attrs_of("INBOX"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_uint_eq(attrs_of("Sent"),
                      IMAPSRV_MBOX_SENT | IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_uint_eq(attrs_of("Drafts"),
                      IMAPSRV_MBOX_DRAFTS | IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_uint_eq(attrs_of("Trash"),
                      IMAPSRV_MBOX_TRASH | IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_uint_eq(attrs_of("Archive"),
                      IMAPSRV_MBOX_ARCHIVE | IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_uint_eq(status_of("INBOX").messages, 3);
    h = open_box("INBOX", 1);
    ck_assert_str_eq(uids(h), "1 2 3");
    for (uint32_t uid = 1; uid <= 3; uid++) {
        const char *text = read_all(h, uid);
        const char *s = strstr(text, "\r\nSubject: ");
        imapsrv_message_info mi = info(h, uid);

        ck_assert_uint_eq(mi.size, strlen(text));
        ck_assert_int_gt(mi.internaldate, 1700000000);
        /* CRLF only, a header/body separator, From/Date present. */
        for (const char *p = text; *p; p++)
            if (*p == '\n')
                ck_assert(p > text && p[-1] == '\r');
        ck_assert_ptr_nonnull(strstr(text, "\r\n\r\n"));
        ck_assert_ptr_nonnull(strstr(text, "\r\nFrom: "));
        ck_assert_ptr_nonnull(strstr(text, "\r\nDate: "));
        ck_assert_ptr_nonnull(s);
        sscanf(s + 11, "%127[^\r]", subjects[uid - 1]);
        ck_assert_str_eq(text + strlen(text) - 2, "\r\n");
    }
    ck_assert_str_ne(subjects[0], subjects[1]);
    ck_assert_str_ne(subjects[1], subjects[2]);
    ck_assert_str_ne(subjects[0], subjects[2]);
    ck_assert_ptr_nonnull(strstr(read_all(h, 1), "text/plain"));
    ck_assert_ptr_nonnull(strstr(read_all(h, 2), "multipart/alternative"));
    ck_assert_ptr_nonnull(strstr(read_all(h, 2), "text/html"));
    ck_assert_ptr_nonnull(
        strstr(read_all(h, 3), "Content-Transfer-Encoding: base64"));
    ck_assert_ptr_nonnull(strstr(read_all(h, 3), "attachment"));
    ck_assert_uint_eq(status_of("INBOX").unseen, 2);
    H.close(H.userdata, h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Threads                                                             */

#define THREADS 8
#define PER_THREAD 200

static void *worker(void *arg)
{
    struct fake_op f = {0};
    imapsrv_op *op = (imapsrv_op *)&f;
    void *user, *h;
    imapsrv_mailbox_status st;
    char name[32];

    snprintf(name, sizeof name, "T%d", (int)(intptr_t)arg);
    if (H.user_open(H.userdata, op, "u", &user) != IMAPSRV_OK ||
        H.create(H.userdata, op, user, name, 0) != IMAPSRV_OK ||
        H.open(H.userdata, op, user, "INBOX", 0, &h, &st) != IMAPSRV_OK)
        return (void *)1;
    for (int i = 0; i < PER_THREAD; i++) {
        void *a;
        uint32_t uidv, uid, out[1];
        imapsrv_copy_result res = {0, out, 1};

        if (H.append_begin(H.userdata, op, user, "INBOX", 0, NULL, 0, 0, 0, 3,
                           &a) != IMAPSRV_OK ||
            H.append_data(H.userdata, op, a, "abc", 3) != IMAPSRV_OK ||
            H.append_end(H.userdata, op, a, 1, &uidv, &uid) != IMAPSRV_OK ||
            H.copy(H.userdata, op, h, &uid, 1, name, &res) != IMAPSRV_OK ||
            H.set_flags(H.userdata, op, h, &uid, 1, IMAPSRV_FLAGS_ADD,
                        IMAPSRV_FLAG_SEEN, NULL, 0) != IMAPSRV_OK)
            return (void *)1;
    }
    H.close(H.userdata, h);
    H.user_close(H.userdata, user);
    return NULL;
}

START_TEST(test_threads)
{
    pthread_t t[THREADS];
    imapsrv_mailbox_status st;
    void *h;

    for (intptr_t i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *ret;

        pthread_join(t[i], &ret);
        ck_assert_ptr_null(ret);
    }
    st = status_of("INBOX");
    ck_assert_uint_eq(st.messages, THREADS * PER_THREAD);
    ck_assert_uint_eq(st.uidnext, THREADS * PER_THREAD + 1);
    ck_assert_uint_eq(st.unseen, 0);
    ck_assert_uint_eq(status_of("T3").messages, PER_THREAD);
    h = open_box("INBOX", 1);
    fake_reset();
    F.fail_at = 0;
    ck_assert_int_eq(H.messages(H.userdata, OP, h, THREADS * PER_THREAD),
                     IMAPSRV_OK);
    ck_assert_uint_eq(F.nmsg, 1); /* UIDs dense and unique: 1..N */
    H.close(H.userdata, h);
}
END_TEST

static Suite *memstore_suite(void)
{
    Suite *s = suite_create("memstore");
    TCase *tc = tcase_create("hooks");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hooks_table);
    tcase_add_test(tc, test_user_open);
    tcase_add_test(tc, test_host_api);
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_create_special_use);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_create_over_noselect);
    tcase_add_test(tc, test_uidvalidity_on_recreate);
    tcase_add_test(tc, test_rename);
    tcase_add_test(tc, test_rename_inbox);
    tcase_add_test(tc, test_rename_keeps_handle);
    tcase_add_test(tc, test_subscribe);
    tcase_add_test(tc, test_list_emit_error);
    tcase_add_test(tc, test_status);
    tcase_add_test(tc, test_open);
    tcase_add_test(tc, test_messages);
    tcase_add_test(tc, test_read);
    tcase_add_test(tc, test_set_flags);
    tcase_add_test(tc, test_set_flags_many);
    tcase_add_test(tc, test_readonly);
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_copy_errors);
    tcase_add_test(tc, test_move);
    tcase_add_test(tc, test_expunge);
    tcase_add_test(tc, test_append);
    tcase_add_test(tc, test_append_size_enforced);
    tcase_add_test(tc, test_append_errors_and_edges);
    tcase_add_test(tc, test_append_large_streamed);
    tcase_add_test(tc, test_deleted_mailbox_handle);
    tcase_add_test(tc, test_handle_after_delete_with_children);
    tcase_add_test(tc, test_free_with_open_user);
    tcase_add_test(tc, test_load_demo);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(memstore_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
