#!/usr/bin/env python3
"""Drives tether's MCP server with the official MCP Python SDK (`pip install mcp`), for the
Rust tests in ../mcp/.

Usage: driver.py SERVER [ARGS...]  (the server gets this process's environment and cwd)

One JSON command per line on stdin, one JSON answer per line on stdout:
  {"op": "list"}                       -> {"tools": [...], "schemaErrors": {name: message}}
  {"op": "call", "tool": T, "args": A} -> the CallToolResult (content, isError, _meta) plus
                                          "progress": [messages]; a protocol error gives
                                          {"protocolError": message}
  {"op": "cancel", "tool": T, "args": A, "afterProgress": N}
                                       -> starts the call, cancels it once N progress
                                          notifications arrived: {"cancelled": true, "progress": [...]}
The session (and the server) ends at EOF on stdin.
"""

import json
import os
import sys

import anyio
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def list_tools(session, _cmd):
    result = await session.list_tools()
    tools = [dump(tool) for tool in result.tools]
    errors = {}
    for tool in tools:
        try:
            Draft202012Validator.check_schema(tool["inputSchema"])
        except SchemaError as err:
            errors[tool["name"]] = err.message
    return {"tools": tools, "schemaErrors": errors}


async def call(session, cmd):
    progress = []

    async def on_progress(_progress, _total, message):
        progress.append(message)

    try:
        result = await session.call_tool(cmd["tool"], cmd.get("args"), progress_callback=on_progress)
    except MCPError as err:
        return {"protocolError": str(err), "progress": progress}
    reply = dump(result)
    reply["progress"] = progress
    return reply


async def cancel(session, cmd):
    progress = []
    enough = anyio.Event()

    async def on_progress(_progress, _total, message):
        progress.append(message)
        if len(progress) >= cmd.get("afterProgress", 1):
            enough.set()

    async with anyio.create_task_group() as group:

        async def run():
            await session.call_tool(cmd["tool"], cmd.get("args"), progress_callback=on_progress)

        group.start_soon(run)
        await enough.wait()
        group.cancel_scope.cancel()
    return {"cancelled": True, "progress": progress}


OPS = {"list": list_tools, "call": call, "cancel": cancel}


async def main():
    params = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            async for line in anyio.wrap_file(sys.stdin):
                cmd = json.loads(line)
                reply = await OPS[cmd["op"]](session, cmd)
                sys.stdout.write(json.dumps(reply) + "\n")
                sys.stdout.flush()


if __name__ == "__main__":
    anyio.run(main)
