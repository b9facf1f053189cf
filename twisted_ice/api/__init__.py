"""
The HTTP session API (twisted.web) and the session snapshots it serves.
"""

from twisted_ice.api.resource import MAX_BODY_SIZE, ApiRequest, ApiSite, SessionApi
from twisted_ice.api.service import ApiService
from twisted_ice.api.status import SessionInfo, SessionLimitError, StreamInfo

__all__ = [
    "MAX_BODY_SIZE",
    "ApiRequest",
    "ApiService",
    "ApiSite",
    "SessionApi",
    "SessionInfo",
    "SessionLimitError",
    "StreamInfo",
]
