"""CloudFront Functions at the emulator's edge: the LIVE function of a cache
behavior's viewer-request association runs for every request, under node
(function_runtime.js), before the cache is looked up (CloudFront Developer
Guide, "Customize at the edge with CloudFront Functions").

- The event is CloudFront's (version 1.0): context (distributionDomainName,
  distributionId, eventType viewer-request, requestId), viewer.ip, and the
  request: method, uri (as received), querystring, headers (lower-case names,
  without cookie) and cookies, each {value[, multiValue]}.
- A returned request is applied: its uri becomes the path of the cache key
  and of the S3 key (the behavior and the origin stay those of the original
  URI), its querystring and headers replace the viewer's (Host stays).
- A returned response is sent as is: statusCode, statusDescription, headers,
  cookies, body (a string or {encoding: text|base64, data}), with `x-cache:
  FunctionGeneratedResponse from cloudfront`; nothing is cached or fetched.
- A function that throws, or times out, is 503 `FunctionExecutionError from
  cloudfront`; one returning something that is neither a request nor a
  response is 502 `FunctionValidationError from cloudfront`.
- The code run is the LIVE stage visible at the edge (cf_functions.live_for_edge,
  knob function_propagation_seconds) and `cf.kvs()` reads the store as the
  edge sees it (kvs.edge_view, knob kvs_propagation_seconds).

The node worker: one long-lived `node function_runtime.js` per emulator,
started on first use, JSON lines over stdin/stdout, requests tagged by id so
several edge threads share it. A store's snapshot crosses the pipe once per
version; each call gets a fresh V8 context (no state shared between
requests). Measured on the 2-core test machine under load: node starts in
~190 ms (once, on the first request); a call through the worker takes ~3.4
ms, ~0.9 ms of it the fresh context; an edge request with a function took
~23 ms against ~19 ms without. A node spawned per request would add ~190 ms
to each. ComputeUtilization is the handler's run time as a percentage of 1 ms.
"""

import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qsl, quote, unquote

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.join(HERE, "function_runtime.js")
CALL_TIMEOUT = 5.0  # seconds before a hung worker is replaced


class Worker:
    def __init__(self):
        self.lock = threading.Lock()
        self.proc = None
        self.pending = {}  # id -> [threading.Event, answer]
        self.sent = set()  # (store arn, version) snapshots the current process holds
        self.next_id = 0

    def _start(self):
        self.proc = subprocess.Popen(
            ["node", RUNTIME], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr,
            text=True, bufsize=1,
        )
        self.sent = set()
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                slot = self.pending.pop(answer.get("id"), None)
            if slot is not None:
                slot[1] = answer
                slot[0].set()

    def call(self, code, store, event):
        for attempt in range(2):
            with self.lock:
                if self.proc is None or self.proc.poll() is not None:
                    self._start()
                self.next_id += 1
                ident = self.next_id
                message = {"id": ident, "fn": {"key": hashlib.sha256(code).hexdigest(), "code": code.decode("utf-8", "replace")},
                           "store": None, "event": event}
                if store is not None:
                    tag = (store["arn"], store["version"])
                    message["store"] = {k: v for k, v in store.items() if k != "items" or tag not in self.sent}
                    self.sent.add(tag)
                slot = [threading.Event(), None]
                self.pending[ident] = slot
                proc = self.proc
                try:
                    proc.stdin.write(json.dumps(message) + "\n")
                    proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    self.proc = None
                    continue
            if not slot[0].wait(CALL_TIMEOUT):
                with self.lock:
                    self.pending.pop(ident, None)
                    if self.proc is proc:
                        proc.kill()
                        self.proc = None
                return {"error": "The function exceeded its compute budget", "kind": "execution", "logs": []}
            answer = slot[1]
            if answer.get("kind") == "internal" and attempt == 0:
                with self.lock:
                    self.sent.discard((store["arn"], store["version"]))
                continue
            return answer
        return {"error": "The function runtime is unavailable", "kind": "execution", "logs": []}


WORKER = Worker()


def _iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".000Z"


def _store_message(config, at_edge):
    """The snapshot of the function's store: as the edge sees it, or (TestFunction) as the API does."""
    import kvs

    arns = config["KeyValueStoreARNs"]
    if not arns:
        return None
    record = kvs.store_by_arn(arns[0])
    if record is None:
        return None
    view = kvs.edge_view(arns[0]) if at_edge else record["history"][-1]
    meta = {"creationDateTime": _iso(record["created"]), "lastUpdatedDateTime": _iso(view["modified"]), "keyCount": len(view["items"])}
    return {"arn": arns[0], "version": view["version"], "items": view["items"], "meta": meta}


def run(version, event, for_test=False):
    """Run a stage's code on an event: {"output"} or {"error", "kind"}, with "logs" and "utilization"."""
    answer = WORKER.call(version["code"], _store_message(version["config"], at_edge=not for_test), event)
    answer["utilization"] = max(1, min(100, round(answer.get("ms", 0) * 100)))
    return answer


# --------------------------------------------------------------------------
# The edge's hook
# --------------------------------------------------------------------------


def _pairs_to_block(pairs):
    block = {}
    for name, value in pairs:
        if name in block:
            entry = block[name]
            entry.setdefault("multiValue", [{"value": entry["value"]}]).append({"value": value})
        else:
            block[name] = {"value": value}
    return block


def _block_to_pairs(block):
    pairs = []
    for name, entry in (block or {}).items():
        values = [v.get("value", "") for v in entry.get("multiValue") or []] or [entry.get("value", "")]
        pairs += [(name, v) for v in values]
    return pairs


def event_of(dist, environ, host):
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
    uri, _, query = raw.partition("?")
    headers = [(k[5:].replace("_", "-").lower(), v) for k, v in environ.items() if k.startswith("HTTP_") and k != "HTTP_COOKIE"]
    if environ.get("CONTENT_TYPE"):
        headers.append(("content-type", environ["CONTENT_TYPE"]))
    cookies = [tuple(part.strip().split("=", 1)) for part in environ.get("HTTP_COOKIE", "").split(";") if "=" in part]
    return {
        "version": "1.0",
        "context": {"distributionDomainName": dist.domain_name, "distributionId": dist.distribution_id,
                    "eventType": "viewer-request", "requestId": secrets.token_urlsafe(42)},
        "viewer": {"ip": environ.get("REMOTE_ADDR", "127.0.0.1")},
        "request": {"method": environ["REQUEST_METHOD"], "uri": uri or "/",
                    "querystring": _pairs_to_block(parse_qsl(query, keep_blank_values=True)),
                    "headers": _pairs_to_block(headers), "cookies": _pairs_to_block(cookies)},
    }


def _apply(environ, request):
    environ = dict(environ)
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='%')}" if v != "" else quote(k, safe="")
                     for k, v in _block_to_pairs(request.get("querystring")))
    raw = request["uri"] + (f"?{query}" if query else "")
    environ.update(RAW_URI=raw, REQUEST_URI=raw, PATH_INFO=unquote(request["uri"]), QUERY_STRING=query)
    host = environ.get("HTTP_HOST")
    for key in [k for k in environ if k.startswith("HTTP_")]:
        del environ[key]
    for name, value in _block_to_pairs(request.get("headers")):
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
    cookies = _block_to_pairs(request.get("cookies"))
    if cookies:
        environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in cookies)
    if host is not None:
        environ["HTTP_HOST"] = host
    return environ


def _function_response(edge, response):
    import base64

    from werkzeug.wrappers import Response

    headers = _block_to_pairs(response.get("headers"))
    for name, entry in (response.get("cookies") or {}).items():
        attributes = entry.get("attributes")
        headers.append(("set-cookie", f"{name}={entry.get('value', '')}" + (f"; {attributes}" if attributes else "")))
    body = response.get("body", "")
    if isinstance(body, dict):
        data = body.get("data", "")
        body = base64.b64decode(data) if body.get("encoding") == "base64" else data.encode()
    elif isinstance(body, str):
        body = body.encode()
    status = response["statusCode"]
    answer = Response(body, status=status, headers=edge._edge_headers([("Server", "CloudFront")] + headers, "FunctionGeneratedResponse"))
    if response.get("statusDescription"):
        answer.status = f"{status} {response['statusDescription']}"
    return answer


def viewer_request(dist, behavior, environ, host):
    """(response, environ): the function's response, or None and the request to serve."""
    import cf_functions

    edge = sys.modules["edge"]
    arn = next((fn for event_type, fn in cf_functions.associations(behavior) if event_type == "viewer-request"), None)
    version = cf_functions.live_for_edge(arn) if arn else None
    if version is None:
        return None, environ
    outcome = run(version, event_of(dist, environ, host))
    if outcome.get("error"):
        sys.stderr.write(f"function {arn}: {outcome['error']}\n")
        if outcome.get("kind") == "validation":
            return _error(edge, 502, "FunctionValidationError"), environ
        return _error(edge, 503, "FunctionExecutionError"), environ
    output = outcome["output"]
    if "statusCode" in output:
        return _function_response(edge, output), environ
    return None, _apply(environ, output)


def _error(edge, status, kind):
    from werkzeug.wrappers import Response

    headers = edge._edge_headers([("Server", "CloudFront"), ("Content-Type", "text/html")], kind)
    reason = "The CloudFront function associated with the CloudFront distribution is invalid or could not run successfully."
    body = edge.CF_PAGE.format(status=status, reason=reason, cf_id=dict(headers)["X-Amz-Cf-Id"])
    return Response(body, status=status, headers=headers)
