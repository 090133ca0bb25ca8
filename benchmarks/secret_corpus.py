"""A labelled, realistic secret corpus: code and config files across providers, with hard decoys.

`build_corpus(root, seed, files)` writes files under `root` and returns the ground truth: the set of
(path, line) pairs that hold a real-format secret. Decoys (placeholders, environment references,
documented example keys, hashes, UUIDs, git SHAs, lock-file integrity, data URIs, minified code,
public keys) sit in the same kinds of files. Filler is realistic code so throughput figures mean
something.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Tokens:
    """Real-format credentials for many providers (random, never real)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def s(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def github(self) -> str:
        body = self.s(30)
        crc, digits = zlib.crc32(body.encode()), ""
        while crc:
            crc, r = divmod(crc, 62)
            digits = B62[r] + digits
        return self.rng.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + body + digits.rjust(6, "0")

    def jwt(self) -> str:
        def part(obj: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        head = part({"alg": self.rng.choice(["HS256", "RS256"]), "typ": "JWT"})
        body = part(
            {
                "sub": str(self.rng.randint(1000, 99999)),
                "role": "service",
                "iat": 1718000000 + self.rng.randint(0, 10**6),
            }
        )
        return f"{head}.{body}.{self.s(43, ALNUM + '-_')}"

    def pem(self, kind: str) -> list[str]:
        lines = [f"-----BEGIN {kind}PRIVATE KEY-----"]
        lines += [self.s(64, ALNUM + "+/") for _ in range(self.rng.randint(6, 12))]
        lines += [
            self.s(self.rng.randint(20, 60), ALNUM + "+/") + "==",
            f"-----END {kind}PRIVATE KEY-----",
        ]
        return lines

    def password(self) -> str:
        word = self.rng.choice(["Tiger", "Maple", "Orbit", "Quartz", "Falcon", "Nimbus", "Copper"])
        return word + self.s(self.rng.randint(3, 6), string.digits + "!#%&*@") + self.s(4)

    def catalogue(self) -> dict[str, Callable[[], str]]:
        s = self.s
        return {
            "aws_id": lambda: "AKIA" + s(16, string.ascii_uppercase + "234567"),
            "aws_secret": lambda: s(40, ALNUM + "/+"),
            "github": self.github,
            "github_pat": lambda: f"github_pat_{s(22)}_{s(59)}",
            "gitlab": lambda: "glpat-" + s(20, ALNUM + "-_"),
            "npm": lambda: "npm_" + s(36),
            "pypi": lambda: "pypi-AgEIcHlwaS5vcmc" + s(70, ALNUM + "-_"),
            "hf": lambda: "hf_" + s(34, string.ascii_letters),
            "twilio": lambda: "SK" + s(32, HEX),
            "sendgrid": lambda: f"SG.{s(22, ALNUM + '-_')}.{s(43, ALNUM + '-_')}",
            "mailgun": lambda: "key-" + s(32, HEX),
            "discord": lambda: f"M{s(25)}.{s(6, ALNUM + '-_')}.{s(38, ALNUM + '-_')}",
            "digitalocean": lambda: "dop_v1_" + s(64, HEX),
            "shopify": lambda: "shpat_" + s(32, HEX),
            "datadog": lambda: s(32, HEX),
            "telegram": lambda: f"{self.rng.randint(10**8, 10**10 - 1)}:AA{s(33, ALNUM + '-_')}",
            "slack": lambda: f"xoxb-{s(12, string.digits)}-{s(13, string.digits)}-{s(24)}",
            "stripe": lambda: "sk_live_" + s(99),
            "google": lambda: "AIza" + s(35, ALNUM + "-_"),
            "anthropic": lambda: "sk-ant-api03-" + s(93, ALNUM + "-_") + "AA",
            "openai": lambda: "sk-proj-" + s(156, ALNUM + "-_"),
            "heroku": lambda: str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "notion": lambda: "ntn_" + s(46),
            "linear": lambda: "lin_api_" + s(40),
            "doppler": lambda: "dp.pt." + s(43),
            "databricks": lambda: "dapi" + s(32, HEX),
            "vault": lambda: "hvs." + s(91, ALNUM + "_-"),
            "sentry": lambda: "sntryu_" + s(64, HEX),
            "groq": lambda: "gsk_" + s(52),
            "jwt": self.jwt,
        }


# Filler: realistic code blocks that contain no secrets (but many keyword look-alikes).
FILLER = {
    ".py": [
        "def paginate(items: list, size: int) -> Iterator[list]:\n    for start in range(0, len(items), size):\n        yield items[start:start + size]\n",
        "@dataclass\nclass Order:\n    id: int\n    total_cents: int\n    currency: str = 'EUR'\n    items: list[str] = field(default_factory=list)\n",
        "async def handle(request):\n    body = await request.json()\n    order = await orders.create(body['customer'], body['items'])\n    return web.json_response({'id': order.id}, status=201)\n",
        "def retry(times: int = 3):\n    def wrap(fn):\n        @functools.wraps(fn)\n        def inner(*args, **kwargs):\n            for attempt in range(times):\n                try:\n                    return fn(*args, **kwargs)\n                except TimeoutError:\n                    time.sleep(2 ** attempt)\n            return fn(*args, **kwargs)\n        return inner\n    return wrap\n",
        "SELECT_RECENT = 'SELECT id, created_at FROM orders WHERE created_at > ? ORDER BY id DESC LIMIT 50'\nrows = conn.execute(SELECT_RECENT, (since,)).fetchall()\n",
        "def load_config(path: str) -> dict:\n    with open(path) as handle:\n        return json.load(handle)\n",
        "class TokenBucket:\n    def __init__(self, rate: float) -> None:\n        self.rate = rate\n        self.tokens = 0.0\n",
        "for key, value in sorted(settings.items()):\n    logger.debug('setting %s = %r', key, value)\n",
        "password = request.form.get('password')\nif not check_password_hash(user.password_hash, password):\n    abort(401)\n",
        "token = jwt.encode(payload, current_app.config['SECRET_KEY'], algorithm='HS256')\n",
        "api_key = os.environ.get('SERVICE_API_KEY')\nheaders = {'Authorization': f'Bearer {api_key}'}\n",
        "cache_key = f'user:{user_id}:profile'\nresult = cache.get(cache_key)\n",
    ],
    ".js": [
        "function debounce(fn, ms) {\n  let timer;\n  return (...args) => {\n    clearTimeout(timer);\n    timer = setTimeout(() => fn(...args), ms);\n  };\n}\n",
        'export default function Cart({ items }) {\n  const total = items.reduce((sum, item) => sum + item.price * item.qty, 0);\n  return <div className="cart">Total: {formatMoney(total)}</div>;\n}\n',
        "router.get('/health', (req, res) => res.json({ status: 'ok', uptime: process.uptime() }));\n",
        "export async function fetchUser(id) {\n  const res = await fetch(`/api/users/${id}`, { headers: { Authorization: `Bearer ${token}` } });\n  return res.json();\n}\n",
        "const apiKey = process.env.STRIPE_SECRET_KEY;\nconst client = new Stripe(apiKey, { apiVersion: '2023-10-16' });\n",
        "module.exports = { secret: process.env.SESSION_SECRET, resave: false, saveUninitialized: true };\n",
        "const tokens = text.split(/\\s+/).filter(Boolean);\nconsole.log(`parsed ${tokens.length} tokens`);\n",
    ],
    ".go": [
        'func Connect(dsn string) (*sql.DB, error) {\n\tdb, err := sql.Open("postgres", dsn)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\treturn db, nil\n}\n',
        'token := os.Getenv("GITHUB_TOKEN")\nclient := github.NewClient(nil).WithAuthToken(token)\n',
    ],
    ".yaml": [
        "replicas: 3\nimage: registry.internal/app:1.4.2\nresources:\n  limits:\n    memory: 512Mi\n",
        "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n",
    ],
    ".md": [
        "## Configuration\n\nSet `API_KEY` in your environment before running `make deploy`.\n\n```bash\nexport API_KEY=<your-api-key>\n```\n",
    ],
}

DECOYS = [
    "    response = client.post('/login', data={{'username': 'alice', 'password': 'wrong'}})",
    'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"',
    'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
    'OPENAI_API_KEY = "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
    'api_key = "your-api-key-here"',
    'token = "<TOKEN>"',
    'password = "changeme"',
    'DB_PASSWORD = os.environ["DB_PASSWORD"]',
    "const secret = process.env.JWT_SECRET;",
    'database_url: "${{DATABASE_URL}}"',
    'commit = "{sha}"',
    'checksum = "{sha256}"',
    'request_id = "{uuid}"',
    '"integrity": "sha512-{b64}=="',
    'logo = "data:image/png;base64,{b64}"',
    'DATABASE_URL = "postgres://user:password@localhost:5432/app"',
    'stripe.api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"',
    'publishable_key = "pk_live_{alnum}"',
    "headers = {{'Authorization': 'Bearer ' + token}}",
    'SLACK_TOKEN = "xoxb-your-token-here"',
    'GITHUB_TOKEN = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
    "-----BEGIN PUBLIC KEY-----",
    'password_hash = "$2b$12$KIXQJQ1r5b1lC9zQ8a9Ele0Zx5d3n0Wq7rV6sW0tE4yU3iO2pA1sK"',
    'secret_name = "prod/payments/stripe"',
    'token_url = "https://oauth2.googleapis.com/token"',
    'jwt_example = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"',
    'client_id = "{uuid}"',
    'SECRET_KEY = "REPLACE_ME"',
    "export NPM_TOKEN=${{NPM_TOKEN}}",
    'private_key_path = "/etc/ssl/private/server.key"',
]

# (file suffix, line template) for positives; {v} is the secret, {V} an upper-case env name.
POSITIVE_FORMS = {
    ".py": [
        '{name} = "{v}"',
        "client = Client(api_key='{v}')",
        '    "{name}": "{v}",',
        'os.environ.setdefault("{NAME}", "{v}")',
    ],
    ".js": ['const {name} = "{v}";', "  {name}: '{v}',", "export const {NAME} = `{v}`;"],
    ".ts": ['const {name}: string = "{v}";', '  {name}: "{v}",'],
    ".go": ['const {name} = "{v}"', '\t{Name}: "{v}",'],
    ".java": ['    private static final String {NAME} = "{v}";'],
    ".env": ["{NAME}={v}", '{NAME}="{v}"'],
    ".yaml": ["  {name}: {v}", '  {name}: "{v}"'],
    ".json": ['  "{name}": "{v}",'],
    ".toml": ['{name} = "{v}"'],
    ".properties": ["app.{name}={v}"],
    ".sh": ['export {NAME}="{v}"'],
    ".tf": ['  {name} = "{v}"'],
}
NAMES = {
    "aws_id": "aws_access_key_id",
    "aws_secret": "aws_secret_access_key",
    "github": "github_token",
    "github_pat": "gh_token",
    "gitlab": "gitlab_token",
    "npm": "npm_token",
    "pypi": "pypi_password",
    "hf": "hf_token",
    "twilio": "twilio_api_key",
    "sendgrid": "sendgrid_api_key",
    "mailgun": "mailgun_api_key",
    "discord": "discord_bot_token",
    "digitalocean": "do_token",
    "shopify": "shopify_access_token",
    "datadog": "datadog_api_key",
    "telegram": "telegram_bot_token",
    "slack": "slack_bot_token",
    "stripe": "stripe_secret_key",
    "google": "google_maps_key",
    "anthropic": "anthropic_api_key",
    "openai": "openai_api_key",
    "heroku": "heroku_api_key",
    "notion": "notion_token",
    "linear": "linear_key",
    "doppler": "doppler_token",
    "databricks": "databricks_token",
    "vault": "vault_token",
    "sentry": "sentry_token",
    "groq": "groq_api_key",
    "jwt": "service_jwt",
    "password": "db_password",
    "secret": "webhook_secret",
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def build_corpus(
    root: Path, seed: int = 7, files: int = 600, filler_kb: int = 6
) -> set[tuple[str, int]]:
    """Write the corpus; return the ground truth {(relative path, line)}."""
    rng = random.Random(seed)
    tokens = Tokens(rng)
    catalogue = tokens.catalogue()
    catalogue["password"] = tokens.password
    catalogue["secret"] = lambda: tokens.s(40, HEX)
    truth: set[tuple[str, int]] = set()
    kinds = sorted(catalogue)
    for index in range(files):
        suffix = rng.choice(sorted(POSITIVE_FORMS))
        folder = rng.choice(
            ["src", "config", "deploy", "scripts", "services/api", "web/app", "infra"]
        )
        name = f"{folder}/{rng.choice(['settings', 'client', 'main', 'app', 'deploy', 'config', 'secrets'])}_{index}{suffix}"
        if suffix == ".env":
            name = f"{folder}/.env.{rng.choice(['local', 'production', 'staging'])}_{index}"
        lines: list[str] = []
        filler = FILLER.get(suffix if suffix in FILLER else ".py", FILLER[".py"])
        positives = rng.randint(0, 2) if rng.random() < 0.7 else 0
        decoys = rng.randint(0, 3)
        events = ["pos"] * positives + ["decoy"] * decoys
        rng.shuffle(events)
        while sum(len(line) for line in lines) < filler_kb * 512 * rng.uniform(0.5, 1.5) or events:
            if events and rng.random() < 0.3:
                event = events.pop()
                if event == "pos":
                    kind = rng.choice(kinds)
                    _positive(lines, truth, name, suffix, kind, catalogue, rng, tokens)
                else:
                    lines.append(_decoy(rng, tokens))
            else:
                lines.extend(rng.choice(filler).rstrip("\n").split("\n"))
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _special_files(root, rng, tokens, truth)
    return truth


def _positive(
    lines: list[str],
    truth: set[tuple[str, int]],
    path: str,
    suffix: str,
    kind: str,
    catalogue: dict[str, Callable[[], str]],
    rng: random.Random,
    tokens: Tokens,
) -> None:
    if kind in {"discord", "twilio"}:  # their formats need the provider's name nearby
        lines.append(f"# {kind} integration")
    name = NAMES[kind]
    form = rng.choice(POSITIVE_FORMS[suffix])
    value = catalogue[kind]()
    line = form.format(
        name=_camel(name) if suffix in {".js", ".ts", ".java"} else name,
        NAME=name.upper(),
        Name=_camel(name)[0].upper() + _camel(name)[1:],
        v=value,
    )
    lines.append(line)
    truth.add((path, len(lines)))


def _decoy(rng: random.Random, tokens: Tokens) -> str:
    return rng.choice(DECOYS).format(
        sha=tokens.s(40, HEX),
        sha256=tokens.s(64, HEX),
        uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        b64=tokens.s(86, ALNUM + "+/"),
        alnum=tokens.s(24),
    )


def _special_files(
    root: Path, rng: random.Random, tokens: Tokens, truth: set[tuple[str, int]]
) -> None:
    """Formats that need whole files: PEM keys, service-account JSON, lock files, minified code."""
    for i, kind in enumerate(["RSA ", "EC ", "OPENSSH ", ""]):
        path = f"keys/deploy_{i}.pem"
        (root / "keys").mkdir(parents=True, exist_ok=True)
        (root / path).write_text("\n".join(tokens.pem(kind)) + "\n")
        truth.add((path, 1))
    pem = "\\n".join(tokens.pem(""))
    service = {
        "type": "service_account",
        "project_id": "shop-prod-4411",
        "private_key_id": tokens.s(40, HEX),
        "private_key": pem,
        "client_email": "deployer@shop-prod-4411.iam.gserviceaccount.com",
    }
    (root / "config" / "gcp-key.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "config" / "gcp-key.json").write_text(json.dumps(service, indent=2) + "\n")
    truth.add(("config/gcp-key.json", 5))
    account, key = tokens.s(12, string.ascii_lowercase), tokens.s(86, ALNUM + "+/") + "=="
    (root / "config" / "storage.env").write_text(
        f"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};EndpointSuffix=core.windows.net\n"
    )
    truth.add(("config/storage.env", 1))
    password = tokens.password()
    (root / "config" / "database.yml").write_text(
        f"production:\n  url: postgresql://app_user:{password}@db.internal.net:5432/shop\n  pool: 10\n"
    )
    truth.add(("config/database.yml", 2))
    hook = f"https://hooks.slack.com/services/T{tokens.s(8, string.ascii_uppercase + string.digits)}/B{tokens.s(8, string.ascii_uppercase + string.digits)}/{tokens.s(24)}"
    (root / "scripts" / "notify.sh").parent.mkdir(parents=True, exist_ok=True)
    (root / "scripts" / "notify.sh").write_text(f'#!/bin/sh\ncurl -X POST -d "$1" {hook}\n')
    truth.add(("scripts/notify.sh", 2))
    lock = {
        "name": "web",
        "lockfileVersion": 3,
        "packages": {
            f"node_modules/pkg{i}": {
                "version": f"1.{i}.0",
                "resolved": f"https://registry.npmjs.org/pkg{i}/-/pkg{i}-1.{i}.0.tgz",
                "integrity": "sha512-" + tokens.s(86, ALNUM + "+/") + "==",
            }
            for i in range(300)
        },
    }
    (root / "web").mkdir(parents=True, exist_ok=True)
    (root / "web" / "package-lock.json").write_text(json.dumps(lock, indent=2))
    minified = ";".join(
        f'var {tokens.s(2, string.ascii_lowercase)}=function(t,e){{return t.token=e.key||"{tokens.s(12)}"}}'
        for _ in range(400)
    )
    (root / "web" / "vendor.min.js").write_text(minified + "\n")
