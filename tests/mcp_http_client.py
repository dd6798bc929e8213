"""Drives `opsdeck mcp --listen` over streamable HTTP with the official Python MCP SDK (a client
that is not ours), presenting a bearer token.

Usage: python mcp_http_client.py MODE URL TOKEN
  MODE session: a full session (tools, their annotations and output schemas, calls whose
                structured results the SDK validates against those schemas, resources and their
                MIME types), then the refusals: no token, a forged token, a foreign Origin.
  MODE refused: the token must be refused (it was revoked): the SDK cannot even initialize.
  MODE limit:   N raw requests in a row with a token whose limit is smaller: statuses seen.
Prints one JSON object with what it saw; tests/mcp.rs asserts on it.
"""

import asyncio
import json
import sys
import time

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "opsdeck-http-test", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def text(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def session_mode(url, token):
    out = {}
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                out["server"] = init.server_info.name
                tools = (await session.list_tools()).tools
                out["tools"] = {
                    t.name: {
                        "title": t.annotations.title if t.annotations else None,
                        "read_only": t.annotations.read_only_hint if t.annotations else None,
                        "destructive": t.annotations.destructive_hint if t.annotations else None,
                        "idempotent": t.annotations.idempotent_hint if t.annotations else None,
                        "has_output_schema": bool(t.output_schema),
                        "description": t.description,
                    }
                    for t in tools
                }
                # The SDK validates each structured result against the tool's output schema
                # and raises when it does not conform.
                r = await session.call_tool("classify", {"text": "Create 3 t3.medium instances in ap-south-1"})
                out["classify"] = [bool(r.is_error), r.structured_content]
                r = await session.call_tool("ask", {"text": "Create 2 t3.micro instances in eu-west-1"})
                out["ask"] = [bool(r.is_error), r.structured_content, json.loads(text(r))]
                plan_id = r.structured_content["plan_id"]
                r = await session.call_tool("show_plan", {"plan_id": plan_id, "artifacts": True})
                out["show_plan"] = [bool(r.is_error), r.structured_content["state"]]
                r = await session.call_tool("list_approvals", {})
                out["list_approvals"] = [p["plan_id"] for p in r.structured_content["plans"]]
                r = await session.call_tool("explain", {"text": plan_id})
                out["explain"] = r.structured_content["action"]
                r = await session.call_tool("audit_search", {"id": plan_id})
                out["audit"] = [
                    [e["event"]["event"], e["event"]["userId"], e["event"]["userSource"]]
                    for e in r.structured_content["events"]
                ]
                resources = (await session.list_resources()).resources
                out["resources"] = {str(res.uri): res.mime_type for res in resources}
                main_tf = f"opsdeck://plans/{plan_id}/artifacts/main.tf"
                rr = await session.read_resource(main_tf)
                out["main_tf"] = [rr.contents[0].mime_type, "provider" in rr.contents[0].text]
                rr = await session.read_resource("opsdeck://audit/recent")
                out["recent"] = rr.contents[0].mime_type
                # Round-trip latency over HTTP with a token, measured from the client (each call is
                # authenticated against the store and rate-counted).
                n = 20
                t = time.perf_counter()
                for _ in range(n):
                    await session.call_tool("classify", {"text": "Restart EC2 instances tagged Env=staging"})
                out["classify_ms"] = (time.perf_counter() - t) * 1000 / n
                try:
                    r = await session.call_tool("approve", {"plan_id": plan_id})
                    out["approve"] = ["result", bool(r.is_error)]
                except Exception as e:  # an unknown tool is a protocol error
                    out["approve"] = ["exception", str(e)]

    async with httpx2.AsyncClient(timeout=120) as raw:
        r = await raw.post(url, json=INIT, headers=HEADERS)
        out["no_token"] = [r.status_code, r.headers.get("www-authenticate"), r.json()]
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        r = await raw.post(url, json=INIT, headers=dict(HEADERS, Authorization=f"Bearer {forged}"))
        out["forged"] = [r.status_code, r.json()]
        r = await raw.post(
            url,
            json=INIT,
            headers=dict(HEADERS, Authorization=f"Bearer {token}", Origin="http://evil.example"),
        )
        out["bad_origin"] = r.status_code
    return out


async def refused_mode(url, token):
    out = {}
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    try:
        async with client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await asyncio.wait_for(session.initialize(), 30)
                    out["initialized"] = True
    except BaseException as e:  # the SDK surfaces the 401 as an (exception group) error
        out["initialized"] = False
        out["error"] = repr(e)
    async with httpx2.AsyncClient(timeout=120) as raw:
        r = await raw.post(url, json=INIT, headers=dict(HEADERS, Authorization=f"Bearer {token}"))
        out["status"] = r.status_code
        out["body"] = r.json()
    return out


async def limit_mode(url, token, n):
    statuses, retry_after = [], None
    async with httpx2.AsyncClient(timeout=120) as raw:
        for _ in range(n):
            r = await raw.post(url, json=INIT, headers=dict(HEADERS, Authorization=f"Bearer {token}"))
            statuses.append(r.status_code)
            if r.status_code == 429:
                retry_after = r.headers.get("retry-after")
    return {"statuses": statuses, "retry_after": retry_after}


def main():
    mode, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "session":
        out = asyncio.run(session_mode(url, token))
    elif mode == "refused":
        out = asyncio.run(refused_mode(url, token))
    else:
        out = asyncio.run(limit_mode(url, token, int(sys.argv[4])))
    print(json.dumps(out))


main()
