"""A counting, fault-injecting HTTP proxy that sits in front of moto.

Every request is forwarded to the upstream unchanged (method, path, headers in their order and
spelling, body bytes), so SigV4 signatures made for the proxy's Host stay valid. Each request
is recorded as a `Call`. A `FaultRule` can replace the Nth matching request with an AWS-style
error, a closed or reset connection, a dropped response (the request reaches moto, the answer
never reaches the client), a delay, or a hold (the request waits at the proxy until the rule is
released, then its connection is closed: it never reaches moto).

Runs in the test process (threads); only ever listens on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import http.server
import json
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape, unescape

__all__ = ["Call", "FaultRule", "FaultProxy", "FAULT_KINDS", "Ec2Realism"]

# kind -> (HTTP status, error code, message) for the kinds answered with an error document.
_ERRORS = {
    "throttle": (400, "RequestLimitExceeded", "Request limit exceeded."),
    "503": (503, "Unavailable", "The server is temporarily unable to service your request."),
    "500": (500, "InternalError", "An internal error has occurred."),
}
# JSON-protocol services (SSM, ...) spell throttling differently.
_JSON_CODES = {"RequestLimitExceeded": "ThrottlingException", "ExpiredToken": "ExpiredTokenException"}
FAULT_KINDS = ("throttle", "503", "500", "error", "close", "reset", "drop", "delay", "hold", "stale",
               "hang", "raw", "truncate")
# What a Describe call lists its items in: kind "stale" answers it with the list empty, as EC2's
# eventual consistency can right after a create.
_STALE_SETS = {"DescribeImages": "imagesSet", "DescribeInstances": "reservationSet",
               "DescribeKeyPairs": "keySet", "DescribeSecurityGroups": "securityGroupInfo",
               "DescribeSnapshots": "snapshotSet", "DescribeVolumes": "volumeSet"}
# EC2 calls it makes idempotent by ClientToken (a repeat gets the first call's answer); moto
# ignores the token, so the proxy does it.
_TOKEN_ACTIONS = ("RunInstances", "CopyImage")
# EC2 calls the proxy answers itself, as AWS documents them: moto does not implement them.
_DEPRECATION_ACTIONS = ("EnableImageDeprecation", "DisableImageDeprecation")

_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


@dataclass
class Call:
    """One request seen by the proxy."""

    time: float  # wall clock (time.time()) when the request arrived
    method: str
    path: str
    service: str | None  # from the SigV4 credential scope, else the X-Amz-Target prefix
    region: str | None  # from the SigV4 credential scope
    action: str | None  # form/query Action, or the X-Amz-Target operation
    params: dict[str, str]  # form or query parameters (last value wins); {} for JSON bodies
    headers: list[tuple[str, str]]
    body: bytes
    status: int | None = None  # what the client got; None when it got no response
    fault: str | None = None  # the injected fault kind, if any
    duration: float = 0.0  # seconds from arrival until the answer (or the drop) was ready
    upstream: int | None = None  # what moto answered; None: it never got the request (or not yet)


@dataclass
class FaultRule:
    """Replace matching requests number nth .. nth+count-1 (1-based) with a fault.

    action/service/region None or "*" match anything; params, when given, must all be among the
    call's form/query parameters. count None means every match from nth on.
    """

    kind: str
    action: str | None = None
    service: str | None = None
    nth: int = 1
    count: int | None = 1
    delay: float = 0.0  # seconds; for kind "delay" (also applied before any other kind)
    status: int | None = None  # for kind "error"
    code: str | None = None  # for kind "error"
    message: str | None = None  # for kind "error"
    region: str | None = None  # the region the call is signed for
    params: dict[str, str] | None = None  # e.g. {"Tag.1.Key": "Channel"}; value "*": present
    after: "FaultRule | None" = None  # matches only once that rule has fired
    seen: int = 0  # matching requests so far
    fired: int = 0  # faults injected so far
    released: threading.Event = field(default_factory=threading.Event)  # ends a "hold"
    body: bytes | None = None  # for kind "raw": the answer's body (status= or 200)
    content_type: str | None = None  # for kind "raw"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if self.kind == "stale" and self.action not in _STALE_SETS:
            raise ValueError(f"kind 'stale' needs action= one of {', '.join(_STALE_SETS)}")
        if self.kind == "error" and not (self.status and self.code):
            raise ValueError("kind 'error' needs status= and code=")
        if self.nth < 1:
            raise ValueError("nth counts from 1")

    def _matches(self, call: Call) -> bool:
        if self.after is not None and not self.after.fired:
            return False
        return (self.action in (None, "*", call.action) and self.service in (None, "*", call.service)
                and self.region in (None, "*", call.region)
                and all(call.params.get(k) == v or (v == "*" and k in call.params)
                        for k, v in (self.params or {}).items()))

    def _take(self, call: Call) -> bool:
        """Counts the call if it matches; True when this rule fires for it. Caller holds the lock."""
        if not self._matches(call):
            return False
        self.seen += 1
        if self.seen < self.nth or (self.count is not None and self.fired >= self.count):
            return False
        self.fired += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


def parse_call(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Call:
    hdr = {k.lower(): v for k, v in headers}
    split = urlsplit(target)
    service = region = None
    m = _CREDENTIAL.search(hdr.get("authorization", "")) or _CREDENTIAL.search(
        "Credential=" + dict(parse_qsl(split.query)).get("X-Amz-Credential", "")
    )
    if m:
        region, service = m.group(1), m.group(2)
    params: dict[str, str] = {}
    action = None
    amz_target = hdr.get("x-amz-target")
    if amz_target:  # JSON protocol: "AmazonSSM.GetParameter"
        prefix, _, action = amz_target.rpartition(".")
        service = service or prefix.lower() or None
    else:
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        ctype = hdr.get("content-type", "")
        if body and (ctype.startswith("application/x-www-form-urlencoded") or not ctype):
            params.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        action = params.get("Action") or _s3_action(service, method, params)
    return Call(time.time(), method, split.path or "/", service, region, action, params, headers, body)


def _s3_action(service: str | None, method: str, params: dict[str, str]) -> str | None:
    """S3's REST calls named as its API names them (bakeami's: ListObjectsV2, DeleteObjects,
    HeadObject), so tests can count and fault them like the Query calls."""
    if service != "s3":
        return None
    if method == "GET":
        return "ListObjectsV2" if params.get("list-type") == "2" else "GetObject"
    if method == "POST" and "delete" in params:
        return "DeleteObjects"
    return {"HEAD": "HeadObject", "DELETE": "DeleteObject", "PUT": "PutObject"}.get(method)


def _iso8601(text: str | None) -> bool:
    try:
        datetime.fromisoformat((text or "").replace("Z", "+00:00"))
        return bool(text)
    except ValueError:
        return False


def _error_document(call: Call, status: int, code: str, message: str) -> tuple[int, list, bytes]:
    request_id = str(uuid.uuid4())
    if any(k.lower() == "x-amz-target" for k, _ in call.headers):
        body = json.dumps({"__type": _JSON_CODES.get(code, code), "message": message}).encode()
        ctype = "application/x-amz-json-1.1"
    else:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        ctype = "text/xml;charset=UTF-8"
    return status, [("Content-Type", ctype), ("x-amzn-RequestId", request_id)], body


def _empty_answer(call: Call) -> tuple[int, list, bytes]:
    request_id = str(uuid.uuid4())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{call.action}Response '
            f'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>{request_id}</requestId>'
            f"<{_STALE_SETS[call.action]}/></{call.action}Response>").encode()
    return 200, [("Content-Type", "text/xml;charset=UTF-8"), ("x-amzn-RequestId", request_id)], body


def _token_key(call: Call) -> tuple[str, str, str] | None:
    token = call.params.get("ClientToken")
    if call.service == "ec2" and call.action in _TOKEN_ACTIONS and token:
        return call.region or "", call.action, token
    return None


_INSTANCE_STATE = re.compile(rb"(<instanceId>(i-[0-9a-f]+)</instanceId>.*?<instanceState>\s*<code>)(\d+)"
                             rb"(</code>\s*<name>)([a-z-]+)(</name>)", re.S)
_IMAGE_STATE = re.compile(rb"(<imageId>(ami-[0-9a-f]+)</imageId>.*?<imageState>)([a-z]+)(</imageState>)", re.S)
_STATE_CODES = {"pending": b"0", "running": b"16", "shutting-down": b"32", "terminated": b"48"}


@dataclass
class Ec2Realism:
    """EC2 behaviour moto lacks (reference/moto.md), each off (0/False) until a test sets it:

    pending_s: a new instance is `pending` that long after RunInstances answered (moto: at once
    `running`); shutting_down_s: a terminated one is `shutting-down` that long (moto: at once
    `terminated`); image_pending_s: a new image (CreateImage/CopyImage) is `pending` that long;
    not_found_s: DescribeInstances of a new instance answers InvalidInstanceID.NotFound that
    long (EC2's eventual consistency); dependency_violation: DeleteSecurityGroup answers
    DependencyViolation while an instance launched with the group is not `terminated` as the
    proxy shows it (moto never does); duplicate_names: a second CreateImage of a name the
    proxy saw made answers InvalidAMIName.Duplicate (moto makes a second image);
    credential_lifetime_s: STS AssumeRole's credentials expire that long after they are issued
    (their Expiration says so), and any call signed with them later is refused with
    ExpiredToken, as AWS does (moto never expires a session token); `sessions` holds each
    token's (issued, expires) wall times.
    Only calls through the proxy are seen: an instance made or ended directly in moto is not.
    """

    pending_s: float = 0.0
    shutting_down_s: float = 0.0
    image_pending_s: float = 0.0
    not_found_s: float = 0.0
    dependency_violation: bool = False
    duplicate_names: bool = False
    credential_lifetime_s: float = 0.0
    sessions: dict = field(default_factory=dict)  # session token -> (issued, expires), time.time()
    launched: dict = field(default_factory=dict)  # instance id -> (time, group ids)
    terminated: dict = field(default_factory=dict)  # instance id -> time of TerminateInstances
    images: dict = field(default_factory=dict)  # image id -> time made
    image_names: dict = field(default_factory=dict)  # (region, name) -> image id
    answered: list = field(default_factory=list)  # (action, code) of every answer made here
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _instance_state(self, iid: str, now: float) -> str | None:
        """The state EC2 would show, when it differs from moto's; None: moto's holds."""
        if iid in self.terminated:
            return "shutting-down" if now - self.terminated[iid] < self.shutting_down_s else None
        if iid in self.launched and now - self.launched[iid][0] < self.pending_s:
            return "pending"
        return None

    def _alive(self, iid: str, now: float) -> bool:
        return iid not in self.terminated or now - self.terminated[iid] < self.shutting_down_s

    def _expired(self, call: Call) -> tuple[int, list, bytes] | None:
        """ExpiredToken for a call signed with a session token past its expiry."""
        token = next((v for k, v in call.headers if k.lower() == "x-amz-security-token"), None)
        with self.lock:
            session = self.sessions.get(token) if token else None
            if session is None or time.time() < session[1]:
                return None
            self.answered.append((call.action, "ExpiredToken"))
        return _error_document(call, 400, "ExpiredToken", "The security token included in the request is expired")

    def _short_session(self, body: bytes) -> bytes:
        """AssumeRole's answer with the credentials expiring credential_lifetime_s from now."""
        issued = time.time()
        expires = issued + self.credential_lifetime_s
        token = re.search(rb"<SessionToken>([^<]+)</SessionToken>", body)
        if token:
            with self.lock:
                self.sessions[unescape(token.group(1).decode())] = (issued, expires)
        stamp = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return re.sub(rb"<Expiration>[^<]*</Expiration>", f"<Expiration>{stamp}</Expiration>".encode(), body)

    def before(self, call: Call) -> tuple[int, list, bytes] | None:
        """An answer AWS would give instead of moto's, or None."""
        expired = self._expired(call)
        if expired or call.service != "ec2":
            return expired
        now = time.monotonic()
        p = call.params
        with self.lock:
            code = None
            if call.action == "DeleteSecurityGroup" and self.dependency_violation:
                group = p.get("GroupId")
                users = [i for i, (_, groups) in self.launched.items()
                         if group in groups and self._alive(i, now)]
                if users:
                    code = ("DependencyViolation", f"resource {group} has a dependent object")
            elif call.action == "DescribeInstances" and self.not_found_s:
                ids = [v for k, v in p.items() if k.startswith("InstanceId.")]
                new = [i for i in ids if i in self.launched and now - self.launched[i][0] < self.not_found_s]
                if new:
                    code = ("InvalidInstanceID.NotFound", f"The instance ID '{new[0]}' does not exist")
            elif call.action == "CreateImage" and self.duplicate_names:
                if (call.region or "", p.get("Name")) in self.image_names:
                    code = ("InvalidAMIName.Duplicate", f"AMI name {p.get('Name')} is already in use by an AMI")
            if code:
                self.answered.append((call.action, code[0]))
                return _error_document(call, 400, *code)
        return None

    def after(self, call: Call, status: int, body: bytes) -> bytes:
        """Notes what moto made or ended; shows the states EC2 would. Returns the body to send."""
        if call.service == "sts" and call.action == "AssumeRole" and status == 200 and self.credential_lifetime_s:
            return self._short_session(body)
        if call.service != "ec2" or status != 200:
            return body
        now = time.monotonic()
        with self.lock:
            if call.action == "RunInstances":
                groups = {v for k, v in call.params.items() if k.startswith("SecurityGroupId.")}
                for iid in re.findall(rb"<instanceId>(i-[0-9a-f]+)</instanceId>", body):
                    self.launched.setdefault(iid.decode(), (now, groups))
            elif call.action == "TerminateInstances":
                for k, v in call.params.items():
                    if k.startswith("InstanceId."):
                        self.terminated.setdefault(v, now)
            elif call.action in ("CreateImage", "CopyImage"):
                m = re.search(rb"<imageId>(ami-[0-9a-f]+)</imageId>", body)
                if m:
                    self.images.setdefault(m.group(1).decode(), now)
                    if call.action == "CreateImage":
                        self.image_names[(call.region or "", call.params.get("Name"))] = m.group(1).decode()
            elif call.action == "DeregisterImage":
                self.image_names = {k: v for k, v in self.image_names.items()
                                    if v != call.params.get("ImageId")}
            elif call.action == "DescribeInstances":
                return _INSTANCE_STATE.sub(lambda m: self._show_instance(m, now), body)
            elif call.action == "DescribeImages" and self.image_pending_s:
                return _IMAGE_STATE.sub(lambda m: self._show_image(m, now), body)
        return body

    def _show_instance(self, m: re.Match, now: float) -> bytes:
        state = self._instance_state(m.group(2).decode(), now)
        if not state:
            return m.group(0)
        return m.group(1) + _STATE_CODES[state] + m.group(4) + state.encode() + m.group(6)

    def _show_image(self, m: re.Match, now: float) -> bytes:
        made = self.images.get(m.group(2).decode())
        if made is None or now - made >= self.image_pending_s or m.group(3) != b"available":
            return m.group(0)
        return m.group(1) + b"pending" + m.group(4)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, proxy: "FaultProxy"):
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is no news
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and 100-continue handled for us
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass

    def _read_body(self) -> tuple[bytes, bytes]:
        """Returns (body, bytes to send upstream): re-chunked when the client sent chunks."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
            wire = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
            return body, wire
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return body, body

    def _handle(self) -> None:
        proxy = self.server.proxy
        started = time.monotonic()
        headers = list(self.headers.raw_items())
        body, wire = self._read_body()
        call = parse_call(self.command, self.path, headers, body)
        rule = proxy._admit(call)

        def done(status: int | None) -> None:
            call.status = status
            call.duration = time.monotonic() - started

        kind = rule.kind if rule else None
        if kind == "hold":  # until released (at most delay seconds), then closed unanswered
            rule.released.wait(rule.delay or 300)
            done(None)
            self._abort(reset=False)
            return
        if rule and rule.delay and kind != "hang":  # a hang's delay= is how long it holds
            time.sleep(rule.delay)
        if kind in ("close", "reset"):
            done(None)
            self._abort(reset=kind == "reset")
            return
        if kind == "raw":  # what a broken endpoint or a captive portal answers
            done(rule.status or 200)
            self._respond(rule.status or 200, [("Content-Type", rule.content_type or "text/html")],
                          rule.body or b"")
            return
        if kind in _ERRORS or kind == "error":
            status, code, message = _ERRORS.get(kind) or (rule.status, rule.code, rule.message or rule.code)
            done(status)  # before answering: a test may look right after the answer
            self._respond(*_error_document(call, status, code, message))
            return
        if kind == "stale":
            done(200)
            self._respond(*_empty_answer(call))
            return
        stand_in = proxy._stand_in(call) or proxy.realism.before(call) if kind is None else None
        if stand_in:
            done(stand_in[0])
            self._respond(*stand_in)
            return
        status, reason, resp_headers, resp_body = proxy._forward_once(call, self.command, self.path, headers,
                                                                      wire)
        if kind in ("drop", "hang", "truncate"):  # what moto made is EC2's from now on, answered or not
            proxy.realism.after(call, status, resp_body)
        if kind == "truncate":  # moto did the work; half its answer arrives, then the end
            done(status)
            self._respond(status, resp_headers, resp_body, truncate=True)
            self._abort(reset=False)
            return
        if kind == "drop":  # moto did the work; the client never hears of it
            done(None)
            self._abort(reset=True)
            return
        if kind == "hang":  # moto did the work; the answer is held until released, then dropped
            rule.released.wait(rule.delay or 300)
            done(None)
            self._abort(reset=True)
            return
        resp_body = proxy.realism.after(call, status, proxy._stand_in_answer(call, status, resp_body))
        done(status)
        self._respond(status, resp_headers, resp_body, reason)

    def _respond(self, status: int, headers: list, body: bytes, reason: str | None = None,
                 truncate: bool = False) -> None:
        reason = reason if reason is not None else self.responses.get(status, ("",))[0]
        out = [f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")]
        for k, v in headers:
            if k.lower() not in _HOP_BY_HOP:
                out.append(f"{k}: {v}\r\n".encode("latin-1"))
        out.append(f"Content-Length: {len(body)}\r\n".encode())
        if self.close_connection:
            out.append(b"Connection: close\r\n")
        out.append(b"\r\n")
        out.append(body[:len(body) // 2] if truncate else body)  # Content-Length says all of it
        self.wfile.write(b"".join(out))

    def _abort(self, reset: bool) -> None:
        """Ends the connection with no response: FIN (close) or RST (reset)."""
        self.close_connection = True
        if reset:
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.rfile.close()  # drop the makefile reference so close() really closes
                self.connection.close()
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, upstream_timeout: float = 120.0):
        self.upstream = (upstream_host, upstream_port)
        self.upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._rules: list[FaultRule] = []
        self.total = 0  # requests ever seen (reset_calls() doesn't change it)
        self.regions: set[str] = set()  # regions signed for (reset_calls() doesn't change it)
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Stand-in state for calls moto lacks: (region, image id) -> DeprecateAt, None once disabled
        self.deprecations: dict[tuple[str, str], str | None] = {}
        # ClientToken dedupe: (region, action, token) -> the first successful answer, and a lock
        # per token so a repeat waits for the first to finish
        self.token_answers: dict[tuple[str, str, str], tuple[int, str, list, bytes]] = {}
        self._token_locks: dict[tuple[str, str, str], threading.Lock] = {}
        # What EC2 does and moto does not (slow states, DependencyViolation, ...): off until set
        self.realism = Ec2Realism()

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> int:
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fault-proxy",
                                        daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults ----------------------------------------------------------------------------
    def inject(self, action: str | None = None, kind: str = "throttle", count: int | None = 1,
               nth: int = 1, service: str | None = None, delay: float = 0.0,
               status: int | None = None, code: str | None = None, message: str | None = None,
               region: str | None = None, params: dict[str, str] | None = None,
               after: FaultRule | None = None, body: bytes | None = None,
               content_type: str | None = None) -> FaultRule:
        if kind == "delay" and not delay:
            raise ValueError("kind 'delay' needs delay=SECONDS")
        rule = FaultRule(kind, action, service, nth, count, delay, status, code, message, region, params,
                         after, body=body, content_type=content_type)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        """Removes every rule; a request held by one is let go (closed, never forwarded)."""
        with self._lock:
            for rule in self._rules:
                rule.released.set()
            self._rules.clear()

    def _admit(self, call: Call) -> FaultRule | None:
        with self._lock:
            fired = None
            for rule in self._rules:
                if rule._take(call) and fired is None:
                    fired = rule
            call.fault = fired.kind if fired else None
            self._calls.append(call)
            self.total += 1
            if call.region:
                self.regions.add(call.region)
            self._changed.notify_all()
            return fired

    # -- stand-ins for calls moto lacks (reference/moto.md) ---------------------------------
    def _stand_in(self, call: Call) -> tuple[int, list, bytes] | None:
        """Answers EnableImageDeprecation / DisableImageDeprecation as EC2 documents them
        (moto 5.2 answers them with an HTML 500) and records the DeprecateAt per image, which
        DescribeImages then shows (_stand_in_answer)."""
        if call.service != "ec2" or call.action not in _DEPRECATION_ACTIONS:
            return None
        image = call.params.get("ImageId", "")
        at = call.params.get("DeprecateAt") if call.action == "EnableImageDeprecation" else None
        if not image.startswith("ami-"):
            return _error_document(call, 400, "InvalidAMIID.Malformed", f'Invalid id: "{image}"')
        if call.action == "EnableImageDeprecation" and not _iso8601(at):
            return _error_document(call, 400, "InvalidParameterValue",
                                   f"Value ({at}) for parameter DeprecateAt is invalid")
        with self._lock:
            self.deprecations[(call.region or "", image)] = at
        request_id = str(uuid.uuid4())
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{call.action}Response '
                f'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>{request_id}</requestId>'
                f"<return>true</return></{call.action}Response>").encode()
        return 200, [("Content-Type", "text/xml;charset=UTF-8"), ("x-amzn-RequestId", request_id)], body

    def _stand_in_answer(self, call: Call, status: int, body: bytes) -> bytes:
        """DescribeImages shows the stand-in's deprecationTime, as EC2 does after
        EnableImageDeprecation (moto never has the field)."""
        if call.service != "ec2" or call.action != "DescribeImages" or status != 200:
            return body
        with self._lock:
            times = {image: at for (region, image), at in self.deprecations.items()
                     if region == (call.region or "") and at}
        if not times:
            return body

        def add(m: re.Match) -> bytes:
            at = times.get(m.group(1).decode())
            return m.group(0) + (f"<deprecationTime>{escape(at)}</deprecationTime>".encode() if at else b"")

        return re.sub(rb"<imageId>(ami-[0-9a-f]+)</imageId>", add, body)

    def clear_stand_ins(self) -> None:
        with self._lock:
            self.deprecations.clear()
            self.token_answers.clear()
            self._token_locks.clear()
            self.realism = Ec2Realism()

    def _forward_once(self, call: Call, method: str, path: str, headers: list[tuple[str, str]], wire: bytes):
        """Forwards, except a repeated ClientToken of RunInstances/CopyImage: EC2 answers that with
        the first call's result and makes nothing (the EC2 idempotency guide); moto would make a
        second instance or copy."""
        key = _token_key(call)
        if key is None:
            return self._forward_or_502(call, method, path, headers, wire)
        with self._lock:
            token_lock = self._token_locks.setdefault(key, threading.Lock())
        with token_lock:
            with self._lock:
                first = self.token_answers.get(key)
            if first:
                call.fault = "token-repeat"
                return first
            answer = self._forward_or_502(call, method, path, headers, wire)
            if answer[0] == 200:
                with self._lock:
                    self.token_answers[key] = answer
            return answer

    def _forward_or_502(self, call: Call, method: str, path: str, headers: list[tuple[str, str]], wire: bytes):
        try:
            answer = self._forward(method, path, headers, wire)
            with self._lock:  # moto acted (or refused): a test may wait for this (wait_upstream)
                call.upstream = answer[0]
                self._changed.notify_all()
            return answer
        except OSError as e:
            status, resp_headers, resp_body = _error_document(call, 502, "ProxyUpstreamError", str(e))
            return status, "Bad Gateway", resp_headers, resp_body

    # -- forwarding ------------------------------------------------------------------------
    def _forward(self, method: str, path: str, headers: list[tuple[str, str]], wire: bytes):
        conn = http.client.HTTPConnection(*self.upstream, timeout=self.upstream_timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            conn.endheaders(wire or None)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, resp.reason, resp.getheaders(), body
        finally:
            conn.close()

    # -- the call log ----------------------------------------------------------------------
    def records(self, service: str | None = None, action: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls
                    if service in (None, c.service) and action in (None, c.action)]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def wait_for(self, action: str, service: str | None = None, timeout: float = 30.0,
                 count: int = 1) -> Call:
        """Blocks until `count` calls of `action` have arrived; returns the last of them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                seen = [c for c in self._calls if c.action == action and service in (None, c.service)]
                if len(seen) >= count:
                    return seen[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {action} call #{count} through the proxy within {timeout}s "
                                       f"(saw {[c.action for c in self._calls]})")
                self._changed.wait(left)
