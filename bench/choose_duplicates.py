"""Choose the duplicates stage's Hamming threshold on the data: which distances are copies?

    python bench/choose_duplicates.py --repo CHECKOUT [--hash phash] [--hash-size 16]
        [--sheet /tmp/copies.png] [--per-distance 200]

Reads ``CHECKOUT``'s ingested splits (after ``dvc repro ingest``, e.g. on the full FER2013) and,
for every test image, finds the training image (train + dev) with the nearest perceptual hash
(:mod:`fer_data.duplicates`, the stage's own code). Prints:

- the exact copies (identical pixels) in train + dev and in train alone (``metrics/ingest.json``
  counts the latter);
- the histogram of nearest-hash distances, and per distance a judge independent of the hash: the
  pixel correlation of the pair after alignment (the best Pearson correlation over integer
  shifts of up to ``--shift`` pixels), its median and the fraction of pairs at or above
  ``--same`` (0.85: reached by about 1% of pairs at distances where nearly no pair is a copy,
  which the script prints as the calibration);
- the proposed threshold: counting up from 0, the last distance at which at least half of the
  pairs, pooled over that distance and its two even neighbours, pass the judge. Above it most
  nearest pairs are look-alikes, not copies.

``--sheet`` writes a contact sheet (test | training image, six random pairs at every 1/32 of the
bits) to look at with an image viewer. The hashing and search times are printed beside a
one-process run of the same hashing (the baseline).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from fer_data.duplicates import exact_copies, image_hashes, nearest_hamming  # noqa: E402
from fer_data.faces import read_faces  # noqa: E402
from pipeline import paths  # noqa: E402


def aligned_correlation(a: np.ndarray, b: np.ndarray, shift: int) -> float:
    """The best Pearson correlation of two images' overlap over shifts of up to ``shift`` px."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    side = a.shape[0]
    best = -1.0
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            x = a[max(0, dy) : side + min(0, dy), max(0, dx) : side + min(0, dx)]
            y = b[max(0, -dy) : side + min(0, -dy), max(0, -dx) : side + min(0, -dx)]
            x, y = x - x.mean(), y - y.mean()
            norm = np.sqrt((x * x).sum() * (y * y).sum())
            best = max(best, float((x * y).sum() / norm) if norm > 0 else 0.0)
    return best


def contact_sheet(pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]], path: Path) -> None:
    from PIL import Image, ImageDraw

    scale, per_row = 2, max(len(v) for v in pairs.values())
    cell = 48 * scale
    sheet = Image.new("L", (70 + per_row * (2 * cell + 12), len(pairs) * (cell + 8)), 255)
    draw = ImageDraw.Draw(sheet)
    for row, (distance, found) in enumerate(pairs.items()):
        y = row * (cell + 8)
        draw.text((4, y + cell // 2), f"d={distance}", fill=0)
        for column, (test, train) in enumerate(found):
            pair = Image.fromarray(np.hstack([test, train])).resize((2 * cell, cell))
            sheet.paste(pair, (70 + column * (2 * cell + 12), y))
    sheet.save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, required=True)
    p.add_argument("--hash", default="phash", choices=("phash", "dhash", "average_hash"))
    p.add_argument("--hash-size", type=int, default=16)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--shift", type=int, default=3, help="alignment search, pixels")
    p.add_argument("--same", type=float, default=0.85, help="aligned correlation of a copy")
    p.add_argument("--per-distance", type=int, default=200, help="pairs judged per distance")
    p.add_argument("--sheet", type=Path, help="write a contact sheet PNG here")
    p.add_argument("--seed", type=int, default=2013)
    args = p.parse_args()

    tables = {s: read_faces(args.repo / paths.ingested(s)) for s in paths.SPLITS}
    train = np.concatenate([tables["train"].images, tables["dev"].images])
    test = tables["test"].images
    print(f"{len(test)} test images, {len(train)} training images (train + dev)")
    exact = exact_copies(test, train) >= 0
    in_train = exact_copies(test, tables["train"].images) >= 0
    print(f"exact copies: {exact.sum()} test images in train + dev, {in_train.sum()} in train")

    both = np.concatenate([train, test])
    start = time.perf_counter()
    hashes = image_hashes(both, args.hash, args.hash_size, args.n_jobs)
    hashed = time.perf_counter() - start
    start = time.perf_counter()
    image_hashes(both[:4096], args.hash, args.hash_size, 1)
    one = (time.perf_counter() - start) * len(both) / 4096
    start = time.perf_counter()
    distance, nearest = nearest_hamming(hashes[len(train) :], hashes[: len(train)], args.n_jobs)
    searched = time.perf_counter() - start
    bits = args.hash_size**2
    print(
        f"{args.hash} {bits} bits: hashing {len(both)} images {hashed:.1f} s with "
        f"{args.n_jobs} processes (baseline, 1 process, from 4,096 images: {one:.1f} s); "
        f"nearest search {searched:.1f} s"
    )

    rng = np.random.default_rng(args.seed)
    judged: dict[int, np.ndarray] = {}
    for d in np.unique(distance):
        members = np.flatnonzero(distance == d)
        pick = rng.choice(members, min(args.per_distance, len(members)), replace=False)
        judged[int(d)] = np.array(
            [aligned_correlation(test[i], train[nearest[i]], args.shift) for i in pick]
        )
    far = [c for d, c in judged.items() if d >= 0.35 * bits]
    if far:
        print(
            f"calibration: at distances >= {0.35 * bits:.0f} bits, "
            f"{np.mean(np.concatenate(far) >= args.same):.1%} of pairs reach {args.same}"
        )
    print(f"{'distance':>8} {'test images':>11} {'cumulative':>10} {'corr median':>11} same")
    cumulative, proposed, below = 0, None, True
    for d, corr in judged.items():
        cumulative += int((distance == d).sum())
        pooled = np.concatenate([judged.get(d + k, np.zeros(0)) for k in (-2, 0, 2)])
        # The first distance, counting up, where fewer than half are copies ends the search.
        below = below and float(np.mean(pooled >= args.same)) >= 0.5
        if below:
            proposed = d
        if d <= 0.4 * bits:
            print(
                f"{d:8d} {int((distance == d).sum()):11d} {cumulative:10d} "
                f"{np.median(corr):11.3f} {np.mean(corr >= args.same):.2f}"
            )
    if proposed is not None:
        near = ~exact & (distance <= proposed)
        print(
            f"proposed duplicates.max_distance: {proposed} (of {bits} bits): {exact.sum()} exact "
            f"and {near.sum()} near copies, {len(test) - exact.sum() - near.sum()} test images "
            "with neither"
        )
    if args.sheet:
        step = max(2, bits // 32)
        shown = [d for d in judged if d <= 0.4 * bits and d % step == 0]
        pairs = {}
        for d in shown:
            members = np.flatnonzero(distance == d)
            pick = rng.choice(members, min(6, len(members)), replace=False)
            pairs[d] = [(test[i], train[nearest[i]]) for i in pick]
        contact_sheet(pairs, args.sheet)
        print(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
