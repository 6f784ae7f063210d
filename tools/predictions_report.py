#!/usr/bin/env python3
"""Breaks down a `./oppu bench personalize --predictions FILE` file: per mode and user activity level, the share of
answers equal to the gold, to the user's noise-free answer and to the history answer (classification and ratings:
exact match, which for classification is LaMP's accuracy); for free text also how many answers have at most two words
and, among queries whose user's answer carries a hashtag, how many answers carry that hashtag.
    python3 tools/predictions_report.py FILE [FILE ...]
"""
import collections
import json
import sys


def words(s):
    return (s or "").lower().split()


def report(path):
    groups = collections.defaultdict(collections.Counter)
    for line in open(path):
        r = json.loads(line)
        for key in ((r["mode"], r["activity"]), (r["mode"], "all")):
            g = groups[key]
            g["n"] += 1
            g["gold"] += r["prediction"] == r["gold"]
            g["personal"] += r["prediction"] == r["personal"]
            if r.get("history") is not None:
                g["history_n"] += 1
                g["history"] += r["prediction"] == r["history"]
                g["history_gold"] += r["history"] == r["gold"]
            g["gold_words"] += len(words(r["gold"]))
            g["short"] += len(words(r["prediction"])) <= 2
            tags = [w for w in words(r["personal"]) if w.startswith("#")]
            if tags:
                g["tag_n"] += 1
                g["tag"] += tags[0] in words(r["prediction"])
    print(path)
    for (mode, level), g in sorted(groups.items()):
        n = g["n"]
        line = f"  {mode:18s} {level:7s} n={n:4d}  = gold {g['gold'] / n:.3f}  = personal {g['personal'] / n:.3f}"
        if g["history_n"]:
            line += f"  = history {g['history'] / g['history_n']:.3f} (history ceiling {g['history_gold'] / g['history_n']:.3f})"
        if g["gold_words"] > 2 * n:  # free text: golds of more than two words on average
            line += f"  <= 2 words {g['short']}/{n}"
        if g["tag_n"]:
            line += f"  user's hashtag {g['tag']}/{g['tag_n']}"
        print(line)


for f in sys.argv[1:]:
    report(f)
