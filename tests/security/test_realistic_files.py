"""Whole realistic files: each planted secret is found on its line, and nothing else is."""

from __future__ import annotations

import base64
import string
from pathlib import Path

import pytest

from buildrunner.security.scanner import ScanOptions, scan_paths
from tests.security.tokens import ALNUM, HEX, TokenFactory

T = TokenFactory(seed=21)
AWS_ID = "AKIA" + T.s(16, string.ascii_uppercase + "234567")
SK = "sk"
DOCKER_AUTH = base64.b64encode(f"deploy:{T.password()}".encode()).decode()

# name -> (content, {line: rule id})
FILES: dict[str, tuple[str, dict[int, str]]] = {
    "config/application.yml": (
        f"""spring:
  datasource:
    url: jdbc:mysql://prod-db.internal:3306/orders?useSSL=true
    username: orders_svc
    password: {T.password()}
  redis:
    password: ${{REDIS_PASSWORD}}
jwt:
  secret: {T.s(48)}
  expiration: 3600
oauth:
  client-id: 8f14e45f-ceea-467f-a8dd-1b2b3c4d5e6f
""",
        {5: "generic-secret", 9: "generic-secret"},
    ),
    "scripts/deploy.sh": (
        f"""#!/bin/bash
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID={AWS_ID}
export AWS_SECRET_ACCESS_KEY={T.s(40, ALNUM + "/+")}
docker login -u deploy -p "$REGISTRY_PASSWORD" registry.internal
curl -s -u admin:{T.s(14)} https://jenkins.internal/job/deploy/build
""",
        {3: "aws-access-key-id", 4: "aws-secret-access-key", 6: "cli-user-password"},
    ),
    "app/models.py": (
        """from django.db import models

class ApiCredential(models.Model):
    token = models.CharField(max_length=64)
    password_hash = models.CharField(max_length=128, default="")

    def check(self, raw_password):
        return check_password(raw_password, self.password_hash)

DEFAULT_TOKEN_LENGTH = 32
TOKEN_HEADER = "X-Auth-Token"
SECRET_HEADER_NAME = "X-Webhook-Signature"
""",
        {},
    ),
    "src/api/client.ts": (
        f"""import axios from "axios";
const apiKey = "{SK}_live_{T.s(24)}";
const headers = {{ Authorization: `Bearer ${{apiKey}}` }};
const publishableKey = "pk_live_{T.s(24)}";
const sessionToken = localStorage.getItem("token");
""",
        {2: "stripe-secret-key"},
    ),
    ".env.example": (
        f"""DATABASE_URL=postgres://postgres:postgres@localhost:5432/app
SECRET_KEY=change-me-in-production
STRIPE_SECRET_KEY={SK}_test_xxxxxxxxxxxxxxxxxxxxxxxx
GITHUB_TOKEN=
OPENAI_API_KEY={SK}-...
""",
        {},
    ),
    "go/main.go": (
        f"""package main

var (
\tslackToken = os.Getenv("SLACK_TOKEN")
\tdbPass     = "{T.s(16)}"
\tkeyID      = "{T.s(20)}"
)
""",
        {5: "generic-secret"},
    ),
    "config/settings.ini": (
        f"""[database]
host = db.internal
passwd = {T.s(12)}

[smtp]
password =
""",
        {3: "generic-secret"},
    ),
    "k8s/deployment.yaml": (
        f"""spec:
  containers:
    - name: api
      image: registry.internal/api@sha256:{T.s(64, HEX)}
      env:
        - name: API_TOKEN
          valueFrom:
            secretKeyRef: {{name: api, key: token}}
""",
        {},
    ),
    "web/index.html": (
        f"""<script>
  var firebaseConfig = {{ apiKey: "AIza{T.s(35, ALNUM + "-_")}", authDomain: "shop.firebaseapp.com" }};
</script>
<input type="password" name="password" placeholder="Password">
""",
        {2: "google-api-key"},
    ),
    "db/setup.sql": (
        f"""CREATE USER app IDENTIFIED BY '{T.password()}';
GRANT SELECT ON shop.* TO app;
-- rotate with: ALTER USER app IDENTIFIED BY '<new password>';
""",
        {1: "sql-password"},
    ),
    "src/App.config": (
        f"""<configuration>
  <appSettings>
    <add key="ApiSecret" value="{T.s(32)}" />
    <add key="Theme" value="dark" />
  </appSettings>
  <password>{T.password()}</password>
</configuration>
""",
        {3: "generic-xml-secret", 6: "generic-xml-secret"},
    ),
    "k8s/env.yaml": (
        f"""spec:
  containers:
    - name: api
      env:
        - name: DB_PASSWORD
          value: "{T.password()}"
        - name: LOG_LEVEL
          value: debug
        - name: API_TOKEN
          valueFrom:
            secretKeyRef: {{name: api, key: token}}
""",
        {6: "generic-name-value"},
    ),
    "infra/variables.tf": (
        f"""variable "db_password" {{
  description = "Password for the database"
  type        = string
  sensitive   = true
  default     = "{T.password()}"
}}

variable "region" {{
  default = "eu-west-1"
}}
""",
        {5: "generic-name-value"},
    ),
    "ecs/task.json": (
        f"""{{"containerDefinitions": [{{"environment": [
  {{
    "name": "STRIPE_API_KEY",
    "value": "{T.s(24)}"
  }},
  {{"name": "PORT", "value": "8080"}},
  {{"name": "DB_PASSWORD", "value": "{T.password()}"}}
]}}]}}
""",
        {4: "generic-name-value", 7: "generic-name-value-inline"},
    ),
    "android/res/values/strings.xml": (
        f"""<resources>
    <string name="app_name">Orders</string>
    <string name="maps_api_secret">{T.s(24)}</string>
</resources>
""",
        {3: "generic-xml-secret"},
    ),
    "ios/Info.plist": (
        f"""<dict>
    <key>CFBundleName</key>
    <string>Orders</string>
    <key>SERVICE_API_KEY</key>
    <string>{T.s(28)}</string>
</dict>
""",
        {5: "generic-name-value"},
    ),
    ".docker/config.json": (
        '{"auths": {"registry.internal": {"auth": "' + DOCKER_AUTH + '"}}}\n',
        {1: "generic-secret"},
    ),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], str]:
    root: Path = tmp_path_factory.mktemp("realistic")
    for name, (content, _) in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content, encoding="utf-8")
    found = scan_paths([root], root=root, options=ScanOptions(sql=False)).findings
    return {(f.path, f.line): f.rule_id for f in found}


@pytest.mark.parametrize("name", sorted(FILES))
def test_realistic_file(name: str, report: dict[tuple[str, int], str]) -> None:
    expected = {(name, line): rule for line, rule in FILES[name][1].items()}
    actual = {key: rule for key, rule in report.items() if key[0] == name}
    assert actual == expected
