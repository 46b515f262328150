"""Near-duplicate detection with MinHash over normalised Arabic word 3-shingles, and LSH bands to find
candidates with an equality join.

The same agency story carried by several sites (another intro line, a trimmed paragraph, other hamza or
diacritics) keeps a shingle Jaccard similarity around 0.8–0.95; different stories on the same topic stay
below 0.3. 64 MinHash values estimate the similarity; 16 bands of 4 values give a candidate for J=0.6 with
probability 0.88 and for J=0.8 with probability 0.9998, while unrelated articles almost never share a band.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from extractors.arabic import normalize_arabic

SHINGLE = 3
NUM_HASHES = 64
BANDS = 16
ROWS = NUM_HASHES // BANDS
NEAR_DUPLICATE_SIMILARITY = 0.6  # estimated Jaccard similarity of 3-shingles at or above which two texts are one story
_WORD = re.compile(r"\w+")
_rng = np.random.default_rng(20240315)
_A = (_rng.integers(1, 2**63, NUM_HASHES, dtype=np.uint64) | np.uint64(1))  # odd multipliers
_B = _rng.integers(0, 2**63, NUM_HASHES, dtype=np.uint64)


def shingles(text: str) -> list[str]:
    words = _WORD.findall(normalize_arabic(text).lower())
    if len(words) < SHINGLE:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)]


def minhash(text: str) -> bytes:
    """64 MinHash values (uint32, big-endian bytes) of the text's word 3-shingles."""
    grams = set(shingles(text))
    if not grams:
        return bytes(4 * NUM_HASHES)
    x = np.frombuffer(b"".join(hashlib.blake2b(g.encode("utf-8"), digest_size=4).digest() for g in grams),
                      dtype=">u4").astype(np.uint64)
    with np.errstate(over="ignore"):  # multiply-shift hashing wraps around 2**64 by design
        h = (x[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    return h.min(axis=0).astype(">u4").tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    va = np.frombuffer(a, dtype=">u4")
    vb = np.frombuffer(b, dtype=">u4")
    return float((va == vb).mean()) if len(va) == len(vb) and len(va) else 0.0


def band_keys(signature: bytes) -> list[int]:
    """One signed 64-bit key per band of ROWS values (for a BIGINT column)."""
    keys = []
    for i in range(BANDS):
        chunk = signature[i * ROWS * 4 : (i + 1) * ROWS * 4]
        keys.append(int.from_bytes(hashlib.blake2b(bytes([i]) + chunk, digest_size=8).digest(), "big", signed=True))
    return keys
