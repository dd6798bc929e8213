"""Drives `opsdeck mcp` with the official Python MCP SDK (a client that is not ours).

Usage: python mcp_client.py OPSDECK_BINARY OPSDECK_HOME
Prints one JSON object with what it saw; tests/mcp.rs asserts on it.
"""

import asyncio
import json
import os
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def text(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def main():
    binary, home = sys.argv[1], sys.argv[2]
    env = dict(os.environ, OPSDECK_HOME=home, OPSDECK_USER="ide-agent")
    params = StdioServerParameters(command=binary, args=["mcp"], env=env)
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server"] = init.server_info.name
            out["protocol"] = init.protocol_version
            tools = await session.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)
            out["schemas_ok"] = all(
                t.input_schema.get("type") == "object" and t.description for t in tools.tools
            )

            r = await session.call_tool(
                "classify", {"text": "Create 3 t3.medium instances in ap-south-1 with ALB"}
            )
            out["classify_error"] = bool(r.is_error)
            out["classify"] = json.loads(text(r))

            r = await session.call_tool(
                "ask", {"text": "Create 3 t3.medium instances in ap-south-1 with ALB"}
            )
            out["ask_error"] = bool(r.is_error)
            out["ask"] = json.loads(text(r))
            plan_id = out["ask"]["plan_id"]

            # A change read with low confidence waits for its reading to be confirmed.
            vague = "2 servers for staging please"
            r = await session.call_tool("ask", {"text": vague})
            out["vague"] = [bool(r.is_error), text(r)]
            r = await session.call_tool("ask", {"text": vague, "confirm_reading": 1})
            out["vague_confirmed"] = [bool(r.is_error), json.loads(text(r)) if not r.is_error else text(r)]

            r = await session.call_tool("explain", {"text": plan_id})
            out["explain"] = json.loads(text(r))

            r = await session.call_tool("suggest", {"min_repeats": 2})
            out["suggest"] = [bool(r.is_error), json.loads(text(r)) if not r.is_error else text(r)]
            r = await session.call_tool("suggest", {"min_repeats": 1})
            out["suggest_one"] = [bool(r.is_error), text(r)]

            resources = await session.list_resources()
            out["resources"] = [res.uri for res in resources.resources]
            main_tf = f"opsdeck://plans/{plan_id}/artifacts/main.tf"
            rr = await session.read_resource(main_tf)
            out["main_tf"] = rr.contents[0].text
            rr = await session.read_resource("opsdeck://audit/recent")
            out["recent_audit"] = json.loads(rr.contents[0].text)

            r = await session.call_tool("classify", {"text": "   "})
            out["empty_error"] = [bool(r.is_error), text(r)]
            r = await session.call_tool("cost_query", {"text": "What is my daily EC2 spend in ap-south-1?"})
            out["cost_error"] = [bool(r.is_error), text(r)]

            # There is no approve tool: approval stays with a person.
            try:
                r = await session.call_tool("approve", {"plan_id": plan_id})
                out["approve"] = ["result", bool(r.is_error), text(r)]
            except Exception as e:  # the SDK raises on a protocol error
                out["approve"] = ["exception", True, str(e)]

            # Round-trip latency, measured from the client.
            n = 20
            t = time.perf_counter()
            for _ in range(n):
                await session.call_tool("classify", {"text": "Restart EC2 instances tagged Env=staging"})
            out["classify_ms"] = (time.perf_counter() - t) * 1000 / n
            t = time.perf_counter()
            for i in range(n):
                await session.call_tool("ask", {"text": f"create {i + 1} t3.micro instances in Oregon"})
            out["ask_ms"] = (time.perf_counter() - t) * 1000 / n
    print(json.dumps(out))


asyncio.run(main())
