#!/usr/bin/env python3
"""Interop: port and access policy of the example daemon (POLICY.md):
redirect and disabled listeners, config validation (-t), session limits,
login timeout, "nobody can log in"."""

import imaplib
import os
import re
import socket
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402

NOT_ENABLED = b"* BYE [UNAVAILABLE] This site is not enabled on the server\r\n"
TOO_MANY = b"* BYE [UNAVAILABLE] Too many sessions\r\n"


def ov(port, **kw):
    d = {"imap.port": port, "imap.address": T.LOOPBACK, "limits.auth_fail_delay": "200ms"}
    for k, v in kw.items():
        d[k.replace("__", ".")] = v
    return d


class Redirect(T.DaemonTestCase):
    MSG = "Please use the TLS port 9993 from now on"

    def setUp(self):
        self.p1, self.p2 = T.free_ports(2)
        self.d = self.start_daemon({
            "imap.port": self.p1, "imap.address": T.LOOPBACK,
            "listener.old.port": self.p2, "listener.old.address": T.LOOPBACK,
            "listener.old.status": "redirect",
            "listener.old.redirect_message": self.MSG,
        }, expect_ports=[self.p1, self.p2])

    def test_log_shows_redirect_listener(self):
        ls = self.d.listening()
        self.assertIn(("127.0.0.1", self.p2, "old", "redirect"), ls, self.d.log())
        self.assertIn(("127.0.0.1", self.p1, "imap", "enabled"), ls, self.d.log())

    def test_redirect_answers_bye_alert_and_closes(self):
        c = self.raw(self.p2)
        self.assertLine(c.readline(), "* BYE [ALERT] %s\r\n" % self.MSG)
        self.assertTrue(c.closed_within(3), "redirect connection left open")

    def test_redirect_reads_no_command(self):
        c = self.raw(self.p2)
        self.assertTrue(c.readline().startswith(b"* BYE [ALERT] "))
        try:
            c.send("a1 LOGIN demo demo\r\n")
        except OSError:
            pass  # already closed: fine
        rest = c.read_until_closed(3)
        self.assertEqual(rest, b"")

    def test_imaplib_sees_the_redirect(self):
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            m = imaplib.IMAP4(T.LOOPBACK, self.p2, timeout=5)
            m.shutdown()
        self.assertIn(self.MSG, str(cm.exception))

    def test_enabled_listener_unaffected(self):
        c = self.raw(self.p1)
        self.assertTrue(c.greeting().startswith(b"* OK [CAPABILITY "))
        T.login(c)


class RedirectDefaultMessage(T.DaemonTestCase):
    def test_default_message_names_the_tls_port(self):
        """The default redirect text names the configured TLS port (not a
        fixed 993), even while that port is off (then -t warns)."""
        p1, p2, p3 = T.free_ports(3)
        d = self.new_daemon()
        d.start({
            "imap.port": p1, "imap.address": T.LOOPBACK, "imap.status": "redirect",
            "imaps.port": p3,
            "listener.main.port": p2, "listener.main.address": T.LOOPBACK,
        }, expect_ports=[p1, p2])
        c = self.raw(p1)
        self.assertLine(c.readline(),
                        "* BYE [ALERT] IMAP server configured for TLS connections only. "
                        "Please reconnect using the TLS port %d\r\n" % p3)
        self.assertTrue(c.closed_within(3))
        c2 = self.raw(p2)
        self.assertTrue(c2.greeting().startswith(b"* OK "))


class Disabled(T.DaemonTestCase):
    def test_disabled_listener_refuses(self):
        p1, p2 = T.free_ports(2)
        d = self.start_daemon({
            "imap.port": p1, "imap.address": T.LOOPBACK,
            "listener.off.port": p2, "listener.off.address": T.LOOPBACK,
            "listener.off.status": "disabled",
        }, expect_ports=[p1])
        self.assertTrue(T.port_refuses(p2), "disabled listener accepted a connection")
        self.assertNotIn(p2, [p for (_a, p, _n, _s) in d.listening()], d.log())
        self.assertTrue(self.raw(p1).greeting().startswith(b"* OK "))

    def test_imap_disabled_other_listener_serves(self):
        p1, p2 = T.free_ports(2)
        self.start_daemon({
            "imap.port": p1, "imap.address": T.LOOPBACK, "imap.status": "disabled",
            "listener.alt.port": p2, "listener.alt.address": T.LOOPBACK,
        }, expect_ports=[p2])
        self.assertTrue(T.port_refuses(p1), "disabled imap port accepted a connection")
        m = self.imap(p2)
        self.assertEqual(m.login("demo", "demo")[0], "OK")


class ConfigCheck(T.DaemonTestCase):
    """imapsrvd -t: every problem on its own line naming key and value;
    exit 1 on error, 0 if valid."""

    def check(self, overrides=None, config=None):
        d = self.new_daemon()
        return d.check(overrides, config)

    def assertProblem(self, out, key, value=None):
        for line in out.splitlines():
            if key not in line:
                continue
            if value is None:
                return line
            rest = line.replace(key, " ")
            if re.search(r"(?<![\w.\-])%s(?![\w.])" % re.escape(str(value)), rest):
                return line
        self.fail("no line names %r%s:\n%s" % (key, "" if value is None else
                                                 " with value %r" % (value,), out))

    def test_bad_ports(self):
        port = T.free_port()
        for bad in ("0", "70000", "abc", "-1", "65536"):
            with self.subTest(port=bad):
                rc, out = self.check(ov(port, imap__port=bad))
                self.assertEqual(rc, 1, out)
                self.assertProblem(out, "imap.port", bad)

    def test_bad_port_in_file(self):
        rc, out = self.check(config="# test\nimap.port = 70000\nimap.address = 127.0.0.1\n")
        self.assertEqual(rc, 1, out)
        self.assertProblem(out, "imap.port", "70000")

    def test_bad_listener_port(self):
        port = T.free_port()
        rc, out = self.check(ov(port, **{"listener.extra.port": "99999"}))
        self.assertEqual(rc, 1, out)
        self.assertProblem(out, "listener.extra.port", "99999")

    def test_two_listeners_on_one_port(self):
        port = T.free_port()
        rc, out = self.check(ov(port, **{"listener.extra.port": port,
                                         "listener.extra.address": T.LOOPBACK}))
        self.assertEqual(rc, 1, out)
        line = self.assertProblem(out, str(port))
        self.assertIn("extra", line)

    @unittest.skipUnless(T.have_ipv6_loopback(), "no IPv6 loopback")
    def test_same_port_on_different_addresses_is_valid(self):
        port = T.free_port()
        rc, out = self.check(ov(port, **{"listener.extra.port": port,
                                         "listener.extra.address": "::1"}))
        self.assertEqual(rc, 0, out)

    def test_no_enabled_port(self):
        port = T.free_port()
        rc, out = self.check(ov(port, imap__status="disabled", imaps__status="disabled"))
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?i)enabled")

    def test_redirect_only_is_no_enabled_port(self):
        port = T.free_port()
        rc, out = self.check(ov(port, imap__status="redirect", imaps__status="disabled"))
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?i)enabled")

    def test_valid_file(self):
        p1, p2 = T.free_ports(2)
        conf = ("# interop test: a valid configuration\n"
                "\n"
                "imap.port = %d\n"
                "imap.address = 127.0.0.1\n"
                "  # an indented comment\n"
                "imap.greeting = Welcome to the policy test\n"
                "listener.extra.port=%d\n"
                "listener.extra.address = 127.0.0.1\n"
                "limits.max_sessions = 10\n"
                "limits.max_sessions_per_ip = 5\n"
                "limits.login_timeout = 30s\n"
                "limits.session_timeout = 5m\n"
                "limits.auth_fail_delay = 500ms\n"
                "limits.max_line = 64k\n"
                "limits.max_literal = 1m\n") % (p1, p2)
        rc, out = self.check(config=conf)
        self.assertEqual(rc, 0, out)
        # and the daemon runs it
        self.start_daemon(config=conf, expect_ports=[p1, p2])
        caps, text = T.parse_greeting_caps(self.raw(p1).greeting())
        self.assertEqual(text, "Welcome to the policy test")

    def test_unknown_key_option(self):
        port = T.free_port()
        rc, out = self.check(ov(port, **{"imap.prot": "143"}))
        self.assertEqual(rc, 1, out)
        self.assertProblem(out, "imap.prot")

    def test_unknown_key_in_file(self):
        port = T.free_port()
        rc, out = self.check(config="imap.port = %d\nbogus.setting = 1\n" % port)
        self.assertEqual(rc, 1, out)
        self.assertProblem(out, "bogus.setting")

    def test_every_problem_reported(self):
        conf = ("imap.port = abc\n"
                "imap.status = maybe\n"
                "no.such.key = 1\n"
                "limits.login_timeout = soon\n")
        rc, out = self.check(config=conf)
        self.assertEqual(rc, 1, out)
        lines = {self.assertProblem(out, "imap.port", "abc"),
                 self.assertProblem(out, "imap.status", "maybe"),
                 self.assertProblem(out, "no.such.key"),
                 self.assertProblem(out, "limits.login_timeout", "soon")}
        self.assertEqual(len(lines), 4, "problems not one per line:\n" + out)

    def test_session_timeout_minimum(self):
        port = T.free_port()
        rc, out = self.check(ov(port, **{"limits.session_timeout": "30s"}))
        self.assertEqual(rc, 1, out)
        self.assertProblem(out, "limits.session_timeout")

    def test_crlf_in_greeting_refused(self):
        port = T.free_port()
        rc, out = self.check(ov(port, imap__greeting="hello\r\n* OK injected"))
        self.assertEqual(rc, 1, out)
        self.assertProblem(out, "imap.greeting")

    def test_crlf_in_redirect_message_refused(self):
        p1, p2 = T.free_ports(2)
        rc, out = self.check(ov(p1, **{"listener.r.port": p2, "listener.r.status": "redirect",
                                       "listener.r.redirect_message": "go\r\n* OK x"}))
        self.assertEqual(rc, 1, out)
        self.assertProblem(out, "listener.r.redirect_message")

    def test_no_login_possible_is_only_a_warning(self):
        port = T.free_port()
        rc, out = self.check(ov(port, **{"imap.auth.password": "no"}))
        self.assertEqual(rc, 0, out)

    def test_start_with_invalid_config_fails(self):
        port = T.free_port()
        d = self.new_daemon()
        d.spawn(d.argv_for(ov(port, imap__port="0")))
        rc = d.wait_exit(10)
        self.assertIsNotNone(rc, "daemon with port 0 kept running\n" + d.describe())
        self.assertNotEqual(rc, 0)
        self.assertIn("imap.port", d.log())
        self.assertEqual(d.listening(), [])

    def test_port_in_use_fails_naming_port_and_reason(self):
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind((T.LOOPBACK, 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        d = self.new_daemon()
        d.spawn(d.argv_for(ov(port)))
        rc = d.wait_exit(10)
        self.assertIsNotNone(rc, "daemon started on a port in use\n" + d.describe())
        self.assertNotEqual(rc, 0)
        log = d.log()
        self.assertTrue([ln for ln in log.splitlines()
                         if str(port) in ln and re.search(r"(?i)in use", ln)],
                        "no line names port %d and 'in use':\n%s" % (port, log))


class Sessions(T.DaemonTestCase):
    def test_max_sessions(self):
        port = T.free_port()
        self.start_daemon(ov(port, **{"limits.max_sessions": 2}))
        c1, c2 = self.raw(port), self.raw(port)
        self.assertTrue(c1.greeting().startswith(b"* OK "))
        self.assertTrue(c2.greeting().startswith(b"* OK "))
        c3 = self.raw(port)
        self.assertLine(c3.readline(), TOO_MANY)
        self.assertTrue(c3.closed_within(3))
        # the first two still work
        T.login(c1)
        _u, t = c2.command("n1", "NOOP")
        self.assertTaggedOK(t, "n1")
        # a slot freed by LOGOUT is available again
        c1.command("z", "LOGOUT")
        self.assertTrue(c1.closed_within(3))
        deadline = time.monotonic() + 3
        while True:
            c4 = self.raw(port)
            g = c4.readline()
            if g.startswith(b"* OK ") or time.monotonic() > deadline:
                break
            c4.close()
            time.sleep(0.1)
        self.assertTrue(g.startswith(b"* OK "), "freed slot not reusable: %r" % g)

    def test_max_sessions_per_ip(self):
        port = T.free_port()
        self.start_daemon(ov(port, **{"limits.max_sessions_per_ip": 1}))
        c1 = self.raw(port)
        self.assertTrue(c1.greeting().startswith(b"* OK "))
        c2 = self.raw(port)
        self.assertLine(c2.readline(), TOO_MANY)
        self.assertTrue(c2.closed_within(3))
        # another remote address (127.0.0.2 -> 127.0.0.1) has its own count
        c3 = self.raw(port, source="127.0.0.2")
        self.assertTrue(c3.greeting().startswith(b"* OK "))
        T.login(c3)

    def test_login_timeout(self):
        port = T.free_port()
        self.start_daemon(ov(port, **{"limits.login_timeout": "1s"}))
        c = self.raw(port)
        self.assertTrue(c.greeting().startswith(b"* OK "))
        t0 = time.monotonic()
        line = c.readline(timeout=6)
        elapsed = time.monotonic() - t0
        self.assertLine(line, b"* BYE Login timeout\r\n")
        self.assertGreater(elapsed, 0.7)
        self.assertLess(elapsed, 3.0)
        self.assertTrue(c.closed_within(3))

    def test_login_timeout_with_partial_command(self):
        port = T.free_port()
        self.start_daemon(ov(port, **{"limits.login_timeout": "1s"}))
        c = self.raw(port)
        c.greeting()
        t0 = time.monotonic()
        c.send("a1 LOGIN demo")  # no end of line: a slow client
        line = c.readline(timeout=6)
        self.assertLine(line, b"* BYE Login timeout\r\n")
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertTrue(c.closed_within(3))

    def test_login_timeout_during_authenticate(self):
        """A client stalled inside an AUTHENTICATE exchange is still closed."""
        port = T.free_port()
        self.start_daemon(ov(port, **{"limits.login_timeout": "1s"}))
        c = self.raw(port)
        c.greeting()
        t0 = time.monotonic()
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        self.assertTrue(c.readline().startswith(b"+"))
        self.assertLine(c.readline(timeout=6), b"* BYE Login timeout\r\n")
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertTrue(c.closed_within(3))

    def test_logged_in_session_outlives_login_timeout(self):
        port = T.free_port()
        self.start_daemon(ov(port, **{"limits.login_timeout": "1s"}))
        c = self.raw(port)
        c.greeting()
        T.login(c)
        time.sleep(1.8)
        unt, t = c.command("n1", "NOOP")
        self.assertEqual([ln for ln in unt if ln.startswith(b"* BYE")], [])
        self.assertTaggedOK(t, "n1")


class NobodyCanLogIn(T.DaemonTestCase):
    def test_password_auth_off_gives_not_enabled_bye(self):
        port = T.free_port()
        d = self.start_daemon(ov(port, **{"imap.auth.password": "no"}))
        off = d.log_offset()
        c = self.raw(port)
        cport = c.local_port()
        self.assertLine(c.readline(), NOT_ENABLED)
        self.assertTrue(c.closed_within(3))
        # logged with the listener, the addresses and the reason
        deadline = time.monotonic() + 3
        while True:
            new = [ln for ln in d.output()[off:].splitlines() if "127.0.0.1" in ln]
            if new or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertTrue(new, "refused connection not logged:\n" + d.log())
        self.assertTrue([ln for ln in new if "imap" in ln], new)

    def test_only_that_listener_is_affected(self):
        p1, p2 = T.free_ports(2)
        self.start_daemon({
            "imap.port": p1, "imap.address": T.LOOPBACK,
            "listener.closed.port": p2, "listener.closed.address": T.LOOPBACK,
            "listener.closed.auth.password": "no",
        }, expect_ports=[p1, p2])
        c = self.raw(p2)
        self.assertLine(c.readline(), NOT_ENABLED)
        m = self.imap(p1)
        self.assertEqual(m.login("demo", "demo")[0], "OK")


class Listeners(T.DaemonTestCase):
    def test_each_listener_has_its_own_greeting(self):
        p1, p2 = T.free_ports(2)
        self.start_daemon({
            "imap.port": p1, "imap.address": T.LOOPBACK, "imap.greeting": "Main door",
            "listener.side.port": p2, "listener.side.address": T.LOOPBACK,
            "listener.side.greeting": "Side door",
        }, expect_ports=[p1, p2])
        self.assertEqual(T.parse_greeting_caps(self.raw(p1).greeting())[1], "Main door")
        self.assertEqual(T.parse_greeting_caps(self.raw(p2).greeting())[1], "Side door")

    @unittest.skipUnless(T.have_ipv6_loopback(), "no IPv6 loopback")
    def test_ipv6_loopback_address(self):
        port = T.free_port("::1")
        self.start_daemon({"imap.port": port, "imap.address": "::1"},
                          expect_ports=[port], address=None)
        self.assertTrue(T.port_refuses(port, T.LOOPBACK), "bound beyond ::1")
        m = self.imap(port, host="::1")
        self.assertEqual(m.login("demo", "demo")[0], "OK")

    @unittest.skipUnless(T.have_ipv6_loopback(), "no IPv6 loopback")
    def test_address_list(self):
        """imap.address = "127.0.0.1, ::1": one port on both addresses."""
        port = T.free_port()
        d = self.start_daemon({"imap.port": port, "imap.address": "127.0.0.1, ::1"},
                              expect_ports=[port])
        d.wait_listening([port], address=None)
        addrs = sorted(a for (a, p, _n, _s) in d.listening() if p == port)
        self.assertEqual(len(addrs), 2, d.log())
        for host in ("127.0.0.1", "::1"):
            c = self.raw(port, host=host)
            self.assertTrue(c.greeting().startswith(b"* OK "), host)


if __name__ == "__main__":
    T.main()
