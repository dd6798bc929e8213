"""Cancels through `opsdeck mcp` with the official Python MCP SDK: a running request (an ask
waiting on an endpoint that never answers) and the runs of approved plans, own and not own.

Usage: python mcp_cancel.py OPSDECK_BINARY OPSDECK_HOME USER OWN_PLAN OTHERS_PLAN
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
    binary, home, user, own, others = sys.argv[1:6]
    env = dict(os.environ, OPSDECK_HOME=home, OPSDECK_USER=user)
    params = StdioServerParameters(command=binary, args=["mcp"], env=env)
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            out["cancel_tool"] = [t.name for t in tools.tools if t.name == "cancel"]

            # An ask that waits on AWS, cancelled from a second call of the same session.
            asking = asyncio.create_task(
                session.call_tool("ask", {"text": "list instances in us-east-1"})
            )
            await asyncio.sleep(1.5)
            started = time.monotonic()
            r = await session.call_tool("cancel", {})
            out["cancel_running"] = [bool(r.is_error), json.loads(text(r)) if not r.is_error else text(r)]
            r = await asking
            out["ask_ended_ms"] = (time.monotonic() - started) * 1000
            out["ask"] = [bool(r.is_error), text(r)]

            r = await session.call_tool("cancel", {"plan_id": own})
            out["no_reason"] = [bool(r.is_error), text(r)]
            r = await session.call_tool("cancel", {"plan_id": own, "reason": "wrong window"})
            out["own"] = [bool(r.is_error), json.loads(text(r)) if not r.is_error else text(r)]
            r = await session.call_tool("cancel", {"plan_id": others, "reason": "not mine"})
            out["others"] = [bool(r.is_error), text(r)]
    print(json.dumps(out))


asyncio.run(main())
