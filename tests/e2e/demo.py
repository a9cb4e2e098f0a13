#!/usr/bin/env python3
"""`make demo`: bake examples/web.json against a local lab (moto + sshd on 127.0.0.1), print
the AMI id, show that nothing was left behind, stop the lab. Exits with bakeami's exit code
(1 if a successful bake left something behind)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab import BAKEAMI, REPO, Lab, LabError, format_leftovers  # noqa: E402

TEMPLATE = "examples/web.json"


def say(msg: str) -> None:
    print(f"==> demo: {msg}", flush=True)


def template_region(path: Path) -> str:
    """The default of the template's `region` variable, so sshd offers that region's keys."""
    try:
        region = json.loads(path.read_text())["variables"]["region"]
    except (OSError, ValueError, KeyError, TypeError):
        return "us-east-1"
    return region if isinstance(region, str) and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region) else "us-east-1"


def amis_from_manifest(manifest: Path) -> dict[str, str]:
    """region -> AMI id from the last build's artifact_id ("us-east-1:ami-1,us-west-2:ami-2")."""
    try:
        artifact = json.loads(manifest.read_text())["builds"][-1]["artifact_id"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return {}
    return dict(part.split(":", 1) for part in artifact.split(",") if ":" in part)


def bake(lab: Lab, manifest: Path) -> int:
    cmd = [os.path.relpath(BAKEAMI, REPO), "bake", *lab.ssh_vars(), "--manifest", str(manifest), TEMPLATE]
    say(shlex.join(cmd))
    # stdout/stderr are inherited: the console streams to ours as it comes.
    proc = subprocess.Popen(cmd, cwd=REPO, env=lab.env(), stdin=subprocess.DEVNULL)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the bake got the ^C too: let it clean up before the lab goes
            say("interrupted; waiting for bakeami to clean up")


def main() -> int:
    template = REPO / TEMPLATE
    if not BAKEAMI.exists():
        print(f"demo: {BAKEAMI} is not built; run `make`", file=sys.stderr)
        return 2
    if not template.exists():
        print(f"demo: {template} does not exist", file=sys.stderr)
        return 2
    say("starting the lab: moto (EC2), a counting proxy and sshd, all on 127.0.0.1")
    started = time.monotonic()
    try:
        lab = Lab(regions=[template_region(template)]).start()
    except LabError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    try:
        say(f"lab up in {time.monotonic() - started:.1f}s: AWS_ENDPOINT_URL={lab.endpoint}, "
            f"the instance's sshd at {lab.ssh_host}:{lab.ssh_port} (user {lab.ssh_user})")
        with tempfile.TemporaryDirectory(prefix="bakeami-demo-") as tmp:
            manifest = Path(tmp) / "manifest.json"
            rc = bake(lab, manifest)
            amis = amis_from_manifest(manifest)
        print(flush=True)
        say(f"bakeami exited {rc} after {len(lab.calls(service='ec2'))} EC2 calls")
        for region, ami in amis.items():
            print(f"AMI: {ami}" if len(amis) == 1 else f"AMI: {ami} ({region})", flush=True)
        left = {r: found for r in lab.active_regions() if (found := lab.leftovers(r, allow_images=amis.values()))}
        if left:
            say("LEFT BEHIND in the emulated account:\n" + format_leftovers(left))
            if rc == 0:
                rc = 1
        else:
            kept = " besides the AMI and its snapshot" if amis else ""
            say(f"left behind: nothing{kept} (no instance, key pair, security group, volume)")
    finally:
        lab.stop()
        say("lab stopped")
    return rc


if __name__ == "__main__":
    sys.exit(main())
