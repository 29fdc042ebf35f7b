"""Fuzzing benchmark: mutated `.gsc` files against the decoder and `gscc info`.

Every valid conformance vector is mutated ``--per-vector`` times (default 10,000) and every
invalid one (the hand-built hostile files of conformance/invalid/) ``--invalid-per-vector``
times (default 1,000), with one of these mutations in turn, its details drawn from a
seeded generator:

* ``bitflip``: 1 to 8 random bits flipped anywhere in the file;
* ``truncate``: the file cut at a random length;
* ``bytes``: a random run of bytes overwritten with random or boundary values;
* ``header``: one value of the header (chunk table included) replaced, deleted or added,
  then the header re-packed with its CRC fixed, so the change reaches the decoder;
* ``chunk``: bytes of one chunk flipped, overwritten, cut or extended, with the chunk
  table and the chunk's CRC fixed;
* ``version``: the minor or major version changed.

Each case runs in a worker process (``gscc.info.summarize``, which decodes the whole
file, static or dynamic, then ``json.dumps`` of the summary, as ``gscc info --json``
does; on every ``--cli-every``-th case also the command line itself, in process:
``gscc decode``, ``gscc info`` and ``gscc info --json``, each of which must succeed or
exit 1 with one ``error:`` line and no output file) and is classified:

* ``rejected``: a clean rejection, a ``FormatError`` of one of the error classes of
  spec/validation.md with a one-line message;
* ``accepted``: the mutated file is valid (e.g. an informative key changed);
* ``untyped``: a ``FormatError`` that names no error class of the spec (a defect);
* ``exception``: any other exception, or a multi-line message (a defect);
* ``hang``: no answer within ``--timeout`` seconds, the worker is killed (a defect);
* ``memory``: a MemoryError, a killed worker, or a peak RSS over the case's bound
  ``256 MiB + 64 bytes x cells x channels`` of the sizes its header declares (for a
  dynamic file, summed over its segments; a defect).

Prints the counts per outcome and mutation, the longest case and the largest peak RSS,
and writes the defects (with their bytes, base64) to ``--json``.

    nice -n 10 python bench/fuzz.py --workers 2 --json bench/results/fuzz.json
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import multiprocessing as mp
import random
import resource
import shutil
import struct
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import msgpack

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / "conformance"
PREAMBLE = struct.Struct("<8sHHII")
MUTATIONS = ("bitflip", "truncate", "bytes", "header", "chunk", "version")
DEFECTS = ("untyped", "exception", "hang", "memory")
MEMORY_BASE = 256 << 20
MEMORY_PER_VALUE = 64
ADDRESS_LIMIT = 8 << 30  # a worker's address space: a blow-up fails there, not the machine
INTERESTING_INTS = [0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 255, 256, 4096, 65535, 65536, 1 << 24, (1 << 26) + 1,
                    (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32, (1 << 63) - 1, -1, -(1 << 31), -(1 << 63)]
INTERESTING_VALUES = [None, True, False, 0.0, -0.0, 1.5, 1e308, -1e308, float("nan"), float("inf"), float("-inf"),
                      "", "x", "scalar", "vq", "ans", "png", "raw", "ans-table", "ans-context", "smallest3",
                      "sigmoid", "signlog", "identity", "mlp", "static", b"", b"\x00" * 9, [], [0], {}, {"x": 1}]


# ---------------------------------------------------------------------------- vectors
def vector_files() -> list[Path]:
    """Every conformance vector: the valid ones, then the invalid ones."""
    return sorted((CONFORMANCE / "vectors").glob("*.gsc")) + sorted((CONFORMANCE / "invalid").glob("*.gsc"))


def mutation_counts(per_vector: int, per_invalid: int, match: str = "") -> list[tuple[Path, int]]:
    return [(path, per_invalid if path.parent.name == "invalid" else per_vector) for path in vector_files() if match in path.name]


def split(data: bytes) -> tuple[int, int, Any, bytes] | None:
    """(major, minor, header object, payload) of a file whose preamble and header parse."""
    if len(data) < PREAMBLE.size:
        return None
    _, major, minor, length, _ = PREAMBLE.unpack_from(data)
    try:
        header = msgpack.unpackb(data[20 : 20 + length], raw=False, strict_map_key=False)
    except Exception:
        return None
    return major, minor, header, data[20 + length :]


def assemble(major: int, minor: int, header: Any, payload: bytes) -> bytes:
    body = msgpack.packb(header, use_bin_type=True)
    return PREAMBLE.pack(b"\x89GSC\r\n\x1a\n", major, minor, len(body), zlib.crc32(body)) + body + payload


# ---------------------------------------------------------------------------- mutations
def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of a header object."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _paths(item, prefix + (index,))
    return paths


def _new_value(rng: random.Random, old: Any) -> Any:
    choice = rng.random()
    if isinstance(old, int) and not isinstance(old, bool) and choice < 0.4:
        return rng.choice([old + 1, old - 1, old * 2, old * 65536, old + (1 << 32), -old])
    if choice < 0.7:
        return rng.choice(INTERESTING_INTS)
    return copy.deepcopy(rng.choice(INTERESTING_VALUES))


def mutate_header(rng: random.Random, data: bytes) -> bytes:
    parts = split(data)
    if parts is None:
        return data
    major, minor, header, payload = parts
    paths = [p for p in _paths(header) if p]
    if not paths:
        return data
    path = rng.choice(paths)
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = rng.random()
    if action < 0.12 and isinstance(parent, dict):
        del parent[key]
    elif action < 0.2 and isinstance(parent, dict):
        parent[rng.choice(["extra", "params", "codec", "chunks", "distribution", "bits"])] = _new_value(rng, None)
    elif action < 0.26 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    else:
        parent[key] = _new_value(rng, parent[key])
    return assemble(major, minor, header, payload)


def mutate_chunk(rng: random.Random, data: bytes) -> bytes:
    parts = split(data)
    if parts is None:
        return data
    major, minor, header, payload = parts
    table = header.get("chunks") if isinstance(header, dict) else None
    if not isinstance(table, list) or not table:
        return data
    try:
        chunks = [bytearray(payload[e[1] : e[1] + e[2]]) for e in table]
    except Exception:
        return data
    i = rng.randrange(len(chunks))
    chunk = chunks[i]
    kind = rng.random()
    if kind < 0.4 and chunk:
        for _ in range(rng.randint(1, 4)):
            chunk[rng.randrange(len(chunk))] ^= 1 << rng.randrange(8)
    elif kind < 0.6 and chunk:
        at = rng.randrange(len(chunk))
        chunk[at : at + rng.randint(1, 8)] = bytes(rng.choice([0, 0xFF, 0x80, 0x7F, rng.randrange(256)]) for _ in range(rng.randint(1, 8)))
    elif kind < 0.8:
        del chunk[rng.randrange(len(chunk) + 1):]
    else:
        chunk += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    offset = 0
    for entry, body in zip(table, chunks):
        entry[1], entry[2], entry[3] = offset, len(body), zlib.crc32(body)
        offset += len(body)
    return assemble(major, minor, header, b"".join(bytes(c) for c in chunks))


def mutate(rng: random.Random, data: bytes, kind: str) -> bytes:
    if kind == "bitflip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    if kind == "bytes":
        out = bytearray(data)
        at, n = rng.randrange(len(out)), rng.randint(1, 8)
        out[at : at + n] = bytes(rng.choice([0, 0xFF, 0x80, 0x7F, rng.randrange(256)]) for _ in range(n))
        return bytes(out)
    if kind == "header":
        return mutate_header(rng, data)
    if kind == "chunk":
        return mutate_chunk(rng, data)
    out = bytearray(data)
    field = rng.choice([8, 10])
    out[field : field + 2] = struct.pack("<H", rng.choice([0, 1, 2, 3, 255, 65535]))
    return bytes(out)


def declared_values(data: bytes) -> int:
    """cells x channels the header declares (0 when it does not parse): the scale of the
    memory a decoder may legitimately need. A dynamic file: the sum over its segments,
    with room for the motion planes."""
    parts = split(data)
    try:
        header = parts[2]
        dynamic = header["scene"].get("kind") == "dynamic"
        scenes = header["segments"] if dynamic else [header]
        total = 0
        for part in scenes:
            cells = int(part["grid"]["height"]) * int(part["grid"]["width"])
            if header["scene"].get("color") == "mlp":
                colours = int(part["color_mlp"]["feature_dim"])
            else:
                colours = 3 * (int(header["scene"]["sh_degree"]) + 1) ** 2
            motion = 16 + min(int(header["scene"]["motion"].get("basis_count", 0)), 256) if dynamic else 0
            total += max(0, min(cells, 1 << 28)) * (11 + max(0, min(colours, 1024)) + motion)
        return min(total, 1 << 36)
    except Exception:
        return 0


# ---------------------------------------------------------------------------- the worker
def _peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def run_cli(data: bytes) -> tuple[str, str]:
    """(outcome, message) of ``gscc decode``, ``gscc info`` and ``gscc info --json`` on
    ``data``, in this process: each must succeed (exit 0) or fail with exit 1 and one
    ``error:`` line on stderr, a failed decode writing no file."""
    import contextlib
    import io
    import tempfile

    from gscc import cli

    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "case.gsc", Path(folder) / "out.ply"
        source.write_bytes(data)
        for args in (["decode", str(source), "-o", str(output)], ["info", str(source)], ["info", "--json", str(source)]):
            out, err = io.StringIO(), io.StringIO()
            sys.argv = ["gscc", *args]
            code = 0
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except MemoryError:
                return "memory", f"gscc {args[0]}: MemoryError"
            except BaseException as exc:
                return "exception", f"gscc {' '.join(args[:-1])}: traceback {type(exc).__name__}: {exc}"
            lines = [line for line in err.getvalue().splitlines() if line.strip()]
            if code != 0 and (code != 1 or len(lines) != 1 or not lines[0].startswith("error:")):
                return "exception", f"gscc {' '.join(args[:-1])}: exit {code}, stderr {err.getvalue()[:200]!r}"
            if args[0] == "decode":
                if code != 0 and output.exists():
                    return "exception", "gscc decode failed but wrote its output"
                if output.is_dir():  # a dynamic scene of several segments decodes to a folder
                    shutil.rmtree(output)
                output.unlink(missing_ok=True)
    return "", ""


def run_case(data: bytes, cli: bool = False) -> tuple[str, str]:
    """(outcome, message) of decoding and summarizing ``data`` in this process."""
    from gscc.errors import ERROR_CLASSES, FormatError
    from gscc.info import summarize

    try:  # summarize decodes the whole file first, static or dynamic (format 1.3)
        json.dumps(summarize(data))
    except FormatError as exc:
        message = str(exc)
        if not message or "\n" in message:
            return "exception", f"{type(exc).__name__}: {message}"
        return ("rejected" if exc.error_class in ERROR_CLASSES else "untyped"), f"{type(exc).__name__}: {message}"
    except MemoryError:
        return "memory", "MemoryError"
    except BaseException as exc:  # a defect: anything else escaping the decoder
        return "exception", f"{type(exc).__name__}: {exc}"
    finally:
        if cli:
            defect = run_cli(data)
            if defect[0]:
                return defect
    return "accepted", ""


def worker(connection) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))
    import gscc.cli  # noqa: F401  (import before the first case is timed)
    import gscc.codec.decoder  # noqa: F401
    import gscc.info  # noqa: F401

    connection.send("ready")
    while True:
        job = connection.recv()
        if job is None:
            return
        data, cli = job
        _reset_peak()
        start = time.perf_counter()
        outcome, message = run_case(data, cli)
        connection.send((outcome, message[:300], time.perf_counter() - start, _peak_rss()))


SPAWN = mp.get_context("spawn")  # fresh interpreters: a worker's memory is its own, whoever starts it


class Worker:
    def __init__(self) -> None:
        self.connection, child = SPAWN.Pipe()
        self.process = SPAWN.Process(target=worker, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.connection.recv()
        self.case = None
        self.started = 0.0

    def submit(self, case, cli: bool) -> None:
        self.case, self.started = case, time.monotonic()
        self.connection.send((case[2], cli))

    def kill(self) -> None:
        self.process.kill()
        self.process.join()


# ---------------------------------------------------------------------------- the run
def cases(counts: list[tuple[Path, int]], seed: int):
    for path, count in counts:
        data = path.read_bytes()
        rng = random.Random(f"{seed}:{path.name}")
        for i in range(count):
            kind = MUTATIONS[i % len(MUTATIONS)]
            yield path.name, kind, mutate(rng, data, kind)


def fuzz(
    per_vector: int, per_invalid: int, workers: int, timeout: float, seed: int, cli_every: int = 0, progress: bool = False,
    match: str = "",
) -> dict:
    ctx_workers = [Worker() for _ in range(workers)]
    outcomes: Counter = Counter()
    by_mutation: Counter = Counter()
    defects: list[dict] = []
    slowest, largest, total = (0.0, ""), (0, ""), 0
    counts = mutation_counts(per_vector, per_invalid, match)
    pending = iter(cases(counts, seed))
    expected = sum(n for _, n in counts)
    done = 0

    def record(case, outcome: str, message: str, seconds: float, rss: int) -> None:
        nonlocal slowest, largest, done
        name, kind, data = case
        bound = MEMORY_BASE + MEMORY_PER_VALUE * declared_values(data)
        if outcome in ("rejected", "accepted") and rss > bound:
            outcome, message = "memory", f"peak RSS {rss >> 20} MiB over the bound {bound >> 20} MiB; {message}"
        outcomes[outcome] += 1
        by_mutation[(kind, outcome)] += 1
        slowest = max(slowest, (seconds, f"{name} {kind}"))
        largest = max(largest, (rss, f"{name} {kind}"))
        if outcome in DEFECTS:
            defects.append({"vector": name, "mutation": kind, "outcome": outcome, "message": message,
                            "seconds": round(seconds, 3), "peak_rss": rss, "file": base64.b64encode(data).decode()})
        done += 1
        if progress and done % 2000 == 0:
            print(f"  {done:,}/{expected:,} cases, {dict(outcomes)}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    idle = list(ctx_workers)
    busy: list[Worker] = []
    exhausted = False
    while busy or not exhausted:
        while idle and not exhausted:
            case = next(pending, None)
            if case is None:
                exhausted = True
                break
            w = idle.pop()
            w.submit(case, bool(cli_every) and total % cli_every == 0)
            busy.append(w)
            total += 1
        ready = mp.connection.wait([w.connection for w in busy], timeout=0.5)
        for w in list(busy):
            if w.connection in ready:
                try:
                    outcome, message, seconds, rss = w.connection.recv()
                except EOFError:  # the worker died: killed (by the kernel, for memory) or crashed
                    w.process.join(timeout=5)
                    killed = w.process.exitcode is not None and w.process.exitcode < 0
                    record(w.case, "memory" if killed else "exception",
                           f"worker died (exit code {w.process.exitcode})", time.monotonic() - w.started, 0)
                    busy.remove(w)
                    w.kill()
                    idle.append(Worker())
                    continue
                record(w.case, outcome, message, seconds, rss)
                busy.remove(w)
                idle.append(w)
            elif time.monotonic() - w.started > timeout:
                record(w.case, "hang", f"no answer in {timeout} s", time.monotonic() - w.started, 0)
                busy.remove(w)
                w.kill()
                idle.append(Worker())
    for w in idle:
        w.connection.send(None)
        w.process.join(timeout=5)
    return {
        "valid_vectors": sum(1 for p, _ in counts if p.parent.name != "invalid"),
        "invalid_vectors": sum(1 for p, _ in counts if p.parent.name == "invalid"),
        "per_vector": per_vector,
        "per_invalid_vector": per_invalid,
        "cli_cases": (total + cli_every - 1) // cli_every if cli_every else 0,
        "cases": total,
        "seconds": round(time.perf_counter() - start, 1),
        "outcomes": {k: outcomes.get(k, 0) for k in ("rejected", "accepted", *DEFECTS)},
        "by_mutation": {f"{k} {o}": n for (k, o), n in sorted(by_mutation.items())},
        "slowest_case": {"seconds": round(slowest[0], 3), "case": slowest[1]},
        "largest_peak_rss": {"mib": round(largest[0] / 2**20, 1), "case": largest[1]},
        "defects": defects,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-vector", type=int, default=10_000, help="mutations per vector (default 10,000)")
    parser.add_argument("--invalid-per-vector", type=int, default=1_000, help="mutations per invalid vector (default 1,000)")
    parser.add_argument("--cli-every", type=int, default=100,
                        help="also run gscc decode, info and info --json on every N-th case (0: never)")
    parser.add_argument("--match", default="", help="only the vectors whose file name contains this")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case before it counts as a hang")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures and the defects' files here")
    args = parser.parse_args()
    report = fuzz(args.per_vector, args.invalid_per_vector, args.workers, args.timeout, args.seed, args.cli_every,
                  progress=True, match=args.match)
    print(f"{report['cases']:,} mutated files from {report['valid_vectors']} valid vectors (x {args.per_vector:,}) and "
          f"{report['invalid_vectors']} invalid ones (x {args.invalid_per_vector:,}) in {report['seconds']} s; "
          f"the CLI (decode, info, info --json) on {report['cli_cases']:,} of them")
    for outcome, n in report["outcomes"].items():
        print(f"  {outcome:10s} {n:8,}")
    print(f"  slowest case {report['slowest_case']['seconds']} s ({report['slowest_case']['case']}); "
          f"largest peak RSS {report['largest_peak_rss']['mib']} MiB ({report['largest_peak_rss']['case']})")
    for defect in report["defects"][:20]:
        print(f"  DEFECT {defect['vector']} {defect['mutation']} {defect['outcome']}: {defect['message'][:160]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if any(report["outcomes"][d] for d in DEFECTS) else 0


if __name__ == "__main__":
    sys.exit(main())
