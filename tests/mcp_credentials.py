"""Sends requests holding credentials through `opsdeck mcp` with the official Python MCP SDK.

Usage: python mcp_credentials.py OPSDECK_BINARY OPSDECK_HOME REQUESTS_JSON
REQUESTS_JSON is a JSON list of request texts. Prints one JSON list: for each request, what the
ask, classify, explain and security_scan tools answered ([is_error, text] each);
tests/credentials.rs asserts on it and searches the home for the secrets.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def text(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def main():
    binary, home, requests_path = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(requests_path, encoding="utf-8") as f:
        requests = json.load(f)
    env = dict(os.environ, OPSDECK_HOME=home, OPSDECK_USER="ide-agent")
    params = StdioServerParameters(command=binary, args=["mcp"], env=env)
    out = []
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for request in requests:
                seen = {}
                for tool in ("ask", "classify", "explain", "security_scan"):
                    r = await session.call_tool(tool, {"text": request})
                    seen[tool] = [bool(r.is_error), text(r)]
                out.append(seen)
    print(json.dumps(out))


asyncio.run(main())
