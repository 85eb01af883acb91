"""The multi-language component package: Stockade's components for TypeScript, Go, .NET, Java, YAML.

Pulumi's Python component provider host (`pulumi.provider.experimental`) infers the
package schema from the components' type annotations and serves Construct for them.
It puts every type in one module, `stockade:index:<Name>`, so the AWS and Docker
components, which share class names in Python, are published under distinct ones
(`AwsSandboxFleet`, `DockerSandboxFleet`), and the analyzer's attribute docs are looked up
per class object rather than per class name. A published component registers under its
schema token, so a TypeScript program's URNs match what its SDK declares; Python
programs keep using the classes directly, with their `stockade:<module>:<Name>` tokens.

Run as a plugin from provider/ (PulumiPlugin.yaml); `python -m stockade.component_provider
--schema [--write]` prints or refreshes the committed schema (provider/schema.json).
See docs/component-package.md.
"""

import ast
import collections.abc
import enum
import inspect
import itertools
import json
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

import pulumi

from stockade.aws.bridge.provider_bridge import ProviderBridge, ProviderBridgeArgs
from stockade.aws.fleet.sandbox_fleet import SandboxFleet as AwsSandboxFleet
from stockade.aws.fleet.sandbox_fleet import SandboxFleetArgs as AwsSandboxFleetArgs
from stockade.aws.fleet.sandbox_image import SandboxImage, SandboxImageArgs
from stockade.aws.gateway.tunnel_gateway import TunnelGateway as AwsTunnelGateway
from stockade.aws.gateway.tunnel_gateway import TunnelGatewayArgs as AwsTunnelGatewayArgs
from stockade.aws.network.vpc import Network as AwsNetwork
from stockade.aws.network.vpc import NetworkArgs as AwsNetworkArgs
from stockade.aws.shared.alarm_topic import AlarmTopic, AlarmTopicArgs
from stockade.aws.shared.encryption_key import EncryptionKey, EncryptionKeyArgs
from stockade.cloudflare.sandbox_worker import SandboxWorker, SandboxWorkerArgs
from stockade.docker.network import Network as DockerNetwork
from stockade.docker.network import NetworkArgs as DockerNetworkArgs
from stockade.docker.sandbox_fleet import SandboxFleet as DockerSandboxFleet
from stockade.docker.sandbox_fleet import SandboxFleetArgs as DockerSandboxFleetArgs
from stockade.docker.tunnel_gateway import TunnelGateway as DockerTunnelGateway
from stockade.docker.tunnel_gateway import TunnelGatewayArgs as DockerTunnelGatewayArgs

PACKAGE = "stockade"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "provider" / "schema.json"


def _normalized(value: Any, hint: Any) -> Any:
    """Args from the engine as the Python components expect them.

    The host leaves out every null input, so a required-but-nullable key (`X | None`) is
    set back to None; and numbers travel as doubles, so integers are made ints again.
    """
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.NotRequired, typing.Required):
        return _normalized(value, arguments[0])
    if origin in (typing.Union, types.UnionType):
        plain = [a for a in arguments if a is not type(None) and typing.get_origin(a) is not typing.Awaitable]
        plain = [a for a in plain if not (isinstance(a, typing.ForwardRef) or a is pulumi.Output)]
        return _normalized(value, plain[0]) if len(plain) == 1 else value
    if value is None or isinstance(value, pulumi.Output):
        return value
    if typing.is_typeddict(hint) and isinstance(value, dict):
        hints = inspect.get_annotations(hint)
        result = {key: _normalized(item, hints.get(key)) for key, item in value.items()}
        for key in hint.__required_keys__:
            result.setdefault(key, None)
        return result
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if origin in (list, tuple, collections.abc.Sequence) and isinstance(value, list | tuple):
        return [_normalized(item, arguments[0] if arguments else None) for item in value]
    if origin in (dict, collections.abc.Mapping) and isinstance(value, dict):
        return {
            key: _normalized(item, arguments[1] if len(arguments) > 1 else None)
            for key, item in value.items()
        }
    return value


class _SchemaToken(pulumi.ComponentResource):
    """Registers a published component under its schema token, `stockade:index:<ClassName>`."""

    def __init__(
        self, t: str, name: str, props: Any = None, opts: pulumi.ResourceOptions | None = None, *rest: Any
    ) -> None:
        super().__init__(f"{PACKAGE}:index:{type(self).__name__}", name, props, opts, *rest)


def _published(base: type[pulumi.ComponentResource], args_type: type, name: str, doc: str) -> type:
    """`base`, published as `stockade:index:<name>`.

    The host reads the class name (one `index` module for every type, hence `AwsNetwork`
    beside `DockerNetwork`) and the constructor's `args` annotation.
    """

    def construct(self: Any, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
        typing.cast(Any, base).__init__(self, name, args, opts)

    construct.__annotations__ = {"name": str, "args": args_type, "opts": pulumi.ResourceOptions | None}
    namespace = {"__init__": construct, "__doc__": doc, "__module__": __name__, "published_from": base}
    return type(name, (base, _SchemaToken), namespace)


# (Python class, its args, published name, description)
_PUBLISHED: list[tuple[type[pulumi.ComponentResource], type, str, str]] = [
    (AwsNetwork, AwsNetworkArgs, "AwsNetwork", "A private AWS network with default-deny egress."),
    (AwsSandboxFleet, AwsSandboxFleetArgs, "AwsSandboxFleet", "Self-hosted sandboxes on ECS Fargate."),
    (AwsTunnelGateway, AwsTunnelGatewayArgs, "AwsTunnelGateway", "The MCP tunnel gateway on ECS Fargate."),
    (SandboxImage, SandboxImageArgs, "SandboxImage", "A session or worker image built and pushed to ECR."),
    (ProviderBridge, ProviderBridgeArgs, "ProviderBridge", "A managed sandbox provider's orchestrator."),
    (
        AlarmTopic,
        AlarmTopicArgs,
        "AlarmTopic",
        "An SNS topic only the account's CloudWatch alarms publish to.",
    ),
    (EncryptionKey, EncryptionKeyArgs, "EncryptionKey", "The customer-managed KMS key of an environment."),
    (DockerNetwork, DockerNetworkArgs, "DockerNetwork", "The sandboxes' Docker network and egress proxy."),
    (
        DockerSandboxFleet,
        DockerSandboxFleetArgs,
        "DockerSandboxFleet",
        "Self-hosted sandboxes on a Docker host.",
    ),
    (
        DockerTunnelGateway,
        DockerTunnelGatewayArgs,
        "DockerTunnelGateway",
        "The MCP tunnel gateway on Docker.",
    ),
    (SandboxWorker, SandboxWorkerArgs, "SandboxWorker", "The Cloudflare Worker that runs sandboxes."),
]
COMPONENTS: list[type[pulumi.ComponentResource]] = [_published(*entry) for entry in _PUBLISHED]


def _resolve_annotations(cls: type, seen: set[type]) -> None:
    """Evaluate `cls`'s own annotations in place, and those of every TypedDict they name.

    The host reads `__annotations__` as they are, and Stockade's modules use postponed
    evaluation (`from __future__ import annotations`), so it would see strings. For the
    same reason Python computed `__optional_keys__` without seeing `NotRequired`; both
    are set from the evaluated hints here, once, before the schema is inferred.
    """
    if cls in seen:
        return
    seen.add(cls)
    own = inspect.get_annotations(cls)
    if not own:
        return
    namespace = vars(sys.modules[cls.__module__])
    resolved = {
        key: _without_literals(_evaluated(value, namespace), f"{cls.__name__}{_pascal(key)}")
        for key, value in own.items()
    }
    cls.__annotations__ = resolved
    if typing.is_typeddict(cls):
        typed: Any = cls
        optional = set(typed.__optional_keys__) | {
            key for key, hint in resolved.items() if typing.get_origin(hint) is typing.NotRequired
        }
        optional -= {key for key, hint in resolved.items() if typing.get_origin(hint) is typing.Required}
        everything = set(typed.__required_keys__) | set(typed.__optional_keys__)
        typed.__optional_keys__ = frozenset(optional)
        typed.__required_keys__ = frozenset(everything - optional)
    for hint in resolved.values():
        for inner in _types_in(hint):
            if typing.is_typeddict(inner):
                for base in inner.__mro__:
                    if typing.is_typeddict(base) and base is not dict:
                        _resolve_annotations(base, seen)


def _evaluated(annotation: Any, namespace: dict[str, Any]) -> Any:
    if isinstance(annotation, typing.ForwardRef):
        # A TypedDict records the module each key was declared in (inherited keys too).
        module = getattr(annotation, "__forward_module__", None)
        if module is not None:
            namespace = vars(sys.modules[module])
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        # pulumi.Input spells Output as a forward reference; T stays generic there.
        return eval(annotation, dict(namespace), {"Output": pulumi.Output, "T": Any})  # noqa: S307
    return annotation


_ENUMS: dict[tuple[str, tuple[str, ...]], type[enum.StrEnum]] = {}


def _pascal(key: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def _without_literals(hint: Any, name: str) -> Any:
    """`hint` with each string Literal replaced by a StrEnum of its values.

    The host infers enums from Enum classes, not Literals. A StrEnum member equals its
    string, so the component code, which compares with the literal strings, is unchanged.
    """
    if typing.get_origin(hint) is typing.Literal:
        values = typing.get_args(hint)
        if not all(isinstance(v, str) for v in values):
            return type(values[0])
        key = (name, tuple(values))
        if key not in _ENUMS:
            members = {v.upper().replace("-", "_").replace(".", "_"): v for v in values}
            created = enum.StrEnum(name, members)  # type: ignore[misc]
            created.__module__ = __name__
            created.__doc__ = f"One of: {', '.join(values)}."
            _ENUMS[key] = created
        return _ENUMS[key]
    arguments = typing.get_args(hint)
    if not arguments:
        return hint
    changed = tuple(_without_literals(a, name) for a in arguments)
    if changed == arguments:
        return hint
    if isinstance(hint, types.UnionType):
        return typing.Union[changed]  # noqa: UP007 - rebuilt from parts
    if isinstance(hint, types.GenericAlias):
        return types.GenericAlias(typing.get_origin(hint), changed)
    return hint.copy_with(changed)


def _types_in(hint: Any) -> list[type]:
    found = [hint] if isinstance(hint, type) else []
    for argument in typing.get_args(hint):
        found.extend(_types_in(argument))
    return found


def _prepare() -> None:
    seen: set[type] = set()
    for component in COMPONENTS:
        for cls in component.__mro__:
            if cls in (object, pulumi.Resource, pulumi.ComponentResource) or not cls.__module__.startswith(
                "stockade"
            ):
                continue
            _resolve_annotations(cls, seen)
        _resolve_annotations(component.__init__.__annotations__["args"], seen)


def _attribute_docs(cls: type) -> dict[str, str]:
    """`cls`'s attribute docstrings (the string after each annotated attribute), from its source."""
    if cls not in _DOCS:
        found: dict[str, str] = {}
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError):
            tree = ast.Module(body=[], type_ignores=[])
        for node in tree.body[:1]:
            body = node.body if isinstance(node, ast.ClassDef) else []
            for statement, following in itertools.pairwise(body):
                if (
                    isinstance(statement, ast.AnnAssign)
                    and isinstance(statement.target, ast.Name)
                    and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                ):
                    found[statement.target.id] = inspect.cleandoc(following.value.value)
        _DOCS[cls] = found
    return _DOCS[cls]


_DOCS: dict[type, dict[str, str]] = {}


def _declaring_classes(typ: type) -> list[type]:
    """`typ` and the classes it inherits attributes from (TypedDicts keep theirs in __orig_bases__)."""
    order = [typ, *getattr(typ, "published_from", object).__mro__]
    for base in getattr(typ, "__orig_bases__", ()):
        if isinstance(base, type):
            order.extend(_declaring_classes(base))
    return [cls for cls in order if cls.__module__.startswith("stockade")]


def _provider_class() -> type:
    from pulumi.provider.experimental import analyzer, component
    from pulumi.provider.experimental.component import ComponentProvider

    class StockadeAnalyzer(analyzer.Analyzer):
        # The SDK's lookup caches by class name and reads only the class itself; AWS and Docker
        # classes share names, and published classes inherit their attributes.
        def get_docstring(self, typ: type, name: str) -> str | None:
            for cls in _declaring_classes(typ):
                if name in inspect.get_annotations(cls):
                    return _attribute_docs(cls).get(name)
            return None

    component.Analyzer = StockadeAnalyzer  # type: ignore[misc]

    class StockadeProvider(ComponentProvider):
        def map_inputs(self, inputs: Any, component_def: Any) -> Any:
            mapped = super().map_inputs(inputs, component_def)
            component = self._components[component_def.name]
            return _normalized(mapped, component.__init__.__annotations__["args"])

    return StockadeProvider


def provider(version: str | None = None) -> Any:
    """The component provider (schema inferred now; raises if an args type cannot be published)."""
    _prepare()
    return _provider_class()(COMPONENTS, PACKAGE, version=version or package_version())


def package_version() -> str:
    from importlib.metadata import version

    return version("stockade")


def schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(provider().schema)
    return result


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def serve() -> None:
    """Serve the components to the Pulumi engine (the plugin's entry point)."""
    from pulumi.provider import main as serve_provider

    # component_provider_host, with the args normalized before each Construct.
    serve_provider(provider(), sys.argv[1:])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["--schema"]:
        serve()
        return 0
    text = schema_text()
    if "--write" in args:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
        return 0
    if "--check" in args:
        committed = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.is_file() else ""
        if committed != text:
            print(f"{SCHEMA_PATH} is out of date: run python -m stockade.component_provider --schema --write")
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
