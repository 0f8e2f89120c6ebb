"""Before any deploy, plan or status on AWS: can we reach AWS, and who are we? In seconds.

One call, STS GetCallerIdentity, which needs no permissions ("No permissions are required
to perform this operation"), so any failure is about credentials or the network:
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
It runs with a short connect and read timeout and no retries (``total_max_attempts`` 1:
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html,
https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html), so an
unreachable endpoint fails in about CONNECT seconds instead of the deploy clients' long
adaptive retries, and the error names the one cause.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)
from botocore.parsers import ResponseParserError

from archway.shared.deploy.connections import ConnectionManager
from archway.shared.errors import ArchwayError

CONNECT, READ = 2, 4
QUICK = Config(connect_timeout=CONNECT, read_timeout=READ, retries={"total_max_attempts": 1})
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
REJECTED = {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
            "AuthFailure", "InvalidAccessKeyId"}
LOGIN = "log in (e.g. aws sso login), set AWS_PROFILE or pass --profile"


class PreflightFailed(ArchwayError):
    exit_code = 1


def preflight(connections: ConnectionManager, sts: Any = None) -> str:
    """The caller's ARN, or PreflightFailed naming the one cause."""
    try:
        session = connections.base_session()
        if sts is None:
            sts = session.client("sts", region_name=connections.home_region,
                                 endpoint_url=connections.endpoint_url, config=QUICK)
        return str(sts.get_caller_identity()["Arn"])
    except ProfileNotFound as exc:
        raise PreflightFailed(f"AWS profile not found: {exc.kwargs.get('profile')} (check "
                              "~/.aws/config or AWS_PROFILE)") from None
    except NoCredentialsError:
        raise PreflightFailed(f"no AWS credentials found: {LOGIN}") from None
    except (SSOError, TokenRetrievalError):
        raise PreflightFailed("your AWS SSO session has expired: aws sso login") from None
    except (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError):
        raise PreflightFailed(f"cannot reach AWS STS at {_where(connections, sts)} within "
                              f"{CONNECT} s: check the network, proxy or VPN") from None
    except ReadTimeoutError:
        raise PreflightFailed(f"AWS STS at {_where(connections, sts)} did not answer within "
                              f"{READ} s: check the network, proxy or VPN") from None
    except ResponseParserError:
        raise PreflightFailed(f"{_where(connections, sts)} answered, but not as AWS STS does: "
                              "a proxy in the way, or the wrong endpoint") from None
    except ClientError as exc:
        raise PreflightFailed(_client_error(exc)) from None
    except BotoCoreError as exc:
        raise PreflightFailed(f"cannot check AWS credentials: {exc}") from None


def _client_error(exc: ClientError) -> str:
    code = exc.response.get("Error", {}).get("Code", "")
    if code in EXPIRED:
        return f"your AWS credentials have expired ({code}): {LOGIN}"
    if code in REJECTED:
        return f"AWS rejected your credentials ({code}): {LOGIN}"
    return f"AWS STS refused GetCallerIdentity ({code}): {exc}"


def _where(connections: ConnectionManager, sts: Any) -> str:
    if connections.endpoint_url:
        return connections.endpoint_url
    return str(getattr(getattr(sts, "meta", None), "endpoint_url", "its endpoint"))
