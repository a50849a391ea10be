#!/usr/bin/env python3
"""After a schemathesis run: what it sent, what came back, and whether a refused request
stored anything.

usage: census.py BEFORE.json HAR.json DB  (BEFORE: `census.py --snapshot DB > BEFORE.json`)

Every row the run left in the store (documents, tokens) that was not there before must be
named by a 2xx answer of the run (its id appears in a successful response body); a row no
successful answer names was stored by a refused request. Rows the controllers make
themselves (`system` documents) must hang under such a row or a row from before.
Exit 1 on any 5xx or any row stored when refused.
"""
import json
import sqlite3
import sys
from collections import Counter


def rows(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    docs = {
        r[0]: {"kind": r[1], "system": bool(r[2]), "parent": r[3]}
        for r in c.execute("select id, kind, system, parent_id from documents")
    }
    tokens = {r[0]: {"kind": "token:" + r[1]} for r in c.execute("select id, kind from tokens")}
    return docs, tokens


def strings(v, out):
    if isinstance(v, str):
        out.add(v)
    elif isinstance(v, dict):
        for x in v.values():
            strings(x, out)
    elif isinstance(v, list):
        for x in v:
            strings(x, out)


def main():
    if sys.argv[1] == "--snapshot":
        docs, tokens = rows(sys.argv[2])
        json.dump(sorted(docs) + sorted(tokens), sys.stdout)
        return 0
    before = set(json.load(open(sys.argv[1])))
    entries = json.load(open(sys.argv[2]))["log"]["entries"]
    docs, tokens = rows(sys.argv[3])
    statuses = Counter(e["response"]["status"] for e in entries)
    classes = Counter(s // 100 for s in statuses.elements())
    named = set()
    for e in entries:
        if e["response"]["status"] // 100 == 2:
            text = e["response"].get("content", {}).get("text") or ""
            try:
                strings(json.loads(text), named)
            except ValueError:
                pass
    known = before | named
    refused_stored = []
    for i, d in docs.items():
        if i in known:
            continue
        if d["system"] and d["parent"] in known:
            continue
        refused_stored.append((i, d["kind"]))
    for i, t in tokens.items():
        if i not in known:
            refused_stored.append((i, t["kind"]))
    new = (set(docs) | set(tokens)) - before
    print(
        f"census: {len(entries)} requests; 2xx {classes[2]}, 3xx {classes[3]}, 4xx {classes[4]}, "
        f"5xx {classes[5]}; statuses {dict(sorted(statuses.items()))}"
    )
    print(
        f"census: {len(new)} rows stored by the run ({sum(1 for i in new if i in docs and docs[i]['system'])} "
        f"made by controllers), {len(refused_stored)} stored when refused"
    )
    for i, k in refused_stored:
        print(f"census: STORED WHEN REFUSED: {k} {i}")
    bad = classes[5] + len(refused_stored)
    print(f"schemathesis census: {len(entries) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
