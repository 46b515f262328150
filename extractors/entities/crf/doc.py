"""Document-level features for the second CRF pass (label consistency within one ``tag()`` call).

The first CRF tags every sentence on its own; then, for every token, these features describe how the same
word (normalised, clitics stripped: «ولودريان» ~ «لودريان») was tagged by the first pass *elsewhere in the
same call*, plus the token's own first-pass label and its neighbours'. The second CRF (trained on
out-of-fold first-pass labels, so it does not overtrust them) uses the first-pass features plus these.

Pure Python; the result depends on which sentences are tagged together, which is why ``find_mentions``
tags an article in one call and ``tag_conll`` its whole input in one call.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence


def _bin(n: int) -> str:
    return "1" if n == 1 else "2" if n == 2 else "3+"


def doc_features(keys: Sequence[Sequence[str | None]], tags1: Sequence[Sequence[str]]) -> list[list[list[str]]]:
    """Extra feature lists per token. ``keys[s][i]`` is the word's grouping key (None = not grouped)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for sk, st in zip(keys, tags1):
        for k, t in zip(sk, st):
            if k is not None:
                counts[k][t] += 1
    out: list[list[list[str]]] = []
    for sk, st in zip(keys, tags1):
        n = len(st)
        sent: list[list[str]] = []
        for i in range(n):
            own = st[i]
            f = [f"S1={own}", f"-1S1={st[i - 1] if i else 'BOS'}", f"+1S1={st[i + 1] if i + 1 < n else 'EOS'}",
                 f"S1bi={st[i - 1] if i else 'BOS'}|{own}"]
            k = sk[i]
            if k is not None:
                c = counts[k]
                n_other = sum(c.values()) - 1
                if n_other > 0:
                    ent: Counter = Counter()
                    pos: Counter = Counter()
                    for lab, m in c.items():
                        if lab != "O":
                            m -= lab == own
                            if m > 0:
                                ent[lab[2:]] += m
                                pos[lab[0]] += m
                    total = sum(ent.values())
                    if total:
                        t, _ = ent.most_common(1)[0]
                        frac = total / n_other
                        share = "all" if frac == 1 else "most" if frac >= 0.5 else "some"
                        f.append(f"D={t}")
                        f.append(f"D={t}|{share}")
                        f.append(f"D={t}|n{_bin(total)}")
                        f.append(f"D={t}|own={own}")
                        f.append(f"DP={t}|{'B' if pos['B'] >= pos['I'] else 'I'}")
                        if len(ent) > 1:
                            f.append("Dmix")
                    else:
                        f.append(f"D=O|n{_bin(n_other)}")
            sent.append(f)
        out.append(sent)
    return out
