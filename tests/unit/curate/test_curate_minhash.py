"""MinHash LSH internals: exact modular arithmetic, shingle layout, band choice, keep-first."""

import numpy as np

from r1cli.curate.minhash import (
    find_near_duplicates,
    jaccard,
    lsh_params,
    minhash_signatures,
    permutations,
    shingle_hashes,
    word_hashes,
)
from r1cli.curate.text import words


def test_shingle_layout_and_position_independence():
    docs = [list("abcdefg"), list("xyz"), [], list("cdefg")]
    flat, off = word_hashes(docs)
    assert off.tolist() == [0, 7, 10, 10, 15]
    sh, so = shingle_hashes(flat, off, 5)
    # 7 words -> 7 - 5 + 1 = 3 shingles; 3 words (< 5) -> 1; 0 words -> 0; 5 words -> 1
    assert so.tolist() == [0, 3, 4, 4, 5]
    # "c d e f g" is the 3rd shingle of doc 0 and the only shingle of doc 3
    assert sh[2] == sh[4]
    assert len(set(sh[:3].tolist())) == 3


def test_signatures_are_exact_mod_mersenne():
    shingles = np.array([12345678901234567890, 2**64 - 1, 7 << 40, 99], dtype=np.uint64)
    offsets = np.array([0, 3, 4], dtype=np.int64)
    sig = minhash_signatures(shingles, offsets, num_perm=16, seed=3, chunk_shingles=2)
    a, b = permutations(16, 3)
    p = (1 << 61) - 1
    for d, (s, e) in enumerate([(0, 3), (3, 4)]):
        for i in range(16):
            # reference with Python integers: min over the doc's shingles of (a * (x >> 32) + b) mod p
            want = min((int(a[i]) * (int(x) >> 32) + int(b[i])) % p for x in shingles[s:e])
            assert int(sig[d, i]) == want


def test_signature_agreement_estimates_jaccard():
    # doc A = w0..w199, doc B = w100..w299 (1-word shingles): |A & B| = 100, |A | B| = 300 -> J = 1/3
    a = [f"w{i}" for i in range(200)]
    b = [f"w{i}" for i in range(100, 300)]
    flat, off = word_hashes([a, b])
    sh, so = shingle_hashes(flat, off, 1)
    sig = minhash_signatures(sh, so, num_perm=1024, seed=0)
    est = float(np.mean(sig[0] == sig[1]))
    # standard error sqrt(J(1-J)/1024) = sqrt(0.222/1024) ≈ 0.015; allow 4 standard errors
    assert abs(est - 1 / 3) < 0.06


def test_lsh_params():
    # equal weights reproduce datasketch's documented choice for threshold 0.8, 128 permutations
    assert lsh_params(0.8, 128, fn_weight=0.5) == (9, 13)
    # recall-leaning default: P(candidate | J=0.8) = 1 - (1 - 0.8^8)^16 ≈ 0.947
    assert lsh_params(0.8, 128) == (16, 8)


def test_one_changed_word_is_caught_with_its_jaccard(long_problem):
    w = words(long_problem)
    variant = list(w)
    variant[32] = "longer"  # was "shorter"
    other = words("Find the number of ordered pairs of integers whose product is twelve and sum odd")
    dups = find_near_duplicates([w, other, variant])
    assert set(dups) == {2}
    kept, sim = dups[2]
    assert kept == 0
    assert abs(sim - 57 / 67) < 1e-12  # (62 - 5) / (62 + 5), see conftest


def test_keep_first_and_short_docs():
    short = ["compute", "17", "times", "23"]  # 4 words < 5: one shingle of all words
    docs = [short, list(short), ["compute", "17", "times", "24"], [], []]
    dups = find_near_duplicates(docs)
    # identical short docs: Jaccard 1; the changed last word makes a different single shingle (J = 0);
    # empty docs never match each other
    assert dups == {1: (0, 1.0)}


def test_all_copies_point_at_the_first(long_problem):
    w = words(long_problem)
    dups = find_near_duplicates([w, list(w), list(w)])
    assert dups == {1: (0, 1.0), 2: (0, 1.0)}


def test_jaccard():
    assert jaccard({1, 2, 3}, {2, 3, 4}) == 0.5  # |{2,3}| / |{1,2,3,4}| = 2 / 4
    assert jaccard(set(), set()) == 0.0
