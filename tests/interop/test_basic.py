#!/usr/bin/env python3
"""Interop: the example daemon driven by Python's imaplib and by a raw socket
client for the protocol details imaplib cannot express."""

import base64
import imaplib
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402

FAIL_LINE = b"%s NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
LIST_RE = re.compile(rb'^\* (LIST|LSUB) \(([^)]*)\) ("(?:[^"\\]|\\.)*"|NIL) (.*)\r\n$')


def b64(data):
    return base64.b64encode(data).decode()


def unquote(name):
    if isinstance(name, bytes):
        name = name.decode()
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        return re.sub(r'\\(.)', r'\1', name[1:-1])
    return name


def parse_list_lines(lines, kind=b"LIST"):
    """[(flags, delimiter, name)] of the * LIST lines; fails on anything
    else in between."""
    out = []
    for ln in lines:
        m = LIST_RE.match(ln)
        if not m or m.group(1) != kind:
            raise AssertionError("not a %s line: %r" % (kind, ln))
        out.append((m.group(2).decode(), unquote(m.group(3)) if m.group(3) != b"NIL" else None,
                    unquote(m.group(4))))
    return out


def parse_imaplib_list(data):
    """imaplib's LIST data: [b'(\\HasNoChildren) "/" INBOX', ...]."""
    out = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):  # name sent as a literal
            head, lit = item
            m = re.match(rb'^\(([^)]*)\) ("(?:[^"\\]|\\.)*"|NIL) \{\d+\}$', head)
            assert m, item
            out.append((m.group(1).decode(), unquote(m.group(2)), lit.decode()))
            continue
        m = re.match(rb'^\(([^)]*)\) ("(?:[^"\\]|\\.)*"|NIL) (.*)$', item)
        if not m:
            raise AssertionError("unparsable LIST data %r" % item)
        out.append((m.group(1).decode(), unquote(m.group(2)), unquote(m.group(3))))
    return out


class Base(T.DaemonTestCase):
    GREETING = "Interop test server ready"
    # SHARE: the class's tests that need nothing but the base config use one
    # daemon (started on first use, restarted if it died, stopped at the end
    # of the class). Only for classes whose tests fail no logins: failed
    # logins slow down later ones from the same address.
    SHARE = False
    _shared = None

    @classmethod
    def tearDownClass(cls):
        if cls._shared is not None:
            cls._shared.cleanup()
            cls._shared = None

    def base_overrides(self, port):
        return {
            "imap.port": port,
            "imap.address": T.LOOPBACK,
            "imap.greeting": self.GREETING,
            "limits.auth_fail_delay": "200ms",
        }

    def setUp(self):
        self.port = T.free_port()
        self.overrides = self.base_overrides(self.port)

    def start(self, **extra):
        cls = type(self)
        if self.SHARE and not extra and self.overrides == self.base_overrides(self.port):
            if cls._shared is None or not cls._shared.running():
                if cls._shared is not None:
                    cls._shared.cleanup()
                cls._shared = T.Daemon()
                cls._shared.start(self.overrides)
            self.daemon = cls._shared
            self.port = self.daemon.port
            return self.daemon
        ov = dict(self.overrides)
        ov.update(extra)
        self.daemon = self.start_daemon(ov)
        return self.daemon

    def client(self):
        c = self.raw(self.port)
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK "), g)
        return c


class Greeting(Base):
    SHARE = True

    def test_greeting_carries_capabilities(self):
        """The greeting has [CAPABILITY ...] (mbsync never asks) with the
        advertised set, and the configured text."""
        self.start()
        c = self.raw(self.port)
        g = c.greeting()
        caps, text = T.parse_greeting_caps(g)
        self.assertIsNotNone(caps, "greeting without [CAPABILITY ...]: %r" % g)
        self.assertTrue(T.REQUIRED_CAPS <= caps, "missing %s in %r"
                        % (T.REQUIRED_CAPS - caps, g))
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertIn("STARTTLS", caps)  # the embedded default has a certificate
        self.assertEqual(text, self.GREETING)

    def test_capability_command_matches_greeting(self):
        self.start()
        c = self.raw(self.port)
        gcaps, _ = T.parse_greeting_caps(c.greeting())
        unt, tagged = c.command("c1", "CAPABILITY")
        self.assertTaggedOK(tagged, "c1")
        self.assertEqual(len(unt), 1, unt)
        self.assertRegex(unt[0], rb"^\* CAPABILITY [^\r\n]+\r\n$")
        caps = {w.upper() for w in unt[0].decode().split()[2:]}
        self.assertEqual(caps, gcaps)

    def test_imaplib_capabilities(self):
        self.start()
        m = self.imap(self.port)
        self.assertTrue(m.welcome.startswith(b"* OK [CAPABILITY "), m.welcome)
        self.assertEqual(m.state, "NONAUTH")
        self.assertTrue(T.REQUIRED_CAPS <= set(m.capabilities),
                        "imaplib sees %r" % (m.capabilities,))

    def test_default_greeting_has_no_version(self):
        del self.overrides["imap.greeting"]
        self.start()
        caps, text = T.parse_greeting_caps(self.raw(self.port).greeting())
        self.assertIsNotNone(caps)
        self.assertTrue(text, "empty greeting text")
        self.assertNotRegex(text, r"\d+\.\d+", "default greeting leaks a version")

    def test_embedded_default_listens_on_loopback_only(self):
        """Without -c: plaintext and TLS listeners, both on 127.0.0.1 only."""
        tls_port = T.free_port()
        d = self.start_daemon({"imap.port": self.port, "imaps.port": tls_port})
        d.wait_listening([self.port, tls_port], timeout=10)
        self.assertEqual(sorted(d.listening()),
                         sorted([("127.0.0.1", self.port, "imap", "enabled"),
                                 ("127.0.0.1", tls_port, "imaps", "enabled")]),
                         d.log())
        c = self.raw(self.port)
        self.assertTrue(c.greeting().startswith(b"* OK [CAPABILITY "))
        T.login(c)


class Login(Base):
    def test_imaplib_login_good(self):
        self.start()
        m = self.imap(self.port)
        typ, data = m.login(T.DEMO_USER, T.DEMO_PASS)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(m.state, "AUTH")
        self.assertEqual(m.noop()[0], "OK")

    def test_login_bad_is_delayed_then_good_succeeds(self):
        self.start(**{"limits.auth_fail_delay": "500ms"})
        c = self.client()
        t0 = time.monotonic()
        unt, tagged = c.command("a1", "LOGIN demo wrong-password", timeout=5)
        elapsed = time.monotonic() - t0
        self.assertEqual(unt, [])
        self.assertLine(tagged, FAIL_LINE % b"a1")
        self.assertGreaterEqual(elapsed, 0.48, "failure answered after %.3fs" % elapsed)
        # 2 s is the default: the configured 500ms must be the one applied.
        self.assertLess(elapsed, 1.5, "failure answered after %.3fs" % elapsed)
        unt, tagged = c.command("a2", "LOGIN demo demo")
        self.assertTaggedOK(tagged, "a2")
        unt, tagged = c.command("a3", 'LIST "" INBOX')
        self.assertTaggedOK(tagged, "a3")
        self.assertEqual(len(unt), 1, unt)

    def test_failed_login_delay_grows_per_address(self):
        """POLICY: the delay grows per remote address (capped): repeated
        failures from 127.0.0.1, on new connections too, wait longer than
        the first; another address starts again at the base delay."""
        self.start(**{"limits.auth_fail_delay": "200ms"})
        times = []
        for conn in range(2):
            c = self.client()
            for i in range(2):
                tag = "f%d%d" % (conn, i)
                t0 = time.monotonic()
                _u, tagged = c.command(tag, "LOGIN demo wrong", timeout=15)
                times.append(time.monotonic() - t0)
                self.assertLine(tagged, FAIL_LINE % tag.encode())
            c.close()
        self.assertGreaterEqual(times[0], 0.19, times)
        self.assertGreater(times[3], times[0] * 1.5,
                           "delays did not grow: %s" % ["%.3f" % t for t in times])
        other = self.raw(self.port, source="127.0.0.2")
        other.greeting()
        t0 = time.monotonic()
        _u, tagged = other.command("o1", "LOGIN demo wrong", timeout=15)
        t_other = time.monotonic() - t0
        self.assertLine(tagged, FAIL_LINE % b"o1")
        self.assertLess(t_other, times[3], "another address inherited the delay")

    def test_imaplib_login_bad_then_good(self):
        self.start()
        m = self.imap(self.port)
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            m.login("demo", "nope")
        self.assertIn("AUTHENTICATIONFAILED", str(cm.exception))
        self.assertEqual(m.state, "NONAUTH")
        self.assertEqual(m.login("demo", "demo")[0], "OK")
        self.assertEqual(m.state, "AUTH")

    def test_unknown_user_gets_same_answer(self):
        self.start()
        c = self.client()
        _u, tagged = c.command("a1", "LOGIN nosuchuser demo")
        self.assertLine(tagged, FAIL_LINE % b"a1")

    def test_any_atom_tag_and_lowercase_commands(self):
        """imapflow's hex counter tags, lower-case command names."""
        self.start()
        c = self.client()
        for tag, cmd in (("1A", "noop"), ("2F", "capability"), ("A", "Login demo demo"),
                         ("1B", 'list "" inbox')):
            unt, tagged = c.command(tag, cmd)
            self.assertTaggedOK(tagged, tag)
        self.assertEqual([(d, n) for (_f, d, n) in parse_list_lines(unt)], [("/", "INBOX")])

    def test_login_with_literals(self):
        self.start()
        c = self.client()
        c.send("a1 LOGIN {4}\r\n")
        cont = c.readline()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send("demo {4}\r\n")
        cont = c.readline()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send("demo\r\n")
        unt, tagged = c.read_until_tagged("a1")
        self.assertTaggedOK(tagged, "a1")

    def test_login_with_nonsync_literal(self):
        """LITERAL+ is advertised: {n+} needs no continuation."""
        self.start()
        c = self.client()
        c.send("a1 LOGIN {4+}\r\ndemo {4+}\r\ndemo\r\n")
        unt, tagged = c.read_until_tagged("a1")
        self.assertEqual([ln for ln in unt if ln.startswith(b"+")], [], unt)
        self.assertTaggedOK(tagged, "a1")

    def test_second_login_refused(self):
        self.start()
        c = self.client()
        T.login(c)
        _u, tagged = c.command("a2", "LOGIN demo demo")
        self.assertRegex(tagged, rb"^a2 (BAD|NO) ")

    def test_passwords_never_logged(self):
        d = self.new_daemon()
        users = d.write_file("users", "carol:{PLAIN}S3cret-Carol-Pw\n")
        ov = dict(self.overrides, users=users)
        ov["log.level"] = "debug"
        d.start(ov)
        c = self.client()
        _u, t = c.command("a1", "LOGIN carol Wr0ng-Carol-Pw")
        self.assertLine(t, FAIL_LINE % b"a1")
        ir = b64(b"\0carol\0S3cret-Carol-Pw")
        _u, t = c.command("a2", "AUTHENTICATE PLAIN " + ir)
        self.assertTaggedOK(t, "a2")
        c2 = self.client()
        _u, t = c2.command("b1", "LOGIN carol S3cret-Carol-Pw")
        self.assertTaggedOK(t, "b1")
        c.command("a3", "LOGOUT")
        c2.command("b2", "LOGOUT")
        log = d.log()
        self.assertIn("carol", log, "debug log shows no session at all")
        for secret in ("S3cret-Carol-Pw", "Wr0ng-Carol-Pw", ir, ir.rstrip("=")):
            self.assertNotIn(secret, log)


class Authenticate(Base):
    def test_plain_sasl_ir(self):
        self.start()
        c = self.client()
        unt, tagged = c.command("a1", "AUTHENTICATE PLAIN " + b64(b"\0demo\0demo"))
        self.assertEqual([ln for ln in unt if ln.startswith(b"+")], [],
                         "SASL-IR advertised, yet a continuation was sent")
        self.assertTaggedOK(tagged, "a1")
        unt, tagged = c.command("a2", 'LIST "" INBOX')
        self.assertTaggedOK(tagged, "a2")
        self.assertEqual([n for (_f, _d, n) in parse_list_lines(unt)], ["INBOX"])

    def test_plain_authzid_equal_to_authcid(self):
        """neomutt sends user\\0user\\0password."""
        self.start()
        c = self.client()
        _u, tagged = c.command("a1", "AUTHENTICATE PLAIN " + b64(b"demo\0demo\0demo"))
        self.assertTaggedOK(tagged, "a1")

    def test_plain_sasl_ir_bad_password(self):
        self.start()
        c = self.client()
        _u, tagged = c.command("a1", "AUTHENTICATE PLAIN " + b64(b"\0demo\0bad"))
        self.assertLine(tagged, FAIL_LINE % b"a1")
        _u, tagged = c.command("a2", "AUTHENTICATE PLAIN " + b64(b"\0demo\0demo"))
        self.assertTaggedOK(tagged, "a2")

    def test_plain_without_ir_via_imaplib(self):
        """imaplib's authenticate(): AUTHENTICATE PLAIN, waits for '+', sends
        the base64 response (imapflow does the same)."""
        self.start()
        m = self.imap(self.port)
        challenges = []

        def cb(challenge):
            challenges.append(challenge)
            return b"\0demo\0demo"
        typ, data = m.authenticate("PLAIN", cb)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(challenges, [b""])
        self.assertEqual(m.state, "AUTH")
        typ, data = m.list()
        self.assertEqual(typ, "OK")

    def test_plain_without_ir_raw(self):
        self.start()
        c = self.client()
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        cont = c.readline()
        self.assertRegex(cont, rb"^\+ ?\r\n$")
        c.send(b64(b"\0demo\0demo") + "\r\n")
        _u, tagged = c.read_until_tagged("a1")
        self.assertTaggedOK(tagged, "a1")

    def test_login_mechanism(self):
        self.start()
        c = self.client()
        c.send("a1 AUTHENTICATE LOGIN\r\n")
        for answer in (b"demo", b"demo"):
            cont = c.readline()
            m = re.match(rb"^\+ ?([A-Za-z0-9+/=]*)\r\n$", cont)
            self.assertTrue(m, "not a base64 continuation: %r" % cont)
            base64.b64decode(m.group(1), validate=True)
            c.send(b64(answer) + "\r\n")
        _u, tagged = c.read_until_tagged("a1")
        self.assertTaggedOK(tagged, "a1")

    def test_login_mechanism_with_initial_response(self):
        """AUTHENTICATE LOGIN <b64 user> (curl with SASL-IR): only the
        password is asked for."""
        self.start()
        c = self.client()
        c.send("a1 AUTHENTICATE LOGIN %s\r\n" % b64(b"demo"))
        cont = c.readline()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send(b64(b"demo") + "\r\n")
        unt, tagged = c.read_until_tagged("a1")
        self.assertEqual(unt, [])
        self.assertTaggedOK(tagged, "a1")

    def test_login_mechanism_via_imaplib(self):
        self.start()
        m = self.imap(self.port)
        answers = [b"demo", b"demo"]
        typ, data = m.authenticate("LOGIN", lambda ch: answers.pop(0))
        self.assertEqual(typ, "OK", data)
        self.assertEqual(answers, [])

    def test_cancel(self):
        self.start()
        c = self.client()
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        self.assertTrue(c.readline().startswith(b"+"))
        c.send("*\r\n")
        unt, tagged = c.read_until_tagged("a1")
        self.assertEqual(unt, [])
        self.assertRegex(tagged, rb"^a1 BAD[ \r]")
        # still not logged in, and the session goes on
        _u, tagged = c.command("a2", 'LIST "" "*"')
        self.assertRegex(tagged, rb"^a2 (BAD|NO) ")
        _u, tagged = c.command("a3", "LOGIN demo demo")
        self.assertTaggedOK(tagged, "a3")

    def test_cancel_login_mechanism_midway(self):
        self.start()
        c = self.client()
        c.send("a1 AUTHENTICATE LOGIN\r\n")
        self.assertTrue(c.readline().startswith(b"+"))
        c.send(b64(b"demo") + "\r\n")
        self.assertTrue(c.readline().startswith(b"+"))
        c.send("*\r\n")
        _u, tagged = c.read_until_tagged("a1")
        self.assertRegex(tagged, rb"^a1 BAD[ \r]")
        _u, tagged = c.command("a2", "NOOP")
        self.assertTaggedOK(tagged, "a2")
        _u, tagged = c.command("a3", "AUTHENTICATE PLAIN " + b64(b"\0demo\0demo"))
        self.assertTaggedOK(tagged, "a3")

    def test_unknown_mechanism(self):
        self.start()
        c = self.client()
        unt, tagged = c.command("a1", "AUTHENTICATE X-UNKNOWN-MECH")
        self.assertEqual(unt, [])
        self.assertRegex(tagged, rb"^a1 NO ")

    def test_plain_other_authzid_refused(self):
        """No proxy authorization: authzid other than the user fails."""
        self.start()
        c = self.client()
        unt, tagged = c.command("a1", "AUTHENTICATE PLAIN " + b64(b"other\0demo\0demo"))
        self.assertEqual(unt, [])
        self.assertRegex(tagged, rb"^a1 NO ")
        _u, tagged = c.command("a2", 'LIST "" INBOX')
        self.assertRegex(tagged, rb"^a2 (BAD|NO) ")

    def test_plain_invalid_base64(self):
        self.start()
        c = self.client()
        _u, tagged = c.command("a1", "AUTHENTICATE PLAIN !!!not-base64")
        self.assertRegex(tagged, rb"^a1 BAD ")
        _u, tagged = c.command("a2", "LOGIN demo demo")
        self.assertTaggedOK(tagged, "a2")

    def test_starttls_without_certificate(self):
        self.start(**{"tls.cert": "", "tls.key": "", "imaps.status": "disabled"})
        c = self.raw(self.port)
        caps, _text = T.parse_greeting_caps(c.greeting())
        self.assertNotIn("STARTTLS", caps)
        unt, tagged = c.command("a1", "STARTTLS")
        self.assertEqual(unt, [])
        self.assertRegex(tagged, rb"^a1 (BAD|NO) ")
        _u, tagged = c.command("a2", "LOGIN demo demo")
        self.assertTaggedOK(tagged, "a2")


class Mailboxes(Base):
    SHARE = True

    def test_imaplib_list(self):
        self.start()
        m = self.imap(self.port)
        m.login("demo", "demo")
        typ, data = m.list()
        self.assertEqual(typ, "OK")
        entries = parse_imaplib_list(data)
        self.assertEqual({n for (_f, _d, n) in entries}, T.DEMO_FOLDERS, data)
        self.assertEqual(len(entries), len(T.DEMO_FOLDERS), data)
        self.assertEqual({d for (_f, d, _n) in entries}, {"/"}, data)

    def test_list_delimiter_query(self):
        """neomutt: LIST "" "" asks for the hierarchy delimiter."""
        self.start()
        c = self.client()
        T.login(c)
        unt, tagged = c.command("a1", 'LIST "" ""')
        self.assertTaggedOK(tagged, "a1")
        self.assertEqual(unt, [b'* LIST (\\Noselect) "/" ""\r\n'])

    def test_list_patterns(self):
        self.start()
        c = self.client()
        T.login(c)
        cases = [('"" "%"', T.DEMO_FOLDERS), ('"" "S*"', {"Sent"}),
                 ('"" inbox', {"INBOX"}), ('"" "No-Such-Folder"', set()),
                 ('"" "*r*"', {"Trash", "Drafts", "Archive"})]
        for i, (args, want) in enumerate(cases):
            tag = "p%d" % i
            unt, tagged = c.command(tag, "LIST " + args)
            self.assertTaggedOK(tagged, tag)
            names = [n for (_f, _d, n) in parse_list_lines(unt)]
            self.assertEqual(sorted(names), sorted(want), "LIST %s" % args)

    def test_imaplib_lsub(self):
        self.start()
        m = self.imap(self.port)
        m.login("demo", "demo")
        typ, data = m.lsub()
        self.assertEqual(typ, "OK", data)
        entries = parse_imaplib_list(data)
        self.assertTrue({n for (_f, _d, n) in entries} <= T.DEMO_FOLDERS, data)
        self.assertTrue({d for (_f, d, _n) in entries} <= {"/"}, data)

    def test_list_needs_login(self):
        self.start()
        c = self.client()
        unt, tagged = c.command("a1", 'LIST "" "*"')
        self.assertEqual(unt, [])
        self.assertRegex(tagged, rb"^a1 (BAD|NO) ")

    def test_id_before_and_after_login(self):
        self.start()
        c = self.client()
        for tag, args in (("i1", '("name" "interop-test" "version" "1.0")'), ("i2", "NIL")):
            unt, tagged = c.command(tag, "ID " + args)
            self.assertTaggedOK(tagged, tag)
            self.assertEqual(len(unt), 1, unt)
            self.assertRegex(unt[0], rb'^\* ID (NIL|\((("[^"]*"|NIL) ?)*\))\r\n$')
        T.login(c)
        unt, tagged = c.command("i3", 'ID ("name" "interop-test")')
        self.assertTaggedOK(tagged, "i3")
        self.assertEqual(len(unt), 1, unt)
        self.assertTrue(unt[0].startswith(b"* ID "), unt)

    def test_id_via_imaplib(self):
        self.start()
        m = self.imap(self.port)
        typ, data = m.xatom("ID", '("name" "python-imaplib")')
        self.assertEqual(typ, "OK", data)
        self.assertIn("ID", m.untagged_responses)

    def test_enable_ignores_unknown(self):
        self.start()
        c = self.client()
        T.login(c)
        unt, tagged = c.command("a1", "CAPABILITY")
        caps = set()
        for ln in unt:
            if ln.startswith(b"* CAPABILITY "):
                caps = {w.upper() for w in ln.decode().split()[2:]}
        self.assertIn("ENABLE", caps)
        unt, tagged = c.command("a2", "ENABLE X-NO-SUCH-EXTENSION UTF8=ACCEPT CONDSTORE")
        self.assertTaggedOK(tagged, "a2")
        enabled = [ln for ln in unt if re.match(rb"^\* ENABLED( |\r\n)", ln)]
        self.assertEqual(len(enabled), 1, unt)
        names = {w.upper() for w in enabled[0].decode().split()[2:]}
        self.assertNotIn("X-NO-SUCH-EXTENSION", names)
        self.assertTrue(names <= caps, "enabled %s, not advertised" % (names - caps))

    def test_enable_via_imaplib(self):
        self.start()
        m = self.imap(self.port)
        m.login("demo", "demo")
        typ, data = m.enable("CONDSTORE")
        self.assertEqual(typ, "OK", data)

    def test_enable_needs_login(self):
        self.start()
        c = self.client()
        unt, tagged = c.command("a1", "ENABLE CONDSTORE")
        self.assertEqual(unt, [])
        self.assertRegex(tagged, rb"^a1 (BAD|NO) ")


class Session(Base):
    SHARE = True

    def test_logout_raw(self):
        self.start()
        c = self.client()
        T.login(c)
        unt, tagged = c.command("z1", "LOGOUT")
        self.assertEqual(len(unt), 1, unt)
        self.assertRegex(unt[0], rb"^\* BYE( [^\r\n]*)?\r\n$")
        self.assertTaggedOK(tagged, "z1")
        self.assertTrue(c.closed_within(3), "connection not closed after LOGOUT")

    def test_logout_before_login(self):
        self.start()
        c = self.client()
        unt, tagged = c.command("z1", "LOGOUT")
        self.assertEqual(len(unt), 1, unt)
        self.assertTrue(unt[0].startswith(b"* BYE"), unt)
        self.assertTaggedOK(tagged, "z1")
        self.assertTrue(c.closed_within(3))

    def test_logout_imaplib(self):
        self.start()
        m = self.imap(self.port)
        m.login("demo", "demo")
        typ, data = m.logout()
        self.assertEqual(typ, "BYE", data)

    def test_pipelined_commands_answered_in_order(self):
        self.start()
        c = self.client()
        c.send('p1 NOOP\r\np2 CAPABILITY\r\np3 LOGIN demo demo\r\np4 LIST "" INBOX\r\n'
               'p5 ID NIL\r\np6 NOOP\r\n')
        seq = []
        for tag in ("p1", "p2", "p3", "p4", "p5", "p6"):
            unt, tagged = c.read_until_tagged(tag)
            self.assertTaggedOK(tagged, tag)
            seq.append((tag, [ln.split(b" ")[1] for ln in unt]))
        self.assertEqual(seq[0], ("p1", []))
        self.assertEqual(seq[1], ("p2", [b"CAPABILITY"]))
        self.assertEqual(seq[3], ("p4", [b"LIST"]))
        self.assertEqual(seq[4], ("p5", [b"ID"]))
        self.assertEqual(seq[5], ("p6", []))

    def test_pipelined_with_failed_login(self):
        """A delayed failure must not reorder the answers that follow."""
        self.start()
        c = self.client()
        c.send("q1 LOGIN demo bad\r\nq2 NOOP\r\nq3 LOGIN demo demo\r\n")
        _u, t1 = c.read_until_tagged("q1")
        self.assertLine(t1, FAIL_LINE % b"q1")
        _u, t2 = c.read_until_tagged("q2")
        self.assertTaggedOK(t2, "q2")
        _u, t3 = c.read_until_tagged("q3")
        self.assertTaggedOK(t3, "q3")

    def test_unknown_command(self):
        self.start()
        c = self.client()
        unt, tagged = c.command("a1", "FROBNICATE now")
        self.assertEqual(unt, [])
        self.assertRegex(tagged, rb"^a1 BAD ")
        _u, tagged = c.command("a2", "NOOP")
        self.assertTaggedOK(tagged, "a2")

    def test_line_too_long(self):
        self.start(**{"limits.max_line": "2k"})
        c = self.client()
        T.login(c)
        # just under the limit is fine
        unt, tagged = c.command("a1", 'LIST "" "%s"' % ("x" * 1500))
        self.assertTaggedOK(tagged, "a1")
        self.assertEqual(unt, [])
        c.send("a2 LIST \"\" \"%s\"\r\n" % ("y" * 8000))
        unt, tagged = c.read_until_tagged("a2")
        self.assertEqual(unt, [])
        self.assertLine(tagged, b"a2 BAD Command line too long\r\n")
        unt, tagged = c.command("a3", 'LIST "" INBOX')
        self.assertTaggedOK(tagged, "a3")
        self.assertEqual(len(unt), 1, unt)

    def test_line_too_long_default_limit(self):
        """The default limit is 64 KiB; a 100 KB line before login."""
        self.start()
        c = self.client()
        c.send("a1 LOGIN demo " + "z" * 100000 + "\r\n")
        unt, tagged = c.read_until_tagged("a1")
        self.assertEqual(unt, [])
        self.assertLine(tagged, b"a1 BAD Command line too long\r\n")
        _u, tagged = c.command("a2", "LOGIN demo demo")
        self.assertTaggedOK(tagged, "a2")

    def test_literal_too_big(self):
        self.start(**{"limits.max_literal": "1k"})
        c = self.client()
        c.send("a1 LOGIN demo {5000}\r\n")
        line = c.readline()
        self.assertRegex(line, rb"^a1 NO \[TOOBIG\]( [^\r\n]*)?\r\n$")
        _u, tagged = c.command("a2", "NOOP")
        self.assertTaggedOK(tagged, "a2")
        c.send("a3 LOGIN demo {4}\r\n")
        self.assertTrue(c.readline().startswith(b"+"))
        c.send("demo\r\n")
        _u, tagged = c.read_until_tagged("a3")
        self.assertTaggedOK(tagged, "a3")

    def test_nonsync_literal_too_big(self):
        """{n+} over the limit cannot be refused politely: BYE and close."""
        self.start(**{"limits.max_literal": "1k"})
        c = self.client()
        c.send("a1 LOGIN demo {5000+}\r\n")
        line = c.readline()
        self.assertRegex(line, rb"^\* BYE \[TOOBIG\]")
        self.assertTrue(c.closed_within(3))

    def test_cross_protocol_garbage_is_cut_off(self):
        """An HTTP request sent to the IMAP port: a few BADs, then BYE and
        close (default limits.max_bad_commands)."""
        self.start()
        c = self.client()
        c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n")
        data = c.read_until_closed(3)
        lines = data.split(b"\r\n")
        self.assertTrue([ln for ln in lines if ln.startswith(b"* BYE")], data)
        self.assertFalse([ln for ln in lines if b" OK" in ln], data)

    def test_max_bad_commands(self):
        self.start(**{"limits.max_bad_commands": 2})
        c = self.client()
        _u, tagged = c.command("a1", "FOO")
        self.assertRegex(tagged, rb"^a1 BAD ")
        _u, tagged = c.command("a2", "FOO")
        self.assertRegex(tagged, rb"^a2 BAD ")
        self.assertRegex(c.readline(), rb"^\* BYE ")
        self.assertTrue(c.closed_within(3))


class Concurrency(Base):
    def test_parallel_clients_with_threads(self):
        """threads = 4: twelve imaplib clients at once, each logs in and
        lists."""
        import threading
        self.start(threads=4)
        errors, done = [], []

        def worker(i):
            try:
                m = imaplib.IMAP4(T.LOOPBACK, self.port, timeout=10)
                try:
                    assert m.login("demo", "demo")[0] == "OK"
                    for _ in range(5):
                        typ, data = m.list()
                        assert typ == "OK" and len(data) == len(T.DEMO_FOLDERS), data
                    assert m.logout()[0] == "BYE"
                    done.append(i)
                finally:
                    try:
                        m.shutdown()  # already done by a successful logout()
                    except OSError:
                        pass
            except Exception as e:  # noqa: BLE001
                errors.append("client %d: %r" % (i, e))
        ts = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(20)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(done), list(range(12)))


class CryptUsers(Base):
    PLAIN_PW = "bob-plain-pw"

    def setUp(self):
        super().setUp()
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        r = subprocess.run(["openssl", "passwd", "-6", "-salt", "abcdefgh", "secret"],
                           capture_output=True, timeout=10)
        h = r.stdout.decode().strip()
        if r.returncode != 0 or not h.startswith("$6$abcdefgh$"):
            self.skipTest("openssl passwd -6 unavailable: %r" % r.stderr)
        d = self.new_daemon()
        users = d.write_file("users", "alice:{CRYPT}%s\nbob:{PLAIN}%s\n"
                             % (h, self.PLAIN_PW))
        ov = dict(self.overrides, users=users)
        self.daemon = d.start(ov)

    def test_crypt_user_login(self):
        m = self.imap(self.port)
        self.assertEqual(m.login("alice", "secret")[0], "OK")

    def test_crypt_user_wrong_password(self):
        c = self.client()
        _u, tagged = c.command("a1", "LOGIN alice Secret")
        self.assertLine(tagged, FAIL_LINE % b"a1")
        # a crypt string is not a password
        h = subprocess.run(["openssl", "passwd", "-6", "-salt", "abcdefgh", "secret"],
                           capture_output=True).stdout.decode().strip()
        _u, tagged = c.command("a2", 'LOGIN alice "%s"' % h)
        self.assertLine(tagged, FAIL_LINE % b"a2")

    def test_crypt_user_authenticate_plain(self):
        c = self.client()
        _u, tagged = c.command("a1", "AUTHENTICATE PLAIN " + b64(b"\0alice\0secret"))
        self.assertTaggedOK(tagged, "a1")

    def test_plain_user(self):
        m = self.imap(self.port)
        self.assertEqual(m.login("bob", self.PLAIN_PW)[0], "OK")
        c = self.client()
        _u, tagged = c.command("a1", 'LOGIN bob "{PLAIN}%s"' % self.PLAIN_PW)
        self.assertLine(tagged, FAIL_LINE % b"a1")

    def test_users_file_replaces_demo_account(self):
        c = self.client()
        _u, tagged = c.command("a1", "LOGIN demo demo")
        self.assertLine(tagged, FAIL_LINE % b"a1")


if __name__ == "__main__":
    T.main()
