"""`sluicectl parse` turns any bytes into valid output.

parse.h promises that parsing never fails on content: whatever cannot be parsed is kept whole
and marked malformed. So sluicectl parse, fed arbitrary bytes (NUL, CR, invalid UTF-8, lines of
100 KB, broken headers), must exit 0 and write exactly one output line per input line for every
template, and with --template json every line must be one strictly valid JSON object in valid
UTF-8. Custom templates must work and a template naming an unknown field must be refused with
an error that names the field.

The input is pseudo-random with a fixed seed, so a failure repeats; when sluicectl dies on the
random input the test narrows it down to the one line that kills it.
"""
import json
import random

import pytest

SEED = 20261122
N_RANDOM = 3000
LONG = 100 * 1024
TEMPLATES = ("json", "traditional", "rfc3164", "rfc5424", "${hostname} ${msg}\\n")
# The keys DESIGN.md gives the JSON template.
JSON_KEYS = ("pri", "facility", "severity", "timestamp", "hostname", "app_name", "procid", "msgid",
             "structured_data", "msg", "tag", "fromhost", "received", "input")
SANITIZER_MARKS = (b"AddressSanitizer", b"UndefinedBehaviorSanitizer", b"runtime error:", b"LeakSanitizer")

_HEADERS = [
    b"<13>Nov 22 10:00:00 web01 app[1]: ",
    b"<13>Nov  2 10:00:00 web01 app: ",
    b"<13>2026-11-22T10:00:00.123456+01:00 web01 app: ",
    b"<165>1 2026-11-22T10:00:00.123Z web01 app 42 ID47 [x@32473 a=\"b\" c=\"\\\"\\]\"] ",
    b"<165>1 2026-11-22T10:00:00Z - - - - - ",
    b"<34>1 ",
    b"<34>1 2026-11-22T10:00:00Z",
    b"<",
    b"<1",
    b"<191>",
    b"<192>",
    b"<013>",
    b"Nov 22 10:00:00 ",
    b"",
]
_NASTY = [b"\0", b"\r", b"\t", b" ", b"[", b"]", b"\"", b"\\", b"=", b"-", b"<", b">", b":", b"\xef\xbb\xbf",
          b"\xff", b"\xc3", b"\xc0\xaf", b"\x80", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xf4\x90\x80\x80", b"\x7f",
          b"\x1b[31m", "ü日😀".encode()]


def _random_bytes(rng, n):
    return bytes(b if b != 10 else 0 for b in rng.randbytes(n))


def _mutated_header(rng):
    h = bytearray(rng.choice(_HEADERS) + rng.choice([b"hello", b"", b"a b c", "grüße".encode()]))
    for _ in range(rng.randrange(4)):
        op = rng.randrange(3)
        pos = rng.randrange(len(h) + 1)
        if op == 0:
            h[pos:pos] = rng.choice(_NASTY)
        elif op == 1 and h:
            del h[pos:pos + rng.randrange(1, 4)]
        else:
            h = h[:pos]
    return bytes(h).replace(b"\n", b"\0")


def random_lines(seed=SEED, n=N_RANDOM):
    """n LF-free lines of every kind sluice must survive, reproducible from the seed."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        kind = rng.randrange(10)
        if kind < 3:
            lines.append(_random_bytes(rng, rng.randrange(0, 300)))
        elif kind < 8:
            lines.append(_mutated_header(rng))
        elif kind == 8:
            lines.append(b"".join(rng.choice(_NASTY) for _ in range(rng.randrange(0, 40))))
        else:
            lines.append(rng.choice([b"", b" ", b"\r", b"\0", b"\0\0\0", b"-", b"<>", b"<13>", b"<13>1 "]))
    # Very long lines: a valid header with a huge message, a huge SD element, raw bytes.
    lines.insert(100, b"<13>Nov 22 10:00:00 web01 app[1]: " + b"x" * LONG)
    lines.insert(200, b"<13>1 2026-11-22T10:00:00Z web01 app - - [big@32473 v=\"" + b"y" * LONG + b"\"] msg")
    lines.insert(300, _random_bytes(rng, LONG))
    lines.insert(400, b"<13>Nov 22 10:00:00 " + b"h" * LONG + b" app: long host")
    lines.insert(500, b"<13>Nov 22 10:00:00 web01 " + b"t" * LONG + b"[1]: long tag")
    lines.insert(600, b"<13>1 2026-11-22T10:00:00Z web01 " + b"a" * LONG + b" - - - long app-name")
    return lines


@pytest.fixture(scope="module")
def lines():
    ls = random_lines()
    assert all(b"\n" not in l for l in ls)
    assert any(len(l) >= LONG for l in ls) and any(b"\0" in l for l in ls) and any(b"\r" in l for l in ls)
    assert any(_invalid_utf8(l) for l in ls)
    return ls


def _invalid_utf8(b):
    try:
        b.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def _check_ran(p, what):
    if any(m in p.stderr for m in SANITIZER_MARKS):
        pytest.fail("%s: sanitizer report:\n%s" % (what, p.stderr.decode("utf-8", "replace")[-4000:]))
    if p.returncode != 0:
        return "exit status %d; stderr: %s" % (p.returncode, p.stderr.decode("utf-8", "replace").strip()[-2000:])
    return None


def _culprit(run_sluicectl, args, lines):
    """The first single line on which sluicectl fails, found by halving (None if none fails alone)."""
    chunk = lines
    while len(chunk) > 1:
        half = len(chunk) // 2
        first = chunk[:half]
        p = run_sluicectl(args, b"".join(l + b"\n" for l in first))
        chunk = first if p.returncode != 0 else chunk[half:]
    p = run_sluicectl(args, chunk[0] + b"\n")
    return chunk[0] if p.returncode != 0 else None


def _strict_json(line, where):
    def no_dups(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)

    def no_constants(name):
        raise ValueError("non-JSON constant " + name)

    try:
        text = line.decode("utf-8")
        obj = json.loads(text, object_pairs_hook=no_dups, parse_constant=no_constants)
    except ValueError as e:
        pytest.fail("%s: not strict JSON in UTF-8 (%s): %r" % (where, e, line[:300]))
    if not isinstance(obj, dict):
        pytest.fail("%s: not a JSON object: %r" % (where, line[:300]))
    for k, v in obj.items():
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                pytest.fail("%s: key %s holds a lone surrogate escape, not Unicode text: %r" % (where, k, line[:300]))
        elif not isinstance(v, int) or isinstance(v, bool):
            pytest.fail("%s: key %s is neither a string nor an integer: %r" % (where, k, v))
    missing = [k for k in JSON_KEYS if k not in obj]
    if missing:
        pytest.fail("%s: keys missing: %s" % (where, ", ".join(missing)))
    return obj


@pytest.mark.parametrize("template", TEMPLATES)
def test_any_bytes_give_one_line_each(template, lines, run_sluicectl):
    args = ["--template", template]
    p = run_sluicectl(args, b"".join(l + b"\n" for l in lines))
    err = _check_ran(p, "template %s" % template)
    if err:
        p0 = run_sluicectl(args, b"")
        if p0.returncode != 0:
            pytest.fail("sluicectl parse --template %s fails even on empty input: %s" % (template, _check_ran(p0, template)),
                        pytrace=False)
        bad = _culprit(run_sluicectl, args, lines)
        pytest.fail("sluicectl parse --template %s on the random input: %s\nfailing line: %r"
                    % (template, err, bad[:300] if bad is not None else "(none fails alone)"))
    out = p.stdout
    if out.count(b"\n") != len(lines) or not out.endswith(b"\n"):
        pytest.fail("sluicectl parse --template %s: %d lines in, %d out%s"
                    % (template, len(lines), out.count(b"\n"), "" if out.endswith(b"\n") else " and no LF at the end"),
                    pytrace=False)
    if template == "json":
        try:
            out.decode("utf-8")  # the whole output is UTF-8, not just each line
        except UnicodeDecodeError as e:
            pytest.fail("--template json wrote bytes that are not UTF-8 (%s) near %r" % (e, out[max(0, e.start - 80):e.end + 20]))
        for i, l in enumerate(out.split(b"\n")[:-1]):
            _strict_json(l, "output line %d (input %r)" % (i + 1, lines[i][:120]))


def test_last_line_without_lf_and_empty_input(run_sluicectl):
    p = run_sluicectl(["--template", "json"], b"<13>Nov 22 10:00:00 web01 app: one\n<13>two without LF")
    assert _check_ran(p, "json") is None, p.stderr
    assert p.stdout.count(b"\n") == 2
    p = run_sluicectl(["--template", "json"], b"")
    assert _check_ran(p, "json") is None and p.stdout == b""
    p = run_sluicectl(["--template", "json"], b"\n\n")
    assert _check_ran(p, "json") is None and p.stdout.count(b"\n") == 2
    for l in p.stdout.split(b"\n")[:-1]:
        assert _strict_json(l, "empty line")["msg"] == ""


WELL_FORMED = [
    b"<38>Nov 22 09:14:02 web01 sshd[2231]: Accepted publickey for deploy",
    b"<13>Nov  2 07:00:00 db-02 app: day padded with a space",
    b"<165>1 2026-11-22T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\"] An event",
    b"<13>1 2026-11-22T10:21:04Z - - - - - nil fields",
    "<13>Nov 22 10:08:04 web01 app: Benutzer »müller« hat sich angemeldet".encode(),
    b"not syslog at all",
]


def test_custom_template_agrees_with_json(run_sluicectl):
    """${field} gives the field's text, as the JSON template shows it; \\t and \\n are escapes."""
    data = b"".join(l + b"\n" for l in WELL_FORMED)
    pj = run_sluicectl(["--template", "json", "--fromhost", "192.0.2.7"], data)
    assert _check_ran(pj, "json") is None, pj.stderr
    recs = [_strict_json(l, "json") for l in pj.stdout.split(b"\n")[:-1]]
    assert len(recs) == len(WELL_FORMED)

    pc = run_sluicectl(["--template", "${hostname} ${msg}\\n", "--fromhost", "192.0.2.7"], data)
    assert _check_ran(pc, "custom") is None, pc.stderr
    want = b"".join(("%s %s\n" % (r["hostname"], r["msg"])).encode() for r in recs)
    assert pc.stdout == want

    pc = run_sluicectl(["--template", "${pri}\\t${facility}.${severity} ${tag}|${app_name}\\n"], data)
    assert _check_ran(pc, "custom") is None, pc.stderr
    want = b"".join(("%s\t%s.%s %s|%s\n" % (r["pri"], r["facility"], r["severity"], r["tag"], r["app_name"])).encode()
                    for r in recs)
    assert pc.stdout == want


@pytest.mark.parametrize("spec,name", [("${hostnme}\\n", "hostnme"), ("${msg} ${no_such_field}\\n", "no_such_field")])
def test_unknown_field_is_refused(spec, name, run_sluicectl):
    p = run_sluicectl(["--template", spec], b"<13>Nov 22 10:00:00 web01 app: x\n")
    assert p.returncode != 0
    assert name.encode() in p.stderr, p.stderr
    assert p.stdout == b""


def test_random_lines_are_reproducible():
    """The generator depends only on its seed (a failure must repeat)."""
    a, b = random_lines(n=200), random_lines(n=200)
    assert a == b and random_lines(seed=1, n=200) != a
