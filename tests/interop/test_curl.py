#!/usr/bin/env python3
"""Interop: curl's IMAP client (imap://) against the example daemon."""

import base64
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402

LIST_LINE = re.compile(r'^\* LIST \(([^)]*)\) "/" ("?)([^"\r\n]*)\2\r?$')


class Curl(T.DaemonTestCase):
    def setUp(self):
        if not shutil.which(T.CURL):
            self.skipTest("curl not found: %s" % T.CURL)
        self.port = T.free_port()
        self.daemon = self.start_daemon({
            "imap.port": self.port,
            "imap.address": T.LOOPBACK,
            "limits.auth_fail_delay": "200ms",
        })

    def curl(self, *args, user="demo", password="demo", path="/"):
        url = "imap://%s:%s@127.0.0.1:%d%s" % (user, password, self.port, path)
        argv = [T.CURL, "-q", "-s", "-S", "--noproxy", "*", "--max-time", "10",
                "--connect-timeout", "5"] + list(args) + [url]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20)
        return (r.returncode, r.stdout.decode("utf-8", "replace"),
                r.stderr.decode("utf-8", "replace"))

    def listed(self, out):
        names = []
        for ln in out.splitlines():
            m = LIST_LINE.match(ln)
            self.assertTrue(m, "unexpected output line %r in %r" % (ln, out))
            names.append(m.group(3))
        return names

    def sent(self, err):
        """Commands curl sent, from its -v trace: [(tag, rest)]."""
        return re.findall(r"^> (\S+) ([^\r\n]*)", err, re.M)

    def test_list_folders(self):
        rc, out, err = self.curl()
        self.assertEqual(rc, 0, err)
        names = self.listed(out)
        self.assertEqual(sorted(names), sorted(T.DEMO_FOLDERS), out)

    def test_wrong_password_is_login_denied(self):
        rc, out, err = self.curl(password="wrong")
        self.assertEqual(rc, 67, "curl exit %d, stderr %r" % (rc, err))
        self.assertEqual(out, "")

    def test_unknown_user_is_login_denied(self):
        rc, out, err = self.curl(user="nobody", password="demo")
        self.assertEqual(rc, 67, "curl exit %d, stderr %r" % (rc, err))

    def test_uses_authenticate_plain_with_initial_response(self):
        rc, out, err = self.curl("-v")
        self.assertEqual(rc, 0, err)
        cmds = self.sent(err)
        auth = [(t, r) for (t, r) in cmds if r.upper().startswith("AUTHENTICATE")]
        self.assertEqual(len(auth), 1, cmds)
        tag, rest = auth[0]
        m = re.match(r"^AUTHENTICATE PLAIN (\S+)$", rest)
        self.assertTrue(m, "curl did not send AUTHENTICATE PLAIN with SASL-IR: %r" % rest)
        self.assertEqual(base64.b64decode(m.group(1)), b"\0demo\0demo")
        self.assertFalse([r for (_t, r) in cmds if r.upper().startswith("LOGIN ")], cmds)
        self.assertRegex(err, r"(?m)^< %s OK" % re.escape(tag))

    def test_authenticate_login_mechanism(self):
        rc, out, err = self.curl("-v", "--login-options", "AUTH=LOGIN")
        self.assertEqual(rc, 0, err)
        cmds = self.sent(err)
        self.assertTrue([r for (_t, r) in cmds if r.startswith("AUTHENTICATE LOGIN")], cmds)
        self.assertEqual(sorted(self.listed(out)), sorted(T.DEMO_FOLDERS))

    def test_authenticate_login_mechanism_wrong_password(self):
        rc, out, err = self.curl("--login-options", "AUTH=LOGIN", password="wrong")
        self.assertEqual(rc, 67, err)

    def test_custom_list_command(self):
        rc, out, err = self.curl("-X", 'LIST "" "S*"')
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.listed(out), ["Sent"])

    def test_many_connections(self):
        """curl opens a connection per command: ten in a row all work."""
        for _ in range(10):
            rc, out, err = self.curl()
            self.assertEqual(rc, 0, err)
            self.assertEqual(len(self.listed(out)), len(T.DEMO_FOLDERS))


if __name__ == "__main__":
    T.main()
