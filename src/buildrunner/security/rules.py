"""The secret rules, as data: one table, one row per kind of credential.

A rule fires on a line only when one of its `keywords` (lowercase literals) occurs in that line
(`scope="line"`) or anywhere in the file (`scope="file"`, for formats whose context may sit on another
line). The secret is the regex group named `secret`, or the whole match. `entropy` is a minimum Shannon
entropy (bits per character) of the secret; `validator` names a check in `validators.VALIDATORS`
(checksums, structure, hard negatives). `priority` settles overlaps: the more specific rule wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["low", "medium", "high", "critical"]
Scope = Literal["line", "file"]
MatchAt = Literal["search", "keyword", "line_start"]

# Token boundaries: a secret is not part of a longer identifier-like run.
_L = r"(?<![A-Za-z0-9_\-])"
_R = r"(?![A-Za-z0-9_\-])"
_RA = r"(?![A-Za-z0-9])"
# An assignment operator between a name and a value: `=`, `:`, `:=`, `=>`, with optional quotes.
_TYPE_ANNOTATION = r":\s{0,2}[A-Za-z_][\w\[\]., |<>?]{0,40}?\s{0,2}=(?![=>])"
_ASSIGN = r"""["'\]]?\s{0,16}(?:""" + _TYPE_ANNOTATION + r"""|:=|=>|=|:)\s{0,4}\\?["'`]?"""


# A credential word followed by what can continue a name or start an assignment: `password=`,
# `api_key:`, `"token"`. Not `pass\n` (Python's statement), `keys`, `tokens`, `author`.
_NAME_FOLLOWERS = ("_", ".", "-", '"', "'", " ", "=", ":", "\t", "]", "`")
_GENERIC_KEYWORDS = (
    "passw", "passp", "pwd", "secret", "credential",
    *(f"{word}{follower}" for word in ("pass", "key", "token", "auth") for follower in _NAME_FOLLOWERS),
)


@dataclass(frozen=True)
class Rule:
    """One kind of secret: how to find it cheaply (keywords) and exactly (pattern and checks)."""

    id: str
    provider: str
    description: str
    severity: Severity
    keywords: tuple[str, ...]
    pattern: str
    entropy: float | None = None
    validator: str | None = None
    scope: Scope = "line"
    multiline: bool = False  # the pattern may run past the keyword's line (PEM blocks)
    priority: int = 50  # higher wins when two matches overlap on a line
    generic: bool = False  # a keyword-assignment heuristic, not a provider format
    needs_context: bool = False  # the validator reads the lines before the match
    match_at: MatchAt = "search"  # "keyword": the regex starts with the keyword; "line_start": anchored


RULES: tuple[Rule, ...] = (
    # --- AI providers -------------------------------------------------------------------------
    Rule("anthropic-api-key", "Anthropic", "Anthropic API key", "critical", ("sk-ant-",),
         _L + r"sk-ant-(?:api|admin|oat|sid)?\d{0,2}-?[A-Za-z0-9_\-]{20,}" + _R, 3.0, "not_placeholder", priority=90),
    Rule("openai-api-key", "OpenAI", "OpenAI API key (project, service account, admin or legacy)", "critical",
         ("sk-",),
         _L + r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{32,})" + _R,
         3.2, "not_placeholder", priority=80),
    Rule("openrouter-api-key", "OpenRouter", "OpenRouter API key", "high", ("sk-or-",),
         _L + r"sk-or-v1-[a-f0-9]{64}" + _R, 3.0, priority=90),
    Rule("groq-api-key", "Groq", "Groq API key", "high", ("gsk_",), _L + r"gsk_[A-Za-z0-9]{48,56}" + _RA, 3.5, "not_placeholder"),
    Rule("replicate-api-token", "Replicate", "Replicate API token", "high", ("r8_",), _L + r"r8_[A-Za-z0-9]{37}" + _RA, 3.5, "not_placeholder"),
    Rule("perplexity-api-key", "Perplexity", "Perplexity API key", "high", ("pplx-",), _L + r"pplx-[A-Za-z0-9]{48}" + _RA, 3.5, "not_placeholder"),
    Rule("xai-api-key", "xAI", "xAI API key", "high", ("xai-",), _L + r"xai-[A-Za-z0-9]{70,90}" + _RA, 3.5, "not_placeholder"),
    Rule("huggingface-token", "Hugging Face", "Hugging Face access token", "high", ("hf_", "api_org_"),
         _L + r"(?:hf_[A-Za-z0-9]{30,40}|api_org_[A-Za-z0-9]{30,40})" + _RA, 3.5, "not_placeholder"),
    Rule("langsmith-api-key", "LangSmith", "LangSmith API key", "high", ("lsv2_",),
         _L + r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}" + _RA, 3.0),
    Rule("nvidia-api-key", "NVIDIA", "NVIDIA NGC API key", "high", ("nvapi-",), _L + r"nvapi-[A-Za-z0-9_\-]{64}" + _R, 3.5),
    # --- Cloud --------------------------------------------------------------------------------
    Rule("aws-access-key-id", "AWS", "AWS access key id", "critical", ("akia", "asia", "abia", "acca", "a3t"),
         r"(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])", 2.8, "not_placeholder", priority=80),
    Rule("aws-secret-access-key", "AWS", "AWS secret access key", "critical", ("secret", "aws_sk", "aws-sk"),
         r"(?i:aws[\w\-.]{0,24}(?:secret|sk)[\w\-.]{0,20}|secret_?access_?key)" + _ASSIGN
         + r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", 4.0, "not_placeholder", priority=85),
    Rule("gcp-service-account", "Google Cloud", "Google service-account private key (JSON key file)", "critical",
         ("service_account",),
         r'"private_key"\s*:\s*"(?P<secret>-----BEGIN[A-Z ]*PRIVATE KEY-----[^"]{64,})"', None, "pem_body",
         scope="file", priority=95),
    Rule("google-api-key", "Google", "Google API key", "high", ("aiza",), _L + r"AIza[0-9A-Za-z_\-]{35}" + _R, 3.5, "not_placeholder"),
    Rule("google-oauth-client-secret", "Google", "Google OAuth client secret", "high", ("gocspx-",),
         _L + r"GOCSPX-[A-Za-z0-9_\-]{28}" + _R, 3.5, "not_placeholder"),
    Rule("google-oauth-token", "Google", "Google OAuth access or refresh token", "high", ("ya29.", "1//0"),
         r"(?<![A-Za-z0-9_\-/])(?:ya29\.[0-9A-Za-z_\-]{30,}|1//0[0-9A-Za-z_\-]{40,})" + _R, 3.5, "not_placeholder"),
    Rule("azure-storage-key", "Azure", "Azure storage account key in a connection string", "critical",
         ("accountkey=",), r"(?i:AccountKey)=(?P<secret>[A-Za-z0-9+/]{86,88}={0,2})", 4.0, "not_placeholder", priority=90),
    Rule("azure-shared-access-key", "Azure", "Azure Service Bus / Event Hubs shared access key", "critical",
         ("sharedaccesskey=",), r"(?i:SharedAccessKey)=(?P<secret>[A-Za-z0-9+/]{42,44}={0,2})", 4.0, "not_placeholder", priority=90),
    Rule("azure-sas-token", "Azure", "Azure shared access signature (SAS) in a URL or connection string", "high",
         ("sig=",), r"(?i:[?&;]sv=[^\s\"'&]{4,20}&.{0,300}?[?&;]sig=)(?P<secret>[A-Za-z0-9%+/=]{40,100})",
         3.5, "not_placeholder", priority=80),
    Rule("azure-ad-client-secret", "Azure", "Microsoft Entra ID (Azure AD) client secret", "high", ("q~",),
         r"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])", 3.5, "not_placeholder"),
    Rule("digitalocean-token", "DigitalOcean", "DigitalOcean personal, OAuth or refresh token", "high",
         ("dop_v1_", "doo_v1_", "dor_v1_"), _L + r"do[opr]_v1_[a-f0-9]{64}" + _R, 3.0),
    Rule("heroku-api-key", "Heroku", "Heroku API key", "high", ("heroku", "hrku-"),
         r"(?:(?i:heroku)[\w\-. \"']{0,30}?(?::=|=>|=|:)\s{0,4}[\"']?(?P<secret>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})|"
         + _L + r"HRKU-[A-Za-z0-9_\-]{60})" + _R, None, "not_placeholder"),
    Rule("alibaba-access-key-id", "Alibaba Cloud", "Alibaba Cloud AccessKey id", "high", ("ltai",),
         r"(?<![A-Za-z0-9])LTAI[A-Za-z0-9]{20}(?![A-Za-z0-9])", 3.5, "not_placeholder"),
    Rule("cloudflare-api-token", "Cloudflare", "Cloudflare API token or key", "high", ("cloudflare", "cf_api", "cf-api"),
         r"(?i:cloudflare|cf)[\w\-.]{0,20}?(?i:token|key)" + _ASSIGN + r"(?P<secret>[A-Za-z0-9_\-]{37,40})" + _R,
         3.5, "not_placeholder", priority=70),
    # --- Code hosting and package registries ----------------------------------------------------
    Rule("github-token", "GitHub", "GitHub personal access, OAuth, app or refresh token", "critical",
         ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), _L + r"gh[pousr]_[A-Za-z0-9]{36}" + _RA, 3.0, "github_checksum", priority=90),
    Rule("github-fine-grained-pat", "GitHub", "GitHub fine-grained personal access token", "critical",
         ("github_pat_",), _L + r"github_pat_[A-Za-z0-9_]{60,100}" + _RA, 3.5, "not_placeholder", priority=90),
    Rule("gitlab-token", "GitLab", "GitLab access, deploy, runner or trigger token", "critical",
         ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "gloas-", "glsoat-", "glft-", "glimt-"),
         _L + r"gl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt)-[A-Za-z0-9_\-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,10})?" + _R,
         3.0, "not_placeholder", priority=90),
    Rule("bitbucket-app-password", "Bitbucket", "Bitbucket app password / Atlassian API token", "high", ("atbb", "atatt3"),
         r"(?<![A-Za-z0-9])(?:ATBB[A-Za-z0-9]{32}|ATATT3[A-Za-z0-9_\-=]{150,})(?![A-Za-z0-9])", 3.5, "not_placeholder"),
    Rule("npm-token", "npm", "npm access token", "critical", ("npm_",), _L + r"npm_[A-Za-z0-9]{36}" + _RA, 3.5, "not_placeholder"),
    Rule("npmrc-auth", "npm", "Registry credential in .npmrc (_authToken / _auth / _password)", "high",
         ("_authtoken", "_auth", "_password"),
         r"(?:^|:)(?:_authToken|_auth|_password)\s*=\s*[\"']?(?P<secret>[A-Za-z0-9_\-+/=.]{16,})", 3.2, "not_placeholder", priority=45),
    Rule("pypi-token", "PyPI", "PyPI upload token", "critical", ("pypi-",), _L + r"pypi-AgE[A-Za-z0-9_\-]{50,}" + _R, 3.5),
    Rule("rubygems-api-key", "RubyGems", "RubyGems API key", "high", ("rubygems_",), _L + r"rubygems_[a-f0-9]{48}" + _RA, 3.0),
    Rule("nuget-api-key", "NuGet", "NuGet API key", "high", ("oy2",), r"(?<![A-Za-z0-9])oy2[a-z0-9]{43}(?![A-Za-z0-9])", 3.5),
    Rule("docker-hub-token", "Docker", "Docker Hub personal access token", "high", ("dckr_pat_",),
         _L + r"dckr_pat_[A-Za-z0-9_\-]{27}" + _R, 3.5),
    Rule("sonarqube-token", "SonarQube", "SonarQube token", "medium", ("sqp_", "squ_", "sqa_"),
         _L + r"sq[pua]_[a-f0-9]{40}" + _RA, 3.0),
    # --- Messaging, payments, SaaS -------------------------------------------------------------
    Rule("slack-token", "Slack", "Slack bot, user, app or refresh token", "high",
         ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe", "xapp-"),
         _L + r"(?:xox[abposr]-(?:\d+-)?[0-9A-Za-z\-]{10,250}|xoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{100,}|xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]{32,})" + _R,
         3.0, "not_placeholder", priority=80),
    Rule("slack-webhook", "Slack", "Slack incoming webhook URL", "high", ("hooks.slack.com",),
         r"https://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,}/[A-Z0-9]{6,}/(?P<secret>[A-Za-z0-9]{20,})",
         3.0, "not_placeholder", priority=90),
    Rule("discord-webhook", "Discord", "Discord webhook URL", "high", ("discord.com/api/webhooks", "discordapp.com/api/webhooks"),
         r"discord(?:app)?\.com/api/webhooks/\d{17,20}/(?P<secret>[A-Za-z0-9_\-]{60,70})" + _R, 3.5, "not_placeholder", priority=90),
    Rule("discord-bot-token", "Discord", "Discord bot token", "high", ("discord",),
         r"(?<![A-Za-z0-9_\-.])[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}" + _R,
         3.5, "not_placeholder", scope="file", priority=85),
    Rule("telegram-bot-token", "Telegram", "Telegram bot token", "high", (":aa",),
         r"(?<![0-9])\d{8,10}:AA[A-Za-z0-9_\-]{33}" + _R, 3.5, "not_placeholder"),
    Rule("stripe-secret-key", "Stripe", "Stripe secret or restricted key, or webhook signing secret", "critical",
         ("sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"),
         _L + r"(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{20,247}|whsec_[A-Za-z0-9+/=]{24,})" + _R, 3.2, "not_placeholder", priority=90),
    Rule("square-token", "Square", "Square access token or OAuth secret", "high", ("sq0atp-", "sq0csp-", "eaaa"),
         r"(?<![A-Za-z0-9_\-])(?:sq0atp-[0-9A-Za-z_\-]{22}|sq0csp-[0-9A-Za-z_\-]{43}|EAAA[A-Za-z0-9_\-]{60})" + _R, 3.5, "not_placeholder"),
    Rule("shopify-token", "Shopify", "Shopify access token or shared secret", "high", ("shpat_", "shpss_", "shpca_", "shppa_"),
         _L + r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}" + _RA, 3.0),
    Rule("sendgrid-api-key", "SendGrid", "SendGrid API key", "high", ("sg.",),
         r"(?<![A-Za-z0-9_\-.])SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _R, 3.5, "not_placeholder"),
    Rule("mailgun-api-key", "Mailgun", "Mailgun API key", "high", ("key-", "mailgun"),
         r"(?:" + _L + r"key-[0-9a-f]{32}|(?<![0-9a-f])[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})(?![0-9A-Za-z])", 3.0, "not_placeholder"),
    Rule("mailchimp-api-key", "Mailchimp", "Mailchimp API key", "high", ("-us",),
         r"(?<![0-9a-f])[0-9a-f]{32}-us\d{1,2}(?![0-9A-Za-z])", 3.0, "not_placeholder"),
    Rule("twilio-api-key", "Twilio", "Twilio API key SID (SK...) or auth token", "high", ("twilio",),
         r"(?:(?<![A-Za-z0-9])SK[0-9a-fA-F]{32}(?![A-Za-z0-9])|(?i:auth_?token|authtoken|twilio_?token|twilio_?secret)"
         + _ASSIGN + r"(?P<secret>[0-9a-f]{32})(?![0-9a-zA-Z])"
         r"|AC[0-9a-f]{32}[\"']\s{0,4},\s{0,4}[\"'](?P<secret2>[0-9a-f]{32})[\"'])",
         3.0, "not_placeholder", scope="file", priority=70),
    Rule("datadog-api-key", "Datadog", "Datadog API or application key", "high",
         ("datadog", "dd_api", "dd_app", "dd-api", "dd-app", "dd_client"),
         r"(?i:datadog|dd)[\w\-.]{0,25}?(?i:key|token)" + _ASSIGN + r"(?P<secret>[a-f0-9]{32}|[a-f0-9]{40})(?![a-fA-F0-9])",
         3.0, "not_placeholder", priority=70),
    Rule("new-relic-key", "New Relic", "New Relic user API key or license key", "high", ("nrak-", "newrelic", "new_relic"),
         r"(?:" + _L + r"NRAK-[A-Z0-9]{27}|(?i:new_?relic[\w\-.]{0,20}?license[\w\-.]{0,10})" + _ASSIGN
         + r"(?P<secret>[a-f0-9]{36}NRAL|[a-f0-9]{40}))" + _RA, 3.0, "not_placeholder"),
    Rule("sentry-token", "Sentry", "Sentry auth token", "high", ("sntrys_", "sntryu_"),
         _L + r"(?:sntrys_eyJ[A-Za-z0-9+/=_\-]{50,}|sntryu_[a-f0-9]{64})" + _R, 3.5),
    Rule("databricks-token", "Databricks", "Databricks personal access token", "high", ("dapi",),
         r"(?<![A-Za-z0-9])dapi[a-f0-9]{32}(?:-\d)?(?![A-Za-z0-9])", 3.0),
    Rule("hashicorp-token", "HashiCorp", "Vault service/batch token or Terraform Cloud token", "critical", ("hvs.", "hvb.", ".atlasv1."),
         r"(?:" + _L + r"hv[sb]\.[A-Za-z0-9_\-]{90,}|[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70})" + _R, 3.5),
    Rule("grafana-token", "Grafana", "Grafana Cloud or service-account token", "high", ("glc_", "glsa_"),
         _L + r"(?:glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})" + _R, 3.5),
    Rule("doppler-token", "Doppler", "Doppler token", "high", ("dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."),
         _L + r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}" + _RA, 3.5),
    Rule("postman-api-key", "Postman", "Postman API key", "high", ("pmak-",), _L + r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + _RA, 3.0),
    Rule("linear-api-key", "Linear", "Linear API key", "high", ("lin_api_",), _L + r"lin_api_[A-Za-z0-9]{40}" + _RA, 3.5),
    Rule("notion-token", "Notion", "Notion integration token", "high", ("ntn_", "secret_"),
         _L + r"(?:ntn_[A-Za-z0-9]{40,50}|secret_[A-Za-z0-9]{43})" + _RA, 3.5, "not_placeholder"),
    Rule("apify-token", "Apify", "Apify API token", "high", ("apify_api_",), _L + r"apify_api_[A-Za-z0-9]{36}" + _RA, 3.5),
    Rule("supabase-token", "Supabase", "Supabase access token", "high", ("sbp_",), _L + r"sbp_[a-f0-9]{40}" + _RA, 3.0),
    Rule("netlify-token", "Netlify", "Netlify personal access token", "high", ("nfp_",), _L + r"nfp_[A-Za-z0-9]{36}" + _RA, 3.5),
    Rule("pulumi-token", "Pulumi", "Pulumi access token", "high", ("pul-",), _L + r"pul-[a-f0-9]{40}" + _RA, 3.0),
    Rule("planetscale-token", "PlanetScale", "PlanetScale token or password", "high", ("pscale_",),
         _L + r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.=]{32,64}" + _R, 3.5),
    Rule("tailscale-key", "Tailscale", "Tailscale auth or API key", "high", ("tskey-",),
         _L + r"tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9]{10,}-[A-Za-z0-9]{20,}" + _RA, 3.5),
    Rule("mapbox-secret-token", "Mapbox", "Mapbox secret token", "high", ("sk.eyj",),
         _L + r"sk\.eyJ[A-Za-z0-9_\-]{50,}\.[A-Za-z0-9_\-]{20,}" + _R, 3.5),
    Rule("firebase-fcm-server-key", "Firebase", "Firebase Cloud Messaging server key", "high", (":apa91b",),
         r"AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{134}" + _R, 3.5),
    Rule("age-secret-key", "age", "age encryption secret key", "critical", ("age-secret-key-1",),
         r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", 3.5),
    Rule("onepassword-token", "1Password", "1Password service-account token", "critical", ("ops_eyj",),
         _L + r"ops_eyJ[A-Za-z0-9+/=_\-]{200,}" + _R, 3.5),
    Rule("contentful-token", "Contentful", "Contentful personal access token", "high", ("cfpat-",),
         _L + r"CFPAT-[A-Za-z0-9_\-]{43}" + _R, 3.5),
    Rule("dynatrace-token", "Dynatrace", "Dynatrace API token", "high", ("dt0c01.",),
         _L + r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}" + _RA, 3.5),
    Rule("figma-token", "Figma", "Figma personal access token", "high", ("figd_",), _L + r"figd_[A-Za-z0-9_\-]{40,}" + _R, 3.5),
    Rule("brevo-api-key", "Brevo", "Brevo (Sendinblue) API key", "high", ("xkeysib-",),
         _L + r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}" + _RA, 3.5),
    Rule("shippo-token", "Shippo", "Shippo API token", "high", ("shippo_live_", "shippo_test_"),
         _L + r"shippo_(?:live|test)_[a-f0-9]{40}" + _RA, 3.0),
    Rule("sourcegraph-token", "Sourcegraph", "Sourcegraph access token", "high", ("sgp_",),
         _L + r"sgp_(?:[a-f0-9]{16}_)?[a-f0-9]{40}" + _RA, 3.0),
    Rule("typeform-token", "Typeform", "Typeform personal access token", "high", ("tfp_",),
         _L + r"tfp_[A-Za-z0-9_\-.=]{59}" + _R, 3.5),
    Rule("prefect-token", "Prefect", "Prefect API key", "high", ("pnu_",), _L + r"pnu_[A-Za-z0-9]{36}" + _RA, 3.5),
    Rule("readme-api-key", "ReadMe", "ReadMe API key", "high", ("rdme_",), _L + r"rdme_[a-z0-9]{70}" + _RA, 3.5),
    Rule("okta-api-token", "Okta", "Okta API token", "high", ("okta",),
         r"(?i:okta)[\w\-.]{0,20}?(?i:token|key)" + _ASSIGN + r"(?P<secret>00[A-Za-z0-9_\-]{40})" + _R,
         3.5, "not_placeholder", priority=70),
    Rule("plaid-token", "Plaid", "Plaid access token", "high", ("access-sandbox-", "access-development-", "access-production-"),
         r"access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", 3.0),
    Rule("teams-webhook", "Microsoft Teams", "Microsoft Teams incoming webhook URL", "high", ("webhook.office.com", "outlook.office.com/webhook"),
         r"https://[a-z0-9\-]+\.webhook\.office\.com/webhookb2/[0-9a-f\-]{36}@[0-9a-f\-]{36}/IncomingWebhook/(?P<secret>[A-Za-z0-9]{32})/[0-9a-f\-]{36}",
         3.0, "not_placeholder", priority=90),
    Rule("twitter-bearer-token", "Twitter/X", "Twitter/X API bearer token", "high", ("aaaaaaaaaaaaaaaaaaaaa",),
         r"(?<![A-Za-z0-9%])A{22}[A-Za-z0-9%]{80,120}(?![A-Za-z0-9%])", 4.0),
    # --- Keys and structured credentials ------------------------------------------------------
    Rule("private-key", "Cryptography", "Private key block (RSA, EC, DSA, OpenSSH, PGP, PKCS#8)", "critical",
         ("-----begin", "putty-user-key-file-"),
         r"(?:-----BEGIN[ A-Z0-9]{0,20}PRIVATE KEY(?: BLOCK)?-----(?P<secret>(?:\\[rn]|[\s\"',+])*[A-Za-z0-9+/=:\-\s\\\"',]{64,}?)"
         r"(?:-----END|$)|PuTTY-User-Key-File-\d: .*)",
         None, "pem_body", multiline=True, priority=90),
    Rule("jwt", "JSON Web Token", "JSON Web Token (signed)", "medium", ("eyj",),
         _L + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}" + _R, None, "jwt", priority=40),
    Rule("database-url-credentials", "Database", "Database connection URL with a password", "critical", ("://",),
         r"(?i:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|sqlserver|jdbc:[a-z]+|clickhouse|"
         r"cockroachdb|couchdb|neo4j(?:\+s)?|cassandra|oracle|db2|snowflake|rabbitmq|nats|memcached|elasticsearch)"
         r"(?:\+[a-z0-9]+)?://(?P<user>[^\s:/@\"'<>`]{0,64}):(?P<secret>[^\s/@\"'<>`]{3,128})@(?P<host>[A-Za-z0-9.\-_\[\]]+)",
         None, "url_password", priority=60),
    Rule("url-basic-auth", "URL", "Credentials embedded in a URL (basic auth)", "high", ("://",),
         r"(?i:https?|ftps?|sftp|smtps?|imaps?|ldaps?|ssh|git|svn|wss?)://(?P<user>[^\s:/@\"'<>`]{1,64}):"
         r"(?P<secret>[^\s/@\"'<>`]{3,128})@(?P<host>[A-Za-z0-9.\-_\[\]]+)",
         None, "url_password", priority=55),
    Rule("sql-password", "Database", "Password in a SQL statement (IDENTIFIED BY / PASSWORD '...')", "high",
         ("identified by", "password '", 'password "'),
         r"""(?i:identified\s+by(?:\s+password)?|(?<![\w.])password)\s+['"](?P<secret>[^'"\s]{6,128})['"]""",
         2.5, "not_placeholder", priority=40),
    Rule("cli-user-password", "CLI", "user:password passed to curl/wget/httpie on the command line", "high",
         ("curl", "wget", "--user", "http "),
         r"""(?:\s|^)(?:-u|--user|--http-user|-a|--auth)[\s=]+['"]?(?P<user>[^\s:'"$]{1,64}):(?P<secret>[^\s'"@]{4,128})""",
         None, "url_password", priority=50),
    Rule("authorization-bearer", "HTTP", "Bearer token in an Authorization header", "high", ("bearer",),
         r"(?i:bearer)\s+(?P<secret>[A-Za-z0-9_\-.=~+/]{24,})", 3.5, "not_placeholder", priority=30),
    Rule("authorization-basic", "HTTP", "Basic credentials in an Authorization header", "high", ("basic ",),
         r"(?i:basic)\s+(?P<secret>[A-Za-z0-9+/]{12,}={0,2})(?![A-Za-z0-9+/=])", None, "basic_auth", priority=30),
    # --- Generic assignments (keyword + entropy) ---------------------------------------------
    Rule("generic-secret", "Generic", "Password, secret, token or API key assigned a literal value", "medium",
         _GENERIC_KEYWORDS,
         r"""(?P<tail>(?i:pass|pwd|secret|token|key|credential|auth)[A-Za-z0-9_.\-]{0,30})"""
         r"""["'\]]?\s{0,16}(?P<op>""" + _TYPE_ANNOTATION + r"""|:=|=>|\?=|\|\|=|=|:|,)\s{0,6}(?:[bru]?\\?(?P<q>["'`])(?P<quoted>[^"'`\n]{4,400}?)(?P=q)|(?P<bare>[^\s"'`,;(){}\[\]<>]{4,400}))""",
         None, "generic_assignment", priority=10, generic=True, match_at="keyword"),
    Rule("generic-name-value", "Generic", "Credential in a name/value pair (k8s env, Terraform default, plist)", "medium",
         ("value:", 'value":', "value':", "value =", "value=", "default =", "default=", "default  ",
          "<string>", "parametervalue"),
         r"""\s{0,40}(?:<string>(?P<quoted3>[^<\s]{4,200})</string>|-?\s{0,4}["']?(?P<field>(?i:value|default|parametervalue))["']?"""
         r"""\s{0,8}(?P<op>:|=)\s{0,6}(?:[bru]?\\?(?P<q>["'`])(?P<quoted>[^"'`\n]{4,400}?)(?P=q)|(?P<bare>[^\s"'`,;(){}\[\]<>]{4,400})))""",
         None, "generic_pair", priority=10, generic=True, needs_context=True, match_at="line_start"),
    Rule("generic-name-value-inline", "Generic", "Credential in an inline name/value pair (ECS, CloudFormation)", "medium",
         ('"name"', "'name'", "parameterkey"),
         r"""["'](?i:name|ParameterKey)["']\s{0,4}:\s{0,4}["'](?P<iname>[A-Za-z_][\w.\-]{1,80})["']\s{0,4},\s{0,4}"""
         r"""["'](?i:value|ParameterValue)["']\s{0,4}(?P<op>:)\s{0,4}(?P<q>["'])(?P<quoted>[^"'\n]{4,400}?)(?P=q)""",
         None, "generic_pair", priority=10, generic=True),
    Rule("generic-xml-secret", "Generic", "Password, secret or token in an XML element or attribute", "medium",
         ("password>", "passwd>", "secret>", "token>", "apikey>", "api_key>", "access_key>", 'key="', "key='",
          'password">', 'secret">', 'token">', 'key">'),
         r"""<(?P<name>[A-Za-z_:.\-]{0,40}(?i:password|passwd|secret|token|apikey|api_key|access_key)[A-Za-z_.\-]{0,20})>(?P<quoted>[^<\s]{4,200})</"""
         r"""|key=["'](?P<name2>[A-Za-z_:.\-]{0,40}(?i:password|secret|token|apikey|api_key)[A-Za-z_.\-]{0,20})["']\s+value=["'](?P<quoted2>[^"'\s]{4,200})["']"""
         r"""|name=["'](?P<name3>[A-Za-z_:.\-]{0,40}(?i:password|secret|token|key)[A-Za-z_.\-]{0,20})["'][^>]{0,40}>(?P<quoted3>[^<\s]{4,200})</""",
         None, "generic_xml", priority=10, generic=True),
)


def rules_by_id() -> dict[str, Rule]:
    """The rule table keyed by id."""
    return {rule.id: rule for rule in RULES}
