"""Azure rig: a fresh container on Azurite, reached with the account name and key.

The profile carries ``account_name``/``account_key``/``endpoint_url`` (objstore builds the connection
string adlfs needs for an http endpoint); the user's environment is the connection string.
"""

from __future__ import annotations

from typing import Any

from rigs import Rig

from objstore.profiles import AzureProfile, Source


def make(server: Any, bucket: str) -> Rig:
    from servers.azurite import create_container

    create_container(server, bucket)
    profile = AzureProfile(name="azurite", account_name=server.account_name,
                           account_key=server.account_key, endpoint_url=server.blob_endpoint,
                           source=Source(kind="test"))
    env = {"AZURE_STORAGE_CONNECTION_STRING": server.connection_string}
    plain = server.storage_options()  # {"connection_string": ...}: plain adlfs defaults
    return Rig("azure", "az", bucket, profile, env, plain, server)
