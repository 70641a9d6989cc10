"""Authentication of CTI calls and the role rules.

Every call carries ``authorization: Bearer <token>`` metadata. Tokens come from
the settings (``HOTLINE_CTI_TOKENS="token:role[:agent_id],..."``) and map to a
role and, for agents, the one agent id the token may act for. gRPC health and
reflection stay open (load balancers and grpcurl need them).

The :class:`AuthInterceptor` resolves the caller and makes it available to the
servicer through :func:`current_caller` (a context variable set for the
duration of the call); the servicer decides what the caller may do with
:meth:`Caller.check_agent`. Failures are domain errors (Unauthenticated,
PermissionDenied); the shared ErrorInterceptor, which GrpcServer puts outside
every other interceptor, maps them to status codes.

What each role may do:

=============  =====================================  ==============================
role           agent state (Login/Logout/SetState)    GetAgent / StreamEvents
=============  =====================================  ==============================
agent          its own agent id only                  its own agent id only
supervisor     any agent                              any agent
admin          any agent                              any agent
integration    no (read-only)                         any agent
=============  =====================================  ==============================

LookupCustomer is open to every role.
"""
from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import hmac
import logging
from typing import Any, Callable, Iterator, Mapping

import grpc

from hotline.common.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)

AGENT, SUPERVISOR, ADMIN, INTEGRATION = "agent", "supervisor", "admin", "integration"
CHANGES_ANY_AGENT = frozenset({SUPERVISOR, ADMIN})
READS_ANY_AGENT = frozenset({SUPERVISOR, ADMIN, INTEGRATION})

# Open to everyone: the standard health and reflection services.
UNAUTHENTICATED_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

AUTHORIZATION = "authorization"


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is calling: the token's role, and its agent id for agent tokens.

    ``token_ref`` is a short hash of the token, safe to log; the token itself
    is never logged."""

    role: str
    agent_id: str | None
    token_ref: str

    def check_agent(self, agent_id: str, *, change: bool) -> None:
        """Raise PermissionDenied unless this caller may read (``change=False``)
        or change the state of (``change=True``) agent ``agent_id``."""
        if self.role == AGENT:
            if agent_id != self.agent_id:
                raise PermissionDenied(f"an agent token may act only for its own agent ({self.agent_id}), "
                                       f"not for {agent_id}", agent_id=agent_id)
            return
        allowed = CHANGES_ANY_AGENT if change else READS_ANY_AGENT
        if self.role not in allowed:
            raise PermissionDenied(f"a {self.role} token may not change agent states" if change
                                   else f"a {self.role} token may not read agents", agent_id=agent_id)


_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("hotline_cti_caller", default=None)


def current_caller() -> Caller:
    """The authenticated caller of the gRPC call being served (set by AuthInterceptor)."""
    caller = _caller.get()
    if caller is None:
        raise Unauthenticated("no authenticated caller for this call")
    return caller


def token_ref(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


class TokenTable:
    """token -> Caller, compared in constant time."""

    def __init__(self, tokens: Mapping[str, tuple[str, str | None]]) -> None:
        self._entries = [(token.encode(), Caller(role, agent_id, token_ref(token)))
                         for token, (role, agent_id) in tokens.items()]

    def __len__(self) -> int:
        return len(self._entries)

    def resolve(self, token: str) -> Caller | None:
        given = token.encode()
        found: Caller | None = None
        for known, caller in self._entries:
            if hmac.compare_digest(known, given):
                found = caller
        return found


def bearer_token(metadata: Any) -> str:
    """The token from ``authorization: Bearer <token>`` metadata, or Unauthenticated."""
    values = [v for k, v in (metadata or ()) if k.lower() == AUTHORIZATION]
    if not values:
        raise Unauthenticated("missing 'authorization: Bearer <token>' metadata")
    if len(values) > 1:
        raise Unauthenticated("more than one 'authorization' metadata entry")
    value = values[0].decode("latin-1") if isinstance(values[0], bytes) else values[0]
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the 'authorization' metadata must be 'Bearer <token>'")
    return token.strip()


class AuthInterceptor(grpc.ServerInterceptor):
    """Authenticates every call except health and reflection.

    The caller is resolved when the handler runs (not while routing the call),
    so a failure is a domain error raised inside the handler, where the outer
    ErrorInterceptor maps it; that holds for unary and server-streaming calls.
    """

    def __init__(self, tokens: Mapping[str, tuple[str, str | None]]) -> None:
        self.tokens = TokenTable(tokens)

    def authenticate(self, context: grpc.ServicerContext) -> Caller:
        token = bearer_token(context.invocation_metadata())
        caller = self.tokens.resolve(token)
        if caller is None:
            log.warning("CTI call with an unknown token (ref %s) from %s", token_ref(token), context.peer())
            raise Unauthenticated("unknown token")
        return caller

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(UNAUTHENTICATED_SERVICES):
            return handler

        def wrap_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(request: Any, context: grpc.ServicerContext) -> Any:
                reset = _caller.set(self.authenticate(context))
                try:
                    return fn(request, context)
                finally:
                    _caller.reset(reset)
            return inner

        def wrap_stream(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                reset = _caller.set(self.authenticate(context))
                try:
                    yield from fn(request, context)
                finally:
                    try:
                        _caller.reset(reset)
                    except ValueError:  # finalised from another context (garbage collection)
                        pass
            return inner

        if handler.unary_unary:
            return handler._replace(unary_unary=wrap_unary(handler.unary_unary))
        if handler.unary_stream:
            return handler._replace(unary_stream=wrap_stream(handler.unary_stream))
        # No Cti method streams from the client; refuse any such method (UNIMPLEMENTED)
        # rather than serve it unauthenticated.
        return None
