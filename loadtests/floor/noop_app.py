"""The same no-op behind FastAPI + uvicorn, the peer's stack (loadtests/peer_fastapi.py) without a model:
`uvicorn loadtests.floor.noop_app:app --port P`. POST /predictions/noop answers `{}`; GET /ping says it is up."""
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/predictions/noop")
async def noop(request: Request) -> Response:
    await request.body()  # read it, as any server must
    return Response(b"{}", media_type="application/json")


@app.get("/ping")
async def ping() -> dict:
    return {"status": "Healthy"}
