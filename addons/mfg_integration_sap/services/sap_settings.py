"""An SAP system's connection settings as the adapter and the pulls need them (no ORM)."""

from dataclasses import dataclass, field

from odoo.addons.mfg_integration_base.services.adapters import Settings

from .odata.auth import BasicAuth, OAuthClientCredentials
from .odata.client import ODataClient


@dataclass(frozen=True)
class SapSettings(Settings):
    """``url`` is the OData service root (``…/sap/opu/odata/sap/``); services hang below it."""

    sap_client: str = ""
    auth_method: str = "basic"
    username: str = ""
    password: str = field(default="", repr=False)
    token_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    batch_enabled: bool = True

    def auth(self):
        if self.auth_method == "oauth":
            return OAuthClientCredentials(
                self.token_url,
                self.client_id,
                self.client_secret,
                timeout=(self.connect_timeout, self.read_timeout),
            )
        if self.username:
            return BasicAuth(self.username, self.password)
        return None

    def client(self, service, session=None):
        """An ODataClient of ``service`` (e.g. ``API_PRODUCTION_ORDER_2_SRV``)."""
        client = ODataClient(
            self.url.rstrip("/") + "/" + service,
            auth=self.auth(),
            sap_client=self.sap_client or None,
            timeout=(self.connect_timeout, self.read_timeout),
            session=session,
        )
        client.session.verify = self.verify
        return client
