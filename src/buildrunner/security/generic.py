"""The generic-assignment heuristics: `password = "..."`, `API_KEY=...`, `"client_secret": "..."`.

A name must read like a credential (by its segments, not a substring: `tokenizer` is not `token`) and
the value like a secret: long enough, random enough, not a reference, placeholder, path, hash-named
digest, identifier or prose. Bare (unquoted) values count only where the file is configuration
(`.env`, YAML, INI, shell) or the name is an environment-style `UPPER_SNAKE=value`.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import Callable
from functools import lru_cache
from pathlib import PurePosixPath

from buildrunner.security.lazy_re import lazy_compile
from buildrunner.security.validators import (
    _HASH_PREFIX,
    _REFERENCE,
    Candidate,
    github_checksum_ok,
    is_placeholder,
    looks_like_path,
    shannon_entropy,
)

_PASSWORD_WORDS = frozenset({"password", "passwd", "passphrase", "pwd", "pass", "passwort", "contrasena"})
_SECRET_WORDS = frozenset({"secret", "secrets", "token", "apikey", "credential", "credentials", "creds"})
_COMPOUND_SUFFIXES = (
    "password", "passwd", "secret", "token", "apikey", "accesskey", "secretkey", "privatekey",
    "authkey", "masterkey", "signingkey",
)
_KEY_QUALIFIERS = frozenset({
    "api", "access", "private", "secret", "signing", "encryption", "encrypt", "master", "client",
    "app", "auth", "account", "service", "admin", "webhook", "consumer", "shared", "subscription",
    "hmac", "jwt", "license", "storage", "server", "secure", "crypto", "aes", "session", "write",
    "read", "deploy", "ingest", "integration", "sdk", "dev", "prod", "live",
})
_NEGATIVE_SEGMENTS = frozenset({
    "public", "pub", "id", "ids", "name", "names", "path", "file", "filename", "url", "uri", "endpoint",
    "type", "types", "length", "len", "size", "field", "fields", "prefix", "suffix", "header", "param",
    "params", "env", "var", "column", "col", "format", "count", "max", "min", "timeout", "expiry",
    "expires", "expiration", "ttl", "hash", "hashed", "sha", "md5", "digest", "checksum", "cache",
    "lock", "primary", "foreign", "sort", "partition", "idempotency", "dedup", "row", "lookup", "index",
    "kid", "policy", "pattern", "regex", "label", "title", "description", "placeholder", "hint",
    "message", "msg", "error", "prompt", "template", "input", "form", "button", "reset", "forgot",
    "confirm", "confirmation", "validation", "validator", "required", "rule", "strength", "mode",
    "provider", "manager", "host", "port", "user", "username", "login", "email", "dir", "location",
    "version", "limit", "scope", "scopes", "audience", "issuer", "algorithm", "alg", "encoding",
    "nonce", "csrf", "xsrf", "page", "next", "cursor", "continuation", "event", "events", "bucket",
    "ref", "reference", "query", "map", "mapping", "class", "handler", "callback", "fn", "func",
    "method", "module", "widget", "icon", "color", "style", "rotation", "generator", "reader",
    "loader", "getter", "setter", "factory", "enabled", "enable", "disabled", "exists", "valid",
    "is", "has", "use", "should", "allow", "show", "hide", "counter", "tokens", "tokenizer", "keys",
    "keyboard", "keyword", "keywords", "keypress", "keydown", "keyup", "keycode", "keyframe",
    "passport", "passthrough", "bypass", "compass", "author", "authority", "authors", "pathname",
    "storage_key", "translation", "i18n", "text", "redacted", "mask", "masked", "regexp",
    "schema", "spec", "doc", "docs", "example", "sample", "test", "mock", "fake", "dummy", "key_id", "keyid", "serial", "thumbprint", "fingerprint", "display", "expire", "expires_at",
    "created", "updated", "at", "date", "time", "ms", "seconds", "usage", "limits", "budget", "cost",
    "estimate", "counts", "vocab", "embedding", "embeddings", "bos", "eos", "pad", "unk", "special",
    "rate", "window", "algo", "cipher", "last", "used", "changed", "source", "process", "mgr", "realm", "attribute", "attr", "kdf", "iterations", "rounds", "salt_length",
})
# Words that, before a credential word, say the value is not a credential (public_key, reset_token).
_NEGATIVE_PREFIXES = frozenset({
    "public", "pub", "cache", "primary", "foreign", "sort", "partition", "idempotency", "dedup", "row",
    "lookup", "map", "test", "mock", "fake", "dummy", "example", "sample", "is", "has", "use", "should",
    "allow", "show", "hide", "enable", "disable", "min", "max", "forgot", "reset", "confirm", "next",
    "page", "csrf", "xsrf", "num", "count", "total", "input", "output", "placeholder", "label", "hint",
    "validate", "verify", "verification", "check", "change", "lock", "request", "update", "hash",
    "hashed", "encrypted", "masked", "redacted", "default",
})
_CONFIG_SUFFIXES = frozenset({
    ".env", ".ini", ".cfg", ".conf", ".config", ".properties", ".yaml", ".yml", ".toml", ".sh",
    ".bash", ".zsh", ".envrc", ".tfvars", ".service", ".npmrc", ".pypirc", ".netrc", ".txt", ".md",
    ".rst", ".log", ".dockerfile", ".example", ".local", ".production", ".development", ".staging", ".test",
})
_CONFIG_NAMES = frozenset({"dockerfile", "makefile", "procfile", ".npmrc", ".pypirc", ".netrc", ".env", "jenkinsfile"})
LOCK_FILES = frozenset({
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "pipfile.lock", "cargo.lock",
    "go.sum", "composer.lock", "gemfile.lock", "uv.lock", "bun.lock", "npm-shrinkwrap.json", "pdm.lock",
})
_SEGMENT = lazy_compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_IDENTIFIER = lazy_compile(r"[a-z]+(?:[_\-.:/][a-z0-9]+)*|[A-Z]+(?:[_\-.][A-Z0-9]+)*|[a-z]+(?:[A-Z][a-z0-9]+)+|[A-Z][a-z]+(?:[A-Z][a-z]+)*")
_NUMERIC = lazy_compile(r"[\d.,:\-+_ ]+")
_DESCRIPTIVE_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "api-key")
_GITHUB = lazy_compile(r"gh[pousr]_[A-Za-z0-9]{36}")
_DELEET = str.maketrans("013457@$!", "oleastasi")
_LETTER_WORDS = lazy_compile(r"[A-Za-z_]+(?:[._:/\-][A-Za-z_]+)*")
_SEPARATOR = lazy_compile(r"[._:/\-]")
_CAMEL_WORDS = lazy_compile(r"_?(?:[A-Z]{2,}(?=[A-Z][a-z]|$)|[A-Z][a-z]+|[AI](?=[A-Z]))+")
_REGEX_MARKERS = ("(?", "\\s", "\\d", "\\w", "[^", ".*", "\\b")
_TEMPLATE_FIELD = lazy_compile(r"\{[^{}\s]*\}")
_UUID_VALUE = lazy_compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ACCESS_WORDS = lazy_compile(r"key|secret|pass|pwd|api|access|auth|bearer|refresh")
_DOTTED_NAME = lazy_compile(r"[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*){2,}")
_TIMESTAMP = lazy_compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_PAIR_NAME = lazy_compile(
    r"""(?:\bname|ParameterKey|\bkey)["']?\s*[:=]\s*["']?(?P<name>[A-Za-z_][\w.\-]{1,80})["']?\s*,?\s*$"""
    r"""|variable\s+"(?P<name2>[\w\-]{2,80})"\s*\{?\s*$"""
    r"""|<key>(?P<name3>[\w.\-]{2,80})</key>\s*$"""
)
_HEX_ONLY = lazy_compile(r"[0-9a-fA-F]+")
_YAML_TAG = lazy_compile(r"![A-Za-z]+")
_ENV_NAME = lazy_compile(r"[A-Z][A-Z0-9_]*")
MINIFIED_LINE = 1000
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_.-$@")


def name_kind(name: str) -> str | None:
    """'password', 'secret', 'key' (a bare `key`: needs a strongly random value) or None."""
    segments = [s.lower() for s in _SEGMENT.findall(name)]
    if not segments:
        return None
    credential = [i for i, s in enumerate(segments) if _is_credential_word(s)]
    if credential:
        last = credential[-1]
        # Words after the credential word describe something else (password_hash, token_url);
        # words before it only qualify it (EMAIL_HOST_PASSWORD) unless they negate it.
        if any(s in _NEGATIVE_SEGMENTS for s in segments[last + 1 :]):
            return None
        if any(s in _NEGATIVE_PREFIXES for s in segments[:last]):
            return None
        word = segments[last]
        return "password" if word in _PASSWORD_WORDS or word.endswith(("password", "passwd")) else "secret"
    if "key" not in segments:
        return None
    index = len(segments) - 1 - segments[::-1].index("key")
    before, after = segments[:index], segments[index + 1 :]
    if any(s in _NEGATIVE_SEGMENTS for s in after) or any(s in _NEGATIVE_PREFIXES for s in before):
        return None
    if any(s in _KEY_QUALIFIERS for s in before):
        return "secret"
    if before and _ENV_NAME.fullmatch(name.strip("\"'")):  # OPENAI_KEY, MAPS_KEY
        return "secret"
    return "key" if not before and not after else None


def _is_credential_word(segment: str) -> bool:
    return (segment in _PASSWORD_WORDS or segment in _SECRET_WORDS
            or (segment.endswith(_COMPOUND_SUFFIXES) and segment not in _NEGATIVE_SEGMENTS))


def is_config_path(path: str) -> bool:
    """Files where `name: value` / `NAME=value` hold literal values (not code expressions)."""
    pure = PurePosixPath(path.lower())
    if pure.name in _CONFIG_NAMES or pure.name.startswith(".env"):
        return True
    return pure.suffix in _CONFIG_SUFFIXES


def secret_value_ok(value: str, kind: str, name: str) -> bool:
    """Does `value` look like a real credential of this kind (not a reference or placeholder)?"""
    value = value.strip()
    lowered = value.lower()
    minimum = 8 if kind == "password" else 10
    if len(value) < minimum or any(c.isspace() for c in value):
        return False
    if _REFERENCE.search(value) or _HASH_PREFIX.match(value) or _YAML_TAG.fullmatch(value):
        return False
    if looks_like_path(value):
        return False
    if _GITHUB.fullmatch(value) and not github_checksum_ok(value):  # a fake GitHub token
        return False
    if is_placeholder(value) or "test" in lowered or lowered.strip("_-") == "secret":
        return False
    if name.lower() in lowered or any(word in lowered for word in _DESCRIPTIVE_WORDS):
        return False
    if any(word in lowered.translate(_DELEET) for word in ("password", "passw0rd", "secret", "letmein", "qwerty")):
        return False  # P@55w0rd!, S3cr3t: the placeholder in disguise
    if _LETTER_WORDS.fullmatch(value) and (_SEPARATOR.search(value) or _CAMEL_WORDS.fullmatch(value)
                                          or value.islower() or value.isupper()):
        return False  # Some.Dotted.Name, _X_TRACE_ID, CamelCaseWords
    if _TEMPLATE_FIELD.search(value):  # f"...{name}..." / "{0}": filled in at run time
        return False
    if any(marker in value for marker in _REGEX_MARKERS):
        return False
    if _HEX_ONLY.fullmatch(value) and len(value) < 20:  # short hex: ids and digests, not keys
        return False
    if _UUID_VALUE.fullmatch(value) and not (_ENV_NAME.fullmatch(name) or _ACCESS_WORDS.search(name.lower())):
        return False  # ChangeToken/RequestToken = <uuid>: idempotency tokens, not credentials
    if _TIMESTAMP.match(value) or ("[" in value and "]" in value):  # dates, expressions
        return False
    if _DOTTED_NAME.fullmatch(value):  # fs.s3.retryPeriod, amzn1.account.X: names, not secrets
        return False
    squashed = re.sub(r"[^a-z0-9]", "", lowered)
    if squashed == re.sub(r"[^a-z0-9]", "", name.lower()) or _NUMERIC.fullmatch(value):
        return False
    if _IDENTIFIER.fullmatch(value):  # names, words, dotted paths: not random enough to be secrets
        return False
    entropy = shannon_entropy(value)
    if kind == "password":
        return entropy >= 2.3
    if kind == "key":  # a bare `key`: only a long, strongly random value
        return len(value) >= 32 and entropy >= 4.5 and _classes(value) >= 3
    return entropy >= 3.0 and _classes(value) >= 2


def _classes(value: str) -> int:
    return sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                any(c.isdigit() for c in value), any(not c.isalnum() for c in value)))


def generic_assignment(candidate: Candidate) -> bool:
    """`<credential name> <op> <literal value>` passing the name and value checks.

    The regex starts at the credential word (cheap to search for); the rest of the name and what
    precedes it (`"`, `(`, `?`/`&`/`;`) are read backwards from there.
    """
    groups = candidate.groups
    line, start = candidate.line, candidate.start
    head = start
    while head > 0 and start - head < 40 and line[head - 1] in _NAME_CHARS:
        head -= 1
    if head > 0 and line[head - 1] in _NAME_CHARS:
        return False
    name = (line[head:start] + (groups.get("tail") or "")).strip("\"' ")
    before = line[:head]
    quoted_name = before[-1:] in ("'", '"')
    rest = before[:-1] if quoted_name else before
    if rest[-1:] in (":", "/", "\\"):  # AWS::Service::ApiKey, a/b/token: part of a larger name
        return False
    in_call = rest.rstrip().endswith("(")
    in_url_or_connection_string = rest[-1:] in ("?", "&", ";")
    op = groups.get("op") or ""
    quoted, bare = groups.get("quoted"), groups.get("bare")
    flags = _path_flags(candidate.path)
    if len(line) > MINIFIED_LINE or flags[1]:
        return False
    if op == "," and not (quoted_name and in_call):  # setter("password", "...")
        return False
    if bare is not None:  # unquoted values are literals only in config files and NAME=value
        env_style = _ENV_NAME.fullmatch(name) is not None and f"{name}={bare}" in line
        if not (flags[0] or env_style or in_url_or_connection_string):
            return False
    if name.lower() == "pass" and not name.isupper():  # "pass"/"fail" labels, not credentials
        return False
    if name.lower() in ("auth", "_auth") and quoted is not None:  # docker config.json: base64 user:pass
        return _is_basic_pair(quoted)
    kind = name_kind(name.split(".")[-1].lstrip("$@"))
    if kind is None:
        return False
    value = quoted if quoted is not None else bare
    if value is not None and bare is not None and rest[-1:] in ("?", "&"):
        value = value.split("&", 1)[0]  # ?user=app&password=x&ssl=true: the query's next field
    return value is not None and secret_value_ok(value.rstrip("\\"), kind, name)


@lru_cache(maxsize=256)
def _path_flags(path: str) -> tuple[bool, bool]:
    """(configuration file?, lock file?) for a path."""
    return is_config_path(path), PurePosixPath(path).name.lower() in LOCK_FILES


def _is_basic_pair(value: str) -> bool:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    user, colon, password = decoded.partition(":")
    return bool(colon and user and decoded.isprintable()) and secret_value_ok(password, "password", user)


def generic_pair(candidate: Candidate) -> bool:
    """`value: ...` whose name sits just above: `- name: DB_PASSWORD` / `"name": "API_KEY"` (k8s,
    ECS), `variable "db_password" {` (Terraform), `"ParameterKey": "DbPassword"` (CloudFormation)."""
    groups = candidate.groups
    quoted, bare = groups.get("quoted") or groups.get("quoted3"), groups.get("bare")
    flags = _path_flags(candidate.path)
    if flags[1] or (bare is not None and not flags[0]):
        return False
    lines = candidate.before.split("\n")[-6:]
    name = groups.get("iname")
    for previous in reversed(lines if name is None else []):
        found = _PAIR_NAME.search(previous)
        if found:
            name = found.group("name") or found.group("name2") or found.group("name3")
            break
    kind = name_kind(name) if name else None
    value = quoted if quoted is not None else bare
    return kind is not None and value is not None and secret_value_ok(value.rstrip("\\"), kind, name or "")


def generic_xml(candidate: Candidate) -> bool:
    """`<password>value</password>` and `<add key="ApiSecret" value="..."/>`."""
    groups = candidate.groups
    name = groups.get("name") or groups.get("name2") or groups.get("name3") or ""
    value = groups.get("quoted") or groups.get("quoted2") or groups.get("quoted3") or ""
    kind = name_kind(name.split(":")[-1])
    return kind is not None and secret_value_ok(value, kind, name)


VALIDATORS: dict[str, Callable[[Candidate], bool]] = {
    "generic_assignment": generic_assignment,
    "generic_xml": generic_xml,
    "generic_pair": generic_pair,
}
