#!/usr/bin/env python3
"""Interop: TLS (implicit TLS on imaps, STARTTLS on imap, require_tls) with
Python's ssl/imaplib and curl, using a throwaway self-signed certificate."""

import imaplib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402


class TLS(T.DaemonTestCase):
    def setUp(self):
        self.p, self.s = T.free_ports(2)
        self.d = self.new_daemon()
        self.cert, self.key = T.make_cert(self, self.d)
        self.ctx = ssl.create_default_context(cafile=self.cert)

    def start(self, **extra):
        ov = {"imap.port": self.p, "imap.address": T.LOOPBACK,
              "imaps.port": self.s, "imaps.address": T.LOOPBACK,
              "imaps.status": "enabled", "imaps.auth.password": "yes",
              "tls.cert": self.cert, "tls.key": self.key,
              "limits.auth_fail_delay": "200ms"}
        ov.update(extra)
        self.d.start(ov, expect_ports=[self.p, self.s])

    def imaps(self):
        m = imaplib.IMAP4_SSL(T.LOOPBACK, self.s, ssl_context=self.ctx, timeout=5)
        self.addCleanup(_quiet_shutdown, m)
        return m

    def test_imaps_never_speaks_plaintext(self):
        """An implicit-TLS port waits for the ClientHello: no plaintext
        greeting (that would put passwords on the wire in clear)."""
        self.start()
        c = self.raw(self.s)
        c.sock.settimeout(1.0)
        try:
            data = c.sock.recv(100)
        except (socket.timeout, ConnectionResetError):
            data = b""
        self.assertFalse(data.startswith(b"* "), "plaintext on the TLS port: %r" % data)

    def test_imaps_imaplib_login_and_list(self):
        self.start()
        m = self.imaps()
        self.assertTrue(m.welcome.startswith(b"* OK [CAPABILITY "), m.welcome)
        self.assertNotIn("STARTTLS", m.capabilities)
        self.assertEqual(m.login("demo", "demo")[0], "OK")
        typ, data = m.list()
        self.assertEqual(typ, "OK")
        self.assertEqual(len(data), len(T.DEMO_FOLDERS), data)

    def test_imaps_wrong_password(self):
        self.start()
        m = self.imaps()
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            m.login("demo", "wrong")
        self.assertIn("AUTHENTICATIONFAILED", str(cm.exception))

    def test_starttls_advertised_and_works(self):
        self.start()
        m = self.imap(self.p)
        self.assertIn("STARTTLS", m.capabilities)
        typ, data = m.starttls(ssl_context=self.ctx)
        self.assertEqual(typ, "OK", data)
        self.assertNotIn("STARTTLS", m.capabilities)
        self.assertEqual(m.login("demo", "demo")[0], "OK")
        self.assertEqual(m.list()[0], "OK")

    def test_require_tls(self):
        self.start(**{"imap.auth.require_tls": "yes"})
        c = self.raw(self.p)
        caps, _t = T.parse_greeting_caps(c.greeting())
        self.assertIn("LOGINDISABLED", caps)
        self.assertIn("STARTTLS", caps)
        _u, t = c.command("a1", "LOGIN demo demo")
        self.assertRegex(t, rb"^a1 NO ")
        c.close()
        m = self.imap(self.p)
        m.starttls(ssl_context=self.ctx)
        self.assertNotIn("LOGINDISABLED", m.capabilities)
        self.assertEqual(m.login("demo", "demo")[0], "OK")

    def test_starttls_discards_pipelined_plaintext(self):
        """Commands sent after STARTTLS in the same packet must not be run
        (CVE-2011-0411 class): no answer to a2, before or after the
        handshake."""
        self.start()
        c = self.raw(self.p)
        c.greeting()
        c.send("a1 STARTTLS\r\na2 CAPABILITY\r\n")
        _u, t = c.read_until_tagged("a1")
        self.assertTaggedOK(t, "a1")
        self.assertEqual(c.buf, b"")
        c.sock.settimeout(0.5)
        try:
            early = c.sock.recv(4096)
        except socket.timeout:
            early = b""
        self.assertNotIn(b"a2 ", early)
        try:
            tls = self.ctx.wrap_socket(c.sock, server_hostname="localhost")
        except (ssl.SSLError, OSError):
            return  # the server refused to go on: acceptable
        self.addCleanup(tls.close)
        tls.settimeout(3)
        tls.sendall(b"b1 NOOP\r\n")
        data = b""
        deadline = time.monotonic() + 3
        while b"b1 " not in data and time.monotonic() < deadline:
            try:
                chunk = tls.recv(4096)
            except (socket.timeout, ssl.SSLError, OSError):
                break
            if not chunk:
                break
            data += chunk
        self.assertNotIn(b"a2 ", data)

    def test_curl_imaps(self):
        if not shutil.which(T.CURL):
            self.skipTest("no curl")
        self.start()
        r = subprocess.run([T.CURL, "-q", "-s", "-S", "--noproxy", "*", "--max-time", "10",
                            "--cacert", self.cert,
                            "imaps://demo:demo@127.0.0.1:%d/" % self.s],
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(re.findall(rb"(?m)^\* LIST ", r.stdout)), len(T.DEMO_FOLDERS))

    def test_curl_starttls_required(self):
        if not shutil.which(T.CURL):
            self.skipTest("no curl")
        self.start()
        r = subprocess.run([T.CURL, "-q", "-s", "-S", "--noproxy", "*", "--max-time", "10",
                            "--ssl-reqd", "--cacert", self.cert,
                            "imap://demo:demo@127.0.0.1:%d/" % self.p],
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(re.findall(rb"(?m)^\* LIST ", r.stdout)), len(T.DEMO_FOLDERS))


def _quiet_shutdown(m):
    try:
        m.shutdown()
    except Exception:
        pass


if __name__ == "__main__":
    T.main()
