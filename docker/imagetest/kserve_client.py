"""KServe's own REST client (kserve.InferenceRESTClient) against a KServe endpoint, v1 and v2; runs in KServe's
virtualenv (.venv-kserve, the image's lock), since the serving venv cannot hold `kserve`.

    .venv-kserve/bin/python docker/imagetest/kserve_client.py http://127.0.0.1:PORT < cases.json > results.json

cases: [{"model", "protocol": "v1", "instances": [...]} | {"model", "protocol": "v2", "inputs": [{name, shape,
datatype, data}]}]. Results: one per case, {"model", "protocol", "ok", "status"?, "answer" | "error"}.
"""
from __future__ import annotations

import asyncio
import json
import sys

import httpx
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def run_case(base_url: str, case: dict) -> dict:
    result = {"model": case["model"], "protocol": case["protocol"]}
    client = InferenceRESTClient(RESTConfig(protocol=case["protocol"], timeout=300, retries=0))
    try:
        if case["protocol"] == "v1":
            answer = await client.infer(base_url, {"instances": case["instances"]}, model_name=case["model"])
        else:
            inputs = [InferInput(t["name"], t["shape"], t["datatype"], t["data"]) for t in case["inputs"]]
            response = await client.infer(base_url, InferRequest(case["model"], inputs, request_id=case["model"]),
                                          model_name=case["model"])
            answer = {"outputs": [{"name": o.name, "datatype": o.datatype, "shape": list(o.shape),
                                   "data": list(o.data)} for o in response.outputs]}
        return {**result, "ok": True, "answer": answer}
    except httpx.HTTPStatusError as exc:
        return {**result, "ok": False, "status": exc.response.status_code, "error": exc.response.text[:500]}
    finally:
        await client.close()


async def main() -> None:
    base_url, cases = sys.argv[1], json.load(sys.stdin)
    json.dump([await run_case(base_url, c) for c in cases], sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
