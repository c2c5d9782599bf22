"""Site parsing, the codebase answer and the api- host rule (pure)."""

from __future__ import annotations

import pytest

from monitor.connectwise.site import (
    CompanyInfo,
    Site,
    api_host,
    base_url,
    is_loopback,
    parse_company_info,
    parse_site,
)
from monitor.errors import ConfigError, MalformedResponse


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        ("na.myconnectwise.net", Site("https", "na.myconnectwise.net")),
        ("NA.MyConnectWise.net", Site("https", "na.myconnectwise.net")),
        ("https://na.myconnectwise.net", Site("https", "na.myconnectwise.net")),
        ("https://na.myconnectwise.net/", Site("https", "na.myconnectwise.net")),
        ("  cw.example.com:8443  ", Site("https", "cw.example.com", 8443)),
        ("http://127.0.0.1:43121", Site("http", "127.0.0.1", 43121)),
        ("http://127.8.9.10", Site("http", "127.8.9.10")),
        ("http://localhost:8000", Site("http", "localhost", 8000)),
        ("http://[::1]:8000", Site("http", "[::1]", 8000)),
    ],
)
def test_parse_site_accepts(site: str, expected: Site) -> None:
    assert parse_site(site) == expected


@pytest.mark.parametrize(
    ("site", "says"),
    [
        ("http://na.myconnectwise.net", "plain http"),
        ("http://10.0.0.5", "plain http"),
        ("http://128.0.0.1", "plain http"),
        ("ftp://na.myconnectwise.net", "unsupported scheme"),
        ("", "empty"),
        ("https://na.myconnectwise.net/v4_6_release/apis/3.0", "without a path"),
        ("https://user:pw@na.myconnectwise.net", "without a path, query or credentials"),
        ("https://na.myconnectwise.net:notaport", "not a valid host"),
        ("https://bad_host!", "no valid host"),
    ],
)
def test_parse_site_refuses_with_tenant_and_fix(site: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_site(site, tenant="acme")
    assert says in str(caught.value)
    assert caught.value.location == "tenant 'acme': site"
    assert caught.value.fix


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.3", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("na.myconnectwise.net", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "codebase", "is_cloud", "expected"),
    [
        ("na.myconnectwise.net", "v2025_1/", True, "api-na.myconnectwise.net"),
        (
            "na.myconnectwise.net",
            "v2025_1/",
            False,
            "api-na.myconnectwise.net",
        ),  # codebase says cloud
        (
            "eu.myconnectwise.net",
            "v4_6_release/",
            True,
            "api-eu.myconnectwise.net",
        ),  # flag says cloud
        ("api-na.myconnectwise.net", "v2025_1/", True, "api-na.myconnectwise.net"),  # already
        ("cw.example.com", "v4_6_release/", False, "cw.example.com"),  # on premise
        ("127.0.0.1", "v2025_1/", True, "127.0.0.1"),  # an IP never gets a prefix
        ("[::1]", "v2025_1/", True, "[::1]"),
        ("localhost", "v2025_1/", True, "localhost"),
        ("10.1.2.3", "v2025_1/", True, "10.1.2.3"),
    ],
)
def test_api_host_rule(host: str, codebase: str, is_cloud: bool, expected: str) -> None:
    assert api_host(host, CompanyInfo(codebase=codebase, is_cloud=is_cloud)) == expected


def test_base_url_keeps_scheme_and_port() -> None:
    info = CompanyInfo(codebase="v2025_1/", is_cloud=True)
    assert base_url(Site("https", "na.myconnectwise.net"), info) == (
        "https://api-na.myconnectwise.net/v2025_1/apis/3.0"
    )
    assert (
        base_url(Site("http", "127.0.0.1", 4312), info) == "http://127.0.0.1:4312/v2025_1/apis/3.0"
    )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"CompanyName": "CW", "Codebase": "v2017_3/", "IsCloud": "True", "CompanyID": "CW"},
            CompanyInfo("v2017_3/", True),
        ),
        ({"Codebase": "v4_6_release/", "IsCloud": "False"}, CompanyInfo("v4_6_release/", False)),
        ({"Codebase": "v2025_1", "IsCloud": True}, CompanyInfo("v2025_1/", True)),  # slash added
        ({"Codebase": "v2025_1/"}, CompanyInfo("v2025_1/", False)),
    ],
)
def test_parse_company_info(payload: dict[str, object], expected: CompanyInfo) -> None:
    assert parse_company_info(payload, endpoint="/login/companyinfo/x") == expected


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"IsCloud": "True"},
        {"Codebase": ""},
        {"Codebase": "../../evil/"},
        {"Codebase": "v1/apis/"},
    ],
)
def test_parse_company_info_refuses(payload: object) -> None:
    with pytest.raises(MalformedResponse) as caught:
        parse_company_info(payload, endpoint="/login/companyinfo/acme")
    assert caught.value.endpoint == "/login/companyinfo/acme"
