#!/usr/bin/env python3
"""Interop: TLS client certificates and AUTHENTICATE EXTERNAL (Python's ssl
with load_cert_chain, and openssl s_client -cert/-key), and the per-port
authentication matrix (POLICY.md: imaps.auth.password x
imaps.auth.client_cert, imap.auth.password x imap.auth.require_tls, "Nobody
can log in").

A test CA is made with certtool once for the module: a server certificate
(DNS SAN localhost, IP SAN 127.0.0.1) and client certificates:
  alice    CN "Alice Example", e-mail SAN alice@example.com -> alice@example.com
  bob      CN "bob", no SAN                                 -> bob
  both     CN "bob", e-mail SAN alice@example.com           -> alice@example.com
  mallory  CN "mallory" (valid, not in the users file)      -> refused
  expired  CN "bob", valid 2019-01-01 .. 2020-01-01         -> refused
  revoked  CN "bob", listed in the CA's CRL                 -> refused
  foreign  CN "bob", issued by another CA                   -> refused
"""

import base64
import os
import re
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402

NOT_ENABLED = b"* BYE [UNAVAILABLE] This site is not enabled on the server\r\n"
AUTH_FAILED = "NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
FAIL_DELAY = 0.1            # limits.auth_fail_delay below
USERS = "alice@example.com:{PLAIN}alice-pw\nbob:{PLAIN}bob-pw\n"

PW = {"AUTH=PLAIN", "AUTH=LOGIN"}
EXT = {"AUTH=EXTERNAL"}
OFF = {"LOGINDISABLED"}

PKI = {}          # name -> path, made in setUpModule
_PKI_DIR = []


def setUpModule():
    d = tempfile.mkdtemp(prefix="imapsrv-interop-pki-")
    _PKI_DIR.append(d)
    try:
        f = T.CertFactory(d)
        ca = f.ca("ca", "Interop Client Test CA")
        other = f.ca("other-ca", "Interop Other CA")
        PKI["ca"] = ca[0]
        PKI["server"] = f.server("server", ca)
        PKI["alice"] = f.issue("alice", ca, cn="Alice Example",
                               email="alice@example.com", client=True)
        PKI["bob"] = f.issue("bob", ca, cn="bob", client=True)
        PKI["both"] = f.issue("both", ca, cn="bob", email="alice@example.com",
                              client=True)
        PKI["mallory"] = f.issue("mallory", ca, cn="mallory", client=True)
        PKI["expired"] = f.issue("expired", ca, cn="bob", client=True,
                                 activation="2019-01-01 00:00:00",
                                 expiration="2020-01-01 00:00:00")
        PKI["revoked"] = f.issue("revoked", ca, cn="bob", client=True,
                                 serial=4242)
        PKI["foreign"] = f.issue("foreign", other, cn="bob", client=True)
        PKI["crl"] = f.crl("crl", ca, revoked=[PKI["revoked"][0]])
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    for d in _PKI_DIR:
        shutil.rmtree(d, ignore_errors=True)
    del _PKI_DIR[:]


def b64(s):
    return base64.b64encode(s.encode()).decode()


class CertBase(T.DaemonTestCase):
    def start(self, imaps=None, imap=None, users=True, **extra):
        """A daemon with the test PKI. imaps / imap: dicts of listener keys
        (None: that listener disabled / default)."""
        d = self.new_daemon()
        self.p, self.s = T.free_ports(2)
        ov = {"imap.port": self.p, "imap.address": T.LOOPBACK,
              "imaps.port": self.s, "imaps.address": T.LOOPBACK,
              "imaps.status": "disabled",
              "tls.cert": PKI["server"][0], "tls.key": PKI["server"][1],
              "tls.ca": PKI["ca"], "tls.crl": PKI["crl"],
              "limits.auth_fail_delay": "100ms"}
        if users:
            ov["users"] = d.write_file("users", USERS)
        expect = []
        if imaps is not None:
            ov["imaps.status"] = "enabled"
            ov.update({"imaps." + k: v for k, v in imaps.items()})
            expect.append(self.s)
        if imap is not None:
            ov.update({"imap." + k: v for k, v in imap.items()})
        if ov.get("imap.status", "enabled") != "disabled":
            expect.append(self.p)
        ov.update(extra)
        d.start(ov, expect_ports=expect)
        self.d = d
        return d

    def connect(self, who=None, port=None):
        """A TLS client on the implicit-TLS port presenting PKI[who]'s
        certificate (None: no certificate)."""
        cert, key = PKI[who] if who else (None, None)
        c = T.TLSClient(port or self.s, T.tls_context(PKI["ca"], cert, key))
        self.addCleanup(c.close)
        return c

    def external(self, c, tag="x1", ir="="):
        """AUTHENTICATE EXTERNAL with an initial response: (tagged line,
        seconds it took)."""
        t0 = time.monotonic()
        _u, t = c.command(tag, "AUTHENTICATE EXTERNAL %s" % ir)
        return t, time.monotonic() - t0

    def logged_in_as(self, off):
        """The user names the log reports as logged in since offset off."""
        deadline = time.monotonic() + 2
        while True:
            users = re.findall(r"user (\S+) logged in", self.d.output()[off:])
            if users or time.monotonic() > deadline:
                return users
            time.sleep(0.02)

    def assertAuthFailed(self, t, took, tag="x1"):
        self.assertLine(t, "%s %s" % (tag, AUTH_FAILED))
        self.assertGreaterEqual(took, FAIL_DELAY * 0.9,
                                "failure answered before limits.auth_fail_delay")

    def assertStillUnauthenticated(self, c, tag="z1"):
        _u, t = c.command(tag, 'LIST "" "*"')
        self.assertRegex(t, rb"^" + tag.encode() + rb" (NO|BAD) ")


# ------------------------------------------------------------ EXTERNAL


class MappingByCN(CertBase):
    """tls.client_cert_user = cn: the CN names the user even when the
    certificate has an e-mail address."""

    def setUp(self):
        self.start(imaps={"auth.password": "yes", "auth.client_cert": "yes"},
                   **{"tls.client_cert_user": "cn"})

    def test_cn_picked_over_email(self):
        off = self.d.log_offset()
        c = self.connect("both")  # CN bob, e-mail alice@example.com
        c.greeting()
        t, _took = self.external(c)
        self.assertRegex(t, rb"^x1 OK ")
        self.assertEqual(self.logged_in_as(off), ["bob"], self.d.log()[off:])

    def test_cn_not_a_user_is_refused(self):
        c = self.connect("alice")  # CN "Alice Example": no such user
        c.greeting()
        t, took = self.external(c)
        self.assertAuthFailed(t, took)

class External(CertBase):
    def setUp(self):
        self.start(imaps={"auth.password": "yes", "auth.client_cert": "yes"})

    def login_ok(self, who, expect_user, ir="="):
        off = self.d.log_offset()
        c = self.connect(who)
        c.greeting()
        self.assertEqual(T.capability(c), T.BASE_CAPS | PW | EXT)
        t, _took = self.external(c, ir=ir)
        self.assertRegex(t, rb"^x1 OK ")
        # logged in: a command that needs it works, and the log names the user
        unt, t = c.command("l1", 'LIST "" "*"')
        self.assertTaggedOK(t, "l1")
        self.assertIn(b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n', unt)
        self.assertEqual(self.logged_in_as(off), [expect_user], self.d.log()[off:])
        self.assertEqual(T.capability(c, "c2"), T.BASE_CAPS)
        return c

    def test_email_certificate_logs_in_as_alice(self):
        self.login_ok("alice", "alice@example.com")

    def test_cn_only_certificate_logs_in_as_bob(self):
        self.login_ok("bob", "bob")

    def test_email_wins_over_cn(self):
        self.login_ok("both", "alice@example.com")

    def test_authzid_equal_to_the_user(self):
        self.login_ok("bob", "bob", ir=b64("bob"))
        self.login_ok("alice", "alice@example.com", ir=b64("alice@example.com"))

    def test_authzid_different_from_the_user(self):
        off = self.d.log_offset()
        c = self.connect("bob")
        c.greeting()
        t, _took = self.external(c, ir=b64("alice@example.com"))
        self.assertRegex(t, rb"^x1 NO \[AUTHORIZATIONFAILED\] ")
        self.assertStillUnauthenticated(c)
        self.assertEqual(self.logged_in_as(off), [])
        # the certificate itself is still good for its own user
        t, _took = self.external(c, "x2")
        self.assertRegex(t, rb"^x2 OK ")

    def test_external_without_initial_response(self):
        """SASL without SASL-IR: `+ ` then an empty response."""
        off = self.d.log_offset()
        c = self.connect("bob")
        c.greeting()
        c.send("x1 AUTHENTICATE EXTERNAL\r\n")
        self.assertRegex(c.readline(), rb"^\+( .*)?\r\n$")
        c.send("\r\n")
        _u, t = c.read_until_tagged("x1")
        self.assertRegex(t, rb"^x1 OK ")
        self.assertEqual(self.logged_in_as(off), ["bob"])

    def test_openssl_s_client_with_certificate(self):
        cert, key = PKI["alice"]
        res = T.s_client(self.s, PKI["ca"], ["-cert", cert, "-key", key], script=[
            (r"\* OK ", "a1 CAPABILITY\r\n"),
            (r"a1 (OK|NO|BAD)", "a2 AUTHENTICATE EXTERNAL =\r\n"),
            (r"a2 (OK|NO|BAD)", 'a3 LIST "" "*"\r\n'),
            (r"a3 (OK|NO|BAD)", "a4 LOGOUT\r\n"), (r"a4 (OK|NO|BAD)", None)])
        self.assertIsNone(res.missing, str(res))
        lines = res.imap_lines()
        caps = [T.caps_from_line(ln) for ln in lines
                if ln.startswith("* CAPABILITY ")]
        self.assertEqual(caps, [T.BASE_CAPS | {"AUTH=PLAIN", "AUTH=LOGIN",
                                               "AUTH=EXTERNAL"}], str(res))
        self.assertTrue([ln for ln in lines if ln.startswith("a2 OK ")], str(res))
        self.assertIn('* LIST (\\HasNoChildren) "/" "INBOX"', lines, str(res))
        self.assertTrue([ln for ln in lines if ln.startswith("a3 OK")], str(res))

    def test_greeting_capabilities_include_external(self):
        """The greeting is sent after the handshake, so its [CAPABILITY]
        must already show AUTH=EXTERNAL for a verified certificate, the same
        set CAPABILITY returns (mbsync reads only the greeting)."""
        c = self.connect("alice")
        gcaps, _text = T.parse_greeting_caps(c.greeting())
        self.assertEqual(T.capability(c), T.BASE_CAPS | PW | EXT)
        self.assertEqual(gcaps, T.BASE_CAPS | PW | EXT)

    def test_no_certificate(self):
        off = self.d.log_offset()
        c = self.connect(None)
        gcaps, _text = T.parse_greeting_caps(c.greeting())
        self.assertEqual(gcaps, T.BASE_CAPS | PW)
        self.assertEqual(T.capability(c), T.BASE_CAPS | PW)
        t, took = self.external(c)
        self.assertAuthFailed(t, took)
        self.assertStillUnauthenticated(c)
        self.d.wait_output(r"no client certificate", after=off, timeout=2)
        # passwords still work on this port
        T.login(c, user="bob", password="bob-pw")

    def refused(self, who, reason_rx, caps=T.BASE_CAPS | PW):
        off = self.d.log_offset()
        c = self.connect(who)
        c.greeting()
        self.assertEqual(T.capability(c), caps)
        t, took = self.external(c)
        self.assertAuthFailed(t, took)
        self.assertStillUnauthenticated(c)
        self.assertEqual(self.logged_in_as(off), [])
        try:
            self.d.wait_output(reason_rx, after=off, timeout=2)
        except AssertionError:
            self.fail("log does not give the reason (%r) for %s:\n%s"
                      % (reason_rx, who, self.d.output()[off:]))
        # the reason is for the log only
        self.assertNotRegex(t, reason_rx.encode())

    def test_other_ca(self):
        self.refused("foreign", r"(?i)EXTERNAL.*(signer|issuer|not trusted|unknown ca)")

    def test_expired(self):
        self.refused("expired", r"EXTERNAL.*expired")

    def test_revoked(self):
        self.refused("revoked", r"EXTERNAL.*revoked")

    def test_unmapped(self):
        """A valid certificate (so AUTH=EXTERNAL is offered) naming no user:
        refused, and the log says which name found no user."""
        self.refused("mallory", r"EXTERNAL.*mallory", caps=T.BASE_CAPS | PW | EXT)


class ConfigErrors(CertBase):
    def test_client_cert_needs_ca(self):
        d = self.new_daemon()
        p, s = T.free_ports(2)
        conf = "\n".join([
            "imap.port = %d" % p, "imap.address = 127.0.0.1",
            "imaps.port = %d" % s, "imaps.address = 127.0.0.1",
            "imaps.status = enabled", "imaps.auth.client_cert = yes",
            "tls.cert = %s" % PKI["server"][0], "tls.key = %s" % PKI["server"][1]]) + "\n"
        rc, out = d.check(config=conf)
        self.assertEqual(rc, 1, out)
        self.assertIn("tls.ca", out)


# ------------------------------------------------------ per-port matrix

class ImapsMatrix(CertBase):
    """imaps.auth.password x imaps.auth.client_cert on the implicit-TLS
    port; a client with alice's certificate and one without."""

    def run_case(self, password, client_cert, caps_cert, caps_nocert):
        self.start(imaps={"auth.password": password, "auth.client_cert": client_cert})
        # with a verified certificate
        c = self.connect("alice")
        c.greeting()
        self.assertEqual(T.capability(c), caps_cert)
        t, _took = self.external(c)
        if client_cert == "yes":
            self.assertRegex(t, rb"^x1 OK ")
        else:
            self.assertRegex(t, rb"^x1 NO ")
            self.assertStillUnauthenticated(c)
        # without one
        c = self.connect(None)
        gcaps, _text = T.parse_greeting_caps(c.greeting())
        self.assertEqual(gcaps, caps_nocert)
        self.assertEqual(T.capability(c), caps_nocert)
        t, _took = self.external(c)
        self.assertRegex(t, rb"^x1 NO ")
        _u, t = c.command("l1", "LOGIN bob bob-pw")
        if password == "yes":
            self.assertTaggedOK(t, "l1")
        else:
            self.assertRegex(t, rb"^l1 NO ")
            self.assertStillUnauthenticated(c)
            _u, t = c.command("l2", "AUTHENTICATE PLAIN " + b64("\0bob\0bob-pw"))
            self.assertRegex(t, rb"^l2 NO ")

    def test_password_yes_client_cert_yes(self):
        self.run_case("yes", "yes", T.BASE_CAPS | PW | EXT, T.BASE_CAPS | PW)

    def test_password_yes_client_cert_no(self):
        self.run_case("yes", "no", T.BASE_CAPS | PW, T.BASE_CAPS | PW)

    def test_password_no_client_cert_yes(self):
        self.run_case("no", "yes", T.BASE_CAPS | EXT | OFF, T.BASE_CAPS | OFF)

    def test_password_no_client_cert_no(self):
        """Nobody can log in: after the handshake the client gets the BYE
        instead of a greeting, with and without a certificate."""
        self.start(imaps={"auth.password": "no", "auth.client_cert": "no"})
        for who in ("alice", None):
            with self.subTest(certificate=who):
                c = self.connect(who)
                self.assertLine(c.readline(), NOT_ENABLED)
                self.assertTrue(c.closed_within(3), "connection left open")
        # the plaintext port of the same daemon is not affected
        r = self.raw(self.p)
        self.assertTrue(r.greeting().startswith(b"* OK [CAPABILITY "))


class ImapMatrix(CertBase):
    """imap.auth.password x imap.auth.require_tls on the plaintext port
    (STARTTLS offered: a certificate is configured)."""

    def plain(self):
        c = T.TLSClient(self.p, T.tls_context(PKI["ca"]), implicit=False)
        self.addCleanup(c.close)
        return c

    def test_password_yes_require_tls_no(self):
        self.start(imap={"auth.password": "yes", "auth.require_tls": "no"})
        c = self.plain()
        gcaps, _t = T.parse_greeting_caps(c.greeting())
        self.assertEqual(gcaps, T.BASE_CAPS | {"STARTTLS"} | PW)
        self.assertEqual(T.capability(c), T.BASE_CAPS | {"STARTTLS"} | PW)
        _u, t = c.command("x1", "AUTHENTICATE EXTERNAL =")
        self.assertRegex(t, rb"^x1 NO ")
        T.login(c, user="bob", password="bob-pw")
        c = self.plain()
        c.greeting()
        c.starttls()
        self.assertEqual(T.capability(c), T.BASE_CAPS | PW)
        T.login(c, user="alice@example.com", password="alice-pw")

    def test_password_yes_require_tls_yes(self):
        self.start(imap={"auth.password": "yes", "auth.require_tls": "yes"})
        c = self.plain()
        gcaps, _t = T.parse_greeting_caps(c.greeting())
        self.assertEqual(gcaps, T.BASE_CAPS | {"STARTTLS"} | OFF)
        self.assertEqual(T.capability(c), T.BASE_CAPS | {"STARTTLS"} | OFF)
        _u, t = c.command("l1", "LOGIN bob bob-pw")
        self.assertRegex(t, rb"^l1 NO \[PRIVACYREQUIRED\] ")
        _u, t = c.command("l2", "AUTHENTICATE PLAIN " + b64("\0bob\0bob-pw"))
        self.assertRegex(t, rb"^l2 NO \[PRIVACYREQUIRED\] ")
        self.assertStillUnauthenticated(c)
        c.starttls()
        self.assertEqual(T.capability(c), T.BASE_CAPS | PW)
        T.login(c, user="bob", password="bob-pw")

    def test_password_no(self):
        """Nobody can log in on the plaintext port, whatever require_tls."""
        for rt in ("no", "yes"):
            with self.subTest(require_tls=rt):
                self.start(imap={"auth.password": "no", "auth.require_tls": rt})
                c = self.raw(self.p)
                self.assertLine(c.readline(), NOT_ENABLED)
                self.assertTrue(c.closed_within(3), "connection left open")
                self.d.stop()


if __name__ == "__main__":
    T.main()
