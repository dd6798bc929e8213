"""Reads and uses the tenant's artifact library through `opsdeck mcp` with the official Python
MCP SDK: library_list, library_search, library_show, library_diff, and ask with use and set
(a good value, an unknown parameter, set without use).

Usage: python mcp_library_client.py OPSDECK_BINARY OPSDECK_HOME USER
Prints one JSON object with what it saw; tests/mcp_library.rs asserts on it.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def text(result):
    return "".join(getattr(c, "text", "") for c in result.content)


def answer(result):
    """[is_error, the structured answer or the error's text]."""
    if result.is_error:
        return [True, text(result)]
    return [False, result.structured_content]


async def main():
    binary, home, user = sys.argv[1:4]
    env = dict(os.environ, OPSDECK_HOME=home, OPSDECK_USER=user)
    params = StdioServerParameters(command=binary, args=["mcp"], env=env)
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools if t.name.startswith("library_"))
            ask = next(t for t in tools.tools if t.name == "ask")
            out["ask_properties"] = sorted(ask.input_schema.get("properties", {}))
            out["read_only"] = {
                t.name: bool(t.annotations and t.annotations.read_only_hint)
                for t in tools.tools
                if t.name.startswith("library_")
            }

            out["list"] = answer(await session.call_tool("library_list", {}))
            out["list_built_in"] = answer(
                await session.call_tool("library_list", {"built_in": True})
            )
            out["search"] = answer(
                await session.call_tool("library_search", {"words": "web terraform"})
            )
            out["search_none"] = answer(
                await session.call_tool("library_search", {"words": "hidden"})
            )
            out["show"] = answer(await session.call_tool("library_show", {"entry": "web-tier@2"}))
            out["show_other_tenant"] = answer(
                await session.call_tool("library_show", {"entry": "hidden-net"})
            )
            out["show_missing_version"] = answer(
                await session.call_tool("library_show", {"entry": "web-tier@9"})
            )
            out["diff"] = answer(
                await session.call_tool("library_diff", {"a": "web-tier@1", "b": "web-tier@2"})
            )
            out["diff_other_tenant"] = answer(
                await session.call_tool("library_diff", {"a": "hidden-net@1", "b": "hidden-net@1"})
            )

            out["use"] = answer(
                await session.call_tool(
                    "ask",
                    {"text": "roll out the new greeting", "use": "web-tier@2", "set": ["greeting=hi"]},
                )
            )
            out["bad_set"] = answer(
                await session.call_tool(
                    "ask", {"text": "x", "use": "web-tier@2", "set": ["colour=red"]}
                )
            )
            out["set_without_use"] = answer(
                await session.call_tool("ask", {"text": "x", "set": ["greeting=hi"]})
            )
            out["use_with_reading"] = answer(
                await session.call_tool(
                    "ask", {"text": "x", "use": "web-tier@2", "confirm_reading": 1}
                )
            )
            out["use_other_tenant"] = answer(
                await session.call_tool("ask", {"text": "x", "use": "hidden-net"})
            )
    print(json.dumps(out))


asyncio.run(main())
