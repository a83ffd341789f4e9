"""Every Yandex Cloud endpoint the client and the worker call, each overridable by an environment variable.

Tests (and anyone with a compatible server) point these at loopback; nothing else in cloud/ spells a URL.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "IAM": "https://iam.api.cloud.yandex.net",
    "COMPUTE": "https://compute.api.cloud.yandex.net",
    "OPERATION": "https://operation.api.cloud.yandex.net",
    "VPC": "https://vpc.api.cloud.yandex.net",
    "STORAGE": "https://storage.yandexcloud.net",
    "METADATA": "http://169.254.169.254",
}
ENV_PREFIX = "KONSTRUKTOR_YC_"


def env_name(service: str) -> str:
    """The environment variable overriding `service`'s endpoint, e.g. KONSTRUKTOR_YC_IAM_ENDPOINT."""
    return f"{ENV_PREFIX}{service}_ENDPOINT"


def endpoint(service: str) -> str:
    """The base URL of `service` (IAM, COMPUTE, OPERATION, VPC, STORAGE, METADATA), without a trailing slash."""
    return (os.environ.get(env_name(service)) or DEFAULTS[service]).rstrip("/")


def iam_tokens_url() -> str:
    return endpoint("IAM") + "/iam/v1/tokens"


def overrides() -> dict[str, str]:
    """The endpoint variables set in this environment (passed on to the worker VM's environment)."""
    return {env_name(s): os.environ[env_name(s)] for s in DEFAULTS if os.environ.get(env_name(s))}
