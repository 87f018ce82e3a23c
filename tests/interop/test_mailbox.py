#!/usr/bin/env python3
"""Interop: the mailbox engine of the example daemon, driven like a mail
client would drive it.

Python's imaplib does the ordinary client work (APPEND, SELECT, FETCH,
STORE, SEARCH, COPY, MOVE, EXPUNGE, STATUS, CREATE/DELETE/RENAME, LIST,
SUBSCRIBE); RawClient from the testlib covers what imaplib cannot express
(IDLE, ENABLE IMAP4rev2, the exact order of untagged responses); curl fetches
and appends through imap:// URLs.  Every byte and value the server returns is
checked against an independent reference: Python's `email` package
(email.message_from_bytes with email.policy.default) for the MIME view, and
a small splitter in this file for the exact octets of each body section.

Every test starts its own daemon, so it sees the demo store as loaded by
memstore_load_demo (INBOX with three messages, UIDs 1-3; Sent, Drafts, Trash,
Archive with special-use attributes; all five subscribed).
"""

import base64
import datetime
import email
import email.header
import email.policy
import email.utils
import imaplib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from email.headerregistry import Address
from email.message import EmailMessage

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402

# imaplib knows no MOVE (RFC 6851); it only needs the state table entry.
imaplib.Commands.setdefault("MOVE", ("SELECTED",))

SYSTEM_FLAGS = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"}
DEMO_UNSEEN_FIRST = 2          # message 1 is \Seen, 2 \Flagged, 3 no flags
DEMO_SUBSCRIBED = {"INBOX", "Sent", "Drafts", "Trash", "Archive"}
SPECIAL_USE = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash",
               "Archive": "\\Archive"}
TZ = datetime.timezone
MAP_CRLF = re.compile(rb"\r\n|\r(?!\n)|\n")   # what imaplib does to APPEND data


# =================================================== IMAP response parsing

class Atom(str):
    """An IMAP atom (flags, NIL-less keywords, body types come as strings)."""


_LITERAL = re.compile(rb"~?\{(\d+)\+?\}\r\n")
_NAME = re.compile(rb"([A-Za-z0-9.]+)(\[[^\]]*\])?(<\d+>)?")


def _skip(b, i):
    while i < len(b) and b[i:i + 1] in (b" ", b"\r", b"\n"):
        i += 1
    return i


def parse_value(b, i):
    """One IMAP value at b[i:]: list, quoted string / literal (bytes), NIL
    (None), number (int) or atom (Atom). Returns (value, next index)."""
    c = b[i:i + 1]
    if c == b"(":
        i += 1
        out = []
        while True:
            i = _skip(b, i)
            if i >= len(b):
                raise ValueError("unterminated list in %r" % b[:300])
            if b[i:i + 1] == b")":
                return out, i + 1
            v, i = parse_value(b, i)
            out.append(v)
    if c == b'"':
        i += 1
        out = bytearray()
        while True:
            if i >= len(b):
                raise ValueError("unterminated quoted string in %r" % b[:300])
            ch = b[i]
            if ch == 0x5C:
                out.append(b[i + 1])
                i += 2
            elif ch == 0x22:
                return bytes(out), i + 1
            else:
                out.append(ch)
                i += 1
    m = _LITERAL.match(b, i)
    if m:
        n = int(m.group(1))
        s = m.end()
        if len(b) < s + n:
            raise ValueError("literal of %d cut short" % n)
        return bytes(b[s:s + n]), s + n
    j = i
    while j < len(b) and b[j:j + 1] not in (b" ", b"(", b")", b"\r", b"\n"):
        j += 1
    if j == i:
        raise ValueError("no value at %d of %r" % (i, b[:300]))
    tok = b[i:j]
    if tok.upper() == b"NIL":
        return None, j
    if tok.isdigit():
        return int(tok), j
    return Atom(tok.decode("utf-8", "surrogateescape")), j


def _norm_name(raw):
    return raw.decode("ascii", "replace").upper().replace('"', "")


def parse_fetch_att(b, i):
    """The parenthesised msg-att list at b[i] -> ({NAME: value}, next)."""
    i = _skip(b, i)
    if b[i:i + 1] != b"(":
        raise ValueError("no FETCH list at %r" % b[i:i + 80])
    i += 1
    d = {}
    while True:
        i = _skip(b, i)
        if b[i:i + 1] == b")":
            return d, i + 1
        m = _NAME.match(b, i)
        if not m or m.end() == i:
            raise ValueError("no FETCH item name at %r" % b[i:i + 80])
        name = _norm_name(m.group(0))
        i = _skip(b, m.end())
        v, i = parse_value(b, i)
        d[name] = v


def parse_fetch_stream(b):
    """Every FETCH response in b ("* N FETCH (...)" or imaplib's "N (...)"),
    as [(seq, {NAME: value})]."""
    out = []
    i = 0
    while True:
        i = _skip(b, i)
        if i >= len(b):
            return out
        m = re.compile(rb"(?:\* )?(\d+) (?:FETCH )?").match(b, i)
        if not m:
            raise ValueError("not a FETCH response at %r" % b[i:i + 80])
        d, i = parse_fetch_att(b, m.end())
        out.append((int(m.group(1)), d))


def imaplib_fetch_bytes(data):
    """imaplib's FETCH data list back into the bytes the server sent."""
    parts = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            parts.append(item[0] + b"\r\n" + item[1])
        else:
            parts.append(item)
    return b"".join(parts)


def merge_fetch(responses):
    """{seq: merged items} from [(seq, items)]."""
    out = {}
    for seq, d in responses:
        out.setdefault(seq, {}).update(d)
    return out


def s(v):
    """A parsed string value as str (None stays None)."""
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    return str(v)


def flagset(v):
    return {str(f) for f in v}


def expand_set(text):
    """"1:3,5" -> [1, 2, 3, 5] (no '*')."""
    out = []
    if not text:
        return out
    for piece in text.split(","):
        if ":" in piece:
            a, b = (int(x) for x in piece.split(":"))
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(piece))
    return out


def parse_esearch(line):
    """`* ESEARCH (TAG "x") [UID] k v ...` -> (tag, uid?, {KEY: value str})."""
    if isinstance(line, bytes):
        line = line.decode()
    m = re.match(r'^\* ESEARCH(?: \(TAG "([^"]*)"\))?( UID)?(.*?)\r?\n?$', line, re.I)
    if not m:
        raise AssertionError("not an ESEARCH response: %r" % line)
    toks = m.group(3).split()
    if len(toks) % 2:
        raise AssertionError("odd ESEARCH data: %r" % line)
    return m.group(1), bool(m.group(2)), {toks[k].upper(): toks[k + 1]
                                          for k in range(0, len(toks), 2)}


def status_items(text):
    """b'INBOX (MESSAGES 3 UIDNEXT 4)' -> {'MESSAGES': 3, ...}."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = re.search(r"\(([^()]*)\)\s*$", text)
    if not m:
        raise AssertionError("no STATUS list in %r" % text)
    toks = m.group(1).split()
    return {toks[k].upper(): int(toks[k + 1]) for k in range(0, len(toks), 2)}


def unquote(name):
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        return re.sub(r'\\(.)', r'\1', name[1:-1])
    return name


LIST_RE = re.compile(rb'^(?:\* (?:LIST|LSUB) )?\(([^)]*)\) ("(?:[^"\\]|\\.)*"|NIL) ')


def parse_list(data):
    """imaplib LIST/LSUB data or raw `* LIST` lines (literals inlined) ->
    {name: set(attrs)}."""
    out = {}
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):          # imaplib: name sent as a literal
            item = item[0] + b"\r\n" + item[1]
        m = LIST_RE.match(item)
        if not m:
            raise AssertionError("unparsable LIST data %r" % (item,))
        name, _i = parse_value(item, m.end())
        out[s(name)] = set(m.group(1).decode().split())
    return out


def sim_expunge(uids, expunges):
    """Apply `* N EXPUNGE` numbers in order to a list of UIDs."""
    uids = list(uids)
    for n in expunges:
        if not 1 <= n <= len(uids):
            raise AssertionError("EXPUNGE %d with only %d messages (%r)"
                                 % (n, len(uids), expunges))
        del uids[n - 1]
    return uids


def code_of(text):
    """The response code atom of `[CODE ...] text` (upper case) or None."""
    if isinstance(text, (list, tuple)):
        text = text[0] if text else b""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = re.match(r"^(?:\S+ (?:OK|NO|BAD) )?\[([A-Za-z0-9-]+)", text or "")
    return m.group(1).upper() if m else None


# ========================================================= MIME reference

def split_header(raw):
    """(header incl. the blank line, body) of an entity."""
    if raw.startswith(b"\r\n"):
        return b"\r\n", raw[2:]
    i = raw.find(b"\r\n\r\n")
    if i < 0:
        return raw, b""
    return raw[:i + 4], raw[i + 4:]


def split_multipart(body, boundary):
    """The raw body parts of a multipart body (RFC 2046 5.1.1: the CRLF
    before a delimiter belongs to the delimiter)."""
    delim = re.compile(rb"(?:^|\r\n)--" + re.escape(boundary.encode()) +
                       rb"(--)?[ \t]*(?:\r\n|$)")
    ms = list(delim.finditer(body))
    parts = []
    for a, b in zip(ms, ms[1:]):
        if a.group(1):
            break
        parts.append(body[a.end():b.start()])
    return parts


class Entity:
    """One MIME entity with its exact octets (the reference for BODY[...])
    and the email package's parse of its header (the reference for types
    and parameters)."""

    def __init__(self, raw, default_type="text/plain"):
        self.raw = raw
        self.header, self.body = split_header(raw)
        self.msg = email.message_from_bytes(self.header, policy=email.policy.default)
        if self.msg["content-type"] is None:
            self.ctype = default_type
        else:
            self.ctype = self.msg.get_content_type()
        self.maintype, self.subtype = self.ctype.split("/", 1)
        self.children = []
        self.encap = None
        if self.maintype == "multipart":
            inner = "message/rfc822" if self.subtype == "digest" else "text/plain"
            self.children = [Entity(p, inner) for p in
                             split_multipart(self.body, self.msg.get_boundary())]
        elif self.ctype == "message/rfc822":
            self.encap = Entity(self.body)

    def part(self, spec):
        """The entity that section spec ("2.1") names."""
        cur = container = self
        for n in (int(x) for x in spec.split(".")):
            if container.maintype == "multipart":
                cur = container.children[n - 1]
            elif n == 1:
                cur = container
            else:
                raise KeyError(spec)
            container = cur.encap if cur.encap is not None else cur
        return cur

    def section(self, spec):
        """Expected octets of BODY[spec] (spec without the brackets)."""
        if spec == "":
            return self.raw
        if spec == "HEADER":
            return self.header
        if spec == "TEXT":
            return self.body
        m = re.match(r"^([\d.]+?)(?:\.(MIME|HEADER|TEXT))?$", spec)
        p = self.part(m.group(1))
        if m.group(2) == "MIME":
            return p.header
        if m.group(2) == "HEADER":
            return p.encap.header
        if m.group(2) == "TEXT":
            return p.encap.body
        return p.body

    def encoding(self):
        cte = self.msg["content-transfer-encoding"]
        return str(cte).strip().upper() if cte else "7BIT"

    def params(self):
        if self.msg["content-type"] is None:
            return {}
        return {k.upper(): v for k, v in self.msg.get_params()[1:]}


def all_sections(ent, prefix=""):
    """Every part specifier of a multipart entity ("1", "1.MIME", "1.2",
    "2.HEADER", ...), for BODY[...]."""
    out = []
    if ent.maintype != "multipart":
        return out
    for i, ch in enumerate(ent.children):
        spec = "%s%d" % (prefix, i + 1)
        out += [spec, spec + ".MIME"]
        if ch.maintype == "multipart":
            out += all_sections(ch, spec + ".")
        elif ch.encap is not None:
            out += [spec + ".HEADER", spec + ".TEXT"]
            if ch.encap.maintype == "multipart":
                out += all_sections(ch.encap, spec + ".")
            else:
                out.append(spec + ".1")
    return out


def email_leaves(part, prefix=""):
    """[(section, email part)] of the non-multipart, non-message parts."""
    if not part.is_multipart():
        return [(prefix + "1" if not prefix else prefix.rstrip("."), part)]
    out = []
    for i, ch in enumerate(part.iter_parts()):
        spec = "%s%d" % (prefix, i + 1)
        if ch.is_multipart():
            out += email_leaves(ch, spec + ".")
        elif ch.get_content_type() != "message/rfc822":
            out.append((spec, ch))
    return out


def header_fields(header, names, negate=False):
    """Expected BODY[HEADER.FIELDS (names)] (or .NOT) of a header block."""
    names = {n.lower() for n in names}
    fields = re.findall(rb"[^ \t\r\n][^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*",
                        header[:-2])
    keep = [f for f in fields
            if (f.split(b":", 1)[0].strip().lower().decode() in names) != negate]
    return b"".join(keep) + b"\r\n"


def text_lines(body):
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def decode_words(v):
    """An envelope string with RFC 2047 encoded words, decoded."""
    if v is None:
        return None
    v = s(v)
    v = re.sub(r"\r\n([ \t])", r"\1", v)
    return str(email.header.make_header(email.header.decode_header(v)))


def mutf7(name):
    """RFC 3501 5.1.3 modified UTF-7 of a str."""
    out, buf = [], []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            buf.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


# ============================================================ test messages

def _finish(m):
    raw = m.as_bytes(policy=email.policy.SMTP)
    assert MAP_CRLF.sub(b"\r\n", raw) == raw, "test message is not pure CRLF"
    return raw


# The attachment of the "blob" message: binary with NUL bytes; its decoded
# content has a word that must never match a BODY search (not a text part).
BLOB = (b"\x00\x01\x02BLOBHEAD wombatcode in a binary attachment \xff\xfe\x00\r\n" * 3
        + bytes(range(256)))


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def flag_words(flags):
    """"(\\Seen \\Answered)" -> {"\\Seen", "\\Answered"}; None -> set()."""
    return set(flags.strip("()").split()) if flags else set()


def make_messages():
    """[(key, raw bytes, internal date, flags)] appended in this order
    (UIDs 4.. after the demo's three)."""
    out = []

    m = EmailMessage()
    m["From"] = Address("Jürgen Müller", "juergen", "example.de")
    m["To"] = Address("Demo User", "demo", "example.com")
    m["Subject"] = "Grüße aus Köln"
    m["Date"] = "Mon, 15 Jan 2024 10:00:00 +0100"
    m["Message-ID"] = "<plain-1@example.de>"
    m["X-Interop"] = "plain"
    m.set_content("Hello Demo,\n\nthe platypus sings at dawn.\n\nJürgen\n",
                  charset="utf-8", cte="8bit")
    out.append(("plain", _finish(m),
                datetime.datetime(2024, 1, 15, 12, 0, 0, tzinfo=TZ(datetime.timedelta(hours=1))),
                "(\\Seen)"))

    m = EmailMessage()
    m["From"] = Address("Bob Builder", "bob", "builder.example")
    m["To"] = "demo@example.com, Second Person <second@example.com>"
    m["Cc"] = "cc@example.org"
    m["Subject"] = "Quarterly marmalade numbers"
    m["Date"] = "Sat, 10 Feb 2024 12:00:00 -0500"
    m["Message-ID"] = "<alt-1@builder.example>"
    m["X-Interop"] = "alternative"
    m.set_content("plain: the marmalade recipe\n")
    m.add_alternative("<html><body><p>html: the <b>marmalade</b> recipe</p></body></html>\n",
                      subtype="html")
    out.append(("alternative", _finish(m),
                datetime.datetime(2024, 2, 10, 12, 0, 0, tzinfo=TZ(datetime.timedelta(hours=-5))),
                None))

    m = EmailMessage()
    m["From"] = Address("Zoë Lefèvre", "zoe", "example.fr")
    m["To"] = Address("Demo User", "demo", "example.com")
    m["Subject"] = "Your blob"
    m["Date"] = "Tue, 20 Feb 2024 12:00:00 +0000"
    m["Message-ID"] = "<blob-1@example.fr>"
    m["X-Interop"] = "blob"
    m.set_content("See the attached blob.\n")
    m.add_attachment(BLOB, maintype="application", subtype="octet-stream",
                     filename="blob.bin")
    out.append(("blob", _finish(m),
                datetime.datetime(2024, 2, 20, 12, 0, 0, tzinfo=TZ.utc), None))

    inner = EmailMessage()
    inner["From"] = Address("Carol Inner", "carol", "example.com")
    inner["To"] = "frank@example.com"
    inner["Subject"] = "Inner päckchen"
    inner["Date"] = "Fri, 01 Mar 2024 08:00:00 +0000"
    inner["Message-ID"] = "<inner-1@example.com>"
    inner.set_content("nested body with narwhalword\n")
    m = EmailMessage()
    m["From"] = Address("Frank", "frank", "example.com")
    m["To"] = "demo@example.com"
    m["Reply-To"] = "replies@example.com"
    m["Subject"] = "Fwd: Inner päckchen"
    m["Date"] = "Mon, 01 Apr 2024 12:00:00 +0000"
    m["Message-ID"] = "<nested-1@example.com>"
    m["In-Reply-To"] = "<inner-1@example.com>"
    m["X-Interop"] = "nested"
    m.set_content("Forwarding the message below.\n")
    m.add_attachment(inner)
    out.append(("nested", _finish(m),
                datetime.datetime(2024, 4, 1, 12, 0, 0, tzinfo=TZ.utc), None))

    m = EmailMessage()
    m["From"] = Address("Åsa Öberg", "asa", "example.se")
    m["To"] = "demo@example.com"
    m["Subject"] = "Überraschung für dich"
    m["Date"] = "Mon, 15 Apr 2024 12:00:00 +0200"
    m["Message-ID"] = "<qp-1@example.se>"
    m["X-Interop"] = "qp"
    m.set_content("Größenordnung: café, naïve façade, scrumptious pie.\n"
                  + "A long line that must be soft-wrapped by quoted-printable "
                  + "encoding because it is far longer than seventy-six characters, "
                  + "ending in ümlaut.\n",
                  charset="utf-8", cte="quoted-printable")
    out.append(("qp", _finish(m),
                datetime.datetime(2024, 4, 15, 12, 0, 0, tzinfo=TZ(datetime.timedelta(hours=2))),
                None))

    m = EmailMessage()
    m["From"] = Address("Eve", "eve", "example.org")
    m["To"] = "demo@example.com"
    m["Subject"] = "Encoded note"
    m["Date"] = "Wed, 01 May 2024 12:00:00 +0000"
    m["Message-ID"] = "<b64-1@example.org>"
    m["X-Interop"] = "b64text"
    m.set_content("The secret animal is quokkaword.\n", charset="utf-8", cte="base64")
    out.append(("b64text", _finish(m),
                datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=TZ.utc), None))

    subj = base64.b64encode("Café crème".encode("latin-1")).decode()
    raw = ("From: =?ISO-8859-1?Q?Ren=E9_Dupont?= <rene@example.fr>\r\n"
           "To: demo@example.com\r\n"
           "Subject: =?ISO-8859-1?B?%s?=\r\n"
           "Date: Mon, 20 May 2024 12:00:00 +0200\r\n"
           "Message-ID: <iso-1@example.fr>\r\n"
           "X-Interop: iso\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=iso-8859-1\r\n"
           "Content-Transfer-Encoding: 8bit\r\n"
           "\r\n" % subj).encode() + b"Bonjour, d\xe9j\xe0 vu.\r\n"
    out.append(("iso", raw,
                datetime.datetime(2024, 5, 20, 12, 0, 0, tzinfo=TZ(datetime.timedelta(hours=2))),
                None))

    m = EmailMessage()
    m["From"] = Address("Grace Hopper", "grace", "navy.example")
    m["To"] = "demo@example.com"
    m["Subject"] = "Nested parts"
    m["Date"] = "Mon, 10 Jun 2024 12:00:00 +0000"
    m["Message-ID"] = "<mixedalt-1@navy.example>"
    m["X-Interop"] = "mixedalt"
    m.set_content("plain: the giraffeword is tall\n")
    m.add_alternative("<html><body><p>html: the giraffeword <img src=\"cid:dot@navy.example\">"
                      "</p></body></html>\n", subtype="html")
    m.add_attachment(PNG, maintype="image", subtype="png", filename="dot.png",
                     cid="<dot@navy.example>", disposition="inline")
    m.get_payload()[1]["Content-Description"] = "A red dot"
    out.append(("mixedalt", _finish(m),
                datetime.datetime(2024, 6, 10, 12, 0, 0, tzinfo=TZ.utc), "(\\Answered)"))
    return out


class Msg:
    def __init__(self, key, raw, date, flags, uid):
        self.key, self.raw, self.date, self.flags, self.uid = key, raw, date, flags, uid
        self.email = email.message_from_bytes(raw, policy=email.policy.default)
        self.entity = Entity(raw)


def parse_idate(v):
    return datetime.datetime.strptime(s(v).strip(), "%d-%b-%Y %H:%M:%S %z")


# ================================================================ the tests

class RawSession:
    """A RawClient with automatic tags; failures show the transcript."""

    def __init__(self, client, prefix="r"):
        self.c = client
        self.prefix = prefix
        self.n = 0

    def transcript(self, last=40):
        return b"".join(self.c.transcript[-last:]).decode("utf-8", "replace")

    def tag(self):
        self.n += 1
        return "%s%d" % (self.prefix, self.n)

    def run(self, text, expect="OK", timeout=None):
        tag = self.tag()
        u, t = self.c.command(tag, text, timeout)
        if expect and not t.startswith(("%s %s" % (tag, expect)).encode()):
            raise AssertionError("expected %s for %r, got %r\n--- transcript ---\n%s"
                                 % (expect, text, t, self.transcript()))
        return u, t


class Base(T.DaemonTestCase):
    def setUp(self):
        self.port = T.free_port()
        self.daemon = self.start_daemon({
            "imap.port": self.port,
            "imap.address": T.LOOPBACK,
            "limits.auth_fail_delay": "200ms",
        })

    # -- clients

    def login(self):
        M = self.imap(self.port)
        # imaplib writes an APPEND literal and its closing CRLF separately:
        # without NODELAY, Nagle and delayed ACK cost 40 ms per APPEND.
        M.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        typ, _ = M.login(T.DEMO_USER, T.DEMO_PASS)
        self.assertEqual(typ, "OK")
        return M

    def rawlogin(self, prefix="r"):
        c = self.raw(self.port)
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        r = RawSession(c, prefix)
        r.run('LOGIN "demo" "demo"')
        return r

    # -- imaplib helpers

    def ok(self, res, what=""):
        typ, data = res
        self.assertEqual(typ, "OK", "%s: %r %r" % (what, typ, data))
        return data

    def select(self, M, box="INBOX", readonly=False):
        typ, data = M.select(box, readonly=readonly)
        self.assertEqual(typ, "OK", "SELECT %s: %r" % (box, data))
        return {k: list(v) for k, v in M.untagged_responses.items()}

    def fetch(self, M, seqset, items, uid=False):
        if uid:
            typ, data = M.uid("FETCH", seqset, items)
        else:
            typ, data = M.fetch(seqset, items)
        self.assertEqual(typ, "OK", "FETCH %s %s: %r" % (seqset, items, data))
        return merge_fetch(parse_fetch_stream(imaplib_fetch_bytes(data)))

    def search(self, M, *criteria, charset=None, literal=None, uid=False):
        if literal is not None:
            M.literal = literal.encode() if isinstance(literal, str) else literal
        if uid:
            typ, data = M.uid("SEARCH", *(("CHARSET", charset) if charset else ()), *criteria)
        else:
            typ, data = M.search(charset, *criteria)
        self.assertEqual(typ, "OK", "SEARCH %r: %r" % (criteria, data))
        return sorted(int(x) for x in b" ".join(d for d in data if d).split())

    def status(self, M, box, items):
        data = self.ok(M.status(box, "(%s)" % items), "STATUS %s" % box)
        return status_items(data[0])

    def list_boxes(self, M, pattern="*", ref='""'):
        data = self.ok(M.list(ref, pattern), "LIST")
        return parse_list(data)

    def append(self, M, box, raw, flags=None, date=None):
        typ, data = M.append(box, flags, imaplib.Time2Internaldate(date) if date else None, raw)
        return typ, data

    def append_all(self, M, box="INBOX"):
        """APPEND make_messages() into box; [Msg] with the UIDs from
        APPENDUID."""
        msgs = []
        for key, raw, date, flags in make_messages():
            typ, data = self.append(M, box, raw, flags, date)
            self.assertEqual(typ, "OK", "APPEND %s: %r" % (key, data))
            m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
            self.assertTrue(m, "APPEND %s: no APPENDUID in %r" % (key, data))
            msgs.append(Msg(key, raw, date, flags, int(m.group(2))))
        return msgs

    def demo_raw(self, M):
        """The demo messages' bytes, {uid: raw}, read with BODY.PEEK[]."""
        got = self.fetch(M, "1:*", "(UID BODY.PEEK[])")
        return {d["UID"]: d["BODY[]"] for d in got.values()}


# ------------------------------------------------------------- APPEND/SELECT

class AppendAndSelect(Base):
    def test_append_uids_and_bytes(self):
        """APPENDUID UIDs follow UIDNEXT; BODY.PEEK[] is byte-identical;
        RFC822.SIZE is the length; INTERNALDATE and flags are the ones given."""
        M = self.login()
        before = self.status(M, "INBOX", "UIDNEXT UIDVALIDITY MESSAGES")
        msgs = self.append_all(M)
        self.assertEqual([m.uid for m in msgs],
                         list(range(before["UIDNEXT"], before["UIDNEXT"] + len(msgs))))
        sel = self.select(M)
        self.assertEqual(int(sel["EXISTS"][-1]), 3 + len(msgs))
        got = self.fetch(M, "4:*", "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])")
        self.assertEqual(sorted(got), list(range(4, 4 + len(msgs))))
        for i, m in enumerate(msgs):
            d = got[4 + i]
            self.assertEqual(d["UID"], m.uid)
            self.assertEqual(d["BODY[]"], m.raw, m.key)
            self.assertEqual(d["RFC822.SIZE"], len(m.raw), m.key)
            self.assertEqual(parse_idate(d["INTERNALDATE"]), m.date, m.key)
            self.assertEqual(flagset(d["FLAGS"]) - {"\\Recent"}, flag_words(m.flags), m.key)
        # APPENDUID's UIDVALIDITY is the mailbox's
        self.assertEqual(int(sel["UIDVALIDITY"][-1]), before["UIDVALIDITY"])

    def test_append_keywords_and_flags(self):
        M = self.login()
        raw = make_messages()[0][1]
        typ, data = self.append(M, "INBOX", raw, "(\\Flagged \\Draft $Label1 Work)")
        self.assertEqual(typ, "OK", data)
        self.select(M)
        got = self.fetch(M, "4", "(FLAGS)")
        self.assertEqual(flagset(got[4]["FLAGS"]) - {"\\Recent"},
                         {"\\Flagged", "\\Draft", "$Label1", "Work"})

    def test_append_to_selected_mailbox_announces_exists(self):
        """RFC 9051 6.3.12: appending to the selected mailbox SHOULD send
        EXISTS at once."""
        M = self.login()
        self.select(M)
        M.untagged_responses.clear()
        typ, data = self.append(M, "INBOX", make_messages()[0][1])
        self.assertEqual(typ, "OK", data)
        self.assertEqual(M.untagged_responses.get("EXISTS"), [b"4"],
                         "no * 4 EXISTS during APPEND to the selected mailbox: %r"
                         % M.untagged_responses)

    def test_select_responses(self):
        M = self.login()
        sel = self.select(M)
        self.assertEqual(sel.get("EXISTS"), [b"3"])
        self.assertEqual(sel.get("RECENT"), [b"0"])
        self.assertEqual(sel.get("UNSEEN"), [str(DEMO_UNSEEN_FIRST).encode()])
        self.assertGreater(int(sel["UIDVALIDITY"][0]), 0)
        self.assertEqual(sel.get("UIDNEXT"), [b"4"])
        flags = set(sel["FLAGS"][0].decode().strip("()").split())
        self.assertTrue(SYSTEM_FLAGS <= flags, flags)
        pflags = set(sel["PERMANENTFLAGS"][0].decode().strip("()").split())
        self.assertTrue(SYSTEM_FLAGS <= pflags, pflags)
        self.assertIn("\\*", pflags)
        self.assertNotIn("\\Recent", pflags)
        self.assertIn("READ-WRITE", sel)
        self.assertNotIn("READ-ONLY", sel)
        # STATUS agrees with SELECT
        st = self.status(M, "INBOX", "UIDVALIDITY UIDNEXT MESSAGES")
        self.assertEqual(st["UIDVALIDITY"], int(sel["UIDVALIDITY"][0]))
        self.assertEqual(st["UIDNEXT"], 4)
        self.assertEqual(st["MESSAGES"], 3)

    def test_select_inbox_is_case_insensitive(self):
        M = self.login()
        sel = self.select(M, "inbox")
        self.assertEqual(sel.get("EXISTS"), [b"3"])

    def test_examine_is_read_only(self):
        M = self.login()
        sel = self.select(M, readonly=True)
        self.assertIn("READ-ONLY", sel)
        self.assertNotIn("READ-WRITE", sel)
        self.assertEqual(sel.get("EXISTS"), [b"3"])
        # a non-PEEK BODY[] does not set \Seen under EXAMINE (RFC 9051 6.3.3)
        got = self.fetch(M, "3", "(BODY[])")
        self.assertNotIn("\\Seen", flagset(got[3].get("FLAGS", [])))
        got = self.fetch(M, "3", "(FLAGS)")
        self.assertNotIn("\\Seen", flagset(got[3]["FLAGS"]))
        # STORE fails; EXPUNGE removes nothing
        typ, data = M.store("1", "+FLAGS", "(\\Deleted)")
        self.assertEqual(typ, "NO", data)
        try:
            M.expunge()
        except imaplib.IMAP4.error:
            pass
        M2 = self.login()
        self.assertEqual(self.status(M2, "INBOX", "MESSAGES DELETED"),
                         {"MESSAGES": 3, "DELETED": 0})

    def test_large_append_5mb(self):
        """A 5 MB message (base64 attachment) is read back byte-identical."""
        rnd = random.Random(5)
        blob = rnd.randbytes(3_800_000)
        m = EmailMessage()
        m["From"] = "big@example.com"
        m["To"] = "demo@example.com"
        m["Subject"] = "Large attachment"
        m.set_content("A large file follows.\n")
        m.add_attachment(blob, maintype="application", subtype="octet-stream",
                         filename="big.bin")
        raw = _finish(m)
        self.assertGreater(len(raw), 5_000_000)
        M = self.login()
        typ, data = self.append(M, "INBOX", raw)
        self.assertEqual(typ, "OK", data)
        self.select(M)
        got = self.fetch(M, "4", "(RFC822.SIZE BODY.PEEK[] BINARY.SIZE[2])")
        self.assertEqual(got[4]["RFC822.SIZE"], len(raw))
        self.assertTrue(got[4]["BODY[]"] == raw, "5 MB message differs")
        self.assertEqual(got[4]["BINARY.SIZE[2]"], len(blob))
        got = self.fetch(M, "4", "(BINARY.PEEK[2])")
        self.assertTrue(got[4]["BINARY[2]"] == blob, "decoded 5 MB attachment differs")


# --------------------------------------------------------------------- FETCH

class Fetch(Base):
    def setUp(self):
        super().setUp()
        self.M = self.login()
        self.msgs = self.append_all(self.M)
        self.select(self.M)
        self.by_key = {m.key: m for m in self.msgs}

    def seq(self, key):
        return self.msgs.index(self.by_key[key]) + 4

    def test_body_sections_match_reference(self):
        """BODY[HEADER], [TEXT], [n], [n.MIME], nested [n.HEADER]/[n.TEXT]/
        [n.1] equal the octets of the appended message."""
        for m in self.msgs:
            ent = m.entity
            specs = ["HEADER", "TEXT"] + all_sections(ent)
            if ent.maintype != "multipart":
                specs.append("1")
            items = " ".join("BODY.PEEK[%s]" % sp for sp in specs)
            got = self.fetch(self.M, str(self.seq(m.key)), "(%s)" % items)[self.seq(m.key)]
            for sp in specs:
                self.assertEqual(got.get("BODY[%s]" % sp), ent.section(sp),
                                 "%s BODY[%s]" % (m.key, sp))

    def test_body_sections_against_email_package(self):
        """The email package's own view of each leaf part agrees with the
        server's BODY[n] (raw) and BINARY[n] (decoded)."""
        for m in self.msgs:
            seq = self.seq(m.key)
            leaves = email_leaves(m.email)
            items = " ".join("BODY.PEEK[%s] BINARY.PEEK[%s] BINARY.SIZE[%s]" % (n, n, n)
                             for n, _p in leaves)
            got = self.fetch(self.M, str(seq), "(%s)" % items)[seq]
            for n, part in leaves:
                raw_payload = part.get_payload()
                try:
                    raw_payload = raw_payload.encode("ascii", "surrogateescape")
                except UnicodeEncodeError:     # 8bit: the email package decoded it
                    raw_payload = raw_payload.encode(part.get_content_charset())
                self.assertEqual(got["BODY[%s]" % n], raw_payload, "%s BODY[%s]" % (m.key, n))
                decoded = part.get_payload(decode=True)
                self.assertEqual(got["BINARY[%s]" % n], decoded, "%s BINARY[%s]" % (m.key, n))
                self.assertEqual(got["BINARY.SIZE[%s]" % n], len(decoded),
                                 "%s BINARY.SIZE[%s]" % (m.key, n))

    def test_binary_with_nul_uses_literal8(self):
        """RFC 3516 4.3: BINARY data with NUL is sent as literal8 ~{n}."""
        seq = self.seq("blob")
        r = self.rawlogin()
        r.run("SELECT INBOX")
        u, _t = r.run("FETCH %d (BINARY.PEEK[2])" % seq)
        line = [x for x in u if re.match(rb"\* %d FETCH" % seq, x)]
        self.assertEqual(len(line), 1, u)
        self.assertRegex(line[0], rb"BINARY\[2\] ~\{%d\}\r\n" % len(BLOB))
        d = merge_fetch(parse_fetch_stream(line[0]))[seq]
        self.assertEqual(d["BINARY[2]"], BLOB)

    def test_binary_demo_csv_attachment(self):
        M = self.M
        raw = self.demo_raw(M)[3]
        part = list(email.message_from_bytes(raw, policy=email.policy.default).iter_parts())[1]
        got = self.fetch(M, "3", "(BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1])")[3]
        self.assertEqual(got["BINARY[2]"], part.get_payload(decode=True))
        self.assertEqual(got["BINARY.SIZE[2]"], len(part.get_payload(decode=True)))
        self.assertTrue(got["BINARY[2]"].startswith(b"date,region,orders,revenue_eur\r\n"))

    def test_binary_unknown_cte_is_no_unknown_cte(self):
        """RFC 3516 4.1: a CTE the server cannot decode -> NO [UNKNOWN-CTE]."""
        raw = (b"From: a@example.com\r\nSubject: uu\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: x-uuencode\r\n\r\n"
               b"begin 644 x\r\n#86)C\r\n`\r\nend\r\n")
        typ, data = self.append(self.M, "INBOX", raw)
        self.assertEqual(typ, "OK", data)
        self.select(self.M)
        r = self.rawlogin()
        r.run("SELECT INBOX")
        _u, t = r.run("FETCH %d (BINARY.PEEK[1])" % (4 + len(self.msgs)), expect=None)
        self.assertRegex(t, rb"^r\d+ NO \[UNKNOWN-CTE\]")

    def test_header_fields(self):
        for m in self.msgs:
            seq = self.seq(m.key)
            got = self.fetch(self.M, str(seq),
                             "(BODY.PEEK[HEADER.FIELDS (Subject From X-Interop)] "
                             "BODY.PEEK[HEADER.FIELDS.NOT (Subject From X-Interop)] "
                             "BODY.PEEK[HEADER.FIELDS (X-Nonexistent)] RFC822.HEADER)")[seq]
            want = header_fields(m.entity.header, ["subject", "from", "x-interop"])
            self.assertEqual(got["BODY[HEADER.FIELDS (SUBJECT FROM X-INTEROP)]"], want, m.key)
            want = header_fields(m.entity.header, ["subject", "from", "x-interop"], negate=True)
            self.assertEqual(got["BODY[HEADER.FIELDS.NOT (SUBJECT FROM X-INTEROP)]"], want, m.key)
            self.assertEqual(got["BODY[HEADER.FIELDS (X-NONEXISTENT)]"], b"\r\n", m.key)
            self.assertEqual(got["RFC822.HEADER"], m.entity.header, m.key)
            # and the email package reads the same values out of it
            part = email.message_from_bytes(
                got["BODY[HEADER.FIELDS (SUBJECT FROM X-INTEROP)]"], policy=email.policy.default)
            self.assertEqual(str(part["subject"]), str(m.email["subject"]))
            self.assertEqual(str(part["from"]), str(m.email["from"]))

    def test_partial_fetch(self):
        m = self.by_key["qp"]
        seq = self.seq("qp")
        n = len(m.raw)
        got = self.fetch(self.M, str(seq),
                         "(BODY.PEEK[]<0.100> BODY.PEEK[TEXT]<5.10> BODY.PEEK[1]<7.3>)")[seq]
        self.assertEqual(got["BODY[]<0>"], m.raw[:100])
        self.assertEqual(got["BODY[TEXT]<5>"], m.entity.body[5:15])
        self.assertEqual(got["BODY[1]<7>"], m.entity.body[7:10])
        got = self.fetch(self.M, str(seq), "(BODY.PEEK[]<%d.100>)" % (n - 5))[seq]
        self.assertEqual(got["BODY[]<%d>" % (n - 5)], m.raw[-5:])
        # RFC 9051 6.4.5: a start beyond the end gives the empty string
        got = self.fetch(self.M, str(seq), "(BODY.PEEK[]<%d.10>)" % (n + 10))[seq]
        self.assertEqual(got["BODY[]<%d>" % (n + 10)], b"")
        # partial BINARY
        seq = self.seq("blob")
        got = self.fetch(self.M, str(seq), "(BINARY.PEEK[2]<3.20>)")[seq]
        self.assertEqual(got["BINARY[2]<3>"], BLOB[3:23])

    def test_envelope(self):
        for m in self.msgs:
            seq = self.seq(m.key)
            env = self.fetch(self.M, str(seq), "(ENVELOPE)")[seq]["ENVELOPE"]
            self.check_envelope(env, m.email, m.key)

    def check_envelope(self, env, em, what):
        self.assertEqual(len(env), 10, env)
        self.assertEqual(email.utils.parsedate_to_datetime(s(env[0])),
                         em["date"].datetime, what)
        self.assertEqual(decode_words(env[1]), str(em["subject"]), what)

        def addrs(lst):
            return [(decode_words(a[0]) if a[0] is not None else "", s(a[2]), s(a[3]))
                    for a in (lst or [])]

        def want(field):
            h = em[field]
            return [(a.display_name, a.username, a.domain) for a in h.addresses] if h else []
        self.assertEqual(addrs(env[2]), want("from"), "%s from" % what)
        # absent Sender / Reply-To default to From (RFC 9051 7.5.2)
        self.assertEqual(addrs(env[3]), want("sender") or want("from"), "%s sender" % what)
        self.assertEqual(addrs(env[4]), want("reply-to") or want("from"), "%s reply-to" % what)
        self.assertEqual(addrs(env[5]), want("to"), "%s to" % what)
        self.assertEqual(addrs(env[6]), want("cc"), "%s cc" % what)
        self.assertEqual(addrs(env[7]), want("bcc"), "%s bcc" % what)
        self.assertEqual(s(env[8]), str(em["in-reply-to"]) if em["in-reply-to"] else None)
        self.assertEqual(s(env[9]), str(em["message-id"]), what)

    def test_bodystructure(self):
        for m in self.msgs:
            seq = self.seq(m.key)
            got = self.fetch(self.M, str(seq), "(BODYSTRUCTURE BODY)")[seq]
            self.check_bs(got["BODYSTRUCTURE"], m.entity, m.key, ext=True)
            self.check_bs(got["BODY"], m.entity, m.key, ext=False)

    def test_bodystructure_demo_messages(self):
        raws = self.demo_raw(self.M)
        got = self.fetch(self.M, "1:3", "(BODYSTRUCTURE)")
        for seq in (1, 2, 3):
            self.check_bs(got[seq]["BODYSTRUCTURE"], Entity(raws[seq]), "demo %d" % seq, ext=True)

    def check_bs(self, bs, ent, what, ext):
        self.assertIsInstance(bs, list, what)
        if ent.maintype == "multipart":
            kids = []
            while bs and isinstance(bs[0], list):
                kids.append(bs.pop(0))
            self.assertEqual(len(kids), len(ent.children), "%s: parts %r" % (what, kids))
            for i, (k, c) in enumerate(zip(kids, ent.children)):
                self.check_bs(k, c, "%s.%d" % (what, i + 1), ext)
            self.assertEqual(s(bs[0]).upper(), ent.subtype.upper(), what)
            if ext:
                self.assertEqual(self.params(bs[1]), ent.params(), "%s params" % what)
                self.check_disposition(bs[2], ent, what)
            else:
                self.assertEqual(len(bs), 1, "%s: BODY has extension data %r" % (what, bs))
            return
        self.assertEqual(s(bs[0]).upper(), ent.maintype.upper(), what)
        self.assertEqual(s(bs[1]).upper(), ent.subtype.upper(), what)
        self.assertEqual(self.params(bs[2]), ent.params(), "%s params" % what)
        cid = ent.msg["content-id"]
        self.assertEqual(s(bs[3]), str(cid) if cid else None, "%s id" % what)
        desc = ent.msg["content-description"]
        self.assertEqual(s(bs[4]), str(desc) if desc else None, "%s description" % what)
        self.assertEqual(s(bs[5]).upper(), ent.encoding(), "%s encoding" % what)
        self.assertEqual(bs[6], len(ent.body), "%s size" % what)
        rest = bs[7:]
        if ent.maintype == "text":
            self.assertEqual(rest[0], text_lines(ent.body), "%s lines" % what)
            rest = rest[1:]
        elif ent.ctype == "message/rfc822":
            env, body, lines = rest[0], rest[1], rest[2]
            inner = email.message_from_bytes(ent.body, policy=email.policy.default)
            self.assertEqual(decode_words(env[1]), str(inner["subject"]), what)
            self.check_bs(body, ent.encap, what + "/rfc822", ext)
            self.assertEqual(lines, text_lines(ent.body), "%s lines" % what)
            rest = rest[3:]
        if ext:
            self.assertGreaterEqual(len(rest), 2, "%s: no extension data" % what)
            self.assertIsNone(rest[0], "%s md5" % what)
            self.check_disposition(rest[1], ent, what)
        else:
            self.assertEqual(rest, [], "%s: BODY has extension data %r" % (what, rest))

    def params(self, lst):
        if lst is None:
            return {}
        return {s(lst[k]).upper(): s(lst[k + 1]) for k in range(0, len(lst), 2)}

    def check_disposition(self, d, ent, what):
        want = ent.msg.get_content_disposition()
        if want is None:
            self.assertIsNone(d, "%s disposition" % what)
            return
        self.assertEqual(s(d[0]).lower(), want, "%s disposition" % what)
        params = {k.upper(): v for k, v in
                  ent.msg.get_params(header="content-disposition")[1:]}
        self.assertEqual(self.params(d[1]), params, "%s disposition params" % what)

    def test_8bit_header_values_go_as_literals(self):
        """Raw UTF-8 in header fields (RFC 6532 style): ENVELOPE and
        BODYSTRUCTURE carry the bytes unchanged, and never inside a quoted
        string (RFC 3501 9 / RFC 9051 9: quoted strings are 7-bit until
        UTF8=ACCEPT)."""
        raw = ("From: Jörg Groß <joerg@example.de>\r\nTo: demo@example.com\r\n"
               "Subject: Grüße, raw 8-bit\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8; name=\"résumé.txt\"\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\nKäse\r\n").encode()
        self.assertEqual(self.append(self.M, "INBOX", raw)[0], "OK")
        seq = 4 + len(self.msgs)
        r = self.rawlogin()
        r.run("EXAMINE INBOX")
        u, _t = r.run("FETCH %d (ENVELOPE BODYSTRUCTURE BODY[HEADER.FIELDS (SUBJECT)])" % seq)
        line = [x for x in u if x.startswith(b"* %d FETCH" % seq)][0]
        # drop each literal's octets: walk the line
        pos, rest = 0, b""
        for m in re.finditer(rb"~?\{(\d+)\+?\}\r\n", line):
            if m.start() < pos:
                continue
            rest += line[pos:m.start()]
            pos = m.end() + int(m.group(1))
        rest += line[pos:]
        self.assertFalse(any(c >= 0x80 for c in rest),
                         "8-bit octets outside literals: %r" % rest)
        d = merge_fetch(parse_fetch_stream(line))[seq]
        self.assertEqual(d["ENVELOPE"][1], "Grüße, raw 8-bit".encode())
        self.assertEqual(d["ENVELOPE"][2][0][0], "Jörg Groß".encode())
        self.assertEqual(d["BODYSTRUCTURE"][2], [b"CHARSET", b"utf-8", b"NAME", "résumé.txt".encode()])
        self.assertEqual(d["BODY[HEADER.FIELDS (SUBJECT)]"], "Subject: Grüße, raw 8-bit\r\n\r\n".encode())

    def test_rfc822_size_and_items(self):
        got = self.fetch(self.M, "4:*", "(RFC822.SIZE)")
        for m in self.msgs:
            self.assertEqual(got[self.seq(m.key)]["RFC822.SIZE"], len(m.raw))
        seq = self.seq("alternative")
        got = self.fetch(self.M, str(seq), "(RFC822.TEXT)")[seq]
        self.assertEqual(got["RFC822.TEXT"], self.by_key["alternative"].entity.body)

    def test_non_peek_sets_seen_with_flags_in_response(self):
        """RFC 9051 6.4.5: BODY[] sets \\Seen and the changed FLAGS come in
        the same FETCH response; BODY.PEEK[] does not."""
        seq = self.seq("alternative")
        got = self.fetch(self.M, str(seq), "(BODY.PEEK[])")[seq]
        self.assertNotIn("FLAGS", got)
        self.assertNotIn("\\Seen", flagset(self.fetch(self.M, str(seq), "(FLAGS)")[seq]["FLAGS"]))
        got = self.fetch(self.M, str(seq), "(BODY[])")[seq]
        self.assertEqual(got["BODY[]"], self.by_key["alternative"].raw)
        self.assertIn("FLAGS", got, "no FLAGS in the FETCH that set \\Seen: %r" % got.keys())
        self.assertIn("\\Seen", flagset(got["FLAGS"]))
        # BINARY[] and RFC822.TEXT set it too; BINARY.PEEK does not
        seq = self.seq("qp")
        self.fetch(self.M, str(seq), "(BINARY.PEEK[1])")
        self.assertNotIn("\\Seen", flagset(self.fetch(self.M, str(seq), "(FLAGS)")[seq]["FLAGS"]))
        got = self.fetch(self.M, str(seq), "(BINARY[1])")[seq]
        self.assertIn("\\Seen", flagset(got.get("FLAGS", [])))
        seq = self.seq("iso")
        got = self.fetch(self.M, str(seq), "(RFC822.TEXT)")[seq]
        self.assertIn("\\Seen", flagset(got.get("FLAGS", [])))
        # and it is permanent: another session sees it
        M2 = self.login()
        self.select(M2)
        got = self.fetch(M2, "%d,%d,%d" % (self.seq("alternative"), self.seq("qp"), self.seq("iso")),
                         "(FLAGS)")
        for d in got.values():
            self.assertIn("\\Seen", flagset(d["FLAGS"]))

    def test_fetch_beyond_exists_is_bad(self):
        n = 3 + len(self.msgs)
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            self.M.fetch(str(n + 1), "(FLAGS)")
        self.assertIn("BAD", str(cm.exception))
        with self.assertRaises(imaplib.IMAP4.error):
            self.M.fetch("0", "(FLAGS)")
        # a UID that does not exist is no error (RFC 9051 6.4.9)
        typ, data = self.M.uid("FETCH", "999", "(FLAGS)")
        self.assertEqual(typ, "OK")
        self.assertEqual([d for d in data if d], [])

    def test_uid_fetch_ranges(self):
        got = self.fetch(self.M, "5:7", "(FLAGS)", uid=True)
        self.assertEqual(sorted(d["UID"] for d in got.values()), [5, 6, 7])
        last = self.msgs[-1].uid
        # n:* includes the highest UID even when n is above it (RFC 9051 6.4.9)
        got = self.fetch(self.M, "%d:*" % (last + 100), "(FLAGS)", uid=True)
        self.assertEqual([d["UID"] for d in got.values()], [last])


# ----------------------------------------------------------------- STORE

class Store(Base):
    def test_store_variants(self):
        M = self.login()
        self.select(M)
        got = merge_fetch(parse_fetch_stream(imaplib_fetch_bytes(
            self.ok(M.store("3", "+FLAGS", "(\\Flagged $Important)")))))
        self.assertEqual(flagset(got[3]["FLAGS"]), {"\\Flagged", "$Important"})
        got = merge_fetch(parse_fetch_stream(imaplib_fetch_bytes(
            self.ok(M.store("3", "-FLAGS", "(\\Flagged)")))))
        self.assertEqual(flagset(got[3]["FLAGS"]), {"$Important"})
        got = merge_fetch(parse_fetch_stream(imaplib_fetch_bytes(
            self.ok(M.store("3", "FLAGS", "(\\Answered Work)")))))
        self.assertEqual(flagset(got[3]["FLAGS"]), {"\\Answered", "Work"})
        # UID STORE answers with the UID in the FETCH responses
        typ, data = M.uid("STORE", "1:2", "+FLAGS", "(\\Draft)")
        self.assertEqual(typ, "OK", data)
        got = merge_fetch(parse_fetch_stream(imaplib_fetch_bytes(data)))
        self.assertEqual(sorted(got), [1, 2])
        for seq, d in got.items():
            self.assertEqual(d.get("UID"), seq, "UID STORE response without UID: %r" % d)
        self.assertEqual(flagset(got[1]["FLAGS"]), {"\\Seen", "\\Draft"})
        self.assertEqual(flagset(got[2]["FLAGS"]), {"\\Flagged", "\\Draft"})

    def test_store_silent(self):
        r = self.rawlogin()
        r.run("SELECT INBOX")
        u, _t = r.run("STORE 1:3 +FLAGS.SILENT (\\Deleted Later)")
        self.assertEqual([x for x in u if b"FETCH" in x], [], u)
        u, _t = r.run("UID STORE 2 -FLAGS.SILENT (\\Flagged)")
        self.assertEqual([x for x in u if b"FETCH" in x], [], u)
        u, _t = r.run("FETCH 1:3 (FLAGS)")
        got = merge_fetch(parse_fetch_stream(b"".join(u)))
        self.assertEqual(flagset(got[1]["FLAGS"]), {"\\Seen", "\\Deleted", "Later"})
        self.assertEqual(flagset(got[2]["FLAGS"]), {"\\Deleted", "Later"})
        self.assertEqual(flagset(got[3]["FLAGS"]), {"\\Deleted", "Later"})

    def test_keywords_are_permanent(self):
        M = self.login()
        self.select(M)
        self.ok(M.store("2", "+FLAGS", "($Important Project-X)"))
        M.close()
        M2 = self.login()
        self.select(M2)
        got = self.fetch(M2, "2", "(FLAGS)")
        self.assertEqual(flagset(got[2]["FLAGS"]), {"\\Flagged", "$Important", "Project-X"})
        self.assertEqual(self.search(M2, "KEYWORD", "$Important"), [2])
        self.assertEqual(self.search(M2, "UNKEYWORD", "Project-X"), [1, 3])

    def test_store_beyond_exists_is_bad(self):
        M = self.login()
        self.select(M)
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            M.store("4", "+FLAGS", "(\\Seen)")
        self.assertIn("BAD", str(cm.exception))


# ---------------------------------------------------------------- SEARCH

class Search(Base):
    def setUp(self):
        super().setUp()
        self.M = self.login()
        self.msgs = self.append_all(self.M)
        self.select(self.M)
        self.seq = {m.key: i + 4 for i, m in enumerate(self.msgs)}
        self.n = 3 + len(self.msgs)

    def q(self, *crit, **kw):
        return self.search(self.M, *crit, **kw)

    def test_body_decodes_text_parts_only(self):
        """BODY finds a word inside a base64 text part and a quoted-printable
        part, but not inside an application/octet-stream attachment."""
        self.assertEqual(self.q("BODY", "quokkaword"), [self.seq["b64text"]])
        self.assertEqual(self.q("BODY", "scrumptious"), [self.seq["qp"]])
        self.assertEqual(self.q("BODY", "platypus"), [self.seq["plain"]])
        self.assertEqual(self.q("BODY", "narwhalword"), [self.seq["nested"]])
        # text parts inside a multipart/alternative inside a multipart/mixed
        self.assertEqual(self.q("BODY", "giraffeword"), [self.seq["mixedalt"]])
        self.assertEqual(self.q("BODY", "wombatcode"), [],
                         "BODY matched inside an application/octet-stream attachment")
        self.assertEqual(self.q("TEXT", "wombatcode"), [])
        # a raw base64 word is no text either
        self.assertEqual(self.q("BODY", base64.b64encode(b"The secret animal").decode()[:12]), [])

    def test_body_non_ascii_charset_utf8(self):
        self.assertEqual(self.q("BODY", charset="UTF-8", literal="Größenordnung"),
                         [self.seq["qp"]])
        self.assertEqual(self.q("BODY", charset="UTF-8", literal="Grüße"), [1])

    def test_header_keys_with_encoded_words(self):
        self.assertEqual(self.q("SUBJECT", charset="UTF-8", literal="Köln"),
                         [self.seq["plain"]])
        self.assertEqual(self.q("SUBJECT", charset="UTF-8", literal="Überraschung"),
                         [self.seq["qp"]])
        self.assertEqual(self.q("SUBJECT", charset="UTF-8", literal="crème"),
                         [self.seq["iso"]])
        self.assertEqual(self.q("FROM", charset="UTF-8", literal="Jürgen"),
                         [self.seq["plain"]])
        self.assertEqual(self.q("FROM", charset="UTF-8", literal="René"),
                         [self.seq["iso"]])
        self.assertEqual(self.q("FROM", charset="UTF-8", literal="Zoë"),
                         [self.seq["blob"]])
        self.assertEqual(self.q("TEXT", charset="UTF-8", literal="Köln"),
                         [self.seq["plain"]])

    def test_header_and_ascii_case(self):
        self.assertEqual(self.q("SUBJECT", "quarterly"), [self.seq["alternative"]])
        self.assertEqual(self.q("SUBJECT", "LUNCH"), [2])
        self.assertEqual(self.q("FROM", "bob"), [2, self.seq["alternative"]])
        self.assertEqual(self.q("TO", "second@example.com"), [self.seq["alternative"]])
        self.assertEqual(self.q("CC", "team@example.net"), [2])
        self.assertEqual(self.q("HEADER", "X-Interop", "nested"), [self.seq["nested"]])
        self.assertEqual(self.q("HEADER", "Message-ID", "<plain-1@"), [self.seq["plain"]])
        # the empty string matches every message that has the field
        self.assertEqual(self.q("HEADER", "X-Interop", '""'), list(range(4, self.n + 1)))

    def test_boolean_keys(self):
        bob = [2, self.seq["alternative"]]
        self.assertEqual(self.q("OR", "FROM", "bob", "SUBJECT", charset="UTF-8", literal="Köln"),
                         sorted(bob + [self.seq["plain"]]))
        self.assertEqual(self.q("NOT", "FROM", "bob"),
                         [i for i in range(1, self.n + 1) if i not in bob])
        self.assertEqual(self.q("SEEN"), [1, self.seq["plain"]])
        self.assertEqual(self.q("UNSEEN"),
                         [i for i in range(1, self.n + 1) if i not in (1, self.seq["plain"])])
        self.assertEqual(self.q("FLAGGED", "SINCE", "1-Mar-2024"), [2])
        self.assertEqual(self.q("OR", "FLAGGED", "SEEN", "NOT", "BEFORE", "6-Mar-2024"), [2])
        self.assertEqual(self.q("(OR FLAGGED SEEN)", "NOT", "FROM", "alice"),
                         [2, self.seq["plain"]])

    def test_dates(self):
        s_ = self.seq
        self.assertEqual(self.q("BEFORE", "1-Mar-2024"), [s_["plain"], s_["alternative"], s_["blob"]])
        self.assertEqual(self.q("SINCE", "1-Feb-2024", "BEFORE", "1-Mar-2024"),
                         [s_["alternative"], s_["blob"]])
        self.assertEqual(self.q("SINCE", "1-Apr-2024"),
                         [s_["nested"], s_["qp"], s_["b64text"], s_["iso"], s_["mixedalt"]])
        self.assertEqual(self.q("ON", "5-Mar-2024"), [1])
        self.assertEqual(self.q("SENTON", "15-Jan-2024"), [s_["plain"]])
        self.assertEqual(self.q("SENTBEFORE", "1-Feb-2024"), [s_["plain"]])
        self.assertEqual(self.q("SENTSINCE", "15-May-2024"), [s_["iso"], s_["mixedalt"]])
        self.assertEqual(self.q("SENTSINCE", "15-May-2024", "ANSWERED"), [s_["mixedalt"]])

    def test_sizes(self):
        sizes = {1: 530, 2: 742, 3: 793}
        sizes.update({self.seq[m.key]: len(m.raw) for m in self.msgs})
        got = self.fetch(self.M, "1:3", "(RFC822.SIZE)")
        self.assertEqual({k: v["RFC822.SIZE"] for k, v in got.items()}, {1: 530, 2: 742, 3: 793})
        t = len(self.by("alternative").raw)
        self.assertEqual(self.q("LARGER", str(t)), sorted(k for k, v in sizes.items() if v > t))
        self.assertEqual(self.q("SMALLER", str(t)), sorted(k for k, v in sizes.items() if v < t))
        self.assertEqual(self.q("LARGER", str(t - 1), "SMALLER", str(t + 1)),
                         [self.seq["alternative"]])

    def by(self, key):
        return [m for m in self.msgs if m.key == key][0]

    def test_uid_and_sequence_sets(self):
        self.assertEqual(self.q("UID", "4:6"), [4, 5, 6])
        self.assertEqual(self.q("2,4:5"), [2, 4, 5])
        self.assertEqual(self.q("*"), [self.n])
        self.assertEqual(self.search(self.M, "UID", "9:*", uid=True),
                         list(range(9, self.msgs[-1].uid + 1)))
        self.assertEqual(self.search(self.M, "UID", "100:*", uid=True), [self.n])
        self.assertEqual(self.search(self.M, "2:3", uid=True), [2, 3])
        self.assertEqual(self.search(self.M, "FROM", "bob", uid=True),
                         [2, self.by("alternative").uid])
        with self.assertRaises(imaplib.IMAP4.error):
            self.M.search(None, "%d" % (self.n + 1))

    def test_badcharset(self):
        self.M.literal = "x".encode()
        typ, data = self.M.search("X-NO-SUCH-CHARSET", "SUBJECT")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "BADCHARSET")

    def test_esearch_return_options(self):
        r = self.rawlogin()
        r.run("SELECT INBOX")
        unseen_uids = [m.uid for m in self.msgs if "\\Seen" not in flag_words(m.flags)] + [2, 3]
        unseen_uids.sort()
        u, _t = r.run("UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
        es = [x for x in u if x.startswith(b"* ESEARCH")]
        self.assertEqual(len(es), 1, u)
        self.assertEqual([x for x in u if x.startswith(b"* SEARCH")], [])
        tag, is_uid, d = parse_esearch(es[0])
        self.assertEqual(tag, "r%d" % r.n)
        self.assertTrue(is_uid)
        self.assertEqual(int(d["MIN"]), unseen_uids[0])
        self.assertEqual(int(d["MAX"]), unseen_uids[-1])
        self.assertEqual(int(d["COUNT"]), len(unseen_uids))
        self.assertEqual(expand_set(d["ALL"]), unseen_uids)
        # RETURN () means ALL
        u, _t = r.run("SEARCH RETURN () FLAGGED")
        _tag, is_uid, d = parse_esearch([x for x in u if x.startswith(b"* ESEARCH")][0])
        self.assertFalse(is_uid)
        self.assertEqual(d, {"ALL": "2"})
        # no match: ESEARCH without MIN/MAX/ALL, COUNT 0 (RFC 4731 3.1)
        u, _t = r.run("SEARCH RETURN (MIN MAX COUNT ALL) BODY wombatcode")
        es = [x for x in u if x.startswith(b"* ESEARCH")]
        self.assertEqual(len(es), 1, u)
        self.assertEqual(parse_esearch(es[0])[2], {"COUNT": "0"})

    def test_searchres_save_and_fetch_dollar(self):
        r = self.rawlogin()
        r.run("SELECT INBOX")
        u, _t = r.run("SEARCH RETURN (SAVE) FROM bob")
        self.assertEqual(u, [], "SEARCH RETURN (SAVE) alone must send no ESEARCH/SEARCH")
        u, _t = r.run("FETCH $ (UID)")
        got = merge_fetch(parse_fetch_stream(b"".join(u)))
        self.assertEqual(sorted(got), [2, self.seq["alternative"]])
        u, _t = r.run("UID FETCH $ (FLAGS)")
        got = merge_fetch(parse_fetch_stream(b"".join(u)))
        self.assertEqual(sorted(d["UID"] for d in got.values()), [2, self.by("alternative").uid])
        # $ as a search key, combined
        u, _t = r.run("SEARCH $ FLAGGED")
        self.assertEqual(u, [b"* SEARCH 2\r\n"])
        # SAVE with ALL/COUNT saves every match
        u, _t = r.run("UID SEARCH RETURN (SAVE COUNT) SEEN")
        self.assertEqual(parse_esearch(u[0])[2], {"COUNT": "2"})
        u, _t = r.run("UID FETCH $ (UID)")
        self.assertEqual(sorted(d["UID"] for d in merge_fetch(parse_fetch_stream(b"".join(u))).values()),
                         [1, self.by("plain").uid])

    def test_searchres_dollar_drops_expunged(self):
        """RFC 5182 2.1: a message expunged (and announced) leaves $."""
        r = self.rawlogin()
        r.run("SELECT INBOX")
        r.run("SEARCH RETURN (SAVE) FROM bob")
        B = self.login()
        self.select(B)
        self.ok(B.store("2", "+FLAGS", "(\\Deleted)"))
        B.expunge()
        u, _t = r.run("NOOP")
        self.assertIn(b"* 2 EXPUNGE\r\n", u)
        u, _t = r.run("UID FETCH $ (UID)")
        got = merge_fetch(parse_fetch_stream(b"".join(u)))
        self.assertEqual([d["UID"] for d in got.values()], [self.by("alternative").uid],
                         r.transcript(8))

    def test_searchres_save_with_min_max(self):
        """RFC 5182 2.1 (RFC 9051 6.4.4.2): SAVE combined with MIN and/or MAX
        only (no ALL, no COUNT) saves just the MIN/MAX message(s)."""
        r = self.rawlogin()
        r.run("SELECT INBOX")
        u, _t = r.run("SEARCH RETURN (SAVE MIN) UNSEEN")
        self.assertEqual(parse_esearch([x for x in u if x.startswith(b"* ESEARCH")][0])[2],
                         {"MIN": "2"})
        u, _t = r.run("FETCH $ (UID)")
        self.assertEqual(sorted(merge_fetch(parse_fetch_stream(b"".join(u)))), [2],
                         "$ after SAVE MIN:\n" + r.transcript(8))
        u, _t = r.run("SEARCH RETURN (SAVE MIN MAX) UNSEEN")
        self.assertEqual(parse_esearch([x for x in u if x.startswith(b"* ESEARCH")][0])[2],
                         {"MIN": "2", "MAX": str(self.n)})
        u, _t = r.run("FETCH $ (UID)")
        self.assertEqual(sorted(merge_fetch(parse_fetch_stream(b"".join(u)))), [2, self.n],
                         "$ after SAVE MIN MAX:\n" + r.transcript(8))


# ----------------------------------------------------- COPY / MOVE / EXPUNGE

class CopyMoveExpunge(Base):
    def test_copy_copyuid(self):
        M = self.login()
        self.select(M)
        raws = self.demo_raw(M)
        dates = {d["UID"]: parse_idate(d["INTERNALDATE"])
                 for d in self.fetch(M, "1:3", "(UID INTERNALDATE)").values()}
        data = self.ok(M.copy("1:2", "Archive"), "COPY")
        m = re.search(rb"\[COPYUID (\d+) (\S+) (\S+)\]", data[0])
        self.assertTrue(m, "no COPYUID in %r" % data)
        src, dst = expand_set(m.group(2).decode()), expand_set(m.group(3).decode())
        self.assertEqual(src, [1, 2])
        self.assertEqual(len(dst), 2)
        st = self.status(M, "Archive", "UIDVALIDITY MESSAGES")
        self.assertEqual(int(m.group(1)), st["UIDVALIDITY"])
        self.assertEqual(st["MESSAGES"], 2)
        # source untouched
        self.assertEqual(self.status(M, "INBOX", "MESSAGES")["MESSAGES"], 3)
        M2 = self.login()
        self.select(M2, "Archive")
        got = self.fetch(M2, ",".join(map(str, dst)), "(UID FLAGS INTERNALDATE BODY.PEEK[])", uid=True)
        by_uid = {d["UID"]: d for d in got.values()}
        for s_uid, d_uid in zip(src, dst):
            self.assertEqual(by_uid[d_uid]["BODY[]"], raws[s_uid])
            self.assertEqual(parse_idate(by_uid[d_uid]["INTERNALDATE"]), dates[s_uid])
        # flags travel along (RFC 9051 6.4.7)
        self.assertIn("\\Seen", flagset(by_uid[dst[0]]["FLAGS"]))
        self.assertIn("\\Flagged", flagset(by_uid[dst[1]]["FLAGS"]))

    def test_uid_move(self):
        M = self.login()
        self.select(M)
        raw2 = self.demo_raw(M)[2]
        M.untagged_responses.clear()
        typ, data = M.uid("MOVE", "2", "Trash")
        self.assertEqual(typ, "OK", data)
        resp = dict(M.untagged_responses)
        self.assertTrue(resp.get("COPYUID"), "no COPYUID for UID MOVE: %r" % resp)
        v, src, dst = resp["COPYUID"][0].split()
        self.assertEqual(src, b"2")
        self.assertEqual(resp.get("EXPUNGE"), [b"2"], resp)
        st = self.status(M, "Trash", "UIDVALIDITY MESSAGES UIDNEXT")
        self.assertEqual(int(v), st["UIDVALIDITY"])
        self.assertEqual(st["MESSAGES"], 1)
        self.assertEqual(self.status(M, "INBOX", "MESSAGES")["MESSAGES"], 2)
        got = self.fetch(M, "1:*", "(UID)")
        self.assertEqual([d["UID"] for _k, d in sorted(got.items())], [1, 3])
        M2 = self.login()
        self.select(M2, "Trash")
        got = self.fetch(M2, dst.decode(), "(FLAGS BODY.PEEK[])", uid=True)
        (d,) = got.values()
        self.assertEqual(d["BODY[]"], raw2)
        self.assertIn("\\Flagged", flagset(d["FLAGS"]))

    def test_move_range_expunge_numbers(self):
        r = self.rawlogin()
        r.run("SELECT INBOX")
        u, t = r.run("MOVE 1,3 Archive")
        cu = [x for x in u + [t] if b"[COPYUID" in x]
        self.assertEqual(len(cu), 1, u)
        exp = [int(m.group(1)) for x in u for m in [re.match(rb"\* (\d+) EXPUNGE", x)] if m]
        self.assertEqual(sim_expunge([1, 2, 3], exp), [2], r.transcript())
        # the COPYUID comes before the EXPUNGEs (RFC 6851 4.3)
        idx_cu = u.index(cu[0]) if cu[0] in u else len(u)
        idx_ex = min(i for i, x in enumerate(u) if x.endswith(b" EXPUNGE\r\n"))
        self.assertLess(idx_cu, idx_ex, "COPYUID after the EXPUNGEs:\n" + r.transcript())

    def test_copy_to_nonexistent_is_trycreate(self):
        M = self.login()
        self.select(M)
        typ, data = M.copy("1", "NoSuchBox")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "TRYCREATE")
        r = self.rawlogin()
        r.run("SELECT INBOX")
        _u, t = r.run("MOVE 1 NoSuchBox", expect="NO")
        self.assertIn(b"[TRYCREATE]", t)
        self.assertEqual(self.status(M, "INBOX", "MESSAGES")["MESSAGES"], 3)

    def test_uid_expunge_only_given_uids(self):
        M = self.login()
        self.select(M)
        self.ok(M.store("1:3", "+FLAGS.SILENT", "(\\Deleted)"))
        M.untagged_responses.clear()
        typ, data = M.uid("EXPUNGE", "2")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(M.untagged_responses.get("EXPUNGE"), [b"2"])
        got = self.fetch(M, "1:*", "(UID FLAGS)")
        self.assertEqual([d["UID"] for _k, d in sorted(got.items())], [1, 3])
        for d in got.values():
            self.assertIn("\\Deleted", flagset(d["FLAGS"]))

    def test_expunge(self):
        M = self.login()
        self.select(M)
        self.ok(M.store("1,3", "+FLAGS", "(\\Deleted)"))
        typ, data = M.expunge()
        self.assertEqual(typ, "OK")
        self.assertEqual(sim_expunge([1, 2, 3], [int(x) for x in data]), [2], data)
        got = self.fetch(M, "1:*", "(UID)")
        self.assertEqual([d["UID"] for d in got.values()], [2])
        self.assertEqual(self.status(M, "INBOX", "MESSAGES DELETED"),
                         {"MESSAGES": 1, "DELETED": 0})

    def test_close_expunges_unselect_does_not(self):
        M = self.login()
        self.select(M)
        self.ok(M.store("2", "+FLAGS", "(\\Deleted)"))
        self.ok(M.unselect(), "UNSELECT")
        self.assertEqual(self.status(M, "INBOX", "MESSAGES DELETED"),
                         {"MESSAGES": 3, "DELETED": 1})
        self.select(M)
        self.ok(M.close(), "CLOSE")
        self.assertEqual(self.status(M, "INBOX", "MESSAGES DELETED"),
                         {"MESSAGES": 2, "DELETED": 0})
        self.select(M)
        got = self.fetch(M, "1:*", "(UID)")
        self.assertEqual([d["UID"] for _k, d in sorted(got.items())], [1, 3])

    def test_close_sends_no_expunge_responses(self):
        """RFC 9051 6.4.1: CLOSE expunges silently."""
        r = self.rawlogin()
        r.run("SELECT INBOX")
        r.run("STORE 1 +FLAGS.SILENT (\\Deleted)")
        u, _t = r.run("CLOSE")
        self.assertEqual([x for x in u if b"EXPUNGE" in x], [], u)

    def test_close_on_examine_does_not_expunge(self):
        M = self.login()
        self.select(M)
        self.ok(M.store("2", "+FLAGS", "(\\Deleted)"))
        self.ok(M.unselect())
        M2 = self.login()
        self.select(M2, readonly=True)
        self.ok(M2.close())
        self.assertEqual(self.status(M2, "INBOX", "MESSAGES DELETED"),
                         {"MESSAGES": 3, "DELETED": 1})

    def test_uids_never_reused(self):
        M = self.login()
        msgs = make_messages()
        self.select(M)
        uids = []
        for _k, raw, _d, _f in msgs[:2]:
            typ, data = self.append(M, "INBOX", raw)
            uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1)))
        self.assertEqual(uids, [4, 5])
        self.ok(M.uid("STORE", "5", "+FLAGS", "(\\Deleted)"))
        M.expunge()
        self.assertEqual(self.status(M, "INBOX", "UIDNEXT")["UIDNEXT"], 6)
        typ, data = self.append(M, "INBOX", msgs[2][1])
        self.assertIn(b"[APPENDUID ", data[0])
        self.assertEqual(int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1)), 6)
        # expunge everything: UIDNEXT still only grows
        self.ok(M.store("1:*", "+FLAGS.SILENT", "(\\Deleted)"))
        M.expunge()
        sel = self.select(M)
        self.assertEqual(sel.get("EXISTS"), [b"0"])
        self.assertEqual(sel.get("UIDNEXT"), [b"7"])
        typ, data = self.append(M, "INBOX", msgs[3][1])
        self.assertEqual(int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1)), 7)
        # and a copy into it gets new UIDs too
        self.assertEqual(self.append(M, "Archive", msgs[4][1])[0], "OK")
        self.select(M, "Archive")
        data = self.ok(M.copy("1", "INBOX"))
        self.assertEqual(re.search(rb"\[COPYUID \d+ \S+ (\S+)\]", data[0]).group(1), b"8")
        self.assertEqual(self.status(M, "INBOX", "UIDNEXT")["UIDNEXT"], 9)


# -------------------------------------------------------------- STATUS

class Status(Base):
    def test_status_items(self):
        M = self.login()
        st = self.status(M, "INBOX", "MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT")
        self.select(M)
        sizes = self.fetch(M, "1:*", "(RFC822.SIZE)")
        uv = int(M.untagged_responses["UIDVALIDITY"][0])
        self.assertEqual(st["MESSAGES"], 3)
        self.assertEqual(st["UIDNEXT"], 4)
        self.assertEqual(st["UIDVALIDITY"], uv)
        self.assertEqual(st["UNSEEN"], 2)
        self.assertEqual(st["DELETED"], 0)
        self.assertEqual(st["SIZE"], sum(d["RFC822.SIZE"] for d in sizes.values()))
        self.assertEqual(st["RECENT"], 0)
        self.ok(M.store("1", "+FLAGS", "(\\Deleted)"))
        self.ok(M.store("3", "+FLAGS", "(\\Seen)"))
        st = self.status(M, "INBOX", "DELETED UNSEEN MESSAGES")
        self.assertEqual(st, {"DELETED": 1, "UNSEEN": 1, "MESSAGES": 3})
        st = self.status(M, "Sent", "MESSAGES UIDNEXT UNSEEN SIZE DELETED")
        self.assertGreaterEqual(st.pop("UIDNEXT"), 1)
        self.assertEqual(st, {"MESSAGES": 0, "UNSEEN": 0, "SIZE": 0, "DELETED": 0})

    def test_status_nonexistent(self):
        M = self.login()
        typ, data = M.status("NoSuchBox", "(MESSAGES)")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "NONEXISTENT")

    def test_recent_after_append(self):
        """IMAP4rev1 \\Recent (RFC 3501 2.3.2, 6.3.11): an APPENDed message
        is recent; the first session to select the mailbox sees it, later
        ones do not."""
        M = self.login()
        typ, data = self.append(M, "INBOX", make_messages()[0][1])
        self.assertEqual(typ, "OK", data)
        self.assertEqual(self.status(M, "INBOX", "RECENT")["RECENT"], 1)
        sel = self.select(M)
        self.assertEqual(sel.get("RECENT"), [b"1"])
        self.assertEqual(self.search(M, "RECENT"), [4])
        self.assertIn("\\Recent", flagset(self.fetch(M, "4", "(FLAGS)")[4]["FLAGS"]))
        M2 = self.login()
        sel = self.select(M2)
        self.assertEqual(sel.get("RECENT"), [b"0"])
        self.assertEqual(self.search(M2, "RECENT"), [])

    def test_recent_new_arrival_while_selected(self):
        """RFC 3501 2.3.2/7.3.2: a message arriving while a session has the
        mailbox selected is \\Recent for that session (RECENT 1 with the
        EXISTS); SEARCH RECENT / NEW find it."""
        a = self.rawlogin("a")
        a.run("SELECT INBOX")
        B = self.login()
        self.assertEqual(self.append(B, "INBOX", make_messages()[1][1])[0], "OK")
        u, _t = a.run("NOOP")
        self.assertIn(b"* 4 EXISTS\r\n", u)
        self.assertIn(b"* 1 RECENT\r\n", u, a.transcript(6))
        u, _t = a.run("SEARCH NEW")
        self.assertEqual(u, [b"* SEARCH 4\r\n"], a.transcript(4))


# ------------------------------------------------------ mailbox management

class Mailboxes(Base):
    def test_create_delete_rename(self):
        M = self.login()
        self.ok(M.create("Projects/2024"), "CREATE")
        boxes = self.list_boxes(M)
        self.assertIn("Projects", boxes)       # parent created as needed
        self.assertIn("Projects/2024", boxes)
        self.assertIn("\\HasChildren", boxes["Projects"])
        self.assertIn("\\HasNoChildren", boxes["Projects/2024"])
        raw = make_messages()[0][1]
        self.assertEqual(self.append(M, "Projects/2024", raw)[0], "OK")
        self.ok(M.rename("Projects", "Work"), "RENAME")
        boxes = self.list_boxes(M)
        self.assertNotIn("Projects", boxes)
        self.assertNotIn("Projects/2024", boxes)
        self.assertIn("Work/2024", boxes)
        self.assertEqual(self.status(M, "Work/2024", "MESSAGES")["MESSAGES"], 1)
        self.select(M, "Work/2024")
        self.assertEqual(self.fetch(M, "1", "(BODY.PEEK[])")[1]["BODY[]"], raw)
        M.close()
        self.ok(M.delete("Work/2024"), "DELETE")
        self.assertNotIn("Work/2024", self.list_boxes(M))
        typ, data = M.select("Work/2024")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "NONEXISTENT")
        # create with a trailing delimiter declares a parent (RFC 9051 6.3.4)
        self.ok(M.create("Parent/"))
        self.assertIn("Parent", self.list_boxes(M))

    def test_delete_with_children_becomes_noselect(self):
        """RFC 9051 6.3.5: deleting a mailbox with inferiors removes its
        messages and leaves \\Noselect; a \\Noselect one with inferiors
        cannot be deleted."""
        M = self.login()
        self.ok(M.create("Projects"))
        self.ok(M.create("Projects/2024"))
        self.assertEqual(self.append(M, "Projects", make_messages()[0][1])[0], "OK")
        self.ok(M.delete("Projects"))
        boxes = self.list_boxes(M)
        self.assertIn("\\Noselect", boxes.get("Projects", set()), boxes)
        self.assertIn("Projects/2024", boxes)
        self.assertEqual(M.select("Projects")[0], "NO")
        self.assertEqual(M.delete("Projects")[0], "NO")
        self.ok(M.delete("Projects/2024"))
        self.assertNotIn("Projects/2024", self.list_boxes(M))

    def test_rename_inbox_moves_messages(self):
        M = self.login()
        self.select(M)
        raws = self.demo_raw(M)
        M.close()
        before = self.status(M, "INBOX", "UIDNEXT UIDVALIDITY")
        self.ok(M.rename("INBOX", "OldInbox"), "RENAME INBOX")
        boxes = self.list_boxes(M)
        self.assertIn("INBOX", boxes)
        self.assertIn("OldInbox", boxes)
        self.assertEqual(self.status(M, "INBOX", "MESSAGES")["MESSAGES"], 0)
        self.assertEqual(self.status(M, "OldInbox", "MESSAGES")["MESSAGES"], 3)
        self.select(M, "OldInbox")
        got = self.fetch(M, "1:*", "(BODY.PEEK[])")
        self.assertEqual(sorted(d["BODY[]"] for d in got.values()), sorted(raws.values()))
        M.close()
        # INBOX still works; its UIDs are not handed out again
        typ, data = self.append(M, "INBOX", make_messages()[0][1])
        self.assertEqual(typ, "OK", data)
        uv, uid = (int(x) for x in re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups())
        self.assertTrue(uv != before["UIDVALIDITY"] or uid >= before["UIDNEXT"],
                        "INBOX reused UID %d with the same UIDVALIDITY" % uid)

    def test_errors_with_response_codes(self):
        M = self.login()
        typ, data = M.select("NoSuchBox")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "NONEXISTENT")
        typ, data = M.append("NoSuchBox", None, None, make_messages()[0][1])
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "TRYCREATE")
        typ, data = M.create("Sent")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "ALREADYEXISTS")
        typ, data = M.create("INBOX")
        self.assertEqual(typ, "NO")
        typ, data = M.delete("NoSuchBox")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "NONEXISTENT")
        typ, data = M.rename("NoSuchBox", "Other")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "NONEXISTENT")
        typ, data = M.rename("Sent", "Trash")
        self.assertEqual(typ, "NO")
        self.assertEqual(code_of(data), "ALREADYEXISTS")
        typ, data = M.delete("INBOX")
        self.assertEqual(typ, "NO")

    def test_failed_select_deselects(self):
        """RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected (a
        command of the selected state then fails: BAD or NO, RFC 9051 6)."""
        r = self.rawlogin()
        r.run("SELECT INBOX")
        r.run("SELECT NoSuchBox", expect="NO")
        _u, t = r.run("FETCH 1 (FLAGS)", expect=None)
        self.assertRegex(t, rb"^r\d+ (BAD|NO)", r.transcript())

    def test_list_wildcards_and_special_use(self):
        M = self.login()
        self.ok(M.create("Projects/2024/Q1"))
        boxes = self.list_boxes(M, "*")
        self.assertEqual(set(boxes), T.DEMO_FOLDERS | {"Projects", "Projects/2024", "Projects/2024/Q1"})
        for name, attr in SPECIAL_USE.items():
            self.assertIn(attr, boxes[name], "%s: %r" % (name, boxes[name]))
        self.assertEqual(set(self.list_boxes(M, "%")), T.DEMO_FOLDERS | {"Projects"})
        self.assertEqual(set(self.list_boxes(M, "Projects/%")), {"Projects/2024"})
        self.assertEqual(set(self.list_boxes(M, "Projects/*")), {"Projects/2024", "Projects/2024/Q1"})
        self.assertEqual(set(self.list_boxes(M, "*/Q1")), {"Projects/2024/Q1"})
        self.assertEqual(set(self.list_boxes(M, "inbox")), {"INBOX"})
        # the reference name prefixes the pattern
        self.assertEqual(set(self.list_boxes(M, "%", ref="Projects/")), {"Projects/2024"})
        # empty pattern: the delimiter and root
        data = self.ok(M.list('""', '""'))
        self.assertEqual(len(data), 1, data)
        self.assertRegex(data[0], rb'\\Noselect.*"/" ""')

    def test_list_status_and_special_use(self):
        M = self.login()
        self.assertEqual(self.append(M, "Drafts", make_messages()[0][1], "(\\Seen \\Draft)")[0], "OK")
        self.assertEqual(self.append(M, "Drafts", make_messages()[1][1])[0], "OK")
        r = self.rawlogin()
        u, _t = r.run('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
        boxes = parse_list([x for x in u if x.startswith(b"* LIST")])
        self.assertEqual(set(boxes), T.DEMO_FOLDERS)
        st = {}
        for x in u:
            if x.startswith(b"* STATUS "):
                name = parse_value(x, len(b"* STATUS "))[0]
                st[s(name)] = status_items(x)
        self.assertEqual(set(st), T.DEMO_FOLDERS, r.transcript(14))
        for name in T.DEMO_FOLDERS:
            self.assertEqual(st[name], self.status(M, name, "MESSAGES UNSEEN SIZE"), name)
        self.assertEqual(st["Drafts"]["MESSAGES"], 2)
        self.assertEqual(st["Drafts"]["UNSEEN"], 1)
        # RFC 6154: the SPECIAL-USE selection option lists only those
        u, _t = r.run('LIST (SPECIAL-USE) "" "*"')
        boxes = parse_list(u)
        self.assertEqual({n: a & set(SPECIAL_USE.values()) for n, a in boxes.items()},
                         {n: {a} for n, a in SPECIAL_USE.items()})
        # CREATE-SPECIAL-USE (RFC 6154 3)
        r.run("CREATE Junk (USE (\\Junk))")
        self.assertIn("\\Junk", self.list_boxes(M, "Junk")["Junk"])
        _u, t = r.run("CREATE Bogus (USE (\\NoSuchUse))", expect="NO")
        self.assertIn(b"[USEATTR]", t)
        self.assertNotIn("Bogus", self.list_boxes(M))

    def test_recreated_mailbox_does_not_reuse_uids(self):
        """RFC 9051 6.3.4: a mailbox re-created under a deleted one's name
        has a new UIDVALIDITY (or UIDs above the old ones)."""
        M = self.login()
        self.ok(M.create("Tmp"))
        typ, data = self.append(M, "Tmp", make_messages()[0][1])
        uv1, uid1 = (int(x) for x in re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups())
        self.ok(M.delete("Tmp"))
        self.ok(M.create("Tmp"))
        typ, data = self.append(M, "Tmp", make_messages()[0][1])
        uv2, uid2 = (int(x) for x in re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups())
        self.assertTrue(uv2 != uv1 or uid2 > uid1, (uv1, uid1, uv2, uid2))

    def test_subscribe_lsub(self):
        M = self.login()
        data = self.ok(M.lsub('""', "*"))
        self.assertEqual(set(parse_list(data)), DEMO_SUBSCRIBED)
        self.ok(M.create("Projects"))
        self.ok(M.subscribe("Projects"))
        self.ok(M.unsubscribe("Sent"))
        data = self.ok(M.lsub('""', "*"))
        self.assertEqual(set(parse_list(data)), DEMO_SUBSCRIBED - {"Sent"} | {"Projects"})
        # a subscription outlives its mailbox (RFC 9051 6.3.7)
        self.ok(M.delete("Projects"))
        data = self.ok(M.lsub('""', "*"))
        self.assertIn("Projects", parse_list(data))
        # LIST (SUBSCRIBED) marks it \NonExistent (RFC 5258 3.1)
        typ, dat = M._simple_command("LIST", "(SUBSCRIBED)", '""', "*")
        data = self.ok(M._untagged_response(typ, dat, "LIST"), "LIST (SUBSCRIBED)")
        boxes = parse_list(data)
        self.assertEqual(set(boxes), DEMO_SUBSCRIBED - {"Sent"} | {"Projects"})
        self.assertIn("\\NonExistent", boxes["Projects"])
        self.assertIn("\\Subscribed", boxes["Projects"])
        self.ok(M.unsubscribe("Projects"))
        self.assertNotIn("Projects", parse_list(self.ok(M.lsub('""', "*"))))

    def test_namespace(self):
        M = self.login()
        data = self.ok(M.namespace())
        self.assertEqual(data, [b'(("" "/")) NIL NIL'])

    def test_modified_utf7_names(self):
        M = self.login()
        self.assertEqual(mutf7("Entwürfe"), "Entw&APw-rfe")
        self.assertEqual(mutf7("日本語"), "&ZeVnLIqe-")
        names = ["Entwürfe", "日本語", "Ärger/Übersicht", "Tom & Jerry"]
        for n in names:
            enc = mutf7(n)
            self.ok(M.create('"%s"' % enc), "CREATE %s" % enc)
        boxes = self.list_boxes(M)
        for n in names:
            self.assertIn(mutf7(n), boxes)
        self.assertIn(mutf7("Ärger"), boxes)
        raw = make_messages()[1][1]
        self.assertEqual(self.append(M, '"%s"' % mutf7("Ärger/Übersicht"), raw)[0], "OK")
        self.select(M, '"%s"' % mutf7("Ärger/Übersicht"))
        self.assertEqual(self.fetch(M, "1", "(BODY.PEEK[])")[1]["BODY[]"], raw)
        M.close()
        self.ok(M.rename('"%s"' % mutf7("日本語"), '"%s"' % mutf7("Ελληνικά")))
        boxes = self.list_boxes(M)
        self.assertNotIn(mutf7("日本語"), boxes)
        self.assertIn(mutf7("Ελληνικά"), boxes)
        self.assertEqual(set(self.list_boxes(M, '"%s"' % mutf7("Ärger/%"))),
                         {mutf7("Ärger/Übersicht")})
        self.ok(M.delete('"%s"' % mutf7("Ελληνικά")))
        self.assertNotIn(mutf7("Ελληνικά"), self.list_boxes(M))


# ------------------------------------------------------------ IMAP4rev2

class Rev2(Base):
    def test_enable_rev2_select_search(self):
        r = self.rawlogin()
        u, _t = r.run("ENABLE IMAP4rev2")
        self.assertIn(b"* ENABLED IMAP4REV2\r\n", [x.upper() for x in u], u)
        u, t = r.run("SELECT INBOX")
        self.assertEqual([x for x in u if re.match(rb"\* \d+ RECENT", x)], [],
                         "RECENT after ENABLE IMAP4rev2:\n" + r.transcript())
        self.assertIn(b"* 3 EXISTS\r\n", u)
        # RFC 9051 6.3.2: SELECT MUST return a LIST response with the name
        lists = parse_list([x for x in u if x.startswith(b"* LIST ")])
        self.assertEqual(list(lists), ["INBOX"], "no LIST in rev2 SELECT:\n" + r.transcript())
        # SEARCH answers ESEARCH
        u, _t = r.run("SEARCH FLAGGED")
        self.assertEqual([x for x in u if x.startswith(b"* SEARCH")], [], u)
        es = [x for x in u if x.startswith(b"* ESEARCH")]
        self.assertEqual(len(es), 1, u)
        tag, is_uid, d = parse_esearch(es[0])
        self.assertEqual((tag, is_uid, d), ("r%d" % r.n, False, {"ALL": "2"}))
        u, _t = r.run("UID SEARCH UNSEEN")
        tag, is_uid, d = parse_esearch([x for x in u if x.startswith(b"* ESEARCH")][0])
        self.assertTrue(is_uid)
        self.assertEqual(expand_set(d["ALL"]), [2, 3])
        u, _t = r.run("SEARCH KEYWORD NoSuchKeyword")
        es = [x for x in u if x.startswith(b"* ESEARCH")]
        self.assertEqual(len(es), 1, "no ESEARCH for an empty rev2 SEARCH: %r" % u)
        self.assertEqual(parse_esearch(es[0])[2], {})

    def test_rev2_closed_on_reselect(self):
        """RFC 9051 6.3.2: SELECT while selected sends OK [CLOSED] first."""
        r = self.rawlogin()
        r.run("ENABLE IMAP4rev2")
        r.run("SELECT INBOX")
        u, _t = r.run("SELECT Sent")
        self.assertTrue(u and re.match(rb"\* OK \[CLOSED\]", u[0]),
                        "no leading * OK [CLOSED]:\n" + r.transcript())

    def test_rev2_utf8_mailbox_names(self):
        rev1 = self.login()
        self.ok(rev1.create(mutf7("日本語")))
        r = self.rawlogin()
        r.run("ENABLE IMAP4rev2")
        r.run('CREATE "Entwürfe"')     # RawClient sends str as UTF-8
        u, _t = r.run('LIST "" "*"')
        boxes = parse_list(u)
        self.assertIn("Entwürfe", boxes, r.transcript())
        self.assertIn("日本語", boxes, r.transcript())
        self.assertNotIn(mutf7("日本語"), boxes)
        u, _t = r.run('STATUS "Entwürfe" (MESSAGES)')
        self.assertTrue(any(b"MESSAGES 0" in x for x in u), u)
        r.run('SELECT "日本語"')
        # the rev1 session sees modified UTF-7
        self.assertIn(mutf7("Entwürfe"), self.list_boxes(rev1))


# --------------------------------------------------- two sessions at once

class Concurrent(Base):
    def selected_raw(self, prefix="a"):
        a = self.rawlogin(prefix)
        a.run("SELECT INBOX")
        return a

    def test_noop_shows_exists_fetch_expunge(self):
        a = self.selected_raw()
        B = self.login()
        self.select(B)
        # APPEND by B -> * 4 EXISTS
        self.assertEqual(self.append(B, "INBOX", make_messages()[0][1])[0], "OK")
        u, _t = a.run("NOOP")
        self.assertIn(b"* 4 EXISTS\r\n", u, a.transcript())
        # STORE by B -> * 1 FETCH (FLAGS (...))
        self.ok(B.store("1", "+FLAGS", "(\\Flagged $Seen2)"))
        u, _t = a.run("NOOP")
        got = merge_fetch(parse_fetch_stream(b"".join(x for x in u if b" FETCH " in x)))
        self.assertIn(1, got, a.transcript())
        self.assertEqual(flagset(got[1]["FLAGS"]) - {"\\Recent"},
                         {"\\Seen", "\\Flagged", "$Seen2"})
        # EXPUNGE by B -> * 2 EXPUNGE
        self.ok(B.store("2", "+FLAGS", "(\\Deleted)"))
        B.expunge()
        u, _t = a.run("NOOP")
        exp = [int(m.group(1)) for x in u for m in [re.match(rb"\* (\d+) EXPUNGE", x)] if m]
        self.assertEqual(exp, [2], a.transcript())
        u, _t = a.run("FETCH 1:* (UID)")
        got = merge_fetch(parse_fetch_stream(b"".join(u)))
        self.assertEqual([d["UID"] for _k, d in sorted(got.items())], [1, 3, 4])

    def test_several_expunges_are_numbered_consistently(self):
        a = self.selected_raw()
        B = self.login()
        self.select(B)
        for _k, raw, _d, _f in make_messages()[:3]:
            self.append(B, "INBOX", raw)
        u, _t = a.run("NOOP")
        self.assertIn(b"* 6 EXISTS\r\n", u)
        self.ok(B.store("1,3,4,6", "+FLAGS.SILENT", "(\\Deleted)"))
        B.expunge()
        u, _t = a.run("NOOP")
        exp = [int(m.group(1)) for x in u for m in [re.match(rb"\* (\d+) EXPUNGE", x)] if m]
        self.assertEqual(sim_expunge([1, 2, 3, 4, 5, 6], exp), [2, 5], a.transcript())

    def test_no_expunge_during_fetch_store_search(self):
        """RFC 9051 7.5.1: no EXPUNGE while answering FETCH, STORE or SEARCH;
        sequence numbers stay as A knows them until a NOOP."""
        a = self.selected_raw()
        B = self.login()
        self.select(B)
        self.ok(B.store("2", "+FLAGS", "(\\Deleted)"))
        typ, data = B.expunge()
        self.assertEqual(data, [b"2"])
        u, t = a.run("FETCH 1:3 (UID FLAGS)", expect=None)
        self.assertRegex(t, rb"^a\d+ (OK|NO)")
        self.assertEqual([x for x in u if b"EXPUNGE" in x], [],
                         "EXPUNGE during FETCH:\n" + a.transcript())
        got = merge_fetch(parse_fetch_stream(b"".join(x for x in u if b" FETCH " in x)))
        self.assertEqual(got.get(1, {}).get("UID"), 1, a.transcript())
        self.assertEqual(got.get(3, {}).get("UID"), 3, a.transcript())
        u, t = a.run("STORE 3 +FLAGS (\\Answered)", expect=None)
        self.assertEqual([x for x in u if b"EXPUNGE" in x], [],
                         "EXPUNGE during STORE:\n" + a.transcript())
        u, t = a.run("SEARCH ALL", expect=None)
        self.assertEqual([x for x in u if b"EXPUNGE" in x], [],
                         "EXPUNGE during SEARCH:\n" + a.transcript())
        res = [int(x) for ln in u if ln.startswith(b"* SEARCH") for x in ln.split()[2:]]
        self.assertTrue({1, 3} <= set(res) <= {1, 2, 3}, a.transcript())
        u, _t = a.run("NOOP")
        exp = [int(m.group(1)) for x in u for m in [re.match(rb"\* (\d+) EXPUNGE", x)] if m]
        self.assertEqual(exp, [2], a.transcript())
        u, _t = a.run("FETCH 1:* (UID FLAGS)")
        got = merge_fetch(parse_fetch_stream(b"".join(u)))
        self.assertEqual([d["UID"] for _k, d in sorted(got.items())], [1, 3])
        self.assertIn("\\Answered", flagset(got[2]["FLAGS"]))

    def check_fetched_bodies(self, u, raws, session):
        """Every BODY[] in FETCH responses u is the real message of its UID
        (RFC 9051 2.3.1.1: a UID names one immutable message)."""
        got = merge_fetch(parse_fetch_stream(b"".join(x for x in u if b" FETCH " in x)))
        for seq, d in got.items():
            if "BODY[]" in d:
                self.assertIn("UID", d, session.transcript(10))
                self.assertTrue(d["BODY[]"] == raws[d["UID"]],
                                "FETCH %d returned a BODY[] that is not UID %d's message "
                                "(%d octets, starting %r)\n%s"
                                % (seq, d["UID"], len(d["BODY[]"]), d["BODY[]"][:40],
                                   session.transcript(10)[:3000]))
        return got

    def test_fetch_body_of_message_expunged_elsewhere(self):
        """A FETCH of a message that another session expunged (EXPUNGE not
        yet sent) may omit it or answer NO [EXPUNGEISSUED], but never
        returns made-up octets as its body."""
        a = self.selected_raw()
        B = self.login()
        self.select(B)
        raws = self.demo_raw(B)
        self.ok(B.store("2", "+FLAGS", "(\\Deleted)"))
        B.expunge()
        for items in ("(UID BODY.PEEK[])", "(UID FLAGS BODY.PEEK[])", "(BODY.PEEK[] UID)"):
            for seqs in ("2", "1:3"):
                u, t = a.run("FETCH %s %s" % (seqs, items), expect=None)
                self.assertRegex(t, rb"^a\d+ (OK|NO)")
                self.assertEqual([x for x in u if b"EXPUNGE" in x], [])
                got = self.check_fetched_bodies(u, raws, a)
                if seqs == "1:3":
                    self.assertEqual(got[1].get("BODY[]"), raws[1])
                    self.assertEqual(got[3].get("BODY[]"), raws[3])

    def test_fetch_body_after_mailbox_deleted_elsewhere(self):
        """The selected mailbox is deleted by another session: whatever the
        server does (BYE, NO, or still serving the old messages), it does
        not return made-up octets as a message body."""
        B = self.login()
        raw = make_messages()[0][1]
        self.assertEqual(self.append(B, "Sent", raw)[0], "OK")
        c = self.rawlogin("c")
        c.run("SELECT Sent")
        self.ok(B.delete("Sent"))
        try:
            c.run("NOOP", expect=None)
            u, _t = c.run("FETCH 1:* (UID BODY.PEEK[])", expect=None)
        except T.ConnectionClosed:
            return                                  # BYE: fine
        self.check_fetched_bodies(u, {1: raw}, c)

    def test_selected_mailbox_renamed_elsewhere(self):
        """The memstore keeps a selected mailbox's handle across a RENAME
        (memstore.h): the session must then go on getting that mailbox's
        updates (RFC 9051 5.2, 7.4.1, 7.5.1) and none of another mailbox
        that took the old name. (A BYE would also be acceptable.)"""
        B = self.login()
        msgs = make_messages()
        self.assertEqual(self.append(B, "Trash", msgs[0][1])[0], "OK")
        c = self.rawlogin("c")
        c.run("SELECT Trash")
        try:
            self.ok(B.rename("Trash", "Bin"))
            self.assertEqual(self.append(B, "Bin", msgs[1][1])[0], "OK")
            u, _t = c.run("NOOP")
            self.assertIn(b"* 2 EXISTS\r\n", u,
                          "no EXISTS for an APPEND to the renamed selected mailbox\n"
                          + c.transcript(6))
            self.ok(B.create("Trash"))
            self.assertEqual(self.append(B, "Trash", msgs[2][1])[0], "OK")
            u, _t = c.run("NOOP")
            self.assertEqual([x for x in u if b"EXISTS" in x or (b"RECENT" in x and x != b"* 0 RECENT\r\n")], [],
                             "updates of the new 'Trash' sent to the session on the renamed one\n"
                             + c.transcript(6))
            self.select(B, "Bin")
            self.ok(B.store("1", "+FLAGS", "(\\Flagged)"))
            self.ok(B.store("2", "+FLAGS", "(\\Deleted)"))
            B.expunge()
            u, _t = c.run("NOOP")
            exp = [int(m.group(1)) for x in u for m in [re.match(rb"\* (\d+) EXPUNGE", x)] if m]
            self.assertEqual(sim_expunge([1, 2], exp), [1], c.transcript(8))
            u, _t = c.run("FETCH 1:* (UID FLAGS)")
            got = merge_fetch(parse_fetch_stream(b"".join(u)))
            self.assertEqual([d["UID"] for d in got.values()], [1], c.transcript(8))
            self.assertIn("\\Flagged", flagset(got[1]["FLAGS"]))
        except T.ConnectionClosed:
            pass                                    # BYE: fine

    def test_copy_and_move_into_selected_mailbox(self):
        a = self.rawlogin("a")
        a.run("SELECT Archive")
        B = self.login()
        self.select(B)
        raws = self.demo_raw(B)
        self.ok(B.copy("1", "Archive"))
        u, _t = a.run("NOOP")
        self.assertIn(b"* 1 EXISTS\r\n", u, a.transcript(6))
        typ, data = B.uid("MOVE", "2", "Archive")
        self.assertEqual(typ, "OK", data)
        u, _t = a.run("NOOP")
        self.assertIn(b"* 2 EXISTS\r\n", u, a.transcript(6))
        u, _t = a.run("FETCH 1:2 (FLAGS BODY.PEEK[])")
        got = merge_fetch(parse_fetch_stream(b"".join(u)))
        self.assertEqual(got[1]["BODY[]"], raws[1])
        self.assertEqual(got[2]["BODY[]"], raws[2])
        self.assertIn("\\Seen", flagset(got[1]["FLAGS"]))
        self.assertIn("\\Flagged", flagset(got[2]["FLAGS"]))

    def test_rename_inbox_while_selected_elsewhere(self):
        """RFC 9051 6.3.6: RENAME INBOX empties INBOX; a session that has
        INBOX selected learns of it through EXPUNGE responses."""
        a = self.selected_raw()
        B = self.login()
        self.ok(B.rename("INBOX", "Old"))
        self.assertEqual(self.append(B, "INBOX", make_messages()[0][1])[0], "OK")
        u, _t = a.run("NOOP")
        exp = [int(m.group(1)) for x in u for m in [re.match(rb"\* (\d+) EXPUNGE", x)] if m]
        self.assertEqual(sim_expunge([1, 2, 3], exp), [], a.transcript(8))
        self.assertIn(b"* 1 EXISTS\r\n", u, a.transcript(8))
        u, _t = a.run("FETCH 1:* (UID)")
        got = merge_fetch(parse_fetch_stream(b"".join(u)))
        self.assertEqual([d["UID"] for d in got.values()], [4])

    def test_idle_receives_append_within_100ms(self):
        a = self.selected_raw()
        B = self.login()
        a.c.send("i1 IDLE\r\n")
        cont = a.c.readline()
        self.assertTrue(cont.startswith(b"+"), cont)
        typ, data = self.append(B, "INBOX", make_messages()[0][1])
        t0 = time.monotonic()
        self.assertEqual(typ, "OK", data)
        line = a.c.readline(timeout=2.0)
        while not line.endswith(b" EXISTS\r\n"):
            self.assertTrue(line.startswith(b"* "), "unexpected during IDLE: %r" % line)
            line = a.c.readline(timeout=2.0)
        latency = time.monotonic() - t0
        self.assertEqual(line, b"* 4 EXISTS\r\n")
        self.assertLess(latency, 0.1, "EXISTS %.3f s after the APPEND completed" % latency)
        # flag changes and expunges arrive in IDLE too
        self.select(B)
        self.ok(B.store("3", "+FLAGS", "(\\Deleted)"))
        seen_fetch = None
        line = a.c.readline(timeout=2.0)
        while b" FETCH " not in line:
            line = a.c.readline(timeout=2.0)
        seen_fetch = merge_fetch(parse_fetch_stream(line))
        self.assertIn("\\Deleted", flagset(seen_fetch[3]["FLAGS"]))
        B.expunge()
        line = a.c.readline(timeout=2.0)
        while not line.endswith(b" EXPUNGE\r\n"):
            line = a.c.readline(timeout=2.0)
        self.assertEqual(line, b"* 3 EXPUNGE\r\n")
        a.c.send("DONE\r\n")
        _u, t = a.c.read_until_tagged("i1")
        self.assertTrue(t.startswith(b"i1 OK"), t)


# ------------------------------------------------------------- APPENDLIMIT

class AppendLimit(Base):
    LIMIT = 1024 * 1024

    def setUp(self):
        self.port = T.free_port()
        self.daemon = self.start_daemon({
            "imap.port": self.port,
            "imap.address": T.LOOPBACK,
            "limits.auth_fail_delay": "200ms",
            "limits.max_append": "1m",
        })

    def test_appendlimit_and_toobig(self):
        """RFC 7889: APPENDLIMIT=<n> shows the configured limit; a larger
        APPEND is refused with NO [TOOBIG] and the session goes on."""
        M = self.login()
        caps = {c.upper() for c in M.capabilities}
        self.assertIn("APPENDLIMIT=%d" % self.LIMIT, caps)
        big = b"Subject: big\r\n\r\n" + b"x" * 76 + b"\r\n"
        big = big + (b"y" * 76 + b"\r\n") * (self.LIMIT // 78 + 10)
        self.assertGreater(len(big), self.LIMIT)
        typ, data = self.append(M, "INBOX", big)
        self.assertEqual(typ, "NO", data)
        self.assertEqual(code_of(data), "TOOBIG")
        self.assertEqual(self.status(M, "INBOX", "MESSAGES")["MESSAGES"], 3)
        ok = big[:self.LIMIT - 1000]
        typ, data = self.append(M, "INBOX", ok)
        self.assertEqual(typ, "OK", data)
        self.select(M)
        self.assertEqual(self.fetch(M, "4", "(BODY.PEEK[])")[4]["BODY[]"], ok)


# -------------------------------------------------------------------- curl

class Curl(Base):
    def setUp(self):
        if not shutil.which(T.CURL):
            self.skipTest("curl not found: %s" % T.CURL)
        super().setUp()

    def curl(self, path, *args):
        url = "imap://demo:demo@127.0.0.1:%d%s" % (self.port, path)
        argv = [T.CURL, "-q", "-s", "-S", "--noproxy", "*", "--max-time", "10",
                "--connect-timeout", "5"] + list(args) + [url]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")

    def test_curl_fetch_by_uid(self):
        M = self.login()
        self.select(M)
        raw2 = self.demo_raw(M)[2]
        rc, out, err = self.curl("/INBOX;UID=2")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, raw2)

    def test_curl_append(self):
        raw = make_messages()[3][1]
        path = self.daemon.path("upload.eml")
        with open(path, "wb") as f:
            f.write(raw)
        rc, out, err = self.curl("/INBOX", "-T", path)
        self.assertEqual(rc, 0, err)
        M = self.login()
        sel = self.select(M)
        self.assertEqual(sel.get("EXISTS"), [b"4"])
        got = self.fetch(M, "4", "(BODY.PEEK[] RFC822.SIZE)")
        self.assertEqual(got[4]["BODY[]"], raw)
        self.assertEqual(got[4]["RFC822.SIZE"], len(raw))


if __name__ == "__main__":
    T.main()
