"""The ``subriemann`` command."""

from __future__ import annotations

import argparse
import sys

import numpy as np

import subriemann as sr


def _demo_problem(seed: int = 0):
    """A small classification set made in code: 3 classes in the plane, one-hot y_ℓ."""
    rng = np.random.default_rng(seed)
    N, Q = 6, 3
    labels = np.arange(N) % Q
    centers = np.array([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]])
    inputs = centers[labels] + 0.3 * rng.normal(size=(N, 2))
    data = sr.TrainingData(inputs, labels, np.eye(Q))
    net = sr.MLP([2, 8, Q], activation="tanh")
    return data, net


def cmd_demo(args) -> int:
    data, net = _demo_problem(args.seed)
    f = sr.NetworkMap(net, data.inputs)
    cost = sr.L2Cost(data.target, data.N)
    theta = net.init(seed=args.seed)
    x, D = f.value_and_jacobian(theta)
    rep = sr.JacobianSVD(D).report
    QN = f.dim_out
    regime = "over" if net.K > QN else "under" if net.K < QN else "borderline"
    rows = [
        ("network", repr(net)),
        ("data", repr(data)),
        ("K", net.K),
        ("QN", QN),
        ("regime", regime),
        ("rank D", rep.rank),
        ("sigma_min(D)", f"{rep.sigma_min:.6g}"),
        ("sigma_max(D)", f"{rep.sigma_max:.6g}"),
        ("cost C", f"{float(cost(x)):.6g}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="subriemann", description=__doc__)
    parser.add_argument("--version", action="version", version=f"subriemann {sr.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="show the geometry of a small network")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except sr.SubriemannError as exc:
        print(f"subriemann: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
