"""The merge's exact-overlap shortcut against the full ends-free DP on short overlaps.

V3-V4 2x300 reads truncated to 260/200 overlap by 20-60 bases, far less than
``min(len) - 64``: there the shortcut takes the longest exact overlap only when no exact run
of 31 bases lies off its diagonal (16-mer seeds).  Whenever it answers,
the columns must be the DP's (the DP of ``_nw_ends_free``, compared with a naive aligner in
``test_merge.py``); the cases include mismatches, indels and N in the overlap, repeats that
put long exact runs on other diagonals, and low-complexity stretches.
"""

from __future__ import annotations

import numpy as np

from microtrial.denoise._merge import _codes, _exact_overlap, _nw_ends_free


def _pair(rng):
    length = int(rng.integers(290, 456))  # overlaps of 5 to 170 bases
    amp = list(rng.choice(list("ACGT"), length))
    kind = int(rng.integers(0, 6))
    lf, lr = 260, 200
    ov0, ov1 = length - lr, lf  # amplicon positions in both reads
    if kind == 1 and ov1 - ov0 > 40:  # a repeat: a piece of the overlap copied elsewhere
        k = int(rng.integers(16, min(60, ov1 - ov0)))
        src = int(rng.integers(ov0, ov1 - k + 1))
        dst = int(rng.integers(0, length - k + 1))
        amp[dst : dst + k] = amp[src : src + k]
    elif kind == 2:  # low complexity around the overlap
        k = int(rng.integers(10, 50))
        lo, hi = max(0, ov0 - 30), min(length - k, ov1)
        at = int(rng.integers(lo, hi)) if hi > lo else lo
        unit = list(rng.choice(list("ACGT"), int(rng.integers(1, 4))))
        for t in range(k):
            amp[at + t] = unit[t % len(unit)]
    f = amp[:lf]
    r = amp[length - lr :]
    if kind == 3 and ov1 > ov0:  # a mismatch in the overlap
        i = int(rng.integers(max(0, ov0 - (length - lr)), min(lr, ov1 - (length - lr))))
        r[i] = "A" if r[i] != "A" else "C"
    elif kind == 4 and ov1 > ov0:  # an indel in the overlap
        i = int(rng.integers(max(1, ov0 - (length - lr)), min(lr - 1, ov1 - (length - lr))))
        if rng.random() < 0.5:
            r.insert(i, str(rng.choice(list("ACGT"))))
        else:
            r.pop(i)
    elif kind == 5:  # an N somewhere
        (f if rng.random() < 0.5 else r)[int(rng.integers(0, lr))] = "N"
    return "".join(f), "".join(r)


def test_shortcut_equals_dp_on_short_overlaps():
    rng = np.random.default_rng(21)
    n_short = {"merges": 0, "end overlap": 0}
    n_refused = 0
    for _ in range(1500):
        f, r = _pair(rng)
        a, b = _codes(f), _codes(r)
        w = a.size + b.size + 1
        fa, fb, da, db = (np.empty(w, np.uint8) for _ in range(4))
        k = _exact_overlap(a, b, fa, fb)
        kd, _ = _nw_ends_free(a, b, 1, -64, -64, -1, da, db)
        if k < 0:
            n_refused += 1
            continue
        assert k == kd and (fa[:k] == da[:kd]).all() and (fb[:k] == db[:kd]).all(), (f, r)
        both = (fa[:k] != 4) & (fb[:k] != 4)
        overlap = int(both.sum())
        if overlap + 64 <= min(a.size, b.size):  # decided by the seed screen
            n_short["merges" if overlap >= 12 else "end overlap"] += 1
    # the screen decides true overlaps and pairs whose best exact overlap is a few end
    # bases (they do not merge), and it refuses some
    assert n_short["merges"] > 300 and n_short["end overlap"] > 20 and n_refused > 100


def test_merge_one_same_with_and_without_shortcut(monkeypatch):
    # the merged sequences and overlap stats from _merge_one equal those from the DP alone
    import microtrial.denoise._merge as mm

    rng = np.random.default_rng(4)
    pairs = [_pair(rng) for _ in range(300)]

    def run():
        out = []
        for f, r in pairs:
            a, b = _codes(f), _codes(r)
            w = a.size + b.size + 1
            oa, ob, merged = (np.empty(w, np.uint8) for _ in range(3))
            stats = np.zeros(5, np.int64)
            mm._merge_one(a, b, 12, 0, False, oa, ob, merged, stats)
            out.append((stats.tolist(), merged[: stats[4]].tobytes()))
        return out

    fast = run()
    assert sum(s[3] for s, _ in fast) > 100  # many merge
    # _merge_one as plain Python, its shortcut patched to always ask for the DP
    monkeypatch.setattr(mm, "_exact_overlap", lambda *a: -1)
    monkeypatch.setattr(mm, "_merge_one", mm._merge_one.py_func)
    assert run() == fast
