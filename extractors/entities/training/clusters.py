"""Word clusters learned from unlabelled text (training-time only; needs numpy and scikit-learn).

Each word seen at least ``min_count`` times gets a context vector (counts of the words right before and
after it, positive PMI, truncated SVD); k-means over those vectors gives a fine cluster and a coarse one.
The result, ``{normalised word: "coarse:fine"}``, is stored in the model's resources JSON, so tagging
needs neither numpy nor scikit-learn. Only ANERcorp text is used for the shipped model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from extractors.arabic import fold_word


def learn_clusters(sentences: Iterable[Sequence[str]], n_clusters: int = 256, n_coarse: int = 32,
                   min_count: int = 2, n_context: int = 3000, dims: int = 100, seed: int = 0) -> dict[str, str]:
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    sents = [[fold_word(t) for t in s] for s in sentences]
    freq = Counter(w for s in sents for w in s)
    vocab = [w for w, c in freq.most_common() if c >= min_count]
    index = {w: i for i, w in enumerate(vocab)}
    ctx_words = [w for w, _ in freq.most_common(n_context)]
    cindex = {w: i for i, w in enumerate(ctx_words)}
    nc = len(ctx_words)
    rows, cols = [], []
    for s in sents:
        padded = ["<s>"] + s + ["</s>"]
        for i in range(1, len(padded) - 1):
            wi = index.get(padded[i])
            if wi is None:
                continue
            for off, base in ((-1, 0), (1, nc + 1), (-2, 2 * nc + 2), (2, 3 * nc + 3)):
                j = i + off
                c = padded[j] if 0 <= j < len(padded) else "<s>"
                ci = cindex.get(c, nc)  # nc = "other"
                rows.append(wi)
                cols.append(base + ci)
    m = csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(len(vocab), 4 * nc + 4))
    m.sum_duplicates()
    # positive PMI
    total = m.sum()
    row_sum = np.asarray(m.sum(axis=1)).ravel()
    col_sum = np.asarray(m.sum(axis=0)).ravel()
    coo = m.tocoo()
    pmi = np.log(coo.data * total / (row_sum[coo.row] * col_sum[coo.col] + 1e-12) + 1e-12)
    keep = pmi > 0
    m = csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=m.shape)
    x = TruncatedSVD(n_components=min(dims, m.shape[1] - 1), random_state=seed).fit_transform(m)
    x = normalize(x)
    fine = KMeans(n_clusters=min(n_clusters, len(vocab)), n_init=1, random_state=seed).fit(x)
    coarse = KMeans(n_clusters=min(n_coarse, len(vocab)), n_init=2, random_state=seed).fit(x)
    return {w: f"{coarse.labels_[i]}:{fine.labels_[i]}" for i, w in enumerate(vocab)}
