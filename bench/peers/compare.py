#!/usr/bin/env python3
"""Compare one tool's output on the lab with the lab's truth (bench/peers/run.sh).

    compare.py TOOL TRUTH.jsonl OUTPUT [TARGETS]     prints one JSON object

With TARGETS (ip:port per line), only those servers of the truth are counted.

TOOL is one of
  exsweep       `exsweep scan --format jsonl` records (exchange, build, build_exact)
  zgrab2        zgrab2 `http` JSON lines for GET /owa/auth/logon.aspx; zgrab2
                only fetches, so this file does the reading, the way nuclei's
                ms-exchange-server template does: the X-OWA-Version header, the
                /owa/auth/<version>/ path of the page, plus Exchange 2010's
                /owa/<4-part>/ path and the X-FEServer header as Exchange markers
  nuclei        nuclei -jsonl results of the ms-exchange-server template
                (a match is Exchange, extracted-results are the versions)
  nmap-vuln     nmap -oX with GossiTheDog's http-vuln-exchange.nse: "(15.1.2176) ..."
  nmap-version  nmap -oX with righel's ms-exchange-version.nse: a table keyed by
                the build it detected with product/build/release_date from its
                dictionary (the dictionary's build can differ from the detected
                one: the script then names the nearest lower known build), or a
                list of the CU's builds, or "ERROR: ..." text

Counts, over the lab's servers:
  exchange_truth    servers that are Exchange in the truth
  identified        of those, the tool said Exchange (or gave a build)
  false_positives   the tool said Exchange where the truth says it is not
  build_given       Exchange servers for which the tool gave a version
  four_part         ... a 4-part build (the exact build, when right)
  four_part_right   4-part and equal to the installed build
  four_part_wrong   4-part and not the installed build
  cu_right          the version's first three parts are the installed CU
  as_truth          the version is what the truth says a correct non-intrusive
                    scanner reports (4-part where the server shows it, else the
                    3-part CU)
Builds are compared part by part as numbers (15.01.2176.009 = 15.1.2176.9).
"""
import json
import re
import sys
import xml.etree.ElementTree as ET

BUILD = re.compile(r"^\s*(\d{1,3}(?:\.\d{1,5}){2,3})\s*$")


def norm(v):
    """A build as a tuple of ints, or None when v is not a 3- or 4-part build."""
    if not isinstance(v, str):
        return None
    m = BUILD.match(v)
    if not m:
        return None
    return tuple(int(p) for p in m.group(1).split("."))


def key_of(ip):
    return ip if ":" in ip else ip + ":443"


def read_exsweep(path):
    out = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        out[r["target"]] = {"exchange": bool(r.get("exchange")), "build": r.get("build") or None}
    return out


OWA_AUTH = re.compile(r"/owa/auth/([0-9.]+)/")
OWA_2010 = re.compile(r"/owa/(\d+\.\d+\.\d+\.\d+)/")


def read_zgrab2(path):
    out = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if "ip" not in r:
            continue
        http = r.get("data", {}).get("http", {})
        resp = (http.get("result") or {}).get("response") or {}
        headers = resp.get("headers") or {}
        body = resp.get("body") or ""
        owa = [v for v in headers.get("x_owa_version", []) if v.strip()]
        fe = headers.get("x_feserver") or headers.get("x_calculatedbetarget")
        build = None
        if owa:
            build = owa[0].strip()
        else:
            m = OWA_AUTH.search(body) or OWA_2010.search(body)
            if m:
                build = m.group(1)
        exchange = bool(owa or fe or build)
        out[key_of(r["ip"])] = {"exchange": exchange, "build": build, "status": http.get("status")}
    return out


def read_nuclei(path):
    out = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        ip, port = r.get("ip"), r.get("port") or "443"
        if not ip:
            continue
        vals = [v for v in (r.get("extracted-results") or []) if norm(v)]
        vals.sort(key=lambda v: len(norm(v)), reverse=True)  # a 4-part value first
        out["%s:%s" % (ip, port)] = {"exchange": True, "build": vals[0] if vals else None}
    return out


def nmap_scripts(path, script_id):
    root = ET.parse(path).getroot()
    for host in root.findall("host"):
        addr = host.find("address").get("addr")
        for port in host.findall("ports/port"):
            for s in port.findall("script"):
                if s.get("id") == script_id:
                    yield "%s:%s" % (addr, port.get("portid")), s


VULN = re.compile(r"^\((\d+\.\d+\.\d+)\)")


def read_nmap_vuln(path):
    out = {}
    for target, s in nmap_scripts(path, "http-vuln-exchange"):
        text = s.get("output", "").strip()
        m = VULN.match(text)
        out[target] = {"exchange": bool(m), "build": m.group(1) if m else None, "text": text[:120]}
    return out


DETECTED = re.compile(r"detected build=(\S+)")


def read_nmap_version(path):
    out = {}
    for target, s in nmap_scripts(path, "ms-exchange-version"):
        text = s.get("output", "").strip()
        tables = s.findall("table")
        rec = {"exchange": False, "build": None, "text": text[:120]}
        if tables:
            t = tables[0]
            detected = t.get("key")
            elems = {e.get("key"): e.text for e in t.findall("elem")}
            if elems.get("build"):
                # One version: the table is keyed by the detected build and
                # names the dictionary's entry for it (or the nearest lower one).
                rec.update(exchange=True, build=elems["build"], detected=detected)
            else:
                # A list of the CU's builds: the detected value is the key of
                # each inner table.
                inner = t.find("table")
                key = inner.get("key") if inner is not None else detected
                rec.update(exchange=True, build=key, detected=key, candidates=len(tables))
        else:
            m = DETECTED.search(text)
            if m:
                rec.update(exchange=True, build=m.group(1), detected=m.group(1))
        out[target] = rec
    return out


READERS = {
    "exsweep": read_exsweep,
    "zgrab2": read_zgrab2,
    "nuclei": read_nuclei,
    "nmap-vuln": read_nmap_vuln,
    "nmap-version": read_nmap_version,
}


def main():
    tool, truth_path, out_path = sys.argv[1:4]
    only = None
    if len(sys.argv) > 4:
        only = {l.strip() for l in open(sys.argv[4]) if l.strip()}
    truth = {}
    for line in open(truth_path):
        t = json.loads(line)
        if only is None or t["target"] in only:
            truth[t["target"]] = t
    try:
        got = READERS[tool](out_path)
    except (OSError, ET.ParseError) as e:  # no output, or cut short
        print("compare.py: %s: %s" % (out_path, e), file=sys.stderr)
        got = {}
    c = dict.fromkeys(["hosts", "exchange_truth", "exact_visible", "answered", "identified", "false_positives",
                       "build_given", "four_part", "four_part_right", "four_part_wrong", "cu_right", "as_truth"], 0)
    extra = {"script_failed": 0, "dictionary_substituted": 0}
    for target, t in truth.items():
        c["hosts"] += 1
        g = got.get(target)
        if g is not None:
            c["answered"] += 1
            if g.get("text", "").startswith("ERROR: Script execution failed"):
                extra["script_failed"] += 1
            if g.get("detected") and g.get("build") and norm(g["detected"]) != norm(g["build"]):
                extra["dictionary_substituted"] += 1
        if not t.get("exchange"):
            if g and g.get("exchange"):
                c["false_positives"] += 1
            continue
        c["exchange_truth"] += 1
        if t.get("build_exact"):
            c["exact_visible"] += 1
        if not g or not g.get("exchange"):
            continue
        c["identified"] += 1
        b = norm(g.get("build"))
        if not b:
            continue
        c["build_given"] += 1
        inst = norm(t.get("installed"))
        if len(b) == 4:
            c["four_part"] += 1
            if b == inst:
                c["four_part_right"] += 1
            else:
                c["four_part_wrong"] += 1
        if inst and b[:3] == inst[:3]:
            c["cu_right"] += 1
        if b == norm(t.get("build")):
            c["as_truth"] += 1
    if tool == "nmap-version":
        c.update(extra)
    print(json.dumps(c))


if __name__ == "__main__":
    main()
