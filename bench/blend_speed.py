"""What the learned score's grid search costs: each point's blend summed anew vs reused.

    python bench/blend_speed.py                      # Musical-sized: 1,189 users x 894 items
    python bench/blend_speed.py --users 300 --items 200 --rounds 5

`recsys.blend.grid_objectives` scores every weight vector of the simplex grid (286
points for 4 components at step 0.1) on the validation users, once per learned-score
fit: the known users' fit of every trained model and the new users' fits of the
exported one. Random components stand in for a model's (retrieval and rating around a
shared base, rating rounded so that it ties; popularity constant per item; a sparse
kNN profile), 0.6% of the cells excluded and 0.12% relevant, as on Musical
Instruments' validation part. Per round, in one process, interleaved:

- per point: the grid's candidate columns (`candidate_columns`, shared), then for each
  point its blend summed from scratch (`sum(w_c * z_c)`, every component) and
  `objective_by_user` on a copy, as the fit did before;
- reused: `grid_objectives` as it is (the partial sums of the leading weights kept
  while the next points share them, zero weights skipped, exclusions marked in place).

Both must give the same objectives (checked, NaN for users without a liked item
equal). Times are the CPU seconds of this process (all threads) per round, median
over rounds, with the wall seconds beside them; the ratio is the median of the
per-round CPU ratios, so other jobs' load affects both sides alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tfrec_sentiment.recsys.blend import grid_objectives
from tfrec_sentiment.recsys.blend_validation import (
    ValidationSet,
    candidate_columns,
    objective_by_user,
)
from tfrec_sentiment.recsys.blend_weights import simplex_grid, standardize_rows


def synthetic_fit(users: int, items: int, seed: int = 0, relevant: float = 0.0012
                  ) -> tuple[dict[str, np.ndarray], ValidationSet]:
    """Components {name: float64 [U, I]} and the validation set they are ranked on
    (`relevant`: the share of cells that are fresh validation pairs)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(users, items))
    components = {
        "retrieval": base + rng.normal(size=(users, items)),
        "rating": np.round(2.0 * base + rng.normal(size=(users, items)), 1),
        "popularity": np.tile(np.log1p(rng.integers(0, 60, items)).astype(float), (users, 1)),
        "knn": np.where(rng.random((users, items)) < 0.3, rng.random((users, items)), 0.0)}
    excluded = np.argwhere(rng.random((users, items)) < 0.006)
    fresh = np.argwhere(rng.random((users, items)) < relevant)
    fresh = fresh[~np.isin(fresh[:, 0] * items + fresh[:, 1],
                           excluded[:, 0] * items + excluded[:, 1])]
    data = ValidationSet(users=np.arange(users).astype(str), history=np.full(users, 3),
                         excluded=excluded, any_pairs=fresh, liked_pairs=fresh[::2])
    return components, data


def per_point(components: dict[str, np.ndarray], data: ValidationSet, k: int,
              steps: int) -> np.ndarray:
    """The objectives [P, U] with every point's blend summed from scratch."""
    names = tuple(components)
    z = {name: standardize_rows(components[name]) for name in names}
    z, data, counts = candidate_columns(z, data, k)
    return np.stack([objective_by_user(sum(w[c] * z[n] for c, n in enumerate(names)),
                                       data, k, counts)
                     for w in simplex_grid(len(names), steps)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1189)
    parser.add_argument("--items", type=int, default=894)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    components, data = synthetic_fit(args.users, args.items)
    cpu: dict[str, list[float]] = {"per point": [], "reused": []}
    wall: dict[str, list[float]] = {"per point": [], "reused": []}
    for _ in range(args.rounds):
        for name in cpu:
            start, start_wall = time.process_time(), time.perf_counter()
            if name == "per point":
                reference = per_point(components, data, 10, args.steps)
            else:
                _, reused = grid_objectives(components, data, 10, args.steps)
            cpu[name].append(time.process_time() - start)
            wall[name].append(time.perf_counter() - start_wall)
        if not np.array_equal(reference, reused, equal_nan=True):
            raise SystemExit("the reused sums gave other objectives than the per-point sums")
    points = len(simplex_grid(len(components), args.steps))
    print(f"grid search, {args.users} users x {args.items} items, {points} points, "
          f"{args.rounds} rounds (median):")
    for name in cpu:
        print(f"  {name:9s} {statistics.median(cpu[name]):6.2f} s CPU "
              f"({statistics.median(wall[name]):6.2f} s wall)")
    ratio = statistics.median(a / b for a, b in zip(cpu["per point"], cpu["reused"]))
    print(f"  per point / reused: {ratio:.2f}x CPU; objectives identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
