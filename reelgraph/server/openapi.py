"""The OpenAPI 3.0 document served at /api/openapi.json (also what the fuzz tests read)."""

from __future__ import annotations

from typing import Any

_ERR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict[str, Any]:
    return _json(_ERR, description)


_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "workflow name: letters, digits, spaces, '_', '-', '.'",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
}
_RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}

_BATCH_ID = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ROW_PROBLEM = {
    "type": "object",
    "required": ["message"],
    "description": "A problem with a row (`row` absent: the header or the whole sheet).",
    "properties": {
        "row": {"type": "integer"},
        "line": {"type": "integer"},
        "column": {"type": "string"},
        "node": {"type": "string"},
        "input": {"type": "string"},
        "message": {"type": "string"},
    },
}
_BATCH_REQUEST = {
    "type": "object",
    "required": ["workflow", "rows"],
    "additionalProperties": False,
    "properties": {
        "workflow": {
            "oneOf": [
                {"$ref": "#/components/schemas/Workflow"},
                {"type": "string", "description": "name of a saved workflow or template"},
            ]
        },
        "rows": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "description": "column (param name) -> value"},
        },
        "name": {"type": "string"},
        "name_template": {"type": "string", "description": "output stem, e.g. '{name}-{city}'"},
        "ignore_unknown_columns": {"type": "boolean"},
    },
}
_BATCH_CREATED = {
    "type": "object",
    "required": ["batch_id", "status", "rows", "valid", "invalid", "problems"],
    "properties": {
        "batch_id": {"type": "string"},
        "status": {"type": "string", "enum": ["running"]},
        "rows": {"type": "integer"},
        "valid": {"type": "integer"},
        "invalid": {"type": "integer"},
        "problems": {"type": "array", "items": _ROW_PROBLEM},
        "url": {"type": "string"},
    },
}
_BATCH_SUMMARY = {
    "type": "object",
    "required": ["id", "status", "counts"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["running", "finished", "cancelled"]},
        "created": {"type": "number"},
        "ended": {"type": "number", "nullable": True},
        "workflow_name": {"type": "string"},
        "name_template": {"type": "string"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "url": {"type": "string"},
    },
}
_BATCH = {
    "allOf": [
        _BATCH_SUMMARY,
        {
            "type": "object",
            "required": ["rows", "problems"],
            "properties": {
                "problems": {"type": "array", "items": _ROW_PROBLEM},
                "rows": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["row", "stem", "status", "params", "files"],
                        "properties": {
                            "row": {"type": "integer"},
                            "line": {"type": "integer", "nullable": True},
                            "stem": {"type": "string"},
                            "status": {
                                "type": "string",
                                "enum": [
                                    "invalid",
                                    "queued",
                                    "running",
                                    "finished",
                                    "failed",
                                    "cancelled",
                                ],
                            },
                            "params": {"type": "object"},
                            "run_id": {"type": "string", "nullable": True},
                            "url": {"type": "string"},
                            "error": {"type": "object", "nullable": True},
                            "summary": {"type": "object"},
                            "files": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "file": {"type": "string"},
                                        "url": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    ]
}

_WORKFLOW = {
    "type": "object",
    "description": "A reelgraph workflow document (docs/workflow-format.md); unknown keys are kept.",
    "required": ["format", "nodes"],
    "properties": {
        "format": {"type": "string", "enum": ["reelgraph.workflow"]},
        "version": {"type": "integer", "minimum": 0},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "nodes": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"type": "string"},
                    "inputs": {"type": "object"},
                    "type_version": {"type": "integer"},
                    "bypass": {"type": "boolean"},
                    "ui": {"type": "object"},
                },
            },
        },
        "params": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["node", "input"],
                "properties": {
                    "node": {"type": "string"},
                    "input": {"type": "string"},
                    "type": {"type": "string", "enum": ["TEXT", "INT", "FLOAT", "BOOL"]},
                    "default": {},
                },
            },
        },
    },
}

_ISSUE = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "node": {"type": "string"},
        "input": {"type": "string"},
        "file": {"type": "string"},
        "severity": {"type": "string", "enum": ["error", "warning"]},
    },
}

# Exact totals beside `issues`, which lists the first 1,000 in full and then one
# `more_issues` entry counting the rest by code.
_ISSUE_COUNTS = {
    "type": "object",
    "required": ["errors", "warnings", "by_code"],
    "properties": {
        "errors": {"type": "integer", "minimum": 0},
        "warnings": {"type": "integer", "minimum": 0},
        "by_code": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}

_RUN_SUMMARY = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {
        "id": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["queued", "running", "finished", "failed", "cancelled"],
        },
        "name": {"type": "string"},
        "created": {"type": "number"},
        "started": {"type": "number", "nullable": True},
        "ended": {"type": "number", "nullable": True},
        "attempts": {"type": "integer"},
        "summary": {"type": "object"},
        "error": {"type": "string", "nullable": True},
    },
}

_RUN = {
    "allOf": [
        _RUN_SUMMARY,
        {
            "type": "object",
            "properties": {
                "nodes": {
                    "type": "object",
                    "description": "node id -> {type, state, seconds, progress, error}",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "state": {
                                "type": "string",
                                "enum": [
                                    "pending",
                                    "running",
                                    "cached",
                                    "finished",
                                    "failed",
                                    "not_run",
                                ],
                            },
                            "seconds": {"type": "number", "nullable": True},
                        },
                    },
                },
                "outputs": {
                    "type": "object",
                    "description": "node id -> output name -> value description; "
                    "files as {file, url}",
                },
                "params": {"type": "object"},
                "targets": {"type": "array", "nullable": True, "items": {"type": "string"}},
                "warnings": {"type": "array", "items": _ISSUE},
                "workflow": {"type": "object"},
                "position": {"type": "integer"},
                "cancel_requested": {"type": "boolean"},
                "limits": {
                    "type": "object",
                    "nullable": True,
                    "description": "the run's limits: the server's, lowered by the request "
                    "(0: none)",
                    "properties": {
                        "memory_mb": {"type": "integer"},
                        "seconds": {"type": "number"},
                        "output_mb": {"type": "integer"},
                    },
                },
                "files": {
                    "type": "array",
                    "description": "every file in the run's output folder",
                    "items": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string"},
                            "url": {"type": "string"},
                            "size": {"type": "integer"},
                        },
                    },
                },
            },
        },
    ],
}


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "reelgraph API",
            "version": version,
            "description": "REST API of the reelgraph server. Events and previews stream over the "
            "WebSocket at /api/ws (see docs/api.md). With --token, send "
            "`Authorization: Bearer <token>`.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "issues": {"type": "array", "items": _ISSUE},
                        "counts": _ISSUE_COUNTS,
                    },
                },
                "Issue": _ISSUE,
                "Workflow": _WORKFLOW,
                "RunSummary": _RUN_SUMMARY,
                "Run": _RUN,
            },
        },
        "security": [{}, {"token": []}],
        "paths": {
            "/api/system": {
                "get": {
                    "summary": "Versions, devices, cache statistics, queue length",
                    "operationId": "getSystem",
                    "responses": {
                        "200": _json({"type": "object", "required": ["version", "queue"]}, "system")
                    },
                }
            },
            "/api/nodes": {
                "get": {
                    "summary": "Every node schema: inputs (type, widget, default, optional), outputs, category...",
                    "operationId": "getNodes",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["nodes"],
                                "properties": {
                                    "nodes": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "inputs", "outputs"],
                                        },
                                    },
                                    "load_errors": {"type": "array"},
                                },
                            },
                            "node schemas",
                        )
                    },
                }
            },
            "/api/types": {
                "get": {
                    "summary": "Socket types: colours and compatibility rules",
                    "operationId": "getTypes",
                    "responses": {"200": _json({"type": "object", "required": ["types"]}, "types")},
                }
            },
            "/api/workflows": {
                "get": {
                    "summary": "Saved workflows (user folder) and shipped templates",
                    "operationId": "listWorkflows",
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["workflows", "templates"]}, "listing"
                        )
                    },
                }
            },
            "/api/workflows/validate": {
                "post": {
                    "summary": "Validate a workflow against the installed nodes",
                    "operationId": "validateWorkflow",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _WORKFLOW}},
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["ok", "issues", "counts"],
                                "properties": {
                                    "ok": {"type": "boolean"},
                                    "issues": {"type": "array", "items": _ISSUE},
                                    "counts": _ISSUE_COUNTS,
                                },
                            },
                            "result",
                        ),
                        "400": _err("not JSON, or over a cap (named in the error)"),
                        "413": _err("body too large"),
                        "503": _err("the validation pool stayed busy, or validation ran too long"),
                    },
                }
            },
            "/api/workflows/{name}": {
                "parameters": [_NAME],
                "get": {
                    "summary": "A saved workflow",
                    "operationId": "getWorkflow",
                    "responses": {
                        "200": _json(_WORKFLOW, "the workflow document"),
                        "400": _err("bad name"),
                        "404": _err("no such workflow"),
                    },
                },
                "put": {
                    "summary": "Save (atomically; the replaced version is kept as a backup)",
                    "operationId": "putWorkflow",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _WORKFLOW}},
                    },
                    "responses": {
                        "200": _json({"type": "object"}, "replaced"),
                        "201": _json({"type": "object"}, "created"),
                        "400": _err("bad name, not a workflow, over a cap, or a symlink"),
                        "413": _err("body too large"),
                        "503": _err("the validation pool stayed busy, or validation ran too long"),
                    },
                },
                "delete": {
                    "summary": "Delete (the last version stays in .backups/)",
                    "operationId": "deleteWorkflow",
                    "responses": {
                        "200": _json({"type": "object"}, "deleted"),
                        "400": _err("bad name"),
                        "404": _err("no such workflow"),
                    },
                },
            },
            "/api/templates/{name}": {
                "parameters": [_NAME],
                "get": {
                    "summary": "A shipped template workflow",
                    "operationId": "getTemplate",
                    "responses": {
                        "200": _json(_WORKFLOW, "the workflow document"),
                        "400": _err("bad name"),
                        "404": _err("no such template"),
                    },
                },
            },
            "/api/runs": {
                "post": {
                    "summary": "Queue a run",
                    "operationId": "createRun",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["workflow"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "workflow": {
                                            "oneOf": [
                                                _WORKFLOW,
                                                {
                                                    "type": "string",
                                                    "description": "name of a saved workflow or template",
                                                },
                                            ]
                                        },
                                        "params": {"type": "object"},
                                        "targets": {
                                            "type": "array",
                                            "nullable": True,
                                            "items": {"type": "string"},
                                        },
                                        "name": {"type": "string"},
                                        "limits": {
                                            "type": "object",
                                            "additionalProperties": False,
                                            "description": "lower the server's per-run limits",
                                            "properties": {
                                                "memory_mb": {
                                                    "type": "number",
                                                    "minimum": 0,
                                                    "exclusiveMinimum": True,
                                                },
                                                "seconds": {
                                                    "type": "number",
                                                    "minimum": 0,
                                                    "exclusiveMinimum": True,
                                                },
                                                "output_mb": {
                                                    "type": "number",
                                                    "minimum": 0,
                                                    "exclusiveMinimum": True,
                                                },
                                            },
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _json(
                            {
                                "type": "object",
                                "required": ["run_id", "status"],
                                "properties": {
                                    "run_id": {"type": "string"},
                                    "status": {"type": "string"},
                                    "position": {"type": "integer", "nullable": True},
                                    "warnings": {"type": "array", "items": _ISSUE},
                                },
                            },
                            "queued",
                        ),
                        "400": _err(
                            "invalid request or workflow: every validation error in `issues`"
                        ),
                        "404": _err("no saved workflow of that name"),
                        "413": _err("body too large"),
                        "503": _err("runs cannot be stored now (`reason`), or validation is busy"),
                    },
                },
                "get": {
                    "summary": "Queue and history, newest first, paged",
                    "operationId": "listRuns",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": ["queued", "running", "finished", "failed", "cancelled"],
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0},
                        },
                        {
                            "name": "order",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["newest", "oldest"]},
                            "description": "newest first (default) or oldest first (the queue in run order)",
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["runs", "total"],
                                "properties": {
                                    "runs": {"type": "array", "items": _RUN_SUMMARY},
                                    "total": {"type": "integer"},
                                    "next_offset": {"type": "integer", "nullable": True},
                                    "counts": {"type": "object"},
                                    "running": {"type": "string", "nullable": True},
                                },
                            },
                            "a page of runs",
                        ),
                        "400": _err("bad query"),
                    },
                },
            },
            "/api/runs/{run_id}": {
                "parameters": [_RUN_ID],
                "get": {
                    "summary": "A run: status, per-node state and timings, outputs, error",
                    "operationId": "getRun",
                    "responses": {"200": _json(_RUN, "the run"), "404": _err("no such run")},
                },
                "delete": {
                    "summary": "Delete a run and its outputs (cancelling it first if needed)",
                    "operationId": "deleteRun",
                    "responses": {
                        "200": _json({"type": "object"}, "deleted"),
                        "404": _err("no such run"),
                        "409": _err("it did not stop in time"),
                    },
                },
            },
            "/api/runs/{run_id}/cancel": {
                "parameters": [_RUN_ID],
                "post": {
                    "summary": "Cancel a queued (at once) or running (cooperatively) run",
                    "operationId": "cancelRun",
                    "responses": {
                        "200": _json({"type": "object"}, "cancelled before it started"),
                        "202": _json({"type": "object"}, "cancelling"),
                        "404": _err("no such run"),
                        "409": _err("already over"),
                    },
                },
            },
            "/api/batches": {
                "post": {
                    "summary": "Create a batch: a workflow plus rows; every row is checked, each valid row is queued as a run",
                    "operationId": "createBatch",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": _BATCH_REQUEST},
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["workflow", "rows"],
                                    "properties": {
                                        "workflow": {
                                            "type": "string",
                                            "description": "workflow JSON, or a saved workflow's name",
                                        },
                                        "rows": {
                                            "type": "string",
                                            "format": "binary",
                                            "description": ".csv, .tsv, .jsonl or .xlsx",
                                        },
                                        "name": {"type": "string"},
                                        "name_template": {"type": "string"},
                                        "ignore_unknown_columns": {"type": "string"},
                                    },
                                }
                            },
                        },
                    },
                    "responses": {
                        "202": _json(_BATCH_CREATED, "queued"),
                        "400": _err(
                            "bad request, a workflow that cannot run, or no valid row (`problems`)"
                        ),
                        "404": _err("no saved workflow of that name"),
                        "413": _err("too large"),
                    },
                },
                "get": {
                    "summary": "Batches, newest first",
                    "operationId": "listBatches",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["batches", "total"],
                                "properties": {
                                    "batches": {"type": "array", "items": _BATCH_SUMMARY},
                                    "total": {"type": "integer"},
                                    "limit": {"type": "integer"},
                                    "offset": {"type": "integer"},
                                },
                            },
                            "batches",
                        ),
                        "400": _err("bad query"),
                    },
                },
            },
            "/api/batches/{batch_id}": {
                "parameters": [_BATCH_ID],
                "get": {
                    "summary": "A batch: per-row status, run id, params, output files, error",
                    "operationId": "getBatch",
                    "responses": {"200": _json(_BATCH, "the batch"), "404": _err("no such batch")},
                },
                "delete": {
                    "summary": "Cancel a batch: queued rows never start, running ones stop",
                    "operationId": "cancelBatch",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["batch_id", "status", "stopped"],
                                "properties": {
                                    "batch_id": {"type": "string"},
                                    "status": {"type": "string", "enum": ["cancelled"]},
                                    "stopped": {"type": "integer"},
                                },
                            },
                            "cancelled",
                        ),
                        "404": _err("no such batch"),
                        "409": _err("already finished or cancelled"),
                    },
                },
            },
            "/api/batches/{batch_id}/retry": {
                "parameters": [_BATCH_ID],
                "post": {
                    "summary": "Run a batch's failed and cancelled rows again, in the same batch",
                    "operationId": "retryBatch",
                    "responses": {
                        "202": _json(
                            {
                                "type": "object",
                                "required": ["batch_id", "status", "retried"],
                                "properties": {
                                    "batch_id": {"type": "string"},
                                    "status": {"type": "string", "enum": ["running"]},
                                    "retried": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["row", "run_id"],
                                            "properties": {
                                                "row": {"type": "integer"},
                                                "run_id": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            },
                            "the rows queued again, each with its new run",
                        ),
                        "404": _err("no such batch"),
                        "409": _err("no failed or cancelled row to retry"),
                    },
                },
            },
            "/api/files/{kind}/{path}": {
                "parameters": [
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["outputs", "uploads"]},
                    },
                    {
                        "name": "path",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "relative path; may contain '/'",
                    },
                ],
                "get": {
                    "summary": "An output or uploaded file; supports Range requests",
                    "operationId": "getFile",
                    "responses": {
                        "200": {
                            "description": "the file (Content-Type from its extension)",
                            "content": {"*/*": {}},
                        },
                        "206": {"description": "a byte range", "content": {"*/*": {}}},
                        "400": _err("refused path"),
                        "404": _err("no such file"),
                        "416": {"description": "range not satisfiable"},
                    },
                },
            },
            "/api/uploads": {
                "get": {
                    "summary": "Uploaded files",
                    "operationId": "listUploads",
                    "responses": {
                        "200": _json({"type": "object", "required": ["uploads"]}, "uploads")
                    },
                },
                "post": {
                    "summary": "Upload an image, audio or video file (type sniffed from content; size capped)",
                    "operationId": "upload",
                    "parameters": [
                        {"name": "filename", "in": "query", "schema": {"type": "string"}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                }
                            },
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    },
                    "responses": {
                        "201": _json(
                            {"type": "object", "required": ["name", "kind", "url"]}, "stored"
                        ),
                        "400": _err("empty or malformed"),
                        "409": _err("the uploads folder is a symbolic link (refused)"),
                        "413": _err("too large"),
                        "415": _err("not image, audio or video"),
                    },
                },
            },
            "/api/ws": {
                "get": {
                    "summary": "WebSocket: run and node events as JSON text frames, previews as binary frames "
                    "(uint32 big-endian header length, JSON header, payload); see docs/api.md",
                    "operationId": "websocket",
                    "parameters": [
                        {
                            "name": "run",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "follow this run only",
                        }
                    ],
                    "responses": {
                        "101": {"description": "switching to the WebSocket protocol"},
                        "400": _err("not a WebSocket upgrade request"),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "getOpenapi",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0")},
                }
            },
        },
    }
