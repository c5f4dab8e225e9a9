"""What the routes depend on: the service, and the API key as the OpenAPI document shows it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from assistant.service import Service


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
# These only describe the key in the OpenAPI document; RequestGuard enforces it.
_bearer_doc = HTTPBearer(auto_error=False, description="ASSISTANT_API_KEY as a bearer token.")
_key_doc = APIKeyHeader(name="X-API-Key", auto_error=False, description="ASSISTANT_API_KEY.")
documented_key = [Security(_bearer_doc), Security(_key_doc)]
