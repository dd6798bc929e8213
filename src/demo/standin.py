"""The AWS stand-in behind `opsdeck demo`: moto's server, plus demo answers for the few calls the
seven example flows make that moto does not serve.

- Comprehend BatchDetectSentiment / BatchDetectKeyPhrases / BatchDetectDominantLanguage answer from
  a small word list (positive and negative words), not a model: good enough to see the ml agent's
  report, and labelled as the demo's in `opsdeck demo`'s welcome.
- Cost Explorer GetCostAndUsage answers every request from a fixed demo bill (per service and per
  region, a little different each day), honouring the request's period, granularity, filter on
  SERVICE/REGION and group-by, instead of moto's empty answer.

Everything stays in memory and on the loopback address opsdeck gives it. Written by opsdeck into
its data directory and run with the demo's own Python (moto pinned like the tests' lock).

Usage: python standin.py -H 127.0.0.1 -p PORT
"""

import datetime
import json
import re
import sys

from moto.ce.models import CostExplorerBackend
from moto.comprehend.responses import ComprehendResponse
from moto.core.responses import ActionResult
from moto.server import main

POSITIVE = {
    "love", "great", "fast", "easy", "thanks", "thank", "helpful", "excellent", "good",
    "happy", "quick", "smooth", "friendly", "perfect", "amazing", "recommend", "works",
}
NEGATIVE = {
    "crash", "crashes", "crashed", "terrible", "awful", "late", "rude", "slow", "broken",
    "waiting", "refund", "bad", "worst", "error", "errors", "never", "cancelled", "lost",
    "missing", "wrong", "disappointed", "useless",
}
STOP = {
    "the", "and", "for", "with", "that", "this", "was", "were", "are", "have", "has", "after",
    "every", "time", "from", "your", "their", "they", "still", "open", "when", "very", "just",
}
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def _sentiment(text):
    words = [w.lower() for w in WORD.findall(text)]
    pos = sum(w in POSITIVE for w in words)
    neg = sum(w in NEGATIVE for w in words)
    if pos and neg:
        label, scores = "MIXED", (0.3, 0.3, 0.1, 0.3)
    elif pos:
        label, scores = "POSITIVE", (min(0.6 + 0.1 * pos, 0.98), 0.01, 0.05, 0.01)
    elif neg:
        label, scores = "NEGATIVE", (0.01, min(0.6 + 0.1 * neg, 0.98), 0.05, 0.01)
    else:
        label, scores = "NEUTRAL", (0.05, 0.05, 0.88, 0.02)
    return {
        "Sentiment": label,
        "SentimentScore": dict(zip(("Positive", "Negative", "Neutral", "Mixed"), scores)),
    }


def _key_phrases(text):
    phrases = []
    for m in WORD.finditer(text):
        w = m.group(0)
        if len(w) > 4 and w.lower() not in STOP:
            phrases.append(
                {"Score": 0.9, "Text": w, "BeginOffset": m.start(), "EndOffset": m.end()}
            )
    return phrases[:4]


def _batch(self, answer):
    texts = self._get_param("TextList") or []
    results = [dict(answer(t), Index=i) for i, t in enumerate(texts)]
    return ActionResult({"ResultList": results, "ErrorList": []})


ComprehendResponse.batch_detect_sentiment = lambda self: _batch(self, _sentiment)
ComprehendResponse.batch_detect_key_phrases = lambda self: _batch(
    self, lambda t: {"KeyPhrases": _key_phrases(t)}
)
ComprehendResponse.batch_detect_dominant_language = lambda self: _batch(
    self, lambda t: {"Languages": [{"LanguageCode": "en", "Score": 0.99}]}
)

# The demo bill: monthly-scale USD per day, per service and region.
SERVICES = {
    "Amazon Elastic Compute Cloud - Compute": 41.20,
    "Amazon Relational Database Service": 18.60,
    "Amazon Simple Storage Service": 6.40,
    "AWS Lambda": 2.10,
    "Amazon CloudWatch": 3.30,
    "Amazon SageMaker": 12.80,
}
REGIONS = {"us-east-1": 0.55, "ap-south-1": 0.30, "eu-west-1": 0.15}


def _day_factor(day):
    # Weekdays cost more than weekends, and the month drifts up a little.
    return (1.0 if day.weekday() < 5 else 0.7) * (1 + day.day / 200)


def _matches(name, wanted):
    return not wanted or any(w.lower() in name.lower() or name.lower() in w.lower() for w in wanted)


def _filter_values(expression, key):
    if not isinstance(expression, dict):
        return []
    found = []
    dim = expression.get("Dimensions") or {}
    if dim.get("Key") == key:
        found.extend(dim.get("Values") or [])
    for sub in expression.get("And") or []:
        found.extend(_filter_values(sub, key))
    return found


def _cost_and_usage(self, body):
    req = json.loads(body) if isinstance(body, str) else body
    period = req.get("TimePeriod") or {}
    start = datetime.date.fromisoformat(period.get("Start"))
    end = datetime.date.fromisoformat(period.get("End"))
    monthly = req.get("Granularity") == "MONTHLY"
    metrics = req.get("Metrics") or ["UnblendedCost"]
    services = _filter_values(req.get("Filter"), "SERVICE")
    regions = _filter_values(req.get("Filter"), "REGION")
    group_by = [g.get("Key") for g in req.get("GroupBy") or []]
    today = datetime.date.today()

    def cells(day):
        for service, amount in SERVICES.items():
            if not _matches(service, services):
                continue
            for region, share in REGIONS.items():
                if regions and region not in regions:
                    continue
                yield service, region, amount * share * _day_factor(day)

    periods = []
    day = start
    while day < end:
        if monthly:
            nxt = (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
            nxt = min(nxt, end)
        else:
            nxt = day + datetime.timedelta(days=1)
        periods.append((day, nxt))
        day = nxt

    results = []
    for first, last in periods:
        total = 0.0
        groups = {}
        d = first
        while d < last:
            for service, region, amount in cells(d):
                total += amount
                key = tuple(
                    service if g == "SERVICE" else region if g == "REGION" else "demo"
                    for g in group_by
                )
                groups[key] = groups.get(key, 0.0) + amount
            d += datetime.timedelta(days=1)

        def money(x):
            return {m: {"Amount": f"{x:.4f}", "Unit": "USD"} for m in metrics}

        entry = {
            "TimePeriod": {"Start": first.isoformat(), "End": last.isoformat()},
            "Total": {} if group_by else money(total),
            "Groups": [{"Keys": list(k), "Metrics": money(v)} for k, v in sorted(groups.items())]
            if group_by
            else [],
            "Estimated": last > today,
        }
        results.append(entry)
    return {"ResultsByTime": results, "DimensionValueAttributes": []}


CostExplorerBackend.get_cost_and_usage = _cost_and_usage

if __name__ == "__main__":
    sys.exit(main())
