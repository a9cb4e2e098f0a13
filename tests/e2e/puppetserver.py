"""A real Puppet server (Debian `puppetserver`) on loopback for the puppet-server e2e tests.

Everything it reads and writes lives under one temp dir: its own conf.d (web server on
127.0.0.1 and a free high port, logging to a file there), confdir (puppet.conf with
certname localhost, autosign for *.bakeami.test, and its own cadir and ssldir: Debian's defaults
are /etc/puppet/puppetserver/ca and /var/lib/puppet/ssl whatever the confdir, so a server started
on them reuses the host certificate an earlier one left there, signed by a CA that is gone, and
every agent fails "certificate verify failed"), codedir (the production environment's
site.pp, which tests write), vardir, rundir and logdir. The JVM runs directly (not through
/usr/bin/puppetserver, which wants /run/puppetserver, the `puppet` user and /etc paths),
with its heap limited. Start: PuppetServer(...).start(); stop(): SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

INSTALL = Path("/usr/share/puppetserver")
SYSTEM_CONF = Path("/etc/puppet/puppetserver")
CERTNAME = "localhost"          # the name agents reach it by (--server=localhost)
AUTOSIGN = "*.bakeami.test"     # test certnames: <anything>.bakeami.test
HEAP = "768m"
START_TIMEOUT_S = 480


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOGBACK = """<configuration>
  <appender name="F" class="ch.qos.logback.core.FileAppender">
    <file>{log}</file>
    <encoder><pattern>%d %-5p [%c{{2}}] %m%n</pattern></encoder>
  </appender>
  <root level="info"><appender-ref ref="F"/></root>
</configuration>
"""


class PuppetServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bakeami-puppetserver-"))
        self.port = _free_port()
        self.confdir = self.dir / "confdir"
        self.codedir = self.dir / "code"
        self.log = self.dir / "log" / "puppetserver.log"
        self.proc: subprocess.Popen | None = None
        self.start_seconds = 0.0

    # ---- configuration ----------------------------------------------------
    def _write_config(self) -> None:
        d = self.dir
        confd = d / "conf.d"
        for sub in ("conf.d", "confdir", "code/environments/production/manifests",
                    "var", "run", "log", "jruby-gems"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for name in ("auth.conf", "ca.conf", "web-routes.conf", "metrics.conf"):
            shutil.copy(SYSTEM_CONF / "conf.d" / name, confd / name)
        (d / "logback.xml").write_text(LOGBACK.format(log=self.log))
        (confd / "global.conf").write_text(f'global: {{ logging-config: "{d}/logback.xml" }}\n')
        (confd / "webserver.conf").write_text(
            f"webserver: {{ client-auth: want, ssl-host: 127.0.0.1, ssl-port: {self.port},\n"
            f'  access-log-config: "{SYSTEM_CONF}/request-logging.xml" }}\n')
        (confd / "puppetserver.conf").write_text(f"""jruby-puppet: {{
    ruby-load-path: [/usr/lib/puppetserver/ruby/vendor_ruby]
    gem-home: "{d}/jruby-gems"
    gem-path: ["{d}/jruby-gems", "/usr/lib/puppetserver/vendored-jruby-gems"]
    server-conf-dir: "{self.confdir}"
    server-code-dir: "{self.codedir}"
    server-var-dir: "{d}/var"
    server-run-dir: "{d}/run"
    server-log-dir: "{d}/log"
    max-active-instances: 1
}}
http-client: {{}}
profiler: {{}}
""")
        (self.confdir / "puppet.conf").write_text(f"""[main]
certname = {CERTNAME}
server = {CERTNAME}
masterport = {self.port}
ssldir = {self.confdir}/ssl
vardir = {d}/var
logdir = {d}/log
rundir = {d}/run
codedir = {self.codedir}
[server]
autosign = {self.confdir}/autosign.conf
cadir = {self.confdir}/ca
""")
        (self.confdir / "autosign.conf").write_text(AUTOSIGN + "\n")
        self.site_pp("node default { }\n")

    def site_pp(self, text: str) -> None:
        """The production environment's main manifest (read afresh for each catalog)."""
        (self.codedir / "environments/production/manifests/site.pp").write_text(text)

    # ---- the process ------------------------------------------------------
    def _command(self) -> list[str]:
        return ["java", f"-Xms{HEAP}", f"-Xmx{HEAP}", "-XX:+CrashOnOutOfMemoryError",
                f"-XX:ErrorFile={self.dir}/log/java_err_pid%p.log",
                "-Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger",
                "-Djruby.lib=/usr/share/jruby/lib",
                "-jar", str(INSTALL / "puppetserver.jar"),
                "--config", str(self.dir / "conf.d"),
                "--bootstrap-config", str(SYSTEM_CONF / "services.d")]

    def _ready(self) -> bool:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/status/v1/simple",
                                        context=ctx, timeout=5) as r:
                return r.read().decode().strip() == "running"
        except OSError:
            return False

    def start(self) -> "PuppetServer":
        self._write_config()
        t0 = time.monotonic()
        out = open(self.dir / "log" / "stdout.log", "w")
        self.proc = subprocess.Popen(self._command(), cwd=INSTALL, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        while not self._ready():
            if self.proc.poll() is not None:
                tail = self.tail()
                self.stop()
                raise RuntimeError(f"puppetserver exited {self.proc.returncode}:\n" + tail)
            if time.monotonic() - t0 > START_TIMEOUT_S:
                tail = self.tail()      # before stop() removes the logs
                self.stop()
                raise RuntimeError(f"puppetserver not ready after {START_TIMEOUT_S}s:\n" + tail)
            time.sleep(0.5)
        self.start_seconds = time.monotonic() - t0
        return self

    # ---- agents -----------------------------------------------------------
    def agent_arguments(self, state: str) -> list[str]:
        """A puppet-server provisioner's extra_arguments for this server (its puppet_server is
        "localhost"): the port, and the agent's own state (confdir, ssldir, vardir, publicdir,
        logdir, rundir: Debian puts ssldir and publicdir in /var whatever the confdir) under
        `state` on the instance, so the run leaves nothing of Puppet's in /etc/puppet or /var
        (state inside the staging directory goes with it)."""
        return [f"--serverport={self.port}", f"--confdir={state}/conf", f"--ssldir={state}/ssl",
                f"--vardir={state}/var", f"--publicdir={state}/public", f"--logdir={state}/log",
                f"--rundir={state}/run"]

    def issue_client_cert(self, certname: str, dest: Path) -> tuple[Path, Path]:
        """A client certificate for certname from this server's CA, as a team keeps one for
        client_cert_path/client_private_key_path: Puppet's own `puppet ssl bootstrap` (the
        name is autosigned) into dest/ssl. Returns (certs dir, private_keys dir). The CA then
        refuses a new request for that name, so an agent can only run as it with these."""
        ssl = dest / "ssl"
        cmd = ["puppet", "ssl", "bootstrap", f"--certname={certname}", "--server=localhost",
               f"--serverport={self.port}", f"--confdir={dest}/conf", f"--vardir={dest}/var",
               f"--logdir={dest}/log", f"--rundir={dest}/run", f"--ssldir={ssl}",
               f"--publicdir={dest}/public"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=180)
        if p.returncode:
            raise RuntimeError(f"puppet ssl bootstrap failed ({p.returncode}):\n{p.stdout}"
                               f"{p.stderr}\n{self.tail()}")
        return ssl / "certs", ssl / "private_keys"

    def tail(self, n: int = 4000) -> str:
        texts = []
        for f in (self.log, self.dir / "log" / "stdout.log"):
            if f.exists():
                texts.append(f.read_text(errors="replace")[-n:])
        return "\n".join(texts)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    s = PuppetServer().start()
    print(f"puppetserver ready on 127.0.0.1:{s.port} after {s.start_seconds:.1f}s ({s.dir})")
    s.stop()
