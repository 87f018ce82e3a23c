#!/usr/bin/env python3
"""Interop: the daemon's TLS with independent TLS stacks: gnutls-cli and
openssl s_client on the implicit-TLS port and with STARTTLS; protocol
versions (1.0/1.1 refused, 1.2/1.3 served), ALPN, encrypted and mismatched
keys, RSA and ECDSA certificates, a certificate swap by SIGHUP, and the TLS
close at LOGOUT. (Python ssl/imaplib/curl basics are in test_tls.py.)"""

import os
import re
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapsrv_testlib as T  # noqa: E402

GREETING = "interop TLS ready"
PW_CAPS = T.BASE_CAPS | {"AUTH=PLAIN", "AUTH=LOGIN"}

# Scripts for the command-line clients: wait for what, then send what.
IMPLICIT_SCRIPT = [(r"\* OK ", "a1 CAPABILITY\r\n"),
                   (r"a1 (OK|NO|BAD)", "a2 LOGOUT\r\n"),
                   (r"a2 (OK|NO|BAD)", None)]
# With STARTTLS the tool eats the greeting itself: start once the
# handshake is reported.
GNUTLS_STARTTLS_SCRIPT = [(r"- Handshake was completed", "a1 CAPABILITY\r\n"),
                          (r"a1 (OK|NO|BAD)", "a2 LOGOUT\r\n"),
                          (r"a2 (OK|NO|BAD)", None)]
OPENSSL_STARTTLS_SCRIPT = [(r"Verify return code: 0 \(ok\)", "a1 CAPABILITY\r\n"),
                           (r"a1 (OK|NO|BAD)", "a2 LOGOUT\r\n"),
                           (r"a2 (OK|NO|BAD)", None)]
# A handshake that should fail: wait for either outcome, then stop.
HANDSHAKE_OUTCOME = [(r"\* OK |alert|[Ee]rror|errno", None)]


def conf(p, s, cert, key, *extra):
    lines = ["# written by test_tls_clients.py",
             "imap.port = %d" % p, "imap.address = 127.0.0.1",
             "imap.greeting = \"%s\"" % GREETING,
             "imaps.port = %d" % s, "imaps.address = 127.0.0.1",
             "imaps.status = enabled", "imaps.auth.password = yes",
             "imaps.greeting = \"%s\"" % GREETING,
             "tls.cert = %s" % cert, "tls.key = %s" % key,
             "limits.auth_fail_delay = 100ms"]
    return "\n".join(lines + list(extra)) + "\n"


class TLSBase(T.DaemonTestCase):
    longMessage = False  # failure messages carry the tool's transcript
    """One daemon with a plaintext+STARTTLS port and an implicit-TLS port,
    its server certificate issued by a test CA made here."""

    def setUp(self):
        self.p, self.s = T.free_ports(2)
        self.d = self.new_daemon()
        self.certs = T.CertFactory(self.d.dir)
        self.ca = self.certs.ca("ca", "Interop TLS Test CA")
        self.cert, self.key = self.certs.server("server-ec", self.ca,
                                                cn="interop-ec")

    def start(self, *extra, cert=None, key=None):
        self.d.start(config=conf(self.p, self.s, cert or self.cert,
                                 key or self.key, *extra),
                     expect_ports=[self.p, self.s])

    # -- checks of a command-line client's transcript

    def assertSession(self, res, caps=PW_CAPS, greeting=True):
        """The tool printed the greeting (implicit TLS), the CAPABILITY
        answer `caps` for a1, and a clean LOGOUT for a2."""
        lines = res.imap_lines()
        if greeting:
            g = [ln for ln in lines if ln.startswith("* OK ")]
            self.assertTrue(g, "no greeting\n%s" % res)
            gcaps, text = T.parse_greeting_caps(g[0] + "\r\n")
            self.assertEqual(gcaps, caps, "greeting caps %s, expected %s\n%s"
                             % (sorted(gcaps or ()), sorted(caps), res))
            self.assertEqual(text, GREETING, "greeting text %r\n%s" % (text, res))
        try:
            i = next(i for i, ln in enumerate(lines) if ln.startswith("a1 "))
        except StopIteration:
            self.fail("no answer to a1 CAPABILITY\n%s" % res)
        self.assertRegex(lines[i], r"^a1 OK\b", res)
        got = T.caps_from_line(lines[i - 1])
        self.assertEqual(got, caps, "CAPABILITY %s, expected %s\n%s"
                         % (sorted(got or ()), sorted(caps), res))
        self.assertIn("* BYE Logging out", lines, res)
        self.assertTrue([ln for ln in lines if re.match(r"^a2 OK\b", ln)], res)

    def assertRefused(self, res, alert_rx):
        """The handshake failed with the server's alert: no IMAP at all."""
        self.assertNotEqual(res.rc, 0, res)
        self.assertRegex(res.out, alert_rx, res)
        self.assertEqual(res.imap_lines(), [], res)


class Clients(TLSBase):
    def setUp(self):
        super().setUp()
        self.start()

    def test_gnutls_cli_implicit_tls(self):
        res = T.gnutls_cli(self.s, self.ca[0], script=IMPLICIT_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertIn("- Status: The certificate is trusted. ", res.lines(), res)
        self.assertSession(res)

    def test_gnutls_cli_starttls(self):
        res = T.gnutls_cli(self.p, self.ca[0], ["--starttls-proto=imap"],
                           script=GNUTLS_STARTTLS_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertIn("- Status: The certificate is trusted. ", res.lines(), res)
        # after the handshake: no STARTTLS any more, passwords allowed
        self.assertSession(res, greeting=False)

    def test_openssl_s_client_implicit_tls(self):
        res = T.s_client(self.s, self.ca[0], script=IMPLICIT_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertRegex(res.info(), r"Verify return code: 0 \(ok\)", res)
        self.assertSession(res)

    def test_openssl_s_client_starttls(self):
        res = T.s_client(self.p, self.ca[0], ["-starttls", "imap"],
                         script=OPENSSL_STARTTLS_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertSession(res, greeting=False)

    def test_tls10_tls11_refused_openssl(self):
        """openssl offers exactly TLS 1.0 (1.1) at security level 0; the
        server answers a protocol_version alert, no IMAP."""
        for opt, ver in (("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")):
            with self.subTest(version=ver):
                off = self.d.log_offset()
                res = T.s_client(self.s, self.ca[0],
                                 [opt, "-cipher", "DEFAULT@SECLEVEL=0"],
                                 script=HANDSHAKE_OUTCOME)
                self.assertRefused(res, r"alert protocol version")
                self.d.wait_output(r"TLS handshake failed", after=off, timeout=3)

    def test_tls10_tls11_refused_gnutls(self):
        for ver in ("TLS1.0", "TLS1.1"):
            with self.subTest(version=ver):
                res = T.gnutls_cli(self.s, self.ca[0],
                                   ["--priority", "NORMAL:-VERS-ALL:+VERS-" + ver],
                                   script=HANDSHAKE_OUTCOME)
                self.assertRefused(res, r"Received alert \[70\]")

    def test_tls10_refused_on_starttls(self):
        res = T.s_client(self.p, self.ca[0],
                         ["-starttls", "imap", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
                         script=[(r"alert|[Ee]rror|Verify return code", None)])
        self.assertNotEqual(res.rc, 0, res)
        self.assertRegex(res.out, r"alert protocol version", res)
        self.assertEqual(res.imap_lines(), [], res)

    def test_tls12_and_tls13_work(self):
        for opt, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            with self.subTest(client="openssl", version=name):
                res = T.s_client(self.s, self.ca[0], [opt], script=IMPLICIT_SCRIPT)
                self.assertIsNone(res.missing, res)
                self.assertRegex(res.info(), r"(?m)^New, %s, Cipher is " % re.escape(name), res)
                self.assertSession(res)
        for ver in ("TLS1.2", "TLS1.3"):
            with self.subTest(client="gnutls-cli", version=ver):
                res = T.gnutls_cli(self.s, self.ca[0],
                                   ["--priority", "NORMAL:-VERS-ALL:+VERS-" + ver],
                                   script=IMPLICIT_SCRIPT)
                self.assertIsNone(res.missing, res)
                self.assertRegex(res.info(), r"(?m)^- Description: \(%s-" % re.escape(ver), res)
                self.assertSession(res)
        for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(client="python", version=ver.name):
                c = T.TLSClient(self.p, T.tls_context(self.ca[0], version=ver),
                                implicit=False)
                self.addCleanup(c.close)
                c.greeting()
                c.starttls()
                self.assertEqual(c.version(), ver.name.replace("_", "."))
                T.login(c)

    def test_alpn_imap(self):
        res = T.s_client(self.s, self.ca[0], ["-alpn", "imap"], script=IMPLICIT_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertIn("ALPN protocol: imap", res.lines(), res)
        self.assertSession(res)
        res = T.gnutls_cli(self.s, self.ca[0], ["--alpn=imap"], script=IMPLICIT_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertIn("- Application protocol: imap", res.lines(), res)
        self.assertSession(res)
        # imap among other protocols: imap is chosen
        res = T.s_client(self.s, self.ca[0], ["-alpn", "h2,imap,http/1.1"],
                         script=IMPLICIT_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertIn("ALPN protocol: imap", res.lines(), res)
        self.assertSession(res)

    def test_alpn_without_imap_refused(self):
        """RFC 7301 3.2: a client that offers only protocols the server does
        not speak gets a fatal no_application_protocol alert (120), not an
        IMAP greeting (this is also what the library's ALPN setting says)."""
        res = T.s_client(self.s, self.ca[0], ["-alpn", "http/1.1"],
                         script=HANDSHAKE_OUTCOME)
        self.assertRefused(res, r"no application protocol")

    def test_close_notify_after_logout(self):
        """RFC 8446 6.1 (and RFC 8314): the server sends close_notify before
        closing the connection after LOGOUT; a bare TCP close is a
        truncation the client must treat as an error."""
        ctx = T.tls_context(self.ca[0])
        raw = socket.create_connection((T.LOOPBACK, self.s), timeout=5)
        s = ctx.wrap_socket(raw, server_hostname="localhost",
                            suppress_ragged_eofs=False)
        self.addCleanup(s.close)
        data, deadline = b"", time.monotonic() + 5
        s.sendall(b"a1 LOGOUT\r\n")
        outcome = None
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except ssl.SSLEOFError as e:
                outcome = "TCP close without close_notify (%s)" % e
                break
            except ssl.SSLZeroReturnError:
                outcome = "close_notify"
                break
            if not chunk:
                outcome = "close_notify"
                break
            data += chunk
        self.assertIn(b"\r\na1 OK ", data)
        self.assertEqual(outcome, "close_notify", "after %r" % data)
        res = T.gnutls_cli(self.s, self.ca[0], script=IMPLICIT_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertIn("- Peer has closed the GnuTLS connection", res.lines(), res)
        self.assertNotIn("non-properly terminated", res.out, res)


class Priority(TLSBase):
    def test_tls_priority_tls13_only(self):
        """tls.priority replaces the default: TLS 1.3 only refuses 1.2."""
        self.start('tls.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3"')
        res = T.s_client(self.s, self.ca[0], ["-tls1_2"], script=HANDSHAKE_OUTCOME)
        # GnuTLS answers a 1.2-only hello with handshake_failure here
        self.assertRefused(res, r"alert (protocol version|handshake failure)")
        res = T.s_client(self.s, self.ca[0], ["-tls1_3"], script=IMPLICIT_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertSession(res)


class Keys(TLSBase):
    def check_config(self, *extra, cert=None, key=None):
        return self.d.check(config=conf(self.p, self.s, cert or self.cert,
                                        key or self.key, *extra))

    def encrypted_key_works(self, p8, password):
        self.start('tls.key_password = "%s"' % password, key=p8)
        res = T.s_client(self.s, self.ca[0], script=IMPLICIT_SCRIPT)
        self.assertIsNone(res.missing, res)
        self.assertSession(res)
        c = T.TLSClient(self.p, T.tls_context(self.ca[0]), implicit=False)
        self.addCleanup(c.close)
        c.greeting()
        c.starttls()
        T.login(c)
        self.assertNotIn(password, self.d.output())

    def test_pkcs8_key_certtool(self):
        p8 = self.d.path("key-certtool.p8")
        subprocess.run(["certtool", "--to-p8", "--load-privkey", self.key,
                        "--password", "Cert tool pw", "--outfile", p8],
                       check=True, capture_output=True, timeout=30)
        with open(p8) as f:
            self.assertIn("-----BEGIN ENCRYPTED PRIVATE KEY-----", f.read())
        self.encrypted_key_works(p8, "Cert tool pw")

    def test_pkcs8_key_openssl_aes256(self):
        p8 = self.d.path("key-openssl.p8")
        subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes256", "-in", self.key,
                        "-out", p8, "-passout", "pass:0penssl-pw"],
                       check=True, capture_output=True, timeout=30)
        with open(p8) as f:
            self.assertIn("-----BEGIN ENCRYPTED PRIVATE KEY-----", f.read())
        self.encrypted_key_works(p8, "0penssl-pw")

    def test_wrong_key_password_is_config_error(self):
        p8 = self.d.path("key.p8")
        subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes256", "-in", self.key,
                        "-out", p8, "-passout", "pass:right-one"],
                       check=True, capture_output=True, timeout=30)
        for extra in (['tls.key_password = "wrong-one"'], []):
            with self.subTest(password=extra):
                rc, out = self.check_config(*extra, key=p8)
                self.assertEqual(rc, 1, out)
                self.assertTrue([ln for ln in out.splitlines()
                                 if "tls.key" in ln and p8 in ln], out)
                self.assertNotIn("wrong-one", out)
                self.assertNotIn("right-one", out)
        # and the daemon does not start with it
        self.d.spawn(self.d.argv_for(config=conf(self.p, self.s, self.cert, p8,
                                                 'tls.key_password = "wrong-one"')))
        self.assertEqual(self.d.wait_exit(10), 1, self.d.describe())
        self.assertIn("tls.key", self.d.output())
        self.assertEqual(self.d.listening(), [])

    def test_cert_key_mismatch_is_config_error(self):
        _other_cert, other_key = self.certs.server("other", self.ca, cn="other")
        rc, out = self.check_config(key=other_key)
        self.assertEqual(rc, 1, out)
        self.assertTrue([ln for ln in out.splitlines()
                         if ("tls.key" in ln and other_key in ln) or
                         ("tls.cert" in ln and self.cert in ln)], out)

    def test_unloadable_files_are_config_errors(self):
        junk = self.d.write_file("junk.pem", "not a certificate\n")
        missing = self.d.path("missing.pem")
        for what, kw, key in (("cert junk", {"cert": junk}, "tls.cert"),
                              ("cert missing", {"cert": missing}, "tls.cert"),
                              ("key junk", {"key": junk}, "tls.key"),
                              ("key missing", {"key": missing}, "tls.key")):
            with self.subTest(what):
                rc, out = self.check_config(**kw)
                path = kw.get("cert") or kw.get("key")
                self.assertEqual(rc, 1, out)
                self.assertTrue([ln for ln in out.splitlines()
                                 if key in ln and path in ln], out)

    def test_rsa_and_ecdsa_certificates(self):
        rsa = self.certs.server("server-rsa", self.ca, cn="interop-rsa",
                                key_type="rsa", bits=2048)
        for name, (cert, key), sig, bits, gsig in (
                ("ec", (self.cert, self.key), "ECDSA", 256, "ECDSA"),
                ("rsa", rsa, "RSA(-PSS)?", 2048, "RSA")):
            with self.subTest(name):
                d = self.new_daemon()
                p, s = T.free_ports(2)
                d.start(config=conf(p, s, cert, key), expect_ports=[p, s])
                for opt in ("-tls1_2", "-tls1_3"):
                    res = T.s_client(s, self.ca[0], [opt], script=IMPLICIT_SCRIPT)
                    self.assertIsNone(res.missing, res)
                    self.assertRegex(res.info(), r"(?m)^Peer signature type: %s$" % sig, res)
                    self.assertRegex(res.info(), r"(?m)^Server public key is %d bit$" % bits, res)
                    self.assertRegex(res.info(), r"subject=CN = interop-%s" % name, res)
                    self.assertSession(res)
                res = T.gnutls_cli(s, self.ca[0], script=IMPLICIT_SCRIPT)
                self.assertIsNone(res.missing, res)
                self.assertRegex(res.info(), r"(?m)^- Description: \(TLS1\.3-X\.509\)-"
                                          r"\([^)]*\)-\(%s" % gsig, res)
                self.assertSession(res)
                d.stop()


class SighupSwap(TLSBase):
    def setUp(self):
        super().setUp()
        self.a = self.certs.server("cert-a", self.ca, cn="interop-cert-a")
        self.b = self.certs.server("cert-b", self.ca, cn="interop-cert-b")
        self.start(cert=self.a[0], key=self.a[1])

    def reload_to(self, cert, key, expect=r"reloaded"):
        off = self.d.log_offset()
        self.d.write_config(conf(self.p, self.s, cert, key))
        self.d.reload()
        self.d.wait_output(expect, after=off, timeout=5)
        return off

    def subject_seen(self, port, starttls=False):
        """The CN of the certificate that gnutls-cli and openssl s_client
        each see on a new connection."""
        g = T.gnutls_cli(port, self.ca[0],
                         ["--starttls-proto=imap"] if starttls else [],
                         script=GNUTLS_STARTTLS_SCRIPT if starttls else IMPLICIT_SCRIPT)
        self.assertIsNone(g.missing, g)
        gm = re.findall(r"(?m)^ - subject `CN=([^']*)'", g.info())
        o = T.s_client(port, self.ca[0], ["-starttls", "imap"] if starttls else [],
                       script=OPENSSL_STARTTLS_SCRIPT if starttls else IMPLICIT_SCRIPT)
        self.assertIsNone(o.missing, o)
        om = re.findall(r"(?m)^subject=CN = (\S+)$", o.info())
        self.assertEqual(len(gm), 1, g)
        self.assertEqual(len(om), 1, o)
        self.assertEqual(gm[0], om[0], "gnutls-cli and openssl disagree\n%s\n%s" % (g, o))
        return gm[0]

    def test_sighup_swaps_certificate(self):
        ctx = T.tls_context(self.ca[0])
        old = T.TLSClient(self.s, ctx)
        self.addCleanup(old.close)
        old.greeting()
        T.login(old)
        self.assertEqual(old.peer_subject()["commonName"], "interop-cert-a")
        self.assertEqual(self.subject_seen(self.s), "interop-cert-a")

        self.reload_to(*self.b)
        self.assertEqual(self.subject_seen(self.s), "interop-cert-b")
        self.assertEqual(self.subject_seen(self.p, starttls=True), "interop-cert-b")
        new = T.TLSClient(self.s, ctx)
        self.addCleanup(new.close)
        new.greeting()
        self.assertEqual(new.peer_subject()["commonName"], "interop-cert-b")
        # the session opened before the reload goes on, on certificate A
        _u, t = old.command("n1", "NOOP")
        self.assertTaggedOK(t, "n1")
        unt, t = old.command("n2", 'LIST "" "*"')
        self.assertTaggedOK(t, "n2")
        self.assertEqual(len(unt), len(T.DEMO_FOLDERS), unt)
        self.assertEqual(old.peer_subject()["commonName"], "interop-cert-a")

    def test_sighup_with_broken_key_keeps_old_certificate(self):
        """A reload whose key does not match its certificate is refused
        whole: new connections still get certificate A."""
        off = self.reload_to(self.b[0], self.a[1], expect=r"(?i)error|refused|fail")
        self.assertTrue(self.d.running(), self.d.describe())
        self.assertIn(self.a[1], self.d.output()[off:])
        self.assertEqual(self.subject_seen(self.s), "interop-cert-a")
        # and a good reload afterwards still works
        self.reload_to(*self.b)
        self.assertEqual(self.subject_seen(self.s), "interop-cert-b")


if __name__ == "__main__":
    T.main()
