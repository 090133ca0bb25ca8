"""Checks a candidate secret must pass: checksums, structure and the hard negatives.

Each validator is `(candidate) -> bool` and is named from the rule table (`Rule.validator`).
Hard negatives stay quiet here: placeholders, references to the environment, documented example keys,
hashes, UUIDs, lock-file integrity strings and identifiers that merely look like values.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from buildrunner.security.lazy_re import lazy_compile


@dataclass(frozen=True)
class Candidate:
    """A regex match under review: the raw secret, its line and the file it is in."""

    rule_id: str
    secret: str
    line: str
    path: str
    groups: dict[str, str | None]
    start: int = 0  # where the match starts in `line`
    before: str = (
        ""  # up to a few hundred characters of the text before `line` (for name/value pairs)
    )


def shannon_entropy(value: str) -> float:
    """Bits per character of `value` (0 for an empty string)."""
    if not value:
        return 0.0
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in Counter(value).values())


# Keys published in vendor documentation; they are examples, never leaks.
KNOWN_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
        "pk_test_TYooMQauvdEDq54NiTphI7jx",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    }
)
_EXAMPLE_PREFIXES = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq",)

# Substrings that mark a value as a placeholder rather than a credential.
_PLACEHOLDER_WORDS = (
    "example",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "your_",
    "your-",
    "yourpass",
    "yourkey",
    "yoursecret",
    "yourtoken",
    "<",
    ">",
    "dummy",
    "fake",
    "sample",
    "redacted",
    "replace",
    "insert",
    "****",
    "...",
    "…",
    "•",
    "${",
    "{{",
    "}}",
    "%(",
    "todo",
    "fixme",
    "not-a-real",
    "not_a_real",
    "notreal",
    "not-real",
    "here",
    "enter_",
    "enter-",
    "mysecret",
    "my-secret",
    "my_secret",
    "mypassword",
    "my-password",
    "my_password",
    "secret-key-",
    "foobar",
    "abcdefgh",
    "12345678",
    "qwerty",
    "lorem",
    "00000000",
    "11111111",
    "aaaaaaaa",
    "deadbeef",
    "«",
    "»",
)
# Values too common to be a credential anybody guards.
_WEAK_VALUES = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "secret",
        "token",
        "key",
        "apikey",
        "api_key",
        "admin",
        "root",
        "test",
        "testing",
        "tester",
        "default",
        "guest",
        "user",
        "username",
        "postgres",
        "mysql",
        "none",
        "null",
        "nil",
        "undefined",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "empty",
        "required",
        "optional",
        "string",
        "str",
        "value",
        "demo",
        "dev",
        "development",
        "local",
        "localhost",
        "prod",
        "production",
        "staging",
        "letmein",
        "welcome",
        "hunter2",
        "foo",
        "bar",
        "baz",
        "qux",
        "secret123",
        "password123",
        "password1",
        "admin123",
        "pass123",
        "test123",
        "bearer",
        "basic",
        "oauth",
        "jwt",
        "redis",
        "rabbitmq",
        "mongo",
        "mongodb",
        "sa",
        "masked",
        "hidden",
        "unset",
    }
)
_REFERENCE = lazy_compile(
    r"^(?:\$|%|@|#\{|\{|<|&|\*)|(?:process\.env|os\.environ|os\.getenv|getenv\(|env\(|ENV\[|System\.getenv|"
    r"Environment\.|config\.|settings\.|secrets\.|vault:|arn:aws:|projects/[^/]+/secrets|keyvault|ssm:|"
    r"secretsmanager|\(\)|\.get\(|::|^ENC[(\[]|^vault:v\d|^AQICAH|^sops:)",
    re.IGNORECASE,
)
_HASH_PREFIX = lazy_compile(
    r"^(?:sha\d{1,3}[-:=]|md5[-:]|sha1[-:]|\$2[aby]\$|\$argon2|\$6\$|\$5\$|pbkdf2_|bcrypt\$|scrypt:|"
    r"data:|file:|https?://)"
)
_PATH_START = lazy_compile(r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\)")


def looks_like_path(value: str) -> bool:
    """`/etc/ssl/server.key`, `./certs`, `C:\\keys`: short path segments, no base64 padding."""
    if not _PATH_START.match(value) or "+" in value or "=" in value:
        return False
    return max(len(segment) for segment in re.split(r"[/\\]", value)) <= 32


def is_placeholder(value: str) -> bool:
    """True for values that only stand in for a secret (`your-api-key-here`, `sk-xxxx`, `<TOKEN>`)."""
    lowered = value.lower()
    if lowered in _WEAK_VALUES or value in KNOWN_EXAMPLES or value.startswith(_EXAMPLE_PREFIXES):
        return True
    if "EXAMPLE" in value or "xxxx" in value or "XXXX" in value:
        return True
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return True
    words = [part for part in re.split(r"[-_.]", value) if part]
    if len(words) >= 3 and all(part.isalpha() and part.islower() for part in words):
        return True  # sk-ant-should-never-reach-commands: words, not randomness
    body = re.sub(r"[^A-Za-z0-9]", "", value)
    if len(body) >= 8:
        top = Counter(body.lower()).most_common(1)[0][1]
        if top / len(body) > 0.5:  # xxxxxxxx, 00000000, aaaa-bbbb
            return True
    return _is_sequential(body.lower())


_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz" * 2,
    "0123456789abcdef",
    "12345678901234567890",
    "9876543210" * 2,
)


def _is_sequential(body: str) -> bool:
    """A run of 8 consecutive alphabet or digit characters (`abcdefgh`, `12345678`) anywhere."""
    return any(body[i : i + 8] in sequence for i in range(len(body) - 7) for sequence in _SEQUENCES)


def not_placeholder(candidate: Candidate) -> bool:
    """Provider formats: reject placeholders and documented examples."""
    return not is_placeholder(candidate.secret)


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def github_checksum_ok(token: str) -> bool:
    """GitHub's new-format tokens end in the base62 CRC32 of their 30 random characters."""
    body = token.split("_", 1)[1]
    if len(body) != 36:
        return False
    return _base62(zlib.crc32(body[:30].encode()), 6) == body[30:]


def github_checksum(candidate: Candidate) -> bool:
    return github_checksum_ok(candidate.secret) and not is_placeholder(candidate.secret)


def jwt(candidate: Candidate) -> bool:
    """A JWT whose header decodes to JSON with an `alg`, and not a documented example."""
    token = candidate.secret
    if token in KNOWN_EXAMPLES:
        return False
    header = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    except (binascii.Error, ValueError):
        return False
    # Any JSON-object header counts (random test tokens too); unsigned `alg: none` ones do not.
    return decoded.startswith(b'{"') and b'"none"' not in decoded.lower()


_PEM_NOISE = lazy_compile(r"\\[rn]|[\s\"',+]|(?:Proc-Type|DEK-Info|Comment|Version)[^\\\n]*")


def pem_body(candidate: Candidate) -> bool:
    """A private key block with a real body (not `...` or `<your key>`)."""
    text = candidate.secret
    if candidate.rule_id == "private-key" and text.startswith("PuTTY-User-Key-File"):
        return not is_placeholder(text)
    lowered = text.lower()
    if any(
        word in lowered
        for word in ("...", "xxxx", "<", "your", "redacted", "example", "insert", "placeholder")
    ):
        return False
    body = _PEM_NOISE.sub("", text.split("-----END", 1)[0]).rstrip("-")
    body = re.sub(r"-----BEGIN[^-]*-----", "", body)
    return len(body) >= 64 and shannon_entropy(body) >= 4.5


def url_password(candidate: Candidate) -> bool:
    """A password in a URL that is not a placeholder, a reference or the user name repeated."""
    password = candidate.secret
    user = (candidate.groups.get("user") or "").lower()
    host = (candidate.groups.get("host") or "").lower()
    if password.lower() == user or host in {"example.com", "host", "hostname", "server"}:
        return False
    if host.endswith((".example.com", ".example.org", ".example")):
        return False
    if _REFERENCE.search(password) or is_placeholder(password):
        return False
    if password.lower() in _WEAK_VALUES or password.lower().strip("*") == "":
        return False
    return not (
        user in {"user", "username", "usr"}
        and password.lower() in {"pass", "pw", "pwd", "password"}
    )


def basic_auth(candidate: Candidate) -> bool:
    """`Basic <base64>` that decodes to `user:password`."""
    value = candidate.secret
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    if ":" not in decoded or not decoded.isprintable():
        return False
    user, _, password = decoded.partition(":")
    return len(password) >= 4 and not is_placeholder(password) and password.lower() != user.lower()


VALIDATORS: dict[str, Callable[[Candidate], bool]] = {
    "not_placeholder": not_placeholder,
    "github_checksum": github_checksum,
    "jwt": jwt,
    "pem_body": pem_body,
    "url_password": url_password,
    "basic_auth": basic_auth,
}


__all__ = [
    "KNOWN_EXAMPLES",
    "VALIDATORS",
    "Candidate",
    "github_checksum_ok",
    "is_placeholder",
    "shannon_entropy",
]
