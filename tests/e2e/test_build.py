"""The shared library names every library it needs: each symbol it leaves undefined is
defined by one of its DT_NEEDED libraries (the link uses -z defs; this checks the result)."""
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab import BUILD, REPO  # noqa: E402

LIB = BUILD / "libbakeami.so"


def _out(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _needed_paths() -> dict[str, str]:
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", _out("readelf", "-d", str(LIB)))
    ldd = _out("ldd", str(LIB))
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    # the dynamic loader has a line of its own: "/lib64/ld-linux-x86-64.so.2 (0x...)"
    resolved.update((Path(p).name, p) for p in re.findall(r"^\s*(/\S+) \(0x", ldd, re.M))
    missing = [n for n in needed if n not in resolved]
    assert not missing, f"ldd cannot resolve {missing}"
    return {n: resolved[n] for n in needed}


def _symbols(path: str, *flags: str) -> set[str]:
    names = set()
    for line in _out("nm", "-D", *flags, path).splitlines():
        parts = line.split()
        if parts and parts[-2:-1] != ["w"]:  # weak references may stay unresolved
            names.add(parts[-1].split("@")[0])
    return names


def test_every_undefined_symbol_comes_from_a_needed_library():
    build = os.path.relpath(BUILD, REPO)
    subprocess.run(["make", "-s", f"BUILD={build}", f"{build}/libbakeami.so"], cwd=REPO, check=True)
    needed = _needed_paths()
    for lib in ("libcurl.so.4", "libssh2.so.1", "libcjson.so.1", "libxml2.so.2", "libcrypto.so.3"):
        assert lib in needed, f"{lib} is not in DT_NEEDED: {sorted(needed)}"
    undefined = _symbols(str(LIB), "--undefined-only")
    defined = set().union(*(_symbols(p, "--defined-only") for p in needed.values()))
    assert undefined, "nm found no undefined symbols: the check would prove nothing"
    assert undefined <= defined, f"undefined and in no DT_NEEDED library: {sorted(undefined - defined)}"
