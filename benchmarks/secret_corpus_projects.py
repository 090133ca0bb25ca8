"""A second labelled corpus in another style: whole project files (compose, k8s, CI, Django,
Spring, .NET, notebooks, Terraform, READMEs) where secrets and decoys sit where people put them.

Each template returns the file text with `«S:kind»` marks for planted secrets and `«D:kind»` for
decoys; `build_project_corpus` fills them and records the (path, line) of each planted secret.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from pathlib import Path

from secret_corpus import ALNUM, HEX, Tokens

TEMPLATES: dict[str, str] = {
    "docker-compose.yml": """\
version: "3.9"
services:
  db:
    image: postgres:16
    environment:
      - POSTGRES_USER=shop
      - POSTGRES_PASSWORD=«S:password»
      - POSTGRES_DB=shop
  api:
    build: .
    environment:
      DATABASE_URL: postgres://shop:«D:envref»@db:5432/shop
      STRIPE_SECRET_KEY: «S:stripe»
      SENTRY_DSN: https://«D:hex32»@o123456.ingest.sentry.io/4504
      REDIS_URL: redis://redis:6379/0
    depends_on: [db]
""",
    "k8s/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: payments
  annotations:
    checksum/config: «D:sha256»
type: Opaque
stringData:
  SENDGRID_API_KEY: «S:sendgrid»
  TWILIO_AUTH_TOKEN: «S:hex32»
  DD_API_KEY: «S:hex32»
""",
    "k8s/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
spec:
  template:
    spec:
      containers:
        - name: orders
          image: registry.internal/orders@sha256:«D:sha256»
          env:
            - name: LOG_LEVEL
              value: info
            - name: DB_PASSWORD
              value: "«S:password»"
            - name: SESSION_TOKEN
              valueFrom:
                secretKeyRef: {name: orders, key: session-token}
""",
    ".github/workflows/deploy.yml": """\
name: deploy
on: [push]
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@«D:sha»
      - run: npm ci
      - run: npm run deploy
        env:
          NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
          HEROKU_API_KEY: «S:uuid»
          SLACK_WEBHOOK: «S:slack_webhook»
""",
    "shop/settings.py": """\
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "django-insecure-«S:django»"
DEBUG = False
ALLOWED_HOSTS = ["shop.example.org"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "shop",
        "USER": "shop",
        "PASSWORD": os.environ.get("DB_PASSWORD", ""),
        "HOST": "db",
    }
}
EMAIL_HOST_PASSWORD = "«S:password»"
AWS_ACCESS_KEY_ID = "«S:aws_id»"
AWS_SECRET_ACCESS_KEY = "«S:aws_secret»"
AWS_STORAGE_BUCKET_NAME = "shop-static"
CSRF_COOKIE_NAME = "csrftoken"
PASSWORD_RESET_TIMEOUT = 259200
""",
    "src/main/resources/application.properties": """\
server.port=8080
spring.datasource.url=jdbc:postgresql://db.internal:5432/orders
spring.datasource.username=orders
spring.datasource.password=«S:password»
spring.jpa.hibernate.ddl-auto=validate
management.endpoints.web.exposure.include=health,info
app.jwt.secret=«S:b64_48»
app.jwt.expiration-ms=86400000
spring.mail.password=${MAIL_PASSWORD}
""",
    "appsettings.Production.json": """\
{
  "Logging": { "LogLevel": { "Default": "Information" } },
  "ConnectionStrings": {
    "Default": "Server=tcp:orders.database.windows.net,1433;Database=orders;User ID=orders;Password=«S:password»;Encrypt=True;"
  },
  "Storage": "DefaultEndpointsProtocol=https;AccountName=ordersstore;AccountKey=«S:azure_key»;EndpointSuffix=core.windows.net",
  "Jwt": { "Issuer": "orders", "Key": "«S:b64_48»" },
  "ApplicationInsights": { "InstrumentationKey": "«D:uuid»" }
}
""",
    "notebooks/explore.ipynb": """\
{
 "cells": [
  {
   "cell_type": "code",
   "source": [
    "import openai\\n",
    "openai.api_key = \\"«S:openai»\\"\\n",
    "client = openai.OpenAI()\\n"
   ]
  },
  {
   "cell_type": "markdown",
   "source": ["Use `OPENAI_API_KEY` from your environment instead."]
  }
 ],
 "metadata": {"kernelspec": {"name": "python3"}},
 "nbformat": 4
}
""",
    "infra/main.tf": """\
provider "aws" {
  region     = "eu-west-1"
  access_key = "«S:aws_id»"
  secret_key = "«S:aws_secret»"
}

resource "aws_db_instance" "orders" {
  engine         = "postgres"
  instance_class = "db.t3.micro"
  username       = "orders"
  password       = var.db_password
}

provider "datadog" {
  api_key = "«S:hex32»"
  app_key = "«S:hex40»"
}
""",
    "README.md": """\
# Orders service

## Try it

```bash
curl -H "Authorization: Bearer $API_TOKEN" https://api.example.com/v1/orders
export OPENAI_API_KEY=sk-...your key...
```

Our staging token for quick tests (rotate me!):

    curl -H "Authorization: Bearer «S:github»" https://api.github.com/user

Never commit keys like `AKIAIOSFODNN7EXAMPLE` (that one is AWS's documented example).
""",
    ".npmrc": """\
registry=https://registry.npmjs.org/
//registry.npmjs.org/:_authToken=«S:npm»
//npm.pkg.github.com/:_authToken=${GITHUB_TOKEN}
always-auth=true
""",
    ".pypirc": """\
[distutils]
index-servers = pypi

[pypi]
username = __token__
password = «S:pypi»
""",
    "scripts/backup.sh": """\
#!/usr/bin/env bash
set -euo pipefail
export PGPASSWORD='«S:password»'
pg_dump -h db.internal -U backup shop | gzip > "/backups/shop-$(date +%F).sql.gz"
aws s3 cp "/backups/shop-$(date +%F).sql.gz" s3://shop-backups/ --sse AES256
curl -fsS -X POST «S:discord_webhook» -d '{"content": "backup done"}'
""",
    "src/bot/config.ts": """\
export const config = {
  telegramToken: "«S:telegram»",
  openaiKey: process.env.OPENAI_API_KEY ?? "",
  model: "gpt-4o-mini",
  maxTokens: 512,
  tokenizer: "cl100k_base",
  hfToken: "«S:hf»",
  anthropicKey: "«S:anthropic»",
};
""",
    "src/clients/mail.go": """\
package clients

const (
\tmailgunDomain = "mg.shop.example.org"
\tmailgunAPIKey = "«S:mailgun»"
\tdefaultFrom   = "Shop <no-reply@shop.example.org>"
)

var shopifyToken = "«S:shopify»"
var gitCommit = "«D:sha»"
""",
    "config/gcp.json": None,  # built in code: a service-account key
    "web/static/app.min.js": None,  # built in code: minified bundle with decoys
    "package-lock.json": None,  # built in code: integrity hashes
    "src/lib/fixtures.py": """\
# Test fixtures: fake values only.
FAKE_TOKEN = "ghp_" + "x" * 36
TEST_PASSWORD = "test-password-123"
EXAMPLE_JWT = "«D:jwt_example»"
USER_ID = "«D:uuid»"
CHECKSUM = "«D:sha256»"
AVATAR = "data:image/png;base64,«D:b64»"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI«D:b64short» deploy@ci"
api_key = "<YOUR_API_KEY>"
password = "changeme"
token = os.getenv("TOKEN")
""",
    "deploy/id_deploy": """\
«S:pem»""",
    "src/services/slack.py": """\
import os

from slack_sdk import WebClient

client = WebClient(token="«S:slack»")
SIGNING_SECRET = os.environ["SLACK_SIGNING_SECRET"]
CHANNEL = "#deploys"
""",
    "config/secrets.env": """\
# production secrets (should live in the vault)
GITLAB_TOKEN=«S:gitlab»
DIGITALOCEAN_TOKEN=«S:digitalocean»
NOTION_API_KEY=«S:notion»
LINEAR_API_KEY=«S:linear»
GOOGLE_MAPS_API_KEY=«S:google»
SESSION_SECRET=«S:hex64»
FEATURE_FLAGS=checkout,search
LOG_LEVEL=info
""",
}


def _fill(kind: str, tokens: Tokens, rng: random.Random) -> str:
    s = tokens.s
    catalogue = tokens.catalogue()
    special = {
        "password": tokens.password,
        "hex32": lambda: s(32, HEX),
        "hex40": lambda: s(40, HEX),
        "hex64": lambda: s(64, HEX),
        "sha": lambda: s(40, HEX),
        "sha256": lambda: s(64, HEX),
        "uuid": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "envref": lambda: "${POSTGRES_PASSWORD}",
        "django": lambda: s(50, ALNUM + "!@#%^&*(-_=+)"),
        "b64_48": lambda: s(64, ALNUM + "+/"),
        "b64": lambda: s(120, ALNUM + "+/"),
        "b64short": lambda: s(40, ALNUM + "+/"),
        "azure_key": lambda: s(86, ALNUM + "+/") + "==",
        "slack_webhook": lambda: (
            f"https://hooks.slack.com/services/T{s(8, string.ascii_uppercase)}/B{s(9, string.ascii_uppercase)}/{s(24)}"
        ),
        "discord_webhook": lambda: (
            f"https://discord.com/api/webhooks/{rng.randint(10**17, 10**18)}/{s(68, ALNUM + '-_')}"
        ),
        "jwt_example": lambda: (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        ),
        "pem": lambda: "\n".join(tokens.pem("OPENSSH ")),
    }
    return (special.get(kind) or catalogue[kind])()


def build_project_corpus(root: Path, seed: int = 11, copies: int = 8) -> set[tuple[str, int]]:
    """Write `copies` projects of these files; return {(relative path, line)} of planted secrets."""
    from secret_corpus import Tokens as _Tokens

    rng = random.Random(seed)
    tokens = _Tokens(rng)
    truth: set[tuple[str, int]] = set()
    mark = re.compile(r"«([SD]):(\w+)»")
    for copy in range(copies):
        base = f"project{copy}"
        for name, template in TEMPLATES.items():
            path = f"{base}/{name}"
            if template is None:
                text, lines = _built(name, tokens, rng)
            else:
                text, lines = "", []
                for number, raw in enumerate(template.split("\n"), start=1):
                    if any(m.group(1) == "S" for m in mark.finditer(raw)):
                        lines.append(number)
                    text += mark.sub(lambda m: _fill(m.group(2), tokens, rng), raw) + "\n"
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
            truth.update((path, line) for line in lines)
    return truth


def _built(name: str, tokens: Tokens, rng: random.Random) -> tuple[str, list[int]]:
    import json

    if name.endswith("gcp.json"):
        key = {
            "type": "service_account",
            "project_id": "orders-prod",
            "private_key_id": tokens.s(40, HEX),
            "private_key": "\n".join(tokens.pem("")) + "\n",
            "client_email": "orders@orders-prod.iam.gserviceaccount.com",
            "client_id": str(rng.randint(10**20, 10**21)),
        }
        return json.dumps(key, indent=2) + "\n", [5]
    if name.endswith(".min.js"):
        parts = [
            f'function {tokens.s(2, string.ascii_lowercase)}(e,t){{var n=e.password||t.token;return n&&n.length>8?"{tokens.s(16)}":null}}'
            for _ in range(300)
        ]
        parts.append(
            'var cfg={apiKey:"AIzaSyDUMMY_KEY_FOR_DOCS_xxxxxxxxxxxxx",sha:"'
            + tokens.s(40, HEX)
            + '"}'
        )
        return ";".join(parts) + "\n", []
    packages = {
        f"node_modules/p{i}": {
            "version": "1.0.0",
            "integrity": "sha512-" + tokens.s(86, ALNUM + "+/") + "==",
            "resolved": f"https://registry.npmjs.org/p{i}/-/p{i}-1.0.0.tgz",
        }
        for i in range(80)
    }
    return json.dumps(
        {"name": "orders", "lockfileVersion": 3, "packages": packages}, indent=2
    ) + "\n", []
