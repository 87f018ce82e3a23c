#!/usr/bin/env python3
"""Interop: SIGHUP reload and SIGTERM shutdown of the example daemon."""

import os
import re
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402


def conf(port, *extra):
    lines = ["# written by test_reload.py",
             "imap.port = %s" % port,
             "imap.address = 127.0.0.1",
             "limits.auth_fail_delay = 200ms"]
    return "\n".join(lines + list(extra)) + "\n"


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


class Reload(T.DaemonTestCase):
    def setUp(self):
        self.a, self.b = T.free_ports(2)
        self.d = self.new_daemon()

    def reload_to(self, text, ports):
        off = self.d.log_offset()
        self.d.write_config(text)
        self.d.reload()
        if ports:
            self.d.wait_listening(ports, after=off, timeout=5)
        return off

    def test_reload_moves_listener_and_old_session_continues(self):
        self.d.start(config=conf(self.a), expect_ports=[self.a])
        m = self.imap(self.a)
        self.assertEqual(m.login("demo", "demo")[0], "OK")
        self.reload_to(conf(self.b), [self.b])
        # the open session goes on under its old settings
        self.assertEqual(m.noop()[0], "OK")
        typ, data = m.list()
        self.assertEqual(typ, "OK")
        self.assertEqual(len(data), len(T.DEMO_FOLDERS), data)
        # the old port is gone, the new one greets
        self.assertTrue(T.wait_port_refuses(self.a), "old port %d still accepts" % self.a)
        c = self.raw(self.b)
        self.assertTrue(c.greeting().startswith(b"* OK [CAPABILITY "))
        T.login(c)
        self.assertEqual(m.noop()[0], "OK")

    def test_failed_reload_keeps_running_config(self):
        self.d.start(config=conf(self.a), expect_ports=[self.a])
        m = self.imap(self.a)
        m.login("demo", "demo")
        off = self.reload_to(conf(0), [])
        self.d.wait_output(r"imap\.port\b.*\b0\b", after=off, timeout=5)
        self.assertTrue(self.d.running(), "daemon died on a bad reload\n" + self.d.describe())
        self.assertEqual(m.noop()[0], "OK")
        c = self.raw(self.a)
        self.assertTrue(c.greeting().startswith(b"* OK "))
        T.login(c)
        self.assertEqual([x for x in self.d.listening(off)], [], self.d.log())
        # and a good config afterwards is taken
        self.reload_to(conf(self.b), [self.b])
        self.assertTrue(T.wait_port_refuses(self.a))
        self.assertTrue(self.raw(self.b).greeting().startswith(b"* OK "))

    def test_sequence_from_spec(self):
        """Port A -> B with a session open; a bad reload keeps B; SIGTERM
        sends the session a BYE and the daemon exits 0."""
        self.d.start(config=conf(self.a), expect_ports=[self.a])
        m = self.imap(self.a)
        self.assertEqual(m.login("demo", "demo")[0], "OK")
        self.reload_to(conf(self.b), [self.b])
        self.assertEqual(m.noop()[0], "OK")
        self.assertEqual(m.list()[0], "OK")
        self.assertTrue(T.wait_port_refuses(self.a))
        self.assertTrue(self.raw(self.b).greeting().startswith(b"* OK "))
        off = self.reload_to(conf(0), [])
        self.d.wait_output(r"imap\.port\b.*\b0\b", after=off, timeout=5)
        self.assertTrue(self.raw(self.b).greeting().startswith(b"* OK "))
        self.assertEqual(m.noop()[0], "OK")
        self.d.signal(signal.SIGTERM)
        line = m.readline()
        self.assertTrue(line.startswith(b"* BYE"), line)
        self.assertEqual(self.d.wait_exit(5), 0, self.d.describe())

    def test_overrides_survive_reload(self):
        self.d.start({"imap.greeting": "From the command line"},
                     config=conf(self.a, "imap.greeting = From the file"),
                     expect_ports=[self.a])
        g = T.parse_greeting_caps(self.raw(self.a).greeting())[1]
        self.assertEqual(g, "From the command line")
        self.reload_to(conf(self.b, "imap.greeting = From the new file"), [self.b])
        g = T.parse_greeting_caps(self.raw(self.b).greeting())[1]
        self.assertEqual(g, "From the command line")

    def test_reload_changes_greeting_of_new_connections(self):
        self.d.start(config=conf(self.a, "imap.greeting = First"), expect_ports=[self.a])
        old = self.raw(self.a)
        self.assertEqual(T.parse_greeting_caps(old.greeting())[1], "First")
        self.d.write_config(conf(self.a, "imap.greeting = Second"))
        self.d.reload()
        deadline = time.monotonic() + 5
        while True:
            g = T.parse_greeting_caps(self.raw(self.a).greeting())[1]
            if g == "Second" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(g, "Second")
        T.login(old)  # the old connection is still served

    def test_unchanged_listener_not_rebound(self):
        x = T.free_port()
        extra = ("listener.x.port = %d" % x, "listener.x.address = 127.0.0.1")
        self.d.start(config=conf(self.a, *extra), expect_ports=[self.a, x])
        off = self.reload_to(conf(self.b, *extra), [self.b])
        self.assertTrue(T.wait_port_refuses(self.a))
        time.sleep(0.2)
        log = self.d.output()[off:]
        self.assertNotRegex(log, r"stopped listening on \S+:%d\b" % x)
        self.assertNotIn(x, [p for (_a, p, _n, _s) in self.d.listening(off)], log)
        self.assertTrue(self.raw(x).greeting().startswith(b"* OK "))

    def test_repeated_reloads_do_not_leak(self):
        self.d.start(config=conf(self.a), expect_ports=[self.a])
        time.sleep(0.2)
        fds0, thr0 = self.d.fd_count(), threads(self.d.pid)
        for _ in range(5):
            self.reload_to(conf(self.b), [self.b])
            self.assertTrue(T.wait_port_refuses(self.a), "port %d still open" % self.a)
            self.reload_to(conf(self.a), [self.a])
            self.assertTrue(T.wait_port_refuses(self.b), "port %d still open" % self.b)
        deadline = time.monotonic() + 3
        while True:
            fds, thr = self.d.fd_count(), threads(self.d.pid)
            if (fds, thr) == (fds0, thr0) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(fds, fds0, "file descriptors: %d before, %d after 10 reloads"
                         % (fds0, fds))
        self.assertEqual(thr, thr0, "threads: %d before, %d after 10 reloads" % (thr0, thr))
        m = self.imap(self.a)
        self.assertEqual(m.login("demo", "demo")[0], "OK")


class Shutdown(T.DaemonTestCase):
    def test_sigterm_byes_every_client_and_exits_zero(self):
        port = T.free_port()
        d = self.start_daemon({"imap.port": port, "imap.address": T.LOOPBACK})
        m = self.imap(port)
        m.login("demo", "demo")
        pre = self.raw(port)
        pre.greeting()
        d.signal(signal.SIGTERM)
        self.assertTrue(m.readline().startswith(b"* BYE"))
        line = pre.readline()
        self.assertRegex(line, rb"^\* BYE[ \r]")
        self.assertTrue(pre.closed_within(5))
        self.assertEqual(d.wait_exit(5), 0, d.describe())
        self.assertTrue(T.port_refuses(port))

    def test_sigterm_idle_daemon_exits_zero(self):
        port = T.free_port()
        d = self.start_daemon({"imap.port": port, "imap.address": T.LOOPBACK})
        self.assertEqual(d.stop(), 0, d.describe())
        self.assertFalse(d.killed)

    def test_sigterm_during_failed_login_delay(self):
        """Shutdown does not wait for a pending failed-login delay."""
        port = T.free_port()
        d = self.start_daemon({"imap.port": port, "imap.address": T.LOOPBACK,
                               "limits.auth_fail_delay": "20s"})
        c = self.raw(port)
        c.greeting()
        c.send("a1 LOGIN demo wrong\r\n")
        time.sleep(0.3)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        data = c.read_until_closed(5)
        self.assertRegex(data, rb"(^|\r\n)\* BYE")
        self.assertNotIn(b"a1 OK", data)
        self.assertEqual(d.wait_exit(5), 0, d.describe())
        self.assertLess(time.monotonic() - t0, 5)

    def test_pidfile(self):
        port = T.free_port()
        d = self.new_daemon()
        pidfile = d.path("imapsrvd.pid")
        d.start({"imap.port": port, "imap.address": T.LOOPBACK, "pidfile": pidfile})
        # Written once the listeners are bound, just after they are logged.
        deadline = time.monotonic() + 5
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(pidfile) as f:
            self.assertEqual(f.read().strip(), str(d.pid))
        self.assertEqual(d.stop(), 0, d.describe())
        self.assertFalse(os.path.exists(pidfile), "pidfile left behind after SIGTERM")


if __name__ == "__main__":
    T.main()
