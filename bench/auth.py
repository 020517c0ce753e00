"""Authorizer verification time per access token, as a ratio to a bare ``jwt.decode`` of the same token.

The authorizer runs before every non-public request, so its per-token cost is paid on every call. This benchmark
measures it warm (keys and revocations cached, as in a container that has served a request before) and compares
it with the least a verifier must do: PyJWT's ``jwt.decode`` with the public key in hand, ES256 pinned, and the
audience and issuer checked. Three measurements run on the same tokens in the same rounds, in a shuffled order:

- ``jwt.decode`` (baseline): ``jwt.decode(token, public_key, algorithms=["ES256"], audience=..., issuer=...)``;
- ``Verifier.verify``: Firstmile's verifier (``firstmile.identity.tokens``) with an in-memory key loader;
- ``authorize()``: what the authorizer function calls per request (``firstmile.identity.authorizer``): the bearer
  header parsed, the token verified, the user's revocations checked in a warm ``RevocationCache``.

Target: each ratio to the baseline <= 1.5. Run ``python bench/auth.py`` (``--help`` for options); it exits 0
unless ``--fail-above RATIO`` asks it to gate. ``--profile`` shows where the time of ``authorize()`` goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend

from bench.measure import Column, Samples, print_timings, run_header, run_interleaved
from firstmile.identity import keys, tokens
from firstmile.identity.authorizer import authorize
from firstmile.identity.keys import KeySet, RotationPolicy
from firstmile.identity.models import Revocations
from firstmile.identity.revocation import RevocationCache

TARGET_RATIO = 1.5
ISSUER = "urn:firstmile:bench"
AUDIENCE = "urn:firstmile:bench-api"
TENANTS = 7


@dataclass
class Measurement(Samples):
    """One way of verifying every token, and its per-token times (seconds) per round."""

    name: str
    # Verifies the tokens numbered [start, stop) of the fixture.
    verify: Callable[[int, int], None]
    kind: str = "measured"


@dataclass
class Fixture:
    """Keys, tokens and the verifiers under test, all in memory."""

    tokens: list[str]
    headers: list[str]
    public_key: Any
    verifier: tokens.Verifier
    revocations: RevocationCache


def build_fixture(count: int, users: int, seed: int) -> Fixture:
    """``count`` realistic access tokens of ``users`` users, signed by the current key of a fresh key set.

    The key set also holds a ``next`` key, as a deployment does for an hour before every rotation, so the verifier
    picks the signing key out of two. Each user has a few revoked token ids of their own (none of the tokens here),
    so the revocation check looks through real sets.
    """
    now = time.time()
    keyset, _ = keys.advance(KeySet(), now, RotationPolicy(), rotate_now=True)
    current = keyset.current
    assert current is not None
    jwks = keys.jwks_document(keyset)
    rng = random.Random(seed)
    issued: list[str] = []
    for n in range(count):
        user = n % users
        claims = tokens.access_claims(
            issuer=ISSUER,
            audience=AUDIENCE,
            tenant=f"t-tenant-{user % TENANTS}",
            subject=f"auth0|{100000 + user}",
            roles=["user", "admin"] if user % 10 == 0 else ["user"],
            attributes={"locale": rng.choice(["de-DE", "en-GB", "fr-FR"]), "plan": "pro", "market": "EU"},
            session_id="ses_" + tokens.new_token_id(),
            now=now,
            ttl_seconds=tokens.MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
        )
        issued.append(tokens.sign_access_token(claims, current))
    revoked = {
        (f"t-tenant-{u % TENANTS}", f"auth0|{100000 + u}"): Revocations(
            token_ids=frozenset(tokens.new_token_id() for _ in range(3))
        )
        for u in range(users)
    }
    verifier = tokens.Verifier(issuer=ISSUER, audience=AUDIENCE, load_keys=lambda: tokens.public_keys_from_jwks(jwks))
    # Warm: an hour-long cache, so every lookup in the run is a hit (the deployment keeps them 5 s).
    cache = RevocationCache(lambda tenant, user: revoked[(tenant, user)], ttl_seconds=3600)
    return Fixture(
        tokens=issued,
        headers=["Bearer " + t for t in issued],
        public_key=current.private_key().public_key(),
        verifier=verifier,
        revocations=cache,
    )


def measurements(fx: Fixture) -> list[Measurement]:
    def baseline(start: int, stop: int) -> None:
        decode, key = jwt.decode, fx.public_key
        for token in fx.tokens[start:stop]:
            decode(token, key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)

    def verifier(start: int, stop: int) -> None:
        verify = fx.verifier.verify
        for token in fx.tokens[start:stop]:
            verify(token)

    def authorizer(start: int, stop: int) -> None:
        verifier_, revocations = fx.verifier, fx.revocations
        for header in fx.headers[start:stop]:
            authorize(header, verifier=verifier_, revocations=revocations)

    return [
        Measurement("jwt.decode", baseline, kind="baseline"),
        Measurement("Verifier.verify", verifier),
        Measurement("authorize()", authorizer),
    ]


def run_rounds(items: list[Measurement], tokens: int, chunk: int, rounds: int, warmup: int, seed: int) -> None:
    """Every measurement verifies every token once per round; warm-up rounds fill the caches and are not kept.

    A round goes through the tokens in chunks, and each chunk is verified by every measurement in a shuffled
    order, so a burst of noise from the rest of the machine (tens of milliseconds) falls on all of them alike.
    """
    run_interleaved(
        items,
        lambda item, first, last: item.verify(first, last),
        size=tokens,
        chunk=chunk,
        rounds=rounds,
        warmup=warmup,
        seed=seed,
        per_round=tokens,
    )


def results(items: list[Measurement], target: float) -> list[dict[str, Any]]:
    baseline = next(m for m in items if m.kind == "baseline")
    rows = []
    for item in items:
        paired = [s / b for s, b in zip(item.samples, baseline.samples, strict=True)]
        ratio = item.median() / baseline.median()
        rows.append(
            {
                "measurement": item.name,
                "kind": item.kind,
                "median_us": item.median() * 1e6,
                "iqr_us": item.iqr() * 1e6,
                "ratio": ratio,
                "cpu_ratio": item.cpu_median() / baseline.cpu_median(),
                "paired_ratio": statistics.median(paired),
                "status": "baseline" if item.kind == "baseline" else ("ok" if ratio <= target else "above target"),
                "samples_us": [round(s * 1e6, 3) for s in item.samples],
            }
        )
    return rows


def machine_description(args: argparse.Namespace, started: datetime) -> dict[str, Any]:
    return {
        **run_header(started),
        "pyjwt": metadata.version("pyjwt"),
        "cryptography": metadata.version("cryptography"),
        "openssl": openssl_backend.openssl_version_text(),
        "pydantic": metadata.version("pydantic"),
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "tokens": args.tokens,
        "users": args.users,
        "chunk": args.chunk,
        "seed": args.seed,
        "target_ratio": args.target,
    }


def print_report(meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    print("Authorizer verification time per token (warm), relative to a bare jwt.decode of the same token")
    print(f"  run at      {meta['run_at']}")
    print(f"  python      {meta['python']} on {meta['platform']}")
    print(f"  machine     {meta['cpu']}, {meta['cores']} cores")
    print(f"  libraries   PyJWT {meta['pyjwt']}, cryptography {meta['cryptography']} ({meta['openssl']})")
    print(
        f"  method      {meta['rounds']} rounds (+{meta['warmup_rounds']} warm-up) x {meta['tokens']} tokens of "
        f"{meta['users']} users, interleaved in shuffled order every {meta['chunk']} tokens"
    )
    print()
    print_timings(
        "measurement",
        (
            Column("median µs", "median_us", 9, decimals=1),
            Column("IQR µs", "iqr_us", 7, decimals=1),
            Column("ratio", "ratio", 6),
            Column("CPU ratio", "cpu_ratio", 9),
            Column("paired", "paired_ratio", 6),
        ),
        rows,
    )
    print()
    print(f"target: ratio <= {meta['target_ratio']:.2f} (paired: median of the per-round ratios)")


def profile(fx: Fixture, limit: int) -> None:
    """Where ``authorize()`` spends its time: cProfile over every token, the top functions by own time."""
    profiler = cProfile.Profile()
    verifier, revocations = fx.verifier, fx.revocations
    profiler.enable()
    for header in fx.headers:
        authorize(header, verifier=verifier, revocations=revocations)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(limit)
    print()
    print(f"cProfile of authorize() over {len(fx.headers)} tokens (own time, top {limit}):")
    print(out.getvalue())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21, help="measured rounds (default: 21)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded rounds first (default: 1)")
    parser.add_argument("--tokens", type=int, default=2000, help="tokens verified per measurement (default: 2000)")
    parser.add_argument("--chunk", type=int, default=100, help="tokens per interleaving step (default: 100)")
    parser.add_argument("--users", type=int, default=200, help="distinct users among the tokens (default: 200)")
    parser.add_argument("--target", type=float, default=TARGET_RATIO, help="ratio to stay under (default: 1.5)")
    parser.add_argument("--fail-above", type=float, metavar="RATIO", help="exit 1 if a ratio exceeds RATIO")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffles and token contents (default: 0)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of authorize()")
    args = parser.parse_args(argv)
    if min(args.rounds, args.tokens, args.users, args.chunk) < 1 or args.warmup < 0:
        parser.error("--rounds, --tokens, --users and --chunk must be at least 1, --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    fx = build_fixture(args.tokens, args.users, args.seed)
    items = measurements(fx)
    run_rounds(items, args.tokens, args.chunk, args.rounds, args.warmup, args.seed)
    meta = machine_description(args, started)
    rows = results(items, args.target)
    print_report(meta, rows)
    if args.profile:
        profile(fx, limit=20)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": meta, "results": rows}, indent=2) + "\n")
        print(f"results written to {args.json}")
    if args.fail_above is None:
        return 0
    failing = [r["measurement"] for r in rows if r["kind"] != "baseline" and r["ratio"] > args.fail_above]
    if failing:
        print(f"failing --fail-above {args.fail_above}: " + ", ".join(failing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
