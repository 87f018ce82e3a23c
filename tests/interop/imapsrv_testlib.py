"""Shared helpers for the libimapsrv interop tests.

Every test starts the example daemon (or another example host) on free
loopback ports and talks to it with real clients (Python's imaplib, curl) or,
for protocol details those clients cannot express, with RawClient below.

Environment:
  IMAPSRVD       path of examples/imapsrvd/imapsrvd
  EXTERNAL_LOOP  path of examples/external-loop/external-loop
  CURL           curl command (default "curl")

Robustness rules kept here so that no test has to remember them: every socket
read has a deadline, every started process is killed in cleanup (even when
the test failed), every temporary file lives in a tempfile directory that is
removed afterwards, and every single test is cut off by an alarm after
TEST_TIMEOUT seconds.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

DEFAULT_IMAPSRVD = "/work/build-dev/examples/imapsrvd/imapsrvd"
DEFAULT_EXTERNAL_LOOP = "/work/build-dev/examples/external-loop/external-loop"

IMAPSRVD = os.environ.get("IMAPSRVD") or DEFAULT_IMAPSRVD
EXTERNAL_LOOP = os.environ.get("EXTERNAL_LOOP") or DEFAULT_EXTERNAL_LOOP
CURL = os.environ.get("CURL") or "curl"

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0     # until the log shows every expected listener
STOP_TIMEOUT = 5.0       # SIGTERM -> exit, then SIGKILL
IO_TIMEOUT = 5.0         # default deadline of one socket read
TEST_TIMEOUT = 40        # one test, whatever it does

# The demo store of the daemon: INBOX plus these folders, delimiter "/".
DEMO_FOLDERS = {"INBOX", "Sent", "Drafts", "Trash", "Archive"}
DEMO_USER, DEMO_PASS = "demo", "demo"

# What the greeting must advertise (the daemon's spec).
REQUIRED_CAPS = {"IMAP4REV1", "LITERAL+", "SASL-IR", "ID", "ENABLE",
                 "AUTH=PLAIN", "AUTH=LOGIN"}

# A start line of a listener in the log; "stopped listening on" must not
# count as one.
LISTEN_RE = re.compile(r"(?<!stopped )listening on (\S+):(\d+)(?: (\S+))?(?: (\S+))?")


# --------------------------------------------------------------------- ports

def free_port(host=LOOPBACK):
    """A TCP port that was free on host a moment ago."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(n, host=LOOPBACK):
    """n distinct free ports (held open together while choosing them)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def port_refuses(port, host=LOOPBACK, timeout=2.0):
    """True if a TCP connect to host:port is refused."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


def wait_port_refuses(port, host=LOOPBACK, timeout=3.0):
    """Poll until host:port refuses connections; True if it did in time."""
    deadline = time.monotonic() + timeout
    while True:
        if port_refuses(port, host):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# ------------------------------------------------------------------ processes

class ServerProcess:
    """A server process (imapsrvd or another example host) with its stdout
    and stderr captured to files in a private temporary directory."""

    def __init__(self, binary, name="server"):
        self.binary = binary
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="imapsrv-interop-")
        self.proc = None
        self.exit_code = None
        self.killed = False
        self._err_path = os.path.join(self.dir, name + ".stderr")
        self._out_path = os.path.join(self.dir, name + ".stdout")

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_file(self, name, text, mode=0o600):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def check_binary(self):
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise AssertionError("%s binary not found or not executable: %s"
                                 % (self.name, self.binary))

    def spawn(self, argv):
        self.check_binary()
        self.argv = argv
        self.exit_code = None
        self.killed = False
        err = open(self._err_path, "ab")
        out = open(self._out_path, "ab")
        try:
            # Run in the private directory: the embedded default writes its
            # self-signed certificate under the working directory.
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, cwd=self.dir,
                                         start_new_session=True)
        finally:
            err.close()
            out.close()

    # -- output

    def log(self):
        """Everything the process wrote to stderr so far (text)."""
        try:
            with open(self._err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout(self):
        try:
            with open(self._out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def output(self):
        """stderr and stdout together (for hosts that log to either)."""
        return self.log() + self.stdout()

    def log_offset(self):
        return len(self.output())

    def describe(self):
        return ("%s %s\n--- stderr ---\n%s--- stdout ---\n%s"
                % (self.name, " ".join(getattr(self, "argv", [])),
                   self.log(), self.stdout()))

    def wait_output(self, regex, after=0, timeout=5.0):
        """Wait until the output (from offset `after`) matches regex; return
        the match, or fail with the output."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            text = self.output()[after:]
            m = rx.search(text)
            if m:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                self.exit_code = self.proc.returncode
                raise AssertionError("%s exited (%s) before its output matched %r\n%s"
                                     % (self.name, self.exit_code, regex,
                                        self.describe()))
            if time.monotonic() >= deadline:
                raise AssertionError("%s: no output matching %r within %.1fs\n%s"
                                     % (self.name, regex, timeout, self.describe()))
            time.sleep(0.02)

    def listening(self, after=0):
        """[(address, port, name, status)] of every listener start line."""
        res = []
        for m in LISTEN_RE.finditer(self.output()[after:]):
            res.append((m.group(1), int(m.group(2)), m.group(3), m.group(4)))
        return res

    def wait_listening(self, ports, after=0, timeout=START_TIMEOUT,
                       address=LOOPBACK):
        """Wait until `listening on ADDRESS:PORT` was logged for every port
        (address None: any address)."""
        want = set(ports)
        deadline = time.monotonic() + timeout
        while True:
            seen = {p for (a, p, _n, _s) in self.listening(after)
                    if address is None or a == address}
            if want <= seen:
                return
            if self.proc.poll() is not None:
                self.exit_code = self.proc.returncode
                raise AssertionError("%s exited (%s) before listening on %s\n%s"
                                     % (self.name, self.exit_code,
                                        sorted(want - seen), self.describe()))
            if time.monotonic() >= deadline:
                raise AssertionError("%s: not listening on %s after %.0fs\n%s"
                                     % (self.name, sorted(want - seen), timeout,
                                        self.describe()))
            time.sleep(0.02)

    # -- signals and exit

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if not self.running():
            raise AssertionError("%s is not running (exit %s)\n%s"
                                 % (self.name, self.proc.returncode if self.proc else None,
                                    self.describe()))
        self.proc.send_signal(sig)

    def reload(self):
        self.signal(signal.SIGHUP)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Exit code, or None if still running after timeout."""
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, SIGKILL after timeout. Returns the exit code (the
        negative signal number if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait_exit(timeout) is None:
                self.killed = True
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.exit_code = self.proc.returncode
        return self.exit_code

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def cleanup(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Daemon(ServerProcess):
    """The example daemon: `imapsrvd [-c FILE] -o key=value ...`."""

    def __init__(self, binary=None):
        super().__init__(binary or IMAPSRVD, "imapsrvd")
        self.config_path = None

    def argv_for(self, overrides=None, config=None, extra_args=()):
        argv = [self.binary]
        if config is not None:
            self.config_path = self.write_file("imapsrvd.conf", config)
            argv += ["-c", self.config_path]
        overrides = dict(overrides or {})
        if config is None and "imaps.port" not in overrides:
            # The embedded default also serves TLS on 1993: move it off the
            # fixed port so that daemons can run side by side.
            overrides["imaps.port"] = free_port()
        for k, v in overrides.items():
            argv += ["-o", "%s=%s" % (k, v)]
        argv += list(extra_args)
        return argv

    def write_config(self, text):
        """Rewrite the config file in place (for reload tests)."""
        assert self.config_path, "daemon was not started with a config file"
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    def start(self, overrides=None, config=None, expect_ports=None,
              extra_args=(), address=LOOPBACK, timeout=START_TIMEOUT):
        """Start the daemon; wait until its log shows a listener for every
        port in expect_ports (default: imap.port of overrides)."""
        self.port = int(overrides["imap.port"]) if overrides and "imap.port" in overrides \
            else None
        if expect_ports is None:
            expect_ports = []
            if overrides and "imap.port" in overrides and \
                    overrides.get("imap.status", "enabled") != "disabled":
                expect_ports = [int(overrides["imap.port"])]
        self.spawn(self.argv_for(overrides, config, extra_args))
        if expect_ports:
            self.wait_listening(expect_ports, timeout=timeout, address=address)
        return self

    def check(self, overrides=None, config=None, timeout=10):
        """Run with -t: (exit code, stdout + stderr)."""
        self.check_binary()
        argv = self.argv_for(overrides, config, ["-t"])
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           cwd=self.dir,
                           timeout=timeout)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


# ---------------------------------------------------------------- raw client

class ConnectionClosed(AssertionError):
    def __init__(self, msg, partial=b""):
        super().__init__(msg)
        self.partial = partial


class RawClient:
    """A line-oriented IMAP client on a plain socket. Every read has a
    deadline; failures carry the bytes received so far."""

    def __init__(self, port, host=LOOPBACK, timeout=IO_TIMEOUT, source=None):
        self.timeout = timeout
        self.buf = b""
        self.transcript = []
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append(b"C: " + data)
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if chunk:
            self.transcript.append(b"S: " + chunk)
        return chunk

    def readline(self, timeout=None):
        """One line including its CRLF (bytes). Fails on timeout or close."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self._fill(deadline)
            except socket.timeout:
                raise AssertionError("timeout waiting for a line; partial %r"
                                     % self.buf) from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ConnectionClosed("connection closed; partial line %r"
                                       % self.buf, self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while len(self.buf) < n:
            try:
                chunk = self._fill(deadline)
            except socket.timeout:
                raise AssertionError("timeout reading %d bytes; have %r"
                                     % (n, self.buf)) from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ConnectionClosed("closed reading %d bytes; have %r"
                                       % (n, self.buf), self.buf)
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, timeout=None):
        """One response line with any literals it carries inlined."""
        line = self.readline(timeout)
        while True:
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if not m:
                return line
            line += self.read_exact(int(m.group(1)), timeout)
            line += self.readline(timeout)

    def read_until_tagged(self, tag, timeout=None):
        """(untagged/continuation lines, tagged line) up to `tag`'s
        completion."""
        if isinstance(tag, str):
            tag = tag.encode()
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        lines = []
        while True:
            left = max(0.01, deadline - time.monotonic())
            line = self.read_response(left)
            if line.startswith(tag + b" "):
                return lines, line
            lines.append(line)

    def command(self, tag, text, timeout=None):
        self.send("%s %s\r\n" % (tag, text))
        return self.read_until_tagged(tag, timeout)

    def read_until_closed(self, timeout=None):
        """All bytes until the peer closes; fails if it does not in time."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        data, self.buf = self.buf, b""
        while True:
            try:
                chunk = self._fill(deadline)
            except socket.timeout:
                raise AssertionError("connection not closed in time; got %r"
                                     % data) from None
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk

    def closed_within(self, timeout):
        """True if the peer closed (EOF/RST) within timeout with no more data."""
        try:
            rest = self.read_until_closed(timeout)
        except AssertionError:
            return False
        return rest == b""

    def greeting(self, timeout=None):
        return self.readline(timeout)


def parse_greeting_caps(line):
    """Capabilities from `* OK [CAPABILITY ...] text` the way mbsync reads
    them; None if the greeting carries none. Returns (set, text)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    m = re.match(r"^\* OK \[CAPABILITY ([^\]]*)\] ?(.*)\r\n$", line)
    if not m:
        return None, None
    return {c.upper() for c in m.group(1).split()}, m.group(2)


def make_cert(test, proc):
    """A self-signed certificate and key for localhost / 127.0.0.1 in the
    process's temporary directory; skips the test without openssl."""
    import shutil as _sh
    if not _sh.which("openssl"):
        test.skipTest("openssl not installed")
    cert, key = proc.path("cert.pem"), proc.path("key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    if r.returncode != 0:
        test.skipTest("openssl req failed: %r" % r.stderr[-300:])
    return cert, key


def login(client, tag="L1", user=DEMO_USER, password=DEMO_PASS):
    _u, t = client.command(tag, 'LOGIN "%s" "%s"' % (user, password))
    if not t.startswith(tag.encode() + b" OK"):
        raise AssertionError("login failed: %r" % t)


# ------------------------------------------------------------- test support

class DaemonTestCase(unittest.TestCase):
    """TestCase with helpers that register every process and socket for
    cleanup (run even when the test fails)."""

    def start_daemon(self, overrides=None, config=None, expect_ports=None,
                     **kw):
        d = Daemon()
        self.addCleanup(d.cleanup)
        d.start(overrides, config, expect_ports, **kw)
        return d

    def new_daemon(self):
        d = Daemon()
        self.addCleanup(d.cleanup)
        return d

    def raw(self, port, **kw):
        c = RawClient(port, **kw)
        self.addCleanup(c.close)
        return c

    def imap(self, port, host=LOOPBACK, timeout=IO_TIMEOUT):
        import imaplib
        m = imaplib.IMAP4(host, port, timeout=timeout)
        self.addCleanup(_close_imaplib, m)
        return m

    def assertLine(self, got, expected):
        """Exact line compare, CRLF included."""
        if isinstance(expected, str):
            expected = expected.encode()
        self.assertEqual(got, expected)

    def assertTaggedOK(self, line, tag):
        self.assertRegex(line, rb"^" + re.escape(tag.encode()) + rb" OK( .*)?\r\n$")


def _close_imaplib(m):
    try:
        m.shutdown()
    except Exception:
        pass


class _TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _TestTimeout("test took longer than %d s" % TEST_TIMEOUT)


class _Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

    def addSuccess(self, test):
        self.passed += 1
        super().addSuccess(test)

    def startTest(self, test):
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TEST_TIMEOUT)
        super().startTest(test)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)


def main(module="__main__"):
    """Run the module's tests; print `N passed, M failed[, K skipped]` as
    the last line; exit 0 only if nothing failed."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module])
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     resultclass=_Result)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + \
        len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.passed
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    sys.stderr.flush()
    sys.stdout.flush()
    print(line, flush=True)
    sys.exit(0 if failed == 0 else 1)


# ====================================================================== TLS
# Helpers of the TLS interop scripts (test_tls_clients.py,
# test_client_cert.py): a TLS RawClient, certificates made with certtool,
# and a driver for interactive command-line TLS clients (gnutls-cli,
# openssl s_client).

# Every state of a daemon with a store: the protocol base plus the mailbox
# engine's extensions (APPENDLIMIT's value is the default 64 MiB).
BASE_CAPS = {"IMAP4REV1", "IMAP4REV2", "LITERAL+", "SASL-IR", "ID", "ENABLE",
             "IDLE", "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN",
             "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
             "CREATE-SPECIAL-USE", "ESEARCH", "SEARCHRES", "STATUS=SIZE",
             "BINARY", "APPENDLIMIT=67108864"}
TOOL_TIMEOUT = 15.0      # one run of gnutls-cli / openssl, whatever it does


def tls_context(cafile=None, cert=None, key=None, version=None):
    """A client SSLContext that verifies the server against cafile (a path
    or a list of paths), optionally presents cert/key, optionally pinned to
    one protocol version (ssl.TLSVersion)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for ca in ([cafile] if isinstance(cafile, str) else (cafile or [])):
        ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


class TLSClient(RawClient):
    """RawClient over TLS: implicit TLS from the start, or (implicit=False)
    plaintext until starttls(). The socket reads keep their deadlines."""

    def __init__(self, port, ctx, host=LOOPBACK, server_hostname="localhost",
                 timeout=IO_TIMEOUT, implicit=True):
        super().__init__(port, host, timeout)
        self.ctx = ctx
        self.server_hostname = server_hostname
        if implicit:
            self._wrap()

    def _wrap(self):
        self.sock.settimeout(self.timeout)
        self.sock = self.ctx.wrap_socket(self.sock,
                                         server_hostname=self.server_hostname)

    def starttls(self, tag="S1"):
        """STARTTLS; fails unless answered OK with nothing after it."""
        _u, t = self.command(tag, "STARTTLS")
        if not t.startswith(tag.encode() + b" OK"):
            raise AssertionError("STARTTLS refused: %r" % t)
        if self.buf:
            raise AssertionError("plaintext after the STARTTLS OK: %r" % self.buf)
        self._wrap()
        return t

    def peer_subject(self):
        """The server certificate's subject as {"commonName": ...}."""
        cert = self.sock.getpeercert()
        return {k: v for rdn in cert.get("subject", ()) for (k, v) in rdn}

    def version(self):
        return self.sock.version()


def caps_from_line(line):
    """Capabilities (upper case) of an untagged `* CAPABILITY ...` line;
    None if the line is none."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    m = re.match(r"^\* CAPABILITY (.*)\r?\n?$", line)
    return {c.upper() for c in m.group(1).split()} if m else None


def capability(client, tag="C1"):
    """CAPABILITY on a RawClient/TLSClient: the set it lists (exactly one
    `* CAPABILITY` line and a tagged OK, or the call fails)."""
    unt, t = client.command(tag, "CAPABILITY")
    if not t.startswith(tag.encode() + b" OK"):
        raise AssertionError("CAPABILITY failed: %r" % t)
    sets = [caps_from_line(ln) for ln in unt if caps_from_line(ln) is not None]
    if len(sets) != 1:
        raise AssertionError("expected one * CAPABILITY line, got %r" % unt)
    return sets[0]


# ------------------------------------------------------ certificates (certtool)

class CertFactory:
    """Keys and certificates made with certtool in `directory` (which the
    caller removes). Every method returns absolute paths."""

    def __init__(self, directory, key_type="ecdsa"):
        if not shutil.which("certtool"):
            raise unittest.SkipTest("certtool not installed")
        self.dir = directory
        self.key_type = key_type

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, argv):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           cwd=self.dir,
                           timeout=60)
        if r.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (
                " ".join(argv), r.returncode,
                (r.stdout + r.stderr).decode("utf-8", "replace")[-1500:]))
        return r

    def key(self, name, key_type=None, bits=None):
        p = self.path(name + ".key")
        argv = ["certtool", "--generate-privkey", "--outfile", p,
                "--key-type", key_type or self.key_type]
        if bits:
            argv += ["--bits", str(bits)]
        self._run(argv)
        os.chmod(p, 0o600)
        return p

    def _template(self, name, cn, extra):
        lines = ['cn = "%s"' % cn] if cn is not None else []
        lines += list(extra)
        p = self.path(name + ".tmpl")
        with open(p, "w") as f:
            f.write("\n".join(lines) + "\n")
        return p

    @staticmethod
    def _validity(days, activation, expiration):
        if activation or expiration:
            out = []
            if activation:
                out.append('activation_date = "%s"' % activation)
            if expiration:
                out.append('expiration_date = "%s"' % expiration)
            return out
        return ["expiration_days = %d" % days]

    def ca(self, name, cn, days=2):
        """A self-signed CA: (cert, key)."""
        key = self.key(name)
        tmpl = self._template(name, cn, ["ca", "cert_signing_key",
                                         "crl_signing_key",
                                         "expiration_days = %d" % days])
        cert = self.path(name + ".pem")
        self._run(["certtool", "--generate-self-signed", "--load-privkey", key,
                   "--template", tmpl, "--outfile", cert])
        return cert, key

    def issue(self, name, ca, cn=None, email=None, dns=(), ips=(),
              server=False, client=False, days=2, activation=None,
              expiration=None, serial=None, key_type=None, bits=None):
        """A certificate signed by ca = (cert, key), or self-signed when ca
        is None: (cert, key). activation/expiration: "YYYY-MM-DD hh:mm:ss"
        (UTC), for certificates outside their validity."""
        key = self.key(name, key_type, bits)
        extra = ["signing_key"]
        if server:
            extra += ["tls_www_server", "encryption_key"]
        if client:
            extra.append("tls_www_client")
        if email:
            extra.append('email = "%s"' % email)
        extra += ['dns_name = "%s"' % d for d in dns]
        extra += ['ip_address = "%s"' % i for i in ips]
        if serial is not None:
            extra.append("serial = %d" % serial)
        extra += self._validity(days, activation, expiration)
        tmpl = self._template(name, cn, extra)
        cert = self.path(name + ".pem")
        if ca is None:
            self._run(["certtool", "--generate-self-signed", "--load-privkey",
                       key, "--template", tmpl, "--outfile", cert])
        else:
            self._run(["certtool", "--generate-certificate", "--load-privkey",
                       key, "--load-ca-certificate", ca[0],
                       "--load-ca-privkey", ca[1], "--template", tmpl,
                       "--outfile", cert])
        return cert, key

    def server(self, name, ca=None, cn="localhost", **kw):
        """A server certificate for localhost / 127.0.0.1 (DNS and IP SAN)."""
        return self.issue(name, ca, cn=cn, dns=("localhost",),
                          ips=("127.0.0.1",), server=True, **kw)

    def crl(self, name, ca, revoked=(), days=2):
        """A CRL of ca listing the certificates (paths) in revoked."""
        tmpl = self._template(name, None, ["crl_next_update = %d" % days,
                                           "crl_number = 1"])
        out = self.path(name + ".pem")
        argv = ["certtool", "--generate-crl", "--load-ca-privkey", ca[1],
                "--load-ca-certificate", ca[0], "--template", tmpl,
                "--outfile", out]
        if revoked:
            bundle = self.path(name + ".revoked.pem")
            with open(bundle, "w") as f:
                for p in revoked:
                    with open(p) as c:
                        f.write(c.read())
            argv += ["--load-certificate", bundle]
        self._run(argv)
        return out


# ------------------------------------------------ command-line TLS clients

# A line from the IMAP server in a tool's output. The tools write the
# server's bytes with write(2) but their own reports through buffered stdio
# (and stderr), so a server line can land in the middle of a report line:
# server lines are found by their CRLF, not by their position.
# (The scripts use tags of one lower-case letter and digits.)
IMAP_LINE_RE = re.compile(r"(\* [^\r\n]*|\+ [^\r\n]*|[a-z][0-9]+ "
                          r"(?:OK|NO|BAD)\b[^\r\n]*)\r\n")


class ToolResult:
    def __init__(self, argv, rc, out, missing):
        self.argv, self.rc, self.out, self.missing = argv, rc, out, missing

    def imap_lines(self):
        """The server's IMAP lines (without CRLF), in order."""
        return IMAP_LINE_RE.findall(self.out)

    def info(self):
        """The tool's own report: the output without the server's lines."""
        return IMAP_LINE_RE.sub("", self.out)

    def lines(self):
        """The lines of the tool's own report."""
        return [ln.rstrip("\r") for ln in self.info().split("\n")]

    def __str__(self):
        # without the noise of session-ticket dumps and PEM blocks
        text = re.sub(r"(?ms)^-----BEGIN ([A-Z ]+)-----$.*?^-----END \1-----$",
                      r"[\1]", self.out)
        text = re.sub(r"(?m)^ *[0-9a-f]{4} - [0-9a-f -]{20,}.*\n", "", text)
        return "$ %s\nexit %s%s\n%s" % (
            " ".join(self.argv), self.rc,
            "" if self.missing is None else
            " (never printed %r)" % self.missing, text[-5000:])


def run_tool(argv, script=(), timeout=TOOL_TIMEOUT, wait_exit=5.0):
    """Run an interactive client (gnutls-cli, openssl s_client) with stdout
    and stderr merged. script: (regex, data) steps: wait until the output so
    far matches regex (None: no wait), then write data (None: nothing). A
    regex not seen within the deadline ends the script. Then stdin is closed
    and the tool gets wait_exit seconds to exit before it is killed.
    Never raises for the tool's own failure: the test asserts on the
    result's rc, out and missing (the regex that never matched)."""
    import threading
    if not shutil.which(argv[0]):
        raise unittest.SkipTest("%s not installed" % argv[0])
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    chunks, lock = [], threading.Lock()

    def reader():
        while True:
            try:
                b = proc.stdout.read1(65536)
            except (OSError, ValueError):
                return
            if not b:
                return
            with lock:
                chunks.append(b)

    th = threading.Thread(target=reader, daemon=True)
    th.start()

    def text():
        with lock:
            return b"".join(chunks).decode("utf-8", "replace")

    deadline = time.monotonic() + timeout
    missing = None
    try:
        for regex, data in script:
            if regex is not None:
                rx = re.compile(regex, re.M)
                while not rx.search(text()):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        time.sleep(0.05)  # the reader's last chunk
                        if not rx.search(text()):
                            missing = regex
                        break
                    time.sleep(0.02)
                if missing is not None:
                    break
            if data is not None:
                try:
                    proc.stdin.write(data.encode() if isinstance(data, str) else data)
                    proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    break
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            proc.wait(timeout=max(0.1, min(wait_exit, deadline - time.monotonic() + wait_exit)))
        except subprocess.TimeoutExpired:
            pass
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait(timeout=5)
        th.join(timeout=2)
        proc.stdout.close()
    return ToolResult(argv, proc.returncode, text(), missing)


def gnutls_cli(port, cafile, extra=(), script=(), **kw):
    return run_tool(["gnutls-cli", "--x509cafile", cafile, "-p", str(port)]
                    + list(extra) + [LOOPBACK], script, **kw)


def s_client(port, cafile, extra=(), script=(), **kw):
    return run_tool(["openssl", "s_client", "-connect", "%s:%d" % (LOOPBACK, port),
                     "-CAfile", cafile, "-verify_return_error",
                     "-servername", "localhost"] + list(extra), script, **kw)
