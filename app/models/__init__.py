"""Tables. Importing this package registers every model on `Base.metadata`."""

from app.models.base import Base
from app.models.connections import ConnectionStatus, GoCardlessConnection, ZohoConnection
from app.models.installation import ApiKey, Audience, Installation, InstallationStatus
from app.models.oauth_state import OAuthState

__all__ = [
    "ApiKey",
    "Audience",
    "Base",
    "ConnectionStatus",
    "GoCardlessConnection",
    "Installation",
    "InstallationStatus",
    "OAuthState",
    "ZohoConnection",
]
