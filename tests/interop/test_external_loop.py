#!/usr/bin/env python3
"""Interop: the external-loop example (a host with its own poll() loop that
drives the library) against imaplib and a raw client."""

import base64
import imaplib
import os
import re
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402


class ExternalLoop(T.DaemonTestCase):
    def setUp(self):
        self.port = T.free_port()
        self.host = T.ServerProcess(T.EXTERNAL_LOOP, "external-loop")
        self.addCleanup(self.host.cleanup)
        self.host.spawn([T.EXTERNAL_LOOP, str(self.port)])
        self.host.wait_listening([self.port])

    def test_login_good_and_list(self):
        m = self.imap(self.port)
        self.assertTrue(m.welcome.startswith(b"* OK [CAPABILITY "), m.welcome)
        self.assertTrue(T.REQUIRED_CAPS <= set(m.capabilities), m.capabilities)
        self.assertEqual(m.login("demo", "demo")[0], "OK")
        typ, data = m.list()
        self.assertEqual(typ, "OK")
        names = set()
        for item in data:
            mm = re.match(rb'^\(([^)]*)\) "/" "?([^"]*)"?$', item)
            self.assertTrue(mm, item)
            names.add(mm.group(2).decode())
        self.assertEqual(names, T.DEMO_FOLDERS)
        self.assertEqual(m.logout()[0], "BYE")

    def test_login_bad_then_good(self):
        m = self.imap(self.port, timeout=8)
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            m.login("demo", "wrong")
        self.assertIn("[AUTHENTICATIONFAILED]", str(cm.exception))
        self.assertEqual(m.state, "NONAUTH")
        self.assertEqual(m.login("demo", "demo")[0], "OK")

    def test_authenticate_plain_sasl_ir(self):
        c = self.raw(self.port)
        self.assertTrue(c.greeting().startswith(b"* OK "))
        ir = base64.b64encode(b"\0demo\0demo").decode()
        _u, t = c.command("a1", "AUTHENTICATE PLAIN " + ir)
        self.assertTaggedOK(t, "a1")
        unt, t = c.command("a2", 'LIST "" ""')
        self.assertTaggedOK(t, "a2")
        self.assertEqual(unt, [b'* LIST (\\Noselect) "/" ""\r\n'])

    def test_partial_command_does_not_block_others(self):
        """One client stuck in the middle of a line must not stall another:
        the host's loop multiplexes."""
        slow = self.raw(self.port)
        slow.greeting()
        slow.send("s1 LOGIN de")
        fast = self.raw(self.port)
        self.assertTrue(fast.greeting().startswith(b"* OK "))
        t0 = time.monotonic()
        T.login(fast, "f1")
        _u, t = fast.command("f2", 'LIST "" "%"')
        self.assertTaggedOK(t, "f2")
        self.assertLess(time.monotonic() - t0, 2.0)
        slow.send("mo demo\r\n")
        _u, t = slow.read_until_tagged("s1")
        self.assertTaggedOK(t, "s1")

    def test_pipelined(self):
        c = self.raw(self.port)
        c.greeting()
        c.send('p1 NOOP\r\np2 LOGIN demo demo\r\np3 LIST "" INBOX\r\np4 LOGOUT\r\n')
        for tag in ("p1", "p2", "p3", "p4"):
            unt, t = c.read_until_tagged(tag)
            self.assertTaggedOK(t, tag)
        self.assertTrue(c.closed_within(3))


if __name__ == "__main__":
    T.main()
