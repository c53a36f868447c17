"""Differential test: sluice must read syslog lines the way rsyslog does.

Every line of corpus/rfc3164.txt and corpus/rfc5424.txt is sent to a private Debian rsyslogd
(rsyslog_ref.py) and given to `sluicectl parse`, once with --template json and once with
--template traditional, with the same sender address (--fromhost) and the same time zone (TZ).
Then, line by line:

  * the JSON fields are compared with rsyslog's properties, after normalise() has removed the
    few differences of representation that are deliberate and documented (docs/compatibility.md);
  * the traditional line must be byte for byte rsyslog's RSYSLOG_TraditionalFileFormat line,
    with no normalisation at all.

corpus/differences.txt holds lines where sluice deliberately differs from rsyslog; those are
checked against sluice's own contract (test_differences), and the test also makes sure that
rsyslog really does something else with them (otherwise they belong in the corpus).

How to run (see docs/compatibility.md):
    cmake --build build --target sluicectl
    SLUICE_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/e2e/test_rsyslog_compat.py
Set SLUICE_COMPAT_MAX_DIFFS to see more than the first 60 differing lines of a report.
"""
import json
import os
import pathlib
import re

import pytest

import rsyslog_ref

CORPUS_DIR = pathlib.Path(__file__).resolve().parent / "corpus"
CORPORA = ("rfc3164", "rfc5424")
FROMHOST = rsyslog_ref.FROMHOST
MAX_DIFFS = int(os.environ.get("SLUICE_COMPAT_MAX_DIFFS", "60"))

# sluice JSON key -> rsyslog property, in report order.
FIELDS = (
    ("pri", "pri"),
    ("facility", "syslogfacility"),
    ("severity", "syslogseverity"),
    ("timestamp", "timereported"),
    ("hostname", "hostname"),
    ("app_name", "app-name"),
    ("procid", "procid"),
    ("msgid", "msgid"),
    ("structured_data", "structured-data"),
    ("msg", "msg"),
    ("tag", "syslogtag"),
    ("fromhost", "fromhost"),
)
# Keys sluice's JSON has that rsyslog has no counterpart to compare with (reception time, input).
SLUICE_ONLY = ("received", "input")


class _Missing:
    def __repr__(self):
        return "<missing>"


MISSING = _Missing()


# ------------------------------------------------------------------------------------------------
# The one place where representation differences are taken out. Each rule is listed, with its
# reason, in docs/compatibility.md ("Normalised differences"); keep the two in step. Anything not
# handled here is a real difference and is reported.


def normalise(rs, sl):
    """Maps one rsyslog record and one sluice JSON record to comparable views.

    rs: rsyslog's record (rsyslog_ref.run), sl: sluice's JSON object for the same line.
    Returns (r, s): dicts keyed by the sluice field names of FIELDS, values str (MISSING where
    sluice's record lacks the key). Neither argument is modified.
    """
    rfc5424 = rs.get("protocol-version") == "1"
    r = {k: rs[p] for k, p in FIELDS}
    s = {k: _as_text(sl[k]) if k in sl else MISSING for k, _ in FIELDS}

    # N1. RFC 3164: rsyslog keeps the space that separates the TAG from the message at the start
    # of msg; sluice takes one space off msg (SL_MSG_MSG_SP) and its templates put it back.
    if not rfc5424 and r["msg"].startswith(" "):
        r["msg"] = r["msg"][1:]

    # N2. rsyslog replaces every control character (below 0x20, tab included) with '#' and three
    # octal digits when it receives a message (parser.escapeControlCharactersOnReceive, on by
    # default); sluice keeps the raw bytes in its fields and its JSON escapes them. Apply
    # rsyslog's escaping to sluice's values.
    for k, v in s.items():
        if v is not MISSING:
            s[k] = rsyslog_ref.escape_like_rsyslog(v)

    # N3. rsyslog prints "-" for an empty APP-NAME, PROCID, MSGID and STRUCTURED-DATA (for RFC
    # 3164 messages too), and for a NILVALUE HOSTNAME of an RFC 5424 message; sluice's field is
    # empty (DESIGN.md: an absent field is empty, "-" in RFC 5424 means absent).
    for k in ("app_name", "procid", "msgid", "structured_data"):
        if r[k] == "-":
            r[k] = ""
    if rfc5424 and r["hostname"] == "-":
        r["hostname"] = ""

    # N4. RFC 5424: rsyslog keeps a UTF-8 BOM at the start of MSG in msg; sluice removes it and
    # flags the message (SL_MSG_BOM, msg.h), and its templates put it back.
    if rfc5424 and r["msg"].startswith("\ufeff"):
        r["msg"] = r["msg"][1:]

    # N5. RFC 3164 stamps carry no year. Received in December, a January stamp is next year's
    # for sluice (a sender whose clock runs ahead across new year) and this year's for rsyslog.
    # Take sluice's year
    # back by one in exactly that case.
    ts, rcv = s["timestamp"], sl.get("received", "")
    if (not rfc5424 and ts is not MISSING and ts[4:8] == "-01-" and rcv[4:8] == "-12-"
            and ts[:4] == "%04d" % (int(rcv[:4]) + 1)):
        s["timestamp"] = "%04d" % int(rcv[:4]) + ts[4:]

    return r, s


def _as_text(v):
    """sluice's JSON may hold numbers (pri, facility, severity) as numbers; rsyslog's are text."""
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, (int, float)):
        return str(v)
    return v


def diff_record(rs, sl):
    """[(field, rsyslog value, sluice value)] for the fields that differ after normalise()."""
    r, s = normalise(rs, sl)
    out = [(k, r[k], s[k]) for k, _ in FIELDS if r[k] != s[k]]
    out += [(k, "(sluice only)", MISSING) for k in SLUICE_ONLY if k not in sl]
    return out


def format_field_report(name, lines, diffs, ref="rsyslog", limit=MAX_DIFFS):
    """A readable report: a count per field, then line number, raw line, and each differing field.

    diffs: {line index (0-based): [(field, reference value, sluice value)]}; ref names the
    reference ("rsyslog", or "expected" for sluice's own contract).
    """
    if not diffs:
        return ""
    per_field = {}
    for d in diffs.values():
        for field, _, _ in d:
            per_field[field] = per_field.get(field, 0) + 1
    out = ["%s: %d of %d lines differ from %s" % (name, len(diffs), len(lines), ref)]
    w = max(len(ref) + 1, 7)
    out.append("  per field: " + ", ".join("%s %d" % (k, n) for k, n in sorted(per_field.items(), key=lambda kv: -kv[1])))
    for shown, i in enumerate(sorted(diffs)):
        if shown == limit:
            out.append("  ... %d more lines (set SLUICE_COMPAT_MAX_DIFFS)" % (len(diffs) - limit))
            break
        out.append("%s:%d  %s" % (name, i + 1, _show(lines[i])))
        for field, rv, sv in diffs[i]:
            out.append("    %-16s %-*s %r" % (field, w, ref + ":", rv))
            out.append("    %-16s %-*s %r" % ("", w, "sluice:", sv))
    return "\n".join(out)


def format_traditional_report(name, lines, pairs, ref="rsyslog", limit=MAX_DIFFS):
    """pairs: {line index: (rsyslog bytes, sluice bytes)} for the lines whose outputs differ."""
    if not pairs:
        return ""
    out = ["%s: %d of %d traditional lines differ from %s (byte-exact)" % (name, len(pairs), len(lines), ref)]
    w = max(len(ref) + 1, 7)
    for shown, i in enumerate(sorted(pairs)):
        if shown == limit:
            out.append("  ... %d more lines (set SLUICE_COMPAT_MAX_DIFFS)" % (len(pairs) - limit))
            break
        rv, sv = pairs[i]
        at = next((k for k in range(min(len(rv), len(sv))) if rv[k] != sv[k]), min(len(rv), len(sv)))
        out.append("%s:%d  %s" % (name, i + 1, _show(lines[i])))
        out.append("    %-*s %r" % (w, ref + ":", rv))
        out.append("    %-*s %r" % (w, "sluice:", sv))
        out.append("    first difference at byte %d" % at)
    return "\n".join(out)


def _show(line):
    return repr(line.decode("utf-8", "backslashreplace"))


# ------------------------------------------------------------------------------------------------
# Self-test of the comparison itself: pure Python, no daemons. If these fail, nothing below can be
# trusted.


def _rs(**kw):
    base = {p: "" for _, p in FIELDS}
    base.update({"pri": "13", "syslogfacility": "1", "syslogseverity": "5", "procid": "-", "msgid": "-",
                 "structured-data": "-", "fromhost": FROMHOST, "protocol-version": "0"})
    base.update({k.replace("_", "-") if k in ("app_name", "structured_data", "protocol_version") else k: v for k, v in kw.items()})
    return base


def _sl(**kw):
    base = {k: "" for k, _ in FIELDS}
    base.update({"pri": 13, "facility": 1, "severity": 5, "fromhost": FROMHOST, "received": "x", "input": "stdin"})
    base.update(kw)
    return base


def test_selftest_identical_records_have_no_diff():
    rs = _rs(timereported="2026-11-22T10:00:00+00:00", hostname="web01", app_name="sshd", procid="42",
             msg=" hello", syslogtag="sshd[42]:")
    sl = _sl(timestamp="2026-11-22T10:00:00+00:00", hostname="web01", app_name="sshd", procid="42",
             msg="hello", tag="sshd[42]:")
    assert diff_record(rs, sl) == []


def test_selftest_msg_space_only_for_rfc3164_and_only_one():
    assert diff_record(_rs(msg="  two"), _sl(msg=" two")) == []
    assert diff_record(_rs(msg="nospace"), _sl(msg="nospace")) == []
    # sluice must take the space off: keeping it is a difference.
    assert diff_record(_rs(msg=" hello"), _sl(msg=" hello")) == [("msg", "hello", " hello")]
    # RFC 5424: rsyslog's msg has no separator space to take off, so nothing is normalised.
    assert diff_record(_rs(protocol_version="1", msg=" two"), _sl(msg="two")) == [("msg", " two", "two")]


def test_selftest_control_characters():
    assert diff_record(_rs(msg="a#011b#033"), _sl(msg="a\tb\x1b")) == []
    assert diff_record(_rs(structured_data='[x@1 v="#011"]'), _sl(structured_data='[x@1 v="\t"]')) == []
    # DEL is not escaped by rsyslog, so it is not by normalise either.
    assert diff_record(_rs(msg="a\x7f"), _sl(msg="a\x7f")) == []
    assert diff_record(_rs(msg="a#177"), _sl(msg="a\x7f")) == [("msg", "a#177", "a\x7f")]
    # A literal "#011" in sluice's field stays as it is and matches rsyslog's literal "#011".
    assert diff_record(_rs(msg="#011"), _sl(msg="#011")) == []


def test_selftest_dash_for_empty():
    assert diff_record(_rs(app_name="-", procid="-", msgid="-", structured_data="-"), _sl()) == []
    # sluice writing "-" itself is a difference: its absent fields are empty.
    assert diff_record(_rs(procid="-"), _sl(procid="-")) == [("procid", "", "-")]
    # The host name "-" is the NILVALUE only in RFC 5424.
    assert diff_record(_rs(protocol_version="1", hostname="-"), _sl(hostname="")) == []
    assert diff_record(_rs(hostname="-"), _sl(hostname="")) == [("hostname", "-", "")]
    # Other fields are never normalised from "-".
    assert diff_record(_rs(protocol_version="1", msg="-"), _sl(msg="")) == [("msg", "-", "")]


def test_selftest_bom_only_for_rfc5424():
    assert diff_record(_rs(protocol_version="1", msg="\ufeffhi"), _sl(msg="hi")) == []
    assert diff_record(_rs(msg=" \ufeffhi"), _sl(msg="hi")) == [("msg", "\ufeffhi", "hi")]


def test_selftest_real_differences_are_reported():
    rs = _rs(timereported="2026-11-22T10:00:00Z", hostname="web01", syslogtag="app[1]")
    sl = _sl(timestamp="2026-11-22T10:00:00+00:00", hostname="127.0.0.1", tag="app[1]:", pri="14")
    sl.pop("input")
    sl.pop("msg")
    d = diff_record(rs, sl)
    assert ("timestamp", "2026-11-22T10:00:00Z", "2026-11-22T10:00:00+00:00") in d
    assert ("hostname", "web01", "127.0.0.1") in d
    assert ("tag", "app[1]", "app[1]:") in d
    assert ("pri", "13", "14") in d
    assert ("msg", "", MISSING) in d
    assert ("input", "(sluice only)", MISSING) in d
    assert len(d) == 6
    rep = format_field_report("rfc3164.txt", [b"l1", b"<13>raw line"], {1: d})
    assert "rfc3164.txt:2" in rep and "'<13>raw line'" in rep
    assert "hostname         rsyslog: 'web01'" in rep and "sluice:  '127.0.0.1'" in rep
    assert "msg" in rep and "<missing>" in rep


def test_selftest_numbers_and_inputs_unchanged():
    rs = _rs(msg=" x")
    sl = _sl(msg="a\tb", pri=13)
    before = (dict(rs), dict(sl))
    r, s = normalise(rs, sl)
    assert (rs, sl) == before
    assert s["pri"] == "13" and s["msg"] == "a#011b" and r["msg"] == "x"


def test_selftest_traditional_report():
    rep = format_traditional_report("x.txt", [b"raw"], {0: (b"Nov 22 a b\n", b"Nov 22 a c\n")})
    assert "x.txt:1" in rep and "first difference at byte 9" in rep


# ------------------------------------------------------------------------------------------------
# The corpus.


def read_corpus(name):
    data = (CORPUS_DIR / (name + ".txt")).read_bytes()
    assert data.endswith(b"\n"), "%s.txt must end with LF" % name
    return data.split(b"\n")[:-1]


def read_differences():
    data = (CORPUS_DIR / "differences.txt").read_bytes()
    return [l for l in data.split(b"\n") if l and not l.startswith(b"#")]


PRI_MAX_DIGITS = 32  # as in src/parsers/parse.c


def parse_pri(line):
    """Mirror of sl_parse_pri (src/parsers/parse.c): (bytes used, pri); used 0 = no PRI, -1 = bad.
    Like rsyslog: '<', 1 to PRI_MAX_DIGITS digits (leading zeros allowed), value 0..191, '>'."""
    if not line.startswith(b"<"):
        return 0, None
    i, v = 1, 0
    while i < len(line) and i <= PRI_MAX_DIGITS and 48 <= line[i] <= 57 and v <= 191:
        v = v * 10 + line[i] - 48
        i += 1
    if i == 1 or i >= len(line) or line[i] != ord(">") or v > 191:
        return -1, None
    return i + 1, v


@pytest.fixture(scope="module")
def corpus():
    return {name: read_corpus(name) for name in CORPORA}


@pytest.fixture(scope="module")
def differences():
    return read_differences()


@pytest.fixture(scope="module")
def all_lines(corpus, differences):
    """Every line, in one list (one rsyslog run, one sluicectl run per template), with slices."""
    lines, slices = [], {}
    for name, ls in list(corpus.items()) + [("differences", differences)]:
        slices[name] = slice(len(lines), len(lines) + len(ls))
        lines += ls
    return lines, slices


@pytest.fixture(scope="module")
def rsyslog(all_lines):
    if not rsyslog_ref.rsyslogd_path():
        pytest.skip("rsyslogd is not installed (Debian package rsyslog); the differential test needs it")
    lines, slices = all_lines
    records = rsyslog_ref.run(lines)
    return {name: records[s] for name, s in slices.items()}


@pytest.fixture(scope="module")
def sluice_json(all_lines, run_sluicectl):
    lines, slices = all_lines
    out = _run_template(run_sluicectl, lines, "json")
    recs = []
    for i, l in enumerate(out):
        try:
            recs.append(json.loads(l.decode("utf-8")))
        except ValueError as e:
            pytest.fail("sluicectl --template json, line %d: not JSON (%s): %r" % (i + 1, e, l))
    return {name: recs[s] for name, s in slices.items()}


@pytest.fixture(scope="module")
def sluice_traditional(all_lines, run_sluicectl):
    lines, slices = all_lines
    out = _run_template(run_sluicectl, lines, "traditional")
    return {name: [l + b"\n" for l in out[s]] for name, s in slices.items()}


def _run_template(run_sluicectl, lines, template):
    p = run_sluicectl(["--template", template, "--fromhost", FROMHOST], b"".join(l + b"\n" for l in lines))
    if p.returncode != 0:
        pytest.fail("sluicectl parse --template %s exited %d: %s" % (template, p.returncode, p.stderr.decode("utf-8", "replace").strip()))
    out = p.stdout.split(b"\n")
    if out[-1] != b"" or len(out) - 1 != len(lines):
        pytest.fail("sluicectl parse --template %s: %d lines in, %d out" % (template, len(lines), p.stdout.count(b"\n")))
    return out[:-1]


def test_corpus_shape(corpus, differences):
    """The corpus is what it says it is: enough lines, valid PRIs, every facility and severity."""
    total = sum(len(ls) for ls in corpus.values())
    assert total >= 150
    seen_fac, seen_sev, seen = set(), set(), set()
    for name, lines in corpus.items():
        for i, line in enumerate(lines):
            where = "%s.txt:%d" % (name, i + 1)
            assert line, where + ": empty line"
            assert b"\r" not in line, where
            assert len(line) < 8000, where + ": longer than rsyslog's default maxMessageSize"
            line.decode("utf-8")
            assert line not in seen, where + ": duplicate"
            seen.add(line)
            used, pri = parse_pri(line)
            assert used > 0, where + ": no valid PRI"
            seen_fac.add(pri >> 3)
            seen_sev.add(pri & 7)
            assert (line[used:used + 2] == b"1 ") == (name == "rfc5424"), where + ": wrong file for its format"
    assert seen_fac == set(range(24)), "facilities missing: %s" % sorted(set(range(24)) - seen_fac)
    assert seen_sev == set(range(8)), "severities missing: %s" % sorted(set(range(8)) - seen_sev)
    assert len(differences) >= 20


def test_rsyslog_reads_corpus_as_intended(corpus, rsyslog):
    """rsyslog picks the intended parser for every line, finds its timestamp, and reads its PRI.
    (A corpus line rsyslog could not read fully would compare reception times, which differ.)"""
    bad = []
    for name, lines in corpus.items():
        for i, (line, rec) in enumerate(zip(lines, rsyslog[name])):
            want = "1" if name == "rfc5424" else "0"
            if rec["protocol-version"] != want:
                bad.append("%s.txt:%d: rsyslog read it as protocol %s" % (name, i + 1, rec["protocol-version"]))
            if rec["timereported"] == rec["timegenerated"]:
                bad.append("%s.txt:%d: rsyslog found no timestamp" % (name, i + 1))
            if rec["pri"] != str(parse_pri(line)[1]):
                bad.append("%s.txt:%d: rsyslog read pri %s" % (name, i + 1, rec["pri"]))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", CORPORA)
def test_json_fields_match_rsyslog(name, corpus, rsyslog, sluice_json):
    lines = corpus[name]
    diffs = {}
    for i, (rs, sl) in enumerate(zip(rsyslog[name], sluice_json[name])):
        d = diff_record(rs, sl)
        if d:
            diffs[i] = d
    if diffs:
        pytest.fail(format_field_report(name + ".txt", lines, diffs), pytrace=False)


@pytest.mark.parametrize("name", CORPORA)
def test_traditional_is_byte_identical(name, corpus, rsyslog, sluice_traditional):
    lines = corpus[name]
    pairs = {}
    for i, (rs, sl) in enumerate(zip(rsyslog[name], sluice_traditional[name])):
        if rs["traditional"] != sl:
            pairs[i] = (rs["traditional"], sl)
    if pairs:
        pytest.fail(format_traditional_report(name + ".txt", lines, pairs), pytrace=False)


# ------------------------------------------------------------------------------------------------
# Deliberate differences: sluice's own contract (DESIGN.md, src/core/msg.h, src/parsers/parse.h).

_LEGACY_TS = rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d [012]\d:[0-5]\d:[0-6]\d"


def expected_difference(line):
    """What sluice must make of a line of differences.txt: (kind, {field: value}).

    Invalid PRI (sl_parse_pri < 0): pri 13, user.notice (SL_MSG_BAD_PRI); nothing of the line can
    be trusted as a header, so, as RFC 3164 4.3.3 says for an unidentifiable PRI, the whole line
    is the message, stamped with the reception time and the sender's address.
    Malformed RFC 5424 (a valid PRI, "1 ", then anything RFC 5424 forbids): sl_parse marks it
    malformed (sl_msg_mark_malformed): msg is the whole raw line, hostname the sender's address,
    timestamp the reception time, every other header field empty, pri the one that was read.
    The value None for timestamp means "equal to the record's received".
    """
    used, pri = parse_pri(line)
    if used < 0:
        kind, pri = "invalid PRI", 13
    elif used > 0 and line[used:used + 2] == b"1 ":
        kind = "malformed RFC 5424"
    else:
        raise AssertionError("differences.txt line %r is neither an invalid PRI nor RFC 5424" % line)
    want = {
        "pri": str(pri),
        "facility": str(pri >> 3),
        "severity": str(pri & 7),
        "timestamp": None,
        "hostname": FROMHOST,
        "app_name": "",
        "procid": "",
        "msgid": "",
        "structured_data": "",
        "msg": line.decode("utf-8"),
        "tag": "",
        "fromhost": FROMHOST,
    }
    return kind, want


def expected_traditional(line):
    """rsyslog's traditional format applied to such a message: reception time, sender address,
    the empty tag, the space %msg:::sp-if-no-1st-sp% adds, the raw line with rsyslog's escaping."""
    return re.compile(rb"\A" + _LEGACY_TS + rb" " + re.escape(FROMHOST.encode()) + rb"  "
                      + re.escape(rsyslog_ref.escape_like_rsyslog(line)) + rb"\n\Z")


def test_differences(differences, sluice_json, sluice_traditional):
    diffs, pairs, kinds = {}, {}, {}
    for i, (line, rec, trad) in enumerate(zip(differences, sluice_json["differences"], sluice_traditional["differences"])):
        kinds[i], want = expected_difference(line)
        for k, v in want.items():
            got = _as_text(rec[k]) if k in rec else MISSING
            if v is None:
                v = rec.get("received", MISSING)
            if got != v:
                diffs.setdefault(i, []).append((k, v, got))
        if not expected_traditional(line).match(trad):
            pairs[i] = (b"<Mmm dd hh:mm:ss> " + FROMHOST.encode() + b"  " + rsyslog_ref.escape_like_rsyslog(line) + b"\n", trad)
    report = []
    if diffs:
        report.append(format_field_report("differences", differences, diffs, ref="expected"))
    if pairs:
        report.append(format_traditional_report("differences", differences, pairs, ref="expected"))
    if report:
        pytest.fail("sluice's documented behaviour for these lines (see expected_difference):\n"
                    + "\n".join(report), pytrace=False)


def test_differences_really_differ(differences, rsyslog):
    """Each line of differences.txt must be one rsyslog reads differently from sluice's contract;
    a line rsyslog reads the same way belongs in the corpus instead."""
    same = []
    for i, (line, rs) in enumerate(zip(differences, rsyslog["differences"])):
        _, want = expected_difference(line)
        want["timestamp"] = rs["timereported"]  # reception times cannot be compared
        if not diff_record(rs, dict(want, received="", input="")):
            same.append("differences:%d %s" % (i + 1, _show(line)))
    if same:
        pytest.fail("rsyslog reads these as sluice does (move them to the corpus):\n" + "\n".join(same), pytrace=False)


def test_difference_expectations_match_rsyslog_template_semantics(differences, rsyslog):
    """Where rsyslog also keeps an invalid-PRI line whole, its traditional line has the shape
    expected_traditional() demands of sluice, so that expectation is rsyslog's, not ours."""
    checked = 0
    for line, rs in zip(differences, rsyslog["differences"]):
        if rs["pri"] == "invld":
            checked += 1
            assert expected_traditional(line).match(rs["traditional"]), (line, rs["traditional"])
    assert checked >= 3
