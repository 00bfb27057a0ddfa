"""The SDK lets an idle connection go before the node would close it.

A client that sends on a kept-alive connection just as the server closes it
for idleness gets the connection reset, with no answer: the request is lost
to the caller (bench_scale's ten minutes of load lost one so, with the SDK's
pool keeping connections 5 s and uvicorn closing them after 5 s).  So the
node keeps idle connections open longer than the SDK keeps them in its pool.
"""

from __future__ import annotations

from pathlib import Path

from client.sdk.http import KEEPALIVE_EXPIRY_S
from node.config import NodeConfig
from node.transport import tls


def test_the_sdk_drops_idle_connections_well_before_the_node_closes_them(tmp_path: Path) -> None:
    served = tls.uvicorn_config(object(), NodeConfig(genesis_path=tmp_path / "genesis.json"))
    assert KEEPALIVE_EXPIRY_S * 2 <= served.timeout_keep_alive
