"""The claims file (claims.yaml): claims, their arms, ``@claim/arm`` references and the
order in which arms must be trained (a referenced arm before the arm that uses it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError
from colorbench.evaluation.bounded_yaml import load_yaml

VERSION = 1
REF = re.compile(r"@([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)")
CLAIM_KEYS = ("paper", "claim", "metrics", "mechanism", "decide_at_scale", "train", "eval", "arms")
ARM_KEYS = ("model", "train", "checkpoint", "run", "derived", "of", "seed", "by")
DERIVED = ("random", "oracle")
TRAIN_KEYS = ("dataset", "split", "seed")
EVAL_KEYS = ("suite",)


@dataclass
class Arm:
    """One arm: trained (``train`` args), an existing checkpoint, or derived from other arms."""

    claim: str
    name: str
    model: str = ""
    train: list[str] | None = None
    checkpoint: str | None = None
    run: list[str] = field(default_factory=list)
    derived: str | None = None  # random | oracle
    of: list[str] = field(default_factory=list)
    seed: int = 0
    by: str | None = None

    @property
    def key(self) -> str:
        """``claim/arm``, the arm's name in references and progress lines."""
        return f"{self.claim}/{self.name}"

    def refs(self) -> list[str]:
        """The ``claim/arm`` keys this arm's strings refer to (``@claim/arm``)."""
        texts = [*(self.train or []), *(self.run or []), self.checkpoint or ""]
        return [f"{c}/{a}" for t in texts for c, a in REF.findall(t)]


@dataclass
class Claim:
    """One paper's claim and the arms that test it."""

    name: str
    paper: str
    claim: str
    metrics: list[str]
    mechanism: str
    decide_at_scale: str
    train: dict[str, Any]
    suite: str
    arms: dict[str, Arm]


@dataclass
class Claims:
    """The whole file: claims in file order and the ``ship`` mapping."""

    path: Path
    claims: dict[str, Claim]
    ship: dict[str, str]

    def arm(self, key: str, where: str) -> Arm:
        """The arm named ``claim/arm``; one clear error naming ``where`` otherwise."""
        claim, _, arm = key.partition("/")
        if claim not in self.claims or arm not in self.claims[claim].arms:
            raise ColorbenchError(f"{self.path}: {where} refers to @{key}, which is no arm of the file")
        return self.claims[claim].arms[arm]


def _fail(path: Path, where: str, what: str) -> ColorbenchError:
    return ColorbenchError(f"{path}: {where}: {what}; fix the claims file (see benchmarks/ablations/README.md)")


def _mapping(path: Path, node: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise _fail(path, where, "expected a mapping")
    unknown = sorted(set(node) - set(keys))
    if unknown:
        raise _fail(path, where, f"unknown key(s) {', '.join(map(str, unknown))} (known: {', '.join(keys)})")
    return node


def _strings(path: Path, node: Any, where: str) -> list[str]:
    if not isinstance(node, list) or not all(isinstance(s, (str, int, float)) for s in node):
        raise _fail(path, where, "expected a list of strings")
    return [str(s) for s in node]


def _names(path: Path, node: dict[Any, Any], where: str) -> None:
    """Claim and arm names must be strings: YAML reads on/off/yes/no as booleans."""
    odd = [k for k in node if not isinstance(k, str)]
    if odd:
        raise _fail(path, where, f"name {odd[0]!r} is not a string (YAML reads on/off/yes/no/true as booleans); "
                    "quote it or choose another")


def _arm(path: Path, claim: str, name: str, node: Any) -> Arm:
    where = f"claims.{claim}.arms.{name}"
    spec = _mapping(path, node, where, ARM_KEYS)
    if spec.get("derived") is not None:
        if spec["derived"] not in DERIVED:
            raise _fail(path, where, f"derived: {spec['derived']!r} is not one of {', '.join(DERIVED)}")
        of = _strings(path, spec.get("of"), f"{where}.of")
        if spec["derived"] == "oracle" and not spec.get("by"):
            raise _fail(path, where, "an oracle arm needs by: METRIC")
        return Arm(claim, name, derived=spec["derived"], of=of, seed=int(spec.get("seed", 0)), by=spec.get("by"))
    if not spec.get("model"):
        raise _fail(path, where, "needs model: NAME (or derived: random|oracle)")
    train = _strings(path, spec["train"], f"{where}.train") if spec.get("train") is not None else None
    checkpoint = spec.get("checkpoint")
    if train is not None and checkpoint not in (None, "none"):
        raise _fail(path, where, "give train or checkpoint, not both")
    return Arm(claim, name, model=str(spec["model"]), train=train,
               checkpoint=None if checkpoint in (None, "none") else str(checkpoint),
               run=_strings(path, spec.get("run", []), f"{where}.run"))


def _claim(path: Path, name: str, node: Any, defaults: dict[str, Any]) -> Claim:
    where = f"claims.{name}"
    spec = _mapping(path, node, where, CLAIM_KEYS)
    for key in ("paper", "claim", "metrics", "mechanism", "arms"):
        if not spec.get(key):
            raise _fail(path, where, f"missing {key}")
    arms_node = spec["arms"]
    if not isinstance(arms_node, dict):
        raise _fail(path, f"{where}.arms", "expected a mapping of arm name to arm")
    _names(path, arms_node, f"{where}.arms")
    arms = {str(a): _arm(path, name, str(a), v) for a, v in arms_node.items()}
    if spec["mechanism"] not in arms:
        raise _fail(path, where, f"mechanism: {spec['mechanism']!r} is not one of its arms ({', '.join(arms)})")
    for arm in arms.values():
        missing = [o for o in arm.of if o not in arms or arms[o].derived]
        if missing:
            raise _fail(path, f"{where}.arms.{arm.name}.of", f"{', '.join(missing)}: not a model arm of the claim")
    train = {**defaults["train"], **_mapping(path, spec.get("train"), f"{where}.train", TRAIN_KEYS)}
    ev = {**defaults["eval"], **_mapping(path, spec.get("eval"), f"{where}.eval", EVAL_KEYS)}
    if not ev.get("suite"):
        raise _fail(path, f"{where}.eval", "no suite (set defaults.eval.suite or the claim's eval.suite)")
    return Claim(name, str(spec["paper"]), str(spec["claim"]).strip(), _strings(path, spec["metrics"], f"{where}.metrics"),
                 str(spec["mechanism"]), str(spec.get("decide_at_scale") or "").strip(), train, str(ev["suite"]), arms)


def load(path: Path) -> Claims:
    """Read and check a claims file: keys, arms, references (cycles included)."""
    path = Path(path)
    if not path.is_file():
        raise ColorbenchError(f"{path}: no such claims file; give one with --claims FILE")
    doc = _mapping(path, load_yaml(path, "claims file"), "top level", ("version", "defaults", "claims", "ship"))
    if doc.get("version") != VERSION:
        raise _fail(path, "version", f"expected {VERSION}, found {doc.get('version')!r}")
    dflt = _mapping(path, doc.get("defaults"), "defaults", ("train", "eval"))
    defaults = {"train": _mapping(path, dflt.get("train"), "defaults.train", TRAIN_KEYS),
                "eval": _mapping(path, dflt.get("eval"), "defaults.eval", EVAL_KEYS)}
    claims_node = doc.get("claims")
    if not isinstance(claims_node, dict) or not claims_node:
        raise _fail(path, "claims", "expected a non-empty mapping of claim name to claim")
    _names(path, claims_node, "claims")
    ship = doc.get("ship") or {}
    if not isinstance(ship, dict):
        raise _fail(path, "ship", "expected a mapping of model to @claim/arm")
    out = Claims(path, {str(n): _claim(path, str(n), c, defaults) for n, c in claims_node.items()},
                 {str(k): str(v) for k, v in ship.items()})
    for claim in out.claims.values():
        for arm in claim.arms.values():
            for ref in arm.refs():
                out.arm(ref, f"claims.{claim.name}.arms.{arm.name}")
    for model, ref in out.ship.items():
        out.arm(ref.lstrip("@"), f"ship.{model}")
    training_order(out, [a for c in out.claims.values() for a in c.arms.values()])  # cycles fail here
    return out


def select(claims: Claims, only: str | None) -> list[Claim]:
    """The claims named in ``--only A,B`` (all without it), in file order."""
    if not only:
        return list(claims.claims.values())
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in claims.claims]
    if unknown:
        raise ColorbenchError(f"--only {','.join(unknown)}: no such claim in {claims.path} "
                              f"(claims: {', '.join(claims.claims)})")
    return [c for c in claims.claims.values() if c.name in names]


def training_order(claims: Claims, wanted: list[Arm]) -> list[Arm]:
    """The model arms needed by ``wanted`` (their references included, from any claim),
    each after the arms it refers to; a cycle is one ColorbenchError naming it."""
    order: list[Arm] = []
    state: dict[str, str] = {}  # key -> "visiting" | "done"

    def visit(arm: Arm, trail: list[str]) -> None:
        if state.get(arm.key) == "done":
            return
        if state.get(arm.key) == "visiting":
            cycle = " -> ".join([*trail[trail.index(arm.key):], arm.key])
            raise ColorbenchError(f"{claims.path}: the arms refer to each other in a cycle ({cycle}); "
                                  "break it so that one arm can be trained first")
        state[arm.key] = "visiting"
        for ref in arm.refs():
            visit(claims.arm(ref, f"claims.{arm.claim}.arms.{arm.name}"), [*trail, arm.key])
        state[arm.key] = "done"
        if not arm.derived:
            order.append(arm)

    for arm in wanted:
        visit(arm, [])
    return order


def substitute(text: str, out_dir: dict[str, str]) -> str:
    """``text`` with every ``@claim/arm`` replaced by that arm's training directory."""
    return REF.sub(lambda m: out_dir[f"{m.group(1)}/{m.group(2)}"], text)
