"""Digest authentication (RFC 2617, RFC 7616, RFC 8760): self-validating nonces, replay refusal, the client's answer.

GB/T 28181 devices answer with MD5 and, more often than not, without qop even when it is offered (the RFC 2069
form); the realm they use is the first ten digits of the platform ID. Both forms are verified here. Nonces carry
their issue time and an HMAC, so a challenge needs no table; what is remembered is which nonces were used
(without qop a nonce is good once) and the highest nonce count seen (with qop=auth it must rise), in bounded
memory.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import Challenge

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
ALGORITHMS = (*_HASHES, *(f"{name}-sess" for name in _HASHES))
# Strongest first: RFC 8760 §2.4 says a server offering several lists them in order of preference.
_PREFERENCE = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")

_TIME_BYTES = 6  # Milliseconds since the epoch fit in 48 bits until the year 10889.
_RANDOM_BYTES = 6
_MAC_BYTES = 12
_NONCE_HEX = 2 * (_TIME_BYTES + _RANDOM_BYTES + _MAC_BYTES)
_CLOCK_SKEW_S = 5.0  # A nonce stamped this far in our future is still ours (clock stepped back), beyond it forged.


class Outcome(Enum):
    OK = "ok"
    STALE = "stale"  # The credentials were right but the nonce is old or used: challenge again with stale=true.
    BAD = "bad"  # Wrong password, forged nonce, or a header we cannot accept.


@dataclass(frozen=True)
class DigestVerdict:
    outcome: Outcome
    reason: str
    username: str | None = None
    realm_matched: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def stale(self) -> bool:
        return self.outcome is Outcome.STALE


def _hash(algorithm: str, text: str) -> str:
    # RFC 7616 §3.4.4: strings go into the hash as UTF-8; GB device IDs and passwords are ASCII anyway.
    return _HASHES[algorithm.removesuffix("-sess")](text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredHa1:
    """A password kept only as its HA1 digests (H(username:realm:password)) for one realm, never in clear."""

    realm: str
    md5: str
    sha256: str

    @classmethod
    def of(cls, *, username: str, realm: str, password: str) -> StoredHa1:
        text = f"{username}:{realm}:{password}"
        return cls(realm, _hash("MD5", text), _hash("SHA-256", text))

    def for_algorithm(self, algorithm: str) -> str:
        return self.sha256 if algorithm.startswith("SHA-256") else self.md5


Secret = str | StoredHa1


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: Secret,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "",
    cnonce: str = "",
) -> str:
    """The `response` value of RFC 2617 §3.2.2.1 / RFC 7616 §3.4.1; without qop, the RFC 2069 form.

    `password` is the password itself or its stored HA1 digests (which only answer for their own realm).
    """
    if algorithm not in ALGORITHMS:
        raise SipError(f"unsupported digest algorithm {algorithm!r}")
    if isinstance(password, StoredHa1):
        if password.realm != realm:
            raise SipError(f"the stored digest is for realm {password.realm}, not {realm}")
        ha1 = password.for_algorithm(algorithm)
    else:
        ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    if algorithm.endswith("-sess"):
        ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop is None:
        return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def authorization(
    challenge: str,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str | None = None,
    nc: int = 1,
    *,
    use_qop: bool = True,
) -> str:
    """The Authorization header value answering one WWW-Authenticate value.

    With qop=auth when the challenge offers it and `use_qop` is left on; `use_qop=False` answers the way most
    GB/T 28181 devices do, without qop, even when it is offered.
    """
    parsed = Challenge.parse(challenge)
    if parsed.scheme != "Digest":
        raise SipError(f"not a Digest challenge: {parsed.scheme}")
    realm = parsed.params.get("realm")
    nonce = parsed.params.get("nonce")
    if realm is None or nonce is None:
        raise SipError("challenge without realm or nonce")
    algorithm = _algorithm_name(parsed.params.get("algorithm"))
    offered_qop = {item.strip().lower() for item in parsed.params.get("qop", "").split(",")}
    qop = "auth" if use_qop and "auth" in offered_qop else None
    if algorithm.endswith("-sess") or qop:
        cnonce = cnonce if cnonce is not None else secrets.token_hex(8)
    nc_text = f"{nc:08x}"
    params = {"username": username, "realm": realm, "nonce": nonce, "uri": uri}
    params["response"] = digest_response(
        algorithm=algorithm,
        username=username,
        realm=realm,
        password=password,
        method=method,
        uri=uri,
        nonce=nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce or "",
    )
    params["algorithm"] = algorithm
    if cnonce is not None and (qop or algorithm.endswith("-sess")):
        params["cnonce"] = cnonce
    if qop:
        params["qop"] = qop
        params["nc"] = nc_text
    if "opaque" in parsed.params:
        params["opaque"] = parsed.params["opaque"]
    return str(Challenge("Digest", params))


def choose_challenge(values: Iterable[str]) -> str:
    """Of several WWW-Authenticate values, the Digest one with the strongest algorithm we support."""
    ranked: list[tuple[int, str]] = []
    for value in values:
        try:
            parsed = Challenge.parse(value)
            algorithm = _algorithm_name(parsed.params.get("algorithm"))
        except SipError:
            continue
        if parsed.scheme == "Digest":
            ranked.append((_PREFERENCE.index(algorithm), value))
    if not ranked:
        raise SipError("no Digest challenge with an algorithm we support")
    return min(ranked, key=lambda item: item[0])[1]


def _algorithm_name(text: str | None) -> str:
    """RFC 2617 §3.2.1: no algorithm means MD5. Names compare case-insensitively; we hand back ours."""
    if text is None:
        return "MD5"
    for name in ALGORITHMS:
        if name.lower() == text.strip().lower():
            return name
    raise SipError(f"unsupported digest algorithm {text!r}")


def username_of(authorization_value: str) -> str | None:
    """The username in an Authorization value, to look up the password before verify(); None if absent."""
    try:
        return Challenge.parse(authorization_value).params.get("username")
    except SipError:
        return None


class DigestAuthority:
    """The server side: issues challenges and verifies answers for one realm.

    `now` is seconds on any clock that does not jump (wall or monotonic), the same for challenge() and verify().
    `strict_realm=False` accepts an answer computed with another realm (a device configured with a wrong
    domain) when the password still proves it; the verdict's realm_matched says so.
    """

    def __init__(
        self,
        realm: str,
        key: bytes,
        *,
        nonce_ttl_s: float = 300.0,
        algorithms: tuple[str, ...] = ("MD5",),
        qop: bool = True,
        strict_realm: bool = True,
        max_tracked_nonces: int = 100_000,
    ) -> None:
        if len(key) < 16:
            raise ValueError("the nonce key must be at least 16 bytes")
        unknown = [name for name in algorithms if name not in ALGORITHMS]
        if unknown or not algorithms:
            raise ValueError(f"unsupported algorithms {unknown or algorithms!r}")
        if max_tracked_nonces < 1 or nonce_ttl_s <= 0:
            raise ValueError("max_tracked_nonces and nonce_ttl_s must be positive")
        self.realm = realm
        self._key = key
        self.nonce_ttl_s = nonce_ttl_s
        self.algorithms = tuple(sorted(algorithms, key=_PREFERENCE.index))
        self.qop = qop
        self.strict_realm = strict_realm
        self.max_tracked_nonces = max_tracked_nonces
        # nonce -> highest nc used (0 for a no-qop use); a heap of (expiry, nonce) evicts the oldest first.
        self._used: dict[str, int] = {}
        self._expiries: list[tuple[float, int, str]] = []  # (expires_at, issued_ms, nonce)
        # Nonces issued at or before this time (ms) are treated as stale: raised when a live entry is evicted,
        # so that forgetting a nonce can never let it be replayed.
        self._floor_ms = -1

    @property
    def tracked_nonces(self) -> int:
        return len(self._used)

    def challenge(self, now: float, stale: bool = False) -> list[str]:
        """WWW-Authenticate values, one per algorithm, strongest first; they share one nonce."""
        nonce = self._new_nonce(now)
        values = []
        for algorithm in self.algorithms:
            params = {"realm": self.realm, "nonce": nonce, "algorithm": algorithm}
            if self.qop:
                params["qop"] = "auth"
            if stale:
                params["stale"] = "true"
            values.append(str(Challenge("Digest", params)))
        return values

    def verify(self, method: str, authorization_value: str, password: Secret | None, now: float) -> DigestVerdict:
        """Check one Authorization value. `password` None means the user is unknown (always bad)."""
        try:
            parsed = Challenge.parse(authorization_value)
        except SipError as exc:
            return DigestVerdict(Outcome.BAD, f"unparseable Authorization: {exc}")
        params = parsed.params
        username = params.get("username")
        realm = params.get("realm")
        realm_matched = realm == self.realm
        if parsed.scheme != "Digest":
            return DigestVerdict(Outcome.BAD, f"scheme {parsed.scheme} is not Digest", username, realm_matched)
        problem = self._header_problem(params, realm_matched)
        if problem is not None:
            return DigestVerdict(Outcome.BAD, problem, username, realm_matched)
        assert username is not None and realm is not None  # _header_problem checked them.
        nonce = params["nonce"]
        issued_ms = self._nonce_time_ms(nonce, now)
        if issued_ms is None:
            return DigestVerdict(Outcome.BAD, "nonce not issued by us", username, realm_matched)
        if password is None:
            return DigestVerdict(Outcome.BAD, "unknown user", username, realm_matched)
        if isinstance(password, StoredHa1) and password.realm != realm:
            return DigestVerdict(Outcome.BAD, "the stored password is for another realm", username, realm_matched)
        qop = params.get("qop")
        expected = digest_response(
            algorithm=_algorithm_name(params.get("algorithm")),
            username=username,
            realm=realm,
            password=password,
            method=method.upper(),
            uri=params["uri"],
            nonce=nonce,
            qop=qop,
            nc=params.get("nc", ""),
            cnonce=params.get("cnonce", ""),
        )
        if not hmac.compare_digest(expected.encode(), params["response"].lower().encode()):
            return DigestVerdict(Outcome.BAD, "wrong response (password)", username, realm_matched)
        self._forget_expired(now)
        # Only a right answer gets to "stale": RFC 7616 §3.3 says stale means the credentials were good.
        if issued_ms <= self._floor_ms or now - issued_ms / 1000 > self.nonce_ttl_s:
            return DigestVerdict(Outcome.STALE, "nonce expired", username, realm_matched)
        nc = int(params["nc"], 16) if qop else 0
        last = self._used.get(nonce)
        if last is not None and (qop is None or nc <= last):
            reason = "nonce already used" if qop is None else f"nonce count {nc} not above {last}"
            return DigestVerdict(Outcome.STALE, reason, username, realm_matched)
        self._remember(nonce, nc, issued_ms)
        return DigestVerdict(Outcome.OK, "ok", username, realm_matched)

    def _header_problem(self, params: dict[str, str], realm_matched: bool) -> str | None:
        for name in ("username", "realm", "nonce", "uri", "response"):
            if not params.get(name):
                return f"no {name} parameter"
        if not realm_matched and self.strict_realm:
            return f"realm {params['realm']!r} is not ours"
        try:
            algorithm = _algorithm_name(params.get("algorithm"))
        except SipError:
            return f"algorithm {params.get('algorithm')!r} not supported"
        if algorithm not in self.algorithms:
            return f"algorithm {algorithm} not offered"
        qop = params.get("qop")
        if qop is not None:
            if qop.lower() != "auth":
                return f"qop {qop!r} not supported"
            nc = params.get("nc", "")
            if len(nc) != 8 or any(c not in "0123456789abcdefABCDEF" for c in nc) or not params.get("cnonce"):
                return "qop=auth without a valid nc and cnonce"
        elif algorithm.endswith("-sess") and not params.get("cnonce"):
            return "-sess algorithm without cnonce"
        return None

    def _new_nonce(self, now: float) -> str:
        if now < 0:
            raise ValueError("now must be seconds since an epoch, not negative")
        stamp = int(now * 1000).to_bytes(_TIME_BYTES, "big")
        body = stamp + secrets.token_bytes(_RANDOM_BYTES)
        return (body + self._mac(body)).hex()

    def _mac(self, body: bytes) -> bytes:
        # The realm is in the MAC so that one key shared by several realms cannot carry a nonce across them.
        return hmac.new(self._key, body + self.realm.encode(), hashlib.sha256).digest()[:_MAC_BYTES]

    def _nonce_time_ms(self, nonce: str, now: float) -> int | None:
        """The issue time of a nonce we made, or None for anything forged, tampered or malformed."""
        if len(nonce) != _NONCE_HEX:
            return None
        try:
            raw = bytes.fromhex(nonce)
        except ValueError:
            return None
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        issued_ms = struct.unpack(">Q", b"\0\0" + body[:_TIME_BYTES])[0]
        if issued_ms / 1000 > now + _CLOCK_SKEW_S:
            return None
        return issued_ms

    def _remember(self, nonce: str, nc: int, issued_ms: int) -> None:
        if nonce not in self._used:
            while len(self._used) >= self.max_tracked_nonces:
                self._evict_oldest()
            heapq.heappush(self._expiries, (issued_ms / 1000 + self.nonce_ttl_s, issued_ms, nonce))
        self._used[nonce] = nc

    def _forget_expired(self, now: float) -> None:
        # An expired nonce is refused as stale by its timestamp alone, so its entry is no longer needed; the
        # second of margin keeps float rounding from forgetting one that the stale test would still pass.
        while self._expiries and self._expiries[0][0] + 1.0 < now:
            _, _, nonce = heapq.heappop(self._expiries)
            self._used.pop(nonce, None)

    def _evict_oldest(self) -> None:
        _, issued_ms, nonce = heapq.heappop(self._expiries)
        del self._used[nonce]
        # Still live: from now on every nonce issued no later than this one is stale, so it cannot come back.
        self._floor_ms = max(self._floor_ms, issued_ms)
