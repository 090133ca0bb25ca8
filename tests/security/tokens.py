"""Real-format (random, never real) credentials for tests, assembled at run time so this source
file itself holds no secret a scanner would flag."""

from __future__ import annotations

import base64
import json
import random
import string
import zlib

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class TokenFactory:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)

    def s(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def github(self, prefix: str = "ghp", valid: bool = True) -> str:
        body = self.s(30)
        crc, digits = zlib.crc32(body.encode()), ""
        while crc:
            crc, rest = divmod(crc, 62)
            digits = B62[rest] + digits
        checksum = digits.rjust(6, "0")
        if not valid:
            checksum = checksum[::-1] if checksum[::-1] != checksum else "zzzzzz"
        return f"{prefix}_{body}{checksum}"

    def jwt(self) -> str:
        def part(obj: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': '42', 'iat': 1718000000})}.{self.s(43, ALNUM + '-_')}"

    def pem_lines(self, kind: str = "RSA ") -> list[str]:
        begin, end = "-----BEGIN ", "-----END "
        body = [self.s(64, ALNUM + "+/") for _ in range(8)]
        return [f"{begin}{kind}PRIVATE KEY-----", *body, f"{end}{kind}PRIVATE KEY-----"]

    def password(self) -> str:
        return "Quartz" + self.s(4, string.digits + "!#%") + self.s(4)


# (rule id, line builder) positives: each yields one line holding one secret of that family.
def positives(t: TokenFactory) -> list[tuple[str, str]]:
    sk = "sk"
    return [
        ("anthropic-api-key", f'ANTHROPIC_API_KEY = "{sk}-ant-api03-{t.s(93, ALNUM + "-_")}AA"'),
        ("openai-api-key", f'client = OpenAI(api_key="{sk}-proj-{t.s(120, ALNUM + "-_")}")'),
        ("openai-api-key", f'openai.api_key = "{sk}-{t.s(20)}T3BlbkFJ{t.s(20)}"'),
        (
            "aws-access-key-id",
            f'aws_access_key_id = "{"AKIA" + t.s(16, string.ascii_uppercase + "234567")}"',
        ),
        ("aws-secret-access-key", f"aws_secret_access_key = {t.s(40, ALNUM + '/+')}"),
        ("github-token", f'GITHUB_TOKEN = "{t.github()}"'),
        ("github-token", f"token: {t.github('ghs')}"),
        ("github-fine-grained-pat", f'gh = "github_pat_{t.s(22)}_{t.s(59)}"'),
        ("gitlab-token", f'GITLAB_TOKEN="glpat-{t.s(20, ALNUM + "-_")}"'),
        ("npm-token", f"//registry.npmjs.org/:_authToken=npm_{t.s(36)}"),
        ("pypi-token", f"password = pypi-AgEIcHlwaS5vcmc{t.s(70, ALNUM + '-_')}"),
        ("huggingface-token", f'HF_TOKEN = "hf_{t.s(34, string.ascii_letters)}"'),
        ("twilio-api-key", f'TWILIO_API_KEY = "SK{t.s(32, HEX)}"  # twilio'),
        ("twilio-api-key", f'client = Client("AC{t.s(32, HEX)}", "{t.s(32, HEX)}")  # twilio'),
        (
            "azure-sas-token",
            "blob = 'https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r&se=2026-01-01&sig="
            + t.s(43, ALNUM + "+/")
            + "%3D'",
        ),
        (
            "sendgrid-api-key",
            f'SENDGRID_API_KEY = "SG.{t.s(22, ALNUM + "-_")}.{t.s(43, ALNUM + "-_")}"',
        ),
        ("mailgun-api-key", f'MAILGUN_API_KEY = "key-{t.s(32, HEX)}"'),
        ("discord-bot-token", f'DISCORD_TOKEN = "M{t.s(25)}.{t.s(6)}.{t.s(38)}"  # discord bot'),
        (
            "discord-webhook",
            f"url = 'https://discord.com/api/webhooks/{t.s(18, string.digits)}/{t.s(68, ALNUM + '-_')}'",
        ),
        ("digitalocean-token", f"DO_TOKEN=dop_v1_{t.s(64, HEX)}"),
        (
            "azure-storage-key",
            "conn = 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="
            + t.s(86, ALNUM + "+/")
            + "==;EndpointSuffix=core.windows.net'",
        ),
        ("heroku-api-key", "HEROKU_API_KEY=" + "-".join(t.s(n, HEX) for n in (8, 4, 4, 4, 12))),
        ("shopify-token", f'shop_token = "shpat_{t.s(32, HEX)}"'),
        ("datadog-api-key", f'DATADOG_API_KEY: "{t.s(32, HEX)}"'),
        ("telegram-bot-token", f'bot = Bot("{t.s(9, string.digits)}:AA{t.s(33, ALNUM + "-_")}")'),
        (
            "slack-token",
            f'SLACK_BOT_TOKEN = "xoxb-{t.s(12, string.digits)}-{t.s(13, string.digits)}-{t.s(24)}"',
        ),
        (
            "slack-webhook",
            f"hook = 'https://hooks.slack.com/services/T{t.s(8, string.ascii_uppercase)}/B{t.s(8, string.ascii_uppercase)}/{t.s(24)}'",
        ),
        ("stripe-secret-key", f'stripe.api_key = "{sk}_live_{t.s(99)}"'),
        ("google-api-key", f'MAPS_KEY = "AIza{t.s(35, ALNUM + "-_")}"'),
        ("jwt", f'session = "{t.jwt()}"'),
        (
            "database-url-credentials",
            f'DATABASE_URL = "postgresql://app:{t.password()}@db.internal:5432/shop"',
        ),
        ("url-basic-auth", f"remote = 'https://deploy:{t.password()}@git.internal.net/repo.git'"),
        ("notion-token", f'NOTION = "ntn_{t.s(46)}"'),
        ("linear-api-key", f'LINEAR = "lin_api_{t.s(40)}"'),
        ("databricks-token", f'DATABRICKS = "dapi{t.s(32, HEX)}"'),
        ("hashicorp-token", f'VAULT_TOKEN = "hvs.{t.s(91, ALNUM + "_-")}"'),
        ("sentry-token", f'SENTRY = "sntryu_{t.s(64, HEX)}"'),
        ("groq-api-key", f'GROQ = "gsk_{t.s(52)}"'),
        ("doppler-token", f'DOPPLER = "dp.pt.{t.s(43)}"'),
        ("generic-secret", f'db_password = "{t.password()}"'),
        ("generic-secret", f"SESSION_SECRET={t.s(64, HEX)}"),
        ("generic-secret", f'  "clientSecret": "{t.s(32)}",'),
        ("generic-xml-secret", f"<password>{t.password()}</password>"),
        ("authorization-bearer", f"curl -H 'Authorization: Bearer {t.s(40)}' https://api.internal"),
        (
            "authorization-basic",
            "Authorization: Basic " + base64.b64encode(f"deploy:{t.password()}".encode()).decode(),
        ),
    ]


# Look-alikes that must stay quiet, one per line.
def negatives(t: TokenFactory) -> list[str]:
    sk = "sk"
    return [
        'aws_access_key_id = "AKIA' + 'IOSFODNN7EXAMPLE"',
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY' + 'EXAMPLEKEY"',
        f'OPENAI_API_KEY = "{sk}-' + "x" * 48 + '"',
        'api_key = "your-api-key-here"',
        'token = "<TOKEN>"',
        'password = "changeme"',
        'DB_PASSWORD = os.environ["DB_PASSWORD"]',
        "const secret = process.env.JWT_SECRET;",
        'database_url: "${DATABASE_URL}"',
        f'commit = "{t.s(40, HEX)}"',
        f'checksum = "{t.s(64, HEX)}"',
        'request_id = "' + "-".join(t.s(n, HEX) for n in (8, 4, 4, 4, 12)) + '"',
        f'"integrity": "sha512-{t.s(86, ALNUM + "+/")}=="',
        f'logo = "data:image/png;base64,{t.s(200, ALNUM + "+/")}AKIA{t.s(16, string.ascii_uppercase)}"',
        'DATABASE_URL = "postgres://user:password@localhost:5432/app"',
        'DATABASE_URL = "postgres://postgres:postgres@localhost:5432/app"',
        f'stripe.api_key = "{sk}_test_4eC39HqLyjWDarjtT1zdp7dc"',
        f'publishable = "pk_live_{t.s(24)}"',
        "headers = {'Authorization': 'Bearer ' + token}",
        'SLACK_TOKEN = "xoxb-your-token-here"',
        f'GITHUB_TOKEN = "{t.github(valid=False)}"',
        'GITHUB_TOKEN = "ghp_' + "x" * 36 + '"',
        "-----BEGIN PUBLIC KEY-----",
        'password_hash = "$2b$12$KIXQJQ1r5b1lC9zQ8a9Ele0Zx5d3n0Wq7rV6sW0tE4yU3iO2pA1sK"',
        'secret_name = "prod/payments/stripe"',
        'token_url = "https://oauth2.googleapis.com/token"',
        'jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"',
        'SECRET_KEY = "REPLACE_ME"',
        "export NPM_TOKEN=${NPM_TOKEN}",
        'private_key_path = "/etc/ssl/private/server.key"',
        "tokens = tokenizer.encode(text)",
        'password = request.form["password"]',
        'label = "Enter your password"',
        f'{sk}_key = "{sk}-ant-should-never-reach-production"',
        f'TOKEN = "{t.s(24)}"  # br: allow',
        'cache_key = "user:42:profile"',
        f"self.tokens = {{'{t.s(10)}': 1}}",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + t.s(43, ALNUM + "+/") + " deploy@ci",
    ]
