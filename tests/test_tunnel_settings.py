"""Every tunnel rule (docs/vendor-interface.md §2.2-§2.4) has a failing config with a clear error."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from stockade.settings import ConfigProblem, SettingsError
from stockade.settings.load import validate
from stockade.settings.tunnel import TunnelSettings
from stockade.tunnel.proxy_config import proxy_config

Config = dict[str, Any]
PIN = "@sha256:" + "1" * 64


def _problems(config: Config) -> dict[str, ConfigProblem]:
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    return {p.key: p for p in caught.value.problems}


@pytest.fixture
def with_tunnel(example_config: Callable[[str], Config]) -> Callable[..., Config]:
    """prod-use1's config with its tunnel section changed (None removes a key)."""

    def build(**changes: Any) -> Config:
        config = example_config("prod-use1")
        tunnel = copy.deepcopy(config["stockade:tunnel"])
        for key, value in changes.items():
            if value is None:
                tunnel.pop(key, None)
            else:
                tunnel[key] = value
        config["stockade:tunnel"] = tunnel
        return config

    return build


def _only(problems: dict[str, ConfigProblem], key: str) -> ConfigProblem:
    assert key in problems, sorted(problems)
    problem = problems[key]
    assert problem.fix, "every problem says what to do"
    return problem


def test_routes_must_be_a_map(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(
        _problems(with_tunnel(routes=[{"wiki": "http://10.50.100.10:8080"}])), "stockade:tunnel.routes"
    )
    assert "map of route name to upstream, not a list" in problem.message
    assert "cannot unmarshal !!seq" in problem.message


@pytest.mark.parametrize(
    ("upstream", "message"),
    [
        ("http://10.50.100.10:8080/mcp", "an upstream has no path"),
        ("http://10.50.100.10:8080?x=1", "an upstream has no path"),
        ("http://[fd00::1]:8080", "only IPv4 upstreams work"),
        ("http://10.50.100.10", "explicit port"),
        ("ftp://10.50.100.10:21", "scheme must be http or https"),
        ("http://user:pw@10.50.100.10:8080", "carries no credentials"),
    ],
)
def test_upstream_format_is_exactly_scheme_host_port(
    with_tunnel: Callable[..., Config], upstream: str, message: str
) -> None:
    problems = _problems(with_tunnel(routes={"wiki": upstream}))
    key = next(k for k in problems if k.startswith("stockade:tunnel.routes.wiki"))
    assert message in problems[key].message


def test_a_dns_upstream_needs_its_target_network(with_tunnel: Callable[..., Config]) -> None:
    problems = _problems(with_tunnel(routes={"wiki": "http://wiki.internal.example.com:8080"}))
    problem = _only(problems, "stockade:tunnel.routes.wiki")
    assert "needs the network it resolves into" in problem.message
    assert "targetCidr" in problem.fix


def test_an_ip_upstream_must_sit_inside_its_target(with_tunnel: Callable[..., Config]) -> None:
    route = {"upstream": "http://10.50.100.10:8080", "targetCidr": "10.99.0.0/24"}
    problem = _only(_problems(with_tunnel(routes={"wiki": route})), "stockade:tunnel.routes.wiki.targetCidr")
    assert "outside its targetCidr" in problem.message


def test_https_upstream_needs_a_ca_setting(with_tunnel: Callable[..., Config]) -> None:
    route = {"upstream": "https://tickets.internal.example.com:443", "targetCidr": "10.50.101.0/28"}
    problem = _only(
        _problems(with_tunnel(routes={"tickets": route}, upstreamTls=None)), "stockade:tunnel.upstreamTls"
    )
    assert "routes to HTTPS upstreams (tickets) need a CA" in problem.message
    assert "includeSystemCas" in problem.fix


def test_allowed_ips_and_disable_ip_validation_exclude_each_other(with_tunnel: Callable[..., Config]) -> None:
    config = with_tunnel(allowedIps=["10.50.0.0/16"], disableIpValidation=True)
    problem = _only(_problems(config), "stockade:tunnel.disableIpValidation")
    assert "mutually exclusive" in problem.message


def test_allowed_ips_must_cover_every_route_target(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(_problems(with_tunnel(allowedIps=["10.50.100.0/24"])), "stockade:tunnel.allowedIps")
    assert "tickets (10.50.101.0/28)" in problem.message
    assert "IP validation failed" in problem.message


def test_allowed_ips_are_ipv4_only(with_tunnel: Callable[..., Config]) -> None:
    problems = _problems(with_tunnel(allowedIps=["fd00::/8"]))
    assert any(k.startswith("stockade:tunnel.allowedIps") for k in problems), sorted(problems)


def test_bare_routes_need_the_tunnel_domain(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(_problems(with_tunnel(tunnelDomain=None)), "stockade:tunnel.tunnelDomain")
    assert "bare route names need the tunnel domain" in problem.message


def test_a_full_hostname_route_must_be_one_label_under_the_domain(with_tunnel: Callable[..., Config]) -> None:
    routes = {"wiki.team.a0b1c2d3.tunnel.anthropic.com": "http://10.50.100.10:8080"}
    problem = _only(
        _problems(with_tunnel(routes=routes)),
        "stockade:tunnel.routes.wiki.team.a0b1c2d3.tunnel.anthropic.com",
    )
    assert "one label under the tunnel domain" in problem.message


def test_an_enabled_tunnel_needs_its_token(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(_problems(with_tunnel(token=None)), "stockade:tunnel.token")
    assert "pulumi config set --secret" in problem.fix


def test_a_plaintext_token_is_refused_and_masked(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(_problems(with_tunnel(token="eyJhIjoiYiJ9-plaintext")), "stockade:tunnel.token")
    assert problem.value == "[secret]"
    assert "plaintext" in problem.message


def test_tunnel_images_must_be_pinned(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(
        _problems(with_tunnel(images={"cloudflared": "cloudflare/cloudflared:2026.5.0"})),
        "stockade:tunnel.images.cloudflared",
    )
    assert "pinned by digest" in problem.message


def test_setup_needs_wif_settings(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(_problems(with_tunnel(setup={"enabled": True})), "stockade:tunnel.setup.federationRuleId")
    assert "WIF" in problem.message


def test_setup_needs_the_setup_certificate_source(with_tunnel: Callable[..., Config]) -> None:
    setup = {"enabled": True, "federationRuleId": "fdrl_01abc", "organizationId": "org-0123456789"}
    problem = _only(
        _problems(with_tunnel(setup=setup, images={"awsCli": f"amazon/aws-cli{PIN}"})),
        "stockade:tunnel.certificates.source",
    )
    assert "source: setup" in problem.fix


def test_setup_source_publishes_the_token_itself(with_tunnel: Callable[..., Config]) -> None:
    setup = {"enabled": True, "federationRuleId": "fdrl_01abc", "organizationId": "org-0123456789"}
    config = with_tunnel(
        setup=setup, certificates={"source": "setup"}, images={"awsCli": f"amazon/aws-cli{PIN}"}
    )
    problem = _only(_problems(config), "stockade:tunnel.token")
    assert "publishes the token" in problem.message


def test_setup_needs_an_aws_cli_image(with_tunnel: Callable[..., Config]) -> None:
    setup = {"enabled": True, "federationRuleId": "fdrl_01abc", "organizationId": "org-0123456789"}
    config = with_tunnel(setup=setup, certificates={"source": "setup"}, token=None)
    problem = _only(_problems(config), "stockade:tunnel.images.awsCli")
    assert "AWS CLI" in problem.message


def test_setup_audience_must_not_carry_spaces(with_tunnel: Callable[..., Config]) -> None:
    setup = {"audience": "https://api.anthropic.com "}
    problem = _only(_problems(with_tunnel(setup=setup)), "stockade:tunnel.setup.audience")
    assert "byte for byte" in problem.message


def test_provided_certificate_needs_both_halves(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(
        _problems(
            with_tunnel(
                certificates={
                    "source": "provided",
                    "serverKey": {"secure": "v1:NbctXl//cauiW66M:djE6YWJj433PDNu/F/xk4dALQWatcQ=="},
                }
            )
        ),
        "stockade:tunnel.certificates.serverCertificatePem",
    )
    assert "needs serverCertificatePem and serverKey" in problem.message


def test_renewal_window_is_shorter_than_validity(with_tunnel: Callable[..., Config]) -> None:
    config = with_tunnel(certificates={"validityHours": 720, "renewBeforeHours": 720})
    problem = _only(_problems(config), "stockade:tunnel.certificates.renewBeforeHours")
    assert "shorter than validityHours" in problem.message


def test_fargate_size_must_exist(with_tunnel: Callable[..., Config]) -> None:
    problem = _only(_problems(with_tunnel(taskCpu=256, taskMemoryMib=4096)), "stockade:tunnel.taskMemoryMib")
    assert "does not exist on Fargate: 256 CPU units with 4096 MiB" in problem.message


def test_allowed_ips_default_to_exactly_the_route_targets(with_tunnel: Callable[..., Config]) -> None:
    tunnel = TunnelSettings.model_validate(with_tunnel()["stockade:tunnel"])
    rendered = proxy_config(tunnel)
    upstream = rendered["upstream"]
    assert isinstance(upstream, dict)
    # Collapsed: the adjacent /32s of wiki and search are one /31.
    assert upstream["allowed_ips"] == ["10.50.100.10/31", "10.50.101.0/28"]
    assert "10.0.0.0/8" not in upstream["allowed_ips"]
    assert rendered["routes"] == {
        "search": "http://10.50.100.11:8443",
        "tickets": "https://tickets.internal.example.com:443",
        "wiki": "http://10.50.100.10:8080",
    }


def test_the_example_tunnel_section_is_valid(with_tunnel: Callable[..., Config]) -> None:
    # The failing configs above differ from this one by one change each.
    tunnel = TunnelSettings.model_validate(with_tunnel()["stockade:tunnel"])
    assert tunnel.enabled and tunnel.replicas == 3
    assert tunnel.hostnames == [
        "search.a0b1c2d3.tunnel.anthropic.com",
        "tickets.a0b1c2d3.tunnel.anthropic.com",
        "wiki.a0b1c2d3.tunnel.anthropic.com",
    ]


# --------------------------------------------------------------------------- route targets


@pytest.mark.parametrize(
    ("route", "special"),
    [
        ("http://169.254.170.2:80", "169.254.0.0/16"),  # the Fargate task metadata endpoint
        ("http://127.0.0.1:8080", "127.0.0.0/8"),
        ("http://0.0.0.0:8080", "0.0.0.0/8"),
        ("http://224.0.0.1:8080", "224.0.0.0/4"),
        ("http://255.255.255.255:8080", "240.0.0.0/4"),
        ({"upstream": "http://meta.internal:80", "targetCidr": "169.254.169.0/24"}, "169.254.0.0/16"),
        ({"upstream": "http://lo.internal:80", "targetCidr": "127.0.0.0/8"}, "127.0.0.0/8"),
        ({"upstream": "http://any.internal:80", "targetCidr": "0.0.0.0/0"}, "0.0.0.0/8"),
    ],
)
def test_special_ranges_are_refused_as_upstream_targets(
    with_tunnel: Callable[..., Config], route: Any, special: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        validate("t", with_tunnel(routes={"bad": route}))
    found = [p for p in caught.value.problems if p.key.startswith("stockade:tunnel.routes.bad")]
    # One problem names every special range the target touches; other rules still report theirs.
    (problem,) = [p for p in found if "must never be allowed to dial it" in p.message]
    assert special in problem.message and problem.fix


def test_a_target_wider_than_a_16_is_refused_without_allow_wide_targets(
    with_tunnel: Callable[..., Config],
) -> None:
    wide = {"wiki": {"upstream": "http://wiki.internal:8080", "targetCidr": "10.0.0.0/8"}}
    problem = _only(_problems(with_tunnel(routes=wide)), "stockade:tunnel.routes.wiki.targetCidr")
    assert "wider than /16" in problem.message and "allowWideTargets" in problem.fix
    settings = validate("t", with_tunnel(routes=wide, allowWideTargets=True))
    weakenings = settings.weakenings()
    assert any("tunnel.allowWideTargets is true" in w for w in weakenings)
    assert any("wider than /24" in w and "wiki (10.0.0.0/8)" in w for w in weakenings)


def test_targets_between_a_24_and_a_16_are_accepted_and_reported(with_tunnel: Callable[..., Config]) -> None:
    routes = {"wiki": {"upstream": "http://wiki.internal:8080", "targetCidr": "10.50.0.0/16"}}
    weakenings = validate("t", with_tunnel(routes=routes)).weakenings()
    assert any("wiki (10.50.0.0/16)" in w for w in weakenings)
    assert not any("allowWideTargets" in w for w in weakenings)
    # prod-use1 as written (a /28 and two /32s) reports no wide target.
    assert not any("wider than /24" in w for w in validate("t", with_tunnel()).weakenings())


def test_overlapping_targets_render_one_minimal_stable_allowed_ips(
    with_tunnel: Callable[..., Config],
) -> None:
    routes = {
        "b": "http://10.60.1.7:8080",
        "a": {"upstream": "http://a.internal:8080", "targetCidr": "10.60.1.0/24"},
        "c": "http://10.60.0.9:8080",
    }
    tunnel = TunnelSettings.model_validate(with_tunnel(routes=routes)["stockade:tunnel"])
    upstream = proxy_config(tunnel)["upstream"]
    assert isinstance(upstream, dict)
    assert upstream["allowed_ips"] == ["10.60.0.9/32", "10.60.1.0/24"]
